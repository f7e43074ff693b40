"""One owner per concern (issue #18): nginx's configuration and its reload
belong to prodkit.stack.nginx_certbot.

Other roles hand it what they need through its variables (its `base` and
`served` entry points, as prometheus-community's roles hand `_common_*`
variables to `_common`); none reads, writes or deletes a file in its
configuration directory, and none reloads or tests nginx itself. The one
program that reloads nginx runs `nginx -t` first, and every reload path (the
role's handler, certbot's deploy hook) goes through it.

A static check of the roles' tasks, handlers and templates (comment lines
left out): it fails when a role reaches into another role's directory.
"""

import os
import re

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES_DIR = os.path.join(REPO, "roles")
ROLES = sorted(name for name in os.listdir(ROLES_DIR) if not name.startswith(("_", ".")))
SCANNED = ("tasks", "handlers", "templates")

# Owner -> its configuration directory (the variables that name it, and the
# literal paths it has on a host or in the container), the files the owner
# keeps there, and the commands only the owner runs.
OWNED = {
    "nginx_certbot": {
        "dir_vars": ["nginx_certbot_conf_dir", "compose_stack_nginx_conf_dir"],
        "dir_paths": ["nginx/conf.d/", "/etc/nginx/conf.d/"],
        "files": ["00-health.conf", "default.conf", "site.conf", "tls-params.conf", "prodkit-maintenance.html",
                  "monitoring.htpasswd"],
        "commands": [r"\bnginx\s+-t\b", r"\bnginx\s+-s\s+reload\b", r"kill\s+-HUP\b.*nginx"],
        "handlers": ["Reload nginx"],
    },
}
RELOAD_PROGRAM = os.path.join(ROLES_DIR, "nginx_certbot", "templates", "prodkit-nginx-reload.sh.j2")


def code_lines(role, roles_dir=ROLES_DIR):
    """(relative path, line number, line) of every non-comment line of the
    role's tasks, handlers and templates."""
    for sub in SCANNED:
        for root, _dirs, files in os.walk(os.path.join(roles_dir, role, sub)):
            for name in sorted(files):
                path = os.path.join(root, name)
                with open(path, encoding="utf-8") as handle:
                    for number, line in enumerate(handle, 1):
                        if not line.lstrip().startswith(("#", "{#")):
                            yield os.path.relpath(path, REPO), number, line.rstrip("\n")


def violations(role, owner, owned, roles_dir=ROLES_DIR):
    # <dir var> }}/x, <dir var> ~ '/x', and the same from its parent (| dirname).
    under_dir = re.compile(r"(%s)(\s*\|\s*dirname)?\s*(\}\}\s*/|~\s*['\"]/)" % "|".join(owned["dir_vars"]))
    file_names = re.compile(r"(?<![\w.-])(%s)(?![\w.-])" % "|".join(re.escape(f) for f in owned["files"]))
    commands = re.compile("|".join(owned["commands"]))
    found = []
    for path, number, line in code_lines(role, roles_dir):
        what = (under_dir.search(line) and "a path under %s's configuration directory" % owner
                or any(p in line for p in owned["dir_paths"]) and "a path under %s's configuration directory" % owner
                or file_names.search(line) and "a file that %s keeps in its configuration directory" % owner
                or commands.search(line) and "a command that only %s runs" % owner)
        if what:
            found.append("%s:%d: %s: %s" % (path, number, what, line.strip()))
    return found


@pytest.mark.parametrize("owner", sorted(OWNED))
@pytest.mark.parametrize("role", ROLES)
def test_no_role_reaches_into_another_roles_configuration(role, owner):
    if role == owner:
        pytest.skip("the owner")
    found = violations(role, owner, OWNED[owner])
    assert not found, (
        "%s reaches into what %s owns; hand it what you need through its variables instead:\n%s"
        % (role, owner, "\n".join(found)))


def test_the_check_sees_a_role_reaching_in(tmp_path):
    """The check above can fail: a role that reads site.conf, or writes
    under the conf dir, or reloads nginx by itself, is found."""
    tasks = tmp_path / "intruder" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "main.yml").write_text(
        "- ansible.builtin.slurp:\n    src: \"{{ compose_stack_nginx_conf_dir }}/site.conf\"\n"
        "- ansible.builtin.file:\n    path: /opt/x/nginx/conf.d/default.conf\n    state: absent\n"
        "- ansible.builtin.command: docker compose exec -T nginx nginx -s reload\n"
        "- ansible.builtin.file:\n    path: \"{{ compose_stack_nginx_conf_dir | dirname }}/tls\"\n"
        "# a comment naming site.conf is not code\n")
    found = violations("intruder", "nginx_certbot", OWNED["nginx_certbot"], str(tmp_path))
    assert len(found) == 4, found


@pytest.mark.parametrize("owner", sorted(OWNED))
def test_only_the_owner_has_the_reload_handler(owner):
    for role in ROLES:
        path = os.path.join(ROLES_DIR, role, "handlers", "main.yml")
        if role == owner or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as handle:
            names = {handler.get("name") for handler in yaml.safe_load(handle) or []}
        assert not names & set(OWNED[owner]["handlers"]), "%s has a handler of %s's: %s" % (role, owner, names)


def test_every_nginx_reload_runs_nginx_t_first():
    """nginx is reloaded by one program, which runs `nginx -t` in the same
    container first and stops before the reload when it fails; the role's
    handler and certbot's deploy hook run that program."""
    with open(RELOAD_PROGRAM, encoding="utf-8") as handle:
        program = [line.strip() for line in handle if not line.lstrip().startswith("#")]
    reloads = [i for i, line in enumerate(program) if re.search(r"\bnginx\s+-s\s+reload\b", line)]
    assert len(reloads) == 1, "prodkit-nginx-reload should reload nginx in one place: %s" % reloads
    before = "\n".join(program[:reloads[0]])
    assert re.search(r'if ! docker exec "\$id" nginx -t -q; then\n.*\n\s*exit 1\n\s*fi\s*$', before), (
        "prodkit-nginx-reload does not stop on a failed `nginx -t` right before its reload:\n" + before)

    role = os.path.join(ROLES_DIR, "nginx_certbot")
    with open(os.path.join(role, "handlers", "main.yml"), encoding="utf-8") as handle:
        handlers = {h["name"]: h for h in yaml.safe_load(handle)}
    assert handlers["Reload nginx"]["ansible.builtin.command"] == "/usr/local/sbin/prodkit-nginx-reload"
    with open(os.path.join(role, "templates", "certbot-deploy-hook.sh.j2"), encoding="utf-8") as handle:
        hook = [line.strip() for line in handle if not line.lstrip().startswith("#")]
    assert "exec /usr/local/sbin/prodkit-nginx-reload" in hook
    # Nothing else in the owner reloads nginx or signals it.
    for path, number, line in code_lines("nginx_certbot"):
        if os.path.join(REPO, path) != RELOAD_PROGRAM:
            assert not re.search(r"\bnginx\s+-s\b|kill\s+-HUP", line), "%s:%d: %s" % (path, number, line)
