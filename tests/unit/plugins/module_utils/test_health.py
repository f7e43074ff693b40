# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import socket
import socketserver
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.prodkit.stack.plugins.module_utils import _x509
from ansible_collections.prodkit.stack.plugins.module_utils._health import (
    CheckFailed,
    ConfigError,
    attempt_container,
    attempt_http,
    attempt_tcp,
    attempt_tls,
    container_state,
    evaluate_certificate,
    evaluate_http,
    failure_message,
    next_wait,
    normalize_checks,
    parse_certificate,
    run_checks,
    run_with_retries,
)

# Only to make test certificates (ansible-core depends on it); the module
# decodes certificates without it.
try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    HAS_CRYPTOGRAPHY = True
except ImportError:
    HAS_CRYPTOGRAPHY = False
needs_cryptography = pytest.mark.skipif(not HAS_CRYPTOGRAPHY, reason='cryptography is needed to make test certificates')

UTC = datetime.timezone.utc


# --------------------------------------------------------------------------
# Fixtures: real servers on 127.0.0.1 and a fake Docker API on a unix socket
# --------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    routes = {
        '/ok': (200, 'text/plain', b'hello from prodkit-testbed'),
        '/fail': (500, 'text/plain', b'internal error'),
        '/json': (200, 'application/json', json.dumps({'status': 'ok', 'checks': {'db': 'up', 'cache': 'down'}}).encode()),
    }

    def do_GET(self):  # pylint: disable=invalid-name
        if self.path == '/host':
            status, ctype, body = 200, 'text/plain', ('host=%s' % self.headers.get('Host')).encode()
        elif self.path == '/header':
            status, ctype, body = 200, 'text/plain', ('token=%s' % self.headers.get('X-Token')).encode()
        elif self.path == '/slow':
            time.sleep(0.3)
            status, ctype, body = 200, 'text/plain', b'slow'
        else:
            status, ctype, body = self.routes.get(self.path, (404, 'text/plain', b'not found'))
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


def _serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope='module')
def http_server():
    server = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    _serve(server)
    yield 'http://127.0.0.1:%d' % server.server_address[1]
    server.shutdown()
    server.server_close()


