# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_registry: Docker's reference rules, registry authentication, the digest of a tag."""

from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.prodkit.stack.plugins.module_utils import _registry as registry

DIGEST = 'sha256:' + 'a' * 64


@pytest.mark.parametrize('ref, expected', [
    ('postgres:17', ('docker.io', 'registry-1.docker.io', 'library/postgres', '17', None)),
    ('nginx', ('docker.io', 'registry-1.docker.io', 'library/nginx', 'latest', None)),
    ('grafana/grafana:11.2', ('docker.io', 'registry-1.docker.io', 'grafana/grafana', '11.2', None)),
    ('index.docker.io/library/redis:8', ('docker.io', 'registry-1.docker.io', 'library/redis', '8', None)),
    ('127.0.0.1:5000/pk/django:1.0', ('127.0.0.1:5000', '127.0.0.1:5000', 'pk/django', '1.0', None)),
    ('localhost/app:2', ('localhost', 'localhost', 'app', '2', None)),
    ('registry.example.com/a/b/c', ('registry.example.com', 'registry.example.com', 'a/b/c', 'latest', None)),
    ('ghcr.io/x/y:1@' + DIGEST, ('ghcr.io', 'ghcr.io', 'x/y', '1', DIGEST)),
    ('ghcr.io/x/y@' + DIGEST, ('ghcr.io', 'ghcr.io', 'x/y', None, DIGEST)),
])
def test_parse_reference(ref, expected):
    parsed = registry.parse_reference(ref)
    assert (parsed['registry'], parsed['api_host'], parsed['repository'], parsed['tag'], parsed['digest']) == expected


@pytest.mark.parametrize('ref', ['', ' x', 'Upper/Case:1', 'a@sha256:short'])
def test_parse_reference_refuses(ref):
    with pytest.raises(ValueError):
        registry.parse_reference(ref)


def test_repo_digests_for_keeps_the_references_repository():
    digests = ['nginx@' + DIGEST, '127.0.0.1:5000/pk/nginx@sha256:' + 'b' * 64, 'garbage']
    assert registry.repo_digests_for('nginx:1.26', digests) == [DIGEST]
    assert registry.repo_digests_for('docker.io/library/nginx:1.27', digests) == [DIGEST]
    assert registry.repo_digests_for('127.0.0.1:5000/pk/nginx:1', digests) == ['sha256:' + 'b' * 64]
    assert registry.repo_digests_for('127.0.0.1:5000/pk/django:1', digests) == []


def test_parse_challenge():
    scheme, params = registry.parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"')
    assert scheme == 'bearer'
    assert params == {'realm': 'https://auth.docker.io/token', 'service': 'registry.docker.io',
                      'scope': 'repository:library/nginx:pull'}
    assert registry.parse_challenge('Basic realm="test"') == ('basic', {'realm': 'test'})
    assert registry.parse_challenge(None) == (None, {})


def test_credentials_from_logins_then_docker_config():
    auth = base64.b64encode(b'cfg-user:cfg:pass').decode()
    config = {'auths': {'127.0.0.1:5000': {'auth': auth}, 'https://index.docker.io/v1/': {'auth': auth}}}
    logins = [{'registry': 'registry.example.com', 'username': 'u', 'password': 'p'}]
    assert registry.credentials_for('registry.example.com', logins, config) == ('u', 'p', 'login')
    assert registry.credentials_for('127.0.0.1:5000', logins, config) == ('cfg-user', 'cfg:pass', 'docker config')
    assert registry.credentials_for('docker.io', [], config) == ('cfg-user', 'cfg:pass', 'docker config')
    assert registry.credentials_for('ghcr.io', logins, config) == (None, None, 'anonymous')


@pytest.mark.parametrize('name, cidrs, names, insecure', [
    ('127.0.0.1:5000', ['127.0.0.0/8'], [], True),
    ('localhost:5000', ['127.0.0.0/8'], [], True),
    ('10.0.0.5:5000', ['127.0.0.0/8'], [], False),
    ('10.0.0.5:5000', ['10.0.0.0/24'], [], True),
    ('registry.lan:5000', ['127.0.0.0/8'], ['registry.lan:5000'], True),
    ('registry.example.com', ['127.0.0.0/8'], [], False),
])
def test_is_insecure(name, cidrs, names, insecure):
    assert registry.is_insecure(name, cidrs, names) is insecure


