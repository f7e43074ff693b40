#!/usr/bin/env bash
#
# Benchmark: what nginx costs in front of gunicorn, and what it saves on
# static files (issue #16), side by side in one run on a converged host.
#
#   1. /api/ping (a small Django view) through nginx (HTTPS, the public
#      path) against gunicorn asked directly (HTTP to the django container)
#      at the same concurrency. Target: nginx >= 0.9 x direct.
#   2. /static/version.txt served by nginx (from the django_static_files
#      volume) against the same file served by Django (WhiteNoise) asked
#      directly. Target: nginx >= 10 x Django.
#   3. How nginx reaches gunicorn: the name re-resolved per request (what
#      the roles render: `set $u http://django:8000; proxy_pass $u;`)
#      against an `upstream` block with a keepalive pool, both over plain
#      HTTP on bench-only ports (8091, 8092) of a temporary conf.d file,
#      removed at the end (nginx reloaded both times).
#
# wrk runs on the host itself (installed from Debian if missing), so both
# sides of each pair share the host's CPUs the same way; keep-alive
# connections, as browsers and proxies use them.
#
# Usage (from the repository root, after `make demo`):
#   bash benchmarks/edge_throughput.sh
# Tunables: HOST_CONTAINER (prodkit-sandbox), PROJECT (myproject),
# SITE_NAME (localhost: a server_name of the site), DURATION (20 s),
# CONNECTIONS (16), THREADS (2).
set -Eeuo pipefail

HOST_CONTAINER=${HOST_CONTAINER:-prodkit-sandbox}
PROJECT=${PROJECT:-myproject}
SITE_NAME=${SITE_NAME:-localhost}
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}

die() { echo "edge_throughput: ERROR: $*" >&2; exit 1; }
log() { echo "edge_throughput: $*" >&2; }
on_host() { docker exec "$HOST_CONTAINER" "$@"; }

docker inspect "$HOST_CONTAINER" >/dev/null 2>&1 || die "no container $HOST_CONTAINER: run make demo first"
on_host sh -c 'command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }' \
  || die "could not install wrk on $HOST_CONTAINER"

django=$(on_host docker ps --quiet --filter "label=com.docker.compose.project=$PROJECT" \
  --filter label=com.docker.compose.service=django | head -n 1)
[ -n "$django" ] || die "no running django container in project $PROJECT"
ip=$(on_host docker inspect --format "{{ (index .NetworkSettings.Networks \"${PROJECT}_frontend\").IPAddress }}" "$django")
workers="$(on_host docker exec "$django" printenv GUNICORN_WORKERS || echo 3) $(on_host docker exec "$django" printenv GUNICORN_WORKER_CLASS || echo sync)"
cpus=$(on_host nproc)

# wrk URL [HEADER...] -> "requests_per_second p99_ms non_2xx"
measure() {
  local url=$1; shift
  local args=() header
  for header in "$@"; do args+=(-H "$header"); done
  on_host wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "${args[@]}" "$url" | python3 -c '
import re, sys
text = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", text).groups()
p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
print("%.0f %.1f %d" % (rps, p99, (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0)))
'
}

nginx=$(on_host docker ps --quiet --filter "label=com.docker.compose.project=$PROJECT" \
  --filter label=com.docker.compose.service=nginx | head -n 1)
