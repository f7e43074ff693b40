#!/usr/bin/env bash
# `make molecule`: every scenario, MOLECULE_JOBS at a time (default 3). The
# scenarios spend most of their time waiting (apt, dockerd, healthchecks,
# timers), so three lanes cut the stage to about a third on a 2-core machine. Each scenario's
# output goes to .testbed/logs/molecule-<scenario>.log; a failed one's tail
# is printed at the end. Scenarios start longest first (last run's times in
# .testbed/logs/molecule-times, else the order given).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

jobs=${MOLECULE_JOBS:-3}
logs=.testbed/logs
times=$logs/molecule-times
mkdir -p "$logs"

scenarios=("$@")
# Without a times file (a fresh clone, as in CI): the order measured on
# 2026-11-29, longest first, so that no long scenario starts last.
if [ ! -s "$times" ]; then
  printf '%s\n' default zero_downtime compose_stack nginx_certbot backups firewall update docker_host security_baseline modules testbed \
    | awk '{print $1, 1000 - NR}' >"$times"
fi
if [ -s "$times" ]; then
  mapfile -t scenarios < <(for s in "${scenarios[@]}"; do
    printf '%s %s\n' "$(awk -v s="$s" '$1 == s {print $2}' "$times" | tail -n 1 || true)" "$s"
  done | sort -k1,1nr | awk '{print $NF}')
fi

run_one() {
  local s=$1 log=$logs/molecule-$1.log started rc
  started=$(date +%s)
  echo "=== molecule test -s $s (started $(date -u +%H:%M:%S), log: $log)"
  molecule test -s "$s" >"$log" 2>&1
  rc=$?
  local took=$(( $(date +%s) - started ))
  if [ "$rc" -eq 0 ]; then
    echo "=== $s: ok in ${took}s"
  else
    echo "=== $s: FAILED (exit $rc) in ${took}s"
  fi
  printf '%s %s %s\n' "$s" "$took" "$rc" >>"$results"
}
results=$logs/molecule-results
export -f run_one
export logs results

rm -f "$results"
printf '%s\n' "${scenarios[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {}

failed=0
[ -f "$results" ] || { echo "no scenario ran" >&2; exit 1; }
# What failed, in a few lines per scenario (the task and its message), for
# the end of `make test`: CI keeps only the tail of a run's output.
failures=$logs/molecule-failures
: >"$failures"
: >"$failures.short"
awk '{print $1, $2}' "$results" >"$times"
while read -r s took rc; do
  if [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
    printf '\n----- %s failed; last 120 lines of %s -----\n' "$s" "$logs/molecule-$s.log"
    tail -n 120 "$logs/molecule-$s.log"
    {
      printf -- '--- %s (log: %s)\n' "$s" "$logs/molecule-$s.log"
      # The last task that failed (the expected failures of refusal tests come before it).
      sed 's/\x1b\[[0-9;]*m//g' "$logs/molecule-$s.log" | awk '
        { line[NR] = $0 } /^[^a-z]*(fatal|failed): \[/ { last = NR }
        END { if (last) for (i = (last > 12 ? last - 12 : 1); i <= last + 30 && i <= NR; i++) print line[i] }' |
        grep -v -E '^[^a-z]*\*+[^a-z]*$'
      grep -a -E 'Executed: Failed|CRITICAL' "$logs/molecule-$s.log" | sed 's/\x1b\[[0-9;]*m//g' | head -n 3
    } >>"$failures"
    # Three lines per scenario for the very end of `make test`: the task's
    # origin and the first 400 characters of its error.
    sed 's/\x1b\[[0-9;]*m//g; s/^ *│ //' "$logs/molecule-$s.log" | awk -v s="$s" '
      /^\[ERROR\]: Task failed/ { err = $0; origin = "" }
      /^Origin: / && err != "" && origin == "" { origin = $0 }
      /^[^a-z]*(fatal|failed): \[/ { if (err == "") err = $0; last_err = err; last_origin = origin; err = "" }
      END {
        if (last_err == "") { printf "%s: no failed task in the log (the failure is in molecule itself; see its log)\n", s; exit }
        printf "%s: %s\n  %s\n", s, last_origin, substr(last_err, 1, 400)
      }' >>"$failures.short"
  fi
done <"$results"
echo
sort -k2,2nr "$results" | awk '{printf "  %-18s %s  %5ss\n", $1, ($3 == 0 ? "ok    " : "FAILED"), $2}'
ran=$(wc -l <"$results")
[ "$ran" -eq "${#scenarios[@]}" ] || { echo "only $ran of ${#scenarios[@]} scenarios reported" >&2; exit 1; }
echo "scenarios: $((ran - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
