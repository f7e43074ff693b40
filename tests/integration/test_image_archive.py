"""prodkit.stack.image_archive against the machine's real Docker: an archive
made by `docker save` is loaded only when its images are missing, check mode
loads nothing, and a tarball that is not an image archive is refused."""

import json
import os
import subprocess
import sys
import tarfile
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
SOURCE = "prodkit-testbed/hello:1.0"


def docker(*args, check=True):
    result = subprocess.run(["docker"] + list(args), capture_output=True, text=True, check=False)
    if check:
        assert result.returncode == 0, "docker %s: %s" % (" ".join(args), result.stderr)
    return result


def module(*args, check_mode=False):
    cmd = [os.path.join(BIN, "ansible"), "localhost", "-m", "prodkit.stack.image_archive", "-a", " ".join(args)]
    if check_mode:
        cmd.append("--check")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".ansible", "collections"),
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    # The checkout's ansible.cfg also enables a timing callback that prints
    # around the JSON document.
    out, _end = json.JSONDecoder().raw_decode(result.stdout[result.stdout.index("{"):])
    return out["plays"][0]["tasks"][0]["hosts"]["localhost"]


@pytest.fixture
def archive(tmp_path):
    # The test bed's smallest image under a tag of this test's own.
    assert docker("image", "inspect", SOURCE, check=False).returncode == 0, \
        "%s is missing: run `make images` first" % SOURCE
    ref = "prodkit-itest/archive-%s:1" % uuid.uuid4().hex[:8]
    docker("tag", SOURCE, ref)
    path = str(tmp_path / "images.tar")
    docker("save", "-o", path, ref)
    image_id = docker("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()
    yield {"path": path, "ref": ref, "id": image_id}
    docker("image", "rm", ref, check=False)


def present(ref):
    return docker("image", "inspect", ref, check=False).returncode == 0


def test_loads_only_what_is_missing(archive):
    result = module("path=" + archive["path"])
    assert result["changed"] is False, result
    assert result["images"] == {archive["ref"]: archive["id"]}

    docker("image", "rm", archive["ref"])
    result = module("path=" + archive["path"], check_mode=True)
    assert result["changed"] is True and result["loaded"] == [archive["path"]], result
    assert result["changed_images"] == {archive["ref"]: None}
    assert not present(archive["ref"]), "check mode loaded the archive"

    result = module("path=" + archive["path"])
    assert result["changed"] is True, result
    assert docker("image", "inspect", "--format", "{{.Id}}", archive["ref"]).stdout.strip() == archive["id"]

    result = module("path=" + archive["path"])
    assert result["changed"] is False, result


def test_refuses_what_is_not_an_image_archive(tmp_path):
    path = tmp_path / "notes.tar"
    with tarfile.open(str(path), "w") as tar:
        note = tmp_path / "notes.txt"
        note.write_text("not an image")
        tar.add(str(note), arcname="notes.txt")
    result = module("path=" + str(path))
    assert result.get("failed") is True
    assert result["msg"] == "Error reading image archive %s: %s has no manifest.json: not an archive made by " \
                            "docker save" % (path, path)


def test_refuses_a_missing_file(tmp_path):
    path = str(tmp_path / "absent.tar")
    result = module("path=" + path)
    assert result.get("failed") is True
    assert result["msg"].startswith("Error reading image archive %s: no such file on " % path)
