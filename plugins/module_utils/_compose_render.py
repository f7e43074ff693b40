# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The stack as data: render it as a Compose document (private to prodkit.stack).

``render_stack`` turns the compose_stack role's service definitions into a
Compose document and collects every problem it finds (unknown keys, a
depends_on on a service that is not there, two services publishing the
same host port, a .env key nobody declared, ...), so that a bad stack fails
in preflight with all of its problems named, before the host changes.
One function renders one concern of a service (process, environment,
networks, ports, storage, healthcheck, deploy, extra keys); depends_on is
resolved once every service is known.

Pure functions: the unit tests reach them without Docker or Ansible.
"""

from __future__ import annotations

import re
SERVICE_KEYS = (
    'enabled', 'image', 'command', 'entrypoint', 'user', 'working_dir', 'init',
    'env', 'environment', 'networks', 'ports', 'volumes', 'tmpfs', 'read_only',
    'depends_on', 'healthcheck', 'replicas', 'memory', 'cpus', 'shm_size',
    'restart', 'stop_signal', 'stop_grace_period', 'cap_drop', 'cap_add',
    'security_opt', 'sysctls', 'ulimits', 'labels', 'logging', 'extra',
)
HEALTHCHECK_KEYS = ('test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval')
DEPENDS_CONDITIONS = ('service_started', 'service_healthy', 'service_completed_successfully')
RESTART_POLICIES = ('no', 'always', 'on-failure', 'unless-stopped')
NAME_RE = re.compile(r'^[a-z0-9][a-z0-9_.-]*$')
ENV_KEY_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
# ${NAME}, ${NAME:-x}, ${NAME:?x}, $NAME; $$ is a literal dollar.
INTERPOLATION_RE = re.compile(r'(\$\$)|\$\{([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)')
DURATION_RE = re.compile(r'^([0-9]+(\.[0-9]+)?(us|ms|s|m|h))+$')
SIZE_RE = re.compile(r'^[0-9]+(\.[0-9]+)?[bkmgBKMG]?$')
WILDCARD_IPS = ('', '0.0.0.0', '::', '[::]')


class StackError(Exception):
    """The stack definition has problems; ``problems`` lists them all."""

    def __init__(self, problems):
        self.problems = problems
        super(StackError, self).__init__('\n'.join(problems))


def parse_port(spec):
    """Split a short-syntax port: '[ip:]host:container[/proto]' -> dict.

    Raises ValueError with the reason for anything else (ranges, a bare
    container port, which would publish on a random host port).
    """
    text = str(spec).strip()
    proto = 'tcp'
    if '/' in text:
        text, proto = text.rsplit('/', 1)
        if proto not in ('tcp', 'udp', 'sctp'):
            raise ValueError("protocol must be tcp, udp or sctp")
    ip = ''
    if text.startswith('['):
        end = text.find(']')
        if end < 0:
            raise ValueError("unclosed '[' in the IPv6 address")
        ip = text[1:end]
        text = text[end + 1:].lstrip(':')
        parts = text.split(':')
    else:
        parts = text.split(':')
        if len(parts) > 3:
            raise ValueError("write an IPv6 address in brackets, e.g. '[::1]:8080:80'")
        if len(parts) == 3:
            ip = parts.pop(0)
    if len(parts) != 2:
        raise ValueError("give the host port too ('HOST:CONTAINER' or 'IP:HOST:CONTAINER'); "
                         "a bare container port would be published on a random host port")
    ports = []
    for part in parts:
        if not part.isdigit() or not 0 < int(part) < 65536:
            raise ValueError("ports must be single numbers from 1 to 65535 (no ranges), got %r" % part)
        ports.append(int(part))
    return {'ip': ip, 'host': ports[0], 'container': ports[1], 'proto': proto}


def _clash(a, b):
    if a['host'] != b['host'] or a['proto'] != b['proto']:
        return False
    return a['ip'] == b['ip'] or a['ip'] in WILDCARD_IPS or b['ip'] in WILDCARD_IPS


def interpolated_names(value):
    """Names of the variables a Compose string interpolates."""
    names = []
    for match in INTERPOLATION_RE.finditer(value):
        name = match.group(2) or match.group(3)
        if name and name not in names:
            names.append(name)
    return names


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _is_named_volume(source):
    return bool(source) and not source.startswith(('/', '.', '~', '$'))


def _merge(defaults, service):
    merged = dict(defaults)
    for key, value in service.items():
        if key == 'security_opt' and isinstance(value, list):
            merged[key] = list(dict.fromkeys(list(defaults.get(key) or []) + value))
        elif isinstance(value, dict) and isinstance(merged.get(key), dict) and key not in ('extra',):
            combined = dict(merged[key])
            combined.update(value)
            merged[key] = combined
        else:
            merged[key] = value
    return merged


class _Stack(object):
    """What every service is checked against, and the problems found so far."""

    def __init__(self, services, networks, volumes, dotenv, healthcheck_defaults, dotenv_path, variable):
        self.services = services
        self.networks = networks or {}
        self.volumes = volumes or {}
        self.dotenv = dotenv or {}
        self.healthcheck_defaults = healthcheck_defaults or {}
        self.dotenv_path = dotenv_path
        self.variable = variable
        self.problems = []
        # Host ports published so far, to find two services holding one.
        self.published = []

    def problem(self, message):
        self.problems.append(message)

    def where(self, name):
        return '%s.%s' % (self.variable, name)


def render_stack(project, services, networks=None, volumes=None, dotenv=None,
                 service_defaults=None, healthcheck_defaults=None, dotenv_path='.env',
                 variable='compose_stack_services'):
    """Return the Compose document for a stack, or raise StackError.

    services: name -> definition (SERVICE_KEYS); ``enabled: false`` drops one.
    dotenv:   .env key -> True when it must be non-empty, False when optional.
    """
    stack = _Stack(services, networks, volumes, dotenv, healthcheck_defaults, dotenv_path, variable)
    _check_project(stack, project)
    enabled = _enabled_services(stack, service_defaults or {})
    rendered = dict((name, _render_service(stack, name, svc)) for name, svc in enabled.items())
    _resolve_depends_on(stack, rendered)
    cycle = _find_cycle(dict((n, list((o.get('depends_on') or {}).keys())) for n, o in rendered.items()))
    if cycle:
        stack.problem('%s: depends_on forms a cycle: %s' % (variable, ' -> '.join(cycle)))
    if stack.problems:
        raise StackError(stack.problems)
    return _document(project, rendered, stack.networks, stack.volumes)


def _check_project(stack, project):
    if not isinstance(project, str) or not NAME_RE.match(project or ''):
        stack.problem("compose_stack_project: %r is not a Compose project name; use lower-case letters, "
                      "digits, '_', '-' and '.', starting with a letter or digit" % (project,))


def _enabled_services(stack, service_defaults):
    """Name -> definition merged over the defaults, for the enabled services; raise when there are none."""
    services = stack.services
    if not isinstance(services, dict) or not services:
        raise StackError(stack.problems + ["%s: must be a mapping of service name to definition, with at least "
                                           "one service" % stack.variable])
    enabled = {}
    for name, definition in services.items():
        where = stack.where(name)
        if definition is None:
            definition = {}
        if not isinstance(definition, dict):
            stack.problem('%s: must be a mapping, got %s' % (where, type(definition).__name__))
            continue
        if not NAME_RE.match(str(name)):
            stack.problem("%s: service names use lower-case letters, digits, '_', '-' and '.'" % where)
        unknown = sorted(set(definition) - set(SERVICE_KEYS))
        if unknown:
            stack.problem('%s: unknown key%s %s; known keys: %s (raw Compose keys go under extra:)'
                          % (where, 's' if len(unknown) > 1 else '', ', '.join(unknown), ', '.join(SERVICE_KEYS)))
        if definition.get('enabled', True) in (False, 'false', 'no'):
            continue
        enabled[name] = _merge(service_defaults, definition)
    if not enabled:
        raise StackError(stack.problems + ['%s: every service is disabled; nothing would run' % stack.variable])
    return enabled


def _render_service(stack, name, svc):
    """The Compose definition of one service; its depends_on is resolved later (``_depends_on``)."""
    where = stack.where(name)
    out = {}
    _render_process(stack, where, svc, out)
    _render_environment(stack, where, svc, out)
    _render_networks(stack, where, svc, out)
    replicas = _replicas(stack, where, svc)
    _render_ports(stack, name, where, svc, replicas, out)
    _render_storage(stack, where, svc, out)
    for key in ('cap_drop', 'cap_add', 'security_opt'):
        if svc.get(key):
            out[key] = list(svc[key])
    for key in ('sysctls', 'ulimits', 'labels'):
        if svc.get(key):
            out[key] = dict(svc[key])
    _render_healthcheck(stack, where, svc, out)
    _render_deploy(stack, where, svc, replicas, out)
    if svc.get('logging'):
        out['logging'] = dict(svc['logging'])
    out['_depends_on'] = svc.get('depends_on')
    _render_extra(stack, where, svc, out)
    return out


def _render_process(stack, where, svc, out):
    """Image, command, user, restart policy: what runs and how it restarts."""
    image = svc.get('image')
    if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image):
        stack.problem('%s.image: required, a single image reference (e.g. registry/app:1.2), got %r' % (where, image))
    else:
        out['image'] = image
    for key in ('entrypoint', 'command'):
        if svc.get(key) is not None:
            if not isinstance(svc[key], (str, list)):
                stack.problem('%s.%s: must be a string or a list of strings' % (where, key))
            else:
                out[key] = svc[key]
    for key in ('user', 'working_dir', 'stop_signal', 'shm_size'):
        if svc.get(key) not in (None, ''):
            out[key] = str(svc[key])
    if svc.get('init') is not None:
        out['init'] = bool(svc['init'])
    restart = svc.get('restart', 'unless-stopped')
    if restart not in RESTART_POLICIES and not str(restart).startswith('on-failure:'):
        stack.problem('%s.restart: %r is not a restart policy; use one of %s'
                      % (where, restart, ', '.join(RESTART_POLICIES)))
    out['restart'] = restart
    if svc.get('stop_grace_period') is not None:
        if not DURATION_RE.match(str(svc['stop_grace_period'])):
            stack.problem('%s.stop_grace_period: %r is not a duration such as 30s, 2m or 1m30s'
                          % (where, svc['stop_grace_period']))
        out['stop_grace_period'] = str(svc['stop_grace_period'])


def _render_environment(stack, where, svc, out):
    """.env keys by name, then literal values (which Compose interpolates,
    so DATABASE_URL can be built from .env secrets); every interpolated
    name must be a .env key."""
    dotenv = stack.dotenv
    environment = {}
    env_keys = svc.get('env') or []
    if not isinstance(env_keys, list):
        stack.problem('%s.env: must be a list of .env keys' % where)
        env_keys = []
    for key in env_keys:
        if key not in dotenv:
            stack.problem('%s.env: %s is not a key of the .env; declare it in compose_stack_env_external_extra, '
                          'compose_stack_env_values or compose_stack_env_generated_secrets' % (where, key))
        elif dotenv[key]:
            environment[key] = '${%s:?%s must be set in %s}' % (key, key, stack.dotenv_path)
        else:
            environment[key] = '${%s:-}' % key
    literal = svc.get('environment') or {}
    if not isinstance(literal, dict):
        stack.problem('%s.environment: must be a mapping of NAME to value' % where)
        literal = {}
    for key, value in literal.items():
        if not ENV_KEY_RE.match(str(key)):
            stack.problem('%s.environment: %r is not a valid variable name' % (where, key))
            continue
        if isinstance(value, bool):
            value = 'true' if value else 'false'
        environment[str(key)] = '' if value is None else str(value)
    if environment:
        out['environment'] = environment
    for text in _strings([out.get('environment'), out.get('command'), out.get('entrypoint'), svc.get('extra')]):
        for var in interpolated_names(text):
            if var not in dotenv:
                stack.problem('%s: ${%s} is interpolated by Compose but is not a key of the .env; declare it, '
                              'or write $$%s for a variable the container expands itself' % (where, var, var))


def _render_networks(stack, where, svc, out):
    nets = svc.get('networks') or []
    if not isinstance(nets, list):
        stack.problem('%s.networks: must be a list of network names' % where)
        nets = []
    for net in nets:
        if net not in stack.networks:
            stack.problem('%s.networks: %r is not a network of the stack (networks: %s)'
                          % (where, net, ', '.join(sorted(stack.networks)) or 'none'))
    if nets:
        out['networks'] = list(nets)


def _replicas(stack, where, svc):
    replicas = svc.get('replicas', 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        stack.problem('%s.replicas: must be a whole number of 0 or more, got %r' % (where, replicas))
        replicas = 1
    return replicas


def _render_ports(stack, name, where, svc, replicas, out):
    """Published ports; a host port may be held by one container of the whole stack only."""
    ports = svc.get('ports') or []
    specs = ports if isinstance(ports, list) else [ports]
    for spec in specs:
        try:
            port = parse_port(spec)
        except ValueError as exc:
            stack.problem('%s.ports: %r: %s' % (where, spec, exc))
            continue
        port['service'] = name
        for other in stack.published:
            if _clash(port, other):
                stack.problem('%s.ports: %r clashes with %r of service %s (host port %d/%s is published twice)'
                              % (where, spec, other['spec'], other['service'], port['host'], port['proto']))
        if replicas > 1:
            stack.problem('%s.ports: %r cannot be published by %d replicas; only one container can hold '
                          'host port %d' % (where, spec, replicas, port['host']))
        port['spec'] = spec
        stack.published.append(port)
    if ports:
        out['ports'] = [str(p) for p in specs]


def _render_storage(stack, where, svc, out):
    """Volumes (each named one declared by the stack), tmpfs and a read-only root."""
    mounts = svc.get('volumes') or []
    for mount in mounts:
        source = str(mount).split(':', 1)[0] if ':' in str(mount) else ''
        if ':' not in str(mount):
            stack.problem('%s.volumes: %r: give SOURCE:TARGET[:ro] (an anonymous volume would be lost on '
                          'every recreate)' % (where, mount))
        elif _is_named_volume(source) and source not in stack.volumes:
            stack.problem('%s.volumes: %r uses volume %r, which is not a volume of the stack (volumes: %s)'
                          % (where, mount, source, ', '.join(sorted(stack.volumes)) or 'none'))
    if mounts:
        out['volumes'] = [str(m) for m in mounts]
    if svc.get('tmpfs'):
        out['tmpfs'] = list(svc['tmpfs'])
    if svc.get('read_only'):
        out['read_only'] = True


def _render_healthcheck(stack, where, svc, out):
    health = svc.get('healthcheck')
    if health is False or (isinstance(health, dict) and health.get('disable')):
        out['healthcheck'] = {'disable': True}
        return
    if not health:
        return
    if not isinstance(health, dict):
        stack.problem('%s.healthcheck: must be a mapping (test, interval, ...) or false' % where)
        return
    bad = sorted(set(health) - set(HEALTHCHECK_KEYS))
    if bad:
        stack.problem('%s.healthcheck: unknown key%s %s; known: %s'
                      % (where, 's' if len(bad) > 1 else '', ', '.join(bad), ', '.join(HEALTHCHECK_KEYS)))
    if not health.get('test'):
        stack.problem('%s.healthcheck.test: required (e.g. ["CMD", "curl", "-f", "http://127.0.0.1/"])' % where)
    check = dict((k, v) for k, v in stack.healthcheck_defaults.items() if k in HEALTHCHECK_KEYS)
    check.update(dict((k, v) for k, v in health.items() if k in HEALTHCHECK_KEYS))
    out['healthcheck'] = check


def _render_deploy(stack, where, svc, replicas, out):
    """deploy: replicas and resource limits."""
    deploy = {}
    if replicas != 1:
        deploy['replicas'] = replicas
    limits = {}
    if svc.get('memory') not in (None, ''):
        if not SIZE_RE.match(str(svc['memory'])):
            stack.problem('%s.memory: %r is not a size such as 512m or 2g' % (where, svc['memory']))
        limits['memory'] = str(svc['memory'])
    if svc.get('cpus') not in (None, ''):
        try:
            if float(svc['cpus']) <= 0:
                raise ValueError()
            limits['cpus'] = str(svc['cpus'])
        except ValueError:
            stack.problem('%s.cpus: %r is not a positive number of CPUs such as 0.5 or 2' % (where, svc['cpus']))
    if limits:
        deploy['resources'] = {'limits': limits}
    if deploy:
        out['deploy'] = deploy


def _render_extra(stack, where, svc, out):
    """Raw Compose keys, passed through; a fixed container_name is refused."""
    extra = svc.get('extra') or {}
    if not isinstance(extra, dict):
        stack.problem('%s.extra: must be a mapping of raw Compose keys' % where)
        return
    for key in ('container_name',):
        if key in extra:
            stack.problem('%s.extra.%s: not allowed; Compose names containers itself, and a fixed name '
                          'breaks replicas and rollback' % (where, key))
    out.update(dict((k, v) for k, v in extra.items() if k != 'container_name'))


def _resolve_depends_on(stack, rendered):
    """Turn each service's ``_depends_on`` into Compose's depends_on, now that every service is known.

    A dependency without a condition waits for health when the dependency
    has a healthcheck, for its start otherwise.
    """
    for name, out in rendered.items():
        where = '%s.depends_on' % stack.where(name)
        deps = out.pop('_depends_on') or []
        if isinstance(deps, list):
            deps = dict((dep, None) for dep in deps)
        if not isinstance(deps, dict):
            stack.problem('%s: must be a list of service names or a mapping name -> condition' % where)
            continue
        conditions = {}
        for dep, condition in deps.items():
            if isinstance(condition, dict):
                condition = condition.get('condition')
            if dep == name:
                stack.problem('%s: a service cannot depend on itself' % where)
                continue
            if dep not in rendered:
                disabled = dep in stack.services
                stack.problem('%s: %r is %s (services: %s)' % (
                    where, dep, 'disabled' if disabled else 'not a service of the stack', ', '.join(rendered)))
                continue
            if condition is None:
                target = rendered[dep].get('healthcheck')
                condition = 'service_healthy' if target and not target.get('disable') else 'service_started'
            if condition not in DEPENDS_CONDITIONS:
                stack.problem('%s: condition %r of %r is not one of %s'
                              % (where, condition, dep, ', '.join(DEPENDS_CONDITIONS)))
                continue
            conditions[dep] = {'condition': condition}
        if conditions:
            out['depends_on'] = conditions


def _document(project, rendered, networks, volumes):
    """The top-level document, with only the networks and volumes some service uses."""
    used_networks = set(n for o in rendered.values() for n in o.get('networks') or [])
    used_volumes = set(str(m).split(':', 1)[0] for o in rendered.values() for m in o.get('volumes') or [])
    document = {'name': project, 'services': rendered}
    nets = dict((k, dict(v or {})) for k, v in networks.items() if k in used_networks)
    if nets:
        document['networks'] = nets
    vols = dict((k, dict(v or {})) for k, v in volumes.items() if k in used_volumes)
    if vols:
        document['volumes'] = vols
    return document


def _find_cycle(graph):
    state = {}

    def visit(node, path):
        state[node] = 'active'
        for dep in graph.get(node, ()):
            if state.get(dep) == 'active':
                return path[path.index(dep):] + [dep] if dep in path else [node, dep]
            if dep not in state:
                found = visit(dep, path + [dep])
                if found:
                    return found
        state[node] = 'done'
        return None

    for node in graph:
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None
