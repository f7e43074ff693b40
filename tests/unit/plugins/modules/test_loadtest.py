# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The loadtest module's judgement, and the role's locustfile run by Locust against 127.0.0.1."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.prodkit.stack.plugins.modules import loadtest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
LOCUSTFILE = os.path.join(REPO, 'roles', 'loadtest', 'files', 'locustfile.py')

STATS_HEADER = ['Type', 'Name', 'Request Count', 'Failure Count', 'Median Response Time', 'Average Response Time',
                'Min Response Time', 'Max Response Time', 'Average Content Size', 'Requests/s', 'Failures/s',
                '50%', '66%', '75%', '80%', '90%', '95%', '98%', '99%', '99.9%', '99.99%', '100%']


def write_run(prefix, routes, failures=(), exceptions=()):
    """Locust's CSV files for routes [(name, requests, failures, rps, p50, p95, p99)]."""
    with open(prefix + '_stats.csv', 'w', newline='', encoding='utf-8') as handle:
        out = csv.writer(handle)
        out.writerow(STATS_HEADER)
        total = [0, 0, 0.0]
        for name, requests, failed, rps, p50, p95, p99 in routes:
            out.writerow(['GET', name, requests, failed, p50, p50, 1, p99, 10, rps, 0, p50, p50, p50, p50, p95, p95, p99, p99,
                          p99, p99, p99])
            total = [total[0] + requests, total[1] + failed, total[2] + rps]
        worst = max(routes, key=lambda r: r[5]) if routes else ('', 0, 0, 0, 'N/A', 'N/A', 'N/A')
        out.writerow(['', 'Aggregated', total[0], total[1], worst[4], worst[4], 1, worst[6], 10, total[2], 0, worst[4],
                      worst[4], worst[4], worst[4], worst[5], worst[5], worst[6], worst[6], worst[6], worst[6], worst[6]])
    with open(prefix + '_failures.csv', 'w', newline='', encoding='utf-8') as handle:
        out = csv.writer(handle)
        out.writerow(['Method', 'Name', 'Error', 'Occurrences'])
        for row in failures:
            out.writerow(row)
    with open(prefix + '_exceptions.csv', 'w', newline='', encoding='utf-8') as handle:
        out = csv.writer(handle)
        out.writerow(['Count', 'Message', 'Traceback', 'Nodes'])
        for row in exceptions:
            out.writerow(row)
    return prefix


def stats_line(name, cpu, mem='100MiB', limit='1GiB'):
    return json.dumps({'Name': name, 'CPUPerc': '%.2f%%' % cpu, 'MemUsage': '%s / %s' % (mem, limit), 'MemPerc': '1.00%'})


SAMPLES = '\n'.join([
    '# cpus 2',
    '# container myproject-django-1 myproject django',
    '# container myproject-db-1 myproject db',
    '# container myproject-monitoring-prometheus-1 myproject-monitoring prometheus',
    '# sample 1700000000 cpu  100 0 100 800 0 0 0 0 0 0',
    stats_line('myproject-django-1', 120.0, '200MiB'),
    stats_line('myproject-db-1', 20.0, '50MiB'),
    stats_line('myproject-monitoring-prometheus-1', 2.5),
    '# sample 1700000002 cpu  300 0 200 1250 50 0 0 0 0 0',
    stats_line('myproject-django-1', 170.0, '210.5MiB'),
    stats_line('myproject-db-1', 10.0, '60MiB'),
    stats_line('myproject-monitoring-prometheus-1', 1.5),
    'not json at all',
])


