# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import io
import json
import tarfile

import pytest

from ansible_collections.prodkit.stack.plugins.module_utils import _compose
from ansible_collections.prodkit.stack.plugins.module_utils._compose_archive import archive_images
from ansible_collections.prodkit.stack.plugins.module_utils._compose_plan import plan
from ansible_collections.prodkit.stack.plugins.module_utils._compose_render import (
    StackError,
    interpolated_names,
    parse_port,
    render_stack,
)

NETWORKS = {'frontend': {}, 'backend': {'internal': True}}
VOLUMES = {'data': {}, 'media': {}}
DOTENV = {'SECRET': True, 'OPTIONAL': False, 'DB_PASSWORD': True}


def stack(**overrides):
    services = {
        'db': {'image': 'postgres:17', 'networks': ['backend'], 'env': ['DB_PASSWORD'],
               'volumes': ['data:/var/lib/postgresql/data'],
               'healthcheck': {'test': ['CMD', 'pg_isready']}},
        'web': {'image': 'app:1.0', 'networks': ['frontend', 'backend'], 'env': ['SECRET', 'OPTIONAL'],
                'environment': {'DATABASE_URL': 'postgres://u:${DB_PASSWORD}@db/app', 'DEBUG': False},
                'depends_on': ['db'], 'replicas': 2, 'memory': '512m', 'cpus': 1.5},
        'nginx': {'image': 'nginx:1.26', 'networks': ['frontend'], 'ports': ['80:80', '127.0.0.1:8443:443'],
                  'volumes': ['media:/app/media:ro', './conf.d:/etc/nginx/conf.d:ro'], 'depends_on': {'web': None}},
    }
    for name, value in overrides.items():
        if value is None:
            services.pop(name, None)
        else:
            services[name] = value
    return services


def render(services, **kwargs):
    args = dict(networks=NETWORKS, volumes=VOLUMES, dotenv=DOTENV,
                service_defaults={'restart': 'unless-stopped', 'security_opt': ['no-new-privileges:true']},
                healthcheck_defaults={'interval': '30s', 'retries': 3})
    args.update(kwargs)
    return render_stack('demo', services, **args)


def problems(services, **kwargs):
    with pytest.raises(StackError) as info:
        render(services, **kwargs)
    return info.value.problems


def test_render_reference_shape():
    doc = render(stack())
    assert list(doc) == ['name', 'services', 'networks', 'volumes']
    assert doc['name'] == 'demo'
    assert list(doc['services']) == ['db', 'web', 'nginx']
    web = doc['services']['web']
    assert web['environment'] == {
        'SECRET': '${SECRET:?SECRET must be set in .env}',
        'OPTIONAL': '${OPTIONAL:-}',
        'DATABASE_URL': 'postgres://u:${DB_PASSWORD}@db/app',
        'DEBUG': 'false',
    }
    assert web['deploy'] == {'replicas': 2, 'resources': {'limits': {'memory': '512m', 'cpus': '1.5'}}}
    # A dependency with a healthcheck is waited for until healthy.
    assert web['depends_on'] == {'db': {'condition': 'service_healthy'}}
    assert doc['services']['nginx']['depends_on'] == {'web': {'condition': 'service_started'}}
    assert doc['services']['db']['healthcheck'] == {'interval': '30s', 'retries': 3, 'test': ['CMD', 'pg_isready']}
    assert web['security_opt'] == ['no-new-privileges:true']
    assert web['restart'] == 'unless-stopped'
    assert doc['networks'] == NETWORKS
    assert doc['volumes'] == VOLUMES


def test_disabled_service_and_unused_volume_are_left_out():
    services = stack()
    services['nginx'] = dict(services['nginx'], enabled=False)
    doc = render(services)
    assert 'nginx' not in doc['services']
    assert doc['volumes'] == {'data': {}}


def test_security_opt_lists_are_joined():
    services = stack()
    services['web']['security_opt'] = ['apparmor=docker-default']
    doc = render(services)
    assert doc['services']['web']['security_opt'] == ['no-new-privileges:true', 'apparmor=docker-default']


def test_extra_keys_pass_through():
    services = stack()
    services['web']['extra'] = {'profiles': ['deploy'], 'network_mode': 'none'}
    doc = render(services)
    assert doc['services']['web']['profiles'] == ['deploy']


