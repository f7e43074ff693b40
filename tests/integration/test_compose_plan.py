"""prodkit.stack.compose_plan against the machine's real Docker and Compose v2
(`.ci/run` installs the plugin): a running project is planned service by
service the way `docker compose up` then behaves."""

import json
import os
import subprocess
import sys
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
IMAGE = "prodkit-testbed/hello:1.0"

COMPOSE = """
name: {project}
services:
  web:
    image: {web_image}
    environment:
      GREETING: ${{GREETING:?GREETING must be set}}
  worker:
    image: {IMAGE}
    deploy:
      replicas: {replicas}
{extra}
"""


def sh(*args, check=True, **kwargs):
    result = subprocess.run(list(args), capture_output=True, text=True, check=False, **kwargs)
    if check:
        assert result.returncode == 0, "%s: %s %s" % (" ".join(args), result.stdout, result.stderr)
    return result


def plan(project, directory, check_mode=False, **extra):
    args = {"project": project, "project_dir": str(directory), "files": [str(directory / "compose.yml")]}
    args.update(extra)
    cmd = [os.path.join(BIN, "ansible"), "localhost", "-m", "prodkit.stack.compose_plan", "-a", json.dumps(args)]
    if check_mode:
        cmd += ["--check", "--diff"]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".ansible", "collections"),
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    out, _end = json.JSONDecoder().raw_decode(result.stdout[result.stdout.index("{"):])
    return out["plays"][0]["tasks"][0]["hosts"]["localhost"]


def write(directory, project, web_image=IMAGE, replicas=1, greeting="hello", extra=""):
    (directory / "compose.yml").write_text(COMPOSE.format(project=project, web_image=web_image, IMAGE=IMAGE,
                                                          replicas=replicas, extra=extra))
    (directory / ".env").write_text("GREETING=%s\n" % greeting)


@pytest.fixture
def project(tmp_path):
    assert sh("docker", "compose", "version", check=False).returncode == 0, \
        "docker compose (v2) is missing on this machine: .ci/run installs it"
    assert sh("docker", "image", "inspect", IMAGE, check=False).returncode == 0, "run `make images` first"
    name = "prodkit-itest-%s" % uuid.uuid4().hex[:8]
    retag = "prodkit-itest/hello-%s:2" % uuid.uuid4().hex[:8]
    yield {"name": name, "dir": tmp_path, "retag": retag}
    sh("docker", "compose", "--project-name", name, "--project-directory", str(tmp_path), "down", "--volumes",
       check=False)
    sh("docker", "image", "rm", retag, check=False)


def up(project):
    sh("docker", "compose", "--project-name", project["name"], "--project-directory", str(project["dir"]),
       "--file", str(project["dir"] / "compose.yml"), "up", "--detach", "--wait", "--remove-orphans")


def test_plan_follows_what_compose_does(project):
    name, directory = project["name"], project["dir"]
    write(directory, name)

    result = plan(name, directory)
    assert result["changed"] is True
    assert result["changed_services"] == ["web", "worker"]
    assert result["services"]["web"]["action"] == "create"

    up(project)
    result = plan(name, directory)
    assert result["changed"] is False, result["summary"]
    assert [s["action"] for s in result["services"].values()] == ["keep", "keep"]

    # A new value in the .env changes the interpolated configuration.
    write(directory, name, greeting="bonjour")
    result = plan(name, directory, check_mode=True)
    assert result["changed_services"] == ["web"]
    assert result["services"]["web"]["reasons"] == ["configuration changed"]
    assert "compose project %s:" % name in result["diff"]["prepared"]
    assert result["diff"]["prepared"].count("recreate") == 1
    # The resolved model carries the interpolated values: never returned.
    assert "bonjour" not in json.dumps(result)

    # Another image under a new reference: old and new image IDs are named.
    sh("docker", "tag", IMAGE, project["retag"])
    write(directory, name, web_image=project["retag"], greeting="bonjour", replicas=2)
    result = plan(name, directory)
    web, worker = result["services"]["web"], result["services"]["worker"]
    assert web["action"] == "recreate"
    assert worker == dict(worker, action="scale", reasons=["replicas 1 -> 2"])
    # Same image content, so the ID is the same: only the configuration changed.
    assert web["image_id_before"] == web["image_id_after"]

    # A one-off service (profile) is not part of the plan; a service that
    # left the stack is removed.
    (directory / "compose.yml").write_text(
        "name: %s\nservices:\n  web:\n    image: %s\n    environment:\n      GREETING: ${GREETING}\n"
        "  sync:\n    image: %s\n    profiles: [deploy]\n" % (name, IMAGE, IMAGE))
    result = plan(name, directory)
    assert "sync" not in result["services"]
    assert result["services"]["worker"] == dict(result["services"]["worker"], action="remove")


def test_placeholders_for_a_missing_env(project):
    name, directory = project["name"], project["dir"]
    write(directory, name)
    os.remove(str(directory / ".env"))
    result = plan(name, directory, placeholder_env=["GREETING"])
    assert result["changed_services"] == ["web", "worker"]
    assert not (directory / ".env").exists()

    result = plan(name, directory)
    assert result.get("failed") is True
    assert result["msg"].startswith("Error hashing the services of")
    assert "GREETING must be set" in result["msg"]
