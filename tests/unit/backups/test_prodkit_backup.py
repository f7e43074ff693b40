"""prodkit-backup (roles/backups/files): run, restore, drill and status
against fake docker, restic, psql, pg_dump and pg_restore (mock/) first on
PATH, as prometheus-community's textfile-collector scripts are tested.

The program runs as a separate process, as the timer runs it; only its root
check is bypassed (os.geteuid reports 0). molecule/backups runs it against
a real stack, PostgreSQL and restic.
"""

import fcntl
import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PROGRAM = ROOT / "roles/backups/files/prodkit_backup.py"
WRAPPER = ROOT / "roles/backups/files/prodkit-backup.sh"
MOCK = Path(__file__).resolve().parent / "mock"
WRITERS = ["django", "celery"]
MANIFEST = "public.payments_payment\t300\t0123456789abcdef0123456789abcdef\npublic.uploads\t1\tfedcba9876543210fedcba9876543210\n"
# Runs the program under the name given (argv[0] picks the command), as root.
LAUNCH = """
import importlib.machinery, importlib.util, os, sys
loader = importlib.machinery.SourceFileLoader("prodkit_backup", os.environ["PRODKIT_PROGRAM"])
module = importlib.util.module_from_spec(importlib.util.spec_from_loader("prodkit_backup", loader))
loader.exec_module(module)
os.geteuid = lambda: 0
sys.exit(module.main(sys.argv[1:]))
"""


