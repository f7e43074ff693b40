#!/usr/bin/env bash
# The monitoring role's alert rules, checked and unit-tested (`make rules`):
#   1. render roles/monitoring/templates/prometheus/rules/*.j2 with
#      tests/promtool/vars.yml (the role's defaults) through Ansible's own
#      template module, into a temporary directory (rendered/);
#   2. promtool check rules on every rendered file;
#   3. promtool test rules on tests/promtool/*.test.yml, copied next to
#      rendered/: one test file per rules file (host.test.yml loads
#      rendered/host.rules.yml first, then the other groups whose alerts it
#      names, ...; the layout the molecule scenario uses too). Every rules file but extra.rules.yml (the inventory's groups)
#      must have its test file, and every alert a test file names must be in
#      the rules it loads (else `exp_alerts: []` would pass for a rule that
#      is not there).
# promtool: the test bed's Prometheus image (PROMTOOL_IMAGE, default
# prodkit-testbed/prometheus:latest), the same version the role runs;
# PROMTOOL_LOCAL=1 uses a promtool on PATH instead (quicker while editing).
# Exits non-zero when rendering, a check or a test fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv_bin=${PRODKIT_VENV_BIN:-$repo/.venv/bin}
image=${PROMTOOL_IMAGE:-prodkit-testbed/prometheus:latest}
templates_dir=$repo/roles/monitoring/templates/prometheus/rules
defaults=$repo/roles/monitoring/defaults/main.yml

