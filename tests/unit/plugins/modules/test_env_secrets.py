# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The module end to end, in a temporary directory: writes, idempotence,
check mode, rotation, backups, permissions and what its output holds."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.prodkit.stack.plugins.module_utils._env_file import HEADER, parse_env
from ansible_collections.prodkit.stack.plugins.modules import env_secrets

PROVIDED = "vault-Pa55 w/ 'quotes' $and \\ #hash="
SECRETS = [
    {'name': 'POSTGRES_PASSWORD', 'type': 'password', 'length': 40},
    {'name': 'DJANGO_SECRET_KEY', 'type': 'django'},
    {'name': 'REDIS_PASSWORD', 'type': 'hex'},
    {'name': 'API_TOKEN', 'type': 'token'},
    {'name': 'SIGNING_KEY', 'type': 'base64'},
]


def run_module(capsys, check_mode=False, diff=False, **args):
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            env_secrets.main()
    out = capsys.readouterr().out
    result = json.loads(out)
    result['_rc'] = exc.value.code
    result['_raw'] = out
    return result


def file_values(path):
    with open(path) as handle:
        return dict((line.key, line.value) for line in parse_env(handle.read()) if line.kind == 'entry')


@pytest.fixture
def env_path(tmp_path):
    return str(tmp_path / '.env')


def base_args(path, **extra):
    args = dict(path=path, values={'POSTGRES_DB': 'app', 'WEB_CONCURRENCY': 3},
                secret_values={'SMTP_PASSWORD': PROVIDED}, secrets=SECRETS)
    args.update(extra)
    return args


def test_first_run_writes_then_same_inputs_leave_the_file_untouched(capsys, env_path):
    first = run_module(capsys, diff=True, **base_args(env_path))
    assert first['_rc'] == 0 and first['changed'] is True
    assert first['generated_keys'] == [spec['name'] for spec in SECRETS]
    assert stat.S_IMODE(os.stat(env_path).st_mode) == 0o600
    values = file_values(env_path)
    assert values['SMTP_PASSWORD'] == PROVIDED and values['WEB_CONCURRENCY'] == '3'
    assert len(values['POSTGRES_PASSWORD']) == 40
    with open(env_path) as handle:
        assert handle.readline() == HEADER + '\n'
    before = os.stat(env_path)

    second = run_module(capsys, diff=True, **base_args(env_path))
    assert second['changed'] is False
    assert (second['changed_keys'], second['generated_keys'], second['rotated_keys']) == ([], [], [])
    assert 'diff' not in second
    after = os.stat(env_path)
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)
    assert file_values(env_path) == values


def test_output_never_holds_a_secret(capsys, env_path):
    outputs = []
    outputs.append(run_module(capsys, diff=True, **base_args(env_path))['_raw'])
    outputs.append(run_module(capsys, diff=True, check_mode=True, **base_args(env_path, rotate=['API_TOKEN']))['_raw'])
    outputs.append(run_module(capsys, diff=True, **base_args(env_path, rotate=['API_TOKEN', 'SIGNING_KEY'], backup=True))['_raw'])
    outputs.append(run_module(capsys, diff=True, **base_args(env_path, required=['MISSING'], secret_values={'SMTP_PASSWORD': 'other-' + PROVIDED}))['_raw'])
    outputs.append(run_module(capsys, diff=True, **base_args(env_path, secret_values={'SMTP_PASSWORD': 'two\nlines-' + PROVIDED}))['_raw'])
    secrets = [value for key, value in file_values(env_path).items() if key not in ('POSTGRES_DB', 'WEB_CONCURRENCY')]
    secrets += [PROVIDED, 'other-' + PROVIDED, 'lines-' + PROVIDED]
    assert len(secrets) == 9
    text = '\n'.join(outputs)
    for secret in secrets:
        # The exact value and the forms the file or JSON could carry it in.
        for form in (secret, json.dumps(secret)[1:-1], secret.replace('$', '\\$')):
            assert form not in text
    assert "POSTGRES_DB='app'" in text  # plain values do show


def test_check_mode_reports_and_writes_nothing(capsys, env_path):
    result = run_module(capsys, check_mode=True, diff=True, **base_args(env_path))
    assert result['changed'] is True and result['generated_keys'] == [spec['name'] for spec in SECRETS]
    assert not os.path.exists(env_path)
    assert os.listdir(os.path.dirname(env_path)) == []

    run_module(capsys, **base_args(env_path))
    with open(env_path, 'rb') as handle:
        content = handle.read()
    mtime = os.stat(env_path).st_mtime_ns
    rotated = run_module(capsys, check_mode=True, diff=True, **base_args(env_path, rotate=['REDIS_PASSWORD'], values={'POSTGRES_DB': 'other'}))
    assert rotated['changed'] is True and rotated['rotated_keys'] == ['REDIS_PASSWORD']
    assert rotated['changed_keys'] == ['POSTGRES_DB', 'REDIS_PASSWORD']
    assert rotated['unmanaged_keys'] == ['WEB_CONCURRENCY']  # no longer in values: kept (unmanaged=keep)
    assert rotated['diff']['after'].count('REDIS_PASSWORD=******** (rotated)') == 1
    with open(env_path, 'rb') as handle:
        assert handle.read() == content
    assert os.stat(env_path).st_mtime_ns == mtime


