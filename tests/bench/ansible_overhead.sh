#!/usr/bin/env bash
#
# What one task costs on this machine, before any work of the task: a
# playbook of N no-op `file` loop items (a directory that exists), run
#   (a) with the local connection (the controller's own per-item cost:
#       templating, forking, AnsiballZ, the module's python start), and
#   (b) against a throwaway prod-host container over community.docker.docker
#       (what molecule and the sandbox use),
# the container case with and without pipelining, all with become (as the
# roles run). Pipelining makes a module run one `docker exec` instead of five
# (mkdir, put, chmod, run, rm): ansible.cfg and molecule's base config turn it
# on for every connection ([connection] pipelining), not only SSH. The e2e
# scenario's no-op re-run of site.yml is about 285 module runs
# (tools/site_timing.py on its log): multiply.
#
# Usage (from the repository root, after `make images`):
#   bash tests/bench/ansible_overhead.sh            # N=40
#   BENCH_ITEMS=100 bash tests/bench/ansible_overhead.sh
# Prints seconds per item for each; removes the container it started.
set -euo pipefail
cd "$(dirname "$0")/../.."

items=${BENCH_ITEMS:-40}
image=${BENCH_IMAGE:-prodkit-testbed/prodhost-trixie:latest}
name=prodkit-bench-overhead-$$
work=$(mktemp -d)
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_NOCOLOR=1 ANSIBLE_BECOME=True
cleanup() { docker rm --force "$name" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

cat >"$work/play.yml" <<PLAY
- name: No-op items
  hosts: all
  gather_facts: false
  tasks:
    - name: A directory that exists
      ansible.builtin.file:
        path: /tmp
        state: directory
      loop: "{{ range($items) | list }}"
PLAY
cat >"$work/empty.yml" <<'PLAY'
- name: Nothing
  hosts: all
  gather_facts: false
  tasks: []
PLAY

# Wall time of one ansible-playbook run, in seconds.
run() {
  local start end
  start=$(date +%s.%N)
  ansible-playbook "$@" >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

docker run --detach --name "$name" --entrypoint sleep "$image" infinity >/dev/null

echo "items: $items; load: $(cut -d' ' -f1-3 /proc/loadavg); cores: $(nproc)"
for case in local:True community.docker.docker:True community.docker.docker:False; do
  conn=${case%%:*} pipelining=${case##*:}
  if [ "$conn" = local ]; then target=localhost; else target=$name; fi
  export ANSIBLE_PIPELINING=$pipelining
  base=$(run -i "$target," -c "$conn" -e ansible_python_interpreter=/usr/bin/python3 "$work/empty.yml")
  total=$(run -i "$target," -c "$conn" -e ansible_python_interpreter=/usr/bin/python3 "$work/play.yml")
  printf '%-26s pipelining=%-5s %6.2f s per item  (run %.1f s, of which start-up %.1f s)\n' \
    "$conn" "$pipelining" "$(echo "($total - $base) / $items" | bc -l)" "$total" "$base"
done
