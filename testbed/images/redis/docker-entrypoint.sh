#!/bin/sh
# The public redis image's entrypoint contract: options or a .conf file alone
# mean redis-server; as root, own /data and drop to the redis user; a umask
# of 0077; protected mode off (the container's network is the boundary)
# unless a config file given as the first argument sets it, and placed
# before the other arguments so that an explicit --protected-mode wins.
set -e

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec gosu redis "$0" "$@"
fi

um=$(umask)
if [ "$um" = '0022' ]; then
  umask 0077
fi

if [ "$1" = 'redis-server' ]; then
  protected_mode=1
  config=
  if [ -f "${2:-}" ]; then
    config=$2
    if grep -q '^protected-mode' "$config"; then
      protected_mode=
    fi
  fi
  if [ -n "$protected_mode" ]; then
    shift # redis-server
    if [ -n "$config" ]; then
      shift
    fi
    set -- --protected-mode no "$@"
    if [ -n "$config" ]; then
      set -- "$config" "$@"
    fi
    set -- redis-server "$@"
  fi
fi

exec "$@"
