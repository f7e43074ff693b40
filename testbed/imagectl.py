"""Build, cache and export the offline test bed's container images.

No container registry is reachable from the machines that develop and test
prodkit.stack, so every image is built here: base root file systems with
debootstrap, everything else with `docker build` on top of them (Debian
packages only). testbed/images.yml is the catalogue; testbed/README.md
explains how to add an image.

Each image is tagged ``prodkit-testbed/<name>:h-<hash>`` where the hash
covers everything that defines it: its catalogue entry, every file of its
build context, its parent's hash and this script's RECIPE_VERSION. A build
whose hash tag already exists is skipped, so a second `make test` on the
same machine rebuilds nothing. Archives (one per set, `docker save` of all
its images under their stable tags) are cached by the same hashes.

Usage:
  imagectl.py build [NAME ...]          build images (default: all)
  imagectl.py export SET [-o PATH]      build a set and write its archive
  imagectl.py ref NAME                  print the stable reference of NAME
  imagectl.py list                      show every image, hash and state
  imagectl.py prune                     remove hash tags that are not current
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

import yaml

# Bump to force a rebuild of everything (e.g. after changing how bases are
# made in this script).
RECIPE_VERSION = "1"

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CATALOGUE = os.path.join(HERE, "images.yml")
IMAGES_DIR = os.path.join(HERE, "images")
STATE_DIR = os.environ.get("PRODKIT_TESTBED_DIR", os.path.join(REPO, ".testbed"))
REPOSITORY = "prodkit-testbed"

SECURITY_MIRROR = "http://deb.debian.org/debian-security"


class TestbedError(Exception):
    """A failure the operator can act on; printed without a traceback."""


# Keys of an image entry in images.yml.
IMAGE_KEYS = ("from", "context", "tags", "repository", "build_args", "pip_wheels")

# Never part of an image's content hash: caches that come and go.
HASH_IGNORED = ("__pycache__", ".pytest_cache", "node_modules", ".mypy_cache")
HASH_IGNORED_SUFFIXES = (".pyc", ".pyo")


def log(msg):
    print("testbed: %s" % msg, flush=True)


def load_catalogue(path=CATALOGUE, images_dir=IMAGES_DIR):
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    bases = data.get("bases") or {}
    images = data.get("images") or {}
    sets = data.get("sets") or {}
    for name in list(bases) + list(images):
        if not name.replace("-", "").replace("_", "").isalnum() or name != name.lower():
            raise TestbedError("image name %r in %s: use lower-case letters, digits, '-'" % (name, path))
    clash = set(bases) & set(images)
    if clash:
        raise TestbedError("%s: names used both as base and image: %s" % (path, ", ".join(sorted(clash))))
    tag_owner = {}
    for name, spec in images.items():
        parent = spec.get("from")
        if parent not in bases and parent not in images:
            raise TestbedError("%s: image %r: 'from: %s' is neither a base nor an image" % (path, name, parent))
        unknown = sorted(set(spec) - set(IMAGE_KEYS))
        if unknown:
            raise TestbedError("%s: image %r: unknown key%s %s; known: %s"
                               % (path, name, "s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(IMAGE_KEYS)))
        context = os.path.normpath(os.path.join(images_dir, spec.get("context", name)))
        if not os.path.isfile(os.path.join(context, "Dockerfile")):
            raise TestbedError("%s: image %r: no Dockerfile in %s" % (path, name, context))
        build_args = spec.get("build_args") or {}
        if not isinstance(build_args, dict):
            raise TestbedError("%s: image %r: build_args must be a mapping NAME: value" % (path, name))
        if "BASE_IMAGE" in build_args:
            raise TestbedError("%s: image %r: build_args may not set BASE_IMAGE; the builder passes the parent "
                               "given by 'from'" % (path, name))
        wheels = spec.get("pip_wheels")
        if wheels and not os.path.isfile(os.path.join(context, wheels)):
            raise TestbedError("%s: image %r: pip_wheels file %s is not in %s" % (path, name, wheels, context))
        repository = spec.get("repository", name)
        for tag in spec.get("tags") or ["latest"]:
            ref = "%s:%s" % (repository, tag)
            if ref in tag_owner:
                raise TestbedError("%s: images %r and %r both claim the tag %s/%s"
                                   % (path, tag_owner[ref], name, REPOSITORY, ref))
            tag_owner[ref] = name
    for set_name, members in sets.items():
        if not isinstance(members, list):
            raise TestbedError("%s: set %r must be a list of image names" % (path, set_name))
        for member in members or []:
            if member not in images and member not in bases:
                raise TestbedError("%s: set %r lists unknown image %r" % (path, set_name, member))
    return bases, images, sets


def _ignore_regex(pattern):
    """Translate one .dockerignore pattern (Go filepath.Match plus `**`) into a regex."""
    out, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        elif ch == "[":
            start = i + 1 + (pattern[i + 1:i + 2] in ("!", "^"))
            end = pattern.find("]", start + 1)
            if end < 0:
                out += re.escape(ch)
            else:
                negate = "^" if start > i + 1 else ""
                out += "[" + negate + pattern[start:end].replace("[", "\\[") + "]"
                i = end
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + r"\Z", re.DOTALL)


def dockerignore_rules(context):
    """The (regex, exception) rules of context/.dockerignore, in order.

    Docker's rules: '#' starts a comment line, a leading '/' is dropped,
    '!' makes an exception, and a pattern that matches a directory matches
    everything below it; the last matching rule decides.
    """
    path = os.path.join(context, ".dockerignore")
    if not os.path.isfile(path):
        return []
    rules = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            exception = line.startswith("!")
            if exception:
                line = line[1:].strip()
            line = os.path.normpath(line).lstrip("/") if line else line
            if line in ("", "."):
                continue
            rules.append((_ignore_regex(line), exception))
    return rules


def dockerignored(rel, rules):
    """Whether Docker leaves rel (a '/'-separated path in the context) out of the build context."""
    if rel in ("Dockerfile", ".dockerignore"):
        return False  # Docker always sends these two.
    parts = rel.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    ignored = False
    for regex, exception in rules:
        if any(regex.match(candidate) for candidate in candidates):
            ignored = not exception
    return ignored


def tree_digest(path):
    """Hash the names, modes and contents of every file below path.

    Left out: caches (HASH_IGNORED, *.pyc) and whatever the context's
    .dockerignore keeps out of the build.
    """
    rules = dockerignore_rules(path)
    prune_dirs = not any(exception for _regex, exception in rules)
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        rel_root = os.path.relpath(root, path).replace(os.sep, "/")
        rel_root = "" if rel_root == "." else rel_root + "/"
        kept = sorted(d for d in dirs if d not in HASH_IGNORED)
        if prune_dirs:
            # Without exceptions nothing below an ignored directory comes back.
            kept = [d for d in kept if not dockerignored(rel_root + d, rules)]
        dirs[:] = kept
        for name in sorted(files):
            rel = rel_root + name
            if name.endswith(HASH_IGNORED_SUFFIXES) or dockerignored(rel, rules):
                continue
            full = os.path.join(root, name)
            info = os.lstat(full)
            digest.update(("%s\0%o\0" % (rel, info.st_mode & 0o777)).encode())
            if stat.S_ISLNK(info.st_mode):
                digest.update(b"symlink\0" + os.readlink(full).encode())
            else:
                with open(full, "rb") as handle:
                    for chunk in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(chunk)
            digest.update(b"\0")
    return digest.hexdigest()


class Catalogue(object):
    def __init__(self, path=CATALOGUE, images_dir=IMAGES_DIR):
        self.images_dir = images_dir
        self.bases, self.images, self.sets = load_catalogue(path, images_dir)
        self._hashes = {}

    def names(self):
        return list(self.bases) + list(self.images)

    def parent(self, name):
        return self.images[name]["from"] if name in self.images else None

    def context(self, name):
        return os.path.normpath(os.path.join(self.images_dir, self.images[name].get("context", name)))

    def chain(self, name, seen=()):
        """Return name's ancestors then name, oldest first."""
        if name in seen:
            raise TestbedError("images.yml: 'from' loop through %s" % " -> ".join(seen + (name,)))
        if name not in self.bases and name not in self.images:
            raise TestbedError("unknown image %r; known: %s" % (name, ", ".join(sorted(self.names()))))
        parent = self.parent(name)
        return (self.chain(parent, seen + (name,)) if parent else []) + [name]

    def hash(self, name):
        if name not in self._hashes:
            digest = hashlib.sha256()
            digest.update(("recipe=%s\n" % RECIPE_VERSION).encode())
            if name in self.bases:
                digest.update(json.dumps(self.bases[name], sort_keys=True).encode())
            else:
                spec = self.images[name]
                fetch_wheels(self, name)
                digest.update(json.dumps(spec, sort_keys=True).encode())
                digest.update(self.hash(spec["from"]).encode())
                digest.update(tree_digest(self.context(name)).encode())
            self._hashes[name] = digest.hexdigest()[:16]
        return self._hashes[name]

    def hash_ref(self, name):
        return "%s/%s:h-%s" % (REPOSITORY, name, self.hash(name))

    def stable_refs(self, name):
        spec = self.images.get(name, {})
        tags = spec.get("tags") or ["latest"]
        return ["%s/%s:%s" % (REPOSITORY, spec.get("repository", name), tag) for tag in tags]


