"""site.yml refuses a bad value of any role's variable in its first play,
before any role changes a host.

Each case is a host of a throw-away inventory that runs on this machine
(`ansible_connection: local`) with the example production inventory's
variables (inventories/production/group_vars/all, the vault from its example)
and one bad value in its host_vars. One `ansible-playbook site.yml --check`
runs every case at once; the JSON callback tells, per host, which task
failed and with what message. A case passes when its host failed, in the
validation play, with a message naming the variable, and nothing changed.
--check is belt and braces: no play after the validation play may start
(all hosts fail in it), and the roles are check-mode safe anyway.

A last run shows that the example inventory passes the same play.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
ROLES = ["firewall", "security_baseline", "docker_host", "compose_stack", "monitoring", "nginx_certbot", "backups",
         "loadtest"]
VALIDATION_PLAY = "Check every role's variables before any host changes"

# case: (variable, bad value, text the failure message must contain besides the variable's name)
CASES = {
    # The values from issue #18, as a new user tried them.
    "firewall-ssh-port": ("firewall_ssh_port", 70000, "A port must be between 1 and 65535"),
    "firewall-ssh-sources": ("firewall_ssh_sources", ["10.0.0.0/33"], "10.0.0.0/33"),
    "nginx-domain-space": ("nginx_certbot_domains", ["exa mple.com"], "is not a host name"),
    "compose-project-name": ("compose_stack_project", "My Project!", "My Project!"),
    "monitoring-ui-mode": ("monitoring_ui_mode", "public", "value of monitoring_ui_mode must be one of"),
    "backups-keep-negative": ("backups_keep_daily", -3, "backups_keep_daily is -3"),
    "gunicorn-workers-word": ("compose_stack_gunicorn_workers", "many", "compose_stack_gunicorn_workers is 'many'"),
    # One more per role, and the sub-specs (argument_specs `options:` of dicts).
    "firewall-allow-port-word": ("firewall_allow", [{"name": "vpn", "port": "http", "sources": ["10.0.0.0/8"]}],
                                 "port"),
    "security-ssh-port-zero": ("security_baseline_ssh_ports", [0], "between 1 and 65535"),
    "security-reboot-time": ("security_baseline_automatic_reboot_time", "25:00", "must be HH:MM"),
    "docker-log-files": ("docker_host_log_max_file", 0, "must be 1 or more"),
    "docker-pool-no-size": ("docker_host_default_address_pools", [{"base": "172.20.0.0/14"}],
                            "missing required arguments: size"),
    "compose-external-to": ("compose_stack_env_external_extra", [{"name": "API_KEY", "to": "everywhere"}],
                            "value of to must be one of: django, node, all"),
    "compose-healthcheck-retries": ("compose_stack_healthcheck_defaults", {"retries": "often"}, "retries"),
    "compose-login-no-password": ("compose_stack_registry_logins", [{"registry": "r.example.com", "username": "u"}],
                                  "missing required arguments: password"),
    "nginx-location-websocket": ("nginx_certbot_django_locations", [{"path": "/", "websocket": "maybe"}],
                                 "websocket"),
    "backups-check-subset": ("backups_check_subset", "half", "backups_check_subset"),
    "monitoring-user-no-password": ("monitoring_ui_users", [{"name": "ops"}], "missing required arguments: password"),
    "monitoring-retention": ("monitoring_retention_time", "forever", "Prometheus durations"),
    "monitoring-heartbeat-url": ("monitoring_heartbeat_url", "hc-ping.com/abc", "http(s):// URL"),
    "monitoring-external-probe-host": ("monitoring_external_probe_host", "nowhere",
                                       "it must name another host of the inventory"),
    "monitoring-heartbeat-interval": ("monitoring_heartbeat_interval", "5s", "at least 10s"),
    "loadtest-route-no-path": ("loadtest_routes", [{"name": "home"}], "missing required arguments: path"),
    "loadtest-rate": ("loadtest_rate", 0, "loadtest_rate (-e rate=) must be more than 0"),
}


def _role_task_names():
    """Names of the tasks the validation play may run: each role's
    tasks/validate.yml (and what it imports) and the argument spec check."""
    names = {"Gathering Facts", "Check the variables of each role"}
    for role in ROLES:
        with open(os.path.join(REPO, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
            spec = yaml.safe_load(handle)["argument_specs"]["validate"]
        names.add("prodkit.stack.%s : Validating arguments against arg spec 'validate' - %s"
                  % (role, spec["short_description"]))
        with open(os.path.join(REPO, "roles", role, "tasks", "validate.yml"), encoding="utf-8") as handle:
            names.update("prodkit.stack.%s : %s" % (role, task["name"]) for task in yaml.safe_load(handle))
    # The internal role the others depend on for the stack's identity: its
    # argument spec check comes with them (its one task is a no-op).
    with open(os.path.join(REPO, "roles", "common", "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)["argument_specs"]["main"]
    names.add("prodkit.stack.common : Validating arguments against arg spec 'main' - %s" % spec["short_description"])
    return names


def _inventory(tmp_path, hosts):
    inventory = tmp_path / "inventory"
    group_vars = inventory / "group_vars" / "all"
    group_vars.mkdir(parents=True)
    source = os.path.join(REPO, "inventories", "production", "group_vars", "all")
    shutil.copy(os.path.join(source, "main.yml"), group_vars / "main.yml")
    shutil.copy(os.path.join(source, "vault.yml.example"), group_vars / "vault.yml")
    local = {"ansible_connection": "local", "ansible_become": False, "ansible_python_interpreter": sys.executable}
    host_vars = {name: dict(local, **extra) for name, extra in hosts.items()}
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"prodkit": {"hosts": host_vars}}), encoding="utf-8")
    return inventory / "hosts.yml"


def _run(inventory, playbook):
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    result = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), playbook, "--check"],
                            cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=600)
    assert result.stdout.strip(), result.stderr
    return result, json.loads(result.stdout)


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    hosts = {name: {case[0]: case[1]} for name, case in CASES.items()}
    inventory = _inventory(tmp_path_factory.mktemp("bad_inputs"), hosts)
    return _run(inventory, "site.yml")


def test_every_case_stops_site_yml_in_its_first_play(bad_run):
    result, report = bad_run
    assert result.returncode != 0
    # Every host failed in the validation play, so no later play started:
    # no firewall, no Docker, no stack.
    assert [play["play"]["name"] for play in report["plays"]] == [VALIDATION_PLAY]
    allowed = _role_task_names()
    ran = {task["task"]["name"] for task in report["plays"][0]["tasks"]}
    assert ran <= allowed, "tasks outside the roles' validation ran: %s" % sorted(ran - allowed)
    for task in report["plays"][0]["tasks"]:
        for host, outcome in task["hosts"].items():
            assert not outcome.get("changed"), "%s changed %s" % (task["task"]["name"], host)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_value_is_refused_with_its_name(bad_run, case):
    report = bad_run[1]
    variable, value, expected = CASES[case]
    stats = report["stats"][case]
    assert (stats["failures"], stats["changed"]) == (1, 0), stats
    failures = [(task["task"]["name"], task["hosts"][case]) for task in report["plays"][0]["tasks"]
                if case in task["hosts"] and task["hosts"][case].get("failed")]
    assert len(failures) == 1, failures
    task, outcome = failures[0]
    message = outcome.get("msg", "")
    assert variable in message, "%s=%r failed in %r without naming it: %s" % (variable, value, task, message)
    assert expected in message, "%s=%r: %r not in %s" % (variable, value, expected, message)


def test_example_inventory_passes_the_validation_play(tmp_path):
    inventory = _inventory(tmp_path, {"example": {}})
    result, report = _run(inventory, os.path.join("playbooks", "validate.yml"))
    assert result.returncode == 0, json.dumps(report.get("stats"))
    assert report["stats"]["example"]["failures"] == 0
    assert report["stats"]["example"]["changed"] == 0
    ran = {task["task"]["name"] for task in report["plays"][0]["tasks"]}
    # Every task of every role's validation ran (none was cut short).
    assert ran == _role_task_names(), sorted(_role_task_names() - ran)


def test_site_yml_validates_first():
    with open(os.path.join(REPO, "playbooks", "site.yml"), encoding="utf-8") as handle:
        site = yaml.safe_load(handle)
    assert site[0]["ansible.builtin.import_playbook"] == "validate.yml"
    with open(os.path.join(REPO, "playbooks", "validate.yml"), encoding="utf-8") as handle:
        (play,) = yaml.safe_load(handle)
    assert play["name"] == VALIDATION_PLAY
    include = play["tasks"][0]
    assert include["ansible.builtin.include_role"]["tasks_from"] == "validate"
    assert include["loop"] == ROLES
