#!/usr/bin/env bash
# `make lint`: the programs the roles install on hosts (roles/*/files) are
# real programs, linted as such: shellcheck for shell (nothing disabled),
# ruff for Python. A host program is any file below roles/*/files that starts
# with a #! line, or ends in .py or .sh.
set -euo pipefail
cd "$(dirname "$0")/.." || exit 1

shell=() python=()
while IFS= read -r -d '' f; do
  first=$(head -c 200 "$f" | head -n 1)
  case $f:$first in
    *.py:* | *:'#!'*python*) python+=("$f") ;;
    *.sh:* | *:'#!'*sh) shell+=("$f") ;;
    *:'#!'*bash* | *:'#!'*/sh\ *) shell+=("$f") ;;
  esac
done < <(find roles/*/files -type f -print0 2>/dev/null | sort -z)

status=0
if [ "${#shell[@]}" -gt 0 ]; then
  if grep -n 'shellcheck disable' "${shell[@]}"; then
    echo "lint-host-programs: a host program disables a shellcheck check (above); fix the code instead" >&2
    status=1
  fi
  shellcheck --severity=style --external-sources "${shell[@]}" || status=1
fi
if [ "${#python[@]}" -gt 0 ]; then
  ruff check --no-cache --target-version py311 "${python[@]}" || status=1
fi
echo "host programs: ${#shell[@]} shell (shellcheck), ${#python[@]} Python (ruff)$([ "$status" -eq 0 ] && echo ', all clean')"
exit "$status"
