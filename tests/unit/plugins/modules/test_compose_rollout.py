# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""compose_rollout end to end against fake docker and nsenter executables
that keep a little state and log every call: the order of a start-first
replacement (start -> hold -> healthy -> release and drain -> wait for the
requests in flight -> stop -> remove -> lift), the failure paths (a new
container that exits or never gets healthy, a refusal that cannot be put in
place) and check mode. The real thing runs in molecule/zero_downtime."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.prodkit.stack.plugins.module_utils import _traffic as traffic
from ansible_collections.prodkit.stack.plugins.modules import compose_rollout as cr

FAKE = r'''#!{python}
import json, os, sys
path = os.environ['FAKE_STATE']
state = json.load(open(path))
name = os.path.basename(sys.argv[0])
args = sys.argv[1:]
data = sys.stdin.read() if name == 'nsenter' and args[1:3] == ['nft', '-f'] else ''
with open(os.environ['FAKE_LOG'], 'a') as log:
    log.write(json.dumps([name] + args + ([data] if data else [])) + '\n')

def save():
    json.dump(state, open(path, 'w'))

if name == 'docker':
    if args[0] == 'ps':
        print('\n'.join(state['service']))
    elif args[0] == 'compose':
        new = state['creates']
        state['service'] += new
        save()
    elif args[0] == 'inspect':
        out = []
        for ref in args[3:]:
            item = state['containers'].get(ref)
            if not item:
                continue
            seq = state['health'].get(ref)
            if seq:
                item['State']['Health'] = {'Status': seq[0], 'Log': [{'Output': 'check said ' + seq[0]}]}
                if seq[0] == 'exited':
                    item['State'].update(Status='exited', ExitCode=3, Running=False)
                    del item['State']['Health']
                if len(seq) > 1:
                    state['health'][ref] = seq[1:]
            out.append(item)
        save()
        print(json.dumps(out))
    elif args[0] == 'network':
        print(json.dumps(state['networks'].get(args[-1], {})))
    elif args[0] == 'logs':
        print('log line of ' + args[-1])
    elif args[0] in ('stop', 'rm'):
        pass
    sys.exit(0)
if name == 'nsenter':
    pid = args[0].split('/')[2]
    cmd = args[1:]
    if cmd[0] == 'nft':
        if state.get('nft_fails_in') == pid and cmd[1] == '-f':
            sys.stderr.write('Error: Could not process rule: Operation not permitted\n')
            sys.exit(1)
        sys.exit(0)
    if cmd[:2] == ['ss', '-Htln']:
        print('LISTEN 0 2048 0.0.0.0:8000 0.0.0.0:*')
        sys.exit(0)
    if cmd[:2] == ['ss', '-Htn']:
        polls = state.setdefault('polls', 0)
        state['polls'] = polls + 1
        save()
        # Two polls see a request in flight from the proxy, then none.
        print('0 0 172.20.0.4:8000 172.20.0.2:50000' if polls < 2 else '')
        sys.exit(0)
sys.exit(2)
'''


def container(cid, name, pid, ips, running=True, started='2026-12-04T16:00:00Z'):
    return {'Id': cid, 'Name': '/' + name,
            'State': {'Status': 'running' if running else 'exited', 'Running': running, 'Pid': pid if running else 0,
                      'StartedAt': started, 'ExitCode': 0},
            'Config': {'StopTimeout': 30},
            'NetworkSettings': {'Networks': dict((net, {'IPAddress': ip, 'GlobalIPv6Address': ''})
                                                 for net, ip in ips.items())}}


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    for name in ('docker', 'nsenter'):
        path = bindir / name
        path.write_text(FAKE.replace('{python}', sys.executable))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    state = {
        'service': ['old1'],
        'creates': ['new1'],
        'containers': {
            'old1': container('old1', 'p-django-1', 101, {'p_frontend': '172.20.0.4', 'p_backend': '172.21.0.4'}),
            'new1': container('new1', 'p-django-2', 102, {'p_frontend': '172.20.0.5', 'p_backend': '172.21.0.5'}),
            'nginx': container('nginx', 'p-nginx-1', 103, {'p_frontend': '172.20.0.2'}),
            'db': container('db', 'p-db-1', 104, {'p_backend': '172.21.0.2'}),
            'gone': container('gone', 'p-celery-1', 0, {'p_backend': '172.21.0.9'}, running=False),
        },
        'health': {'new1': ['starting', 'starting', 'healthy']},
        'networks': {
            'p_frontend': {'old1': {}, 'new1': {}, 'nginx': {}},
            'p_backend': {'old1': {}, 'new1': {}, 'db': {}, 'gone': {}},
        },
    }
    state_file = tmp_path / 'state.json'
    log_file = tmp_path / 'log'
    monkeypatch.setenv('FAKE_STATE', str(state_file))
    monkeypatch.setenv('FAKE_LOG', str(log_file))
    monkeypatch.setenv('PATH', str(bindir) + os.pathsep + os.environ['PATH'])
    monkeypatch.setattr(cr, 'HEALTH_POLL', 0.01)
    slept = []
    monkeypatch.setattr(cr.time, 'sleep', slept.append)

    class Fakes(object):
        def write(self):
            state_file.write_text(json.dumps(state))

        def calls(self):
            if not log_file.exists():
                return []
            return [json.loads(line) for line in log_file.read_text().splitlines()]

    fakes = Fakes()
    fakes.state = state
    fakes.slept = slept
    fakes.docker = str(bindir / 'docker')
    fakes.write()
    return fakes


