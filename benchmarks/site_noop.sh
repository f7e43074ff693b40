#!/usr/bin/env bash
#
# Benchmark: how long site.yml takes on the end-to-end host (issue #17):
# molecule/default's fresh Debian 13 host with Pebble, converged once from
# nothing, then again with nothing to do (no-op, must be changed=0), then in
# check mode. Prints the three times (from the runs' own profile_tasks
# output, tools/site_timing.py), the module runs, and the no-op / first
# converge ratio. The host is removed at the end. Not a test: run it alone
# on the machine, the figures are the machine's.
#
# Usage (from the repository root, after `make images`):
#   bash benchmarks/site_noop.sh                         # as configured (Mitogen)
#   ANSIBLE_STRATEGY=linear bash benchmarks/site_noop.sh # plain Ansible
# Tunables: SCENARIO (default), LOG (.testbed/bench/site_noop-<strategy>.log).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

SCENARIO=${SCENARIO:-default}
strategy=${ANSIBLE_STRATEGY:-mitogen_linear}
LOG=${LOG:-.testbed/bench/site_noop-$strategy.log}
MOLECULE=${MOLECULE:-.venv/bin/molecule}

die() { echo "site_noop: ERROR: $*" >&2; exit 1; }
log() { echo "site_noop: $*" >&2; }

[ -x "$MOLECULE" ] || die "$MOLECULE not found: make venv"
mkdir -p "$(dirname "$LOG")"
: >"$LOG"
trap '"$MOLECULE" destroy -s "$SCENARIO" >>"$LOG" 2>&1 || true' EXIT

export PATH="$PWD/.venv/bin:$PATH" NO_COLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0
for step in destroy create prepare converge idempotence check; do
  log "$step ($strategy)"
  "$MOLECULE" "$step" -s "$SCENARIO" >>"$LOG" 2>&1 || die "molecule $step failed: $LOG"
done

python3 tools/site_timing.py --steps converge,idempotence,check --top 8 "$LOG"
python3 - "$LOG" "$strategy" <<'EOF'
import os, sys
sys.path.insert(0, "tools")
import site_timing
runs = site_timing.parse(open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines())
by_step = {}
for run in runs:
    by_step.setdefault(run.step, run)
first, noop = by_step["converge"].total, by_step["idempotence"].total
print("strategy %s: first converge %.0f s, no-op %.0f s, check %.0f s; no-op / first = %.0f %%"
      % (sys.argv[2], first, noop, by_step["check"].total, 100.0 * noop / first))
EOF
