#!/bin/sh
# As in the public nginx image: the default site listens on [::]:80 too when
# the container has IPv6 and conf.d/default.conf is the image's own and
# writable (not on a read-only root, not replaced by a mount).
set -e

ME=$(basename "$0")
conf=/etc/nginx/conf.d/default.conf

log() {
  if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
    echo "$ME: info: $*"
  fi
}

[ -f /proc/net/if_inet6 ] || { log "ipv6 not available"; exit 0; }
[ -f "$conf" ] || { log "$conf is not a file or does not exist"; exit 0; }
touch "$conf" 2>/dev/null || { log "can not modify $conf (read-only file system?)"; exit 0; }
if grep -q 'listen  \[::\]:80;' "$conf"; then
  log "IPv6 listen already enabled"
  exit 0
fi
cmp -s "$conf" /usr/share/nginx/default.conf || { log "$conf differs from the image's version"; exit 0; }
sed -i -E 's,listen       80;,listen       80;\n    listen  [::]:80;,' "$conf"
log "Enabled listen on IPv6 in $conf"
