"""prodkit-backup: back up, restore and drill the Docker Compose stack with restic.

    prodkit-backup [run] [--json]
    prodkit-backup restore [--snapshot latest|<run id>|<snapshot id>] [--what db|media|redis|both|all]
                           [--from local|offsite] --yes
    prodkit-backup drill [--run <run id>] [--from local|offsite]
    prodkit-backup status [--json]

Installed by prodkit.stack.backups as /usr/local/lib/prodkit/prodkit_backup.py,
run by /usr/local/sbin/prodkit-backup (prodkit-backup.sh) and its links
prodkit-restore (= restore) and prodkit-backup-drill (= drill): the name it
is called by picks the command. Its configuration is the INI file
/etc/prodkit/backups/backup.conf that the role renders (PRODKIT_BACKUP_CONF
names another one); the restic repository and its password are in the
restic environment file the configuration names (mode 0600).

run: parts, each a restic snapshot tagged "prodkit", its part and
"run:<run id>" (the run tag ties the parts of one run together for restore
and drill):
  db           pg_dump -Fc of the application database, run INSIDE the db
               container and streamed to restic (--stdin-from-command).
  db-manifest  per-table row count and checksum, computed in the same
               database snapshot as the dump (see "Consistency" below).
  media        the media volume's directory on the host.
  config       compose file, .env and nginx configuration (only ever into
               the encrypted repository).
  redis        the RDB file after a fresh BGSAVE (the Celery queue and
               whatever else Redis holds); off when no redis service is set.
Then: retention (forget + prune), an optional partial `restic check`, the
off-site copy when one is configured (offsite_env_file: `restic copy` of
every prodkit snapshot into the off-site repository, which is created with
the local one's chunker parameters so that data deduplicates, then the same
retention there), and node-exporter textfile metrics (also on failure). A
failed off-site copy fails the run (exit 1) but leaves the local run
recorded as a success: prodkit-backup-offsite.prom says the off-site part
failed (alert BackupOffsiteFailed), and nothing is deleted off-site before
the copy succeeded. Exit status: 0 on
success, 75 when another run holds the lock, non-zero on any other failure
(the failure metrics are written first).

Opening a repository (local, then off-site) comes first, bounded
  `restic cat config`, which writes and deletes nothing, before anything is
  written to or deleted from the repository. restic (0.18) retries for up to
  15 minutes every backend error it does not know to be permanent, with no
  option to shorten that; an S3 endpoint's InvalidAccessKeyId or
  SignatureDoesNotMatch (the answer to the bucket location request) is such
  an error. So restic's messages are read as they come: the first one that
  says the endpoint refuses the credentials, or lacks the bucket, ends it and
  fails the run with that reason; after open_timeout seconds (default 120)
  it is ended in any case. Secret values of the environment files are masked
  in restic's messages. The copy and retention after it are not bounded.

Consistency of the dump and the manifest
  A psql session is held open inside the db container. It opens a
  REPEATABLE READ READ ONLY transaction and exports its snapshot
  (pg_export_snapshot()); pg_dump runs with --snapshot=<that id>, so the dump
  and the manifest see exactly the same data. The session takes ACCESS SHARE
  locks on all user tables first (as pg_dump does), so a concurrent
  DROP/TRUNCATE/ALTER cannot break or falsify the manifest; ordinary
  INSERT/UPDATE/DELETE keep working. The manifest is computed while pg_dump
  runs; the transaction ends (and the snapshot with it) only after both are
  finished. The checksum of a table is md5 of the exact sums, over its rows,
  of two 64-bit hashes of the row's text (hashtextextended with seeds 0 and
  1): independent of row order, constant memory, no sort, and about twice as
  fast as md5 per row. The hash is PostgreSQL's own (not cryptographic): it
  detects lost, extra or altered rows; the drill computes it on the same
  server (same major version), so the values are comparable.

Why a failed pg_dump leaves no snapshot
  `restic backup --stdin-from-command -- CMD` creates the snapshot only when
  CMD exits 0 (restic >= 0.17: a command that exits non-zero, or a db
  container killed mid-dump, makes restic exit 1 and no snapshot is
  written). A pipeline `pg_dump | restic backup --stdin` would store a
  truncated dump.

Why pg_dump -Z0
  restic compresses (zstd) and, unlike a gzip stream, an uncompressed dump
  deduplicates against the previous days' dumps.

restore: resolve the snapshots; stop the writer services that run (and
remember every service of the project that ran); database: restore into a
new database <db>_restoring first, then end the other sessions of <db>, drop
it and rename the new one (a dump that fails to restore leaves the current
database untouched); media: restic restore of the volume's directory with
--delete (the volume equals the snapshot); redis: stop Redis too, move its
RDB and AOF aside (<dir>/prodkit-before-restore-<time>/, kept), check the
snapshot's RDB with redis-check-rdb, put it in place (and, with appendonly
on, as the base of a new multi-part AOF: Redis ignores an RDB when AOF is
on), start Redis alone and check it holds the RDB's keys before anything
that writes to it starts; start again the services that ran before, also
when the restore failed (then exit non-zero). --what both is db and media,
all is every part the configuration backs up. --from offsite reads the
snapshots from the off-site repository (when the host or its local
repository is lost); --from local (the default) from the local one.

drill: restore the db dump of the newest run that has a dump and a manifest
(or of the given run) into a scratch database <db>_drill inside the db
container (dropped before and after), compute there the per-table row counts
and checksums with the same SQL as the backup, and compare them with the
manifest stored by that run. Prints "drill ok: N tables, M rows", or the
differing tables and exits non-zero. Writes prodkit-backup-drill.prom.

status: the last backup and drill as their metrics files record them;
exit 0 when both last runs succeeded, 1 otherwise.
"""

import configparser
import contextlib
import datetime
import fcntl
import importlib.machinery
import importlib.util
import itertools
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

CONF = "/etc/prodkit/backups/backup.conf"
EOB = "__PRODKIT_END_OF_BATCH__"
MANIFEST_HEADER = "# prodkit-db-manifest v1"
PARTS = ("db", "db-manifest", "media", "config", "redis")
EXIT_LOCKED = 75

# restic's messages that say a repository's endpoint refuses the credentials,
# or that its bucket does not exist. restic 0.18 retries every backend error
# it does not know to be permanent for up to 15 minutes, with no option to
# shorten that; S3's InvalidAccessKeyId and SignatureDoesNotMatch (answered
# to the bucket location request) and NoSuchBucket are such errors. The
# repository check (probe_repository) ends restic at the first of these.
OPEN_PROBLEMS = (
    ("refused", re.compile(r"InvalidAccessKeyId|Access Key Id you provided|SignatureDoesNotMatch|signature we "
                           r"calculated|AccessDenied|Access Denied|InvalidToken|InvalidClientTokenId|\(40[13]\)|"
                           r"\b40[13] (?:Forbidden|Unauthorized)|Permission denied \(publickey", re.I)),
    ("no bucket", re.compile(r"NoSuchBucket|bucket does not exist", re.I)),
)

# psql / pg_dump / pg_restore in the db container, as the container's own
# superuser and database (local socket: trust inside the container). The
# ${...} are expanded by the container's shell.
PSQL_SH = ('exec psql -X -q -A -t -v ON_ERROR_STOP=1 -U "${POSTGRES_USER:-postgres}"'
           ' -d "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"')
PG_DUMP_SH = ('exec pg_dump -Fc -Z0 --snapshot="$1" -U "${POSTGRES_USER:-postgres}"'
              ' -d "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"')
DB_NAME_SH = 'printf %s "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"'
# A maintenance connection (never to the database being replaced), with the
# psql variables db, owner and <var> = the scratch database <db>_<suffix>.
MAINT_PSQL_SH = (
    'db=${POSTGRES_DB:-${POSTGRES_USER:-postgres}}; maint=postgres; [ "$db" != postgres ] || maint=template1\n'
    'PGOPTIONS="-c client_min_messages=warning" exec psql -X -q -A -t -v ON_ERROR_STOP=1'
    ' -U "${POSTGRES_USER:-postgres}" -d "$maint" -v db="$db" -v %s="${db}_%s" -v owner="${POSTGRES_USER:-postgres}"'
)
PG_RESTORE_SH = 'exec pg_restore --exit-on-error -U "${POSTGRES_USER:-postgres}" -d "$1"'
PSQL_DB_SH = 'exec psql -X -q -A -t -v ON_ERROR_STOP=1 -U "${POSTGRES_USER:-postgres}" -d "$1"'
# The password from the file REDIS_PASSWORD_FILE names (prodkit.stack's
# definition), else from REDIS_PASSWORD in the container's environment.
REDIS_CLI_SH = (
    'if [ -n "${REDIS_PASSWORD_FILE:-}" ]; then export REDISCLI_AUTH="$(cat "$REDIS_PASSWORD_FILE")";'
    ' elif [ -n "${REDIS_PASSWORD:-}" ]; then export REDISCLI_AUTH="$REDIS_PASSWORD"; fi;'
    ' exec redis-cli --no-auth-warning "$@"'
)