@pytest.mark.parametrize('override, expected', [
    ({'web': {'image': 'app:1', 'depends_on': ['rabbitmq']}},
     "compose_stack_services.web.depends_on: 'rabbitmq' is not a service of the stack (services: db, web, nginx)"),
    ({'web': {'image': 'app:1', 'depends_on': ['web']}},
     'compose_stack_services.web.depends_on: a service cannot depend on itself'),
    ({'web': {'image': 'app:1', 'replica': 2}},
     'compose_stack_services.web: unknown key replica; known keys: enabled, image,'),
    ({'web': {'image': 'app:1', 'ports': ['8080:80/quic']}},
     "compose_stack_services.web.ports: '8080:80/quic': protocol must be tcp, udp or sctp"),
    ({'web': {'image': 'app:1', 'ports': ['8080']}},
     "compose_stack_services.web.ports: '8080': give the host port too"),
    ({'web': {'image': 'app:1', 'ports': ['8000-8010:8000']}},
     "compose_stack_services.web.ports: '8000-8010:8000': ports must be single numbers from 1 to 65535 (no ranges)"),
    ({'web': {'image': 'app:1', 'env': ['NOT_DECLARED']}},
     'compose_stack_services.web.env: NOT_DECLARED is not a key of the .env; declare it in compose_stack_env_external_extra'),
    ({'web': {'image': 'app:1', 'environment': {'URL': 'http://${HOST}/'}}},
     'compose_stack_services.web: ${HOST} is interpolated by Compose but is not a key of the .env'),
    ({'web': {'image': 'app:1', 'networks': ['public']}},
     "compose_stack_services.web.networks: 'public' is not a network of the stack (networks: backend, frontend)"),
    ({'web': {'image': 'app:1', 'volumes': ['uploads:/app/media']}},
     "compose_stack_services.web.volumes: 'uploads:/app/media' uses volume 'uploads', which is not a volume of the stack"),
    ({'web': {'image': 'app:1', 'volumes': ['/app/media']}},
     "compose_stack_services.web.volumes: '/app/media': give SOURCE:TARGET[:ro]"),
    ({'web': {'image': ''}},
     "compose_stack_services.web.image: required, a single image reference (e.g. registry/app:1.2), got ''"),
    ({'web': {'image': 'app:1', 'restart': 'sometimes'}},
     "compose_stack_services.web.restart: 'sometimes' is not a restart policy"),
    ({'web': {'image': 'app:1', 'stop_grace_period': '5 minutes'}},
     "compose_stack_services.web.stop_grace_period: '5 minutes' is not a duration such as 30s, 2m or 1m30s"),
    ({'web': {'image': 'app:1', 'memory': 'lots'}},
     "compose_stack_services.web.memory: 'lots' is not a size such as 512m or 2g"),
    ({'web': {'image': 'app:1', 'cpus': 0}},
     "compose_stack_services.web.cpus: 0 is not a positive number of CPUs such as 0.5 or 2"),
    ({'web': {'image': 'app:1', 'replicas': -1}},
     'compose_stack_services.web.replicas: must be a whole number of 0 or more, got -1'),
    ({'web': {'image': 'app:1', 'healthcheck': {'interval': '5s'}}},
     'compose_stack_services.web.healthcheck.test: required'),
    ({'web': {'image': 'app:1', 'extra': {'container_name': 'web'}}},
     'compose_stack_services.web.extra.container_name: not allowed'),
])
def test_bad_definitions_are_named(override, expected):
    found = problems(stack(**override))
    assert any(p.startswith(expected) for p in found), found


def test_depends_on_a_disabled_service():
    services = stack()
    services['db'] = dict(services['db'], enabled=False)
    found = problems(services)
    assert "compose_stack_services.web.depends_on: 'db' is disabled (services: web, nginx)" in found


@pytest.mark.parametrize('first, second', [
    ('80:80', '80:8080'),
    ('80:80', '127.0.0.1:80:8080'),
    ('127.0.0.1:80:80', '0.0.0.0:80:8080'),
    ('[::1]:80:80', '80:8080'),
])
def test_port_clash(first, second):
    found = problems(stack(nginx={'image': 'nginx', 'ports': [first]}, web={'image': 'app', 'ports': [second]}))
    assert any('clashes with' in p and '(host port 80/tcp is published twice)' in p for p in found), found


@pytest.mark.parametrize('first, second', [
    ('127.0.0.1:80:80', '127.0.0.2:80:8080'),
    ('80:80', '80:80/udp'),
    ('80:80', '8080:80'),
])
def test_no_clash(first, second):
    render(stack(nginx={'image': 'nginx', 'ports': [first]}, web={'image': 'app', 'ports': [second]}))


def test_replicas_with_a_host_port():
    found = problems(stack(web={'image': 'app', 'replicas': 2, 'ports': ['8000:8000']}))
    assert "compose_stack_services.web.ports: '8000:8000' cannot be published by 2 replicas; only one container " \
           "can hold host port 8000" in found


def test_cycle():
    found = problems(stack(db={'image': 'postgres', 'depends_on': ['nginx']}))
    assert 'compose_stack_services: depends_on forms a cycle: db -> nginx -> web -> db' in found


def test_every_problem_is_reported_at_once():
    found = problems(stack(web={'image': 'app', 'depends_on': ['nope'], 'networks': ['nope'], 'env': ['NOPE']}))
    assert len(found) == 3


