#!/bin/sh
# As in the public nginx image: when starting nginx, run the scripts in
# /docker-entrypoint.d first (unless NGINX_ENTRYPOINT_QUIET_LOGS asks for
# silence, they say what they do).
set -e

entrypoint_log() {
  if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
    echo "$@"
  fi
}

if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
  for f in $(find /docker-entrypoint.d/ -follow -type f -name '*.sh' | sort -V); do
    if [ -x "$f" ]; then
      entrypoint_log "$0: Launching $f"
      "$f"
    else
      entrypoint_log "$0: Ignoring $f, not executable"
    fi
  done
  entrypoint_log "$0: Configuration complete; ready for start up"
fi

exec "$@"