class FakeRegistry(object):
    """Answers like a registry: the manifest's digest behind Basic or Bearer authentication."""

    def __init__(self, auth='basic', digest=DIGEST, status=200, scheme_ok=('https',), head_digest=True):
        self.auth, self.digest, self.status, self.scheme_ok, self.head_digest = auth, digest, status, scheme_ok, head_digest
        self.calls = []

    def __call__(self, method, url, headers, timeout, validate_certs):
        self.calls.append((method, url, dict(headers), validate_certs))
        if url.split(':')[0] not in self.scheme_ok:
            raise ConnectionError('connection refused')
        if url.startswith('https://auth.example/token'):
            if headers.get('Authorization') != registry.basic_header('u', 'p'):
                return 401, {}, b''
            return 200, {}, json.dumps({'token': 'tok'}).encode()
        good = {'basic': registry.basic_header('u', 'p'), 'bearer': 'Bearer tok', 'none': None}[self.auth]
        if good and headers.get('Authorization') != good:
            challenge = 'Basic realm="r"' if self.auth == 'basic' else \
                'Bearer realm="https://auth.example/token",service="reg"'
            return 401, {'WWW-Authenticate': challenge}, b''
        if self.status != 200:
            return self.status, {}, b''
        answer = {'Docker-Content-Digest': self.digest} if self.head_digest or method == 'GET' else {}
        return 200, answer, b'{"manifest": 1}' if method == 'GET' else b''


LOGINS = [{'registry': 'reg.example:5000', 'username': 'u', 'password': 'p'}]


@pytest.mark.parametrize('auth', ['basic', 'bearer', 'none'])
def test_digest_with_each_authentication(auth):
    fake = FakeRegistry(auth=auth)
    client = registry.RegistryClient(fake, logins=LOGINS)
    assert client.digest('reg.example:5000/pk/django:1.0') == DIGEST
    assert fake.calls[0][0] == 'HEAD'
    assert fake.calls[0][1] == 'https://reg.example:5000/v2/pk/django/manifests/1.0'
    assert 'application/vnd.oci.image.index.v1+json' in fake.calls[0][2]['Accept']
    # The token (or Basic header) is kept for the next reference of the repository.
    before = len(fake.calls)
    client.digest('reg.example:5000/pk/django:1.0')
    assert len(fake.calls) == before + 1


def test_token_request_carries_scope_service_and_login():
    fake = FakeRegistry(auth='bearer')
    registry.RegistryClient(fake, logins=LOGINS).digest('reg.example:5000/pk/django:1.0')
    token_calls = [c for c in fake.calls if c[1].startswith('https://auth.example/token')]
    assert token_calls[0][1] == 'https://auth.example/token?scope=repository:pk/django:pull&service=reg'


def test_basic_without_login_says_so_and_never_shows_a_password():
    fake = FakeRegistry(auth='basic')
    with pytest.raises(registry.RegistryError) as err:
        registry.RegistryClient(fake).digest('reg.example:5000/pk/django:1.0')
    assert 'needs a login' in str(err.value)
    with pytest.raises(registry.RegistryError) as err:
        registry.RegistryClient(fake, logins=[dict(LOGINS[0], password='wrong-secret')]).digest('reg.example:5000/pk/django:1.0')
    assert 'refused' in str(err.value) and 'wrong-secret' not in str(err.value)


def test_not_found_and_other_errors():
    with pytest.raises(registry.NotFound):
        registry.RegistryClient(FakeRegistry(status=404), logins=LOGINS).digest('reg.example:5000/pk/gone:1')
    with pytest.raises(registry.RegistryError):
        registry.RegistryClient(FakeRegistry(status=500), logins=LOGINS).digest('reg.example:5000/pk/x:1')


def test_insecure_registry_falls_back_to_http_and_secure_one_does_not():
    fake = FakeRegistry(scheme_ok=('http',))
    client = registry.RegistryClient(fake, logins=[dict(LOGINS[0], registry='127.0.0.1:5000')], insecure_cidrs=['127.0.0.0/8'])
    assert client.digest('127.0.0.1:5000/pk/django:1.0') == DIGEST
    assert fake.calls[0][1].startswith('https://') and fake.calls[0][3] is False
    assert fake.calls[1][1].startswith('http://')
    with pytest.raises(registry.RegistryError):
        registry.RegistryClient(FakeRegistry(scheme_ok=('http',)), logins=LOGINS).digest('reg.example:5000/pk/django:1.0')


def test_digest_from_get_when_head_names_none():
    fake = FakeRegistry(head_digest=False)
    assert registry.RegistryClient(fake, logins=LOGINS).digest('reg.example:5000/pk/django:1.0') == DIGEST


def test_pinned_reference_is_not_asked():
    fake = FakeRegistry()
    assert registry.RegistryClient(fake).digest('reg.example:5000/pk/django@' + DIGEST) == DIGEST
    assert fake.calls == []