@pytest.mark.parametrize('text, kind', [
    ("CatchResponseError('http 503')", 'http_503'),
    ("CatchResponseError('http 404 unexpected')", 'http_404'),
    ("HTTPError('502 Server Error: Bad Gateway for url: https://app.test/api/ping')", 'http_502'),
    ("HTTPError('429 Client Error: Too Many Requests for url: /')", 'http_429'),
    ("BadStatusCode('https://app.test/, code=500')", 'http_500'),
    ("CatchResponseError('connection refused')", 'connection_refused'),
    ("ConnectionError(MaxRetryError(\"HTTPSConnectionPool(host='app.test', port=443): Max retries exceeded (Caused by "
     "NewConnectionError('<urllib3.connection.HTTPSConnection object>: Failed to establish a new connection: "
     "[Errno 111] Connection refused'))\"))", 'connection_refused'),
    ("CatchResponseError('connection reset')", 'connection_reset'),
    ("ConnectionError(ProtocolError('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer')))",
     'connection_reset'),
    ("ConnectionError(ProtocolError('Connection aborted.', RemoteDisconnected('Remote end closed connection without response')))",
     'connection_reset'),
    ("CatchResponseError('tls error: SSLEOFError')", 'tls_error'),
    ("SSLError(MaxRetryError(\"... (Caused by SSLError(SSLEOFError(8, '[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in "
     "violation of protocol (_ssl.c:1006)')))\"))", 'tls_error'),
    ("CatchResponseError('timeout')", 'timeout'),
    ("ReadTimeout(ReadTimeoutError(\"HTTPSConnectionPool(host='app.test', port=443): Read timed out. (read timeout=10)\"))",
     'timeout'),
    ("CatchResponseError('other: ValueError: boom')", 'other'),
    ('', 'other'),
])
def test_classify_failure(text, kind):
    assert loadtest.classify_failure(text) == kind


@pytest.mark.parametrize('kind, klass', [
    ('http_503', 'http_5xx'), ('http_500', 'http_5xx'), ('http_404', 'http_4xx_unexpected'), ('http_429', 'http_4xx_unexpected'),
    ('http_302', 'other'), ('tls_error', 'tls_error'), ('timeout', 'timeout'), ('bogus', 'other'),
])
def test_failure_class(kind, klass):
    assert loadtest.failure_class(kind) == klass


@pytest.mark.parametrize('text, value', [
    ('7.039MiB', int(7.039 * 1024 ** 2)), ('1GiB', 1024 ** 3), ('0B', 0), ('512kB', 512000), ('1.5 GB', 1500000000),
    ('', None), ('garbage', None),
])
def test_size_bytes(text, value):
    assert loadtest.size_bytes(text) == value


def test_samples_give_peaks_per_container_and_host():
    containers, hosts = loadtest.container_peaks({'web1': SAMPLES}, 'myproject')
    # /proc/stat: 800 jiffies of which 500 idle or waiting, on 2 CPUs.
    assert hosts == {'web1': {'cpus': 2, 'cpu_peak_percent': 181.5, 'host_cpu_peak_percent': 75.0, 'samples': 2}}
    django = containers[0]
    assert (django['name'], django['service'], django['project']) == ('myproject-django-1', 'django', 'myproject')
    assert django['cpu_peak_percent'] == 170.0 and django['cpu_avg_percent'] == 145.0
    assert django['mem_peak_bytes'] == int(210.5 * 1024 ** 2) and django['mem_limit_bytes'] == 1024 ** 3
    assert [c['service'] for c in containers] == ['django', 'db', 'prometheus']


def test_service_falls_back_to_the_compose_name():
    text = '# cpus 4\n' + stats_line('shop-web-2', 5.0) + '\n' + stats_line('standalone', 1.0)
    containers, hosts = loadtest.container_peaks({'h': text}, 'shop')
    assert [(c['name'], c['service']) for c in containers] == [('shop-web-2', 'web'), ('standalone', 'standalone')]
    assert hosts['h']['samples'] == 1


def peaks(service, cpu, cpus=2, name=None):
    containers = [{'host': 'web1', 'name': name or 'myproject-%s-1' % service, 'service': service, 'project': 'myproject',
                   'cpu_peak_percent': cpu}]
    return containers, {'web1': {'cpus': cpus, 'cpu_peak_percent': cpu, 'samples': 3}}


@pytest.mark.parametrize('service, cpu, cpus, workers, expected', [
    ('django', 170.0, 2, 5, 'gunicorn workers saturated (myproject-django-1 at 170% CPU; 5 workers, 2 CPUs)'),
    ('django', 250.0, 8, 3, 'gunicorn workers saturated (myproject-django-1 at 250% CPU; 3 workers, 8 CPUs)'),
    ('django', 120.0, 8, 3, 'django (myproject-django-1 at 120% CPU, below its 3 workers / 8 CPUs)'),
    ('db', 95.0, 4, 3, 'the database (myproject-db-1 at 95% CPU)'),
    ('nginx', 70.0, 4, 3, 'nginx (myproject-nginx-1 at 70% CPU)'),
    ('redis', 60.0, 4, 3, 'redis (myproject-redis-1 at 60% CPU)'),
    ('node-api', 13.0, 2, 3, 'none evident (the busiest, myproject-node-api-1, peaked at 13% CPU)'),
])
def test_bottleneck_rule(service, cpu, cpus, workers, expected):
    containers, hosts = peaks(service, cpu, cpus)
    busiest, text = loadtest.name_bottleneck(containers, hosts, django_workers=workers)
    assert text == expected
    assert busiest == {'host': 'web1', 'name': 'myproject-%s-1' % service, 'service': service, 'cpu_peak_percent': cpu}


