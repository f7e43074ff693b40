#!/usr/bin/env bash
# Build a signed apt repository laid out as Docker's own
# (https://download.docker.com/linux/debian) for molecule/docker_host:
#
#   build-standin-repo.sh ROOT SUITE DEBIAN_MAJOR
#
#   ROOT/linux/debian/gpg                               the signing key (armored)
#   ROOT/linux/debian/dists/SUITE/{Release,InRelease,Release.gpg}
#   ROOT/linux/debian/dists/SUITE/stable/binary-amd64/Packages(.gz)
#   ROOT/linux/debian/dists/SUITE/pool/stable/amd64/*.deb
#   ROOT/signing-key.fpr                                its fingerprint, for the test to pin
#
# and two copies that apt must refuse, each serving the same (right) key:
#   ROOT/resigned/linux/...  Release re-signed by another key (an impostor's mirror)
#   ROOT/modified/linux/...  Packages and Release changed after signing (the
#                            old signatures kept)
#
# STAND-INS, NOT DOCKER'S BUILDS: Docker's repository cannot be reached from
# the test bed, so the packages carry the names the role installs
# (docker-ce, docker-ce-cli, containerd.io, docker-buildx-plugin,
# docker-compose-plugin) but hold Debian's own builds, repackaged: docker.io
# as docker-ce, docker-cli as docker-ce-cli, docker-buildx and docker-compose
# as the plugins; containerd.io depends on Debian's containerd and runc.
# (A metapackage named docker-ce that depends on docker.io cannot work:
# docker.io conflicts with docker-ce.) Like Docker's, they conflict with and
# replace the distribution's packages they stand for.
#
# The signing key is made here, has no passphrase and lives outside ROOT
# (in ROOT.gnupg), so it is never served. It expires after a day.
set -euo pipefail
root=${1:?usage: build-standin-repo.sh ROOT SUITE DEBIAN_MAJOR}
suite=${2:?usage: build-standin-repo.sh ROOT SUITE DEBIAN_MAJOR}
major=${3:?usage: build-standin-repo.sh ROOT SUITE DEBIAN_MAJOR}
arch=amd64
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work" # apt-get download runs as _apt

repo=$root/linux/debian
pool=dists/$suite/pool/stable/$arch
mkdir -p "$repo/$pool" "$repo/dists/$suite/stable/binary-$arch"

