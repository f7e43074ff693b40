# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""compose_release end to end in a temporary releases directory, against a
fake docker that keeps its image references in a JSON file and logs every
call: record (files, current link, history, pruning), the reading actions,
retag (only what differs, nothing when an image is gone), activate, check
mode and diff, and the refusals. The real thing runs in
molecule/compose_stack (deploy, broken release rolled back, rollback.yml)."""

from __future__ import annotations

import datetime
import json
import os
import stat
import sys

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.prodkit.stack.plugins.modules import compose_release as cr

FAKE_DOCKER = r'''#!{python}
import json, os, sys
path = os.environ['FAKE_STATE']
state = json.load(open(path))
args = sys.argv[1:]
with open(os.environ['FAKE_LOG'], 'a') as log:
    log.write(json.dumps(args) + '\n')
if args[:2] == ['image', 'inspect']:
    ref = args[-1]
    image = state['refs'].get(ref) or (ref if ref in state['ids'] else None)
    if not image:
        sys.stderr.write('Error response from daemon: No such image: %s\n' % ref)
        sys.exit(1)
    print(image)
elif args[0] == 'tag':
    if args[1] not in state['ids']:
        sys.exit(1)
    state['refs'][args[2]] = args[1]
    json.dump(state, open(path, 'w'))
'''

DJANGO_10 = 'sha256:' + '1' * 64
DJANGO_11 = 'sha256:' + '2' * 64
PG = 'sha256:' + '3' * 64
SERVICES = {'django': 'reg/django:1', 'celery': 'reg/django:1', 'db': 'postgres:16'}


@pytest.fixture
def docker(tmp_path, monkeypatch):
    """A fake docker; .set(refs) sets its references, .calls() the calls made."""
    path = tmp_path / 'bin' / 'docker'
    path.parent.mkdir()
    path.write_text(FAKE_DOCKER.replace('{python}', sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    state_file = tmp_path / 'docker.json'
    log = tmp_path / 'docker.log'
    monkeypatch.setenv('FAKE_STATE', str(state_file))
    monkeypatch.setenv('FAKE_LOG', str(log))

    class Docker(object):
        cli = str(path)

        def set(self, refs, ids=(DJANGO_10, DJANGO_11, PG)):
            state_file.write_text(json.dumps({'refs': refs, 'ids': list(ids)}))

        def refs(self):
            return json.loads(state_file.read_text())['refs']

        def calls(self):
            return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    d = Docker()
    d.set({'reg/django:1': DJANGO_10, 'postgres:16': PG})
    return d


@pytest.fixture
def releases(tmp_path):
    path = tmp_path / 'releases'
    path.mkdir()
    return path


def run(capsys, check_mode=False, diff=False, **args):
    if check_mode:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            cr.main()
    result = json.loads(capsys.readouterr().out)
    result['rc'] = exc.value.code
    return result


def make_release(releases, release_id, previous='', images=None, services=None):
    path = releases / release_id
    path.mkdir()
    release = {'id': release_id, 'project': 'myproject', 'app_version': release_id.split('-', 1)[1],
               'deployed_at': '2026-11-28T10:15:00', 'previous': previous,
               'images': images or {'reg/django:1': DJANGO_10, 'postgres:16': PG},
               'services': services or SERVICES}
    (path / 'release.json').write_text(cr.release_json(release))
    (path / 'docker-compose.yml').write_text('services: {}\n')
    return release


def point_current(releases, release_id):
    link = releases / 'current'
    if link.is_symlink():
        link.unlink()
    link.symlink_to(release_id)


def test_record_writes_the_release_points_current_and_logs(capsys, releases, docker, tmp_path):
    compose = tmp_path / 'docker-compose.yml'
    compose.write_text('services:\n  django: {}\n')
    make_release(releases, '20261128T101500Z-1.0')
    point_current(releases, '20261128T101500Z-1.0')

    result = run(capsys, releases_dir=str(releases), action='record', project='myproject', app_version='1.1',
                 services=SERVICES, compose_file=str(compose), docker_cli=docker.cli)

    assert result['rc'] == 0 and result['changed'] is True
    release = result['release']
    assert release['id'].endswith('Z-1.1') and release['previous'] == '20261128T101500Z-1.0'
    assert release['images'] == {'reg/django:1': DJANGO_10, 'postgres:16': PG}
    assert release['services'] == SERVICES
    written = releases / release['id']
    assert json.loads((written / 'release.json').read_text()) == release
    # The same text the role wrote with to_nice_json: sorted keys, 4 spaces, a final newline.
    assert (written / 'release.json').read_text() == json.dumps(release, indent=4, sort_keys=True) + '\n'
    assert (written / 'docker-compose.yml').read_text() == compose.read_text()
    assert stat.S_IMODE(written.stat().st_mode) == 0o750
    assert stat.S_IMODE((written / 'release.json').stat().st_mode) == 0o640
    assert os.readlink(releases / 'current') == release['id']
    assert (releases / 'history.log').read_text() == '%s deploy %s\n' % (release['deployed_at'], release['id'])
    # Naive UTC, as now(utc=true) wrote it.
    assert datetime.datetime.fromisoformat(release['deployed_at']).tzinfo is None
    # The images were read, none was tagged.
    assert not [c for c in docker.calls() if c[0] == 'tag']


def test_record_without_previous_takes_current_and_without_current_is_the_first(capsys, releases, docker):
    first = run(capsys, releases_dir=str(releases), action='record', project='p', app_version='1.0', services=SERVICES,
                docker_cli=docker.cli, release='20261101T000000Z-1.0')
    assert first['rc'] == 0 and first['release']['previous'] == '' and first['current'] == ''
    second = run(capsys, releases_dir=str(releases), action='record', project='p', app_version='1.1', services=SERVICES,
                 docker_cli=docker.cli, release='20261102T000000Z-1.1')
    assert second['release']['previous'] == '20261101T000000Z-1.0'
    assert second['current'] == '20261101T000000Z-1.0'


def test_record_prunes_beyond_keep_oldest_first(capsys, releases, docker):
    for day in range(1, 5):
        make_release(releases, '202611%02dT000000Z-1.%d' % (day, day))
    result = run(capsys, releases_dir=str(releases), action='record', project='p', app_version='2.0', services=SERVICES,
                 docker_cli=docker.cli, release='20261110T000000Z-2.0', keep=3)
    assert result['removed'] == ['20261101T000000Z-1.1', '20261102T000000Z-1.2']
    assert sorted(p.name for p in releases.iterdir() if p.is_dir() and not p.is_symlink()) == [
        '20261103T000000Z-1.3', '20261104T000000Z-1.4', '20261110T000000Z-2.0']


def test_record_check_mode_reports_and_writes_nothing(capsys, releases, docker):
    make_release(releases, '20261128T101500Z-1.0')
    point_current(releases, '20261128T101500Z-1.0')
    before = sorted(os.listdir(releases))
    result = run(capsys, check_mode=True, diff=True, releases_dir=str(releases), action='record', project='p',
                 app_version='1.1', services=SERVICES, docker_cli=docker.cli, keep=1)
    assert result['rc'] == 0 and result['changed'] is True
    assert result['removed'] == ['20261128T101500Z-1.0']
    assert sorted(os.listdir(releases)) == before
    assert os.readlink(releases / 'current') == '20261128T101500Z-1.0'
    headers = [d['after_header'] for d in result['diff']]
    assert headers[0].endswith('/%s/release.json' % result['release']['id'])
    assert json.loads(result['diff'][0]['after']) == result['release']
    assert result['diff'][1]['before'] == '-> 20261128T101500Z-1.0\n'
    assert result['diff'][1]['after'] == '-> %s\n' % result['release']['id']


def test_record_refuses_an_image_not_on_the_host(capsys, releases, docker):
    docker.set({'reg/django:1': DJANGO_10})
    result = run(capsys, releases_dir=str(releases), action='record', project='p', app_version='1.1', services=SERVICES,
                 docker_cli=docker.cli)
    assert result['rc'] == 1
    assert result['msg'] == ('Error recording a release in %s: the images postgres:16 of release %s are not on the host'
                             % (releases, result['msg'].split('of release ')[1].split(' ')[0]))
    assert os.listdir(releases) == []


def test_current_previous_and_list(capsys, releases, docker):
    one = make_release(releases, '20261101T000000Z-1.0')
    two = make_release(releases, '20261102T000000Z-1.1', previous=one['id'])
    point_current(releases, two['id'])

    current = run(capsys, releases_dir=str(releases))
    assert current['rc'] == 0 and current['changed'] is False
    assert current['release'] == two and current['current'] == two['id']

    previous = run(capsys, releases_dir=str(releases), action='previous')
    assert previous['release'] == one and previous['current'] == two['id']

    listed = run(capsys, releases_dir=str(releases), action='list')
    assert [r['id'] for r in listed['releases']] == [one['id'], two['id']]
    assert [r['current'] for r in listed['releases']] == [False, True]
    assert docker.calls() == []


@pytest.mark.parametrize('layout', ['empty', 'missing dir', 'dangling current', 'first release'])
def test_nothing_to_read_is_an_empty_release(capsys, releases, layout):
    if layout == 'missing dir':
        releases.rmdir()
    elif layout == 'dangling current':
        point_current(releases, '20261101T000000Z-1.0')
    elif layout == 'first release':
        make_release(releases, '20261101T000000Z-1.0')
        point_current(releases, '20261101T000000Z-1.0')
    previous = run(capsys, releases_dir=str(releases), action='previous')
    assert previous['rc'] == 0 and previous['release'] == {}
    if layout != 'first release':
        assert run(capsys, releases_dir=str(releases))['release'] == {}
        assert run(capsys, releases_dir=str(releases), action='list')['releases'] == []


def test_a_broken_release_file_is_an_error_that_names_it(capsys, releases):
    (releases / '20261101T000000Z-1.0').mkdir()
    (releases / '20261101T000000Z-1.0' / 'release.json').write_text('{not json')
    point_current(releases, '20261101T000000Z-1.0')
    result = run(capsys, releases_dir=str(releases))
    assert result['rc'] == 1
    assert result['msg'].startswith('Error reading the current release in %s: %s/20261101T000000Z-1.0/release.json of release '
                                    '20261101T000000Z-1.0 is not JSON: '
                                    % (releases, releases))


def test_retag_points_only_the_references_that_differ(capsys, releases, docker):
    old = make_release(releases, '20261101T000000Z-1.0')
    docker.set({'reg/django:1': DJANGO_11, 'postgres:16': PG})
    result = run(capsys, diff=True, releases_dir=str(releases), action='retag', release=old['id'], docker_cli=docker.cli)
    assert result['rc'] == 0 and result['changed'] is True
    assert result['retagged'] == [{'ref': 'reg/django:1', 'before': DJANGO_11, 'after': DJANGO_10}]
    assert result['release'] == old
    assert docker.refs() == {'reg/django:1': DJANGO_10, 'postgres:16': PG}
    assert [c for c in docker.calls() if c[0] == 'tag'] == [['tag', DJANGO_10, 'reg/django:1']]
    assert result['diff'] == [{'before_header': 'image references',
                               'after_header': 'image references of release %s' % old['id'],
                               'before': 'reg/django:1 %s\n' % DJANGO_11, 'after': 'reg/django:1 %s\n' % DJANGO_10}]

    again = run(capsys, releases_dir=str(releases), action='retag', release=old['id'], docker_cli=docker.cli)
    assert again['changed'] is False and again['retagged'] == []


def test_retag_a_missing_reference_is_tagged(capsys, releases, docker):
    old = make_release(releases, '20261101T000000Z-1.0')
    docker.set({'postgres:16': PG})
    result = run(capsys, releases_dir=str(releases), action='retag', release=old['id'], docker_cli=docker.cli)
    assert result['retagged'] == [{'ref': 'reg/django:1', 'before': '', 'after': DJANGO_10}]
    assert docker.refs()['reg/django:1'] == DJANGO_10


def test_retag_check_mode_tags_nothing(capsys, releases, docker):
    old = make_release(releases, '20261101T000000Z-1.0')
    docker.set({'reg/django:1': DJANGO_11, 'postgres:16': PG})
    result = run(capsys, check_mode=True, releases_dir=str(releases), action='retag', release=old['id'],
                 docker_cli=docker.cli)
    assert result['rc'] == 0 and result['changed'] is True and len(result['retagged']) == 1
    assert docker.refs()['reg/django:1'] == DJANGO_11
    assert not [c for c in docker.calls() if c[0] == 'tag']


def test_retag_refuses_when_an_image_is_gone_and_tags_nothing(capsys, releases, docker):
    images = {'reg/django:1': DJANGO_10, 'postgres:16': PG, 'redis:7': 'sha256:' + '9' * 64}
    old = make_release(releases, '20261101T000000Z-1.0', images=images)
    docker.set({'reg/django:1': DJANGO_11, 'postgres:16': PG})
    result = run(capsys, releases_dir=str(releases), action='retag', release=old['id'], docker_cli=docker.cli)
    assert result['rc'] == 1
    assert result['msg'] == ('Error retagging the release in %s: the images sha256:%s of release %s are no longer on the '
                             'host (pruned?); deploy that version again instead, which pulls, builds or loads its images'
                             % (releases, '9' * 64, old['id']))
    assert not [c for c in docker.calls() if c[0] == 'tag']
    assert docker.refs()['reg/django:1'] == DJANGO_11


def test_activate_points_current_and_logs_the_reason(capsys, releases):
    old = make_release(releases, '20261101T000000Z-1.0')
    make_release(releases, '20261102T000000Z-1.1', previous=old['id'])
    point_current(releases, '20261102T000000Z-1.1')
    reason = 'the new containers\n  of django did not become healthy ' + 'x' * 300
    result = run(capsys, diff=True, releases_dir=str(releases), action='activate', release=old['id'], reason=reason)
    assert result['rc'] == 0 and result['changed'] is True and result['release'] == old
    assert os.readlink(releases / 'current') == old['id']
    line = (releases / 'history.log').read_text()
    assert line.endswith(' rollback %s (the new containers of django did not become healthy...)\n' % old['id'])
    assert result['diff'][0]['before'] == '-> 20261102T000000Z-1.1\n'


def test_activate_check_mode_changes_nothing(capsys, releases):
    old = make_release(releases, '20261101T000000Z-1.0')
    make_release(releases, '20261102T000000Z-1.1', previous=old['id'])
    point_current(releases, '20261102T000000Z-1.1')
    result = run(capsys, check_mode=True, releases_dir=str(releases), action='activate', release=old['id'])
    assert result['changed'] is True
    assert os.readlink(releases / 'current') == '20261102T000000Z-1.1'
    assert not (releases / 'history.log').exists()


@pytest.mark.parametrize('args, msg', [
    ({'action': 'retag'}, 'action is retag but all of the following are missing: release'),
    ({'action': 'activate'}, 'action is activate but all of the following are missing: release'),
    ({'action': 'record', 'project': 'p'}, 'action is record but all of the following are missing: app_version, services'),
    ({'action': 'record', 'project': 'p', 'app_version': '1', 'services': SERVICES, 'keep': 0},
     'keep must be 1 or more (the release just recorded is kept), got 0'),
    ({'action': 'retag', 'release': '../etc'},
     "release must be a release ID (a directory name under the releases directory, such as 20261128T101500Z-1.3), got '../etc'"),
    ({'action': 'activate', 'release': 'current'},
     "release must be a release ID (a directory name under the releases directory, such as 20261128T101500Z-1.3), got 'current'"),
])
def test_refusals_name_the_option(capsys, releases, args, msg):
    result = run(capsys, releases_dir=str(releases), **args)
    assert result['rc'] == 1
    assert result['msg'].endswith(msg)
    assert os.listdir(releases) == []


def test_a_missing_release_is_named(capsys, releases):
    result = run(capsys, releases_dir=str(releases), action='retag', release='20261101T000000Z-1.0')
    assert result['rc'] == 1
    assert result['msg'].startswith('Error retagging the release in %s: release 20261101T000000Z-1.0 has no readable '
                                    'release.json in %s' % (releases, releases))


@pytest.mark.parametrize('text, expected', [
    ('short reason', 'short reason'),
    ('  spaced\n\tout  ', 'spaced out'),
    ('a' * 205, 'a' * 205),
    ('word ' * 60, ('word ' * 40)[:197].rsplit(' ', 1)[0] + '...'),
])
def test_truncate_reason_is_jinja_truncate(text, expected):
    assert cr.truncate_reason(text) == expected


def test_truncate_reason_matches_jinja():
    jinja2 = pytest.importorskip('jinja2')
    env = jinja2.Environment()
    for text in ('x ' * 150, 'word ' * 60, 'a' * 300, 'short'):
        collapsed = ' '.join(text.split())
        assert cr.truncate_reason(text) == env.from_string('{{ t | truncate(200) }}').render(t=collapsed)


def test_releases_to_remove_ignores_other_entries():
    names = ['current', 'history.log', '20261101T000000Z-1.0', '20261102T000000Z-1.1', '.current.12']
    assert cr.releases_to_remove(names, 1) == ['20261101T000000Z-1.0']
    assert cr.releases_to_remove(names, 5) == []


def test_record_keeps_the_hash_of_each_configuration_never_its_content(capsys, releases, docker, tmp_path):
    env = tmp_path / '.env'
    env.write_text('POSTGRES_PASSWORD=s3cret-value\n')
    conf = tmp_path / 'conf.d'
    (conf / 'sub').mkdir(parents=True)
    (conf / 'site.conf').write_text('server {}\n')
    (conf / 'sub' / 'extra.conf').write_text('# extra\n')
    result = run(capsys, releases_dir=str(releases), action='record', project='p', app_version='1.0', services=SERVICES,
                 docker_cli=docker.cli, release='20261101T000000Z-1.0',
                 config_files={'.env': str(env), 'nginx': str(conf), 'gone': str(tmp_path / 'nothing')})
    assert result['rc'] == 0
    config = result['release']['config']
    assert config['.env'] == cr.config_hash(str(env)) and config['.env'].startswith('sha256:')
    assert config['nginx'] == cr.config_hash(str(conf)) and config['nginx'] != config['.env']
    assert config['gone'] == 'absent'
    assert 's3cret-value' not in (releases / '20261101T000000Z-1.0' / 'release.json').read_text()


def test_config_hash_of_a_directory_sees_a_renamed_or_changed_file(tmp_path):
    conf = tmp_path / 'conf.d'
    conf.mkdir()
    (conf / 'a.conf').write_text('x\n')
    first = cr.config_hash(str(conf))
    (conf / 'a.conf').rename(conf / 'b.conf')
    renamed = cr.config_hash(str(conf))
    (conf / 'b.conf').write_text('y\n')
    changed = cr.config_hash(str(conf))
    assert len({first, renamed, changed}) == 3
    (conf / 'b.conf').write_text('x\n')
    (conf / 'b.conf').rename(conf / 'a.conf')
    assert cr.config_hash(str(conf)) == first


def test_compare_names_what_differs_and_what_the_release_never_recorded(capsys, releases, docker, tmp_path):
    env = tmp_path / '.env'
    env.write_text('A=1\n')
    conf = tmp_path / 'conf.d'
    conf.mkdir()
    (conf / 'site.conf').write_text('server {}\n')
    files = {'.env': str(env), 'nginx': str(conf)}
    run(capsys, releases_dir=str(releases), action='record', project='p', app_version='1.0', services=SERVICES,
        docker_cli=docker.cli, release='20261101T000000Z-1.0', config_files=files)
    make_release(releases, '20261001T000000Z-0.9')

    same = run(capsys, releases_dir=str(releases), action='compare', config_files=files)
    assert same['rc'] == 0 and same['changed'] is False
    assert same['differs'] == [] and same['unrecorded'] == [] and same['config']['.env']['same'] is True

    env.write_text('A=2\n')
    differs = run(capsys, releases_dir=str(releases), action='compare', release='20261101T000000Z-1.0',
                  config_files=files)
    assert differs['differs'] == ['.env']
    assert differs['config']['.env']['recorded'] != differs['config']['.env']['now']
    assert differs['config']['nginx']['same'] is True

    old = run(capsys, releases_dir=str(releases), action='compare', release='20261001T000000Z-0.9', config_files=files)
    assert old['differs'] == [] and old['unrecorded'] == ['.env', 'nginx']
    assert old['config']['nginx'] == {'recorded': None, 'now': cr.config_hash(str(conf)), 'same': False}


def test_compare_without_any_release_is_an_error(capsys, releases):
    result = run(capsys, releases_dir=str(releases), action='compare', config_files={'.env': '/nonexistent'})
    assert result['rc'] == 1 and 'no current release to compare with' in result['msg']