def test_bottleneck_notes_host_and_generator():
    containers, hosts = peaks('db', 40.0, 1)
    hosts['web1']['cpu_peak_percent'] = 97.0
    _busiest, text = loadtest.name_bottleneck(containers, hosts, generator_saturated=True)
    assert text == ('the database (myproject-db-1 at 40% CPU); host CPUs saturated on web1 (97% of 100%, containers only); '
                    'load generator CPU-bound (Locust warned; the achieved rate and latency may be its limit)')
    # The whole host's CPU, when sampled, counts instead of its containers'.
    hosts['web1']['host_cpu_peak_percent'] = 60.0
    _busiest, text = loadtest.name_bottleneck(containers, hosts)
    assert text == 'none evident (the busiest, myproject-db-1, peaked at 40% CPU)'
    hosts['web1'].update(cpus=2, host_cpu_peak_percent=190.0)
    _busiest, text = loadtest.name_bottleneck(containers, hosts)
    assert text == 'the database (myproject-db-1 at 40% CPU); host CPUs saturated on web1 (190% of 200%)'


def test_broken_service_level_without_saturation_points_outside():
    containers, hosts = peaks('django', 58.0, 2)
    _busiest, text = loadtest.name_bottleneck(containers, hosts, django_workers=5, generator_cpu_percent=62.0, slo_broken=True)
    assert text == ('django (myproject-django-1 at 58% CPU, below its 5 workers / 2 CPUs); no container or host CPU saturated: '
                    'look outside the containers (load generator at 62% of one core, network path, the machine)')
    _busiest, text = loadtest.name_bottleneck(containers, hosts, django_workers=5, slo_broken=False)
    assert text == 'django (myproject-django-1 at 58% CPU, below its 5 workers / 2 CPUs)'


@pytest.mark.parametrize('log, wall, percent', [
    ('locust output\n0m0.01s 0m0.00s\n0m15.30s 0m1.70s\n', '0:00:20.000000', 85.0),
    ('0m0.004000s 0m0.002000s\n1m0.000000s 0m30.000000s\n', '0:01:30.5', 99.4),
    ('no times here', '0:00:20', None),
    ('0m0.01s 0m0.00s\n0m15.30s 0m1.70s', '', None),
])
def test_generator_cpu_percent(log, wall, percent):
    assert loadtest.generator_cpu_percent(log, wall) == percent


def test_no_samples():
    assert loadtest.name_bottleneck([], {}) == (None, 'unknown (no container samples)')


def judge(step, **kwargs):
    return loadtest.judge_step(step, kwargs.pop('slo_p95_ms', 500), kwargs.pop('slo_error_rate', 0.01), 0.9, **kwargs)


def test_step_totals_routes_and_failures(tmp_path):
    prefix = write_run(str(tmp_path / 'locust'), [('home', 300, 0, 10.0, 40, 90, 120), ('api_ping', 300, 6, 10.0, 50, 110, 300)],
                       failures=[('GET', 'api_ping', "CatchResponseError('http 502')", 4),
                                 ('GET', 'api_ping', "CatchResponseError('connection reset')", 2)],
                       exceptions=[('3', 'KeyError', 'tb', 'local')])
    result = judge({'rate': 20, 'duration': 30, 'users': 40, 'csv_prefix': prefix, 'rc': 0, 'log': '', 'samples': {'web1': SAMPLES}},
                   django_workers=5)
    totals = result['totals']
    assert (totals['requests'], totals['failures'], totals['rps'], totals['p95'], totals['error_rate']) == (600, 6, 20.0, 110, 0.01)
    assert totals['failures_by_kind'] == {'connection_reset': 2, 'http_502': 4}
    assert totals['failures_by_class'] == {'http_5xx': 4, 'http_4xx_unexpected': 0, 'connection_reset': 2, 'connection_refused': 0,
                                           'tls_error': 0, 'timeout': 0, 'other': 0}
    assert totals['locustfile_errors'] == 3 and totals['achieved_ratio'] == 1.0
    assert [r['name'] for r in result['routes']] == ['home', 'api_ping']
    assert result['routes'][1]['failures_by_kind'] == {'connection_reset': 2, 'http_502': 4}
    assert result['slo_ok'] is True and result['held'] is True
    assert result['bottleneck'].startswith('gunicorn workers saturated')