[ -n "$nginx" ] || die "no running nginx container in project $PROJECT"
nginx_ip=$(on_host docker inspect --format "{{ (index .NetworkSettings.Networks \"${PROJECT}_frontend\").IPAddress }}" "$nginx")
conf_dir=$(on_host docker inspect --format '{{ range .Mounts }}{{ if eq .Destination "/etc/nginx/conf.d" }}{{ .Source }}{{ end }}{{ end }}' "$nginx")
bench_conf="$conf_dir/zz-prodkit-bench.conf"
cleanup() {
  on_host sh -c "rm -f '$bench_conf' && docker exec '$nginx' nginx -s reload" >/dev/null 2>&1 || true
}
trap cleanup EXIT
docker exec -i "$HOST_CONTAINER" sh -c "cat > '$bench_conf'" <<'CONF'
# Temporary: benchmarks/edge_throughput.sh (removed when it ends).
upstream prodkit_bench_django {
    server django:8000;
    keepalive 32;
}
server {
    listen 8091;
    access_log off;
    resolver 127.0.0.11 valid=5s ipv6=off;
    location / {
        set $prodkit_bench_django http://django:8000;
        proxy_pass $prodkit_bench_django;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-Proto https;
    }
}
server {
    listen 8092;
    access_log off;
    location / {
        proxy_pass http://prodkit_bench_django;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-Proto https;
    }
}
CONF
on_host docker exec "$nginx" nginx -t -q || die "nginx refused the benchmark's configuration"
on_host docker exec "$nginx" nginx -s reload
sleep 2

log "host $HOST_CONTAINER ($cpus CPUs), gunicorn $workers, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s each"
direct_headers=("Host: $SITE_NAME" "X-Forwarded-Proto: https")

log "1/6 /api/ping through nginx"
read -r nginx_rps nginx_p99 nginx_bad < <(measure "https://127.0.0.1/api/ping" "Host: $SITE_NAME")
log "2/6 /api/ping from gunicorn directly"
read -r direct_rps direct_p99 direct_bad < <(measure "http://$ip:8000/api/ping" "${direct_headers[@]}")
log "3/6 /static/version.txt from nginx"
read -r snginx_rps snginx_p99 snginx_bad < <(measure "https://127.0.0.1/static/version.txt" "Host: $SITE_NAME")
log "4/6 /static/version.txt from Django (WhiteNoise)"
read -r sdjango_rps sdjango_p99 sdjango_bad < <(measure "http://$ip:8000/static/version.txt" "${direct_headers[@]}")
log "5/6 /api/ping through nginx over HTTP, name re-resolved per request"
read -r resolve_rps resolve_p99 resolve_bad < <(measure "http://$nginx_ip:8091/api/ping" "Host: $SITE_NAME")
log "6/6 /api/ping through nginx over HTTP, upstream block with keepalive"
read -r pool_rps pool_p99 pool_bad < <(measure "http://$nginx_ip:8092/api/ping" "Host: $SITE_NAME")

python3 - "$nginx_rps" "$nginx_p99" "$nginx_bad" "$direct_rps" "$direct_p99" "$direct_bad" \
  "$snginx_rps" "$snginx_p99" "$snginx_bad" "$sdjango_rps" "$sdjango_p99" "$sdjango_bad" \
  "$resolve_rps" "$resolve_p99" "$resolve_bad" "$pool_rps" "$pool_p99" "$pool_bad" <<'EOF'
import sys
v = sys.argv[1:]
rows = [
    ("/api/ping via nginx (HTTPS)", v[0], v[1], v[2]),
    ("/api/ping gunicorn direct", v[3], v[4], v[5]),
    ("static via nginx (HTTPS)", v[6], v[7], v[8]),
    ("static via Django (WhiteNoise)", v[9], v[10], v[11]),
    ("nginx HTTP, name per request", v[12], v[13], v[14]),
    ("nginx HTTP, upstream keepalive", v[15], v[16], v[17]),
]
print("%-32s %10s %10s %8s" % ("", "req/s", "p99 ms", "errors"))
for name, rps, p99, bad in rows:
    print("%-32s %10s %10s %8s" % (name, rps, p99, bad))
edge = float(v[0]) / float(v[3])
static = float(v[6]) / float(v[9])
print()
print("nginx / direct on /api/ping: %.2f x (target >= 0.9)  %s" % (edge, "ok" if edge >= 0.9 else "BELOW TARGET"))
print("nginx / Django on static:    %.1f x (target >= 10)   %s" % (static, "ok" if static >= 10 else "BELOW TARGET"))
print("upstream keepalive / name per request (HTTP): %.2f x" % (float(v[15]) / float(v[12])))
EOF
