#!/usr/bin/env bash
# Plant a backup run whose database dump is bad as the newest run in the
# host's restic repository, so that the restore drill has to find it out:
#
#   plant-bad-dump.sh truncated   the latest dump cut to half its size (a disk
#                                 that filled up, a connection that dropped)
#   plant-bad-dump.sh remove      forget the runs this script planted
#
# (An empty dump cannot be planted: restic >= 0.17 refuses to store an empty
# stdin, "no data read", which is also what stops a pg_dump that writes
# nothing; prodkit-backup checks the size as well.)
# The run gets the latest good run's manifest, so only the dump is wrong.
# Everything else is real: restic, prodkit-backup-drill, pg_restore and
# PostgreSQL. Prints the planted run id.
set -euo pipefail
kind=${1:?usage: plant-bad-dump.sh truncated|remove}
env_file=${RESTIC_ENV_FILE:-/etc/prodkit/backups/restic.env}
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a

if [ "$kind" = remove ]; then
  restic snapshots --json --tag prodkit | python3 -c '
import json, sys
for snap in json.load(sys.stdin) or []:
    if any(t.startswith("run:planted-") for t in snap.get("tags") or []):
        print(snap["id"])' | xargs --no-run-if-empty restic forget --quiet
  exit 0
fi
case $kind in truncated) ;; *) echo "unknown kind: $kind" >&2; exit 2 ;; esac

# The newest snapshot of a part: "<id> <path>".
newest() {
  restic snapshots --json --tag "prodkit,$1" | python3 -c '
import json, sys
snaps = sorted(json.load(sys.stdin) or [], key=lambda s: s["time"])
if not snaps:
    sys.exit("no snapshot of part " + sys.argv[1])
print(snaps[-1]["id"], snaps[-1]["paths"][0])' "$1"
}
read -r dump_id dump_path < <(newest db)
read -r manifest_id manifest_path < <(newest db-manifest)

run=planted-$kind-$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
restic dump "$dump_id" "$dump_path" >"$work/dump"
truncate --size=$(( $(stat -c %s "$work/dump") / 2 )) "$work/dump"
restic dump "$manifest_id" "$manifest_path" >"$work/manifest"
restic backup --quiet --tag prodkit --tag db --tag "run:$run" \
  --stdin-from-command --stdin-filename "${dump_path#/}" -- cat "$work/dump"
restic backup --quiet --tag prodkit --tag db-manifest --tag "run:$run" \
  --stdin-from-command --stdin-filename "${manifest_path#/}" -- cat "$work/manifest"
echo "$run"