@pytest.mark.parametrize('routes, rate, reasons', [
    ([('home', 100, 0, 10.0, 40, 900, 1200)], 10, ['p95 900 ms > 500 ms']),
    ([('home', 100, 5, 10.0, 40, 90, 120)], 10, ['failures 5.00% > 1.00%']),
    ([('home', 100, 0, 8.0, 40, 90, 120)], 10, ['achieved 8.0 req/s < 90% of 10.0']),
])
def test_step_reasons(tmp_path, routes, rate, reasons):
    prefix = write_run(str(tmp_path / 'step'), routes)
    result = judge({'rate': rate, 'duration': 10, 'csv_prefix': prefix, 'rc': 0, 'log': '', 'samples': {}})
    assert result['reasons'] == reasons and result['held'] is False
    # A slow rate alone does not break a steady run's service level.
    assert result['slo_ok'] is (reasons[0].startswith('achieved'))


def test_missing_statistics_are_an_error(tmp_path):
    result = judge({'rate': 10, 'duration': 10, 'csv_prefix': str(tmp_path / 'none'), 'rc': 1, 'log': 'ImportError', 'samples': {}})
    assert result['error'] == 'Locust exited 1: no Locust statistics at %s_stats.csv' % (tmp_path / 'none')
    assert result['held'] is False and result['totals']['requests'] == 0


def test_cpu_warning_marks_the_generator(tmp_path):
    prefix = write_run(str(tmp_path / 'step'), [('home', 100, 0, 10.0, 40, 90, 120)])
    log = 'WARNING/root: CPU usage above 90%! This may constrain your throughput'
    result = judge({'rate': 10, 'duration': 10, 'csv_prefix': prefix, 'rc': 0, 'log': log, 'samples': {}})
    assert result['load_generator_saturated'] is True and 'load generator CPU-bound' in result['bottleneck']
    result = judge({'rate': 10, 'duration': 10, 'csv_prefix': prefix, 'rc': 0, 'log': '0m0s 0m0s\n0m9s 0m0s\n', 'wall': '0:00:10',
                    'samples': {'web1': SAMPLES}})
    assert result['load_generator_cpu_percent'] == 90.0 and result['load_generator_saturated'] is True


