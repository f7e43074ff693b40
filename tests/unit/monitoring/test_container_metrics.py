"""prodkit-container-metrics (roles/monitoring): docker inspect -> textfile metrics.

The program is roles/monitoring/files/prodkit_container_metrics.py, run here
as the host runs it, against a fake `docker` on PATH (including a Docker that
fails, does not answer, or loses a container between `ps` and `inspect`); the
molecule scenario runs it against a real Docker (ContainerDown fires in
Alertmanager).
"""

import importlib.util
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PROGRAM = ROOT / "roles/monitoring/files/prodkit_container_metrics.py"


@pytest.fixture(scope="module")
def script():
    return PROGRAM


@pytest.fixture(scope="module")
def module():
    spec = importlib.util.spec_from_file_location("prodkit_container_metrics", PROGRAM)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_installed_with_the_hosts_interpreter_line():
    # ansible-test allows no python3 #! in a collection's files: the role adds it.
    tasks = yaml.safe_load((ROOT / "roles/monitoring/tasks/install.yml").read_text())
    dest = "/usr/local/sbin/prodkit-container-metrics"
    task = next(t for t in tasks if t.get("ansible.builtin.copy", {}).get("dest") == dest)
    content = task["ansible.builtin.copy"]["content"]
    assert content.startswith("#!/usr/bin/python3\n")
    assert "lookup('ansible.builtin.file', 'prodkit_container_metrics.py')" in content
    assert task["ansible.builtin.copy"]["mode"] == "0755"
    assert not PROGRAM.read_text().startswith("#!")


def container(name, service, running=True, health=None, restarts=0, oneoff=False, paused=False, project="myproject"):
    state = {"Running": running, "Paused": paused, "Restarting": False}
    if health:
        state["Health"] = {"Status": health}
    return {
        "Name": "/" + name,
        "RestartCount": restarts,
        "State": state,
        "Config": {"Labels": {
            "com.docker.compose.project": project,
            "com.docker.compose.service": service,
            "com.docker.compose.oneoff": "True" if oneoff else "False",
        }},
    }


def metrics(text):
    return {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1] for line in text.splitlines() if line and not line.startswith("#")}


def test_running_healthy_container(module):
    out = metrics(module.render([container("myproject-django-1", "django", health="healthy", restarts=2)], 1700000000))
    base = 'project="myproject",service="django",container="myproject-django-1"'
    assert out["prodkit_container_running{%s}" % base] == "1"
    assert out['prodkit_container_health_status{%s,status="healthy"}' % base] == "1"
    assert out['prodkit_container_health_status{%s,status="unhealthy"}' % base] == "0"
    assert out["prodkit_container_restart_count{%s}" % base] == "2"
    assert out["prodkit_container_metrics_last_run_timestamp_seconds"] == "1700000000"


def test_stopped_paused_and_unhealthy(module):
    out = metrics(module.render([
        container("a-1", "celery-beat", running=False),
        container("b-1", "redis", paused=True, health="healthy"),
        container("c-1", "django", health="unhealthy"),
    ], 0))
    assert out['prodkit_container_running{project="myproject",service="celery-beat",container="a-1"}'] == "0"
    assert out['prodkit_container_health_status{project="myproject",service="celery-beat",container="a-1",status="none"}'] == "1"
    assert out['prodkit_container_running{project="myproject",service="redis",container="b-1"}'] == "0"
    assert out['prodkit_container_health_status{project="myproject",service="django",container="c-1",status="unhealthy"}'] == "1"


def test_oneoff_containers_are_left_out(module):
    text = module.render([container("myproject-django-run-1", "django", oneoff=True, running=False)], 0)
    assert "django-run" not in text


def test_label_values_are_escaped(module):
    text = module.render([container('we"ird\\name', "svc")], 0)
    assert 'container="we\\"ird\\\\name"' in text


def test_every_series_has_help_and_type(module):
    text = module.render([container("x-1", "x")], 0)
    for name in ("prodkit_container_running", "prodkit_container_health_status", "prodkit_container_restart_count",
                 "prodkit_container_metrics_last_run_timestamp_seconds"):
        assert "# HELP %s " % name in text
        assert "# TYPE %s gauge" % name in text


def fake_docker(tmp_path, containers, fail=False, ps_ids="abc", inspect_script=None):
    """A docker on PATH: `ps` prints ps_ids, `inspect` prints the containers'
    JSON (or runs inspect_script); fail: both say the daemon is not there."""
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    docker = bindir / "docker"
    data = tmp_path / "inspect.json"
    data.write_text(json.dumps(containers))
    inspect = inspect_script or "cat %s" % data
    docker.write_text(
        "#!/bin/sh\n"
        + ("echo 'Cannot connect to the Docker daemon' >&2; exit 1\n" if fail else "")
        + 'case "$1" in ps) echo %s ;; inspect) %s ;; esac\n' % (ps_ids, inspect)
    )
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": "%s:%s" % (bindir, os.environ["PATH"])}