def make_cert(tmp_path, days, names=('app.example.com',), ips=('127.0.0.1',), issuer_cn=None):
    """A certificate, self-signed unless ``issuer_cn`` names another issuer."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0]), x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'prodkit')])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]) if issuer_cn else subject
    san = [x509.DNSName(name) for name in names] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path = tmp_path / 'cert.pem'
    key_path = tmp_path / 'key.pem'
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert, str(cert_path), str(key_path)


@pytest.fixture
def tls_server(tmp_path):
    """A TLS server (HTTPS) on 127.0.0.1 with a self-signed certificate valid for 5 days."""
    cert, cert_path, key_path = make_cert(tmp_path, days=5)
    server = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    _serve(server)
    yield server.server_address[1], cert, cert_path
    server.shutdown()
    server.server_close()


def free_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _docker_handler(containers):
    class Handler(BaseHTTPRequestHandler):
        def address_string(self):
            return 'docker'

        def do_GET(self):  # pylint: disable=invalid-name
            if self.path.startswith('/containers/json'):
                body = json.dumps([{'Names': ['/' + name]} for name, doc in containers.items() if doc.get('service') == 'web'])
                status = 200
            else:
                name = self.path.split('/')[2]
                if name in containers:
                    status, body = 200, json.dumps(containers[name])
                else:
                    status, body = 404, json.dumps({'message': 'No such container: %s' % name})
            data = body.encode()
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # pylint: disable=arguments-differ
            pass
    return Handler


RUNNING_HEALTHY = {'State': {'Status': 'running', 'Running': True, 'Health': {'Status': 'healthy', 'Log': []}}}
RUNNING_PLAIN = {'State': {'Status': 'running', 'Running': True}}
EXITED = {'State': {'Status': 'exited', 'Running': False, 'ExitCode': 137}}
UNHEALTHY = {'State': {'Status': 'running', 'Running': True, 'Health': {
    'Status': 'unhealthy', 'Log': [{'ExitCode': 1, 'Output': 'wget: server returned error: HTTP/1.1 500\n'}]}}}
STARTING = {'State': {'Status': 'running', 'Running': True, 'Health': {'Status': 'starting', 'Log': []}}}


@pytest.fixture
def docker_socket(tmp_path):
    containers = {
        'hello': RUNNING_HEALTHY,
        'plain': RUNNING_PLAIN,
        'stopped': EXITED,
        'sick': UNHEALTHY,
        'app-web-1': dict(RUNNING_HEALTHY, service='web'),
        'app-web-2': dict(RUNNING_PLAIN, service='web'),
    }
    path = str(tmp_path / 'docker.sock')
    server = _UnixHTTPServer(path, _docker_handler(containers))
    _serve(server)
    yield 'unix://' + path
    server.shutdown()
    server.server_close()


# --------------------------------------------------------------------------
# Normalising checks
# --------------------------------------------------------------------------

def test_url_shortcut_and_default_names():
    checks = normalize_checks('https://app.example.com/healthz', [
        {'type': 'tcp', 'host': '127.0.0.1', 'port': 5432},
        {'type': 'tcp', 'host': '127.0.0.1', 'port': 2375, 'state': 'closed'},
        {'type': 'tls', 'url': 'https://app.example.com:8443/'},
        {'type': 'tls', 'host': 'app.example.com'},
        {'type': 'container', 'container': 'hello'},
        {'type': 'container', 'project': 'app', 'service': 'web'},
        {'url': 'http://user:pw@127.0.0.1:8080/x', 'status': 204},
    ])
    assert [check['name'] for check in checks] == [
        'https://app.example.com/healthz', 'tcp 127.0.0.1:5432', 'tcp 127.0.0.1:2375 closed', 'tls app.example.com:8443',
        'tls app.example.com:443', 'container hello', 'service app/web', 'http://127.0.0.1:8080/x']
    assert checks[0]['status'] == [200] and checks[0]['method'] == 'GET'
    assert checks[-1]['status'] == [204]
    assert checks[3]['min_days'] == 14


@pytest.mark.parametrize('url, checks, message', [
    (None, [], 'Error validating checks: give url or at least one entry in checks'),
    # AnsibleModule refuses it first (required_if, see test_health_check); the function still does.
    (None, [{'type': 'http'}], 'Error validating check number 1: url must be http:// or https:// with a host'),
    (None, [{'name': 'x', 'url': 'ftp://host/'}], 'Error validating check x: url must be http:// or https:// with a host'),
    (None, [{'type': 'tcp', 'host': 'h'}], 'Error validating check number 1: a tcp check needs host and port (or url)'),
    (None, [{'url': 'http://a/', 'body_regex': '('}],
     'Error validating check number 1: body_regex is not a regular expression: missing ), unterminated subpattern at position 0'),
    ('http://a/', [{'url': 'http://a/'}], 'Error validating checks: names must be unique, repeated: http://a/'),
    (None, [{'type': 'smtp'}], 'Error validating check number 1: type must be one of http, tcp, container, tls'),
])
def test_bad_checks_are_refused_with_an_exact_message(url, checks, message):
    with pytest.raises(ConfigError) as exc:
        normalize_checks(url, checks)
    assert str(exc.value) == message


# --------------------------------------------------------------------------
# Retry and deadline logic (time driven by hand)
# --------------------------------------------------------------------------

@pytest.mark.parametrize('attempts, retries, delay, now, deadline_at, expected', [
    (1, None, 1.0, 0.0, None, None),     # no retries, no deadline: one attempt
    (1, 0, 1.0, 0.0, None, None),
    (1, 2, 1.0, 0.0, None, 1.0),
    (2, 2, 1.0, 0.0, None, 1.0),
    (3, 2, 1.0, 0.0, None, None),        # 1 + 2 retries done
    (1, None, 1.0, 0.0, 10.0, 1.0),      # until the deadline
    (50, None, 1.0, 8.5, 10.0, 1.0),
    (50, None, 1.0, 9.0, 10.0, None),    # the next attempt would start at the deadline
    (2, 5, 2.0, 9.0, 10.0, None),        # the deadline comes before the retries run out
    (6, 5, 0.1, 1.0, 10.0, None),        # the retries run out before the deadline
])
def test_next_wait(attempts, retries, delay, now, deadline_at, expected):
    assert next_wait(attempts, retries, delay, now, deadline_at) == expected


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def flaky(fail_times, cost=0.5, clock=None):
    calls = {'n': 0, 'budgets': []}

    def attempt(check, timeout):
        calls['n'] += 1
        calls['budgets'].append(timeout)
        if clock is not None:
            clock.now += min(cost, timeout)
        if calls['n'] <= fail_times:
            raise CheckFailed('status 503, expected 200', status=503)
        return {'status': 200}
    return attempt, calls


@pytest.mark.parametrize('fail_times, retries, deadline, ok, attempts, error', [
    (0, None, None, True, 1, None),
    (1, None, None, False, 1, 'status 503, expected 200'),
    (2, 2, None, True, 3, None),
    (3, 2, None, False, 3, 'status 503, expected 200'),
    (100, None, 10.0, False, 7, 'status 503, expected 200'),   # 0.5 s attempts + 1 s delay within 10 s
    (4, None, 10.0, True, 5, None),
])
def test_retries_until_pass_retries_or_deadline(fail_times, retries, deadline, ok, attempts, error):
    clock = FakeClock()
    attempt, calls = flaky(fail_times, clock=clock)
    result = run_with_retries({'name': 'web', 'type': 'http'}, attempt, timeout=5.0, retries=retries, delay=1.0,
                              deadline_at=None if deadline is None else clock() + deadline, clock=clock, sleep=clock.sleep)
    assert result['ok'] is ok
    assert result['attempts'] == attempts == calls['n']
    assert result.get('error') == error
    assert result['latency_ms'] == 500
    if deadline is not None:
        assert clock.now <= deadline


def test_attempt_timeout_is_cut_to_the_deadline():
    clock = FakeClock()
    attempt, calls = flaky(100, cost=5.0, clock=clock)
    result = run_with_retries({'name': 'web', 'type': 'http'}, attempt, timeout=5.0, delay=1.0, deadline_at=7.0,
                              clock=clock, sleep=clock.sleep)
    assert calls['budgets'] == [5.0, 1.0]   # the second attempt gets only what is left
    assert result['attempts'] == 2 and clock.now == 7.0


def test_unexpected_exceptions_become_failed_checks():
    def attempt(check, timeout):
        raise KeyError('boom')
    result = run_with_retries({'name': 'x', 'type': 'tcp'}, attempt, timeout=1.0)
    assert result['ok'] is False and result['error'] == "unexpected KeyError: 'boom'"


def test_checks_run_concurrently_and_keep_their_order():
    def factory(check, docker_host):
        def attempt(c, timeout):
            time.sleep(0.3)
            if c['name'] == 'bad':
                raise CheckFailed('port is not open: connection refused', status='closed')
            return {'status': 200}
        return attempt
    checks = [{'name': 'c%d' % i, 'type': 'http'} for i in range(9)] + [{'name': 'bad', 'type': 'tcp'}]
    started = time.monotonic()
    results = run_checks(checks, attempt_factory=factory)
    elapsed = time.monotonic() - started
    assert elapsed < 0.9, 'ten 0.3 s checks took %.2f s' % elapsed
    assert [result['name'] for result in results] == [check['name'] for check in checks]
    assert failure_message(results) == 'Error checking health: 1 of 10 checks failed: bad: port is not open: connection refused'


def test_deadline_bounds_all_checks_together():
    def factory(check, docker_host):
        def attempt(c, timeout):
            time.sleep(min(0.2, timeout))
            raise CheckFailed('not yet')
        return attempt
    checks = [{'name': 'c%d' % i, 'type': 'http'} for i in range(5)]
    started = time.monotonic()
    results = run_checks(checks, timeout=1.0, delay=0.1, deadline=1.0, attempt_factory=factory)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 1.4
    assert all(not result['ok'] and result['attempts'] >= 3 for result in results)


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

@pytest.mark.parametrize('check, status, body, message', [
    ({'status': [200]}, 200, b'ok', None),
    ({'status': [200]}, 500, b'', 'status 500, expected 200'),
    ({'status': [200, 204]}, 302, b'', 'status 302, expected 200 or 204'),
    ({'status': [200], 'body_regex': 'hello'}, 200, b'hello world', None),
    ({'status': [200], 'body_regex': 'goodbye'}, 200, b'hello world', 'body does not match goodbye'),
    ({'status': [200], 'json_query': "status == 'ok'"}, 200, b'{"status": "ok"}', None),
    ({'status': [200], 'json_query': "status == 'ok'"}, 200, b'{"status": "degraded"}', "json_query status == 'ok' gave false"),
    ({'status': [200], 'json_query': 'checks.db'}, 200, b'{"checks": {}}', 'json_query checks.db gave null'),
    ({'status': [200], 'json_query': 'status'}, 200, b'<html>', 'body is not JSON, cannot apply json_query'),
])
def test_evaluate_http(check, status, body, message):
    if check.get('body_regex'):
        check['body_re'] = __import__('re').compile(check['body_regex'])
    if message is None:
        assert evaluate_http(check, status, body) == {'status': status}
    else:
        with pytest.raises(CheckFailed) as exc:
            evaluate_http(check, status, body)
        assert exc.value.reason == message
        assert exc.value.details == {'status': status}


@pytest.mark.parametrize('path, extra, expected', [
    ('/ok', {'body_regex': 'prodkit'}, None),
    ('/fail', {}, 'status 500, expected 200'),
    ('/ok', {'body_regex': 'goodbye'}, 'body does not match goodbye'),
    ('/json', {'json_query': "checks.cache == 'up'"}, "json_query checks.cache == 'up' gave false"),
    ('/json', {'json_query': "checks.db == 'up'"}, None),
])
def test_attempt_http_against_a_real_server(http_server, path, extra, expected):
    check = normalize_checks(None, [dict({'url': http_server + path}, **extra)])[0]
    if expected is None:
        assert attempt_http(check, 2.0)['status'] == 200
    else:
        with pytest.raises(CheckFailed) as exc:
            attempt_http(check, 2.0)
        assert exc.value.reason == expected


def test_resolve_sends_the_url_host_to_another_address(http_server):
    port = http_server.rsplit(':', 1)[1]
    check = normalize_checks(None, [{'url': 'http://app.example.invalid:%s/host' % port, 'resolve': '127.0.0.1',
                                     'body_regex': '^host=app.example.invalid:%s$' % port}])[0]
    assert attempt_http(check, 2.0) == {'status': 200}


def test_headers_are_sent(http_server):
    check = normalize_checks(None, [{'url': http_server + '/header', 'headers': {'X-Token': 'abc'}, 'body_regex': '^token=abc$'}])[0]
    assert attempt_http(check, 2.0) == {'status': 200}


def test_http_connection_errors_and_timeouts(http_server):
    port = free_port()
    with pytest.raises(CheckFailed) as exc:
        attempt_http(normalize_checks('http://127.0.0.1:%d/' % port)[0], 1.0)
    assert exc.value.reason == 'connection refused'
    with pytest.raises(CheckFailed) as exc:
        attempt_http(normalize_checks(http_server + '/slow')[0], 0.1)
    assert exc.value.reason == 'timed out'


# --------------------------------------------------------------------------
# TCP
# --------------------------------------------------------------------------

def test_tcp_open_and_closed(http_server):
    open_port = int(http_server.rsplit(':', 1)[1])
    closed_port = free_port()
    assert attempt_tcp({'host': '127.0.0.1', 'port': open_port, 'state': 'open'}, 1.0) == {'status': 'open'}
    assert attempt_tcp({'host': '127.0.0.1', 'port': closed_port, 'state': 'closed'}, 1.0) == {'status': 'closed'}
    with pytest.raises(CheckFailed) as exc:
        attempt_tcp({'host': '127.0.0.1', 'port': closed_port, 'state': 'open'}, 1.0)
    assert exc.value.reason == 'port is not open: connection refused'
    with pytest.raises(CheckFailed) as exc:
        attempt_tcp({'host': '127.0.0.1', 'port': open_port, 'state': 'closed'}, 1.0)
    assert exc.value.reason == 'port is open, expected closed'


# --------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------

@pytest.mark.parametrize('inspect, status, error', [
    (RUNNING_HEALTHY, 'running (healthy)', None),
    (RUNNING_PLAIN, 'running', None),
    (EXITED, 'exited', 'container c is exited (exit code 137), not running'),
    (UNHEALTHY, 'running (unhealthy)',
     'container c is running but unhealthy; last healthcheck exit code 1: wget: server returned error: HTTP/1.1 500'),
    (STARTING, 'running (starting)', 'container c is running but starting'),
    ({'State': {'Status': 'restarting', 'Running': True, 'Restarting': True}}, 'restarting', 'container c is restarting'),
])
def test_container_state(inspect, status, error):
    if error is None:
        assert container_state('c', inspect) == status
    else:
        with pytest.raises(CheckFailed) as exc:
            container_state('c', inspect)
        assert exc.value.reason == error
        assert exc.value.details == {'status': status}


@pytest.mark.parametrize('check, status, error', [
    ({'container': 'hello'}, 'running (healthy)', None),
    ({'container': 'plain'}, 'running', None),
    ({'project': 'app', 'service': 'web'}, 'running (healthy), running', None),
    ({'container': 'stopped'}, None, 'container stopped is exited (exit code 137), not running'),
    ({'container': 'sick'}, None, 'container sick is running but unhealthy; last healthcheck exit code 1: wget: server returned error: HTTP/1.1 500'),
    ({'container': 'missing'}, None, 'no such container: missing'),
])
def test_attempt_container_over_a_unix_socket(docker_socket, check, status, error):
    if error is None:
        assert attempt_container(check, 2.0, docker_socket)['status'] == status
    else:
        with pytest.raises(CheckFailed) as exc:
            attempt_container(check, 2.0, docker_socket)
        assert exc.value.reason == error


def test_attempt_container_without_docker(tmp_path):
    with pytest.raises(CheckFailed) as exc:
        attempt_container({'container': 'x'}, 1.0, 'unix://%s' % os.path.join(str(tmp_path), 'none.sock'))
    assert exc.value.reason.startswith('cannot reach the Docker API at unix://')


# --------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------

@needs_cryptography
@pytest.mark.parametrize('days', [5, 30, 400])
def test_parse_certificate_reads_expiry_issuer_and_names(tmp_path, days):
    cert, cert_path, dummy = make_cert(tmp_path, days, names=('app.example.com', 'www.example.com'), ips=('127.0.0.1', '::1'),
                                       issuer_cn='prodkit test CA')
    info = parse_certificate(cert.public_bytes(serialization.Encoding.DER))
    assert info['not_after'] == cert.not_valid_after_utc
    assert info['not_before'] == cert.not_valid_before_utc
    assert info['issuer'] == 'CN=prodkit test CA'
    assert info['subject'] == 'CN=app.example.com,O=prodkit'
    assert info['names'] == ['app.example.com', 'www.example.com', '127.0.0.1', '::1']


@pytest.mark.parametrize('seconds_left, min_days, days_left, error', [
    (5 * 86400 - 60, 30, 4, 'certificate expires in 4 days (2030-01-05T23:59:00Z), less than min_days 30'),
    (5 * 86400 - 60, 1, 4, None),
    (30 * 86400, 30, 30, None),
    (-60, 0, -1, 'certificate expired on 2029-12-31T23:59:00Z'),
])
def test_evaluate_certificate(seconds_left, min_days, days_left, error):
    now = datetime.datetime(2030, 1, 1, tzinfo=UTC)
    info = {'not_after': now + datetime.timedelta(seconds=seconds_left), 'issuer': 'CN=x', 'names': ['x']}
    if error is None:
        details = evaluate_certificate(info, min_days, now)
        assert details['days_left'] == days_left and details['status'] == 'valid for %d days' % days_left
    else:
        with pytest.raises(CheckFailed) as exc:
            evaluate_certificate(info, min_days, now)
        assert exc.value.reason == error
        assert exc.value.details['days_left'] == days_left


@needs_cryptography
@pytest.mark.parametrize('with_library', [True, False], ids=['cryptography', 'der-reader'])
def test_tls_check_against_a_real_server(tls_server, monkeypatch, with_library):
    # Both ways of decoding: a target without python3-cryptography uses the DER reader.
    monkeypatch.setattr(_x509, 'HAS_CRYPTOGRAPHY', with_library)
    port, cert, cert_path = tls_server
    base = {'host': '127.0.0.1', 'port': port, 'server_name': 'app.example.com', 'ca_path': cert_path, 'validate_certs': True}
    ok = attempt_tls(dict(base, min_days=1), 2.0)
    assert ok['days_left'] == 4 and ok['issuer'] == 'CN=app.example.com,O=prodkit' and ok['names'] == ['app.example.com', '127.0.0.1']
    with pytest.raises(CheckFailed) as exc:
        attempt_tls(dict(base, min_days=30), 2.0)
    assert exc.value.reason.startswith('certificate expires in 4 days (') and exc.value.reason.endswith('), less than min_days 30')
    assert exc.value.details['days_left'] == 4
    # Not trusted without the CA; readable without validation.
    with pytest.raises(CheckFailed) as exc:
        attempt_tls(dict(base, ca_path=None, min_days=1), 2.0)
    assert exc.value.reason.startswith('TLS handshake failed: certificate verify failed')
    assert attempt_tls(dict(base, ca_path=None, validate_certs=False, min_days=1), 2.0)['days_left'] == 4
    # A name the certificate does not hold.
    with pytest.raises(CheckFailed) as exc:
        attempt_tls(dict(base, server_name='other.example.com', min_days=1), 2.0)
    assert 'certificate verify failed' in exc.value.reason and 'other.example.com' in exc.value.reason


@needs_cryptography
def test_https_check_with_resolve_and_ca_path(tls_server):
    port, dummy, cert_path = tls_server
    check = normalize_checks(None, [{'url': 'https://app.example.com:%d/ok' % port, 'resolve': '127.0.0.1', 'ca_path': cert_path}])[0]
    assert attempt_http(check, 2.0) == {'status': 200}