def run_module(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            loadtest.main()
    result = json.loads(capsys.readouterr().out)
    result['_rc'] = exc.value.code
    return result


def test_capacity_reports_the_peak_and_the_break(capsys, tmp_path):
    steps = []
    for index, (rate, p95) in enumerate([(10, 80), (15, 120), (22.5, 900)], 1):
        prefix = write_run(str(tmp_path / ('step%02d' % index)), [('home', int(rate * 10), 0, rate, 40, p95, p95)])
        steps.append({'rate': rate, 'duration': 10, 'csv_prefix': prefix, 'samples': {'web1': SAMPLES}})
    result = run_module(capsys, report_dir=str(tmp_path), mode='capacity', target_url='https://app.test', steps=steps,
                        project='myproject', django_workers=5, running=True)
    summary = result['summary']
    assert result['_rc'] == 0 and result['stop'] is True and result['changed'] is True
    assert summary['status'] == 'completed' and summary['peak_rate'] == 15 and summary['peak_achieved_rps'] == 15
    assert summary['broke_at']['rate'] == 22.5 and summary['broke_at']['reasons'] == ['p95 900 ms > 500 ms']
    assert summary['rate'] == 22.5 and summary['totals']['p95'] == 900 and len(summary['steps']) == 3
    with open(tmp_path / 'summary.json', encoding='utf-8') as handle:
        assert json.load(handle) == summary
    report = (tmp_path / 'report.txt').read_text(encoding='utf-8')
    assert 'held up to 15.0 req/s' in report and 'It broke at 22.5 req/s: p95 900 ms > 500 ms.' in report
    assert 'Bottleneck: gunicorn workers saturated' in report
    assert 'Host web1: 2 CPUs; containers together peaked at 182%, the whole host at 75%' in report


def test_capacity_without_a_break_is_running_until_the_last_step(capsys, tmp_path):
    prefix = write_run(str(tmp_path / 'step01'), [('home', 100, 0, 10.0, 40, 80, 90)])
    steps = [{'rate': 10, 'duration': 10, 'csv_prefix': prefix}]
    running = run_module(capsys, report_dir=str(tmp_path), mode='capacity', target_url='https://app.test', steps=steps, running=True)
    assert running['summary']['status'] == 'running' and running['stop'] is False
    final = run_module(capsys, report_dir=str(tmp_path), mode='capacity', target_url='https://app.test', steps=steps)
    assert final['summary']['status'] == 'completed' and final['summary']['broke_at'] is None
    assert final['summary']['peak_rate'] == 10


def test_steady_writes_once_and_reports(capsys, tmp_path):
    prefix = write_run(str(tmp_path / 'locust'), [('home', 600, 12, 20.0, 40, 90, 120)],
                       failures=[('GET', 'home', "CatchResponseError('http 503')", 12)])
    args = dict(report_dir=str(tmp_path), target_url='https://app.test', started='2026-12-04T10:00:00Z',
                finished='2026-12-04T10:01:00Z', steps=[{'rate': 20, 'duration': 30, 'users': 40, 'csv_prefix': prefix}])
    first = run_module(capsys, **args)
    assert first['_rc'] == 0 and first['changed'] is True and first['slo_ok'] is False and first['stop'] is False
    summary = first['summary']
    assert summary['status'] == 'slo_failed' and summary['mode'] == 'steady' and summary['rate'] == 20
    assert summary['totals']['failures_by_kind'] == {'http_503': 12} and summary['totals']['error_rate'] == 0.02
    assert 'SLO: p95 90 ms <= 500 ms: ok; failures 2.00% <= 1.00%: BROKEN' in first['report_lines']
    assert run_module(capsys, **args)['changed'] is False


def test_check_mode_writes_nothing(capsys, tmp_path):
    result = run_module(capsys, report_dir=str(tmp_path), target_url='https://app.test', running=True, _ansible_check_mode=True)
    assert result['changed'] is True and result['summary']['status'] == 'running'
    assert os.listdir(tmp_path) == []


def test_error_is_recorded(capsys, tmp_path):
    result = run_module(capsys, report_dir=str(tmp_path), target_url='https://app.test', error='sampler failed')
    assert result['summary']['status'] == 'error' and result['summary']['error'] == 'sampler failed'
    assert 'ERROR: sampler failed' in (tmp_path / 'report.txt').read_text(encoding='utf-8')


@pytest.mark.parametrize('args, message', [
    (dict(steps=[{'rate': 0, 'duration': 10, 'csv_prefix': '/x'}]), 'Error validating step 1: rate and duration must be greater than 0'),
    (dict(slo_p95_ms=-1), 'Error validating option slo_p95_ms: must not be negative'),
])
def test_bad_input(capsys, tmp_path, args, message):
    result = run_module(capsys, report_dir=str(tmp_path), target_url='https://app.test', **args)
    assert result['_rc'] == 1 and result['msg'] == message


def test_report_dir_must_exist(capsys, tmp_path):
    result = run_module(capsys, report_dir=str(tmp_path / 'nope'), target_url='https://app.test')
    assert result['msg'] == 'Error writing report %s: not a directory' % (tmp_path / 'nope')


# --- the locustfile, run by Locust (a subprocess: Locust patches sockets with gevent) ---

class _Site(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'  # keeps connections open unless asked to close
    seen = []

    def do_GET(self):  # pylint: disable=invalid-name
        _Site.seen.append((self.client_address[1], self.headers.get('Connection', ''), self.headers.get('Host', '')))
        status = {'/ok': 200, '/boom': 503, '/gone': 404}.get(self.path, 200)
        self.send_response(status)
        self.send_header('Content-Length', '2')
        self.end_headers()
        self.wfile.write(b'ok')

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture()
def site():
    _Site.seen = []
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), _Site)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def run_locust(tmp_path, host, env, seconds=3):
    if importlib.util.find_spec('locust') is None:
        pytest.skip('locust is not installed (requirements/dev.txt)')
    prefix = str(tmp_path / 'locust')
    environ = dict(os.environ, **env)
    subprocess.run([sys.executable, '-m', 'locust', '-f', LOCUSTFILE, '--headless', '--host', host, '--users', '4',
                    '--spawn-rate', '4', '--run-time', '%ds' % seconds, '--csv', prefix, '--only-summary', '--exit-code-on-error',
                    '0', '--loglevel', 'WARNING'], env=environ, check=True, capture_output=True, timeout=60)
    return loadtest.read_locust_run(prefix)


