#!/usr/bin/env bash
#
# Benchmark: gunicorn as prodkit.stack.compose_stack runs it (issue #16).
#
#   1. The worker count the role computes ((2 x vCPU) + 1, at most
#      compose_stack_gunicorn_workers_max) against the running process: the
#      workers counted under gunicorn's master in /proc.
#   2. sync against gthread workers on an I/O-bound route (/api/io?ms=100:
#      the view waits 100 ms on PostgreSQL and spends almost no CPU), at the
#      same concurrency, each deployed by the role (site.yml --tags
#      compose_stack -e compose_stack_gunicorn_worker_class=...), which
#      replaces django start-first. The host is left with sync, the default.
#
# wrk runs on the host against the django container directly, so that only
# gunicorn is measured.
#
# Usage (from the repository root, after `make demo`, with .venv):
#   bash benchmarks/gunicorn_workers.sh
# Tunables: HOST_CONTAINER (prodkit-sandbox), PROJECT (myproject),
# SITE_NAME (localhost), DURATION (20 s), CONNECTIONS (64), IO_MS (100),
# PLAYBOOK_ARGS (extra ansible-playbook arguments, e.g. -i INVENTORY).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

HOST_CONTAINER=${HOST_CONTAINER:-prodkit-sandbox}
PROJECT=${PROJECT:-myproject}
SITE_NAME=${SITE_NAME:-localhost}
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-64}
IO_MS=${IO_MS:-100}
read -r -a PLAYBOOK_ARGS <<<"${PLAYBOOK_ARGS:-}"
PLAYBOOK=${PLAYBOOK:-.venv/bin/ansible-playbook}

die() { echo "gunicorn_workers: ERROR: $*" >&2; exit 1; }
log() { echo "gunicorn_workers: $*" >&2; }
on_host() { docker exec "$HOST_CONTAINER" "$@"; }

docker inspect "$HOST_CONTAINER" >/dev/null 2>&1 || die "no container $HOST_CONTAINER: run make demo first"
[ -x "$PLAYBOOK" ] || die "$PLAYBOOK not found: make venv"
on_host sh -c 'command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }' \
  || die "could not install wrk on $HOST_CONTAINER"

django_id() {
  on_host docker ps --quiet --filter "label=com.docker.compose.project=$PROJECT" \
    --filter label=com.docker.compose.service=django | head -n 1
}

# "<class> <workers in the command line> <workers under the master>"
running_workers() {
  local id master
  id=$(django_id)
  master=$(on_host docker inspect --format '{{ .State.Pid }}' "$id")
  on_host sh -c "tr '\\0' ' ' < /proc/$master/cmdline; echo; grep -l '^PPid:[[:space:]]*$master\$' /proc/[0-9]*/status | wc -l" \
    | python3 -c '
import re, sys
cmdline, children = sys.stdin.read().splitlines()[:2]
workers = re.search(r"--workers (\d+)", cmdline).group(1)
klass = re.search(r"--worker-class (\S+)", cmdline).group(1)
print(klass, workers, children.strip())
'
}

deploy_class() {
  log "deploying django with $1 workers (site.yml --tags compose_stack)"
  "$PLAYBOOK" "${PLAYBOOK_ARGS[@]}" site.yml --tags compose_stack \
    -e "compose_stack_gunicorn_worker_class=$1" >"${TMPDIR:-/tmp}/gunicorn_workers-$1.log" 2>&1 \
    || die "the deploy with $1 failed: ${TMPDIR:-/tmp}/gunicorn_workers-$1.log"
}

# wrk -> "requests_per_second p99_ms errors"
measure_io() {
  local ip
  ip=$(on_host docker inspect --format "{{ (index .NetworkSettings.Networks \"${PROJECT}_frontend\").IPAddress }}" "$(django_id)")
  on_host wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency \
    -H "Host: $SITE_NAME" -H "X-Forwarded-Proto: https" "http://$ip:8000/api/io?ms=$IO_MS" | python3 -c '
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

cpus=$(on_host nproc)
threads=$(on_host docker exec "$(django_id)" printenv GUNICORN_THREADS || echo 4)

deploy_class sync
read -r sync_class sync_cmd_workers sync_children < <(running_workers)
log "sync: measuring /api/io?ms=$IO_MS, $CONNECTIONS connections"
read -r sync_rps sync_p99 sync_bad < <(measure_io)

deploy_class gthread
read -r gthread_class gthread_cmd_workers gthread_children < <(running_workers)
log "gthread: measuring /api/io?ms=$IO_MS, $CONNECTIONS connections"
read -r gthread_rps gthread_p99 gthread_bad < <(measure_io)

deploy_class sync

expected=$(python3 -c "print(min($cpus * 2 + 1, 12))")
echo "worker count: host has $cpus vCPUs, the role computes $expected workers;"
echo "  running: $sync_class with --workers $sync_cmd_workers, $sync_children processes under the master;"
echo "  running: $gthread_class with --workers $gthread_cmd_workers, $gthread_children processes under the master ($threads threads each)"
[ "$sync_children" = "$expected" ] && [ "$gthread_children" = "$expected" ] || echo "  MISMATCH"
echo
printf '%-34s %10s %10s %8s\n' "/api/io?ms=$IO_MS, c=$CONNECTIONS" "req/s" "p99 ms" "errors"
printf '%-34s %10s %10s %8s\n' "sync ($sync_children workers)" "$sync_rps" "$sync_p99" "$sync_bad"
printf '%-34s %10s %10s %8s\n' "gthread ($gthread_children x $threads threads)" "$gthread_rps" "$gthread_p99" "$gthread_bad"
python3 -c "print('gthread / sync: %.1f x (ideal for an I/O-bound view: %d)' % ($gthread_rps / $sync_rps, $threads))"