def wheel_requirements(path):
    """The pinned 'name==version' lines of a pip requirements file."""
    pins = []
    with open(path, encoding="utf-8") as handle:
        for line in handle.read().replace("\\\n", " ").splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            requirement = line.split()[0]
            if "==" not in requirement:
                raise TestbedError("%s: %r is not pinned (name==version, with --hash)" % (path, requirement))
            if "--hash=" not in line:
                raise TestbedError("%s: %r has no --hash=sha256:... (pip download --require-hashes needs one)"
                                   % (path, requirement))
            pins.append(requirement)
    return pins


def wheel_present(pin, filenames):
    """Whether filenames hold a wheel for pin ('name==version'), by the wheel naming rules."""
    project, version = pin.split("==", 1)
    prefix = "%s-%s-" % (re.sub(r"[-_.]+", "_", project).lower(), version.replace("-", "_"))
    return any(f.lower().startswith(prefix.lower()) and f.endswith(".whl") for f in filenames)


def fetch_wheels(cat, name):
    """Download an image's PyPI-only wheels into <context>/wheels (once).

    The requirements are pinned with hashes, so the wheels are the same
    files every time and may be part of the content hash.
    """
    spec = cat.images[name]
    if not spec.get("pip_wheels"):
        return
    context = cat.context(name)
    requirements = os.path.join(context, spec["pip_wheels"])
    dest = os.path.join(context, "wheels")
    pins = wheel_requirements(requirements)
    present = os.listdir(dest) if os.path.isdir(dest) else []
    if all(wheel_present(pin, present) for pin in pins):
        return
    os.makedirs(dest, exist_ok=True)
    log("%-20s downloading wheels: %s" % (name, ", ".join(pins)))
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                             "--no-deps", "--only-binary=:all:", "--require-hashes", "-r", requirements,
                             "-d", dest], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise TestbedError("pip download for %s failed: %s" % (name, (result.stderr or result.stdout).strip()))


