"""The test bed's stand-ins for the public postgres, redis and nginx images,
run for real on the machine's Docker: each honours the interface of the
image it replaces (environment, paths, users, signals), so that one compose
file runs the public images in production and these in tests.

The images are built through testbed/imagectl.py (a no-op when their hash
tags exist). Every container, volume and network is named
prodkit-itest-<run>-... and removed at the end, whatever happened.
"""

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

import imagectl

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGES = ("postgres", "redis", "nginx")


def sh(*args, check=True, timeout=120):
    result = subprocess.run(list(args), capture_output=True, text=True, check=False, timeout=timeout)
    if check:
        assert result.returncode == 0, "%s (exit %d):\n%s%s" % (
            " ".join(args), result.returncode, result.stdout, result.stderr)
    return result


class Bed(object):
    """Docker objects of one test run, all removed by cleanup()."""

    def __init__(self):
        self.prefix = "prodkit-itest-%s" % uuid.uuid4().hex[:8]
        self.network = self.prefix + "-net"
        self.containers, self.volumes = [], []
        self.catalogue = imagectl.Catalogue()

    def ref(self, image):
        """The exact image imagectl built (its hash tag)."""
        return self.catalogue.hash_ref(image)

    def volume(self, name):
        full = "%s-%s" % (self.prefix, name)
        sh("docker", "volume", "create", full)
        self.volumes.append(full)
        return full

    def start(self, name, image, *args, options=()):
        """docker run -d on the test network, reachable there as `name`."""
        full = "%s-%s" % (self.prefix, name)
        self.containers.append(full)
        sh("docker", "run", "-d", "--name", full, "--network", self.network, "--network-alias", name,
           *options, self.ref(image), *args)
        return full

    def once(self, image, *args, options=(), check=True):
        """docker run --rm on the test network: a client next to the services."""
        return sh("docker", "run", "--rm", "--network", self.network, *options, self.ref(image), *args,
                  check=check)

    def logs(self, container):
        result = sh("docker", "logs", container, check=False)
        return result.stdout + result.stderr

    def wait(self, container, *probe, timeout=60):
        """Run probe inside container until it succeeds."""
        deadline = time.time() + timeout
        while True:
            result = sh("docker", "exec", container, *probe, check=False)
            if result.returncode == 0:
                return result
            state = sh("docker", "inspect", "--format", "{{.State.Status}}", container).stdout.strip()
            if state != "running" or time.time() > deadline:
                pytest.fail("%s: `%s` never succeeded (container %s); its log:\n%s"
                            % (container, " ".join(probe), state, self.logs(container)))
            time.sleep(0.5)

    def uid_of(self, container, process):
        """The uids of container's processes whose command line starts with process."""
        out = sh("docker", "exec", container, "sh", "-c",
                 'for p in /proc/[0-9]*; do printf "%s\\t%s\\n" "$(awk \'/^Uid:/{print $2}\' $p/status)" '
                 '"$(tr "\\0" " " <$p/cmdline)"; done 2>/dev/null').stdout
        return sorted({int(line.split("\t")[0]) for line in out.splitlines()
                       if "\t" in line and line.split("\t", 1)[1].startswith(process)})

    def stop(self, container):
        """docker stop; the image's STOPSIGNAL must end it cleanly before Docker's SIGKILL."""
        started = time.time()
        sh("docker", "stop", "--time", "20", container)
        took = time.time() - started
        code = sh("docker", "inspect", "--format", "{{.State.ExitCode}}", container).stdout.strip()
        assert code == "0" and took < 15, "%s: exit %s after %.0f s on docker stop:\n%s" % (
            container, code, took, self.logs(container))

    def cleanup(self):
        for container in self.containers:
            sh("docker", "rm", "--force", "--volumes", container, check=False)
        for volume in self.volumes:
            sh("docker", "volume", "rm", "--force", volume, check=False)
        sh("docker", "network", "rm", self.network, check=False)


@pytest.fixture(scope="module")
def bed():
    assert shutil.which("docker"), "docker is not installed: these tests need the machine's Docker"
    assert sh("docker", "info", check=False).returncode == 0, "Docker does not answer (`docker info` fails)"
    # Cached by hash: builds only what changed.
    sh(sys.executable, os.path.join(REPO, "testbed", "imagectl.py"), "build", *IMAGES, timeout=1800)
    bed = Bed()
    sh("docker", "network", "create", "--label", "prodkit-itest", bed.network)
    try:
        yield bed
    finally:
        bed.cleanup()


