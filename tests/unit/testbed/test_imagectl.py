"""The test bed's image cache: hashes, build order and catalogue checks."""

import os
import subprocess
import sys

import pytest

import imagectl

CATALOGUE = """
bases:
  deb:
    suite: trixie
    mirror: http://deb.debian.org/debian
images:
  host:
    from: deb
    context: host
  app:
    from: host
    context: app
    tags: ["1.0", latest]
sets:
  all: [app]
"""


@pytest.fixture
def bed(tmp_path):
    images = tmp_path / "images"
    for name in ("host", "app"):
        (images / name).mkdir(parents=True)
        (images / name / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    (images / "app" / "index.html").write_text("v1\n")
    catalogue = tmp_path / "images.yml"
    catalogue.write_text(CATALOGUE)
    return tmp_path


def load(bed):
    return imagectl.Catalogue(str(bed / "images.yml"), str(bed / "images"))


def test_hash_is_stable_for_unchanged_inputs(bed):
    assert load(bed).hash("app") == load(bed).hash("app")


@pytest.mark.parametrize("change, changed, unchanged", [
    (lambda b: (b / "images" / "app" / "index.html").write_text("v2\n"), ["app"], ["host", "deb"]),
    (lambda b: os.chmod(b / "images" / "app" / "index.html", 0o600), ["app"], ["host", "deb"]),
    (lambda b: (b / "images" / "app" / "new.txt").write_text("x"), ["app"], ["host", "deb"]),
    (lambda b: (b / "images" / "host" / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN true\n"),
     ["host", "app"], ["deb"]),
    (lambda b: (b / "images.yml").write_text(CATALOGUE.replace("suite: trixie", "suite: bookworm")),
     ["deb", "host", "app"], []),
    (lambda b: (b / "images.yml").write_text(CATALOGUE.replace('["1.0", latest]', '["2.0"]')), ["app"], ["host", "deb"]),
], ids=["file-content", "file-mode", "new-file", "parent-dockerfile", "base-suite", "tags"])
def test_hash_follows_everything_that_defines_an_image(bed, change, changed, unchanged):
    before = {name: load(bed).hash(name) for name in ("deb", "host", "app")}
    change(bed)
    after = {name: load(bed).hash(name) for name in ("deb", "host", "app")}
    assert [n for n in ("deb", "host", "app") if before[n] != after[n]] == sorted(changed, key=["deb", "host", "app"].index)
    for name in unchanged:
        assert before[name] == after[name]


def test_chain_builds_parents_first(bed):
    assert load(bed).chain("app") == ["deb", "host", "app"]


def test_refs(bed):
    cat = load(bed)
    assert cat.hash_ref("app") == "prodkit-testbed/app:h-%s" % cat.hash("app")
    assert cat.stable_refs("app") == ["prodkit-testbed/app:1.0", "prodkit-testbed/app:latest"]
    assert cat.stable_refs("host") == ["prodkit-testbed/host:latest"]


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.replace("from: host", "from: nowhere"), "image 'app': 'from: nowhere' is neither a base nor an image"),
    (lambda c: c.replace("all: [app]", "all: [ghost]"), "set 'all' lists unknown image 'ghost'"),
    (lambda c: c.replace("context: app", "context: missing"), "image 'app': no Dockerfile in"),
    (lambda c: c.replace("  app:\n", "  App:\n").replace("[app]", "[App]"), "image name 'App'"),
    (lambda c: c.replace("images:\n", "images:\n  deb:\n    from: host\n    context: host\n"),
     "names used both as base and image: deb"),
    (lambda c: c.replace("all: [app]", "all: {app: 1}"), "set 'all' must be a list of image names"),
    (lambda c: c.replace("context: app", "context: app\n    tag: x"), "image 'app': unknown key tag; known: from, context,"),
    (lambda c: c.replace("context: app", "context: app\n    build_args: {BASE_IMAGE: x}"),
     "image 'app': build_args may not set BASE_IMAGE; the builder passes the parent given by 'from'"),
    (lambda c: c.replace("context: app", "context: app\n    build_args: [X]"),
     "image 'app': build_args must be a mapping NAME: value"),
    (lambda c: c.replace("context: app", "context: app\n    pip_wheels: req.txt"),
     "image 'app': pip_wheels file req.txt is not in"),
    (lambda c: c.replace("context: host", "context: host\n    repository: app\n    tags: [latest]"),
     "images 'host' and 'app' both claim the tag prodkit-testbed/app:latest"),
], ids=["unknown-parent", "unknown-set-member", "missing-dockerfile", "bad-name", "base-and-image", "set-not-list",
        "unknown-key", "base-image-arg", "build-args-list", "missing-wheels-file", "tag-clash"])
