# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Health checks for prodkit.stack.health_check (private to prodkit.stack).

Only the standard library is used on the target: ``http.client`` for HTTP
and for the Docker Engine API (over its unix socket), ``socket`` for TCP,
``ssl`` for TLS (the certificate is decoded by ``_x509``: with
``cryptography`` where it is installed, by a small DER reader otherwise).
``jmespath`` is imported only when a check has a ``json_query``.

Checks run concurrently, one thread each; every check retries until it
passes, runs out of retries or would pass the overall deadline. Clock and
sleep are parameters so that the unit tests drive time by hand.
"""

from __future__ import annotations

import datetime
import http.client
import json
import re
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlsplit

from ansible_collections.prodkit.stack.plugins.module_utils._x509 import CertificateError, parse_certificate

CHECK_TYPES = ('http', 'tcp', 'container', 'tls')
MAX_BODY = 1024 * 1024
MAX_WORKERS = 64
DEFAULT_TLS_PORT = 443


class CheckFailed(Exception):
    """One attempt failed; ``details`` go into the check's result anyway."""

    def __init__(self, reason, **details):
        super(CheckFailed, self).__init__(reason)
        self.reason = reason
        self.details = details


class ConfigError(Exception):
    """The checks are not well formed."""


# --------------------------------------------------------------------------
# Normalising the checks
# --------------------------------------------------------------------------

def _host_port(url, default_ports):
    parts = urlsplit(url)
    if parts.scheme not in default_ports or not parts.hostname:
        raise ValueError(url)
    return parts.hostname, parts.port or default_ports[parts.scheme]


def _safe_url(url):
    """The URL without user:password@."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ''
    if ':' in netloc:
        netloc = '[%s]' % netloc
    if parts.port:
        netloc += ':%d' % parts.port
    return parts._replace(netloc=netloc).geturl()


def normalize_checks(url=None, checks=None):
    """Validate the ``url`` and ``checks`` options; return a list of check dicts.

    Each dict has ``name`` and ``type`` plus the keys its type needs. Raises
    ConfigError with a message naming the check.
    """
    result = []
    items = []
    if url:
        items.append({'type': 'http', 'url': url})
    items.extend(checks or [])
    if not items:
        raise ConfigError('Error validating checks: give url or at least one entry in checks')
    for position, raw in enumerate(items, start=1):
        check = dict((k, v) for k, v in raw.items() if v is not None)
        kind = check.setdefault('type', 'http')
        label = check.get('name') or 'number %d' % position
        if kind not in CHECK_TYPES:
            raise ConfigError('Error validating check %s: type must be one of %s' % (label, ', '.join(CHECK_TYPES)))
        if kind == 'http':
            # url is required for an http check (health_check's required_if).
            try:
                _host_port(check.get('url') or '', {'http': 80, 'https': 443})
            except ValueError:
                raise ConfigError('Error validating check %s: url must be http:// or https:// with a host' % label)
            check.setdefault('method', 'GET')
            status = check.get('status', [200])
            if not isinstance(status, (list, tuple)):
                status = [status]
            try:
                check['status'] = [int(code) for code in status]
            except (TypeError, ValueError):
                raise ConfigError('Error validating check %s: status must be HTTP status codes' % label)
            if check.get('body_regex'):
                try:
                    check['body_re'] = re.compile(check['body_regex'])
                except re.error as exc:
                    raise ConfigError('Error validating check %s: body_regex is not a regular expression: %s' % (label, exc))
            default_name = _safe_url(check['url'])
        elif kind in ('tcp', 'tls'):
            if check.get('url') and not check.get('host'):
                try:
                    host, port = _host_port(check['url'], {'https': 443, 'http': 80, 'tcp': None, 'tls': DEFAULT_TLS_PORT})
                except ValueError:
                    raise ConfigError('Error validating check %s: url must have a scheme and a host' % label)
                check['host'] = host
                check.setdefault('port', port)
            if kind == 'tls':
                check.setdefault('port', DEFAULT_TLS_PORT)
            if not check.get('host') or not check.get('port'):
                raise ConfigError('Error validating check %s: a %s check needs host and port (or url)' % (label, kind))
            check.setdefault('state', 'open')
            if check['state'] not in ('open', 'closed'):
                raise ConfigError('Error validating check %s: state must be open or closed' % label)
            if kind == 'tcp':
                default_name = 'tcp %s:%s%s' % (check['host'], check['port'], '' if check['state'] == 'open' else ' closed')
            else:
                check.setdefault('min_days', 14)
                default_name = 'tls %s:%s' % (check['host'], check['port'])
        elif check.get('container'):
            # container, or project and service, not both: health_check's
            # required_if, required_together and mutually_exclusive.
            default_name = 'container %s' % check['container']
        else:
            default_name = 'service %s/%s' % (check.get('project'), check.get('service'))
        check.setdefault('name', default_name)
        check.setdefault('validate_certs', True)
        result.append(check)
    names = [check['name'] for check in result]
    duplicates = sorted(set(name for name in names if names.count(name) > 1))
    if duplicates:
        raise ConfigError('Error validating checks: names must be unique, repeated: %s' % ', '.join(duplicates))
    return result


# --------------------------------------------------------------------------
# Connections
# --------------------------------------------------------------------------

class _HTTPConnection(http.client.HTTPConnection):
    """Connects to ``connect_host`` while Host stays the URL's host (curl --resolve)."""

    def __init__(self, host, port, timeout, connect_host):
        http.client.HTTPConnection.__init__(self, host, port, timeout=timeout)
        self._connect_host = connect_host

    def connect(self):
        self.sock = socket.create_connection((self._connect_host, self.port), self.timeout)