ROUTES = [{'name': 'ok', 'path': '/ok', 'weight': 2}, {'name': 'boom', 'path': '/boom', 'weight': 1},
          {'name': 'gone', 'path': '/gone', 'weight': 1}, {'name': 'gone_ok', 'path': '/gone', 'weight': 1, 'expect': [404]}]


def test_locustfile_routes_failures_resolve_and_new_connections(tmp_path, site):
    routes, totals = run_locust(tmp_path, 'http://app.test:%d' % site, {
        'LOADTEST_ROUTES': json.dumps(ROUTES), 'LOADTEST_USER_RPS': '5',
        'LOADTEST_RESOLVE': json.dumps({'app.test:%d' % site: '127.0.0.1'})})
    by_name = dict((route['name'], route) for route in routes)
    assert set(by_name) == {'ok', 'boom', 'gone', 'gone_ok'}
    assert by_name['ok']['failures'] == 0 and by_name['gone_ok']['failures'] == 0
    assert by_name['boom']['failures_by_kind'] == {'http_503': by_name['boom']['requests']}
    assert by_name['gone']['failures_by_kind'] == {'http_404': by_name['gone']['requests']}
    # 4 users at 5 req/s each for 3 s, give or take the start.
    assert 30 <= totals['requests'] <= 80
    ports = [port for port, _conn, _host in _Site.seen]
    assert len(set(ports)) == len(ports), 'a connection was reused'
    assert set(conn for _port, conn, _host in _Site.seen) == {'close'}
    assert set(host for _port, _conn, host in _Site.seen) == {'app.test:%d' % site}


def test_locustfile_keepalive_reuses_connections(tmp_path, site):
    run_locust(tmp_path, 'http://127.0.0.1:%d' % site, {
        'LOADTEST_ROUTES': json.dumps(ROUTES[:1]), 'LOADTEST_USER_RPS': '5', 'LOADTEST_KEEPALIVE': 'true'}, seconds=2)
    ports = [port for port, _conn, _host in _Site.seen]
    assert len(set(ports)) <= 4 < len(ports)


def test_locustfile_names_a_refused_connection(tmp_path):
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    routes, totals = run_locust(tmp_path, 'http://127.0.0.1:%d' % port, {
        'LOADTEST_ROUTES': json.dumps(ROUTES[:1]), 'LOADTEST_USER_RPS': '2'}, seconds=2)
    assert totals['failures'] == totals['requests'] > 0
    assert totals['failures_by_kind'] == {'connection_refused': totals['requests']}


def test_locustfile_stop_file_ends_the_run_early_with_its_report(tmp_path, site):
    if importlib.util.find_spec('locust') is None:
        pytest.skip('locust is not installed (requirements/dev.txt)')
    stop = tmp_path / 'stop'
    prefix = str(tmp_path / 'locust')
    environ = dict(os.environ, LOADTEST_ROUTES=json.dumps(ROUTES[:1]), LOADTEST_USER_RPS='5', LOADTEST_STOP_FILE=str(stop))
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, '-m', 'locust', '-f', LOCUSTFILE, '--headless', '--host',
                             'http://127.0.0.1:%d' % site, '--users', '2', '--spawn-rate', '2', '--run-time', '120s',
                             '--csv', prefix, '--only-summary', '--loglevel', 'WARNING'], env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(3)
    stop.write_text('stop\n')
    proc.communicate(timeout=60)
    # Ended within seconds of the file, not at --run-time, with its CSV written.
    assert time.monotonic() - started < 30
    routes, totals = loadtest.read_locust_run(prefix)
    assert totals['requests'] > 0 and totals['failures'] == 0
