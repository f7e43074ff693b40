#!/bin/sh
# The public redis image's entrypoint contract: options or a .conf file alone
# mean redis-server; as root, own /data and drop to the redis user; protected
# mode off (the container's network is the boundary) unless set explicitly.
set -eu

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec gosu redis "$0" "$@"
fi

if [ "$1" = 'redis-server' ]; then
  case " $* " in
    *" --protected-mode "*) ;;
    *) set -- "$@" --protected-mode no ;;
  esac
fi

exec "$@"