class _HTTPSConnection(http.client.HTTPSConnection):
    """Connects to ``connect_host``; SNI and certificate name stay the URL's host."""

    def __init__(self, host, port, timeout, connect_host, context):
        http.client.HTTPSConnection.__init__(self, host, port, timeout=timeout, context=context)
        self._connect_host = connect_host
        self._tls_context = context

    def connect(self):
        sock = socket.create_connection((self._connect_host, self.port), self.timeout)
        self.sock = self._tls_context.wrap_socket(sock, server_hostname=self.host)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        http.client.HTTPConnection.__init__(self, 'localhost', timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except Exception:
            sock.close()
            raise
        self.sock = sock


def tls_context(validate_certs=True, ca_path=None):
    if validate_certs:
        context = ssl.create_default_context(cafile=ca_path)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _describe_error(exc):
    if isinstance(exc, ssl.SSLCertVerificationError):
        return 'certificate verify failed: %s' % (exc.verify_message or exc.reason)
    if isinstance(exc, socket.timeout):
        return 'timed out'
    if isinstance(exc, ConnectionRefusedError):
        return 'connection refused'
    if isinstance(exc, socket.gaierror):
        return 'cannot resolve host: %s' % exc.strerror
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return '%s: %s' % (type(exc).__name__, exc)


# --------------------------------------------------------------------------
# One attempt of each type
# --------------------------------------------------------------------------

def evaluate_http(check, status, body):
    """Decide an HTTP response; return details or raise CheckFailed. Pure."""
    details = {'status': status}
    if status not in check['status']:
        raise CheckFailed('status %d, expected %s' % (status, ' or '.join(str(code) for code in check['status'])), **details)
    text = body.decode('utf-8', 'replace') if isinstance(body, bytes) else body
    if check.get('body_re') is not None and not check['body_re'].search(text):
        raise CheckFailed('body does not match %s' % check['body_regex'], **details)
    if check.get('json_query'):
        try:
            import jmespath
        except ImportError:
            raise CheckFailed('json_query needs the Python library jmespath on the target', **details)
        try:
            document = json.loads(text)
        except ValueError:
            raise CheckFailed('body is not JSON, cannot apply json_query', **details)
        try:
            found = jmespath.search(check['json_query'], document)
        except jmespath.exceptions.JMESPathError as exc:
            raise CheckFailed('json_query %s is not valid: %s' % (check['json_query'], exc), **details)
        if found in (None, False, '', [], {}):
            raise CheckFailed('json_query %s gave %s' % (check['json_query'], json.dumps(found)), **details)
    return details


def attempt_http(check, timeout):
    parts = urlsplit(check['url'])
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == 'https' else 80)
    connect_host = check.get('resolve') or host
    path = parts.path or '/'
    if parts.query:
        path += '?' + parts.query
    headers = dict(check.get('headers') or {})
    headers.setdefault('User-Agent', 'prodkit.stack.health_check')
    headers.setdefault('Connection', 'close')
    if parts.scheme == 'https':
        conn = _HTTPSConnection(host, port, timeout, connect_host, tls_context(check.get('validate_certs', True), check.get('ca_path')))
    else:
        conn = _HTTPConnection(host, port, timeout, connect_host)
    try:
        try:
            conn.request(check.get('method', 'GET'), path, headers=headers)
            response = conn.getresponse()
            body = response.read(MAX_BODY)
        except (OSError, http.client.HTTPException) as exc:
            raise CheckFailed(_describe_error(exc))
    finally:
        conn.close()
    return evaluate_http(check, response.status, body)