def readable_dir(path, files):
    """A directory the image's unprivileged users can read, for a bind mount."""
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
        os.chmod(path / name, 0o644)
    os.chmod(path, 0o755)
    return str(path)


# --- postgres ---------------------------------------------------------------

PG_READY = ("pg_isready", "--host", "127.0.0.1", "--username", "app", "--dbname", "appdb")


def psql(bed, password, sql, database="appdb", check=True):
    return bed.once("postgres", "psql", "--host", "db", "--username", "app", "--dbname", database,
                    "--no-psqlrc", "--tuples-only", "--no-align", "--command", sql,
                    options=("--env", "PGPASSWORD=" + password, "--env", "PGCONNECT_TIMEOUT=5"), check=check)


def test_postgres(bed, tmp_path):
    # No password on an empty data directory: refused, as by the public image.
    refused = bed.once("postgres", check=False)
    assert refused.returncode != 0
    assert "superuser password is not specified" in refused.stderr

    initdb = readable_dir(tmp_path / "initdb", {
        "10-schema.sql": "CREATE TABLE seeded (v text);\nINSERT INTO seeded VALUES ('from-init-sql');\n",
        "20-more.sh": 'psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" '
                      "-c \"INSERT INTO seeded VALUES ('from-init-sh')\"\n",
    })
    data = bed.volume("pgdata")
    secret = readable_dir(tmp_path / "secret", {"password": "s3cret-from-file\n"})
    # Initialised with a read-only root, given a tmpfs on /var/run/postgresql.
    db = bed.start("db", "postgres", "postgres", "-c", "max_connections=42", options=(
        "--read-only", "--tmpfs", "/var/run/postgresql", "--env", "POSTGRES_USER=app", "--env", "POSTGRES_PASSWORD_FILE=/run/secrets/password",
        "--env", "POSTGRES_DB=appdb",
        "--volume", secret + ":/run/secrets:ro",
        "--volume", data + ":/var/lib/postgresql/data",
        "--volume", initdb + ":/docker-entrypoint-initdb.d:ro"))
    bed.wait(db, *PG_READY)

    # Over the network, with the password; a wrong one is refused.
    assert psql(bed, "s3cret-from-file", "SELECT v FROM seeded ORDER BY v").stdout.split() == [
        "from-init-sh", "from-init-sql"]
    assert psql(bed, "s3cret-from-file", "SHOW max_connections").stdout.strip() == "42"
    wrong = psql(bed, "wrong", "SELECT 1", check=False)
    assert wrong.returncode != 0
    assert 'password authentication failed for user "app"' in wrong.stderr
    # The server runs as postgres (uid 999); the backup tools work against it.
    assert bed.uid_of(db, "postgres") == [999]
    dump = bed.once("postgres", "sh", "-c", "pg_dump --host db --username app --format custom appdb >/tmp/dump"
                    " && pg_restore --list /tmp/dump", options=("--env", "PGPASSWORD=s3cret-from-file"))
    assert "TABLE DATA public seeded app" in dump.stdout

    # SIGINT stops it cleanly; a new container on the same volume keeps the
    # data and the password (no POSTGRES_* needed any more).
    bed.stop(db)
    sh("docker", "rm", db)
    bed.containers.remove(db)
    db = bed.start("db", "postgres", options=("--volume", data + ":/var/lib/postgresql/data"))
    bed.wait(db, "pg_isready", "--host", "127.0.0.1")
    assert "Skipping initialization" in bed.logs(db)
    assert psql(bed, "s3cret-from-file", "SELECT count(*) FROM seeded").stdout.strip() == "2"
    assert psql(bed, "wrong", "SELECT 1", check=False).returncode != 0
    bed.stop(db)


# --- redis ------------------------------------------------------------------

def redis_cli(bed, *args, password=None):
    """redis-cli's answer (stdout and stderr) from a client container."""
    options = ("--env", "REDISCLI_AUTH=" + password) if password else ()
    result = bed.once("redis", "redis-cli", "-h", "cache", *args, options=options)
    return (result.stdout + result.stderr).strip()


