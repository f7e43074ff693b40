#!/usr/bin/env bash
#
# Benchmark: the role's deploy against the naive one, under the same load
# from outside (issue #16). Two runs of playbooks/loadtest.yml at RATE
# requests per second (a new TCP and TLS connection each, from the
# controller through the published port), each at least MIN_SECONDS long:
#
#   1. naive: `docker compose up -d --force-recreate --no-deps django` on the
#      host, the way a hand deploy replaces a container;
#   2. the role: playbooks/deploy.yml -e app_version=NEXT (start-first
#      rollout, drain, health gate).
#
# Prints, for both, the requests sent, the failed ones by kind and p99.
# The host is deployed back to BACK_VERSION at the end (not measured).
#
# Usage (from the repository root, after `make demo`, with .venv):
#   bash benchmarks/zero_downtime.sh
# Tunables: RATE (100), MIN_SECONDS (60), LEAD (10 s of load before and
# after each change), NEXT_VERSION (1.1), BACK_VERSION (1.0),
# HOST_CONTAINER (prodkit-sandbox), PROJECT (myproject), PLAYBOOK_ARGS
# (extra ansible-playbook arguments, e.g. -i INVENTORY), REPORTS
# (.testbed/bench/zero_downtime).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

RATE=${RATE:-100}
MIN_SECONDS=${MIN_SECONDS:-60}
LEAD=${LEAD:-10}
NEXT_VERSION=${NEXT_VERSION:-1.1}
BACK_VERSION=${BACK_VERSION:-1.0}
HOST_CONTAINER=${HOST_CONTAINER:-prodkit-sandbox}
PROJECT=${PROJECT:-myproject}
REPORTS=${REPORTS:-.testbed/bench/zero_downtime}
read -r -a PLAYBOOK_ARGS <<<"${PLAYBOOK_ARGS:-}"
PLAYBOOK=${PLAYBOOK:-.venv/bin/ansible-playbook}

die() { echo "zero_downtime: ERROR: $*" >&2; exit 1; }
log() { echo "zero_downtime: $*" >&2; }

docker inspect "$HOST_CONTAINER" >/dev/null 2>&1 || die "no container $HOST_CONTAINER: run make demo first"
[ -x "$PLAYBOOK" ] || die "$PLAYBOOK not found: make venv"
rm -rf "$REPORTS"
mkdir -p "$REPORTS"
REPORTS=$(cd "$REPORTS" && pwd)

# under_load NAME COMMAND...: steady load, the command after LEAD seconds,
# the load stopped LEAD seconds after it (and not before MIN_SECONDS).
under_load() {
  local name=$1; shift
  local dir=$REPORTS/$name started elapsed rest
  log "$name: starting $RATE req/s"
  "$PLAYBOOK" "${PLAYBOOK_ARGS[@]}" playbooks/loadtest.yml -e mode=steady -e "rate=$RATE" -e duration=900 \
    -e "report_dir=$dir" -e "loadtest_stop_file=$dir/stop" -e loadtest_fail_on_slo=false \
    >"$REPORTS/$name-loadtest.log" 2>&1 &
  local load=$!
  for _ in $(seq 1 120); do
    grep -qs 'All users spawned' "$dir/locust.log" && break
    kill -0 "$load" 2>/dev/null || die "$name: the load test ended early: $REPORTS/$name-loadtest.log"
    sleep 1
  done
  grep -qs 'All users spawned' "$dir/locust.log" || die "$name: the load did not start: $REPORTS/$name-loadtest.log"
  started=$(date +%s)
  sleep "$LEAD"
  log "$name: $*"
  "$@" >"$REPORTS/$name-change.log" 2>&1 || die "$name: the change failed: $REPORTS/$name-change.log"
  sleep "$LEAD"
  elapsed=$(( $(date +%s) - started ))
  rest=$(( MIN_SECONDS - elapsed ))
  [ "$rest" -gt 0 ] && sleep "$rest"
  touch "$dir/stop"
  wait "$load" || die "$name: the load test failed: $REPORTS/$name-loadtest.log"
}

naive() {
  docker exec "$HOST_CONTAINER" docker compose --project-name "$PROJECT" --project-directory "/opt/$PROJECT" \
    --env-file "/opt/$PROJECT/.env" --file "/opt/$PROJECT/docker-compose.yml" up --detach --force-recreate --no-deps django
}

under_load naive naive
under_load role "$PLAYBOOK" "${PLAYBOOK_ARGS[@]}" playbooks/deploy.yml -e "app_version=$NEXT_VERSION"
log "deploying $BACK_VERSION back (not measured)"
"$PLAYBOOK" "${PLAYBOOK_ARGS[@]}" playbooks/deploy.yml -e "app_version=$BACK_VERSION" >"$REPORTS/back.log" 2>&1 \
  || die "the deploy back to $BACK_VERSION failed: $REPORTS/back.log"

python3 - "$REPORTS" "$RATE" <<'EOF'
import json, os, sys
reports, rate = sys.argv[1], sys.argv[2]
print("%-40s %9s %8s %8s  %s" % ("under %s req/s, new connection each" % rate, "requests", "failed", "p99 ms", "failures by kind"))
for name, label in (("naive", "naive: compose up --force-recreate"), ("role", "role: deploy.yml (start-first, drained)")):
    s = json.load(open(os.path.join(reports, name, "summary.json")))
    t = s["totals"]
    kinds = ", ".join("%s %s" % (k, v) for k, v in sorted(t["failures_by_kind"].items())) or "-"
    print("%-40s %9d %8d %8s  %s" % (label, t["requests"], t["failures"], t["p99"], kinds))
EOF