def attempt_tcp(check, timeout):
    try:
        sock = socket.create_connection((check['host'], int(check['port'])), timeout)
    except OSError as exc:
        if check['state'] == 'closed':
            return {'status': 'closed'}
        raise CheckFailed('port is not open: %s' % _describe_error(exc), status='closed')
    sock.close()
    if check['state'] == 'closed':
        raise CheckFailed('port is open, expected closed', status='open')
    return {'status': 'open'}


def docker_request(docker_host, path, timeout):
    """GET ``path`` from the Docker Engine API; return (status, decoded JSON or None)."""
    if not docker_host.startswith('unix://'):
        raise CheckFailed('docker_host must be unix:///path/to/docker.sock')
    conn = _UnixHTTPConnection(docker_host[len('unix://'):], timeout)
    try:
        conn.request('GET', path, headers={'Host': 'docker', 'Connection': 'close'})
        response = conn.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise CheckFailed('cannot reach the Docker API at %s: %s' % (docker_host, _describe_error(exc)))
    finally:
        conn.close()
    try:
        return response.status, json.loads(body.decode('utf-8')) if body else None
    except ValueError:
        return response.status, None


def container_state(name, inspect):
    """Decide one container from its inspect document; return a status or raise. Pure."""
    state = inspect.get('State') or {}
    status = state.get('Status') or 'unknown'
    health = (state.get('Health') or {}).get('Status')
    if not state.get('Running'):
        detail = ''
        if status == 'exited':
            detail = ' (exit code %s)' % state.get('ExitCode')
        raise CheckFailed('container %s is %s%s, not running' % (name, status, detail), status=status)
    if state.get('Restarting') or state.get('Paused'):
        raise CheckFailed('container %s is %s' % (name, status), status=status)
    if health is None:
        return 'running'
    if health != 'healthy':
        log = (state.get('Health') or {}).get('Log') or []
        last = ''
        if log:
            output = (log[-1].get('Output') or '').strip().splitlines()
            last = '; last healthcheck exit code %s%s' % (log[-1].get('ExitCode'), (': ' + output[-1][:200]) if output else '')
        raise CheckFailed('container %s is running but %s%s' % (name, health, last), status='running (%s)' % health)
    return 'running (healthy)'


def attempt_container(check, timeout, docker_host):
    if check.get('container'):
        names = [check['container']]
    else:
        filters = json.dumps({'label': ['com.docker.compose.project=%s' % check['project'],
                                        'com.docker.compose.service=%s' % check['service']]})
        status, listing = docker_request(docker_host, '/containers/json?all=1&filters=%s' % quote(filters), timeout)
        if status != 200:
            raise CheckFailed('Docker API answered %s to the container listing' % status)
        names = sorted(item['Names'][0].lstrip('/') for item in listing or [])
        if not names:
            raise CheckFailed('no container for service %s of project %s' % (check['service'], check['project']))
    statuses = []
    for name in names:
        status, inspect = docker_request(docker_host, '/containers/%s/json' % quote(name, safe=''), timeout)
        if status == 404:
            raise CheckFailed('no such container: %s' % name, status='missing')
        if status != 200 or not isinstance(inspect, dict):
            raise CheckFailed('Docker API answered %s for container %s' % (status, name))
        statuses.append(container_state(name, inspect))
    return {'status': statuses[0] if len(statuses) == 1 else ', '.join(statuses), 'containers': names}