def docker(*args, **kwargs):
    return subprocess.run(["docker"] + list(args), check=False, **kwargs)


def image_exists(ref):
    return docker("image", "inspect", ref, stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL).returncode == 0


HEARTBEAT_SECONDS = 30


def last_line(logfile, width=100):
    """The last non-empty line of a log file, shortened: what a build is doing now."""
    try:
        with open(logfile, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 4096))
            lines = [line.strip() for line in handle.read().decode("utf-8", "replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:width] if lines else ""


def run_logged(cmd, logfile, heartbeat=HEARTBEAT_SECONDS, **kwargs):
    """Run cmd with its output in logfile; say every `heartbeat` seconds that
    it still runs and what it does (no silent minutes); on failure show the
    log's tail."""
    started = time.time()
    with open(logfile, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **kwargs)
        while True:
            try:
                proc.wait(timeout=heartbeat)
                break
            except subprocess.TimeoutExpired:
                log("%-20s ... %.0f s: %s" % (os.path.splitext(os.path.basename(logfile))[0], time.time() - started,
                                              last_line(logfile)))
    result = proc
    if result.returncode != 0:
        with open(logfile, "rb") as handle:
            tail = handle.read()[-4000:].decode("utf-8", "replace")
        raise TestbedError("%s failed (exit %d); last lines of %s:\n%s"
                           % (" ".join(cmd[:3]), result.returncode, logfile, tail))


def build_base(cat, name, logfile):
    spec = cat.bases[name]
    if os.geteuid() != 0:
        raise TestbedError("building base %s needs root (debootstrap)" % name)
    if not shutil.which("debootstrap"):
        raise TestbedError("debootstrap is not installed: apt-get install -y debootstrap")
    suite = spec["suite"]
    tmp = tempfile.mkdtemp(prefix="rootfs-%s-" % name, dir=STATE_DIR)
    rootfs = os.path.join(tmp, "rootfs")
    try:
        cmd = ["debootstrap", "--variant=" + spec.get("variant", "minbase")]
        if spec.get("include"):
            cmd.append("--include=" + ",".join(spec["include"]))
        cmd += [suite, rootfs, spec["mirror"]]
        run_logged(cmd, logfile)
        # Updates and security updates too, as on a real server.
        os.remove(os.path.join(rootfs, "etc/apt/sources.list"))
        with open(os.path.join(rootfs, "etc/apt/sources.list.d/debian.sources"), "w") as src:
            src.write(
                "Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n"
                "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
                "Types: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n"
                "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
                % (spec["mirror"], suite, suite, SECURITY_MIRROR, suite))
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in os.listdir(os.path.join(rootfs, junk)):
                full = os.path.join(rootfs, junk, entry)
                if os.path.isfile(full):
                    os.remove(full)
        tar = subprocess.Popen(["tar", "-C", rootfs, "--numeric-owner", "-c", "."],
                               stdout=subprocess.PIPE)
        with open(logfile, "ab") as out:
            result = docker("import", "--change", 'CMD ["/bin/bash"]',
                            "--change", "LABEL org.prodkit.testbed.hash=%s" % cat.hash(name),
                            "-", cat.hash_ref(name), stdin=tar.stdout, stdout=out, stderr=out)
        tar.stdout.close()
        if tar.wait() != 0 or result.returncode != 0:
            raise TestbedError("importing %s into Docker failed; see %s" % (name, logfile))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_image(cat, name, logfile):
    cmd = ["docker", "build", "--network", "host",
           "--build-arg", "BASE_IMAGE=" + cat.hash_ref(cat.parent(name))]
    for key, value in sorted((cat.images[name].get("build_args") or {}).items()):
        cmd += ["--build-arg", "%s=%s" % (key, value)]
    cmd += ["--label", "org.prodkit.testbed.hash=" + cat.hash(name),
            "-t", cat.hash_ref(name), cat.context(name)]
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    run_logged(cmd, logfile, env=env)


def build(cat, names):
    os.makedirs(os.path.join(STATE_DIR, "logs"), exist_ok=True)
    order = []
    for name in names:
        for link in cat.chain(name):
            if link not in order:
                order.append(link)
    for name in order:
        ref = cat.hash_ref(name)
        if image_exists(ref):
            log("%-20s cached   %s" % (name, ref))
        else:
            logfile = os.path.join(STATE_DIR, "logs", "%s.log" % name)
            started = time.time()
            log("%-20s building (log: %s)" % (name, os.path.relpath(logfile, REPO)))
            if name in cat.bases:
                build_base(cat, name, logfile)
            else:
                build_image(cat, name, logfile)
            log("%-20s built    %s in %.0f s" % (name, ref, time.time() - started))
        for stable in cat.stable_refs(name):
            if docker("tag", ref, stable).returncode != 0:
                raise TestbedError("docker tag %s %s failed" % (ref, stable))
    return order


def export(cat, set_name, output=None):
    if set_name not in cat.sets:
        raise TestbedError("unknown set %r; sets: %s" % (set_name, ", ".join(sorted(cat.sets))))
    members = cat.sets[set_name] or []
    build(cat, members)
    digest = hashlib.sha256(" ".join(cat.hash(m) for m in members).encode()).hexdigest()[:16]
    archive_dir = os.path.join(STATE_DIR, "archives")
    os.makedirs(archive_dir, exist_ok=True)
    cached = os.path.join(archive_dir, "%s-%s.tar" % (set_name, digest))
    if os.path.exists(cached):
        log("archive %-12s cached   %s" % (set_name, os.path.relpath(cached, REPO)))
    else:
        refs = [ref for m in members for ref in cat.stable_refs(m)]
        partial = cached + ".partial"
        result = docker("save", "-o", partial, *refs)
        if result.returncode != 0:
            raise TestbedError("docker save of %s failed" % ", ".join(refs))
        os.rename(partial, cached)
        log("archive %-12s written  %s (%d MiB)" % (
            set_name, os.path.relpath(cached, REPO), os.path.getsize(cached) >> 20))
        # Older archives of this set are stale now.
        for entry in os.listdir(archive_dir):
            if entry.startswith(set_name + "-") and entry != os.path.basename(cached):
                os.remove(os.path.join(archive_dir, entry))
    # What the archive must give a host: stable reference -> image ID.
    ids = {}
    for ref in (r for m in members for r in cat.stable_refs(m)):
        out = docker("image", "inspect", "--format", "{{.Id}}", ref, stdout=subprocess.PIPE, text=True)
        ids[ref] = out.stdout.strip()
    with open(os.path.join(archive_dir, "%s.ids" % set_name), "w") as handle:
        json.dump(ids, handle, indent=2, sort_keys=True)
    output = output or os.path.join(archive_dir, "%s.tar" % set_name)
    if os.path.abspath(output) != os.path.abspath(cached):
        if os.path.lexists(output):
            os.remove(output)
        try:
            os.link(cached, output)
        except OSError:
            shutil.copyfile(cached, output)
    return output


def list_images(cat):
    for name in cat.names():
        state = "present" if image_exists(cat.hash_ref(name)) else "missing"
        kind = "base" if name in cat.bases else "from " + cat.parent(name)
        print("%-20s %-8s %-22s %s" % (name, state, kind, " ".join(cat.stable_refs(name))))


def prune(cat):
    current = set(cat.hash_ref(n) for n in cat.names())
    out = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                 "--filter", "reference=%s/*:h-*" % REPOSITORY,
                 stdout=subprocess.PIPE, text=True)
    for ref in out.stdout.split():
        if ref not in current:
            log("removing stale %s" % ref)
            docker("image", "rm", ref, stdout=subprocess.DEVNULL)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="build images (default: all)")
    p_build.add_argument("names", nargs="*")
    p_export = sub.add_parser("export", help="build a set and write its archive")
    p_export.add_argument("set")
    p_export.add_argument("-o", "--output")
    p_ref = sub.add_parser("ref", help="print the stable reference of an image")
    p_ref.add_argument("name")
    sub.add_parser("list", help="show images, hashes and state")
    sub.add_parser("prune", help="remove hash tags that are no longer current")
    args = parser.parse_args(argv)
    try:
        cat = Catalogue()
        if args.command == "build":
            build(cat, args.names or cat.names())
        elif args.command == "export":
            print(export(cat, args.set, args.output))
        elif args.command == "ref":
            cat.chain(args.name)
            print(cat.stable_refs(args.name)[0])
        elif args.command == "list":
            list_images(cat)
        elif args.command == "prune":
            prune(cat)
    except TestbedError as exc:
        print("testbed: ERROR: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