# Stops with a message and the summary line.
fail() {
  echo "run.sh: $*" >&2
  echo "promtool: not run: $*"
  exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/prodkit-promtool.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Readable by the container's user as well.
chmod 0755 "$work"
mkdir -m 0755 "$work/rendered"

# --- vars.yml must say what the role's defaults say ---------------------------
"$venv_bin/python" - "$here/vars.yml" "$defaults" <<'PY' || fail "tests/promtool/vars.yml is not the role's defaults"
import sys
import yaml

with open(sys.argv[1], encoding="utf-8") as handle:
    wanted = yaml.safe_load(handle)
with open(sys.argv[2], encoding="utf-8") as handle:
    defaults = yaml.safe_load(handle)
drift = [
    "%s: vars.yml %r, defaults %r" % (name, value, defaults.get(name))
    for name, value in wanted.items()
    if not (isinstance(defaults.get(name), str) and "{{" in defaults[name])  # a Jinja default: not comparable
    and defaults.get(name) != value
]
if drift:
    sys.exit("tests/promtool/vars.yml differs from the role's defaults:\n  " + "\n  ".join(drift))
PY

# --- render, as the role does -----------------------------------------------------
shopt -s nullglob
templates=("$templates_dir"/*.yml.j2)
[ "${#templates[@]}" -gt 0 ] || fail "no rule templates in $templates_dir"
for template in "${templates[@]}"; do
  name=$(basename "$template" .j2)
  if ! (cd "$repo" && "$venv_bin/ansible" localhost -i localhost, -c local \
          -m ansible.builtin.template -a "src=$template dest=$work/rendered/$name mode=0644" \
          -e "@$here/vars.yml" -e "ansible_python_interpreter=$venv_bin/python") >"$work/ansible.log" 2>&1; then
    cat "$work/ansible.log" >&2
    fail "rendering $template failed"
  fi
done

tests=()
for test_file in "$here"/*.test.yml; do
  cp "$test_file" "$work/"
  tests+=("$(basename "$test_file")")
done
[ "${#tests[@]}" -gt 0 ] || fail "no *.test.yml in $here"
rendered=()
for file in "$work"/rendered/*.yml; do
  rendered+=("rendered/$(basename "$file")")
done

# --- one test file per rules file; every alert tested is loaded --------------------
"$venv_bin/python" - "$work" <<'PY' || fail "the test files do not match the rules files (above)"
import glob
import os
import sys
import yaml

work = sys.argv[1]
errors = []
rules = {os.path.basename(p)[:-len(".rules.yml")] for p in glob.glob(os.path.join(work, "rendered", "*.rules.yml"))}
tests = {os.path.basename(p)[:-len(".test.yml")] for p in glob.glob(os.path.join(work, "*.test.yml"))}
for name in sorted(rules - tests - {"extra"}):
    errors.append("rendered/%s.rules.yml has no tests/promtool/%s.test.yml" % (name, name))
for name in sorted(tests):
    with open(os.path.join(work, name + ".test.yml"), encoding="utf-8") as handle:
        test = yaml.safe_load(handle)
    if (test.get("rule_files") or [None])[0] != "rendered/%s.rules.yml" % name:
        errors.append("%s.test.yml: the first of rule_files must be rendered/%s.rules.yml, not %s"
                      % (name, name, test.get("rule_files")))
    alerts = set()
    for rule_file in test.get("rule_files") or []:
        path = os.path.join(work, rule_file)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                alerts |= {r["alert"] for g in yaml.safe_load(handle)["groups"] for r in g["rules"] if "alert" in r}
    for case in test.get("tests") or []:
        for check in case.get("alert_rule_test") or []:
            if check["alertname"] not in alerts:
                errors.append("%s.test.yml (%s): alert %s is not in %s"
                              % (name, case.get("name"), check["alertname"], test.get("rule_files")))
if errors:
    sys.exit("\n".join(sorted(set(errors))))
PY

# --- promtool ------------------------------------------------------------------------
if [ -n "${PROMTOOL_LOCAL:-}" ] && command -v promtool >/dev/null 2>&1; then
  promtool_cmd=(promtool)
  echo "promtool: $(command -v promtool), $(promtool --version 2>&1 | head -n 1)"
else
  docker image inspect "$image" >/dev/null 2>&1 ||
    fail "no promtool on PATH and no image $image (make rules builds it)"
  promtool_cmd=(docker run --rm --network none --user "$(id -u):$(id -g)"
                --volume "$work:/t:ro" --workdir /t --entrypoint /bin/promtool "$image")
  echo "promtool: image $image"
fi
run_promtool() {
  (cd "$work" && "${promtool_cmd[@]}" "$@")
}

check_rc=0
run_promtool check rules "${rendered[@]}" || check_rc=$?

# --- Alertmanager: every receiver at once passes amtool check-config ---------------
am_rc=0
am_image=${AMTOOL_IMAGE:-prodkit-testbed/alertmanager:latest}
mkdir -m 0755 "$work/alertmanager" "$work/secrets"
for secret in smtp_password slack_webhook_url telegram_bot_token heartbeat_url; do
  echo placeholder >"$work/secrets/$secret"
done
chmod 0644 "$work"/secrets/*
if ! (cd "$repo" && "$venv_bin/ansible" localhost -i localhost, -c local \
        -m ansible.builtin.template \
        -a "src=$repo/roles/monitoring/templates/alertmanager/alertmanager.yml.j2 dest=$work/alertmanager/alertmanager.yml mode=0644" \
        -e "@$here/receivers.yml" -e "ansible_python_interpreter=$venv_bin/python") >"$work/ansible.log" 2>&1; then
  cat "$work/ansible.log" >&2
  echo "run.sh: rendering alertmanager.yml failed" >&2
  exit 1
fi
docker run --rm --network none --user "$(id -u):$(id -g)" --entrypoint /bin/amtool \
  --volume "$work/alertmanager:/etc/alertmanager:ro" --volume "$work/secrets:/run/prodkit-secrets:ro" \
  "$am_image" check-config /etc/alertmanager/alertmanager.yml || am_rc=$?

test_rc=0
run_promtool test rules "${tests[@]}" 2>&1 | tee "$work/test.log" || test_rc=$?
passed=$(grep -c '^ *SUCCESS *$' "$work/test.log" || true)

if [ "$am_rc" -ne 0 ]; then
  echo "amtool: alertmanager.yml with every receiver (tests/promtool/receivers.yml): FAILED"
  exit 1
fi
if [ "$check_rc" -eq 0 ] && [ "$test_rc" -eq 0 ]; then
  echo "promtool: ${#rendered[@]} rule files ok, $passed test files passed; amtool: alertmanager.yml with every receiver ok"
  exit 0
fi
checked="${#rendered[@]} rule files ok"
[ "$check_rc" -eq 0 ] || checked="check rules FAILED on ${#rendered[@]} rule files"
echo "promtool: $checked, $passed of ${#tests[@]} test files passed: FAILED"
exit 1
