#!/bin/sh
# /bin/prometheus of the stand-in: Debian's prometheus with the flag defaults
# of the upstream binary. Debian's package makes them absolute paths of its
# own (/etc/prometheus/prometheus.yml, /var/lib/prometheus/metrics2/, ...);
# upstream's are relative to the working directory, /prometheus. A default is
# given only for a flag the command leaves out (kingpin refuses a repeated
# flag), and the storage path only of the mode Prometheus runs in (a server
# refuses --storage.agent.path, an agent --storage.tsdb.path).
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

agent=
previous=
for arg in "$@"; do
  case $arg in
    --enable-feature=*) features=${arg#--enable-feature=} ;;
    *) if [ "$previous" = --enable-feature ]; then features=$arg; else features=; fi ;;
  esac
  case ",$features," in
    *,agent,*) agent=1 ;;
  esac
  previous=$arg
done

given web.console.libraries "$@" || set -- --web.console.libraries=console_libraries "$@"
given web.console.templates "$@" || set -- --web.console.templates=consoles "$@"
if [ -n "$agent" ]; then
  given storage.agent.path "$@" || set -- --storage.agent.path=data-agent/ "$@"
else
  given storage.tsdb.path "$@" || set -- --storage.tsdb.path=data/ "$@"
fi
given config.file "$@" || set -- --config.file=prometheus.yml "$@"

exec /usr/libexec/prometheus/prometheus "$@"
