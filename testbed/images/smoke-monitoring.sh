#!/usr/bin/env bash
# Smoke test of the monitoring stand-ins (the `monitoring` set of
# testbed/images.yml): runs each image for real on this machine's Docker and
# checks the interface the public image has (entrypoint, command, user,
# ports, paths, environment) and that it does its job:
#   prometheus         promtool check config; ready; scrapes itself; consoles;
#                      upstream's flag defaults (server and agent mode)
#   alertmanager       amtool check-config; ready; amtool alert add / query;
#                      upstream's flag defaults
#   node-exporter      metrics; no systemd collector unless asked for;
#                      --collector.textfile.directory
#   postgres-exporter  pg_up 1 against the postgres stand-in (DATA_SOURCE_URI
#                      + _USER + _PASS_FILE as a pg_monitor role, and
#                      DATA_SOURCE_NAME), pg_up 0 with a wrong password
#   redis-exporter     redis_up 1 against the redis stand-in with a password,
#                      redis_key_size of a REDIS_EXPORTER_CHECK_SINGLE_KEYS
#                      key; no shell in the image (FROM scratch as upstream)
#   blackbox-exporter  http_2xx, tcp_connect and icmp probes of a hello
#                      container (probe_success 1, and 0 for a closed port),
#                      https with a CA file (probe_ssl_earliest_cert_expiry)
# The exporters run with a read-only root and no-new-privileges (as the
# monitoring role's compose file runs them), and the busybox healthcheck
# forms of wget (wget -q -O - URL, wget -q --spider URL) are tried in every
# image but redis-exporter's.
#
# Usage: testbed/images/smoke-monitoring.sh
#   Builds the images first through testbed/imagectl.py (cached when
#   unchanged); SMOKE_SKIP_BUILD=1 skips that. PYTHON is the interpreter for
#   imagectl.py (default: .venv/bin/python of the checkout).
# Traffic goes only to the containers this script starts (on a network of
# its own) and to their ports published on 127.0.0.1. Every container and
# the network are removed on exit, whatever happened. Exit status 0 only if
# every check passed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
python=${PYTHON:-$repo/.venv/bin/python}

prefix=prodkit-smoke-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
net=$prefix-net
containers=()
workdir=
checks=0

