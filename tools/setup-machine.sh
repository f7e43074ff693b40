#!/usr/bin/env bash
# Make this Debian machine able to run `make demo` (purpose "demo") or
# every test (purpose "test"): the packages it lacks, the Compose v2 plugin
# (tests only) and a running Docker daemon. `make demo`, `make test` and
# .ci/run call it first; run again, it changes nothing.
#
#   bash tools/setup-machine.sh demo|test
#
# When something cannot be done it stops with one line that says what is
# missing and how to fix it.
set -euo pipefail

purpose=${1:-demo}
case "$purpose" in
  demo | test) ;;
  *) echo "setup: usage: $0 demo|test" >&2; exit 2 ;;
esac

started=$(date +%s)
say() { printf '[setup %3ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }
fail() { printf 'setup: %s\n' "$*" >&2; exit 1; }
changed=0

[ "$(id -u)" -eq 0 ] || fail "run as root (sudo make $purpose): Docker and debootstrap need it"
# shellcheck disable=SC1091  # the machine's own file
. /etc/os-release 2>/dev/null || fail "no /etc/os-release: this needs Debian 12 or 13"
case "${ID:-}:${VERSION_ID:-}" in
  debian:12 | debian:13) ;;
  debian:*) say "Debian ${VERSION_ID:-?} is not tested (12 and 13 are); going on" ;;
  *) fail "this needs Debian 12 or 13, found ${PRETTY_NAME:-unknown}" ;;
esac

# --- packages: command -> package ------------------------------------------
need=()
want() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
want dockerd docker.io
# Debian 13 ships the docker command in a package of its own.
if [ "${VERSION_ID:-}" != 12 ]; then want docker docker-cli; fi
want debootstrap debootstrap
want make make
want git git
want ip iproute2
want tar tar
want curl curl
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
if [ "$purpose" = test ]; then
  # ssh/ssh-keygen: the security_baseline and firewall scenarios drive hosts over SSH.
  want ssh-keygen openssh-client
  # ansible-test sanity runs shellcheck over the shell scripts.
  want shellcheck shellcheck
  # nodejs: `make unit` runs the example application's node tests.
  want node nodejs
fi
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! out=$(apt-get update -qq 2>&1) || grep -q '^[WE]: .*\(Failed to fetch\|Could not resolve\|Unable to connect\)' <<<"$out"; then
    fail "cannot reach the Debian mirror ($(grep -m1 '^[WE]:' <<<"$out" || echo 'apt-get update failed')): check the network and /etc/apt/sources.list"
  fi
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || fail "apt-get install ${need[*]} failed: run it by hand to see why"
  changed=1
fi

# --- Compose v2 on the machine itself (tests only) ---------------------------
# Debian 12 packages only Compose v1; trixie's v2 plugin runs on it as is.
# The integration tests of compose_plan use it; the demo runs Compose
# inside its sandbox host only.
if [ "$purpose" = test ] && ! docker compose version >/dev/null 2>&1; then
  say "installing the Compose v2 plugin from Debian trixie"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  curl -fsSL -o "$tmp/compose.deb" \
    http://deb.debian.org/debian/pool/main/d/docker-compose/docker-compose_2.26.1-4_amd64.deb \
    || fail "cannot download Compose v2 from deb.debian.org: check the network"
  dpkg -x "$tmp/compose.deb" "$tmp/x"
  install -D -m 0755 "$tmp/x/usr/libexec/docker/cli-plugins/docker-compose" \
    /usr/libexec/docker/cli-plugins/docker-compose
  changed=1
fi

# --- the Docker daemon ----------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    say "enabling and starting docker.service"
    systemctl enable --now docker.service >/dev/null 2>&1 \
      || fail "systemctl could not start docker.service: see journalctl -u docker.service"
  else
    # PID 1 is not systemd (a CI container, WSL...): start it by hand.
    say "starting dockerd (PID 1 is not systemd; log: /var/log/dockerd.log)"
    setsid dockerd >/var/log/dockerd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 \
    || fail "the Docker daemon did not start: $(tail -n 1 /var/log/dockerd.log 2>/dev/null || echo 'see journalctl -u docker.service')"
  changed=1
fi

if [ "$changed" -eq 1 ]; then
  say "ready for make $purpose: Docker $(docker version --format '{{.Server.Version}}')"
else
  say "nothing to do: the machine is ready for make $purpose (Docker $(docker version --format '{{.Server.Version}}'))"
fi
