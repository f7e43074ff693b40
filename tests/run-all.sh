#!/usr/bin/env bash
# `make test`: every stage runs, even after one fails, so a single run shows
# everything that is broken. Each stage's full output stays in
# .testbed/logs/test-<stage>.log; the summary at the end names the failures.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

read -r -a stages <<<"${TEST_STAGES:-lint sanity unit rules build molecule demo-check}"
mkdir -p .testbed/logs
passed=0 failed=0 summary=()
started_all=$(date +%s)

for stage in "${stages[@]}"; do
  log=.testbed/logs/test-$stage.log
  printf '\n===== %s (%s) =====\n' "$stage" "$(date -u +%H:%M:%S)"
  started=$(date +%s)
  make --no-print-directory "$stage" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  took=$(( $(date +%s) - started ))
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1)); summary+=("$(printf '  %-9s ok      %4ss' "$stage" "$took")")
  else
    failed=$((failed + 1)); summary+=("$(printf '  %-9s FAILED  %4ss  (exit %s, log: %s)' "$stage" "$took" "$rc" "$log")")
  fi
done

printf '\n===== summary (%ss in all) =====\n' "$(( $(date +%s) - started_all ))"
printf '%s\n' "${summary[@]}"
if [ -s .testbed/logs/molecule-failures ] && [[ " ${stages[*]} " == *" molecule "* ]]; then
  printf '\n===== what failed in molecule =====\n'
  cat .testbed/logs/molecule-failures
fi
if [ -s .testbed/logs/molecule-failures.short ] && [[ " ${stages[*]} " == *" molecule "* ]]; then
  printf '\n===== failed molecule tasks, in short =====\n'
  cat .testbed/logs/molecule-failures.short
fi
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
