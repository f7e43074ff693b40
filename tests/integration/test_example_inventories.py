"""The example inventories a team copies (inventories/production and
inventories/staging) parse, every playbook passes --syntax-check with them,
and their values pass every role's argument specs and cross-field checks.

Each inventory is copied as a team would use it: group_vars/all/vault.yml
made from its vault.yml.example. The validation play (playbooks/validate.yml,
site.yml's first play) then runs in check mode against a stand-in host: the
inventory's own host with its connection replaced by a local one
(-e ansible_connection=local), so that the inventory's values are the ones
checked, and nothing is reached over the network.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
INVENTORIES = ["production", "staging"]
PLAYBOOKS = sorted(name for name in os.listdir(os.path.join(REPO, "playbooks")) if name.endswith(".yml"))
VALIDATE = os.path.join("playbooks", "validate.yml")
STAND_IN = ["-e", "ansible_connection=local", "-e", "ansible_become=false",
            "-e", "ansible_python_interpreter=%s" % sys.executable]


def ansible(tool, *args):
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1",
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run([os.path.join(BIN, tool), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          check=False, timeout=600)


@pytest.fixture(scope="module", params=INVENTORIES)
def inventory(request, tmp_path_factory):
    copy = tmp_path_factory.mktemp(request.param) / request.param
    shutil.copytree(os.path.join(REPO, "inventories", request.param), copy,
                    ignore=shutil.ignore_patterns("vault.yml", ".vault_pass"))
    vault = copy / "group_vars" / "all"
    shutil.copy(vault / "vault.yml.example", vault / "vault.yml")
    return request.param, copy


def test_inventory_parses_with_its_hosts_and_variables(inventory):
    name, path = inventory
    result = ansible("ansible-inventory", "-i", str(path), "--list")
    assert result.returncode == 0, result.stderr
    assert "[WARNING]" not in result.stderr, result.stderr
    data = json.loads(result.stdout)
    hosts = data["prodkit"]["hosts"]
    assert hosts, "no host in group prodkit of inventories/%s" % name
    for host in hosts:
        hostvars = data["_meta"]["hostvars"][host]
        # group_vars/all and the vault made from its example both reach the host.
        assert hostvars["compose_stack_project"], host
        assert [key for key in hostvars if key.startswith("vault_")], "%s: no vault_ variable" % host
        assert hostvars["ansible_host"], host


def test_every_playbook_passes_syntax_check(inventory):
    # One run for all of them (ansible-playbook takes several); a failure
    # names the playbook and the line.
    _name, path = inventory
    result = ansible("ansible-playbook", "-i", str(path), "--syntax-check", "site.yml",
                     *(os.path.join("playbooks", playbook) for playbook in PLAYBOOKS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(PLAYBOOKS) >= 13, PLAYBOOKS


def test_values_pass_every_roles_validation_in_check_mode(inventory):
    name, path = inventory
    result = ansible("ansible-playbook", "-i", str(path), "--check", *STAND_IN, VALIDATE)
    assert result.returncode == 0, "inventories/%s: %s%s" % (name, result.stdout[-4000:], result.stderr[-2000:])
    recap = [line for line in result.stdout.splitlines() if " : ok=" in line]
    assert recap, result.stdout[-4000:]
    for line in recap:
        assert "failed=0" in line and "changed=0" in line and "unreachable=0" in line, recap
    # The argument specs of every role were checked, not skipped.
    assert result.stdout.count("Validating arguments against arg spec 'validate'") >= 8, result.stdout[-4000:]


def test_a_bad_value_in_the_inventory_is_refused(inventory, tmp_path):
    """The same run fails when the inventory holds a bad value (so the check above can fail)."""
    name, path = inventory
    bad = tmp_path / name
    shutil.copytree(path, bad)
    with open(bad / "group_vars" / "all" / "zz-bad.yml", "w", encoding="utf-8") as handle:
        handle.write("---\nbackups_keep_daily: -3\n")
    result = ansible("ansible-playbook", "-i", str(bad), "--check", *STAND_IN, VALIDATE)
    assert result.returncode != 0
    assert "backups_keep_daily" in result.stdout + result.stderr
