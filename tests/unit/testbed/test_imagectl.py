"""The test bed's image cache: hashes, build order and catalogue checks."""

import os

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
