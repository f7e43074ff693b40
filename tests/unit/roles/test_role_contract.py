"""Every role keeps the collection's contract (STYLE.md): argument specs that
match its defaults, prefixed variables, a README, a tagged play in site.yml."""

import os

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES_DIR = os.path.join(REPO, "roles")
ROLES = sorted(name for name in os.listdir(ROLES_DIR) if not name.startswith(("_", ".")))
SITE_ORDER = ["firewall", "security_baseline", "docker_host", "compose_stack", "nginx_certbot", "backups", "monitoring"]


def read_yaml(*parts):
    with open(os.path.join(*parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_every_concern_of_site_has_a_role():
    assert set(SITE_ORDER) <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_role_has_its_files(role):
    for rel in ("README.md", "meta/main.yml", "meta/argument_specs.yml", "defaults/main.yml", "tasks/main.yml"):
        assert os.path.isfile(os.path.join(ROLES_DIR, role, rel)), "%s: missing %s" % (role, rel)


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_match_defaults(role):
    specs = read_yaml(ROLES_DIR, role, "meta", "argument_specs.yml")["argument_specs"]
    options = specs["main"].get("options") or {}
    defaults = read_yaml(ROLES_DIR, role, "defaults", "main.yml") or {}
    required = {name for name, spec in options.items() if spec.get("required")}
    # A required option has no safe default; every other option has one.
    assert set(defaults) == set(options) - required, (
        "%s: defaults/main.yml and meta/argument_specs.yml disagree: only in defaults %s, only in specs %s"
        % (role, sorted(set(defaults) - set(options)), sorted(set(options) - required - set(defaults))))


@pytest.mark.parametrize("role", ROLES)
def test_variables_are_prefixed_typed_and_described(role):
    specs = read_yaml(ROLES_DIR, role, "meta", "argument_specs.yml")["argument_specs"]
    for entry, spec in specs.items():
        assert spec.get("short_description"), "%s/%s: no short_description" % (role, entry)
        for name, option in (spec.get("options") or {}).items():
            assert name.startswith(role + "_"), "%s: variable %s is not prefixed with %s_" % (role, name, role)
            assert option.get("type"), "%s: %s has no type" % (role, name)
            assert option.get("description"), "%s: %s has no description" % (role, name)
            if option.get("type") == "list":
                assert option.get("elements"), "%s: list %s has no elements" % (role, name)


def test_site_runs_one_tagged_play_per_concern_in_order():
    plays = read_yaml(REPO, "playbooks", "site.yml")
    role_plays = [play for play in plays if play.get("roles")]
    roles = [play["roles"][0]["role"] for play in role_plays]
    assert roles == ["prodkit.stack." + name for name in SITE_ORDER]
    for play, name in zip(role_plays, SITE_ORDER):
        assert name in play.get("tags", []), "play %r is not tagged %s" % (play["name"], name)
        assert play.get("become") is True


def test_top_level_site_imports_the_collection_playbook():
    site = read_yaml(REPO, "site.yml")
    assert site[0]["ansible.builtin.import_playbook"] == "playbooks/site.yml"


@pytest.mark.parametrize("role", ROLES)
def test_readme_variable_table_is_generated_from_the_specs(role):
    import role_docs  # tools/, on sys.path via tests/conftest.py

    readme = os.path.join(ROLES_DIR, role, "README.md")
    with open(readme, encoding="utf-8") as handle:
        current = handle.read()
    assert role_docs.render(current, os.path.join(ROLES_DIR, role)) == current, (
        "%s is out of date: run `python tools/role_docs.py %s`" % (readme, role))
