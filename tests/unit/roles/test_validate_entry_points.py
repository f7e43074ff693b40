"""Every role's argument specs describe shapes, and its `validate` entry
point (run by site.yml's first play) checks the same spec as `main` and
changes nothing."""

import os

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES_DIR = os.path.join(REPO, "roles")
ALL_ROLES = sorted(name for name in os.listdir(ROLES_DIR) if not name.startswith(("_", ".")))
# Roles with inputs to check: every role but the internal ones that only
# hold defaults for others (common: the stack's identity, derived).
INTERNAL = {"common"}
ROLES = [role for role in ALL_ROLES if role not in INTERNAL]


@pytest.mark.parametrize("role", sorted(INTERNAL))
def test_internal_roles_only_hold_defaults(role):
    # Nothing to validate because nothing runs: its tasks are a no-op.
    with open(os.path.join(ROLES_DIR, role, "tasks", "main.yml"), encoding="utf-8") as handle:
        tasks = yaml.safe_load(handle)
    assert [task.get("ansible.builtin.meta") for task in tasks] == ["noop"]
    assert sorted(os.listdir(os.path.join(ROLES_DIR, role, "tasks"))) == ["main.yml"]


# Dicts whose keys are names the operator chooses (a map), or documents
# passed through as given and checked by their own tool (Compose, dockerd,
# Prometheus): an argument spec's `options:` would refuse their keys.
FREE_FORM = {
    "backups_repository_env", "backups_offsite_repository_env",  # environment variable -> value
    "compose_stack_env_values", "compose_stack_env_secret_values",  # .env key -> value
    "compose_stack_django_environment", "compose_stack_node_environment",  # environment variable -> value
    "compose_stack_networks", "compose_stack_volumes",  # name -> Compose definition
    "compose_stack_service_defaults", "compose_stack_services", "compose_stack_services_override",  # Compose services
    "docker_host_daemon_options",  # daemon.json keys (dockerd --validate)
    "loadtest_resolve",  # "name:port" -> address
    "monitoring_extra_scrape_configs", "monitoring_extra_rule_groups",  # Prometheus documents (promtool)
    "monitoring_blackbox_extra_hosts",  # name -> address
    "nginx_certbot_rate_limit_zones",  # zone name -> {rate, burst}
    "security_baseline_ssh_extra_options",  # sshd keyword -> value (sshd -t)
    "security_baseline_sysctl", "security_baseline_sysctl_kernel", "security_baseline_sysctl_extra",  # sysctl -> value
}
# Modules a validate.yml may use: they only read (or set facts).
READ_ONLY = {"ansible.builtin.assert", "ansible.builtin.set_fact", "ansible.builtin.setup",
             "ansible.builtin.include_vars", "ansible.builtin.stat", "ansible.builtin.command"}


def specs_of(role):
    with open(os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["argument_specs"]


@pytest.mark.parametrize("role", ROLES)
def test_every_entry_point_checks_mains_options(role):
    specs = specs_of(role)
    main = specs["main"]["options"]
    assert specs["validate"]["options"] == main
    for entry, spec in specs.items():
        # restart adds its own option to main's.
        assert {k: v for k, v in spec["options"].items() if k in main} == main, "%s/%s" % (role, entry)


@pytest.mark.parametrize("role", ROLES)
def test_dict_options_describe_their_keys(role):
    for name, spec in specs_of(role)["main"]["options"].items():
        if spec.get("type") == "dict" or spec.get("elements") == "dict":
            assert spec.get("options") or name in FREE_FORM, (
                "%s: %s is a dict without `options:` (its keys); give it a sub-spec, or add it to FREE_FORM "
                "with the reason when its keys are the operator's names" % (role, name))
        assert not (name in FREE_FORM and spec.get("options")), "%s has a sub-spec: take it off FREE_FORM" % name


@pytest.mark.parametrize("role", ROLES)
def test_validate_only_reads(role):
    with open(os.path.join(ROLES_DIR, role, "tasks", "validate.yml"), encoding="utf-8") as handle:
        tasks = yaml.safe_load(handle)
    for task in tasks:
        modules = [key for key in task if key.startswith("ansible.")]
        assert len(modules) == 1 and modules[0] in READ_ONLY, "%s: %s uses %s" % (role, task["name"], modules)
        if modules[0] == "ansible.builtin.command":
            assert task.get("changed_when") is False and task.get("check_mode") is False, task["name"]


@pytest.mark.parametrize("role", ROLES)
def test_preflight_runs_the_validation_first(role):
    with open(os.path.join(ROLES_DIR, role, "tasks", "preflight.yml"), encoding="utf-8") as handle:
        first = yaml.safe_load(handle)[0]
    assert first.get("ansible.builtin.import_tasks") == "validate.yml"