def evaluate_certificate(info, min_days, now):
    """Days left and the verdict for a decoded certificate. Pure."""
    seconds = (info['not_after'] - now).total_seconds()
    days_left = int(seconds // 86400)
    details = {
        'days_left': days_left,
        'not_after': info['not_after'].strftime('%Y-%m-%dT%H:%M:%SZ'),
        'issuer': info['issuer'],
        'names': info['names'],
    }
    if seconds < 0:
        raise CheckFailed('certificate expired on %s' % details['not_after'], **details)
    if days_left < min_days:
        raise CheckFailed('certificate expires in %d days (%s), less than min_days %d' % (days_left, details['not_after'], min_days), **details)
    details['status'] = 'valid for %d days' % days_left
    return details


def attempt_tls(check, timeout, now=None):
    server_name = check.get('server_name') or check['host']
    connect_host = check.get('resolve') or check['host']
    context = tls_context(check.get('validate_certs', True), check.get('ca_path'))
    try:
        sock = socket.create_connection((connect_host, int(check['port'])), timeout)
    except OSError as exc:
        raise CheckFailed(_describe_error(exc))
    try:
        try:
            tls_sock = context.wrap_socket(sock, server_hostname=server_name)
        except (OSError, ssl.SSLError) as exc:
            raise CheckFailed('TLS handshake failed: %s' % _describe_error(exc))
        try:
            der = tls_sock.getpeercert(binary_form=True)
        finally:
            tls_sock.close()
    finally:
        sock.close()
    if not der:
        raise CheckFailed('the server sent no certificate')
    try:
        info = parse_certificate(der)
    except CertificateError as exc:
        raise CheckFailed(str(exc))
    return evaluate_certificate(info, check['min_days'], now or datetime.datetime.now(datetime.timezone.utc))


# --------------------------------------------------------------------------
# Retries, deadline, concurrency
# --------------------------------------------------------------------------

def next_wait(attempts, retries, delay, now, deadline_at):
    """Seconds to wait before the next attempt, or None to give up. Pure.

    ``retries`` None means "until the deadline" (a single attempt when there
    is no deadline either). An attempt is never started after the deadline.
    """
    if retries is None and deadline_at is None:
        return None
    if retries is not None and attempts > retries:
        return None
    if deadline_at is not None and now + delay >= deadline_at:
        return None
    return delay


def run_with_retries(check, attempt, timeout, retries=None, delay=1.0, deadline_at=None,
                     clock=time.monotonic, sleep=time.sleep):
    """Run ``attempt(check, timeout)`` until it passes or gives up; return the check's result."""
    attempts = 0
    result = {'name': check['name'], 'type': check['type']}
    while True:
        attempts += 1
        started = clock()
        budget = timeout if deadline_at is None else max(0.01, min(timeout, deadline_at - started))
        try:
            details = attempt(check, budget) or {}
            ok, error = True, None
        except CheckFailed as exc:
            details, ok, error = exc.details, False, exc.reason
        except Exception as exc:  # pylint: disable=broad-except
            details, ok, error = {}, False, 'unexpected %s: %s' % (type(exc).__name__, exc)
        finished = clock()
        result = {'name': check['name'], 'type': check['type'], 'ok': ok, 'attempts': attempts,
                  'latency_ms': int(round((finished - started) * 1000))}
        result.update(details)
        if ok:
            return result
        result['error'] = error
        wait = next_wait(attempts, retries, delay, finished, deadline_at)
        if wait is None:
            return result
        sleep(wait)


def attempt_for(check, docker_host='unix:///var/run/docker.sock'):
    kind = check['type']
    if kind == 'http':
        return attempt_http
    if kind == 'tcp':
        return attempt_tcp
    if kind == 'tls':
        return attempt_tls
    return lambda c, t: attempt_container(c, t, docker_host)


def run_checks(checks, timeout=5.0, retries=None, delay=1.0, deadline=None, docker_host='unix:///var/run/docker.sock',
               attempt_factory=attempt_for, clock=time.monotonic, sleep=time.sleep, max_workers=MAX_WORKERS):
    """Run every check concurrently; return the results in the order of ``checks``."""
    deadline_at = None if deadline is None else clock() + deadline
    if not checks:
        return []
    workers = max(1, min(max_workers, len(checks)))
    lock = threading.Lock()
    results = [None] * len(checks)

    def run(index):
        check = checks[index]
        outcome = run_with_retries(check, attempt_factory(check, docker_host), timeout, retries, delay,
                                   deadline_at, clock, sleep)
        with lock:
            results[index] = outcome

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(run, index) for index in range(len(checks))]:
            future.result()
    return results


def failure_message(results):
    failed = [result for result in results if not result['ok']]
    return 'Error checking health: %d of %d checks failed: %s' % (
        len(failed), len(results), '; '.join('%s: %s' % (result['name'], result['error']) for result in failed))