class Host:
    """A fake host: a compose project with db, writers and a media volume."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.state = tmp / "state"
        self.metrics = tmp / "metrics"
        self.media = self.state / "volumes/myproject_django_media"
        self.media.mkdir(parents=True)
        (self.media / "a.txt").write_text("first upload\n")
        (self.state / "running").write_text("db\n" + "\n".join(WRITERS) + "\nnginx\n")
        (self.state / "db").write_text("rows of run 1\n")
        (self.state / "manifest").write_text(MANIFEST)
        compose = tmp / "opt/myproject"
        compose.mkdir(parents=True)
        (compose / "docker-compose.yml").write_text("services: {}\n")
        (compose / ".env").write_text("SECRET_KEY=x\n")
        self.lock = tmp / "prodkit-backup.lock"
        self.env_file = tmp / "restic.env"
        self.env_file.write_text("RESTIC_REPOSITORY='%s/repo'\nRESTIC_PASSWORD='0123abcd'\nRESTIC_CACHE_DIR='/x'\n" % tmp)
        self.conf = tmp / "backup.conf"
        self.write_conf()

    def write_conf(self, **override):
        values = {
            "project": "myproject", "compose_dir": self.tmp / "opt/myproject", "db_service": "db",
            "writer_services": "\n    " + "\n    ".join(WRITERS), "media_volume": "myproject_django_media",
            "redis_service": "",
            "config_paths": "\n    %s/opt/myproject/docker-compose.yml\n    %s/opt/myproject/.env" % (self.tmp, self.tmp),
            "keep_last": 3, "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 6, "check_subset": "5%",
            "metrics_dir": self.metrics, "env_file": self.env_file, "cache_dir": self.tmp / "cache",
            "lock_file": self.lock, "state_dir": self.tmp / "lib",
        }
        values.update(override)
        self.conf.write_text("[backup]\n" + "".join("%s = %s\n" % item for item in values.items()))

    def run(self, *args, name="prodkit-backup", **env):
        # The fakes start with `#!/usr/bin/env python`: this interpreter.
        path = "%s:%s:%s" % (MOCK, os.path.dirname(sys.executable), os.environ["PATH"])
        environ = dict(os.environ, PATH=path, FAKE_STATE=str(self.state),
                       PRODKIT_BACKUP_CONF=str(self.conf), PRODKIT_PROGRAM=str(PROGRAM), **env)
        for key in ("RESTIC_REPOSITORY", "RESTIC_PASSWORD"):
            environ.pop(key, None)
        return subprocess.run([sys.executable, "-c", LAUNCH, name, *args], env=environ, capture_output=True,
                              text=True, timeout=60, check=False)

    def backup(self, **env):
        proc = self.run("--json", **env)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.splitlines()[-1])

    def snapshots(self, part=None):
        repo = json.loads((self.state / "repo.json").read_text())
        return [s for s in repo["snapshots"] if part is None or part in s["tags"]]

    def calls(self, tool=None):
        lines = (self.state / "calls.log").read_text().splitlines() if (self.state / "calls.log").exists() else []
        return [call[1:] for call in map(json.loads, lines) if tool is None or call[0] == tool]

    def metrics_of(self, name="prodkit-backup.prom"):
        text = (self.metrics / name).read_text()
        return {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1] for line in text.splitlines()
                if line and not line.startswith("#")}

    def running(self):
        return (self.state / "running").read_text().split()


@pytest.fixture
def host(tmp_path):
    return Host(tmp_path)


@pytest.fixture
def held_lock(host):
    fd = os.open(host.lock, os.O_WRONLY | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    yield
    os.close(fd)


# --- run ---------------------------------------------------------------------------


def test_run_backs_up_every_part_and_writes_metrics(host):
    proc = host.run("--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert list(result["snapshots"]) == ["db", "db-manifest", "media", "config"]
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{4}", result["run"])
    assert proc.stdout.startswith("prodkit-backup ok: run %s in " % result["run"])
    assert re.search(r"(?m)^  db-manifest  [0-9a-f]{8}  +\d+B  \(\+\d+B new\)$", proc.stdout)
    # A new repository is created only because `cat config` said "does not exist" (10).
    assert ["init"] in host.calls("restic")
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ prodkit-backup: run %s$" % result["run"], proc.stderr, re.M)

    for part, snapshot_id in result["snapshots"].items():
        (snap,) = [s for s in host.snapshots(part) if s["id"] == snapshot_id]
        assert snap["tags"] == ["prodkit", part, "run:" + result["run"]]
    # The dump is pg_dump's output, taken in the exported snapshot; the manifest has its header.
    (dump,) = host.snapshots("db")
    assert dump["paths"] == ["/myproject-db.dump"]
    assert ["-Fc", "-Z0", "--snapshot=00000003-0000001B-1", "-U", "app", "-d", "app"] in host.calls("pg_dump")
    (manifest,) = host.snapshots("db-manifest")
    manifest_text = subprocess.run([str(MOCK / "restic"), "dump", manifest["id"], "x"], capture_output=True,
                                   text=True, check=True, env=dict(os.environ, FAKE_STATE=str(host.state),
                                                                   RESTIC_REPOSITORY="/r", RESTIC_PASSWORD="p")).stdout
    assert manifest_text == "# prodkit-db-manifest v1\trun=%s\tdb=app\tpg_snapshot=00000003-0000001B-1\n%s" % (
        result["run"], MANIFEST)
    # The session took the locks and ran the manifest inside its REPEATABLE READ transaction.
    sql = (host.state / "psql.sql").read_text()
    assert sql.index("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;") < sql.index("LOCK TABLE ONLY") < sql.index(
        "hashtextextended") < sql.index("COMMIT;")

    # Retention per part, prune, check.
    forgets = [c for c in host.calls("restic") if c[0] == "forget"]
    assert [c[3] for c in forgets] == ["prodkit,db", "prodkit,db-manifest", "prodkit,media", "prodkit,config"]
    assert forgets[0][4:] == ["--group-by", "host", "--keep-last", "3", "--keep-daily", "7", "--keep-weekly", "4",
                              "--keep-monthly", "6"]
    assert ["prune", "--quiet"] in host.calls("restic")
    assert ["check", "--read-data-subset=5%"] in host.calls("restic")

    metrics = host.metrics_of()
    assert metrics["prodkit_backup_success"] == "1"
    assert metrics["prodkit_backup_last_success_timestamp_seconds"] == metrics["prodkit_backup_last_run_timestamp_seconds"]
    assert metrics["prodkit_backup_snapshot_count"] == "4"
    assert int(metrics["prodkit_backup_repository_size_bytes"]) > 0
    assert int(metrics['prodkit_backup_size_bytes{part="media"}']) > 0
    assert set(k for k in metrics if k.startswith("prodkit_backup_added_bytes")) == {
        'prodkit_backup_added_bytes{part="%s"}' % p for p in ("db", "db-manifest", "media", "config")}
    assert oct((host.metrics / "prodkit-backup.prom").stat().st_mode & 0o777) == "0o644"
    assert not list(host.metrics.glob(".*")), "a temporary metrics file was left behind"


def test_second_run_does_not_init_again(host):
    host.backup()
    host.backup()
    assert [c for c in host.calls("restic") if c[0] == "init"] == [["init"]]
    assert len(host.snapshots("db")) == 2


def test_redis_part_when_configured(host):
    # redis-cli (mock/) runs through the fake docker exec, as in the container.
    host.write_conf(redis_service="redis")
    (host.state / "running").write_text("db\nredis\n")
    (host.state / "redis").mkdir()
    (host.state / "redis/dump.rdb").write_text("REDIS0011 data\n")
    result = host.backup()
    assert list(result["snapshots"]) == ["db", "db-manifest", "media", "config", "redis"]
    (snap,) = host.snapshots("redis")
    assert snap["paths"] == ["/myproject-redis.rdb"]
    assert ["BGSAVE", "SCHEDULE"] in host.calls("redis-cli")
    assert ["prodkit,redis"] == [c[3] for c in host.calls("restic") if c[0] == "forget"][-1:]


def test_redis_bgsave_that_fails(host):
    host.write_conf(redis_service="redis")
    (host.state / "running").write_text("db\nredis\n")
    proc = host.run(FAKE_RC_REDIS_BGSAVE="1")
    assert proc.returncode == 1
    assert "redis BGSAVE failed: ERR" in proc.stderr
    assert "FAILED in step 'redis' (exit 1); run " in proc.stderr
    assert host.metrics_of()["prodkit_backup_success"] == "0"


def test_killed_dump_records_no_snapshot_and_fails(host):
    first = host.backup()
    first_success = host.metrics_of()["prodkit_backup_last_success_timestamp_seconds"]
    (host.state / "pg_dump-dies").touch()
    proc = host.run()
    assert proc.returncode == 1
    assert "restic backup of 'db' failed (exit 1); see the messages above" in proc.stderr
    assert "FAILED in step 'db' (exit 1); run " in proc.stderr
    assert "made: no snapshot" in proc.stderr
    # Only the first run's dump is in the repository: the half dump left nothing.
    assert [s["id"] for s in host.snapshots("db")] == [first["snapshots"]["db"]]
    assert len(host.snapshots()) == 4
    metrics = host.metrics_of()
    assert metrics["prodkit_backup_success"] == "0"
    assert metrics["prodkit_backup_last_success_timestamp_seconds"] == first_success
    assert "prodkit_backup_snapshot_count" not in metrics


def test_empty_dump_fails_the_run_and_leaves_no_dump(host):
    first = host.backup()
    (host.state / "pg_dump-empty").touch()
    proc = host.run()
    assert proc.returncode == 1
    assert "pg_dump exited 0 but wrote nothing (0 bytes)" in proc.stderr
    assert "FAILED in step 'db' (exit 1); run " in proc.stderr
    # The empty dump is gone, and no manifest was written for it: the drill
    # and the restore still find the first run as the latest with a dump.
    assert [s["id"] for s in host.snapshots("db")] == [first["snapshots"]["db"]]
    assert [s["id"] for s in host.snapshots("db-manifest")] == [first["snapshots"]["db-manifest"]]
    assert host.metrics_of()["prodkit_backup_success"] == "0"
    (host.state / "pg_dump-empty").unlink()
    assert host.run("--json").returncode == 0


@pytest.mark.parametrize("rc", [1, 11, 12])
def test_repository_that_does_not_open_is_never_initialised(host, rc):
    proc = host.run(FAKE_RC_CAT=str(rc))
    assert proc.returncode == 1
    assert "cannot open the restic repository %s/repo (restic exit %d; 12 = wrong password, 11 = locked" % (
        host.tmp, rc) in proc.stderr
    assert "Fatal: fake restic cat fails" in proc.stderr
    assert [c for c in host.calls("restic") if c[0] != "cat"] == []
    assert host.metrics_of()["prodkit_backup_success"] == "0"
    assert "FAILED in step 'repository'" in proc.stderr


def test_unreadable_files_exit_3_fail_the_run(host):
    host.backup()
    proc = host.run(FAKE_RC_BACKUP_MEDIA="3")
    assert proc.returncode == 1
    assert "restic backup of 'media' could not read some files (exit 3): the snapshot is incomplete" in proc.stderr
    assert "FAILED in step 'media' (exit 1); run " in proc.stderr
    assert "made: db db-manifest" in proc.stderr
    metrics = host.metrics_of()
    assert metrics["prodkit_backup_success"] == "0"
    # The parts made before the failure are in the failure metrics.
    assert 'prodkit_backup_size_bytes{part="db"}' in metrics
    assert 'prodkit_backup_size_bytes{part="media"}' not in metrics


@pytest.mark.parametrize("rc", [1, 11])
def test_retention_failure_exits_with_restics_code(host, rc):
    proc = host.run(FAKE_RC_FORGET=str(rc))
    assert proc.returncode == rc
    assert "FAILED in step 'retention' (exit %d)" % rc in proc.stderr
    assert host.metrics_of()["prodkit_backup_success"] == "0"


def test_check_failure(host):
    proc = host.run(FAKE_RC_CHECK="1")
    assert proc.returncode == 1
    assert "restic check found a problem in the repository" in proc.stderr
    assert host.metrics_of()["prodkit_backup_success"] == "0"


def test_stats_failure_only_leaves_out_the_size(host):
    proc = host.run(FAKE_RC_STATS="1")
    assert proc.returncode == 0, proc.stderr
    assert "warning: restic stats failed" in proc.stderr
    metrics = host.metrics_of()
    assert metrics["prodkit_backup_success"] == "1"
    assert "prodkit_backup_repository_size_bytes" not in metrics


def test_manifest_query_that_fails(host):
    proc = host.run(FAKE_RC_PSQL_MANIFEST="3")
    assert proc.returncode == 1
    assert "psql ended while computing the manifest" in proc.stderr
    assert host.snapshots("db-manifest") == []


def test_db_not_running(host):
    (host.state / "running").write_text("django\n")
    proc = host.run()
    assert proc.returncode == 1
    assert "service 'db' of compose project 'myproject' has no running container: start it" in proc.stderr


def test_lock_held_exits_75_and_keeps_the_metrics(host, held_lock):
    proc = host.run("--json")
    assert proc.returncode == 75
    assert ("ERROR: another prodkit-backup, prodkit-restore or prodkit-backup-drill is running (lock %s is held)"
            % host.lock) in proc.stderr
    assert proc.stdout == ""
    assert not host.metrics.exists()
    assert host.calls("restic") == []


def test_no_restic_secrets(host):
    host.env_file.write_text("RESTIC_REPOSITORY='/r'\n")
    proc = host.run()
    assert proc.returncode == 1
    assert "RESTIC_PASSWORD is not set in %s" % host.env_file in proc.stderr


@pytest.mark.parametrize("args", [["--bogus"], ["run", "--bogus"]])
def test_unknown_argument(host, args):
    proc = host.run(*args)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Usage: prodkit-backup [--json]")
    assert "ERROR: unknown argument '--bogus'" in proc.stderr


# --- restore -----------------------------------------------------------------------


def test_restore_an_older_run_by_id(host):
    first = host.backup()
    (host.state / "db").write_text("rows of run 2\n")
    (host.media / "b.txt").write_text("second upload\n")
    (host.media / "a.txt").write_text("changed\n")
    second = host.backup()
    assert second["run"] != first["run"]

    proc = host.run("--snapshot", first["run"], "--yes", name="prodkit-restore")
    assert proc.returncode == 0, proc.stderr
    # The database and the media are the FIRST run's, not the latest.
    assert (host.state / "restored-app_restoring").read_text() == "rows of run 1\n"
    assert sorted(p.name for p in host.media.iterdir()) == ["a.txt"]
    assert (host.media / "a.txt").read_text() == "first upload\n"
    assert "ended 0 session(s)" in proc.stdout
    assert "prodkit-restore ok: run %s" % first["run"] in proc.stdout
    assert "  db     snapshot %s -> database app (container of service db)" % first["snapshots"]["db"][:8] in proc.stdout
    assert "  media  snapshot %s -> volume myproject_django_media" % first["snapshots"]["media"][:8] in proc.stdout
    assert proc.stdout.splitlines()[-1] == "  writer services stopped during the restore and started again: django celery"
    # Writers stopped before, started after; the new database replaced the old one.
    docker = host.calls("docker")
    stop = docker.index(["compose", "--project-name", "myproject", "--project-directory",
                         str(host.tmp / "opt/myproject"), "stop", "django", "celery"])
    start = next(i for i, c in enumerate(docker) if "start" in c)
    restore = next(i for i, c in enumerate(docker) if "pg_restore" in c)
    assert stop < restore < start
    assert sorted(host.running()) == sorted(["db", "nginx", *WRITERS])
    sql = (host.state / "psql.sql").read_text()
    assert 'ALTER DATABASE :"tmp" RENAME TO :"db";' in sql


def test_restore_latest_and_by_snapshot_id(host):
    host.backup()
    (host.state / "db").write_text("rows of run 2\n")
    second = host.backup()
    proc = host.run("--yes", "--what", "db", name="prodkit-restore")
    assert proc.returncode == 0, proc.stderr
    assert "prodkit-restore ok: run %s" % second["run"] in proc.stdout
    assert (host.state / "restored-app_restoring").read_text() == "rows of run 2\n"
    # A snapshot id (a prefix) names its run; "run:<id>" works too.
    proc = host.run("--snapshot=%s" % second["snapshots"]["db-manifest"][:10], "--what=db", "--yes",
                    name="prodkit-restore")
    assert "prodkit-restore ok: run %s" % second["run"] in proc.stdout
    proc = host.run("restore", "--snapshot", "run:" + second["run"], "--what", "db", "--yes")
    assert "prodkit-restore ok: run %s" % second["run"] in proc.stdout


def test_restore_of_a_dump_that_fails_starts_the_writers_again(host):
    host.backup()
    proc = host.run("--yes", name="prodkit-restore", FAKE_RC_PG_RESTORE="1")
    assert proc.returncode == 1
    assert "pg_restore failed (see above); the database 'app' was NOT changed" in proc.stderr
    assert "restore FAILED (exit 1); restored before the failure: nothing" in proc.stderr
    assert "starting again: celery django" in proc.stderr
    assert sorted(host.running()) == sorted(["db", "nginx", *WRITERS])
    sql = (host.state / "psql.sql").read_text()
    assert sql.count('DROP DATABASE IF EXISTS :"tmp" WITH (FORCE);') == 2
    assert 'DROP DATABASE IF EXISTS :"db"' not in sql


def test_restore_when_the_writers_do_not_start_again(host):
    host.backup()
    proc = host.run("--yes", "--what", "db", name="prodkit-restore", FAKE_RC_COMPOSE_START="1")
    assert proc.returncode == 1
    assert "could not start celery django: start them by hand" in proc.stderr
    assert "the restore itself succeeded (db), but services did not start again" in proc.stderr
    assert "restore FAILED (exit 1); restored before the failure: db" in proc.stderr


@pytest.mark.parametrize("args, message", [
    ([], "refusing to restore without --yes: this replaces the current database and media of the stack"),
    (["--what", "db"], "refusing to restore without --yes: this replaces the current db of the stack"),
    (["--what", "everything", "--yes"], "--what must be db, media, redis, both (db and media) or all, not 'everything'"),
    (["--what", "redis", "--yes"], "no redis service is configured (backups_redis_service is empty)"),
    (["--snapshot", "a b", "--yes"], "--snapshot 'a b' is not a run id or snapshot id"),
    (["--snapshot"], "--snapshot needs a value"),
    (["--snapshot", "nosuchrun", "--yes"], "cannot resolve --snapshot 'nosuchrun' (see above)"),
])
def test_restore_refuses(host, args, message):
    host.backup()
    proc = host.run(*args, name="prodkit-restore")
    assert proc.returncode == 1
    assert "ERROR: " + message in proc.stderr
    assert [c for c in host.calls("docker") if c[0] == "compose"] == []


def redis_host(host, appendonly="yes"):
    host.write_conf(redis_service="redis")
    (host.state / "running").write_text("db\nredis\n" + "\n".join(WRITERS) + "\n")
    (host.state / "redis").mkdir()
    (host.state / "redis-appendonly").write_text(appendonly)
    (host.state / "redis/dump.rdb").write_text("REDIS0011\ncelery task-1\ncelery task-2\nsession:x 1 ex\n")
    return host.state / "redis"


def start_order(host):
    return [c[c.index("start") + 1:] for c in host.calls("docker") if c[0] == "compose" and "start" in c]


@pytest.mark.parametrize("appendonly", ["yes", "no"])
def test_restore_redis(host, appendonly):
    data = redis_host(host, appendonly)
    snap = host.backup()["snapshots"]["redis"]
    # Redis lives on: other keys, and (AOF on) an AOF that holds them.
    (data / "dump.rdb").write_text("REDIS0011\nnew 1\n")
    if appendonly == "yes":
        (data / "appendonlydir").mkdir()
        (data / "appendonlydir/appendonly.aof.manifest").write_text("file appendonly.aof.2.base.rdb seq 2 type b\n")
    proc = host.run("--what", "redis", "--yes", name="prodkit-restore")
    assert proc.returncode == 0, proc.stderr
    assert "redis  snapshot %s -> %s/dump.rdb" % (snap[:8], data) in proc.stdout
    assert "3 keys" in proc.stdout
    assert (data / "dump.rdb").read_text().startswith("REDIS0011\ncelery task-1")
    if appendonly == "yes":
        # Redis ignores an RDB while AOF is on: the RDB is the new AOF's base.
        manifest = (data / "appendonlydir/appendonly.aof.manifest").read_text()
        assert manifest == "file appendonly.aof.1.base.rdb seq 1 type b\n"
        assert (data / "appendonlydir/appendonly.aof.1.base.rdb").read_text() == (data / "dump.rdb").read_text()
    else:
        assert not (data / "appendonlydir").exists()
    # What Redis had is kept aside, not deleted.
    (aside,) = data.glob("prodkit-before-restore-*")
    assert (aside / "dump.rdb").read_text() == "REDIS0011\nnew 1\n"
    assert (aside / "appendonlydir").exists() == (appendonly == "yes")
    # Redis alone first and checked (3 keys loaded), then its writers.
    assert (host.state / "redis-loaded").read_text() == "3"
    assert [sorted(services) for services in start_order(host)] == [["redis"], sorted(WRITERS)]
    assert sorted(host.running()) == sorted(["db", "redis"] + WRITERS)


def test_restore_redis_with_a_damaged_rdb_keeps_what_redis_had(host):
    data = redis_host(host)
    (data / "dump.rdb").write_text("garbage, not an RDB\n")
    host.backup()
    (data / "dump.rdb").write_text("REDIS0011\nlive 1\n")
    proc = host.run("--what", "redis", "--yes", name="prodkit-restore")
    assert proc.returncode == 1
    assert "redis-check-rdb refuses the RDB of snapshot" in proc.stderr
    assert "Redis keeps its data" in proc.stderr
    assert (data / "dump.rdb").read_text() == "REDIS0011\nlive 1\n"
    assert list(data.glob("prodkit-before-restore-*")) == []
    assert not (data / "appendonlydir").exists()
    assert sorted(host.running()) == sorted(["db", "redis"] + WRITERS)


def test_restore_all_restores_db_media_and_redis(host):
    redis_host(host)
    result = host.backup()
    assert set(result["snapshots"]) >= {"db", "media", "redis"}
    proc = host.run("--what", "all", "--yes", name="prodkit-restore")
    assert proc.returncode == 0, proc.stderr
    for part in ("db", "media", "redis"):
        assert "  %s " % part in proc.stdout


def test_restore_redis_refuses_an_old_redis_with_aof(host):
    redis_host(host)
    host.backup()
    (host.state / "redis-version").write_text("6.2.14")
    proc = host.run("--what", "redis", "--yes", name="prodkit-restore")
    assert proc.returncode == 1
    assert "Redis with appendonly before 7.0" in proc.stderr
    # Refused before anything stopped.
    assert [c for c in host.calls("docker") if c[0] == "compose" and "stop" in c] == []


def test_restore_with_the_lock_held(host, held_lock):
    proc = host.run("--yes", name="prodkit-restore")
    assert proc.returncode == 1
    assert "a backup, restore or drill is running (lock %s is held)" % host.lock in proc.stderr


# --- drill ---------------------------------------------------------------------------


def test_drill_ok(host):
    first = host.backup()
    second = host.backup()
    proc = host.run(name="prodkit-backup-drill")
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"drill ok: 2 tables, 301 rows \(run %s, dump %s, restored in \d+ s\)\n" % (
        second["run"], second["snapshots"]["db"][:8]), proc.stdout)
    assert (host.state / "restored-app_drill").read_text() == "rows of run 1\n"
    metrics = host.metrics_of("prodkit-backup-drill.prom")
    assert metrics["prodkit_backup_drill_success"] == "1"
    assert metrics["prodkit_backup_drill_rows"] == "301"
    # The scratch database is dropped at the end.
    assert (host.state / "psql.sql").read_text().splitlines()[-1] == 'postgres: DROP DATABASE IF EXISTS :"drill" WITH (FORCE);'
    proc = host.run("drill", "--run", "run:" + first["run"])
    assert "(run %s, dump %s," % (first["run"], first["snapshots"]["db"][:8]) in proc.stdout


def test_drill_finds_a_difference(host):
    host.backup()
    (host.state / "drill-manifest").write_text(MANIFEST.replace("\t300\t", "\t299\t"))
    proc = host.run(name="prodkit-backup-drill")
    assert proc.returncode == 1
    assert "the restored database differs from the manifest of run" in proc.stderr
    assert ("  public.payments_payment: manifest 300 rows / checksum 0123456789abcdef0123456789abcdef, "
            "restored 299 rows / checksum 0123456789abcdef0123456789abcdef") in proc.stderr
    assert "drill FAILED (exit 1)" in proc.stderr
    metrics = host.metrics_of("prodkit-backup-drill.prom")
    assert metrics["prodkit_backup_drill_success"] == "0"
    assert metrics["prodkit_backup_drill_rows"] == "0"
    assert metrics["prodkit_backup_drill_last_success_timestamp_seconds"] == "0"
    assert (host.state / "psql.sql").read_text().splitlines()[-1] == 'postgres: DROP DATABASE IF EXISTS :"drill" WITH (FORCE);'


def test_drill_of_a_dump_that_does_not_restore(host):
    host.backup()
    proc = host.run(name="prodkit-backup-drill", FAKE_RC_PG_RESTORE="1")
    assert proc.returncode == 1
    assert "the backup does NOT restore" in proc.stderr


def test_drill_without_backups(host):
    proc = host.run(name="prodkit-backup-drill", )
    assert proc.returncode == 1
    # No repository yet: opening it fails (10), and the drill never creates one.
    assert "cannot open the restic repository" in proc.stderr and "10 = no repository there" in proc.stderr
    assert ["init"] not in [c[:1] for c in host.calls("restic")]
    host.run()  # creates the repository
    (host.state / "repo.json").write_text('{"snapshots": []}')
    proc = host.run(name="prodkit-backup-drill")
    assert "no run with a db dump and a manifest: run prodkit-backup first" in proc.stderr
    assert "ERROR: no run to drill (see above)" in proc.stderr


def test_drill_waits_for_the_lock_then_gives_up(host, held_lock):
    proc = host.run(name="prodkit-backup-drill", PRODKIT_DRILL_LOCK_WAIT="1")
    assert proc.returncode == 1
    assert "a backup or restore still holds %s after 1s: retry when it has finished" % host.lock in proc.stderr


# --- status and names -----------------------------------------------------------------


# --- off-site copy -------------------------------------------------------------------


def offsite(host):
    """Configure an off-site repository (its env file holds only the repository
    and a credential: the password comes from the local file)."""
    env = host.tmp / "restic-offsite.env"
    env.write_text("RESTIC_REPOSITORY='sftp:backup@offsite.example:/srv/offsite'\nAWS_ACCESS_KEY_ID='k'\n")
    host.write_conf(offsite_env_file=env)
    return env


def offsite_snapshots(host):
    return json.loads((host.state / "repo-offsite.json").read_text())["snapshots"]


def test_offsite_copy_after_each_run(host):
    offsite(host)
    proc = host.run("--json")
    assert proc.returncode == 0, proc.stderr
    assert "the off-site repository does not exist yet: restic init --copy-chunker-params" in proc.stderr
    first = json.loads(proc.stdout.splitlines()[-1])
    second = host.backup()
    local = sorted(s["id"] for s in host.snapshots())
    assert sorted(s["original"] for s in offsite_snapshots(host)) == local
    assert {first["run"], second["run"]} <= {t[4:] for s in offsite_snapshots(host) for t in s["tags"]
                                             if t.startswith("run:")}
    restic = host.calls("restic")
    # Created with the local repository's chunker parameters, once.
    assert restic.count(["init", "--copy-chunker-params"]) == 1
    # The retention runs off-site too, after the copy.
    copies = [i for i, c in enumerate(restic) if c[0] == "copy"]
    forgets = [i for i, c in enumerate(restic) if c[0] == "forget" and "--keep-last" in c]
    assert copies and forgets[-1] > copies[-1]
    metrics = host.metrics_of("prodkit-backup-offsite.prom")
    assert metrics["prodkit_backup_offsite_success"] == "1"
    assert int(metrics["prodkit_backup_offsite_last_success_timestamp_seconds"]) > 0
    assert metrics["prodkit_backup_offsite_snapshot_count"] == str(len(local))


@pytest.mark.parametrize("fail", ["FAKE_RC_OFFSITE_CAT", "FAKE_RC_OFFSITE_COPY"])
def test_failed_offsite_copy_fails_the_run_keeps_the_local_one_and_deletes_nothing(host, fail):
    offsite(host)
    host.backup()
    before = offsite_snapshots(host)
    calls = len(host.calls("restic"))
    proc = host.run(**{fail: "1"})
    assert proc.returncode == 1
    assert "prodkit-backup ok: run" in proc.stdout
    assert "sftp:backup@offsite.example:/srv/offsite" in proc.stderr
    assert ("cannot open the off-site repository" in proc.stderr) or ("restic copy to the off-site repository"
                                                                      in proc.stderr)
    assert "the local backup (run " in proc.stderr and "is complete, the off-site copy is not" in proc.stderr
    # Nothing forgotten or pruned off-site after the failure.
    later = host.calls("restic")[calls:]
    failed = max(i for i, c in enumerate(later) if c[0] in ("cat", "copy"))
    assert [c for c in later[failed + 1:] if c[0] in ("forget", "prune")] == []
    assert offsite_snapshots(host) == before
    # The local run is recorded as a success; the off-site copy as a failure.
    assert host.metrics_of()["prodkit_backup_success"] == "1"
    metrics = host.metrics_of("prodkit-backup-offsite.prom")
    assert metrics["prodkit_backup_offsite_success"] == "0"
    assert int(metrics["prodkit_backup_offsite_last_success_timestamp_seconds"]) > 0
    status = host.run("status")
    assert status.returncode == 1
    assert re.search(r"(?m)^offsite last copy \S+Z FAILED, last success \S+Z", status.stdout)


@pytest.mark.parametrize("error, problem", [
    ("The AWS Access Key Id you provided does not exist in our records.", "the endpoint refuses the credentials"),
    ("The request signature we calculated does not match the signature you provided.",
     "the endpoint refuses the credentials"),
    ("The specified bucket does not exist", "the bucket does not exist"),
    ('Get "https://s3.example/b/?location=": dial tcp: connect: connection refused', "restic did not open it within 5 s"),
])
def test_offsite_repository_that_does_not_open_fails_the_run_in_bounded_time(host, error, problem):
    """restic retries such errors for 15 minutes; the run ends at the first
    one that says why (or after open_timeout), before the copy, and shows
    no secret."""
    env = offsite(host)
    env.write_text("RESTIC_REPOSITORY='s3:https://s3.example/bucket/prodkit'\n"
                   "AWS_ACCESS_KEY_ID='AKIAWRONGKEY'\nAWS_SECRET_ACCESS_KEY='wrong-secret'\n")
    host.write_conf(offsite_env_file=env, open_timeout=5)
    host.backup()
    local, before = len(host.snapshots()), offsite_snapshots(host)
    proc = host.run(FAKE_OFFSITE_CAT_RETRY="%s (key AKIAWRONGKEY, secret wrong-secret)" % error)
    assert proc.returncode == 1
    assert "prodkit-backup ok: run" in proc.stdout
    assert "ERROR: cannot open the off-site repository s3:https://s3.example/bucket/prodkit: %s" % problem in proc.stderr
    if "within" not in problem:
        assert error in proc.stderr
        # At the first such message, not after restic's retries.
        assert proc.stderr.count("retrying after") == 1
    if "bucket" not in problem:
        assert "restic-offsite.env (backups_offsite_repository_env)" in proc.stderr
    assert "AKIAWRONGKEY" not in proc.stderr + proc.stdout and "wrong-secret" not in proc.stderr + proc.stdout
    assert "********" in proc.stderr
    # Nothing copied, forgotten or pruned off-site; the local run is kept and recorded.
    restic = host.calls("restic")
    opened = max(i for i, c in enumerate(restic) if c[:2] == ["cat", "config"])
    assert [c for c in restic[opened + 1:] if c[0] in ("init", "copy", "forget", "prune")] == []
    assert offsite_snapshots(host) == before
    assert len(host.snapshots()) > local
    assert host.metrics_of()["prodkit_backup_success"] == "1"
    assert host.metrics_of("prodkit-backup-offsite.prom")["prodkit_backup_offsite_success"] == "0"


def test_open_timeout_defaults_and_is_checked(host):
    conf = host.conf.read_text()
    host.conf.write_text(conf + "open_timeout = soon\n")
    proc = host.run()
    assert proc.returncode == 1
    assert "open_timeout = 'soon' is not a whole number" in proc.stderr


def test_restore_and_drill_from_offsite_when_the_local_repository_is_lost(host):
    offsite(host)
    first = host.backup()
    (host.state / "repo.json").unlink()
    (host.state / "db").write_text("rows written after the backup\n")
    proc = host.run("--yes", "--what", "both", name="prodkit-restore")
    assert proc.returncode == 1
    proc = host.run("--yes", "--what", "both", "--from", "offsite", name="prodkit-restore")
    assert proc.returncode == 0, proc.stderr
    assert "restoring from the off-site repository sftp:backup@offsite.example:/srv/offsite" in proc.stderr
    assert "prodkit-restore ok: run %s" % first["run"] in proc.stdout
    assert (host.state / "restored-app_restoring").read_text() == "rows of run 1\n"
    proc = host.run("--from", "offsite", name="prodkit-backup-drill")
    assert proc.returncode == 0, proc.stderr
    assert "drill ok" in proc.stdout


def test_from_offsite_without_an_offsite_repository(host):
    host.backup()
    proc = host.run("--yes", "--from", "offsite", name="prodkit-restore")
    assert proc.returncode == 1
    assert "no off-site repository is configured (backups_offsite_repository is empty)" in proc.stderr
    proc = host.run("--yes", "--from", "elsewhere", name="prodkit-restore")
    assert "--from must be local or offsite, not 'elsewhere'" in proc.stderr


def test_status(host):
    proc = host.run("status")
    assert proc.returncode == 1
    assert "backup never ran" in proc.stdout
    host.backup()
    proc = host.run("status")
    assert proc.returncode == 0, proc.stdout
    assert re.search(r"(?m)^backup last run \S+Z ok in \d+ s, last success \S+Z, 4 snapshots$", proc.stdout)
    assert "drill  never ran" in proc.stdout
    host.run(name="prodkit-backup-drill")
    (host.state / "pg_dump-dies").touch()
    host.run()
    proc = host.run("status", "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["ok"] is False
    assert report["backup"]["success"] is False
    assert report["backup"]["last_success"] > 0
    assert report["drill"]["success"] is True
    assert report["drill"]["rows"] == 301


@pytest.mark.parametrize("argv, usage", [
    (["prodkit-restore", "--help"], "Usage: prodkit-restore [--snapshot"),
    (["prodkit-backup", "restore", "--help"], "Usage: prodkit-restore [--snapshot"),
    (["prodkit-backup-drill", "--help"], "Usage: prodkit-backup-drill [--run <run id>]"),
    (["prodkit-backup", "drill", "-h"], "Usage: prodkit-backup-drill [--run <run id>]"),
    (["prodkit-backup", "--help"], "Usage: prodkit-backup [--json]"),
    (["prodkit-backup", "run", "--help"], "Usage: prodkit-backup [--json]"),
    (["prodkit-backup", "status", "--help"], "Usage: prodkit-backup status [--json]"),
])
def test_names_and_commands(host, argv, usage):
    proc = host.run(*argv[1:], name=argv[0])
    assert proc.returncode == 0
    assert proc.stdout.startswith(usage)


def test_wrapper_passes_the_name_it_is_called_by(tmp_path):
    # prodkit-backup.sh as installed, pointed at this checkout's program and interpreter.
    text = WRAPPER.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert "exec /usr/bin/python3 -I /usr/local/lib/prodkit/prodkit_backup.py \"$@\"" in text
    wrapper = tmp_path / "prodkit-backup"
    wrapper.write_text(text.replace("/usr/bin/python3", sys.executable).replace(
        "/usr/local/lib/prodkit/prodkit_backup.py", str(PROGRAM)))
    wrapper.chmod(0o755)
    for name, usage in (("prodkit-backup", "Usage: prodkit-backup [--json]"),
                        ("prodkit-restore", "Usage: prodkit-restore [--snapshot"),
                        ("prodkit-backup-drill", "Usage: prodkit-backup-drill [--run <run id>]")):
        if name != "prodkit-backup":
            (tmp_path / name).symlink_to("prodkit-backup")
        proc = subprocess.run([str(tmp_path / name), "--help"], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(usage)


def test_not_root(host):
    environ = dict(os.environ, PRODKIT_BACKUP_CONF=str(host.conf))
    proc = subprocess.run([sys.executable, str(PROGRAM)], env=environ, capture_output=True, text=True, check=False)
    if os.geteuid() == 0:
        pytest.skip("runs as root")
    assert proc.returncode == 1
    assert "must run as root (it reads the restic secrets and Docker volumes): use sudo" in proc.stderr


def test_restic_env_read_as_env_secrets_writes_it(host):
    # env_secrets double-quotes a value with a ' in it and escapes its $: the
    # program reads the file with the collection's own parser, not a shell's
    # or shlex's idea of it (shlex kept the backslash).
    program = load_program()
    host.env_file.write_text(
        "RESTIC_REPOSITORY='/r'\n"
        "# a comment\n"
        "RESTIC_PASSWORD=\"it's \\$ecret\"\n"
        "export RESTIC_CACHE_DIR=/x\n")
    env = program.Config(str(host.conf)).restic_env()
    assert env["RESTIC_PASSWORD"] == "it's $ecret"
    assert env["RESTIC_REPOSITORY"] == "/r"
    host.env_file.write_text("RESTIC_PASSWORD='never closed\n")
    with pytest.raises(program.Fail, match="opens a quoted value that is never closed"):
        program.Config(str(host.conf)).restic_env()


def load_program():
    loader = importlib.machinery.SourceFileLoader("prodkit_backup_under_test", str(PROGRAM))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("prodkit_backup_under_test", loader))
    loader.exec_module(module)
    return module


@pytest.mark.parametrize("name, args", [
    ("prodkit-restore", ["--yes", "--what", "both", "--from", "offsite"]),
    ("prodkit-backup-drill", ["--from", "offsite"]),
])
def test_restore_and_drill_from_an_offsite_repository_that_refuses_the_key_stop_before_anything(host, name, args):
    """The same bounded open as the backup: a refused key ends restore and
    drill at restic's first such message, before a service is stopped or a
    snapshot read, with no secret shown."""
    env = offsite(host)
    host.backup()
    env.write_text("RESTIC_REPOSITORY='s3:https://s3.example/bucket/prodkit'\n"
                   "AWS_ACCESS_KEY_ID='AKIAWRONGKEY'\nAWS_SECRET_ACCESS_KEY='wrong-secret'\n")
    host.write_conf(offsite_env_file=env, open_timeout=5)
    restic_before, docker_before = len(host.calls("restic")), len(host.calls("docker"))
    proc = host.run(*args, name=name,
                    FAKE_OFFSITE_CAT_RETRY="The AWS Access Key Id you provided does not exist in our records.")
    assert proc.returncode == 1
    assert ("ERROR: cannot open the off-site repository s3:https://s3.example/bucket/prodkit: the endpoint refuses "
            "the credentials") in proc.stderr
    assert proc.stderr.count("retrying after") == 1
    assert "AKIAWRONGKEY" not in proc.stderr + proc.stdout and "wrong-secret" not in proc.stderr + proc.stdout
    assert [c[:2] for c in host.calls("restic")[restic_before:]] == [["cat", "config"]]
    assert [c for c in host.calls("docker")[docker_before:] if c[:1] in (["stop"], ["compose"], ["run"])] == []
