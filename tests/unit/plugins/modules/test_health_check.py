# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The module end to end against servers on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.prodkit.stack.plugins.modules import health_check


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # pylint: disable=invalid-name
        if self.path.startswith('/sleep'):
            time.sleep(0.5)
        status = 500 if self.path == '/fail' else 200
        body = b'hello from prodkit-testbed'
        self.send_response(status)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture(scope='module')
def server():
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d' % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def closed_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def run_module(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            health_check.main()
    result = json.loads(capsys.readouterr().out)
    result['_rc'] = exc.value.code
    return result


def test_url_shortcut(capsys, server):
    result = run_module(capsys, url=server + '/')
    assert result['_rc'] == 0 and result['changed'] is False and result['failed_checks'] == []
    assert result['results'][0]['ok'] is True and result['results'][0]['status'] == 200 and result['results'][0]['attempts'] == 1


def test_failures_are_listed_with_their_reasons(capsys, server):
    port = closed_port()
    result = run_module(capsys, checks=[
        {'name': 'ok', 'url': server + '/'},
        {'name': 'error page', 'url': server + '/fail'},
        {'name': 'wrong body', 'url': server + '/', 'body_regex': 'goodbye'},
        {'name': 'port', 'type': 'tcp', 'host': '127.0.0.1', 'port': port},
        {'name': 'closed port', 'type': 'tcp', 'host': '127.0.0.1', 'port': port, 'state': 'closed'},
    ], retries=1, delay=0.1)
    assert result['_rc'] == 1 and result['failed'] is True
    assert result['failed_checks'] == ['error page', 'wrong body', 'port']
    assert result['msg'] == ('Error checking health: 3 of 5 checks failed: error page: status 500, expected 200; '
                             'wrong body: body does not match goodbye; port: port is not open: connection refused')
    by_name = dict((item['name'], item) for item in result['results'])
    assert by_name['error page']['status'] == 500 and by_name['error page']['attempts'] == 2
    assert by_name['closed port']['ok'] is True and by_name['closed port']['status'] == 'closed'


def test_checks_run_at_the_same_time(capsys, server):
    started = time.monotonic()
    result = run_module(capsys, checks=[{'name': 'c%d' % i, 'url': '%s/sleep%d' % (server, i)} for i in range(8)])
    elapsed = time.monotonic() - started
    assert result['_rc'] == 0 and len(result['results']) == 8
    # One after the other they take at least 4 s; the margin is for a loaded CI machine.
    assert elapsed < 3.0, 'eight 0.5 s checks took %.2f s' % elapsed


def test_deadline_stops_retries(capsys, server):
    started = time.monotonic()
    result = run_module(capsys, url=server + '/fail', delay=0.2, deadline=1.0)
    elapsed = time.monotonic() - started
    assert result['_rc'] == 1 and result['results'][0]['attempts'] >= 3
    assert elapsed < 1.5


@pytest.mark.parametrize('args, message', [
    (dict(), 'one of the following is required: url, checks'),
    (dict(checks=[]), 'Error validating checks: give url or at least one entry in checks'),
    (dict(checks=[{'type': 'http'}]), 'type is http but all of the following are missing: url found in checks'),
    (dict(checks=[{'type': 'container'}]),
     'type is container but any of the following are missing: container, project found in checks'),
    (dict(checks=[{'type': 'container', 'service': 's'}]), 'parameters are required together: project, service found in checks'),
    (dict(url='http://x/', timeout=-1), 'Error validating option timeout: must not be negative'),
    (dict(url='http://x/', retries=-1), 'Error validating option retries: must not be negative'),
    (dict(checks=[{'type': 'container', 'container': 'a', 'project': 'p', 'service': 's'}]),
     'parameters are mutually exclusive: container|project, container|service found in checks'),
])
def test_bad_options(capsys, args, message):
    result = run_module(capsys, **args)
    assert result['_rc'] == 1 and result['msg'] == message


def test_headers_are_masked_in_the_invocation(capsys, server):
    result = run_module(capsys, checks=[{'url': server + '/', 'headers': {'Authorization': 'Bearer t0ps3cr3t-header'}}],
                        _ansible_verbosity=4)
    assert 't0ps3cr3t-header' not in json.dumps(result)