cleanup() {
  local status=$?
  if ((${#containers[@]})); then
    docker rm -f -v "${containers[@]}" >/dev/null 2>&1 || true
  fi
  docker network rm "$net" >/dev/null 2>&1 || true
  if [[ -n $workdir ]]; then
    rm -rf "$workdir"
  fi
  if ((status == 0)); then
    printf 'smoke-monitoring: all %d checks passed\n' "$checks"
  else
    printf 'smoke-monitoring: FAILED (exit %d)\n' "$status" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pass() {
  checks=$((checks + 1))
  printf 'ok   %s\n' "$*"
}

fail() {
  printf 'FAIL %s\n' "$*" >&2
  exit 1
}

# ref NAME: the stable reference of an image of the catalogue.
ref() {
  "$python" "$repo/testbed/imagectl.py" ref "$1"
}

# start NAME IMAGE [docker run options...] [-- command arguments...]
# Runs a container on the test network, reachable there as NAME.
start() {
  local name=$1 image=$2
  shift 2
  local options=()
  while (($#)) && [[ $1 != -- ]]; do
    options+=("$1")
    shift
  done
  if (($#)); then
    shift
  fi
  containers+=("$prefix-$name")
  docker run -d --name "$prefix-$name" --network "$net" --network-alias "$name" \
    "${options[@]}" "$image" "$@" >/dev/null
}

# Options of the monitoring containers: as the role's compose file runs them.
hardened=(--read-only --security-opt no-new-privileges:true)

logs() {
  docker logs --tail 30 "$prefix-$1" 2>&1 | sed 's/^/     | /' >&2
}

# address NAME PORT: host:port of a port published on 127.0.0.1.
address() {
  docker port "$prefix-$1" "$2/tcp" | grep -m1 '^127\.0\.0\.1:'
}

# wait_for NAME URL REGEX [SECONDS]: until the body of URL (from the host)
# matches REGEX; prints the body. Fails early if the container stops.
wait_for() {
  local name=$1 url=$2 regex=$3 deadline=$((SECONDS + ${4:-60})) body='' key=''
  while true; do
    body=$(curl -fsS --max-time 10 "$url" 2>/dev/null) || body=
    if [[ -n $body ]] && grep -Eq -- "$regex" <<<"$body"; then
      printf '%s\n' "$body"
      return 0
    fi
    if [[ $(docker inspect --format '{{.State.Running}}' "$prefix-$name") != true ]] \
      || ((SECONDS > deadline)); then
      printf 'FAIL %s: %s never matched /%s/; last answer:\n' "$name" "$url" "$regex" >&2
      key=$(grep -Eo '[a-z_]{3,}' <<<"$regex" | head -1) || key=
      { grep -F -- "${key:-}" <<<"$body" || printf '%s\n' "$body"; } | head -5 | sed 's/^/     | /' >&2
      printf '     %s log:\n' "$name" >&2
      logs "$name"
      exit 1
    fi
    sleep 1
  done
}

# expect TEXT REGEX WHAT: TEXT has a line matching REGEX.
expect() {
  if grep -Eq -- "$2" <<<"$1"; then
    pass "$3"
  else
    fail "$3: no line matches /$2/"
  fi
}

# expect_no TEXT REGEX WHAT: TEXT has no line matching REGEX.
expect_no() {
  if grep -Eq -- "$2" <<<"$1"; then
    fail "$3: $(grep -E -m1 -- "$2" <<<"$1")"
  else
    pass "$3"
  fi
}

# interface IMAGE ENTRYPOINT CMD USER WORKDIR VOLUMES PORTS: the image's
# configuration, each as docker image inspect prints it in JSON.
interface() {
  local image=$1 got want
  got=$(docker image inspect --format \
    '{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .Config.User}} {{json .Config.WorkingDir}} {{json .Config.Volumes}} {{json .Config.ExposedPorts}}' \
    "$image")
  want="$2 $3 $4 $5 $6 $7"
  if [[ $got == "$want" ]]; then
    pass "$image: entrypoint $2, command $3, user $4, workdir $5, volumes $6, ports $7"
  else
    fail "$image: configuration is
       $got
     not
       $want"
  fi
}

# uid NAME UID: the container's main process runs as UID.
uid() {
  local got
  got=$(docker top "$prefix-$1" -o pid,uid | awk 'NR == 2 { print $2 }')
  if [[ $got == "$2" ]]; then
    pass "$1: runs as uid $2"
  else
    fail "$1: runs as uid $got, not $2"
  fi
}

# healthcheck NAME URL: busybox's wget forms work inside the container, and
# fail when nothing answers.
healthcheck() {
  local name=$1 url=$2
  docker exec "$prefix-$name" wget -q -O - "$url" >/dev/null \
    || fail "$name: wget -q -O - $url failed"
  docker exec "$prefix-$name" wget -q --spider "$url" \
    || fail "$name: wget -q --spider $url failed"
  if docker exec "$prefix-$name" wget -q --spider --tries=1 http://127.0.0.1:1/ 2>/dev/null; then
    fail "$name: wget -q --spider succeeds with nothing listening"
  fi
  pass "$name: wget -q -O - / wget -q --spider $url (and non-zero when nothing answers)"
}

# ---------------------------------------------------------------------------

[[ -x $python ]] || fail "$python not found (make venv, or set PYTHON)"
if [[ ${SMOKE_SKIP_BUILD:-} != 1 ]]; then
  "$python" "$repo/testbed/imagectl.py" build prometheus alertmanager node-exporter \
    postgres-exporter redis-exporter blackbox-exporter postgres redis nginx hello
fi
prometheus=$(ref prometheus)
alertmanager=$(ref alertmanager)
node_exporter=$(ref node-exporter)
postgres_exporter=$(ref postgres-exporter)
redis_exporter=$(ref redis-exporter)
blackbox_exporter=$(ref blackbox-exporter)
postgres=$(ref postgres)
redis=$(ref redis)
nginx=$(ref nginx)
hello=$(ref hello)

workdir=$(mktemp -d)
chmod 755 "$workdir"
docker network create "$net" >/dev/null

# --- the images' configuration ---------------------------------------------
interface "$prometheus" '["/bin/prometheus"]' \
  '["--config.file=/etc/prometheus/prometheus.yml","--storage.tsdb.path=/prometheus","--web.console.libraries=/usr/share/prometheus/console_libraries","--web.console.templates=/usr/share/prometheus/consoles"]' \
  '"nobody"' '"/prometheus"' '{"/prometheus":{}}' '{"9090/tcp":{}}'
interface "$alertmanager" '["/bin/alertmanager"]' \
  '["--config.file=/etc/alertmanager/alertmanager.yml","--storage.path=/alertmanager"]' \
  '"nobody"' '"/alertmanager"' '{"/alertmanager":{}}' '{"9093/tcp":{}}'
interface "$node_exporter" '["/bin/node_exporter"]' null '"nobody"' '""' null '{"9100/tcp":{}}'
interface "$postgres_exporter" '["/bin/postgres_exporter"]' null '"nobody"' '""' null '{"9187/tcp":{}}'
interface "$redis_exporter" '["/redis_exporter"]' null '"59000:59000"' '""' null '{"9121/tcp":{}}'
interface "$blackbox_exporter" '["/bin/blackbox_exporter"]' '["--config.file=/etc/blackbox_exporter/config.yml"]' \
  '"nobody"' '""' null '{"9115/tcp":{}}'

# --- prometheus --------------------------------------------------------------
out=$(docker run --rm --entrypoint /bin/promtool "$prometheus" check config /etc/prometheus/prometheus.yml 2>&1) \
  || fail "promtool check config: $out"
expect "$out" 'SUCCESS' "prometheus: promtool check config /etc/prometheus/prometheus.yml"

start prometheus "$prometheus" "${hardened[@]}" -p 127.0.0.1::9090
a=$(address prometheus 9090)
wait_for prometheus "http://$a/-/ready" 'Ready' >/dev/null
pass "prometheus: /-/ready"
uid prometheus 65534
healthcheck prometheus http://127.0.0.1:9090/-/ready
out=$(wait_for prometheus "http://$a/api/v1/query?query=up%7Bjob%3D%22prometheus%22%7D" '"value":\[[0-9.]+,"1"\]' 60)
pass "prometheus: scrapes itself (up{job=\"prometheus\"} 1)"
out=$(curl -fsS "http://$a/metrics")
expect "$out" '^prometheus_build_info\{.*version="2\.53\.' "prometheus: prometheus_build_info version 2.53"
curl -fsS -o /dev/null "http://$a/consoles/prometheus.html" || fail "prometheus: /consoles/prometheus.html"
pass "prometheus: console templates (/consoles/prometheus.html)"

# A command with none of the path flags: upstream's defaults, relative to the
# working directory (here /etc/prometheus, which holds prometheus.yml).
start prometheus-defaults "$prometheus" -w /etc/prometheus -p 127.0.0.1::9090 -- --log.level=info
a=$(address prometheus-defaults 9090)
out=$(wait_for prometheus-defaults "http://$a/api/v1/status/flags" '"storage.tsdb.path"')
expect "$out" '"config.file":"prometheus.yml"' "prometheus: default --config.file=prometheus.yml"
expect "$out" '"storage.tsdb.path":"data/"' "prometheus: default --storage.tsdb.path=data/"
expect "$out" '"web.console.templates":"consoles"' "prometheus: default --web.console.templates=consoles"
wait_for prometheus-defaults "http://$a/-/ready" 'Ready' >/dev/null
docker exec "$prefix-prometheus-defaults" test -d /etc/prometheus/data/wal \
  || fail "prometheus: no /etc/prometheus/data/wal with the default storage path"
pass "prometheus: the TSDB in <workdir>/data"
# An agent refuses alerting and rules: a configuration of scrapes only.
mkdir "$workdir/agent"
printf 'scrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ["localhost:9090"]\n' \
  >"$workdir/agent/prometheus.yml"
chmod 755 "$workdir/agent"
chmod 644 "$workdir/agent/prometheus.yml"
start prometheus-agent "$prometheus" -w /etc/prometheus -p 127.0.0.1::9090 \
  -v "$workdir/agent/prometheus.yml:/etc/prometheus/agent.yml:ro" -- --enable-feature=agent --config.file=agent.yml
a=$(address prometheus-agent 9090)
out=$(wait_for prometheus-agent "http://$a/api/v1/status/flags" '"storage.agent.path"')
expect "$out" '"storage.agent.path":"data-agent/"' "prometheus: agent mode starts, default --storage.agent.path=data-agent/"

# --- alertmanager ----------------------------------------------------------
out=$(docker run --rm --entrypoint /bin/amtool "$alertmanager" check-config /etc/alertmanager/alertmanager.yml 2>&1) \
  || fail "amtool check-config: $out"
expect "$out" 'SUCCESS' "alertmanager: amtool check-config /etc/alertmanager/alertmanager.yml"

start alertmanager "$alertmanager" "${hardened[@]}" -p 127.0.0.1::9093
a=$(address alertmanager 9093)
wait_for alertmanager "http://$a/-/ready" 'OK' >/dev/null
pass "alertmanager: /-/ready"
uid alertmanager 65534
healthcheck alertmanager http://127.0.0.1:9093/-/ready
out=$(curl -fsS "http://$a/metrics")
expect "$out" '^alertmanager_build_info\{.*version="0\.28\.' "alertmanager: alertmanager_build_info version 0.28"
docker exec "$prefix-alertmanager" amtool --alertmanager.url=http://127.0.0.1:9093 \
  alert add smoke_test severity=warning >/dev/null
out=$(docker exec "$prefix-alertmanager" amtool --alertmanager.url=http://127.0.0.1:9093 alert query)
expect "$out" 'smoke_test' "alertmanager: amtool alert add / alert query"

start alertmanager-defaults "$alertmanager" -w /etc/alertmanager -p 127.0.0.1::9093 -- --cluster.listen-address=
a=$(address alertmanager-defaults 9093)
wait_for alertmanager-defaults "http://$a/-/ready" 'OK' >/dev/null
out=$(docker logs "$prefix-alertmanager-defaults" 2>&1)
expect "$out" 'Loading configuration file.* file=alertmanager\.yml' "alertmanager: default --config.file=alertmanager.yml"
docker exec "$prefix-alertmanager-defaults" test -d /etc/alertmanager/data \
  || fail "alertmanager: no <workdir>/data with the default storage path"
pass "alertmanager: default --storage.path=data/"

# --- node-exporter -----------------------------------------------------------
mkdir "$workdir/textfile"
printf '# HELP prodkit_smoke_textfile A metric of the smoke test.\n# TYPE prodkit_smoke_textfile gauge\nprodkit_smoke_textfile 1\n' \
  >"$workdir/textfile/smoke.prom"
chmod 755 "$workdir/textfile"
chmod 644 "$workdir/textfile/smoke.prom"
start node-exporter "$node_exporter" "${hardened[@]}" -p 127.0.0.1::9100 \
  -v "$workdir/textfile:/textfile:ro" -- --collector.textfile.directory=/textfile
a=$(address node-exporter 9100)
out=$(wait_for node-exporter "http://$a/metrics" '^node_exporter_build_info')
uid node-exporter 65534
healthcheck node-exporter http://127.0.0.1:9100/metrics
expect "$out" '^node_exporter_build_info\{.*version="1\.9\.' "node-exporter: node_exporter_build_info version 1.9"
expect "$out" '^node_load1 ' "node-exporter: node_load1"
expect "$out" '^prodkit_smoke_textfile 1$' "node-exporter: --collector.textfile.directory=/textfile read"
expect "$out" '^node_textfile_scrape_error 0$' "node-exporter: node_textfile_scrape_error 0"
expect_no "$out" 'collector="systemd"' "node-exporter: no systemd collector by default (as upstream)"
start node-exporter-systemd "$node_exporter" "${hardened[@]}" -p 127.0.0.1::9100 -- --collector.systemd
a=$(address node-exporter-systemd 9100)
out=$(wait_for node-exporter-systemd "http://$a/metrics" '^node_scrape_collector_success\{collector="systemd"\}')
pass "node-exporter: --collector.systemd given explicitly is honoured"

# --- postgres-exporter -------------------------------------------------------
start pg "$postgres" -e POSTGRES_PASSWORD=smoke-owner-password
deadline=$((SECONDS + 90))
until docker exec "$prefix-pg" pg_isready -q -h 127.0.0.1 -U postgres; do
  ((SECONDS < deadline)) || { logs pg; fail "postgres never became ready"; }
  sleep 1
done
docker exec -u postgres "$prefix-pg" psql -q -v ON_ERROR_STOP=1 -U postgres -d postgres \
  -c "CREATE ROLE smoke_monitor LOGIN PASSWORD 'smoke-monitor-password' IN ROLE pg_monitor" >/dev/null
printf 'smoke-monitor-password' >"$workdir/pg-password"
chmod 644 "$workdir/pg-password"

start postgres-exporter "$postgres_exporter" "${hardened[@]}" -p 127.0.0.1::9187 \
  -e DATA_SOURCE_URI='pg:5432/postgres?sslmode=disable' -e DATA_SOURCE_USER=smoke_monitor \
  -e DATA_SOURCE_PASS_FILE=/run/secrets/pg-password -v "$workdir/pg-password:/run/secrets/pg-password:ro"
a=$(address postgres-exporter 9187)
out=$(wait_for postgres-exporter "http://$a/metrics" '^pg_up 1$')
pass "postgres-exporter: pg_up 1 (DATA_SOURCE_URI + DATA_SOURCE_USER + DATA_SOURCE_PASS_FILE, a pg_monitor role)"
uid postgres-exporter 65534
healthcheck postgres-exporter http://127.0.0.1:9187/metrics
expect "$out" '^postgres_exporter_build_info\{.*version="0\.17\.' "postgres-exporter: postgres_exporter_build_info version 0.17"
expect "$out" '^pg_database_size_bytes\{datname="postgres"\}' "postgres-exporter: pg_database_size_bytes{datname=\"postgres\"}"
expect "$out" '^pg_stat_database_numbackends\{datid="[0-9]+",datname="postgres"\}' "postgres-exporter: pg_stat_database_numbackends"

start postgres-exporter-dsn "$postgres_exporter" "${hardened[@]}" -p 127.0.0.1::9187 \
  -e DATA_SOURCE_NAME='postgresql://smoke_monitor:smoke-monitor-password@pg:5432/postgres?sslmode=disable' \
  -e PG_EXPORTER_WEB_TELEMETRY_PATH=/pg-metrics
a=$(address postgres-exporter-dsn 9187)
wait_for postgres-exporter-dsn "http://$a/pg-metrics" '^pg_up 1$' >/dev/null
pass "postgres-exporter: pg_up 1 (DATA_SOURCE_NAME; PG_EXPORTER_WEB_TELEMETRY_PATH)"

start postgres-exporter-wrong "$postgres_exporter" "${hardened[@]}" -p 127.0.0.1::9187 \
  -e DATA_SOURCE_URI='pg:5432/postgres?sslmode=disable' -e DATA_SOURCE_USER=smoke_monitor \
  -e DATA_SOURCE_PASS=wrong-password
a=$(address postgres-exporter-wrong 9187)
wait_for postgres-exporter-wrong "http://$a/metrics" '^pg_up 0$' >/dev/null
pass "postgres-exporter: pg_up 0 with a wrong DATA_SOURCE_PASS"

# --- redis-exporter ----------------------------------------------------------
start redis "$redis" -e REDISCLI_AUTH=smoke-redis-password -- --requirepass smoke-redis-password
deadline=$((SECONDS + 60))
until [[ $(docker exec "$prefix-redis" redis-cli ping 2>/dev/null) == PONG ]]; do
  ((SECONDS < deadline)) || { logs redis; fail "redis never answered PONG"; }
  sleep 1
done
docker exec "$prefix-redis" redis-cli LPUSH celery task-1 task-2 task-3 >/dev/null

start redis-exporter "$redis_exporter" "${hardened[@]}" -p 127.0.0.1::9121 \
  -e REDIS_ADDR=redis://redis:6379 -e REDIS_PASSWORD=smoke-redis-password \
  -e REDIS_EXPORTER_CHECK_SINGLE_KEYS=db0=celery
a=$(address redis-exporter 9121)
out=$(wait_for redis-exporter "http://$a/metrics" '^redis_up 1$')
pass "redis-exporter: redis_up 1 (REDIS_ADDR, REDIS_PASSWORD)"
uid redis-exporter 59000
expect "$out" '^redis_key_size\{db="db0",key="celery"\} 3$' \
  "redis-exporter: redis_key_size{db=\"db0\",key=\"celery\"} 3 (REDIS_EXPORTER_CHECK_SINGLE_KEYS=db0=celery)"
expect "$out" '^redis_exporter_build_info\{.*version="1\.69\.' "redis-exporter: redis_exporter_build_info version 1.69"
expect "$out" '^redis_connected_clients ' "redis-exporter: redis_connected_clients"
if docker run --rm --entrypoint /bin/sh "$redis_exporter" -c true >/dev/null 2>&1; then
  fail "redis-exporter: the image has a shell (upstream's has none)"
fi
pass "redis-exporter: no shell in the image (FROM scratch, as upstream)"

start redis-exporter-nopass "$redis_exporter" "${hardened[@]}" -p 127.0.0.1::9121 \
  -e REDIS_ADDR=redis://redis:6379
a=$(address redis-exporter-nopass 9121)
wait_for redis-exporter-nopass "http://$a/metrics" '^redis_up 0$' >/dev/null
pass "redis-exporter: redis_up 0 without the password"

# --- blackbox-exporter -------------------------------------------------------
start hello "$hello"
out=$(docker run --rm --entrypoint /bin/blackbox_exporter "$blackbox_exporter" \
  --config.check --config.file=/etc/blackbox_exporter/config.yml 2>&1) \
  || fail "blackbox-exporter: --config.check of the default configuration: $out"
pass "blackbox-exporter: --config.check of /etc/blackbox_exporter/config.yml"
start blackbox-exporter "$blackbox_exporter" "${hardened[@]}" -p 127.0.0.1::9115
a=$(address blackbox-exporter 9115)
wait_for blackbox-exporter "http://$a/-/healthy" 'Healthy' >/dev/null
uid blackbox-exporter 65534
healthcheck blackbox-exporter http://127.0.0.1:9115/-/healthy
out=$(curl -fsS "http://$a/metrics")
expect "$out" '^blackbox_exporter_build_info\{.*version="0\.26\.' "blackbox-exporter: blackbox_exporter_build_info version 0.26"
out=$(wait_for blackbox-exporter "http://$a/probe?module=http_2xx&target=http://hello:8080/" '^probe_success 1$' 30)
pass "blackbox-exporter: http_2xx probe of http://hello:8080/, probe_success 1"
expect "$out" '^probe_http_status_code 200$' "blackbox-exporter: probe_http_status_code 200"
wait_for blackbox-exporter "http://$a/probe?module=tcp_connect&target=hello:8080" '^probe_success 1$' 30 >/dev/null
pass "blackbox-exporter: tcp_connect probe of hello:8080, probe_success 1"
out=$(curl -fsS "http://$a/probe?module=http_2xx&target=http://hello:8081/")
expect "$out" '^probe_success 0$' "blackbox-exporter: http_2xx probe of a closed port, probe_success 0"
wait_for blackbox-exporter "http://$a/probe?module=icmp&target=hello" '^probe_success 1$' 30 >/dev/null
pass "blackbox-exporter: icmp probe of hello as uid 65534, probe_success 1"

# HTTPS: nginx with a self-signed certificate for tls-site; blackbox trusts
# it through a CA file (as the monitoring role mounts one).
mkdir "$workdir/tls" "$workdir/blackbox"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=tls-site \
  -addext subjectAltName=DNS:tls-site -addext basicConstraints=critical,CA:TRUE \
  -keyout "$workdir/tls/key.pem" -out "$workdir/tls/cert.pem" 2>/dev/null
cat >"$workdir/tls/site.conf" <<'EOF'
server {
    listen 8443 ssl;
    server_name tls-site;
    ssl_certificate /etc/nginx/tls/cert.pem;
    ssl_certificate_key /etc/nginx/tls/key.pem;
    location / {
        return 200 "ok\n";
    }
}
EOF
cp "$workdir/tls/cert.pem" "$workdir/blackbox/ca.pem"
cat >"$workdir/blackbox/config.yml" <<'EOF'
modules:
  http_2xx_ca:
    prober: http
    http:
      preferred_ip_protocol: ip4
      tls_config:
        ca_file: /etc/blackbox_exporter/ca.pem
EOF
chmod 755 "$workdir/tls" "$workdir/blackbox"
chmod 644 "$workdir"/tls/* "$workdir"/blackbox/*
start tls-site "$nginx" -v "$workdir/tls/site.conf:/etc/nginx/conf.d/default.conf:ro" \
  -v "$workdir/tls/cert.pem:/etc/nginx/tls/cert.pem:ro" -v "$workdir/tls/key.pem:/etc/nginx/tls/key.pem:ro"
start blackbox-exporter-tls "$blackbox_exporter" "${hardened[@]}" -p 127.0.0.1::9115 \
  -v "$workdir/blackbox:/etc/blackbox_exporter:ro"
a=$(address blackbox-exporter-tls 9115)
wait_for blackbox-exporter-tls "http://$a/-/healthy" 'Healthy' >/dev/null
out=$(wait_for blackbox-exporter-tls "http://$a/probe?module=http_2xx_ca&target=https://tls-site:8443/" '^probe_success 1$' 30)
pass "blackbox-exporter: https probe with a CA file, probe_success 1"
expect "$out" '^probe_http_ssl 1$' "blackbox-exporter: probe_http_ssl 1"
expiry=$(awk '$1 == "probe_ssl_earliest_cert_expiry" { printf "%d", $2 }' <<<"$out")
if [[ -n $expiry ]] && ((expiry > $(date +%s))); then
  pass "blackbox-exporter: probe_ssl_earliest_cert_expiry $expiry (in the future)"
else
  fail "blackbox-exporter: probe_ssl_earliest_cert_expiry missing or past: '$expiry'"
fi
out=$(curl -fsS "http://$a/probe?module=http_2xx_ca&target=https://hello:8443/")
expect "$out" '^probe_success 0$' "blackbox-exporter: https probe of a port with nothing behind it, probe_success 0"
