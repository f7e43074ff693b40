#!/usr/bin/env bash
#
# Benchmark of the prodkit.stack.backups pipeline (issue #7), on this machine:
#   (a) pg_dump -Fc -Z0 inside a postgres container, streamed to restic with
#       --stdin-from-command (as prodkit-backup does), for a database of
#       >= 1 GB (pgbench -i -s 50 plus an "events" table of random text);
#       then again after appending 1 % rows to events (append-mostly day:
#       deduplication keeps most of the dump), and again after 30 s of
#       pgbench (random updates all over pgbench_accounts: the worst case for
#       deduplication); and the per-table count/checksum manifest;
#   (b) a first backup of >= 500 MB of media (random, incompressible files
#       of mixed sizes) and
#   (c) a second one with the media unchanged.
# Prints a table and removes everything it created (container, temp dir).
#
# Usage (from the repository root):  bash tests/bench/backup_bench.sh
# Needs: docker with the image prodkit-testbed/postgres:17, restic >= 0.17,
# python3. Tunables: BENCH_PGBENCH_SCALE (default 70, ~1.05 GB),
# BENCH_MEDIA_MB (default 550), BENCH_IMAGE, BENCH_TMP (parent temp dir).
# Takes about 4-5 minutes on 2 cores.

set -Eeuo pipefail

SCALE=${BENCH_PGBENCH_SCALE:-50}
EVENTS_ROWS=${BENCH_EVENTS_ROWS:-1600000}
MEDIA_MB=${BENCH_MEDIA_MB:-550}
IMAGE=${BENCH_IMAGE:-prodkit-testbed/postgres:17}

die() { echo "backup_bench: ERROR: $*" >&2; exit 1; }
log() { echo "backup_bench: $*" >&2; }

command -v docker >/dev/null || die "docker is not installed"
command -v python3 >/dev/null || die "python3 is not installed"
command -v restic >/dev/null || die "restic is not installed: apt-get install restic (>= 0.17 for --stdin-from-command)"
rv=$(restic version | awk '{ print $2 }')
python3 -c 'import sys; v = tuple(int(x) for x in sys.argv[1].split(".")[:2]); sys.exit(v < (0, 17))' "$rv" \
  || die "restic $rv is too old: --stdin-from-command needs >= 0.17 (Debian trixie has 0.18)"
docker image inspect "$IMAGE" >/dev/null 2>&1 || die "image $IMAGE is missing: build the testbed images first"

WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/prodkit-bench.XXXXXX")
CONTAINER=prodkit-bench-pg-$$
cleanup() {
  local rc=$?
  trap - EXIT
  docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export RESTIC_REPOSITORY=$WORK/repo RESTIC_CACHE_DIR=$WORK/cache
RESTIC_PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export RESTIC_PASSWORD
restic init -q >/dev/null

now() { date +%s.%N; }
elapsed() { python3 -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }
mib() { python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / 1048576))' "$1"; }
# Field of restic backup --json's summary line.
summary() { python3 -c '
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
s = [m for m in s if m.get("message_type") == "summary"][-1]
print(" ".join(str(s[k]) for k in sys.argv[2:]))' "$@"; }
repo_bytes() { du -sb "$RESTIC_REPOSITORY" | awk '{ print $1 }'; }

# --- database -------------------------------------------------------------------
log "starting $IMAGE as $CONTAINER"
docker run -d --name "$CONTAINER" --shm-size 256m \
  -e POSTGRES_USER=app -e POSTGRES_DB=app -e "POSTGRES_PASSWORD=$RESTIC_PASSWORD" \
  "$IMAGE" -c max_wal_size=4GB -c checkpoint_timeout=30min >/dev/null
for _ in $(seq 1 120); do
  # TCP answers only after the entrypoint's initialisation is complete.
  docker exec "$CONTAINER" pg_isready -q -h 127.0.0.1 -U app -d app && break
  sleep 1
done
docker exec "$CONTAINER" pg_isready -q -h 127.0.0.1 -U app -d app || die "postgres did not start: docker logs $CONTAINER"

log "generating the database: pgbench -i -s $SCALE"
t0=$(now)
docker exec "$CONTAINER" pgbench -i -q -s "$SCALE" -U app app >/dev/null 2>&1 || die "pgbench -i failed"
# pgbench's filler is blanks (compresses to nothing): add user-like content.
events_sql() {
  echo "INSERT INTO events (ts, kind, payload)
  SELECT now() - g * interval '1 second', (ARRAY['login','payment','upload','view'])[1 + g % 4],
         md5(random()::text) || ' ' || md5(random()::text) || ' ' || md5(random()::text) || ' ' ||
         md5(random()::text) || ' ' || md5(random()::text) || ' ' || md5(random()::text)
    FROM generate_series(1, $1) g;"
}
{
  echo "CREATE TABLE events (id bigserial PRIMARY KEY, ts timestamptz, kind text, payload text);"
  events_sql "$EVENTS_ROWS"
} | docker exec -i "$CONTAINER" psql -X -q -v ON_ERROR_STOP=1 -U app -d app >/dev/null || die "filling events failed"
t1=$(now)
DB_GEN_S=$(elapsed "$t0" "$t1")
DB_BYTES=$(docker exec "$CONTAINER" psql -X -At -U app -d app -c "SELECT pg_database_size('app')")
log "database: $(mib "$DB_BYTES") MiB in ${DB_GEN_S}s"
DB_ROWS_EVENTS=$EVENTS_ROWS

# shellcheck disable=SC2016 # expanded in the container, exactly as in prodkit-backup
PG_DUMP_SH='exec pg_dump -Fc -Z0 -U "${POSTGRES_USER:-postgres}" -d "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"'
dump_to_restic() {
  restic backup --json --quiet --tag prodkit --tag db --stdin-from-command --stdin-filename bench-db.dump \
    -- docker exec "$CONTAINER" sh -c "$PG_DUMP_SH" >"$1"
}

# One measured dump + store: sets DUMP<n>_S (seconds), DUMP<n>_SIZE / _ADDED /
# _PACKED (restic's summary) and DUMP<n>_REPO (growth of the repository).
measured_dump() {
  local n=$1 r0 t0 t1 size added packed
  r0=$(repo_bytes)
  t0=$(now)
  dump_to_restic "$WORK/db$n.json"
  t1=$(now)
  printf -v "DUMP${n}_S" '%s' "$(elapsed "$t0" "$t1")"
  read -r size added packed < <(summary "$WORK/db$n.json" total_bytes_processed data_added data_added_packed)
  printf -v "DUMP${n}_SIZE" '%s' "$size"
  printf -v "DUMP${n}_ADDED" '%s' "$added"
  printf -v "DUMP${n}_PACKED" '%s' "$packed"
  printf -v "DUMP${n}_REPO" '%s' "$(($(repo_bytes) - r0))"
}

log "(a) dump + store #1"
measured_dump 1

log "(a) append 1 % rows to events, then dump + store #2"
events_sql $((EVENTS_ROWS / 100)) | docker exec -i "$CONTAINER" psql -X -q -v ON_ERROR_STOP=1 -U app -d app >/dev/null
measured_dump 2

log "(a) 30 s of pgbench (random updates), then dump + store #3"
docker exec "$CONTAINER" pgbench -n -c 2 -T 30 -U app app >"$WORK/pgbench.out" 2>&1 || die "pgbench run failed"
PGBENCH_TX=$(awk '/number of transactions actually processed/ { print $NF }' "$WORK/pgbench.out")
measured_dump 3

# The restore drill's manifest: same SQL as prodkit-backup (in one
# repeatable-read transaction there; the cost is the scan + md5 per row).
log "(a'') per-table count + checksum manifest"
t0=$(now)
docker exec -i "$CONTAINER" psql -X -q -A -t -v ON_ERROR_STOP=1 -U app -d app >"$WORK/manifest.tsv" <<'SQL'
SELECT format($q$SELECT concat_ws(E'\t', %L, count(*),
    md5(coalesce(sum(hashtextextended(t, 0)), 0)::text || ':' || coalesce(sum(hashtextextended(t, 1)), 0)::text))
  FROM (SELECT ROW(prodkit_row.*)::text AS t FROM ONLY %s AS prodkit_row) AS prodkit_rows$q$, qname, qname)
  FROM (SELECT format('%I.%I', n.nspname, c.relname) AS qname
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'r' AND n.nspname = 'public') AS t ORDER BY 1 \gexec
SQL
t1=$(now)
MANIFEST_S=$(elapsed "$t0" "$t1")
MANIFEST_ROWS=$(awk -F '\t' '{ n += $2 } END { printf "%d", n }' "$WORK/manifest.tsv")
docker rm -f "$CONTAINER" >/dev/null

# --- media ------------------------------------------------------------------------
log "generating ${MEDIA_MB} MiB of media"
MEDIA=$WORK/media
t0=$(now)
python3 - "$MEDIA" "$MEDIA_MB" <<'PY'
import os, random, sys
root, target = sys.argv[1], int(sys.argv[2]) * 1024 * 1024
rng = random.Random(7)
total = i = 0
while total < target:
    r = rng.random()   # mixed sizes: many thumbnails, some photos, a few videos/PDFs
    size = rng.randint(2_000, 60_000) if r < 0.75 else rng.randint(100_000, 2_500_000) if r < 0.99 else rng.randint(5_000_000, 20_000_000)
    d = os.path.join(root, "uploads", "%04d" % (i // 200))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d.bin" % i), "wb") as f:
        f.write(os.urandom(size))
    total += size
    i += 1
PY
t1=$(now)
MEDIA_FILES=$(find "$MEDIA" -type f | wc -l)
MEDIA_BYTES=$(du -sb "$MEDIA" | awk '{ print $1 }')
log "media: $MEDIA_FILES files, $(mib "$MEDIA_BYTES") MiB in $(elapsed "$t0" "$t1")s"

log "(b) media backup #1"
r0=$(repo_bytes)
t0=$(now)
restic backup --json --quiet --tag prodkit --tag media "$MEDIA" >"$WORK/m1.json"
t1=$(now)
M1_S=$(elapsed "$t0" "$t1")
read -r M1_ADDED M1_PACKED < <(summary "$WORK/m1.json" data_added data_added_packed)
M1_REPO=$(($(repo_bytes) - r0))

log "(c) media backup #2 (unchanged)"
r0=$(repo_bytes)
t0=$(now)
restic backup --json --quiet --tag prodkit --tag media "$MEDIA" >"$WORK/m2.json"
t1=$(now)
M2_S=$(elapsed "$t0" "$t1")
read -r M2_ADDED M2_PACKED M2_UNMOD < <(summary "$WORK/m2.json" data_added data_added_packed files_unmodified)
M2_REPO=$(($(repo_bytes) - r0))

# --- report ----------------------------------------------------------------------------
CORES=$(nproc)
echo
echo "prodkit backups benchmark (restic $rv, $CORES cores)"
echo "database: pgbench scale $SCALE + $DB_ROWS_EVENTS events rows, $(mib "$DB_BYTES") MiB on disk (generated in ${DB_GEN_S}s); media: $MEDIA_FILES files, $(mib "$MEDIA_BYTES") MiB"
printf '%-40s %9s %12s %14s %14s\n' step time_s read_MiB added_MiB repo_grew_MiB
echo "  (added = new data after dedup, before compression; repo_grew = on disk, compressed)"
printf '%-40s %9s %12s %14s %14s\n' "(a) db dump+store #1 (pg_dump -Fc -Z0)" "$DUMP1_S" "$(mib "$DUMP1_SIZE")" "$(mib "$DUMP1_ADDED")" "$(mib "$DUMP1_REPO")"
printf '%-40s %9s %12s %14s %14s\n' "(a) db #2 after +1 % events rows" "$DUMP2_S" "$(mib "$DUMP2_SIZE")" "$(mib "$DUMP2_ADDED")" "$(mib "$DUMP2_REPO")"
printf '%-40s %9s %12s %14s %14s\n' "(a) db #3 after pgbench ($PGBENCH_TX tx)" "$DUMP3_S" "$(mib "$DUMP3_SIZE")" "$(mib "$DUMP3_ADDED")" "$(mib "$DUMP3_REPO")"
printf '%-40s %9s %12s %14s %14s\n' "(a) manifest: $MANIFEST_ROWS rows" "$MANIFEST_S" - - -
printf '%-40s %9s %12s %14s %14s\n' "(b) media backup #1" "$M1_S" "$(mib "$MEDIA_BYTES")" "$(mib "$M1_ADDED")" "$(mib "$M1_REPO")"
printf '%-40s %9s %12s %14s %14s\n' "(c) media backup #2 (unchanged)" "$M2_S" "$(mib "$MEDIA_BYTES")" "$(mib "$M2_ADDED")" "$(mib "$M2_REPO")"
echo "(c) files unmodified (not read again): $M2_UNMOD of $MEDIA_FILES; compressed bytes stored: db #1 $(mib "$DUMP1_PACKED") MiB, db #2 $(mib "$DUMP2_PACKED") MiB, db #3 $(mib "$DUMP3_PACKED") MiB, media #1 $(mib "$M1_PACKED") MiB, media #2 $(mib "$M2_PACKED") MiB"