def run_module(capsys, fakes, check_mode=False, **args):
    args.setdefault('docker_cli', fakes.docker)
    args.setdefault('project', 'p')
    args.setdefault('project_dir', '/opt/p')
    args.setdefault('files', ['/opt/p/docker-compose.yml'])
    args.setdefault('env_file', '/opt/p/.env')
    args.setdefault('service', 'django')
    if check_mode:
        args['_ansible_check_mode'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            cr.main()
    result = json.loads(capsys.readouterr().out)
    result['rc'] = exc.value.code
    return result


def actions(calls):
    """What changes something, in order, in a short form."""
    out = []
    for call in calls:
        if call[0] == 'docker' and call[1] == 'compose':
            out.append('compose ' + ' '.join(call[call.index('up'):]))
        elif call[0] == 'docker' and call[1] in ('stop', 'rm'):
            out.append(' '.join(call[1:]))
        elif call[0] == 'nsenter' and call[2] == 'nft':
            pid = call[1].split('/')[2]
            if call[3] == 'delete':
                out.append('remove table in %s' % pid)
            elif call[-1].startswith('table'):
                out.append('table in %s' % pid)
            else:
                out.append('%s in %s' % (call[-1].strip(), pid))
        elif call[0] == 'nsenter' and call[2:4] == ['ss', '-Htn']:
            out.append('poll %s' % call[1].split('/')[2])
    return out


def test_start_first_replacement_in_order(capsys, fakes):
    result = run_module(capsys, fakes, dns_wait=6)
    assert result['rc'] == 0, result
    assert result['changed'] is True
    assert result['old'] == ['p-django-1'] and result['new'] == ['p-django-2']
    # Every running container on their networks but the old and new ones:
    # the proxy and the database; not the stopped one.
    assert result['clients'] == ['p-db-1', 'p-nginx-1']
    assert result['drained'] == [{'name': 'p-django-1', 'inflight_seconds': result['drained'][0]['inflight_seconds'],
                                  'inflight_left': 0}]
    table = [a for a in actions(fakes.calls()) if a.startswith('add element')][0].split()[3]
    hold = 'add element inet %s held4 { 172.20.0.5 timeout %%ds, 172.21.0.5 timeout %%ds }' % table
    expiry = 300 + 30 + 30 + 12 + 60
    assert actions(fakes.calls()) == [
        'compose up --detach --no-recreate --scale django=2 django',
        'table in 104', 'table in 103',
        hold % (expiry, expiry) + ' in 104', hold % (expiry, expiry) + ' in 103',
        'delete element inet %s held4 { 172.20.0.5, 172.21.0.5 } in 104' % table,
        'delete element inet %s held4 { 172.20.0.5, 172.21.0.5 } in 103' % table,
        'add element inet %s drained4 { 172.20.0.4 timeout %ds, 172.21.0.4 timeout %ds } in 104' % (table, expiry, expiry),
        'add element inet %s drained4 { 172.20.0.4 timeout %ds, 172.21.0.4 timeout %ds } in 103' % (table, expiry, expiry),
        'poll 101', 'poll 101', 'poll 101',
        'stop old1', 'rm --force old1',
        'remove table in 104', 'remove table in 103',
    ]
    # The new container started long ago (the fake's clock): no DNS wait
    # before the cutover; the refusal outlives the stop by dns_wait.
    assert result['dns_waited'] == 0.0
    assert fakes.slept[-1] == 6


def test_first_start_without_old_containers_drains_nothing(capsys, fakes):
    fakes.state['service'] = []
    fakes.write()
    result = run_module(capsys, fakes)
    assert result['rc'] == 0, result
    assert result['old'] == [] and result['new'] == ['p-django-2']
    assert [a for a in actions(fakes.calls()) if a.startswith(('stop', 'rm', 'poll')) or 'drained' in a] == []


def test_a_new_container_that_exits_is_removed_and_the_old_one_kept(capsys, fakes):
    fakes.state['health'] = {'new1': ['starting', 'exited']}
    fakes.write()
    result = run_module(capsys, fakes)
    assert result['rc'] == 1
    assert result['msg'] == ('The new containers of django did not become healthy: a new container exited with code 3. '
                             'They were removed; the old ones (p-django-1) kept serving.')
    assert 'p-django-2 state=exited' in result['failed_containers']
    assert 'log line of new1' in result['failed_containers']
    done = actions(fakes.calls())
    assert 'rm --force new1' in done
    assert done[-2:] == ['remove table in 104', 'remove table in 103']
    assert not [a for a in done if a.startswith('stop') or 'drained' in a or a == 'rm --force old1']


def test_an_unhealthy_new_container_fails_with_its_last_check(capsys, fakes):
    fakes.state['health'] = {'new1': ['starting', 'unhealthy']}
    fakes.write()
    result = run_module(capsys, fakes)
    assert result['rc'] == 1
    assert 'a new container unhealthy' in result['msg']
    assert 'p-django-2 state=running health=unhealthy (last check: check said unhealthy)' in result['failed_containers']


def test_wait_timeout_ends_the_wait(capsys, fakes, monkeypatch):
    fakes.state['health'] = {'new1': ['starting']}
    fakes.write()
    ticks = iter(range(0, 10000, 50))
    monkeypatch.setattr(cr.time, 'monotonic', lambda: next(ticks))
    result = run_module(capsys, fakes, wait_timeout=120)
    assert result['rc'] == 1
    assert 'the new containers were not healthy after 120 s (wait_timeout)' in result['msg']


def test_a_refusal_that_cannot_be_put_in_place_changes_nothing_for_the_old(capsys, fakes):
    fakes.state['nft_fails_in'] = '103'  # the proxy's namespace
    fakes.write()
    result = run_module(capsys, fakes)
    assert result['rc'] == 1
    assert result['msg'].startswith('Error rolling out service django: nsenter --net=/proc/103/ns/net nft: ')
    done = actions(fakes.calls())
    assert done[-1] == 'remove table in 104'
    assert not [a for a in done if a.startswith(('stop', 'rm'))]


def test_check_mode_only_reads(capsys, fakes):
    result = run_module(capsys, fakes, check_mode=True)
    assert result['rc'] == 0 and result['changed'] is True
    assert result['old'] == ['p-django-1'] and result['new'] == []
    assert actions(fakes.calls()) == []


@pytest.mark.parametrize('option, value, message', [
    ('replicas', 0, 'replicas must be 1 or more, got 0'),
    ('dns_wait', -1, 'dns_wait must be 0 or more, got -1.0'),
    ('drain_timeout', -1, 'drain_timeout must be 0 or more, got -1.0'),
    ('wait_timeout', 0, 'wait_timeout must be 1 or more, got 0'),
])
def test_bad_numbers_are_refused_before_anything(capsys, fakes, option, value, message):
    result = run_module(capsys, fakes, **{option: value})
    assert result['rc'] == 1 and result['msg'] == message
    assert fakes.calls() == []


def test_health_verdicts():
    assert cr.health_verdict({'State': {'Status': 'running', 'Health': {'Status': 'starting'}}}) == 'waiting'
    assert cr.health_verdict({'State': {'Status': 'running'}}) == 'healthy'  # no healthcheck
    assert cr.health_verdict({'State': {'Status': 'restarting', 'Restarting': True, 'ExitCode': 3}}) == (
        'exited with code 3 and was restarted')
    assert cr.health_verdict({'State': {'Status': 'running', 'ExitCode': 1}, 'RestartCount': 2}) == (
        'exited with code 1 and was restarted')
    assert cr.health_verdict({'State': {'Status': 'dead', 'ExitCode': 137}}) == 'exited with code 137'


def test_traffic_table_name_is_per_run():
    assert traffic.Traffic(None).table == 'prodkit_rollout_%d' % os.getpid()
