#!/bin/sh
# As in the public nginx image: when starting nginx, run the scripts in
# /docker-entrypoint.d in version order first (*.sh executed, *.envsh
# sourced, so that later scripts see what they export); they say what they
# do unless NGINX_ENTRYPOINT_QUIET_LOGS is set.
set -e

entrypoint_log() {
  if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
    echo "$@"
  fi
}

if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
  if find /docker-entrypoint.d/ -mindepth 1 -maxdepth 1 -type f -print -quit 2>/dev/null | read -r _; then
    entrypoint_log "$0: /docker-entrypoint.d/ is not empty, will attempt to perform configuration"
    find /docker-entrypoint.d/ -follow -type f -print | sort -V | while read -r f; do
      case "$f" in
        *.envsh)
          if [ -x "$f" ]; then
            entrypoint_log "$0: Sourcing $f"
            # shellcheck disable=SC1090 # the image's user supplies it
            . "$f"
          else
            entrypoint_log "$0: Ignoring $f, not executable"
          fi ;;
        *.sh)
          if [ -x "$f" ]; then
            entrypoint_log "$0: Launching $f"
            "$f"
          else
            entrypoint_log "$0: Ignoring $f, not executable"
          fi ;;
        *) entrypoint_log "$0: Ignoring $f" ;;
      esac
    done
    entrypoint_log "$0: Configuration complete; ready for start up"
  else
    entrypoint_log "$0: No files found in /docker-entrypoint.d/, skipping configuration"
  fi
fi

exec "$@"