def test_rotation_changes_one_secret_only_and_backup_keeps_the_old_file(capsys, env_path):
    run_module(capsys, **base_args(env_path))
    old = file_values(env_path)
    result = run_module(capsys, **base_args(env_path, rotate=['DJANGO_SECRET_KEY'], backup=True))
    new = file_values(env_path)
    assert result['changed'] is True and result['rotated_keys'] == ['DJANGO_SECRET_KEY'] and result['changed_keys'] == ['DJANGO_SECRET_KEY']
    assert new['DJANGO_SECRET_KEY'] != old['DJANGO_SECRET_KEY']
    assert dict((k, v) for k, v in new.items() if k != 'DJANGO_SECRET_KEY') == dict((k, v) for k, v in old.items() if k != 'DJANGO_SECRET_KEY')
    assert file_values(result['backup_file']) == old
    assert stat.S_IMODE(os.stat(result['backup_file']).st_mode) == 0o600


def test_failures_happen_before_anything_is_written(capsys, env_path):
    result = run_module(capsys, **base_args(env_path, required=['POSTGRES_PASSWORD', 'ALLOWED_HOSTS', 'SENTRY_DSN'],
                                            values={'SENTRY_DSN': ''}))
    assert result['_rc'] == 1 and result['failed'] is True
    assert result['msg'] == 'Error validating env file: required keys missing or empty: ALLOWED_HOSTS, SENTRY_DSN (env file %s)' % env_path
    assert not os.path.exists(env_path)


@pytest.mark.parametrize('mode, expected', [('0640', 0o640), ('u=rw,g=r,o=', 0o640), ('0600', 0o600), (None, 0o600)])
def test_mode_is_enforced_on_new_and_existing_files(capsys, env_path, mode, expected):
    args = dict(path=env_path, values={'A': '1'})
    if mode is not None:
        args['mode'] = mode
    run_module(capsys, **args)
    assert stat.S_IMODE(os.stat(env_path).st_mode) == expected
    os.chmod(env_path, 0o644)
    again = run_module(capsys, **args)
    assert again['changed'] is True and again['changed_keys'] == []
    assert stat.S_IMODE(os.stat(env_path).st_mode) == expected
    assert run_module(capsys, **args)['changed'] is False


def test_missing_directory_and_directory_path(capsys, tmp_path):
    result = run_module(capsys, path=str(tmp_path / 'nope' / '.env'), values={'A': '1'})
    assert result['msg'] == 'Error writing env file %s: directory %s does not exist' % (tmp_path / 'nope' / '.env', tmp_path / 'nope')
    result = run_module(capsys, path=str(tmp_path), values={'A': '1'})
    assert result['msg'] == 'Error reading env file %s: it is a directory' % tmp_path


def test_no_temporary_file_is_left_behind(capsys, env_path):
    run_module(capsys, **base_args(env_path))
    run_module(capsys, **base_args(env_path, rotate=['API_TOKEN']))
    assert sorted(os.listdir(os.path.dirname(env_path))) == ['.env']


def test_write_is_a_rename_of_a_complete_private_file_in_the_same_directory(capsys, env_path, monkeypatch):
    run_module(capsys, **base_args(env_path))
    old_inode = os.stat(env_path).st_ino
    renames = []
    real_rename = os.rename

    def recording_rename(src, dst):
        info = os.stat(src)
        with open(src) as handle:
            renames.append((src, dst, stat.S_IMODE(info.st_mode), handle.read()))
        real_rename(src, dst)
    monkeypatch.setattr(env_secrets.os, 'rename', recording_rename)
    run_module(capsys, **base_args(env_path, rotate=['API_TOKEN'], mode='0640'))
    assert len(renames) == 1
    src, dst, mode, content = renames[0]
    assert dst == env_path and os.path.dirname(src) == os.path.dirname(env_path)
    assert os.path.basename(src).startswith('..env.') and src.endswith('.tmp')
    # Complete and with its final mode before it replaces the old file.
    assert mode == 0o640
    with open(env_path) as handle:
        assert handle.read() == content
    assert os.stat(env_path).st_ino != old_inode
