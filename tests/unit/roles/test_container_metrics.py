"""prodkit-container-metrics (roles/monitoring): docker inspect -> textfile metrics.

The script is rendered from its template as the role does; the molecule
scenario runs it against a real Docker (ContainerDown fires in Alertmanager).
"""

import importlib.util
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "roles/monitoring/templates/prodkit-container-metrics.py.j2"


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    # Rendered with Jinja as the template module does (ansible_managed aside).
    env = jinja2.Environment(keep_trailing_newline=True)
    env.filters["comment"] = lambda value: "#\n# %s\n#" % value
    text = env.from_string(TEMPLATE.read_text()).render(ansible_managed="Ansible managed")
    assert text.startswith("#!/usr/bin/python3\n")
    path = tmp_path_factory.mktemp("bin") / "prodkit-container-metrics"
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def module(script):
    spec = importlib.util.spec_from_loader("pcm", loader=None)
    mod = importlib.util.module_from_spec(spec)
    exec(compile(script.read_text(), str(script), "exec"), mod.__dict__)  # noqa: S102 - our own script
    return mod


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


def fake_docker(tmp_path, containers, fail=False):
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    docker = bindir / "docker"
    data = tmp_path / "inspect.json"
    data.write_text(json.dumps(containers))
    docker.write_text(
        "#!/bin/sh\n"
        + ("echo 'Cannot connect to the Docker daemon' >&2; exit 1\n" if fail else "")
        + 'case "$1" in ps) echo abc ;; inspect) cat %s ;; esac\n' % data
    )
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": "%s:%s" % (bindir, os.environ["PATH"])}


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
