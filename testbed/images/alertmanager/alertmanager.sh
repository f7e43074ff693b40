#!/bin/sh
# /bin/alertmanager of the stand-in: Debian's prometheus-alertmanager with
# the flag defaults of the upstream binary. Debian's package makes them
# absolute paths of its own (/etc/prometheus/alertmanager.yml,
# /var/lib/prometheus/alertmanager/); upstream's are relative to the working
# directory, /alertmanager. A default is given only for a flag the command
# leaves out (kingpin refuses a repeated flag).
set -e

given() {
  flag=$1
  shift
  for arg in "$@"; do
    case $arg in
      --"$flag" | --"$flag"=*) return 0 ;;
    esac
  done
  return 1
}

given storage.path "$@" || set -- --storage.path=data/ "$@"
given config.file "$@" || set -- --config.file=alertmanager.yml "$@"

exec /usr/bin/prometheus-alertmanager "$@"
