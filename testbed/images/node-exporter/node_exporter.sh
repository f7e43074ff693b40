#!/bin/sh
# /bin/node_exporter of the stand-in: Debian's prometheus-node-exporter with
# the defaults of the upstream binary. Debian's package turns the systemd
# collector on (it fails in a container: no D-Bus socket, so
# node_scrape_collector_success{collector="systemd"} 0 on every scrape) and
# points the textfile collector at /var/lib/prometheus/node-exporter;
# upstream has the systemd collector off and no textfile directory. A
# default is given only for a flag the command leaves out (kingpin refuses
# a repeated flag).
set -e

given() {
  for arg in "$@"; do
    for flag in $flags; do
      case $arg in
        --"$flag" | --"$flag"=*) return 0 ;;
      esac
    done
  done
  return 1
}

flags="collector.systemd no-collector.systemd"
given "$@" || set -- --no-collector.systemd "$@"
flags=collector.textfile.directory
given "$@" || set -- --collector.textfile.directory= "$@"

exec /usr/bin/prometheus-node-exporter "$@"