def test_redis(bed):
    cache = bed.start("cache", "redis", "redis-server", "--requirepass", "s3cret",
                      options=("--volume", bed.volume("redis") + ":/data"))
    bed.wait(cache, "redis-cli", "-a", "s3cret", "--no-auth-warning", "ping")

    assert redis_cli(bed, "ping", password="s3cret") == "PONG"
    assert "NOAUTH" in redis_cli(bed, "ping")
    wrong = redis_cli(bed, "ping", password="wrong")
    assert "AUTH failed: WRONGPASS" in wrong and "PONG" not in wrong
    # Dropped to the redis user, which owns /data: a snapshot can be written.
    assert bed.uid_of(cache, "redis-server") == [999]
    assert redis_cli(bed, "save", password="s3cret") == "OK"
    assert redis_cli(bed, "config", "get", "protected-mode", password="s3cret").split() == ["protected-mode", "no"]
    bed.stop(cache)

    # Without a password too, other containers may connect (protected mode off).
    bed.wait(bed.start("open", "redis"), "redis-cli", "ping")
    assert bed.once("redis", "redis-cli", "-h", "open", "ping").stdout.strip() == "PONG"


# --- nginx ------------------------------------------------------------------

SITE = r"""
map $http_x_itest $itest_label {
    default  plain;
    special  mapped;
}
limit_req_zone $binary_remote_addr zone=itest:1m rate=100r/s;
ssl_protocols TLSv1.2 TLSv1.3;
gzip on;
gzip_types text/plain;
set_real_ip_from 10.0.0.0/8;
real_ip_header X-Forwarded-For;

server {
    listen 8080;
    http2 on;
    location / {
        limit_req zone=itest burst=10;
        default_type text/plain;
        return 200 "itest-ok $itest_label\n";
    }
    location = /nginx_status {
        stub_status;
    }
}
"""


def test_nginx(bed, tmp_path):
    conf = readable_dir(tmp_path / "conf.d", {"site.conf": SITE})
    web = bed.start("web", "nginx", options=(
        "--read-only", "--tmpfs", "/var/cache/nginx", "--tmpfs", "/run",
        "--volume", conf + ":/etc/nginx/conf.d:ro"))
    bed.wait(web, "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/")

    assert bed.once("nginx", "curl", "-fsS", "http://web:8080/").stdout == "itest-ok plain\n"
    assert bed.once("nginx", "curl", "-fsS", "-H", "X-Itest: special", "http://web:8080/").stdout == \
        "itest-ok mapped\n"
    assert "Active connections" in bed.once("nginx", "curl", "-fsS", "http://web:8080/nginx_status").stdout
    assert sh("docker", "exec", web, "nginx", "-t").returncode == 0
    # Workers as nginx (uid 101), the master as root; access log on stdout.
    assert bed.uid_of(web, "nginx: worker process") == [101]
    assert bed.uid_of(web, "nginx: master process") == [0]
    time.sleep(0.5)
    logs = sh("docker", "logs", web)
    assert '"GET /nginx_status HTTP/1.1" 200' in logs.stdout, logs.stdout + logs.stderr
    bed.stop(web)

    # Templates: /etc/nginx/templates/*.template -> conf.d with the environment.
    templates = readable_dir(tmp_path / "templates", {
        "default.conf.template": "server {\n    listen ${ITEST_PORT};\n"
                                 "    location / { return 200 \"templated $host\\n\"; }\n}\n"})
    templated = bed.start("templated", "nginx", options=(
        "--env", "ITEST_PORT=8081", "--volume", templates + ":/etc/nginx/templates:ro"))
    bed.wait(templated, "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8081/")
    assert bed.once("nginx", "curl", "-fsS", "http://templated:8081/").stdout == "templated templated\n"
    assert "Running envsubst on /etc/nginx/templates/default.conf.template" in bed.logs(templated)

    # The image's own default site serves /usr/share/nginx/html on :80.
    plain = bed.start("plain", "nginx")
    bed.wait(plain, "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1/")
    assert "Welcome to nginx!" in bed.once("nginx", "curl", "-fsS", "http://plain/").stdout


# --- the broken release of the example application -----------------------

def test_broken_release_cannot_be_served(bed):
    sh(sys.executable, os.path.join(REPO, "testbed", "imagectl.py"), "build", "myproject-django-broken",
       timeout=1800)
    broken, parent = bed.ref("myproject-django-broken"), bed.ref("myproject-django")
    user = "{{.Config.User}}"
    assert sh("docker", "image", "inspect", "--format", user, broken).stdout == \
        sh("docker", "image", "inspect", "--format", user, parent).stdout
    result = sh("docker", "run", "--rm", "--entrypoint", "gunicorn", broken, "--workers", "1",
                "myproject.wsgi:application", check=False, timeout=60)
    assert result.returncode != 0
    assert "Failed to find attribute 'application' in 'myproject.wsgi'" in result.stdout + result.stderr
