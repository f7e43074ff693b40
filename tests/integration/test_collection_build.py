"""The collection builds into a tarball that installs, whose roles, modules
and playbooks resolve by FQCN from the installed copy, and which leaves the
development files out."""

import json
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def run(args, cwd, env=None):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, "%s failed:\n%s\n%s" % (" ".join(args), result.stdout, result.stderr)
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("build")
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", REPO, "--output-path", str(work)], cwd=str(work))
    version = yaml.safe_load(open(os.path.join(REPO, "galaxy.yml")))["version"]
    tarball = work / ("prodkit-stack-%s.tar.gz" % version)
    assert tarball.is_file()
    dest = work / "collections"
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "--no-deps",
         "-p", str(dest), str(tarball)], cwd=str(work))
    # Only the installed copy and the collections bundled with ansible; not
    # the checkout (run from a directory without ansible.cfg).
    config = work / "ansible.cfg"
    config.write_text("[defaults]\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(dest), ANSIBLE_CONFIG=str(config))
    return {"tarball": tarball, "dest": dest, "env": env, "cwd": str(work)}


def test_tarball_leaves_development_files_out(installed):
    with tarfile.open(str(installed["tarball"])) as tar:
        names = tar.getnames()
    for forbidden in ("molecule/", "testbed/", "tests/", ".ci/", "Makefile", ".venv/", ".testbed/", "requirements/",
                      "examples/"):
        assert not [n for n in names if n.startswith(forbidden) or n == forbidden.rstrip("/")], forbidden
    for needed in ("MANIFEST.json", "roles/firewall/meta/argument_specs.yml", "playbooks/site.yml", "meta/runtime.yml"):
        assert needed in names


@pytest.mark.parametrize("role", ["firewall", "security_baseline", "docker_host", "compose_stack", "nginx_certbot", "backups", "monitoring"])
def test_roles_resolve_by_fqcn_from_the_installed_copy(installed, role):
    out = run([os.path.join(BIN, "ansible-doc"), "-t", "role", "-j", "prodkit.stack." + role],
              cwd=installed["cwd"], env=installed["env"])
    doc = json.loads(out)["prodkit.stack." + role]
    assert str(installed["dest"]) in doc["path"]
    assert "main" in doc["entry_points"]


def test_modules_resolve_by_fqcn_from_the_installed_copy(installed):
    modules_dir = os.path.join(REPO, "plugins", "modules")
    modules = sorted(f[:-3] for f in os.listdir(modules_dir)
                     if f.endswith(".py") and not f.startswith("_")) if os.path.isdir(modules_dir) else []
    if not modules:
        pytest.skip("the collection has no modules yet")
    out = run([os.path.join(BIN, "ansible-doc"), "-t", "module", "-j"] + ["prodkit.stack." + m for m in modules],
              cwd=installed["cwd"], env=installed["env"])
    assert sorted(json.loads(out)) == ["prodkit.stack." + m for m in modules]


def test_filters_resolve_by_fqcn_from_the_installed_copy(installed):
    filters = sorted(f[:-4] for f in os.listdir(os.path.join(REPO, "plugins", "filter")) if f.endswith(".yml"))
    assert filters, "plugins/filter holds the documented filters"
    out = run([os.path.join(BIN, "ansible-doc"), "-t", "filter", "-j"] + ["prodkit.stack." + f for f in filters],
              cwd=installed["cwd"], env=installed["env"])
    assert sorted(json.loads(out)) == ["prodkit.stack." + f for f in filters]


@pytest.mark.parametrize("playbook", ["site", "deploy", "rollback", "manage", "restart", "status"])
def test_playbooks_resolve_by_fqcn(installed, playbook):
    inventory = os.path.join(installed["cwd"], "hosts.yml")
    with open(inventory, "w") as handle:
        handle.write("prodkit:\n  hosts:\n    demo:\n      ansible_connection: local\n")
    out = run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, "--syntax-check", "prodkit.stack." + playbook],
              cwd=installed["cwd"], env=installed["env"])
    assert "playbook: %s/ansible_collections/prodkit/stack/playbooks/%s.yml" % (installed["dest"], playbook) in out


def test_site_playbook_resolves_by_fqcn(installed):
    inventory = os.path.join(installed["cwd"], "hosts.yml")
    with open(inventory, "w") as handle:
        handle.write("prodkit:\n  hosts:\n    demo:\n      ansible_connection: local\n")
    out = run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, "--syntax-check", "prodkit.stack.site"],
              cwd=installed["cwd"], env=installed["env"])
    assert "playbook: %s/ansible_collections/prodkit/stack/playbooks/site.yml" % installed["dest"] in out


def test_secrets_in_a_checkout_are_not_packed(tmp_path):
    """ansible-galaxy packs the directory, not git's files: a vault, an env
    file or a vault password file that git ignores must stay out too."""
    tree = tmp_path / "checkout"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        src = os.path.join(REPO, name)
        if os.path.isfile(src) and not name.startswith(("examples/", "testbed/", "tests/", "molecule/")):
            os.makedirs(os.path.dirname(str(tree / name)), exist_ok=True)
            with open(src, "rb") as fsrc, open(str(tree / name), "wb") as fdst:
                fdst.write(fsrc.read())
    secrets = ["inventories/production/group_vars/all/vault.yml", "inventories/staging/group_vars/all/vault.yml",
               ".env", "inventories/production/.vault_pass", "roles/compose_stack/files/app.env",
               "vault-password.txt"]
    for name in secrets:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("secret\n")
    out = tmp_path / "out"
    out.mkdir()
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", str(tree), "--output-path", str(out)], cwd=str(out))
    (tarball,) = list(out.glob("prodkit-stack-*.tar.gz"))
    with tarfile.open(str(tarball)) as tar:
        names = tar.getnames()
    assert [n for n in secrets if n in names] == []
    # The examples a team copies are packed.
    assert "inventories/production/group_vars/all/vault.yml.example" in names
    assert "inventories/production/group_vars/all/main.yml" in names