def test_catalogue_errors_name_the_problem(bed, edit, message):
    (bed / "images.yml").write_text(edit(CATALOGUE))
    with pytest.raises(imagectl.TestbedError, match=None) as err:
        load(bed)
    assert message in str(err.value)


def test_repository_and_build_args(bed):
    (bed / "images.yml").write_text(CATALOGUE.replace(
        "context: app\n    tags", "context: app\n    repository: web\n    build_args: {APP_VERSION: '1.1'}\n    tags"))
    cat = load(bed)
    assert cat.stable_refs("app") == ["prodkit-testbed/web:1.0", "prodkit-testbed/web:latest"]
    assert cat.hash_ref("app") == "prodkit-testbed/app:h-%s" % cat.hash("app")
    before = cat.hash("app")
    (bed / "images.yml").write_text(CATALOGUE.replace(
        "context: app\n    tags", "context: app\n    repository: web\n    build_args: {APP_VERSION: '1.2'}\n    tags"))
    assert load(bed).hash("app") != before


def test_caches_are_not_part_of_the_hash(bed):
    before = load(bed).hash("app")
    (bed / "images" / "app" / "__pycache__").mkdir()
    (bed / "images" / "app" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (bed / "images" / "app" / "stale.pyc").write_bytes(b"\0")
    assert load(bed).hash("app") == before


@pytest.mark.parametrize("text, message", [
    ("flower\n", "'flower' is not pinned (name==version, with --hash)"),
    ("flower==2.0.1\n", "'flower==2.0.1' has no --hash=sha256:"),
])
def test_wheel_requirements_must_be_pinned_with_hashes(tmp_path, text, message):
    path = tmp_path / "req.txt"
    path.write_text(text)
    with pytest.raises(imagectl.TestbedError) as err:
        imagectl.wheel_requirements(str(path))
    assert message in str(err.value)


def test_wheel_requirements(tmp_path):
    path = tmp_path / "req.txt"
    path.write_text("# comment\nflower==2.0.1 \\\n    --hash=sha256:abc\n\nhumanize==4.0 --hash=sha256:def\n")
    assert imagectl.wheel_requirements(str(path)) == ["flower==2.0.1", "humanize==4.0"]


def test_unknown_image_lists_the_known_ones(bed):
    with pytest.raises(imagectl.TestbedError) as err:
        load(bed).chain("nope")
    assert "unknown image 'nope'; known: app, deb, host" in str(err.value)


def test_from_loop_is_reported(bed):
    looped = CATALOGUE.replace("from: deb\n    context: host", "from: app\n    context: host")
    (bed / "images.yml").write_text(looped)
    with pytest.raises(imagectl.TestbedError) as err:
        load(bed).chain("app")
    assert "'from' loop" in str(err.value)


def test_real_catalogue_is_valid():
    cat = imagectl.Catalogue()
    for name in cat.names():
        assert cat.chain(name)[-1] == name
    assert "testbed" in cat.sets
    assert "prodkit-testbed/myproject-django:1.2-broken" in cat.stable_refs("myproject-django-broken")


# --- contexts outside testbed/images, .dockerignore, wheels, build arguments --

def test_context_may_lie_outside_the_images_directory(bed):
    app = bed / "examples" / "web"
    app.mkdir(parents=True)
    (app / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    (bed / "images.yml").write_text(CATALOGUE.replace("context: app", "context: ../examples/web"))
    cat = load(bed)
    assert cat.context("app") == str(app)
    before = cat.hash("app")
    (app / "main.py").write_text("print(1)\n")
    assert load(bed).hash("app") != before


@pytest.mark.parametrize("ignore, path, ignored", [
    ("media", "media", True),
    ("media", "media/upload/a.png", True),
    ("media", "src/media", False),
    ("/media", "media/a.png", True),
    ("*.env", "prod.env", True),
    ("*.env", "conf/prod.env", False),
    ("**/*.env", "conf/prod.env", True),
    ("**/*.env", "prod.env", True),
    ("**/__pycache__", "a/b/__pycache__/x.pyc", True),
    ("docs/**", "docs/a/b.md", True),
    ("docs/**", "docsx/a.md", False),
    ("README*", "README.md", True),
    ("README*", "sub/README.md", False),
    ("?.txt", "a.txt", True),
    ("?.txt", "ab.txt", False),
    ("[ab].txt", "b.txt", True),
    ("[!ab].txt", "b.txt", False),
    ("[!ab].txt", "c.txt", True),
    ("a.b", "axb", False),
    ("*.md\n!KEEP.md", "KEEP.md", False),
    ("*.md\n!KEEP.md", "other.md", True),
    ("test\n!test/keep.py", "test/keep.py", False),
    ("test\n!test/keep.py", "test/drop.py", True),
    ("!x\nx", "x", True),
    ("# a comment\n\n  media  ", "media/x", True),
    ("Dockerfile\n.dockerignore", "Dockerfile", False),
    ("Dockerfile\n.dockerignore", ".dockerignore", False),
])
def test_dockerignore_rules_follow_docker(tmp_path, ignore, path, ignored):
    (tmp_path / ".dockerignore").write_text(ignore + "\n")
    assert imagectl.dockerignored(path, imagectl.dockerignore_rules(str(tmp_path))) is ignored


def test_no_dockerignore_means_no_rules(tmp_path):
    assert imagectl.dockerignore_rules(str(tmp_path)) == []
    assert imagectl.dockerignored("anything/at/all", []) is False


@pytest.mark.parametrize("path, counts", [
    ("media/upload.png", False),
    ("local.env", False),
    ("test/keep.py", True),
    ("test/drop.py", False),
    ("node_modules/left-pad/index.js", False),
    (".pytest_cache/v/cache/lastfailed", False),
    ("pkg/__pycache__/mod.cpython-311.pyc", False),
    ("pkg/mod.pyc", False),
    ("pkg/mod.py", True),
    ("wheels/flower-2.0.1-py2.py3-none-any.whl", True),
    (".dockerignore", True),
])
def test_hash_leaves_out_what_the_build_never_sees(bed, path, counts):
    (bed / "images" / "app" / ".dockerignore").write_text("media\n*.env\ntest\n!test/keep.py\n")
    before = load(bed).hash("app")
    target = bed / "images" / "app" / path
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.write_text(target.read_text() + "changed\n")
    else:
        target.write_text("new\n")
    assert (load(bed).hash("app") != before) is counts


def test_hash_covers_symlinks_without_following_them(bed):
    app = bed / "images" / "app"
    os.symlink("/nonexistent/target", app / "dangling")
    before = load(bed).hash("app")
    os.remove(app / "dangling")
    os.symlink("/other/target", app / "dangling")
    assert load(bed).hash("app") != before


@pytest.mark.parametrize("pin, files, present", [
    ("flower==2.0.1", ["flower-2.0.1-py2.py3-none-any.whl"], True),
    ("flower==2.0.1", ["flower-2.0.0-py2.py3-none-any.whl"], False),
    ("flower==2.0.1", ["flower-2.0.1.tar.gz"], False),
    ("flower==2.0.1", [], False),
    ("Django-Redis==5.4.0", ["django_redis-5.4.0-py3-none-any.whl"], True),
    ("zope.interface==6.0", ["zope_interface-6.0-cp311-cp311-manylinux_2_17_x86_64.whl"], True),
    ("flower==2.0.1", ["flower-2.0.10-py3-none-any.whl"], False),
])
def test_wheel_present(pin, files, present):
    assert imagectl.wheel_present(pin, files) is present


WHEELS_CATALOGUE = CATALOGUE.replace("context: app", "context: app\n    pip_wheels: req.txt")
FLOWER = "flower==2.0.1 \\\n    --hash=sha256:9db2c621eeefbc844c8dd88be64aef61e84e2deb29b271e02ab2b5b9f01068e2\n"


@pytest.fixture
def wheels_bed(bed, monkeypatch):
    """An image with pip_wheels; pip download is recorded, and writes a fake wheel."""
    (bed / "images" / "app" / "req.txt").write_text(FLOWER)
    (bed / "images.yml").write_text(WHEELS_CATALOGUE)
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        dest = cmd[cmd.index("-d") + 1]
        with open(os.path.join(dest, "flower-2.0.1-py2.py3-none-any.whl"), "w") as handle:
            handle.write("wheel")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(imagectl.subprocess, "run", fake_run)
    return bed, calls


def test_wheels_are_downloaded_once_before_hashing(wheels_bed):
    bed, calls = wheels_bed
    context = str(bed / "images" / "app")
    first = load(bed).hash("app")
    assert calls == [[imagectl.sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                      "--no-deps", "--only-binary=:all:", "--require-hashes",
                      "-r", os.path.join(context, "req.txt"), "-d", os.path.join(context, "wheels")]]
    # Present now: no second download, same hash.
    assert load(bed).hash("app") == first
    assert len(calls) == 1
    # The wheels are part of the hash.
    (bed / "images" / "app" / "wheels" / "flower-2.0.1-py2.py3-none-any.whl").write_text("other wheel")
    assert load(bed).hash("app") != first
    assert len(calls) == 1


def test_wheels_download_failure_is_reported(bed, monkeypatch):
    (bed / "images" / "app" / "req.txt").write_text(FLOWER)
    (bed / "images.yml").write_text(WHEELS_CATALOGUE)
    monkeypatch.setattr(imagectl.subprocess, "run", lambda cmd, **kwargs: subprocess.CompletedProcess(
        cmd, 1, "", "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES\n"))
    with pytest.raises(imagectl.TestbedError) as err:
        load(bed).hash("app")
    assert str(err.value) == "pip download for app failed: ERROR: THESE PACKAGES DO NOT MATCH THE HASHES"


def test_build_passes_the_parent_and_the_build_args(bed, monkeypatch):
    (bed / "images.yml").write_text(CATALOGUE.replace(
        "context: app\n    tags", "context: app\n    repository: web\n    build_args: {B: 2, A: 'x y'}\n    tags"))
    cat = load(bed)
    seen = {}
    monkeypatch.setattr(imagectl, "run_logged", lambda cmd, logfile, env: seen.update(cmd=cmd, env=env))
    imagectl.build_image(cat, "app", "/dev/null")
    assert seen["cmd"] == ["docker", "build", "--network", "host", "--build-arg", "BASE_IMAGE=" + cat.hash_ref("host"),
                           "--build-arg", "A=x y", "--build-arg", "B=2",
                           "--label", "org.prodkit.testbed.hash=" + cat.hash("app"),
                           "-t", "prodkit-testbed/app:h-" + cat.hash("app"), str(bed / "images" / "app")]
    assert seen["env"]["DOCKER_BUILDKIT"] == "0"


@pytest.mark.parametrize("entries, message", [
    ("  a:\n    from: deb\n    context: app\n    repository: web\n    tags: ['1']\n"
     "  b:\n    from: deb\n    context: app\n    repository: web\n    tags: ['2', '1']\n",
     "images 'a' and 'b' both claim the tag prodkit-testbed/web:1"),
    ("  web:\n    from: deb\n    context: app\n"
     "  b:\n    from: deb\n    context: app\n    repository: web\n",
     "images 'web' and 'b' both claim the tag prodkit-testbed/web:latest"),
], ids=["two-releases-one-tag", "repository-meets-name"])
def test_two_images_may_not_claim_one_tag(bed, entries, message):
    (bed / "images.yml").write_text(CATALOGUE.replace("images:\n", "images:\n" + entries))
    with pytest.raises(imagectl.TestbedError) as err:
        load(bed)
    assert str(err.value) == "%s: %s" % (bed / "images.yml", message)


def test_releases_of_one_repository_share_it(bed):
    releases = ("  a:\n    from: deb\n    context: app\n    repository: web\n    tags: ['1.0']\n"
                "  b:\n    from: deb\n    context: app\n    repository: web\n    tags: ['1.1']\n")
    (bed / "images.yml").write_text(CATALOGUE.replace("images:\n", "images:\n" + releases))
    cat = load(bed)
    assert cat.stable_refs("a") + cat.stable_refs("b") == ["prodkit-testbed/web:1.0", "prodkit-testbed/web:1.1"]
    assert cat.hash_ref("a") != cat.hash_ref("b")
    assert cat.hash_ref("b").startswith("prodkit-testbed/b:h-")


def test_a_long_build_says_what_it_does_while_it_runs(tmp_path, capsys):
    # No silent minutes: a heartbeat line with the elapsed time and the
    # build's last log line, then the result as before.
    logfile = str(tmp_path / "myimage.log")
    imagectl.run_logged([sys.executable, "-c", "import time; print('Step 3/7 : RUN apt-get install', flush=True); "
                         "time.sleep(0.5)"], logfile, heartbeat=0.2)
    out = capsys.readouterr().out
    assert "testbed: myimage              ... 0 s: Step 3/7 : RUN apt-get install" in out


def test_a_failed_build_still_shows_its_log(tmp_path):
    logfile = str(tmp_path / "broken.log")
    with pytest.raises(imagectl.TestbedError) as exc:
        imagectl.run_logged([sys.executable, "-c", "print('E: Unable to locate package nope'); raise SystemExit(100)"],
                            logfile, heartbeat=5)
    assert "failed (exit 100)" in str(exc.value) and "Unable to locate package nope" in str(exc.value)
