# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The digest a registry holds for an image reference, read-only.

What ``docker pull`` would fetch, asked without pulling: a HEAD of the
manifest through the registry HTTP API v2 (the OCI distribution
specification), with the registry's own authentication (Basic, or a Bearer
token from its realm, as Docker does). Pure functions for references,
challenges, credentials and the insecure-registry rule, and a small client
whose HTTP function the unit tests replace.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import ipaddress
import json
import re

DOCKER_HUB = 'docker.io'
DOCKER_HUB_API = 'registry-1.docker.io'
DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/'

# Every manifest type a tag may point to: an index (several platforms) or a
# single manifest, Docker's and OCI's. The digest of what the registry
# answers is the one ``docker pull`` records in RepoDigests.
MANIFEST_TYPES = ', '.join([
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.docker.distribution.manifest.v2+json',
    'application/vnd.oci.image.manifest.v1+json',
])

_DIGEST = re.compile(r'^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$')


class RegistryError(Exception):
    """The registry could not be asked, or refused; the message holds no secret."""


class NotFound(RegistryError):
    """The registry has no manifest under this reference."""


def parse_reference(ref):
    """Docker's normalisation of an image reference.

    Returns a dict: registry (as written in the reference and in Docker's
    credentials), api_host (where the API answers), repository (with
    ``library/`` for Docker Hub's official images), tag and digest (either
    may be None; a reference without both means tag ``latest``).
    """
    if not ref or ref != ref.strip() or ' ' in ref:
        raise ValueError('not an image reference: %r' % (ref,))
    name, digest = ref, None
    if '@' in ref:
        name, digest = ref.split('@', 1)
        if not _DIGEST.match(digest):
            raise ValueError('not an image reference (bad digest): %r' % (ref,))
    tag = None
    last = name.rsplit('/', 1)[-1]
    if ':' in last:
        name, tag = name.rsplit(':', 1)
    if tag is None and digest is None:
        tag = 'latest'
    first, _sep, rest = name.partition('/')
    if rest and ('.' in first or ':' in first or first == 'localhost'):
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, name
    if registry in ('index.docker.io', 'registry-1.docker.io'):
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and '/' not in repository:
        repository = 'library/' + repository
    if not repository or repository != repository.lower():
        raise ValueError('not an image reference (repository must be lower case): %r' % (ref,))
    return {
        'registry': registry,
        'api_host': DOCKER_HUB_API if registry == DOCKER_HUB else registry,
        'repository': repository,
        'tag': tag,
        'digest': digest,
    }


def repository_key(ref):
    """registry/repository of a reference or of a RepoDigests entry, normalised."""
    parsed = parse_reference(ref)
    return '%s/%s' % (parsed['registry'], parsed['repository'])


def repo_digests_for(ref, repo_digests):
    """The digests among an image's RepoDigests that belong to ref's repository."""
    key = repository_key(ref)
    found = []
    for entry in repo_digests or []:
        try:
            parsed = parse_reference(entry)
        except ValueError:
            continue
        if parsed['digest'] and '%s/%s' % (parsed['registry'], parsed['repository']) == key:
            found.append(parsed['digest'])
    return found


def parse_challenge(header):
    """The scheme and parameters of a WWW-Authenticate header."""
    if not header:
        return None, {}
    scheme, _sep, rest = header.strip().partition(' ')
    params = dict((k.lower(), v) for k, v in re.findall(r'([A-Za-z_]+)="([^"]*)"', rest))
    return scheme.lower(), params


def registry_names(registry):
    """The spellings under which Docker may keep a registry's credentials."""
    if registry == DOCKER_HUB:
        return [DOCKER_HUB_AUTH_KEY, 'index.docker.io', 'docker.io', 'registry-1.docker.io',
                'https://index.docker.io', 'https://registry-1.docker.io']
    return [registry, 'https://' + registry, 'http://' + registry, 'https://' + registry + '/v1/',
            'https://' + registry + '/v2/']


def credentials_for(registry, logins, docker_config):
    """(username, password, where) for a registry: the logins given first,
    then the ``auths`` of Docker's config.json; (None, None, 'anonymous')
    when neither has it. A credential helper's store is not read."""
    names = registry_names(registry)
    for login in logins or []:
        wanted = (login.get('registry') or '').rstrip('/')
        if wanted in names or (registry == DOCKER_HUB and wanted in ('', DOCKER_HUB)):
            return login.get('username'), login.get('password'), 'login'
    auths = (docker_config or {}).get('auths') or {}
    for name in names:
        entry = auths.get(name) or auths.get(name.rstrip('/'))
        if not entry:
            continue
        if entry.get('auth'):
            try:
                user, _sep, password = base64.b64decode(entry['auth']).decode('utf-8').partition(':')
            except (ValueError, UnicodeDecodeError):
                continue
            return user, password, 'docker config'
        if entry.get('username'):
            return entry.get('username'), entry.get('password'), 'docker config'
    return None, None, 'anonymous'


def is_insecure(registry, insecure_cidrs, insecure_names):
    """Docker's rule: a registry is asked over plain HTTP (after HTTPS) when
    it is named in insecure-registries or its address is in one of their
    CIDRs (127.0.0.0/8 always is)."""
    if registry in (insecure_names or []):
        return True
    host = registry.rsplit(':', 1)[0] if registry.count(':') == 1 else registry
    host = host.strip('[]')
    if host == 'localhost':
        host = '127.0.0.1'
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return any(fnmatch.fnmatch(registry, name) for name in insecure_names or [] if '*' in name)
    for cidr in insecure_cidrs or []:
        try:
            if address in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue
    return False


