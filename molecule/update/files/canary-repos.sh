#!/usr/bin/env bash
# Two local APT repositories for the update test, and the packages the host
# starts with:
#   security/: prodkit-canary 1.1 from an origin that reads as Debian's
#              security archive (Origin Debian, Label Debian-Security,
#              Codename <codename>-security); its postinst asks for a reboot
#              the way kernel packages do (/run/reboot-required).
#   main/:     prodkit-canary-tools 1.1 from a plain Debian-like origin.
# Version 1.0 of both is installed, and prodkit-canary's program runs as the
# service prodkit-canary.service: the upgrade replaces the program it runs.
set -euo pipefail
codename=$1
root=/srv/canary
rm -rf "$root"
mkdir -p "$root/build" "$root/security" "$root/main"

package() { # name version repository-dir [postinst]
  local name=$1 version=$2 out=$3 postinst=${4:-} dir
  dir=$root/build/$name-$version
  mkdir -p "$dir/DEBIAN" "$dir/usr/libexec/$name"
  # A real program (a copy of sleep), so that the running process maps it.
  cp /usr/bin/sleep "$dir/usr/libexec/$name/$name"
  printf '%s\n' "Package: $name" "Version: $version" "Architecture: all" "Maintainer: prodkit test <test@app.test>" \
    "Description: prodkit.stack update test package" >"$dir/DEBIAN/control"
  if [ -n "$postinst" ]; then
    printf '#!/bin/sh\nset -e\n%s\n' "$postinst" >"$dir/DEBIAN/postinst"
    chmod 0755 "$dir/DEBIAN/postinst"
  fi
  dpkg-deb --root-owner-group --build "$dir" "$root/$out/${name}_${version}_all.deb" >/dev/null
}

index() { # repository-dir origin label suite codename
  local dir=$root/$1 deb
  : >"$dir/Packages"
  for deb in "$dir"/*.deb; do
    {
      dpkg-deb --field "$deb"
      echo "Filename: ./$(basename "$deb")"
      echo "Size: $(stat -c %s "$deb")"
      echo "SHA256: $(sha256sum "$deb" | cut -d' ' -f1)"
      echo
    } >>"$dir/Packages"
  done
  printf '%s\n' "Origin: $2" "Label: $3" "Suite: $4" "Codename: $5" "Architectures: amd64 all" \
    "Date: $(date -Ru)" >"$dir/Release"
}

package prodkit-canary 1.0 build
package prodkit-canary-tools 1.0 build
package prodkit-canary 1.1 security \
  'touch /run/reboot-required; echo prodkit-canary >> /run/reboot-required.pkgs'
package prodkit-canary-tools 1.1 main
index security Debian Debian-Security stable-security "$codename-security"
index main Debian Debian stable "$codename"
chmod -R a+rX "$root"

cat >/etc/apt/sources.list.d/prodkit-canary.sources <<SOURCES
Types: deb
URIs: file:$root/security
Suites: ./
Trusted: yes

Types: deb
URIs: file:$root/main
Suites: ./
Trusted: yes
SOURCES

dpkg -i "$root/build/prodkit-canary_1.0_all.deb" "$root/build/prodkit-canary-tools_1.0_all.deb" >/dev/null
rm -f /run/reboot-required /run/reboot-required.pkgs
systemctl stop prodkit-canary.service 2>/dev/null || true
systemd-run --unit prodkit-canary --description "prodkit.stack update test service" \
  /usr/libexec/prodkit-canary/prodkit-canary infinity