# The user tables whose data pg_dump stores: ordinary tables (partitions
# included), no temporary tables, no tables of extensions.
TABLES_SQL = r"""SELECT format('%I.%I', n.nspname, c.relname) AS qname
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND c.relpersistence <> 't'
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')"""
SESSION_SQL = """SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';
SET extra_float_digits = 1; SET bytea_output = 'hex';"""
# One line per table: name, row count, checksum (see "Consistency" above).
MANIFEST_SQL = (
    r"""SELECT format($q$SELECT concat_ws(E'\t', %L, count(*),
    md5(coalesce(sum(hashtextextended(t, 0)), 0)::text || ':' || coalesce(sum(hashtextextended(t, 1)), 0)::text))
  FROM (SELECT ROW(prodkit_row.*)::text AS t FROM ONLY %s AS prodkit_row) AS prodkit_rows$q$, qname, qname)
  FROM ("""
    + TABLES_SQL
    + r""") AS t ORDER BY qname COLLATE "C" \gexec"""
)
LOCK_TABLES_SQL = ("SELECT format('LOCK TABLE ONLY %s IN ACCESS SHARE MODE', qname) FROM ("
                   + TABLES_SQL + ") AS t \\gexec")

USAGE = {
    "prodkit-backup": """Usage: prodkit-backup [--json]
Back up the database, media, configuration and (optionally) Redis of the
Compose stack to restic, apply retention, check and write metrics.
  --json   print {"snapshots": {...}, "run": "<run id>"} as the last line
Other commands: prodkit-backup restore|drill|status --help
""",
    "prodkit-restore": """Usage: prodkit-restore [--snapshot latest|<run id>|<snapshot id>]
                       [--what db|media|redis|both|all] [--from local|offsite] --yes
Restore the database, the media volume and/or Redis from restic (see
prodkit-backup). --what both is db and media; all is every part backed up.
--from offsite reads the off-site copy (the local repository is lost).
The writer services (and Redis, for its part) are stopped during the restore
and started again after.
""",
    "prodkit-backup-drill": "Usage: prodkit-backup-drill [--run <run id>] [--from local|offsite]\n",
    "prodkit-backup status": """Usage: prodkit-backup status [--json]
The last backup, restore drill and off-site copy, from their metrics files;
exit 0 when the last runs succeeded, 1 otherwise.
""",
}


class Fail(Exception):
    """A failure with a message for the operator (bash's `die`): exit 1."""


class CommandFailed(Exception):
    """A command failed where the scripts relied on `set -e`: exit with its status."""

    def __init__(self, argv, rc):
        super().__init__("command failed (exit %d): %s" % (rc, shlex.join(str(a) for a in argv)))
        self.rc = rc


class Terminated(Exception):
    def __init__(self, rc):
        super().__init__("terminated")
        self.rc = rc


PROG = "prodkit-backup"


def log(msg):
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sys.stderr.write("%s %s: %s\n" % (stamp, PROG, msg))
    sys.stderr.flush()