def test_all_disabled():
    services = dict((name, {'enabled': False}) for name in stack())
    assert problems(services) == ['compose_stack_services: every service is disabled; nothing would run']


def test_bad_project_name():
    with pytest.raises(StackError) as info:
        render_stack('My Project', stack(), networks=NETWORKS, volumes=VOLUMES, dotenv=DOTENV)
    assert info.value.problems[0].startswith("compose_stack_project: 'My Project' is not a Compose project name")


@pytest.mark.parametrize('spec, expected', [
    ('80:80', {'ip': '', 'host': 80, 'container': 80, 'proto': 'tcp'}),
    ('127.0.0.1:8443:443/tcp', {'ip': '127.0.0.1', 'host': 8443, 'container': 443, 'proto': 'tcp'}),
    ('[::1]:53:53/udp', {'ip': '::1', 'host': 53, 'container': 53, 'proto': 'udp'}),
])
def test_parse_port(spec, expected):
    assert parse_port(spec) == expected


@pytest.mark.parametrize('text, names', [
    ('postgres://u:${DB_PASSWORD}@db/x', ['DB_PASSWORD']),
    ('${A:-x} $B $$C ${D:?err}', ['A', 'B', 'D']),
    ('$$literal', []),
])
def test_interpolated_names(text, names):
    assert interpolated_names(text) == names


def container(hash_='h1', image='sha256:aaa', state='running', name='demo-web-1'):
    return {'hash': hash_, 'image_id': image, 'state': state, 'health': 'healthy', 'name': name}


@pytest.mark.parametrize('want, have, action, reason', [
    ({'hash': 'h1', 'image': 'app:1', 'image_id': 'sha256:aaa', 'replicas': 1}, [container()], 'keep', None),
    ({'hash': 'h1', 'image': 'app:1', 'image_id': 'sha256:aaa', 'replicas': 1}, [], 'create', 'no container yet'),
    ({'hash': 'h2', 'image': 'app:1', 'image_id': 'sha256:aaa', 'replicas': 1}, [container()], 'recreate',
     'configuration changed'),
    ({'hash': 'h1', 'image': 'app:2', 'image_id': 'sha256:bbbbbbbbbbbbbbbb', 'replicas': 1},
     [container(image='sha256:aaaaaaaaaaaaaaaa')], 'recreate', 'image app:2: aaaaaaaaaaaa -> bbbbbbbbbbbb'),
    ({'hash': 'h1', 'image': 'app:2', 'image_id': None, 'replicas': 1}, [container()], 'recreate',
     'image app:2 is not on the host yet'),
    ({'hash': 'h1', 'image': 'app:1', 'image_id': 'sha256:aaa', 'replicas': 1}, [container(state='exited')], 'start',
     'not running: demo-web-1'),
    ({'hash': 'h1', 'image': 'app:1', 'image_id': 'sha256:aaa', 'replicas': 3}, [container()], 'scale',
     'replicas 1 -> 3'),
])
def test_plan(want, have, action, reason):
    result = plan({'web': want}, {'web': have} if have else {})
    assert result['web']['action'] == action
    if reason:
        assert reason in result['web']['reasons']
    else:
        assert result['web']['reasons'] == []


def test_plan_removes_services_that_left_the_stack():
    result = plan({}, {'old': [container()]})
    assert result == {'old': {'action': 'remove', 'reasons': ['not in the stack any more']}}


def _archive(tmp_path, manifest):
    path = tmp_path / 'images.tar'
    with tarfile.open(path, 'w') as tar:
        for name, data in (('blobs/sha256/0000', b'layer'), ('manifest.json', json.dumps(manifest).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


@pytest.mark.parametrize('config', ['abc123.json', 'blobs/sha256/abc123'])
def test_archive_images(tmp_path, config):
    path = _archive(tmp_path, [{'Config': config, 'RepoTags': ['app:1', 'app:latest'], 'Layers': []},
                               {'Config': 'def456.json', 'RepoTags': None, 'Layers': []}])
    assert archive_images(path) == {'app:1': 'sha256:abc123', 'app:latest': 'sha256:abc123'}


def test_archive_without_manifest(tmp_path):
    path = tmp_path / 'plain.tar'
    with tarfile.open(path, 'w') as tar:
        info = tarfile.TarInfo('hello.txt')
        info.size = 2
        tar.addfile(info, io.BytesIO(b'hi'))
    with pytest.raises(ValueError, match='has no manifest.json: not an archive made by docker save'):
        archive_images(str(path))


def test_old_import_path_re_exports_each_concern():
    # _compose was split by concern; code importing from it keeps working.
    assert (_compose.render_stack, _compose.StackError, _compose.parse_port, _compose.interpolated_names,
            _compose.plan, _compose.archive_images) == (render_stack, StackError, parse_port, interpolated_names,
                                                        plan, archive_images)