def run(script, env, *args):
    return subprocess.run([sys.executable, str(script), *args], env=env, capture_output=True, text=True, check=False)


def test_writes_the_file_atomically_and_readable(script, tmp_path):
    env = fake_docker(tmp_path, [container("myproject-db-1", "db", health="healthy")])
    out = tmp_path / "prodkit_containers.prom"
    subprocess.run([sys.executable, str(script), "--output", str(out)], check=True, env=env)
    assert 'service="db"' in out.read_text()
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".prodkit_containers.")] == []


def test_docker_failure_keeps_the_old_file(script, tmp_path):
    env = fake_docker(tmp_path, [], fail=True)
    out = tmp_path / "prodkit_containers.prom"
    out.write_text("old\n")
    proc = subprocess.run([sys.executable, str(script), "--output", str(out)], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "docker failed" in proc.stderr
    assert out.read_text() == "old\n"


def test_docker_not_answering_times_out_and_keeps_the_old_file(script, tmp_path):
    env = fake_docker(tmp_path, [], inspect_script="exec sleep 30")
    out = tmp_path / "prodkit_containers.prom"
    out.write_text("old\n")
    proc = run(script, env, "--output", str(out), "--timeout", "0.5")
    assert proc.returncode == 1
    assert "docker inspect did not answer within 0.5 s" in proc.stderr
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".prodkit_containers.")] == []


def test_a_container_removed_between_ps_and_inspect_is_left_out(script, tmp_path):
    # docker inspect prints the containers it found and exits 1 for the one
    # removed meanwhile: the others are still reported.
    data = tmp_path / "one.json"
    data.write_text(json.dumps([container("myproject-db-1", "db", health="healthy")]))
    env = fake_docker(tmp_path, [], ps_ids="abc def",
                      inspect_script="cat %s; echo 'Error: No such object: def' >&2; exit 1" % data)
    out = tmp_path / "prodkit_containers.prom"
    proc = run(script, env, "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert 'prodkit_container_running{project="myproject",service="db",container="myproject-db-1"} 1' in text
    assert text.count("prodkit_container_running{") == 1


def test_every_container_removed_between_ps_and_inspect(script, tmp_path):
    env = fake_docker(tmp_path, [], ps_ids="abc",
                      inspect_script="echo '[]'; echo 'Error response from daemon: No such container: abc' >&2; exit 1")
    proc = run(script, env)
    assert proc.returncode == 0, proc.stderr
    assert "prodkit_container_running{" not in proc.stdout
    assert "prodkit_container_metrics_last_run_timestamp_seconds " in proc.stdout


def test_no_compose_containers_at_all(script, tmp_path):
    env = fake_docker(tmp_path, [], ps_ids="", inspect_script="echo inspect must not run >&2; exit 1")
    proc = run(script, env)
    assert proc.returncode == 0, proc.stderr
    assert "prodkit_container_running{" not in proc.stdout


@pytest.mark.parametrize("inspect_script, message", [
    ("echo 'permission denied while trying to connect' >&2; exit 1", "docker inspect: permission denied"),
    ("echo 'Error: No such object: x' >&2; echo 'something else broke' >&2; exit 1", "something else broke"),
    ("echo 'not json'", "docker inspect printed no JSON"),
    ("echo '{}'", "docker inspect printed dict, not a list"),
    ("echo '[{\"Name\": \"/x\"}]'", "docker failed"),
])
def test_inspect_failures_keep_the_old_file(script, tmp_path, inspect_script, message):
    env = fake_docker(tmp_path, [], inspect_script=inspect_script)
    out = tmp_path / "prodkit_containers.prom"
    out.write_text("old\n")
    proc = run(script, env, "--output", str(out))
    assert proc.returncode == 1
    assert message in proc.stderr
    assert out.read_text() == "old\n"


def test_docker_missing_from_path(script, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run([sys.executable, str(script)], env={**os.environ, "PATH": str(empty)},
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "cannot run docker" in proc.stderr


def test_the_unit_passes_output_and_timeout():
    unit = (ROOT / "roles/monitoring/templates/prodkit-container-metrics.service.j2").read_text()
    assert ("ExecStart=/usr/local/sbin/prodkit-container-metrics --output {{ monitoring_textfile_dir }}"
            "/prodkit_containers.prom --timeout 30") in unit