def human(n):
    """Bytes as `numfmt --to=iec-i --suffix=B` prints them (rounded up)."""
    value, unit = float(n), ""
    for next_unit in ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"):
        if value < 1024:
            break
        value, unit = value / 1024, next_unit
    if not unit:
        return "%dB" % int(value)
    if value < 10:
        value = -(-value * 10 // 1) / 10
        if value < 10:
            return "%.1f%sB" % (value, unit)
    return "%d%sB" % (-(-value // 1), unit)


def now():
    return int(time.time())


# --- processes ---------------------------------------------------------------


def flush():
    sys.stdout.flush()
    sys.stderr.flush()


def call(argv, check=True, **kwargs):
    """Run a command; its output goes where kwargs say (default: ours)."""
    flush()
    proc = subprocess.run(argv, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise CommandFailed(argv, proc.returncode)
    return proc


def output(argv, check=True, **kwargs):
    """A command's standard output (text); its errors go to ours."""
    return call(argv, check=check, stdout=subprocess.PIPE, text=True, **kwargs).stdout


def to_stderr(argv, check=True):
    """A command whose output is a report for the operator: to our stderr (the journal)."""
    return call(argv, check=check, stdout=sys.stderr)


def pipe(first, second, env=None):
    """first (with env) | second, with bash's pipefail status (the last non-zero one)."""
    flush()
    producer = subprocess.Popen(first, stdout=subprocess.PIPE, env=env)
    consumer = subprocess.Popen(second, stdin=producer.stdout)
    producer.stdout.close()
    rc_consumer, rc_producer = consumer.wait(), producer.wait()
    return rc_consumer or rc_producer


# --- configuration -------------------------------------------------------------


class Config:
    """backup.conf: INI, section [backup]; lists one item a line."""

    LISTS = ("writer_services", "config_paths")
    INTS = ("keep_last", "keep_daily", "keep_weekly", "keep_monthly", "open_timeout")
    DEFAULTS = {
        # Seconds that opening a repository (restic cat config) may take.
        "open_timeout": "120",
        "redis_service": "",
        "media_volume": "",
        "check_subset": "",
        "writer_services": "",
        "config_paths": "",
        "offsite_env_file": "",
        "lock_file": "/run/lock/prodkit-backup.lock",
        "state_dir": "/var/lib/prodkit",
    }
    REQUIRED = ("project", "compose_dir", "db_service", "metrics_dir", "env_file", "cache_dir", "keep_last",
                "keep_daily", "keep_weekly", "keep_monthly")

    def __init__(self, path):
        parser = configparser.ConfigParser(interpolation=None, defaults=self.DEFAULTS)
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle)
        except OSError as exc:
            raise Fail("cannot read %s: apply the prodkit.stack.backups role to this host" % path) from exc
        except configparser.Error as exc:
            raise Fail("%s is not a valid configuration (%s): apply the prodkit.stack.backups role again" % (
                path, str(exc).splitlines()[0])) from exc
        if not parser.has_section("backup"):
            raise Fail("%s has no [backup] section: apply the prodkit.stack.backups role again" % path)
        section = parser["backup"]
        missing = [key for key in self.REQUIRED if key not in section]
        if missing:
            raise Fail("%s lacks %s: apply the prodkit.stack.backups role again" % (path, ", ".join(missing)))
        for key, value in section.items():
            if key in self.LISTS:
                value = [line.strip() for line in value.splitlines() if line.strip()]
            elif key in self.INTS:
                try:
                    value = int(value)
                except ValueError as exc:
                    raise Fail("%s: %s = %r is not a whole number" % (path, key, value)) from exc
            setattr(self, key, value)

    def restic_env(self, source="local"):
        """os.environ plus the restic environment file (as `set -a; . file` read it).

        source "offsite": the off-site repository's file over the local one,
        so that it has the local password unless it sets its own, and the
        local repository as the source of `restic copy` (RESTIC_FROM_*).
        """
        env = dict(os.environ)
        local = read_env_file(self.env_file)
        env.update(local)
        if source == "offsite":
            if not self.offsite_env_file:
                raise Fail("no off-site repository is configured (backups_offsite_repository is empty)")
            env.update(read_env_file(self.offsite_env_file))
            env["RESTIC_FROM_REPOSITORY"] = local.get("RESTIC_REPOSITORY", "")
            env["RESTIC_FROM_PASSWORD"] = local.get("RESTIC_PASSWORD", "")
        env["RESTIC_CACHE_DIR"] = self.cache_dir
        return env


def read_env_file(path):
    """{key: value} of an env file as env_secrets writes it."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise Fail("cannot read the restic environment %s: apply the prodkit.stack.backups role" % path) from exc
    parser = env_file_parser()
    try:
        entries = parser.env_values(parser.parse_env(text))
    except parser.EnvFileError as exc:
        raise Fail("cannot read the restic environment %s: %s" % (path, exc)) from exc
    return {key: line.value for key, line in entries.items() if line.value is not None}


def secret_values(cfg, source="local"):
    """The values restic's messages must never show: those of the restic
    environment files but the repository and cache paths (the password and
    the credentials of backups_repository_env / backups_offsite_repository_env)."""
    values = read_env_file(cfg.env_file)
    if source == "offsite":
        values.update(read_env_file(cfg.offsite_env_file))
    return sorted({v for k, v in values.items() if k not in ("RESTIC_REPOSITORY", "RESTIC_CACHE_DIR") and v},
                  key=len, reverse=True)


def open_bounded(cfg, env, source="local", name="restic repository", env_file=None):
    """Open a repository in bounded time (probe_repository); fail with what to
    fix when the endpoint refuses the credentials, lacks the bucket or does
    not answer within open_timeout. restic's exit status otherwise."""
    env_file = env_file or (cfg.offsite_env_file if source == "offsite" else cfg.env_file)
    where = "the %s %s" % (name, redact(env.get("RESTIC_REPOSITORY")))
    variable = "backups_offsite_repository_env" if source == "offsite" else "backups_repository_env"
    started = time.monotonic()
    rc, problem, error = probe_repository(env, cfg.open_timeout, secret_values(cfg, source))
    if problem == "refused":
        raise Fail("cannot open %s: the endpoint refuses the credentials (%s) after %d s: check the keys in %s "
                   "(%s) and the endpoint in the repository URL; nothing was written or deleted there"
                   % (where, error, time.monotonic() - started, env_file, variable))
    if problem == "no bucket":
        raise Fail("cannot open %s: the bucket does not exist (%s): create it (restic creates the repository "
                   "in it, not the bucket) or fix the repository URL" % (where, error))
    if problem == "timeout":
        raise Fail("cannot open %s: restic did not open it within %d s (backups_open_timeout; its messages are "
                   "above): check the network, the endpoint and the credentials in %s (%s); nothing was written "
                   "or deleted there" % (where, cfg.open_timeout, env_file, variable))
    return rc


def open_to_read(cfg, env, source):
    """restore and drill: the repository opens, in bounded time, before
    anything is stopped or read; never created."""
    name = "off-site repository" if source == "offsite" else "restic repository"
    rc = open_bounded(cfg, env, source, name)
    if rc != 0:
        raise Fail("cannot open the %s %s (restic exit %d; 10 = no repository there, 12 = wrong password, "
                   "11 = locked, 1 = refused credentials or the network): nothing was stopped or restored"
                   % (name, redact(env.get("RESTIC_REPOSITORY")), rc))


def mask(text, hidden):
    for value in hidden:
        text = text.replace(value, "********")
    return text


def probe_repository(env, timeout, hidden=()):
    """`restic cat config` (reads the repository's config file; writes and
    deletes nothing), bounded: (exit status or None, problem, restic's message).

    restic's messages go to our stderr as they come, with the values of
    `hidden` masked. The first that says the endpoint refuses the credentials
    or lacks the bucket (OPEN_PROBLEMS) ends restic at once: problem
    "refused" or "no bucket", status None. Otherwise restic is ended after
    `timeout` seconds (problem "timeout"). A restic that exits by itself:
    its status, and the problem its messages name ("" for none).
    """
    flush()
    proc = subprocess.Popen(["restic", "cat", "config"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, errors="replace")
    found, ended = [], threading.Event()

    def relay():
        for line in proc.stderr:
            # Not what restic says when it is ended ("context canceled", "Is
            # there a repository at ...?"): our message says why.
            if ended.is_set():
                continue
            line = mask(line.rstrip("\n"), hidden)
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
            problem = next((kind for kind, pattern in OPEN_PROBLEMS if pattern.search(line)), None)
            if problem:
                found.append((problem, line))
                ended.set()
                proc.terminate()

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    timed_out = False
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        ended.set()
        proc.terminate()
    finally:
        # Also when we are terminated ourselves: no restic is left behind.
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    reader.join(timeout=5)
    if found:
        problem, line = found[0]
        return None, problem, restic_error(line)
    if timed_out:
        return None, "timeout", ""
    return rc, "", ""


def restic_error(line):
    """The error in a line of restic's (after "retrying after 1.2s: ", "failed: " or "Fatal: ")."""
    match = re.search(r"(?:retrying after [^:]*: |failed: |Fatal: )(.*)$", line)
    return (match.group(1) if match else line).strip()


def redact(repository):
    """A repository URL without its credentials (rest:https://user:pass@host/...)."""
    return re.sub(r"://[^/@]*@", "://***@", repository or "")


# --- shared pieces -------------------------------------------------------------


def env_file_parser():
    """The collection's .env parser (plugins/module_utils/_env_file.py, stdlib only).

    The one reader of env files that env_secrets writes, as Compose reads
    them (quotes, escapes, interpolation). The role installs it next to this
    program; in a checkout it is found where the collection keeps it.
    """
    here = os.path.dirname(os.path.realpath(__file__))
    for directory in (here, os.path.join(here, "..", "..", "..", "plugins", "module_utils")):
        path = os.path.join(directory, "_env_file.py")
        if os.path.isfile(path):
            loader = importlib.machinery.SourceFileLoader("prodkit_env_file", path)
            module = importlib.util.module_from_spec(importlib.util.spec_from_loader("prodkit_env_file", loader))
            loader.exec_module(module)
            return module
    raise Fail("%s/_env_file.py is missing: apply the prodkit.stack.backups role" % here)


def require_root(why=""):
    if os.geteuid() != 0:
        raise Fail("must run as root%s: use sudo" % why)


def open_lock(path):
    # Created as bash's `exec 9>>file` did (umask 077); not inherited by the
    # commands we run (a dying run does not leave its lock to a child).
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)


def try_lock(fd, wait=0.0):
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.5, max(0.01, deadline - time.monotonic())))


def container_of(cfg, service, prog=None):
    """The running container of a compose service, found by Compose's labels."""
    ids = output(["docker", "ps", "-q", "--no-trunc",
                  "--filter", "label=com.docker.compose.project=%s" % cfg.project,
                  "--filter", "label=com.docker.compose.service=%s" % service,
                  "--filter", "status=running"]).split()
    if not ids:
        raise Fail("service '%s' of compose project '%s' has no running container: start it "
                   "(docker compose --project-directory %s up -d %s)"
                   % (service, cfg.project, cfg.compose_dir, service))
    if len(ids) > 1:
        raise Fail("service '%s' runs in several containers; %s expects one" % (service, prog or PROG))
    return ids[0]


def volume_path(volume):
    proc = call(["docker", "volume", "inspect", "-f", "{{.Mountpoint}}", volume],
                check=False, stdout=subprocess.PIPE, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def redis_cli(cid, *args, stderr=None):
    """(exit code, output) of redis-cli in a container; the password, if any,
    from the container's REDIS_PASSWORD_FILE or REDIS_PASSWORD through
    REDISCLI_AUTH (never on a command line)."""
    proc = call(["docker", "exec", cid, "sh", "-c", REDIS_CLI_SH, "redis-cli", *args], check=False,
                stdout=subprocess.PIPE, stderr=stderr, text=True)
    return proc.returncode, proc.stdout.rstrip("\n")


def redis_config(cid, name):
    lines = redis_cli(cid, "CONFIG", "GET", name, stderr=subprocess.DEVNULL)[1].splitlines()
    return lines[1] if len(lines) > 1 else ""


def redis_keys(cid):
    """Keys in all of Redis's databases (INFO keyspace), or None while it does not answer."""
    rc, out = redis_cli(cid, "INFO", "keyspace", stderr=subprocess.DEVNULL)
    if rc != 0 or "# Keyspace" not in out:
        return None
    return sum(int(n) for n in re.findall(r"(?m)^db[0-9]+:keys=([0-9]+)", out))


def maint_psql(cid, var, suffix, sql):
    """SQL on the maintenance connection; psql's output (\\echo) is ours."""
    call(["docker", "exec", "-i", cid, "sh", "-c", MAINT_PSQL_SH % (var, suffix)], input=sql.encode())


def restic_snapshots(env):
    return json.loads(output(["restic", "snapshots", "--json", "--tag", "prodkit"], env=env) or "null") or []


def run_of(snap):
    return next((t[4:] for t in snap.get("tags") or [] if t.startswith("run:")), None)


def part_of(snap):
    tags = snap.get("tags") or []
    return next((p for p in PARTS if p in tags), None)


def runs_by_id(snaps, parts=PARTS):
    """{run id: {part: snapshot}}, the newest snapshot of a part winning."""
    runs = {}
    for snap in sorted(snaps, key=lambda s: s["time"]):
        run, part = run_of(snap), part_of(snap)
        if run and part in parts:
            runs.setdefault(run, {})[part] = snap
    return runs


def update_state(state_dir, name, success):
    """The last success (epoch seconds) kept in <state_dir>/<name>; 0: never."""
    path = os.path.join(state_dir, name)
    stamp = now()
    last_success = 0
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read().strip()
        last_success = int(text) if text.isdigit() else 0
    except OSError:
        pass
    if success:
        last_success = stamp
        os.makedirs(state_dir, exist_ok=True)
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            handle.write("%d\n" % stamp)
        os.replace(path + ".tmp", path)
    return stamp, last_success


def outcome_gauges(state_dir, state, prefix, what, meaning, success):
    """(end of this run, the gauges of its outcome): last run, last success
    (kept in <state_dir>/<state>; 0: never) and success."""
    stamp, last_success = update_state(state_dir, state, success)
    lines = gauge(prefix + "last_run_timestamp_seconds", "End of the last %s." % what, stamp)
    lines += gauge(prefix + "last_success_timestamp_seconds", "End of the last successful %s (0: never)." % what,
                   last_success)
    lines += gauge(prefix + "success", "1 if the last %s %s, else 0." % (what, meaning), int(success))
    return stamp, lines


def write_textfile(metrics_dir, name, lines):
    """node-exporter's textfile collector reads *.prom; written under a name it
    ignores and renamed, so a scrape never sees half a file."""
    os.makedirs(metrics_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % name, dir=metrics_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))
    os.chmod(tmp, 0o644)
    os.replace(tmp, os.path.join(metrics_dir, name))


def gauge(name, help_text, samples):
    """HELP, TYPE and samples ([(labels, value)] or one value) of a gauge."""
    if not isinstance(samples, list):
        samples = [("", samples)]
    return ["# HELP %s %s" % (name, help_text), "# TYPE %s gauge" % name] + [
        "%s%s %s" % (name, labels, value) for labels, value in samples]


# --- run -------------------------------------------------------------------------


class Backup:
    def __init__(self, cfg, env):
        self.cfg, self.env = cfg, env
        self.start = now()
        self.run_id = "%s-%s" % (datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ"),
                                 secrets.token_hex(2))
        self.step = "start"
        self.parts, self.snap, self.added, self.total = [], {}, {}, {}
        self.snapshot_count = self.repo_size = None
        self.offsite_count = None
        self.local_done = False
        self.psql = None
        self.tmp_dir = tempfile.mkdtemp(prefix="prodkit-backup.", dir="/tmp")

    def write_metrics(self, success):
        stamp, lines = outcome_gauges(self.cfg.state_dir, "backup-last-success", "prodkit_backup_",
                                      "prodkit-backup run", "succeeded", success)
        lines += gauge("prodkit_backup_duration_seconds", "Duration of the last run.", stamp - self.start)
        if self.parts:
            lines += gauge("prodkit_backup_size_bytes",
                           "Size of the part as read by the last run (restic total_bytes_processed).",
                           [('{part="%s"}' % p, self.total[p]) for p in self.parts])
            lines += gauge("prodkit_backup_added_bytes",
                           "New data the last run added to the repository for the part (restic data_added).",
                           [('{part="%s"}' % p, self.added[p]) for p in self.parts])
        if self.snapshot_count is not None:
            lines += gauge("prodkit_backup_snapshot_count", "Snapshots tagged prodkit in the repository.",
                           self.snapshot_count)
        if self.repo_size is not None:
            lines += gauge("prodkit_backup_repository_size_bytes",
                           "Size of the repository data (restic stats --mode raw-data).", self.repo_size)
        write_textfile(self.cfg.metrics_dir, "prodkit-backup.prom", lines)

    def cleanup(self, rc):
        # Closing psql's stdin ends it, which rolls back its read-only
        # transaction (also when the run dies half-way).
        if self.psql is not None:
            with contextlib.suppress(OSError):
                self.psql.stdin.close()
            self.psql.wait()
            self.psql = None
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        if rc != 0 and self.local_done:
            # The local run is complete and recorded; only the off-site copy failed.
            log("FAILED in step '%s' (exit %d): the local backup (run %s) is complete, the off-site copy is not"
                % (self.step, rc, self.run_id))
        elif rc != 0:
            try:
                self.write_metrics(False)
            except OSError:
                log("could not write the failure metrics to %s" % self.cfg.metrics_dir)
            log("FAILED in step '%s' (exit %d); run %s made: %s" % (
                self.step, rc, self.run_id, " ".join(self.parts) or "no snapshot"))
        return rc

    def backup_part(self, part, *args):
        """restic backup of one part; records snapshot id, data added and size."""
        self.step = part
        log("backing up %s" % part)
        proc = call(["restic", "backup", "--json", "--quiet", "--tag", "prodkit", "--tag", part,
                     "--tag", "run:%s" % self.run_id, *args],
                    check=False, env=self.env, stdout=subprocess.PIPE, text=True)
        if proc.returncode == 3:
            raise Fail("restic backup of '%s' could not read some files (exit 3): the snapshot is incomplete; "
                       "fix the permissions/paths named above" % part)
        if proc.returncode != 0:
            raise Fail("restic backup of '%s' failed (exit %d); see the messages above" % (part, proc.returncode))
        summary = None
        for line in proc.stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if msg.get("message_type") == "summary":
                    summary = msg
        if not summary or not summary.get("snapshot_id"):
            raise Fail("no summary in the output of restic backup")
        self.snap[part] = summary["snapshot_id"]
        self.added[part] = summary.get("data_added", 0)
        self.total[part] = summary.get("total_bytes_processed", 0)
        self.parts.append(part)
        log("%s: snapshot %s, %s read, %s new" % (part, self.snap[part][:8], human(self.total[part]),
                                                  human(self.added[part])))

    def forget(self, part):
        """Remove the snapshot this run made of a part (a part known to be bad)."""
        call(["restic", "forget", "--quiet", self.snap[part]], env=self.env, stdout=sys.stderr)
        self.parts.remove(part)
        del self.snap[part]

    def open_repository(self, env=None, name="restic repository", env_file=None, init=("init",), source="local"):
        """Open the repository before anything is written to or deleted from
        it, in bounded time (probe_repository); create it only when restic
        says it does not exist."""
        env = self.env if env is None else env
        env_file = env_file or self.cfg.env_file
        where = "the %s %s" % (name, redact(env.get("RESTIC_REPOSITORY")))
        rc = open_bounded(self.cfg, env, source, name, env_file)
        if rc == 10:
            # Exit 10 = "repository does not exist" (restic >= 0.17): the only
            # case in which a repository is created. A wrong password (12), a
            # lock (11), refused credentials or a network error (1) must never
            # lead to a second, empty repository.
            log("the %s does not exist yet: restic %s" % (name, " ".join(init)))
            call(["restic", *init], env=env, stdout=sys.stderr)
        elif rc != 0:
            raise Fail("cannot open %s (restic exit %d; 12 = wrong password, 11 = locked, 1 = refused "
                       "credentials or the network): check RESTIC_REPOSITORY, RESTIC_PASSWORD and the credentials in %s"
                       % (where, rc, env_file))

    def batch(self, sql):
        """Send SQL to the psql session; its output up to the end-of-batch marker."""
        self.psql.stdin.write("%s\n\\echo %s\n" % (sql, EOB))
        self.psql.stdin.flush()
        return self.read_batch("psql in the db container ended unexpectedly (see its error above)")

    def read_batch(self, error):
        lines = []
        while True:
            line = self.psql.stdout.readline()
            if not line:
                raise Fail(error)
            line = line.rstrip("\n")
            if line == EOB:
                return lines
            lines.append(line)

    def database(self):
        self.step = "db"
        cid = container_of(self.cfg, self.cfg.db_service)
        flush()
        self.psql = subprocess.Popen(["docker", "exec", "-i", cid, "sh", "-c", PSQL_SH],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        out = self.batch("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;\n%s\nSELECT pg_export_snapshot();"
                         % SESSION_SQL)
        pg_snapshot = out[-1] if out else ""
        if not re.fullmatch(r"[0-9A-F-]+", pg_snapshot):
            raise Fail("pg_export_snapshot() returned '%s', not a snapshot id" % pg_snapshot)
        db_name = self.batch("SELECT current_database();")[-1]
        self.batch(LOCK_TABLES_SQL)
        # Start the manifest; psql computes it while pg_dump runs. Its output
        # is read after the dump, then the transaction ends.
        self.psql.stdin.write("%s\n\\echo %s\n" % (MANIFEST_SQL, EOB))
        self.psql.stdin.flush()
        self.backup_part("db", "--stdin-from-command", "--stdin-filename", "%s-db.dump" % self.cfg.project,
                         "--", "docker", "exec", cid, "sh", "-c", PG_DUMP_SH, "pg_dump", pg_snapshot)
        if self.total["db"] == 0:
            # A pg_dump that exits 0 with no output (GitLab, 2017: a pg_dump
            # of another major version wrote nothing, for months, unnoticed).
            # Even an empty database dumps to a header of some kilobytes. The
            # empty snapshot goes, so that no run offers it as its dump.
            self.forget("db")
            raise Fail("pg_dump exited 0 but wrote nothing (0 bytes): the empty dump of run %s is removed and the "
                       "previous runs stay the latest good ones; run pg_dump by hand in the '%s' container to see why"
                       % (self.run_id, self.cfg.db_service))

        self.step = "db-manifest"
        manifest = self.read_batch("psql ended while computing the manifest (see its error above)")
        self.batch("COMMIT;")
        self.psql.stdin.close()
        rc = self.psql.wait()
        self.psql = None
        if rc != 0:
            raise Fail("psql in the db container failed")
        path = os.path.join(self.tmp_dir, "manifest.tsv")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("%s\trun=%s\tdb=%s\tpg_snapshot=%s\n" % (MANIFEST_HEADER, self.run_id, db_name, pg_snapshot))
            handle.write("".join(line + "\n" for line in manifest))
        self.backup_part("db-manifest", "--stdin-from-command", "--stdin-filename",
                         "%s-db.manifest.tsv" % self.cfg.project, "--", "cat", path)
        log("db-manifest: %d tables" % len(manifest))

    def media(self):
        self.step = "media"
        path = volume_path(self.cfg.media_volume)
        if path is None:
            raise Fail("docker volume '%s' does not exist: check backups_media_volume (docker volume ls)"
                       % self.cfg.media_volume)
        if not os.path.isdir(path):
            raise Fail("the media volume's directory %s is missing" % path)
        # restic picks the previous media snapshot (same host and path) as
        # parent: unchanged files are not even read again.
        self.backup_part("media", path)

    def config(self):
        self.step = "config"
        for path in self.cfg.config_paths:
            if not os.path.exists(path):
                raise Fail("config path %s does not exist: fix backups_config_paths" % path)
        self.backup_part("config", *self.cfg.config_paths)

    def redis(self):
        self.step = "redis"
        cid = container_of(self.cfg, self.cfg.redis_service)
        rc, before = redis_cli(cid, "LASTSAVE")
        if rc != 0:
            raise Fail("redis-cli LASTSAVE failed in service %s (password? REDIS_PASSWORD_FILE or REDIS_PASSWORD in "
                       "its environment)"
                       % self.cfg.redis_service)
        if not before.isdigit():
            raise Fail("redis LASTSAVE answered '%s': is REDIS_PASSWORD_FILE or REDIS_PASSWORD set in the redis "
                       "container's environment?"
                       % before)
        # LASTSAVE has a resolution of one second: make sure ours can differ.
        if int(before) >= now():
            time.sleep(1)
        for i in itertools.count():
            reply = redis_cli(cid, "BGSAVE", "SCHEDULE", stderr=subprocess.STDOUT)[1]
            if "started" in reply or "scheduled" in reply:
                break
            if "already in progress" not in reply:
                raise Fail("redis BGSAVE failed: %s" % reply)
            if i >= 600:
                raise Fail("a redis background save has been running for 10 minutes")
            time.sleep(1)
        for i in itertools.count():
            rc, last = redis_cli(cid, "LASTSAVE")
            if rc != 0:
                raise CommandFailed(["redis-cli", "LASTSAVE"], rc)
            if last != before:
                break
            if i >= 1800:
                raise Fail("redis BGSAVE did not finish within 30 minutes")
            time.sleep(1)
        if not re.search(r"(?m)^rdb_last_bgsave_status:ok", redis_cli(cid, "INFO", "persistence")[1]):
            raise Fail("redis BGSAVE failed (INFO persistence: rdb_last_bgsave_status is not ok): check the redis log "
                       "and disk space")

        rdb = "%s/%s" % (redis_config(cid, "dir") or "/data", redis_config(cid, "dbfilename") or "dump.rdb")
        self.backup_part("redis", "--stdin-from-command", "--stdin-filename", "%s-redis.rdb" % self.cfg.project,
                         "--", "docker", "exec", cid, "cat", rdb)

    def retention(self, env=None):
        # Per part: each snapshot carries a unique run:<id> tag, so grouping
        # by tags would put every snapshot in a group of its own and never
        # forget anything. Selecting the part's snapshots by tag and grouping
        # by host applies the policy to each part separately.
        env = self.env if env is None else env
        parts = ["db", "db-manifest"]
        parts += ["media"] if self.cfg.media_volume else []
        parts += ["config"] if self.cfg.config_paths else []
        parts += ["redis"] if self.cfg.redis_service else []
        cfg = self.cfg
        for part in parts:
            call(["restic", "forget", "--quiet", "--tag", "prodkit,%s" % part, "--group-by", "host",
                  "--keep-last", str(cfg.keep_last), "--keep-daily", str(cfg.keep_daily),
                  "--keep-weekly", str(cfg.keep_weekly), "--keep-monthly", str(cfg.keep_monthly)],
                 env=env, stdout=sys.stderr)
        log("pruning unreferenced data")
        call(["restic", "prune", "--quiet"], env=env, stdout=sys.stderr)

    def offsite(self):
        """Copy every prodkit snapshot the off-site repository lacks, then apply
        the retention there. Nothing is forgotten off-site unless the copy
        succeeded."""
        self.step = "offsite"
        env = self.cfg.restic_env("offsite")
        log("off-site copy to %s" % redact(env.get("RESTIC_REPOSITORY")))
        self.open_repository(env, "off-site repository", self.cfg.offsite_env_file,
                             ("init", "--copy-chunker-params"), source="offsite")
        proc = call(["restic", "copy", "--quiet", "--tag", "prodkit"], check=False, env=env, stdout=sys.stderr)
        if proc.returncode != 0:
            raise Fail("restic copy to the off-site repository %s failed (exit %d; see its messages above); nothing "
                       "was deleted there, and the next run copies what is missing"
                       % (redact(env.get("RESTIC_REPOSITORY")), proc.returncode))
        self.step = "offsite retention"
        self.retention(env)
        self.offsite_count = len(restic_snapshots(env))
        log("off-site: %d snapshots" % self.offsite_count)

    def write_offsite_metrics(self, success):
        lines = outcome_gauges(self.cfg.state_dir, "offsite-last-success", "prodkit_backup_offsite_",
                               "off-site copy", "succeeded", success)[1]
        if self.offsite_count is not None:
            lines += gauge("prodkit_backup_offsite_snapshot_count",
                           "Snapshots tagged prodkit in the off-site repository.", self.offsite_count)
        write_textfile(self.cfg.metrics_dir, "prodkit-backup-offsite.prom", lines)

    def check(self):
        self.step = "check"
        subset = self.cfg.check_subset
        log("restic check --read-data-subset=%s" % subset)
        if call(["restic", "check", "--read-data-subset=%s" % subset], check=False, env=self.env,
                stdout=sys.stderr).returncode != 0:
            raise Fail("restic check found a problem in the repository: run 'restic check' by hand and see "
                       "https://restic.readthedocs.io/en/stable/077_troubleshooting.html")

    def finish(self, as_json):
        self.step = "metrics"
        self.snapshot_count = len(restic_snapshots(self.env))
        proc = call(["restic", "stats", "--json", "--mode", "raw-data"], check=False, env=self.env,
                    stdout=subprocess.PIPE, text=True)
        try:
            if proc.returncode != 0:
                raise ValueError(proc.returncode)
            self.repo_size = json.loads(proc.stdout)["total_size"]
        except (ValueError, KeyError, TypeError):
            log("warning: restic stats failed; prodkit_backup_repository_size_bytes is left out")
        self.write_metrics(True)
        print("prodkit-backup ok: run %s in %d s, %d snapshots in the repository" % (
            self.run_id, now() - self.start, self.snapshot_count))
        for part in self.parts:
            print("  %-12s %s  %10s  (+%s new)"
                  % (part, self.snap[part][:8], human(self.total[part]), human(self.added[part])))
        if as_json:
            print(json.dumps({"snapshots": {p: self.snap[p] for p in self.parts}, "run": self.run_id}))

    def run(self, as_json):
        self.step = "repository"
        self.open_repository()
        log("run %s" % self.run_id)
        self.database()
        if self.cfg.media_volume:
            self.media()
        if self.cfg.config_paths:
            self.config()
        if self.cfg.redis_service:
            self.redis()
        self.step = "retention"
        self.retention()
        if self.cfg.check_subset:
            self.check()
        self.finish(as_json)
        if self.cfg.offsite_env_file:
            self.local_done = True
            try:
                self.offsite()
            except (Fail, CommandFailed):
                self.write_offsite_metrics(False)
                raise
            self.write_offsite_metrics(True)
            self.step = "done"


def guarded(action, finish):
    """action() -> exit status, failures mapped to theirs as the bash scripts
    did (a message: 1; a command under `set -e`: its status; SIGTERM: 143;
    SIGINT: 130); finish(status) -> the final status, run in every case."""
    rc = 1
    try:
        rc = action() or 0
    except Fail as exc:
        log("ERROR: %s" % exc)
    except CommandFailed as exc:
        log(str(exc))
        rc = exc.rc
    except Terminated as exc:
        rc = exc.rc
    except KeyboardInterrupt:
        rc = 130
    except OSError as exc:
        log("ERROR: %s" % exc)
    finally:
        rc = finish(rc)
    return rc


def restic_environment(cfg):
    env = cfg.restic_env()
    if not (env.get("RESTIC_REPOSITORY") or env.get("RESTIC_REPOSITORY_FILE")):
        raise Fail("RESTIC_REPOSITORY is not set in %s: set backups_repository" % cfg.env_file)
    if not (env.get("RESTIC_PASSWORD") or env.get("RESTIC_PASSWORD_FILE") or env.get("RESTIC_PASSWORD_COMMAND")):
        raise Fail("RESTIC_PASSWORD is not set in %s: set the repository password" % cfg.env_file)
    if shutil.which("restic", path=env.get("PATH")) is None:
        raise Fail("restic is not installed: apt-get install restic")
    return env


def usage_error(name, arg):
    sys.stderr.write(USAGE[name])
    raise Fail("unknown argument '%s'" % arg)


def json_option(argv, name):
    """The arguments of run and status: True/False for --json, None for --help (printed)."""
    as_json = False
    for arg in argv:
        if arg == "--json":
            as_json = True
        elif arg in ("-h", "--help"):
            sys.stdout.write(USAGE[name])
            return None
        else:
            usage_error(name, arg)
    return as_json


def cmd_run(argv):
    as_json = json_option(argv, "prodkit-backup")
    if as_json is None:
        return 0
    require_root(" (it reads the restic secrets and Docker volumes)")
    cfg = Config(config_path())
    # One run at a time (also excludes restore and drill). The lock is taken
    # before the failure metrics can be written: a refused run must not
    # overwrite the metrics of the run that is in progress.
    lock = open_lock(cfg.lock_file)
    if not try_lock(lock):
        log("ERROR: another prodkit-backup, prodkit-restore or prodkit-backup-drill is running (lock %s is held); "
            "wait for it to finish and retry" % cfg.lock_file)
        return EXIT_LOCKED
    env = restic_environment(cfg)
    backup = Backup(cfg, env)
    return guarded(lambda: backup.run(as_json), backup.cleanup)


# --- restore -------------------------------------------------------------------


def resolve_restore(snaps, selector, parts):
    """(run id, {part: snapshot}) of the run asked for; Fail's text says why not."""
    selector = selector.removeprefix("run:")
    runs = runs_by_id(snaps)
    if selector == "latest":
        candidates = [r for r in runs if all(p in runs[r] for p in parts)]
        if not candidates:
            raise Fail("no run has snapshots of all of: %s" % ", ".join(parts))
        run = max(candidates, key=lambda r: max(s["time"] for s in runs[r].values()))
    elif selector in runs:
        run = selector
    else:
        hits = [s for s in snaps if s["id"].startswith(selector.lower())]
        if len(hits) != 1 or not run_of(hits[0]):
            raise Fail("'%s' is neither a run id nor a prodkit snapshot id (%d snapshots match)"
                       % (selector, len(hits)))
        run = run_of(hits[0])
    missing = [p for p in parts if p not in runs[run]]
    if missing:
        raise Fail("run %s has no snapshot of: %s" % (run, ", ".join(missing)))
    return run, {p: runs[run][p] for p in parts}


def go_file_mode(mode):
    """Go's os.FileMode (restic ls --json) as a chmod mode."""
    return ((mode & 0o777) | (0o4000 if mode & (1 << 23) else 0) | (0o2000 if mode & (1 << 22) else 0)
            | (0o1000 if mode & (1 << 20) else 0))


def rfc3339_ns(text):
    """A Go RFC 3339 time (nanoseconds) as nanoseconds since the epoch."""
    match = re.fullmatch(r"(.+T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if not match:
        raise ValueError("not an RFC 3339 time: %r" % text)
    zone = "+00:00" if match[3] == "Z" else match[3]
    seconds = int(datetime.datetime.fromisoformat(match[1] + zone).timestamp())
    return seconds * 10**9 + int((match[2] or "0").ljust(9, "0")[:9])


REDIS_SETTINGS = ("dir", "dbfilename", "appendonly", "appenddirname", "appendfilename")


def rdb_check(text):
    """(keys, keys with an expiry, already expired) from redis-check-rdb's
    report, or None when it does not say the RDB is good."""
    if "RDB looks OK" not in text:
        return None
    counts = [re.search(r"\[info\] ([0-9]+) %s" % what, text) for what in ("keys read", "expires", "already expired")]
    if not all(counts):
        return None
    return tuple(int(m.group(1)) for m in counts)


class Restore:
    def __init__(self, cfg, env, parts):
        self.cfg, self.env, self.parts = cfg, env, parts
        self.stopped = False
        self.ran_before = []
        self.restored = []
        self.redis_aside = None

    def compose(self, *args):
        return ["docker", "compose", "--project-name", self.cfg.project, "--project-directory", self.cfg.compose_dir,
                *args]

    def running_services(self):
        """Services of the project with a running container (from Compose's labels)."""
        out = output(["docker", "ps", "--filter", "label=com.docker.compose.project=%s" % self.cfg.project,
                      "--filter", "status=running", "--format", '{{.Label "com.docker.compose.service"}}'])
        return sorted({line for line in out.splitlines() if line})

    def restart_services(self):
        """Start again every service that ran before and does not run now
        (Compose may also have stopped services that depend on a writer)."""
        running = self.running_services()
        missing = [svc for svc in self.ran_before if svc not in running]
        if not missing:
            return True
        log("starting again: %s" % " ".join(missing))
        if call(self.compose("start", *missing), check=False, stdout=sys.stderr).returncode != 0:
            log("ERROR: could not start %s: start them by hand (cd %s && docker compose up -d)" % (
                " ".join(missing), self.cfg.compose_dir))
            return False
        return True

    def run(self, selector):
        cfg = self.cfg
        log("resolving snapshot '%s' for: %s" % (selector, " ".join(self.parts)))
        proc = call(["restic", "snapshots", "--json", "--tag", "prodkit"], check=False, env=self.env,
                    stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise Fail("cannot list the snapshots (restic exit %d): check %s and the network" % (
                proc.returncode, cfg.env_file))
        try:
            run, snaps = resolve_restore(json.loads(proc.stdout or "null") or [], selector, self.parts)
        except Fail as exc:
            sys.stderr.write("%s\n" % exc)
            raise Fail("cannot resolve --snapshot '%s' (see above): list the runs with "
                       "'restic snapshots --tag prodkit'" % selector) from exc
        for part in self.parts:
            snap = snaps[part]
            log("  %s: snapshot %s of %s (%s)" % (part, snap["id"][:8], snap["time"], snap["paths"][0]))
        log("restoring run %s" % run)

        # Check what we need before stopping anything.
        db_cid = media_path = db_name = redis = None
        if "db" in snaps:
            db_cid = container_of(cfg, cfg.db_service, "prodkit-restore")
        if "media" in snaps:
            media_path = volume_path(cfg.media_volume)
            if media_path is None:
                raise Fail("docker volume '%s' does not exist: create it (docker compose up --no-start) and retry"
                           % cfg.media_volume)
        if "redis" in snaps:
            redis = self.redis_target()

        # Stop the writers.
        self.ran_before = self.running_services()
        to_stop = [svc for svc in cfg.writer_services if svc in self.ran_before]
        self.stopped = True
        if to_stop:
            log("stopping the writer services: %s" % " ".join(to_stop))
            call(self.compose("stop", *to_stop), stdout=sys.stderr)
        if redis:
            # After its writers: what they wrote last is saved on its shutdown
            # (and moved aside with the rest).
            log("stopping %s" % cfg.redis_service)
            call(self.compose("stop", cfg.redis_service), stdout=sys.stderr)

        if "db" in snaps:
            db_name = self.database(db_cid, snaps["db"])
        if "media" in snaps:
            self.media(media_path, snaps["media"])
        if redis:
            redis["keys"] = self.redis(redis, snaps["redis"])

        if not self.restart_services():
            raise Fail("the restore itself succeeded (%s), but services did not start again" % " ".join(self.restored))
        self.stopped = False

        print("prodkit-restore ok: run %s" % run)
        for part in self.parts:
            if part == "db":
                print("  db     snapshot %s -> database %s (container of service %s)" % (
                    snaps["db"]["id"][:8], db_name, cfg.db_service))
            elif part == "media":
                print("  media  snapshot %s -> volume %s (%s)"
                      % (snaps["media"]["id"][:8], cfg.media_volume, media_path))
            else:
                print("  redis  snapshot %s -> %s/%s%s, %d keys (the files it had: %s)" % (
                    snaps["redis"]["id"][:8], redis["path"], redis["dbfilename"],
                    " and a new AOF" if redis["appendonly"] == "yes" else "", redis["keys"], self.redis_aside))
        print("  writer services stopped during the restore and started again: %s" % (" ".join(to_stop) or "none"))

    def redis_target(self):
        """Where Redis keeps its data, asked of the running Redis before anything stops."""
        cfg = self.cfg
        cid = container_of(cfg, cfg.redis_service, "prodkit-restore")
        target = {name: redis_config(cid, name) for name in REDIS_SETTINGS}
        if not target["dir"] or not target["dbfilename"]:
            raise Fail("redis-cli CONFIG GET dir gave nothing in service %s: is REDIS_PASSWORD_FILE or "
                       "REDIS_PASSWORD set in its environment?" % cfg.redis_service)
        version = re.search(r"(?m)^redis_version:([0-9]+)\.", redis_cli(cid, "INFO", "server")[1])
        if target["appendonly"] == "yes" and not (version and int(version.group(1)) >= 7):
            raise Fail("service %s runs Redis with appendonly before 7.0 (one AOF file): this restore writes a "
                       "multi-part AOF; restore the RDB by hand with appendonly off" % cfg.redis_service)
        if target["appendonly"] == "yes" and not (target["appenddirname"] and target["appendfilename"]):
            raise Fail("redis-cli CONFIG GET appenddirname/appendfilename gave nothing in service %s"
                       % cfg.redis_service)
        mounts = json.loads(output(["docker", "inspect", "--format", "{{json .Mounts}}", cid]) or "[]") or []
        mount = next((m for m in mounts if m.get("Destination") == target["dir"]), None)
        if not mount or not mount.get("Source") or not os.path.isdir(mount["Source"]):
            raise Fail("Redis's dir %s in service %s is not a volume on this host: nothing to restore into"
                       % (target["dir"], cfg.redis_service))
        target["path"] = mount["Source"]
        return target

    def redis(self, target, snap):
        """Put the snapshot's RDB in place of Redis's data (Redis is stopped);
        returns the number of keys Redis holds once started again."""
        path, cfg = target["path"], self.cfg
        rdb = os.path.join(path, target["dbfilename"])
        aof_dir = os.path.join(path, target["appenddirname"]) if target["appendonly"] == "yes" else None
        owner = os.stat(path)
        # What Redis had goes aside, never away.
        aside = os.path.join(path, "prodkit-before-restore-%s" % datetime.datetime.now(datetime.UTC).strftime(
            "%Y%m%dT%H%M%SZ"))
        names = [n for n in (target["dbfilename"], target["appenddirname"]) if n
                 and os.path.lexists(os.path.join(path, n))]
        os.mkdir(aside, 0o700)
        for name in names:
            os.rename(os.path.join(path, name), os.path.join(aside, name))
        self.redis_aside = aside
        log("redis: what it had (%s) moved aside to %s" % (" ".join(names) or "nothing", aside))
        try:
            log("redis: writing the RDB of snapshot %s to %s" % (snap["id"][:8], rdb))
            with open(rdb, "wb") as handle:
                call(["restic", "dump", snap["id"], snap["paths"][0]], env=self.env, stdout=handle)
            os.chown(rdb, owner.st_uid, owner.st_gid)
            os.chmod(rdb, 0o600)
            proc = call(self.compose("run", "--rm", "--no-deps", "-T", "--entrypoint", "redis-check-rdb",
                                     cfg.redis_service, "%s/%s" % (target["dir"], target["dbfilename"])),
                        check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            counts = rdb_check(proc.stdout) if proc.returncode == 0 else None
            if counts is None:
                sys.stderr.write(proc.stdout[-2000:])
                raise Fail("redis-check-rdb refuses the RDB of snapshot %s (see above): Redis keeps its data"
                           % snap["id"][:8])
            if aof_dir:
                # With appendonly on, Redis loads the AOF and ignores an RDB:
                # the RDB becomes the base of a new multi-part AOF (Redis >= 7).
                base = "%s.1.base.rdb" % target["appendfilename"]
                os.mkdir(aof_dir, 0o755)
                shutil.copyfile(rdb, os.path.join(aof_dir, base))
                with open(os.path.join(aof_dir, "%s.manifest" % target["appendfilename"]), "w",
                          encoding="utf-8") as handle:
                    handle.write("file %s seq 1 type b\n" % base)
                for name in [aof_dir] + [os.path.join(aof_dir, n) for n in os.listdir(aof_dir)]:
                    os.chown(name, owner.st_uid, owner.st_gid)
                    if name != aof_dir:
                        os.chmod(name, 0o600)
        except (Fail, CommandFailed, OSError):
            self.redis_put_back(path, rdb, aof_dir, names)
            raise
        self.restored.append("redis")
        return self.start_redis(*counts)

    def redis_put_back(self, path, rdb, aof_dir, names):
        log("redis: putting back what it had")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(rdb)
        if aof_dir:
            shutil.rmtree(aof_dir, ignore_errors=True)
        for name in names:
            os.rename(os.path.join(self.redis_aside, name), os.path.join(path, name))
        os.rmdir(self.redis_aside)
        self.redis_aside = None

    def start_redis(self, keys, expiring, expired):
        """Start Redis alone and check it holds the RDB's keys, before its writers start."""
        cfg = self.cfg
        call(self.compose("start", cfg.redis_service), stdout=sys.stderr)
        cid = container_of(cfg, cfg.redis_service, "prodkit-restore")
        for _second in range(300):
            held = redis_keys(cid)
            if held is not None:
                break
            time.sleep(1)
        else:
            raise Fail("Redis did not answer within 5 minutes of its start (docker compose logs %s)"
                       % cfg.redis_service)
        # Keys with an expiry time may expire between the check and the load;
        # keys already expired in the RDB may still be loaded (Redis drops
        # them at load from an RDB, but not always from an AOF base).
        if not keys - expiring - expired <= held <= keys:
            raise Fail("Redis holds %d keys after the restore, but the RDB has %d (%d with an expiry time): it did "
                       "not load the restored data; what it had is in %s" % (held, keys, expiring, self.redis_aside))
        log("redis: %d keys loaded (the RDB has %d, %d of them with an expiry time)" % (held, keys, expiring))
        return held

    def database(self, cid, snap):
        db_name = output(["docker", "exec", cid, "sh", "-c", DB_NAME_SH])
        log("restoring the database '%s' from snapshot %s into '%s_restoring'" % (db_name, snap["id"][:8], db_name))
        maint_psql(cid, "tmp", "restoring", 'DROP DATABASE IF EXISTS :"tmp" WITH (FORCE);\n'
                               'CREATE DATABASE :"tmp" OWNER :"owner" TEMPLATE template0;\n')
        rc = pipe(["restic", "dump", snap["id"], snap["paths"][0]],
                  ["docker", "exec", "-i", cid, "sh", "-c", PG_RESTORE_SH, "pg_restore", db_name + "_restoring"],
                  env=self.env)
        if rc != 0:
            with contextlib.suppress(CommandFailed):
                maint_psql(cid, "tmp", "restoring", 'DROP DATABASE IF EXISTS :"tmp" WITH (FORCE);\n')
            raise Fail("pg_restore failed (see above); the database '%s' was NOT changed" % db_name)
        # The classic "database is being accessed by other users": end every
        # other session of the database (workers not in
        # backups_writer_services, an exporter, a psql left open), then drop
        # it; WITH (FORCE) also ends the sessions that reconnect in between.
        log("ending the other sessions of '%s' and replacing it" % db_name)
        maint_psql(cid, "tmp", "restoring",
                   "SELECT count(pg_terminate_backend(pid)) AS terminated FROM pg_stat_activity\n"
                   "  WHERE datname = :'db' AND pid <> pg_backend_pid() \\gset\n"
                   "\\echo ended :terminated session(s)\n"
                   'DROP DATABASE IF EXISTS :"db" WITH (FORCE);\n'
                   'ALTER DATABASE :"tmp" RENAME TO :"db";\n')
        self.restored.append("db")
        return db_name

    def media(self, path, snap):
        # "<id>:<path>" restores just the volume's directory of the snapshot
        # into the volume's (current) directory; --delete then removes what
        # the snapshot does not have, only below that directory.
        src = snap["paths"][0]
        log("restoring the media volume '%s' (%s) from snapshot %s" % (self.cfg.media_volume, path, snap["id"][:8]))
        call(["restic", "restore", "%s:%s" % (snap["id"], src), "--target", path, "--delete"], env=self.env,
             stdout=sys.stderr)
        # The subfolder form does not apply the metadata of the folder itself:
        # owner, mode and mtime of the volume's root come from its snapshot node.
        proc = call(["restic", "ls", "--json", snap["id"], src], check=False, env=self.env,
                    stdout=subprocess.PIPE, text=True)
        root = None
        try:
            if proc.returncode != 0:
                raise ValueError(proc.returncode)
            for line in proc.stdout.splitlines():
                node = json.loads(line)
                if node.get("struct_type") == "node" and node.get("path") == src and node.get("type") == "dir":
                    root = (node["uid"], node["gid"], go_file_mode(node["mode"]), rfc3339_ns(node["mtime"]))
                    break
        except (ValueError, KeyError, TypeError) as exc:
            raise Fail("cannot read the metadata of %s in snapshot %s" % (src, snap["id"][:8])) from exc
        if root:
            uid, gid, mode, mtime_ns = root
            os.chown(path, uid, gid)
            current = os.stat(path)
            if not mode & 0o7000:
                # as chmod(1) with an octal mode: a directory keeps its set-id bits
                mode |= current.st_mode & 0o6000
            os.chmod(path, mode)
            os.utime(path, ns=(current.st_atime_ns, mtime_ns))
        self.restored.append("media")


def cmd_restore(argv):
    selector, what, yes, source = "latest", "both", False, "local"
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("--snapshot", "--what", "--from"):
            if not args:
                raise Fail("%s needs a value" % arg)
            value = args.pop(0)
            if arg == "--snapshot":
                selector = value
            elif arg == "--what":
                what = value
            else:
                source = value
        elif arg.startswith("--snapshot="):
            selector = arg.split("=", 1)[1]
        elif arg.startswith("--what="):
            what = arg.split("=", 1)[1]
        elif arg.startswith("--from="):
            source = arg.split("=", 1)[1]
        elif arg == "--yes":
            yes = True
        elif arg in ("-h", "--help"):
            sys.stdout.write(USAGE["prodkit-restore"])
            return 0
        else:
            usage_error("prodkit-restore", arg)
    if what not in ("db", "media", "redis", "both", "all"):
        raise Fail("--what must be db, media, redis, both (db and media) or all, not '%s'" % what)
    if source not in ("local", "offsite"):
        raise Fail("--from must be local or offsite, not '%s'" % source)
    if not re.fullmatch(r"[A-Za-z0-9:._-]+", selector):
        raise Fail("--snapshot '%s' is not a run id or snapshot id" % selector)
    if not yes:
        sys.stderr.write(USAGE["prodkit-restore"])
        raise Fail("refusing to restore without --yes: this replaces the current %s of the stack"
                   % {"both": "database and media", "all": "data"}.get(what, what))
    require_root()
    cfg = Config(config_path())
    if what in ("media", "both") and not cfg.media_volume:
        raise Fail("no media volume is configured (backups_media_volume is empty): use --what db")
    if what == "redis" and not cfg.redis_service:
        raise Fail("no redis service is configured (backups_redis_service is empty): there is no Redis backup")
    parts = {"db": ["db"], "media": ["media"], "redis": ["redis"], "both": ["db", "media"]}.get(what) or (
        ["db"] + (["media"] if cfg.media_volume else []) + (["redis"] if cfg.redis_service else []))
    lock = open_lock(cfg.lock_file)
    if not try_lock(lock):
        raise Fail("a backup, restore or drill is running (lock %s is held): wait for it to finish and retry"
                   % cfg.lock_file)
    env = cfg.restic_env(source)
    if source == "offsite":
        log("restoring from the off-site repository %s" % redact(env.get("RESTIC_REPOSITORY")))
    open_to_read(cfg, env, source)
    restore = Restore(cfg, env, parts)

    def finish(rc):
        # Also (and above all) when the restore failed.
        if restore.stopped and not restore.restart_services() and rc == 0:
            rc = 1
        if rc != 0:
            log("restore FAILED (exit %d); restored before the failure: %s"
                % (rc, " ".join(restore.restored) or "nothing"))
        return rc

    return guarded(lambda: restore.run(selector), finish)


# --- drill ---------------------------------------------------------------------


def resolve_drill(snaps, want):
    """(run, dump snapshot, manifest snapshot) of the run to drill."""
    runs = runs_by_id(snaps, ("db", "db-manifest"))
    complete = [r for r in runs if len(runs[r]) == 2]
    if want != "latest":
        if want not in complete:
            raise Fail("run %s has no db dump with a manifest" % want)
        run = want
    elif not complete:
        raise Fail("no run with a db dump and a manifest: run prodkit-backup first")
    else:
        run = max(complete, key=lambda r: runs[r]["db"]["time"])
    return run, runs[run]["db"], runs[run]["db-manifest"]


def manifest_diff(expected, actual):
    def load(lines):
        return {line.split("\t")[0]: line.split("\t")[1:] for line in lines if line.strip()}

    exp, act = load(expected), load(actual)
    for table in sorted(set(exp) | set(act)):
        if table not in act:
            yield "  %s: in the manifest (%s rows), missing after restore" % (table, exp[table][0])
        elif table not in exp:
            yield "  %s: restored (%s rows), not in the manifest" % (table, act[table][0])
        elif exp[table] != act[table]:
            yield "  %s: manifest %s rows / checksum %s, restored %s rows / checksum %s" % (
                table, exp[table][0], exp[table][1], act[table][0], act[table][1])


class Drill:
    def __init__(self, cfg, env):
        self.cfg, self.env = cfg, env
        self.start = now()
        self.cid = None
        self.created = False
        self.rows = 0

    def write_metrics(self, success):
        stamp, lines = outcome_gauges(self.cfg.state_dir, "drill-last-success", "prodkit_backup_drill_",
                                      "restore drill", "matched the manifest", success)
        lines += gauge("prodkit_backup_drill_duration_seconds", "Duration of the last restore drill.",
                       stamp - self.start)
        lines += gauge("prodkit_backup_drill_rows", "Rows verified by the last successful drill.", self.rows)
        write_textfile(self.cfg.metrics_dir, "prodkit-backup-drill.prom", lines)

    def cleanup(self, rc):
        if self.created:
            try:
                maint_psql(self.cid, "drill", "drill", 'DROP DATABASE IF EXISTS :"drill" WITH (FORCE);\n')
            except CommandFailed:
                log("warning: could not drop the scratch database; drop it by hand (DROP DATABASE ..._drill)")
        if rc == 0:
            try:
                self.write_metrics(True)
            except OSError:
                log("could not write metrics to %s" % self.cfg.metrics_dir)
                rc = 1
        else:
            self.rows = 0
            try:
                self.write_metrics(False)
            except OSError:
                log("could not write metrics to %s" % self.cfg.metrics_dir)
            log("drill FAILED (exit %d)" % rc)
        return rc

    def run(self, want):
        cfg = self.cfg
        proc = call(["restic", "snapshots", "--json", "--tag", "prodkit"], check=False, env=self.env,
                    stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise Fail("cannot list the snapshots: check %s and the network" % cfg.env_file)
        try:
            run, dump, manifest = resolve_drill(json.loads(proc.stdout or "null") or [], want)
        except Fail as exc:
            sys.stderr.write("%s\n" % exc)
            raise Fail("no run to drill (see above)") from exc
        log("drilling run %s: dump %s, manifest %s" % (run, dump["id"][:8], manifest["id"][:8]))

        lines = output(["restic", "dump", manifest["id"], manifest["paths"][0]], env=self.env).splitlines()
        if not lines or not lines[0].startswith(MANIFEST_HEADER):
            raise Fail("the manifest of run %s is not in the format '%s': update prodkit-backup-drill"
                       % (run, MANIFEST_HEADER))
        expected = sorted(lines[1:])

        ids = output(["docker", "ps", "-q", "--no-trunc",
                      "--filter", "label=com.docker.compose.project=%s" % cfg.project,
                      "--filter", "label=com.docker.compose.service=%s" % cfg.db_service,
                      "--filter", "status=running"]).split()
        if len(ids) != 1:
            raise Fail("service '%s' of compose project '%s' has no (single) running container: start it"
                       % (cfg.db_service, cfg.project))
        self.cid = ids[0]
        drill_db = output(["docker", "exec", self.cid, "sh", "-c", DB_NAME_SH]) + "_drill"

        self.created = True
        maint_psql(self.cid, "drill", "drill", 'DROP DATABASE IF EXISTS :"drill" WITH (FORCE);\n'
                                      'CREATE DATABASE :"drill" OWNER :"owner" TEMPLATE template0;\n')
        log("restoring the dump into the scratch database %s" % drill_db)
        rc = pipe(["restic", "dump", dump["id"], dump["paths"][0]],
                  ["docker", "exec", "-i", self.cid, "sh", "-c", PG_RESTORE_SH, "pg_restore", drill_db], env=self.env)
        if rc != 0:
            raise Fail("pg_restore of run %s into %s failed (see above): the backup does NOT restore" % (run, drill_db))

        log("computing row counts and checksums in %s" % drill_db)
        actual = sorted(output(["docker", "exec", "-i", self.cid, "sh", "-c", PSQL_DB_SH, "psql", drill_db],
                               input="%s\n%s\n" % (SESSION_SQL, MANIFEST_SQL)).splitlines())

        if expected != actual:
            log("the restored database differs from the manifest of run %s:" % run)
            sys.stderr.write("".join(line + "\n" for line in manifest_diff(expected, actual)))
            return 1
        self.rows = sum(int(line.split("\t")[1]) for line in actual if len(line.split("\t")) > 1
                        and line.split("\t")[1].isdigit())
        print("drill ok: %d tables, %d rows (run %s, dump %s, restored in %d s)" % (
            len(actual), self.rows, run, dump["id"][:8], now() - self.start))
        return 0


def cmd_drill(argv):
    want, source = "latest", "local"
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--run":
            if not args:
                raise Fail("--run needs a value")
            want = args.pop(0).removeprefix("run:")
        elif arg == "--from":
            source = args.pop(0) if args else ""
            if source not in ("local", "offsite"):
                raise Fail("--from must be local or offsite")
        elif arg in ("-h", "--help"):
            sys.stdout.write(USAGE["prodkit-backup-drill"])
            return 0
        else:
            raise Fail("unknown argument '%s' (usage: prodkit-backup-drill [--run <run id>] [--from local|offsite])"
                       % arg)
    require_root()
    cfg = Config(config_path())
    # A drill scheduled right after the backup waits for the backup to finish.
    wait = int(os.environ.get("PRODKIT_DRILL_LOCK_WAIT", "3600"))
    lock = open_lock(cfg.lock_file)
    if not try_lock(lock, wait):
        raise Fail("a backup or restore still holds %s after %ds: retry when it has finished" % (cfg.lock_file, wait))
    env = cfg.restic_env(source)
    drill = Drill(cfg, env)

    def run():
        open_to_read(cfg, env, source)
        return drill.run(want)

    return guarded(run, drill.cleanup)


# --- status --------------------------------------------------------------------


def read_metrics(path):
    """{metric{labels}: value} of a textfile, or None when there is none."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return None
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1) if " " in line else ("", line)
            try:
                samples[name] = float(value)
            except ValueError:
                continue
    return samples


def when(stamp):
    if not stamp:
        return "never"
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cmd_status(argv):
    as_json = json_option(argv, "prodkit-backup status")
    if as_json is None:
        return 0
    cfg = Config(config_path())
    report = {}
    for name, prefix in (("backup", "prodkit_backup_"), ("drill", "prodkit_backup_drill_")):
        samples = read_metrics(os.path.join(cfg.metrics_dir, "prodkit-%s.prom" % (
            "backup" if name == "backup" else "backup-drill")))
        if samples is None:
            report[name] = None
            continue
        entry = {
            "success": bool(samples.get(prefix + "success")),
            "last_run": int(samples.get(prefix + "last_run_timestamp_seconds", 0)),
            "last_success": int(samples.get(prefix + "last_success_timestamp_seconds", 0)),
            "duration_seconds": int(samples.get(prefix + "duration_seconds", 0)),
        }
        if name == "backup":
            entry["snapshot_count"] = samples.get("prodkit_backup_snapshot_count")
            entry["repository_size_bytes"] = samples.get("prodkit_backup_repository_size_bytes")
            entry["size_bytes"] = {key.split('"')[1]: int(value) for key, value in samples.items()
                                   if key.startswith("prodkit_backup_size_bytes{")}
        else:
            entry["rows"] = int(samples.get("prodkit_backup_drill_rows", 0))
        report[name] = entry
    if cfg.offsite_env_file:
        samples = read_metrics(os.path.join(cfg.metrics_dir, "prodkit-backup-offsite.prom"))
        report["offsite"] = None if samples is None else {
            "success": bool(samples.get("prodkit_backup_offsite_success")),
            "last_run": int(samples.get("prodkit_backup_offsite_last_run_timestamp_seconds", 0)),
            "last_success": int(samples.get("prodkit_backup_offsite_last_success_timestamp_seconds", 0)),
            "snapshot_count": samples.get("prodkit_backup_offsite_snapshot_count"),
        }
    ok = bool(report["backup"] and report["backup"]["success"]) and (report["drill"] is None
                                                                     or report["drill"]["success"])
    ok = ok and (report.get("offsite") is None or report["offsite"]["success"])
    if as_json:
        print(json.dumps(dict(report, ok=ok)))
        return 0 if ok else 1
    for name, entry in report.items():
        if entry is None:
            print("%-6s never ran (no metrics in %s)" % (name, cfg.metrics_dir))
            continue
        extra = ""
        if name == "backup" and entry["snapshot_count"] is not None:
            extra = ", %d snapshots" % entry["snapshot_count"]
        if name == "drill":
            extra = ", %d rows verified" % entry["rows"]
        if name == "offsite":
            print("%-7s last copy %s %s, last success %s%s" % (
                name, when(entry["last_run"]), "ok" if entry["success"] else "FAILED", when(entry["last_success"]),
                "" if entry["snapshot_count"] is None else ", %d snapshots" % entry["snapshot_count"]))
            continue
        print("%-6s last run %s %s in %d s, last success %s%s" % (
            name, when(entry["last_run"]), "ok" if entry["success"] else "FAILED", entry["duration_seconds"],
            when(entry["last_success"]), extra))
    return 0 if ok else 1


# --- main ----------------------------------------------------------------------


def config_path():
    return os.environ.get("PRODKIT_BACKUP_CONF") or CONF


COMMANDS = {"run": ("prodkit-backup", cmd_run), "restore": ("prodkit-restore", cmd_restore),
            "drill": ("prodkit-backup-drill", cmd_drill), "status": ("prodkit-backup", cmd_status)}
# The names operators and timers know: prodkit-restore and prodkit-backup-drill
# are links to this program.
ALIASES = {"prodkit-restore": "restore", "prodkit-backup-drill": "drill"}


def on_signal(signum, _frame):
    raise Terminated(128 + signum)


def main(argv=None):
    """argv[0]: the name called (prodkit-backup.sh passes it in PRODKIT_BACKUP_NAME)."""
    global PROG
    argv = list(sys.argv if argv is None else argv)
    name = os.environ.pop("PRODKIT_BACKUP_NAME", "") or os.path.basename(argv[0])
    args = argv[1:]
    if name in ALIASES:
        command = ALIASES[name]
    elif args and args[0] in COMMANDS:
        command = args.pop(0)
    else:
        command = "run"
    PROG, handler = COMMANDS[command]
    os.umask(0o077)
    sys.stdout.reconfigure(line_buffering=True)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        return handler(args)
    except Fail as exc:
        log("ERROR: %s" % exc)
        return 1
    except (Terminated, CommandFailed) as exc:
        return exc.rc
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        log("ERROR: %s" % exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