# Docker's version scheme: 5:26.1.5-1~debian.13~trixie (epoch 5 for the engine).
docker_version() { # EPOCH_PREFIX DEBIAN_VERSION
  local upstream=${2#*:}
  upstream=${upstream%%[+~-]*}
  echo "$1$upstream-1~debian.$major~$suite"
}

# repack DEBIAN_PACKAGE NEW_NAME EPOCH_PREFIX DEPENDS CONFLICTS RECOMMENDS SUMMARY
# Debian's .deb under Docker's package name: same files and maintainer
# scripts, a new control file.
repack() {
  local src=$1 name=$2 epoch=$3 depends=$4 conflicts=$5 recommends=$6 summary=$7
  local deb dir version
  deb=$(find "$work/dl" -name "${src}_*.deb" | head -n 1)
  dir=$work/build/$name
  dpkg-deb -R "$deb" "$dir"
  version=$(docker_version "$epoch" "$(dpkg-deb -f "$deb" Version)")
  # Drop the fields that name Debian's package, its relations and its
  # description (with their continuation lines); keep the rest (Pre-Depends,
  # Installed-Size, Section, ...).
  awk '/^[^ \t]/ { skip = ($0 ~ /^(Package|Source|Version|Maintainer|Depends|Recommends|Suggests|Conflicts|Breaks|Replaces|Provides|Built-Using|Static-Built-Using|Homepage|Description):/) }
       !skip { print }' "$dir/DEBIAN/control" >"$work/control"
  {
    cat "$work/control"
    echo "Package: $name"
    echo "Version: $version"
    echo "Maintainer: prodkit.stack tests <tests@prodkit.invalid>"
    echo "Depends: $depends"
    echo "Conflicts: $conflicts"
    echo "Replaces: $conflicts"
    [ -z "$recommends" ] || echo "Recommends: $recommends"
    echo "Description: $summary (prodkit test stand-in)"
    echo " Debian's $src package under the name of Docker's, built by"
    echo " molecule/docker_host for its test repository. Not Docker's build."
  } >"$dir/DEBIAN/control"
  dpkg-deb --root-owner-group -Zgzip -z1 --build "$dir" "$repo/$pool/${name}_${version#*:}_$arch.deb" >/dev/null
}

mkdir -p "$work/dl" "$work/build"
(cd "$work/dl" && apt-get download docker.io docker-cli docker-compose docker-buildx >/dev/null)

repack docker.io docker-ce 5: \
  'containerd.io (>= 1.7), docker-ce-cli, iptables, libc6 (>= 2.34), libsystemd0, adduser, sysvinit-utils, tini' \
  'docker.io, docker-engine' 'ca-certificates, procps, xz-utils' 'Docker: the open-source application container engine'
repack docker-cli docker-ce-cli 5: 'libc6 (>= 2.34)' 'docker-cli, podman-docker' \
  'docker-buildx-plugin, docker-compose-plugin' 'Docker CLI: the open-source application container engine'
repack docker-compose docker-compose-plugin '' 'libc6 (>= 2.34)' 'docker-compose' '' 'Docker Compose (V2) plugin for the Docker CLI'
repack docker-buildx docker-buildx-plugin '' 'libc6 (>= 2.34)' 'docker-buildx' '' 'Docker Buildx cli plugin'

# containerd.io: Docker's ships containerd and runc; this one depends on
# Debian's.
containerd=$(apt-cache show --no-all-versions containerd | awk '/^Version:/ { print $2; exit }')
containerd=${containerd%%[+~-]*}-1
mkdir -p "$work/build/containerd.io/DEBIAN"
cat >"$work/build/containerd.io/DEBIAN/control" <<EOF
Package: containerd.io
Version: $containerd
Architecture: $arch
Maintainer: prodkit.stack tests <tests@prodkit.invalid>
Depends: containerd (>= 1.7), runc
Section: devel
Priority: optional
Description: An open and reliable container runtime (prodkit test stand-in)
 Depends on Debian's containerd and runc; built by molecule/docker_host for
 its test repository. Not Docker's build.
EOF
dpkg-deb --root-owner-group --build "$work/build/containerd.io" "$repo/$pool/containerd.io_${containerd}_$arch.deb" >/dev/null

# The indexes, as Docker's: Filename is dists/SUITE/pool/stable/amd64/...
release() { # DIR: write DIR/dists/SUITE/Release
  (cd "$1/dists/$suite" && apt-ftparchive \
    -o APT::FTPArchive::Release::Origin=Docker \
    -o "APT::FTPArchive::Release::Label=Docker CE" \
    -o "APT::FTPArchive::Release::Suite=$suite" \
    -o "APT::FTPArchive::Release::Codename=$suite" \
    -o "APT::FTPArchive::Release::Architectures=$arch" \
    -o APT::FTPArchive::Release::Components=stable \
    release . >"$work/Release" && mv "$work/Release" Release)
}
packages=$repo/dists/$suite/stable/binary-$arch/Packages
(cd "$repo" && apt-ftparchive packages "$pool" >"$packages")
gzip -9kn "$packages"
release "$repo"

sign() { # GNUPGHOME DIR: InRelease and Release.gpg for DIR/dists/SUITE/Release
  local dists=$2/dists/$suite
  GNUPGHOME=$1 gpg --batch --yes --clearsign -o "$dists/InRelease" "$dists/Release"
  GNUPGHOME=$1 gpg --batch --yes --armor --detach-sign -o "$dists/Release.gpg" "$dists/Release"
}
newkey() { # GNUPGHOME USER-ID
  rm -rf "$1" && mkdir -p "$(dirname "$1")" && mkdir -m 0700 "$1"
  GNUPGHOME=$1 gpg --batch --passphrase '' --quick-gen-key "$2" ed25519 sign 1d 2>/dev/null
}
keys=$root.gnupg
newkey "$keys/repo" 'prodkit test apt repository (throwaway) <aptrepo@prodkit.invalid>'
newkey "$keys/impostor" 'impostor <impostor@prodkit.invalid>'
sign "$keys/repo" "$repo"
GNUPGHOME=$keys/repo gpg --armor --export >"$repo/gpg"
GNUPGHOME=$keys/repo gpg --with-colons --list-keys | awk -F: '/^fpr:/ { print $10; exit }' >"$root/signing-key.fpr"

# The tampered copies share the pool; their indexes are their own.
tampered() { # NAME
  local copy=$root/$1/linux/debian
  rm -rf "${copy:?}" && mkdir -p "$copy/dists/$suite"
  cp "$repo/gpg" "$copy/gpg"
  cp -r "$repo/dists/$suite/stable" "$copy/dists/$suite/"
  ln -s "$repo/dists/$suite/pool" "$copy/dists/$suite/pool"
  echo "$copy"
}
copy=$(tampered resigned)
cp "$repo/dists/$suite/Release" "$copy/dists/$suite/Release"
sign "$keys/impostor" "$copy"

# An index that offers a docker-ce Docker never published, with Release's
# hashes made to match; the signatures are the genuine ones over the old
# Release.
copy=$(tampered modified)
sed -e 's/^Version: 5:\(.*\)/Version: 5:99.\1/' "$packages" >"$copy/dists/$suite/stable/binary-$arch/Packages"
gzip -9knf "$copy/dists/$suite/stable/binary-$arch/Packages"
release "$copy"
cp "$repo/dists/$suite/Release.gpg" "$copy/dists/$suite/Release.gpg"
{
  sed -n '1,/^$/p' "$repo/dists/$suite/InRelease"
  cat "$copy/dists/$suite/Release"
  sed -n '/^-----BEGIN PGP SIGNATURE-----$/,$p' "$repo/dists/$suite/InRelease"
} >"$copy/dists/$suite/InRelease"

echo "built $repo for $suite, signed by $(cat "$root/signing-key.fpr")"