def basic_header(user, password):
    token = base64.b64encode(('%s:%s' % (user, password)).encode('utf-8')).decode('ascii')
    return 'Basic ' + token


class RegistryClient(object):
    """Asks registries for the digest of a reference.

    ``fetch(method, url, headers, timeout, validate_certs)`` returns
    ``(status, headers, body)`` for any HTTP status and raises
    ``ConnectionError`` when no answer came (refused, TLS, timeout).
    """

    def __init__(self, fetch, logins=None, docker_config=None, insecure_cidrs=None, insecure_names=None, timeout=15):
        self.fetch = fetch
        self.logins = logins or []
        self.docker_config = docker_config or {}
        self.insecure_cidrs = insecure_cidrs or []
        self.insecure_names = insecure_names or []
        self.timeout = timeout
        self._schemes = {}
        self._tokens = {}

    def _request(self, ref, method, url_path):
        """One request to the registry of ref, with its scheme rule."""
        registry, host = ref['registry'], ref['api_host']
        insecure = is_insecure(registry, self.insecure_cidrs, self.insecure_names)
        schemes = [self._schemes[host]] if host in self._schemes else (['https', 'http'] if insecure else ['https'])
        last = None
        for scheme in schemes:
            url = '%s://%s%s' % (scheme, host, url_path)
            try:
                answer = self._authorised(ref, method, url, validate_certs=not insecure)
            except ConnectionError as exc:
                last = exc
                continue
            self._schemes[host] = scheme
            return answer
        raise RegistryError('Error asking registry %s: %s' % (registry, last))

    def _authorised(self, ref, method, url, validate_certs):
        headers = {'Accept': MANIFEST_TYPES}
        key = (ref['api_host'], ref['repository'])
        if key in self._tokens:
            headers['Authorization'] = self._tokens[key]
        status, answer_headers, body = self.fetch(method, url, headers, self.timeout, validate_certs)
        if status != 401:
            return status, answer_headers, body
        scheme, params = parse_challenge(_header(answer_headers, 'WWW-Authenticate'))
        user, password, _where = credentials_for(ref['registry'], self.logins, self.docker_config)
        if scheme == 'basic':
            if user is None:
                raise RegistryError('Error asking registry %s: it needs a login and none is known for it '
                                    '(compose_stack_registry_logins or docker login)' % ref['registry'])
            authorization = basic_header(user, password)
        elif scheme == 'bearer' and params.get('realm'):
            authorization = 'Bearer ' + self._token(ref, params, user, password, validate_certs)
        else:
            raise RegistryError('Error asking registry %s: unsupported authentication %r' % (ref['registry'], scheme))
        self._tokens[key] = authorization
        headers['Authorization'] = authorization
        status, answer_headers, body = self.fetch(method, url, headers, self.timeout, validate_certs)
        if status == 401:
            raise RegistryError('Error asking registry %s: the login was refused (HTTP 401)' % ref['registry'])
        return status, answer_headers, body

    def _token(self, ref, params, user, password, validate_certs):
        query = 'scope=repository:%s:pull' % ref['repository']
        if params.get('service'):
            query += '&service=' + _quote(params['service'])
        realm = params['realm']
        url = realm + ('&' if '?' in realm else '?') + query
        headers = {}
        if user is not None:
            headers['Authorization'] = basic_header(user, password)
        try:
            status, _headers, body = self.fetch('GET', url, headers, self.timeout, validate_certs)
        except ConnectionError as exc:
            raise RegistryError('Error getting a token from %s: %s' % (realm, exc))
        if status != 200:
            raise RegistryError('Error getting a token from %s: HTTP %s' % (realm, status))
        try:
            data = json.loads(body or b'{}')
        except ValueError:
            raise RegistryError('Error getting a token from %s: the answer is not JSON' % realm)
        token = data.get('token') or data.get('access_token')
        if not token:
            raise RegistryError('Error getting a token from %s: no token in the answer' % realm)
        return token

    def digest(self, image):
        """The digest the registry holds for the reference ``image``."""
        ref = parse_reference(image)
        if ref['digest']:
            return ref['digest']
        path = '/v2/%s/manifests/%s' % (ref['repository'], ref['tag'])
        status, headers, _body = self._request(ref, 'HEAD', path)
        digest = _header(headers, 'Docker-Content-Digest')
        if status == 200 and digest:
            return digest
        if status == 200:
            # Some registries name the digest only on GET: it is the SHA-256
            # of the manifest's bytes.
            status, headers, body = self._request(ref, 'GET', path)
            if status == 200:
                return _header(headers, 'Docker-Content-Digest') or 'sha256:' + hashlib.sha256(body or b'').hexdigest()
        if status == 404:
            raise NotFound('%s is not in registry %s' % (image, ref['registry']))
        raise RegistryError('Error asking registry %s for %s: HTTP %s' % (ref['registry'], image, status))


def _header(headers, name):
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def _quote(value):
    return re.sub(r'[^A-Za-z0-9._~-]', lambda m: '%%%02X' % ord(m.group(0)), value)
