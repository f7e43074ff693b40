# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The module end to end in a temporary directory: creation with parents,
modes and owners, idempotence, check mode, diff, and its refusals."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.prodkit.stack.plugins.modules import directories


def run_module(capsys, check_mode=False, diff=False, **args):
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            directories.main()
    result = json.loads(capsys.readouterr().out)
    result['rc'] = exc.value.code
    return result


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_creates_tree_with_modes_then_changes_nothing(tmp_path, capsys):
    base = tmp_path / 'project'
    paths = [
        {'path': str(base), 'mode': '0750'},
        str(base / 'nginx' / 'conf.d'),
        {'path': str(base / 'nginx' / 'tls'), 'mode': '0700'},
    ]
    result = run_module(capsys, paths=paths, mode='0755')
    assert result['rc'] == 0 and result['changed'] is True
    assert result['created'] == [str(base), str(base / 'nginx' / 'conf.d'), str(base / 'nginx' / 'tls')]
    assert mode_of(base) == 0o750
    assert mode_of(base / 'nginx' / 'conf.d') == 0o755
    assert mode_of(base / 'nginx' / 'tls') == 0o700
    # The parent made on the way exists; it was not listed, so it is not reported.
    assert (base / 'nginx').is_dir()

    again = run_module(capsys, paths=paths, mode='0755')
    assert again['rc'] == 0 and again['changed'] is False
    assert again['changed_paths'] == [] and again['created'] == []


def test_fixes_mode_and_owner_of_existing_directory(tmp_path, capsys):
    target = tmp_path / 'secrets'
    target.mkdir(mode=0o755)
    os.chmod(target, 0o755)
    uid = os.getuid()
    result = run_module(capsys, diff=True, paths=[{'path': str(target), 'mode': '0700', 'owner': str(uid)}])
    assert result['rc'] == 0 and result['changed'] is True
    assert result['changed_paths'] == [str(target)] and result['created'] == []
    assert mode_of(target) == 0o700
    assert result['diff'] == [{'before': {'path': str(target), 'mode': '0755'},
                               'after': {'path': str(target), 'mode': '0700'},
                               'before_header': str(target), 'after_header': str(target)}]


@pytest.mark.skipif(os.getuid() != 0, reason='changing an owner needs root')
def test_sets_numeric_owner_and_group(tmp_path, capsys):
    target = tmp_path / 'owned'
    result = run_module(capsys, paths=[str(target)], owner='65534', group='65534', mode='0700')
    assert result['rc'] == 0 and result['changed'] is True
    st = os.stat(target)
    assert (st.st_uid, st.st_gid) == (65534, 65534)
    again = run_module(capsys, paths=[str(target)], owner='65534', group='65534', mode='0700')
    assert again['changed'] is False


def test_check_mode_reports_and_changes_nothing(tmp_path, capsys):
    existing = tmp_path / 'existing'
    existing.mkdir()
    os.chmod(existing, 0o777)
    missing = tmp_path / 'missing' / 'deep'
    result = run_module(capsys, check_mode=True, diff=True, mode='0750',
                        paths=[str(existing), str(missing)])
    assert result['rc'] == 0 and result['changed'] is True
    assert result['changed_paths'] == [str(existing), str(missing)]
    assert result['created'] == [str(missing)]
    assert not (tmp_path / 'missing').exists()
    assert mode_of(existing) == 0o777
    assert result['diff'][1]['before'] == {'path': str(missing), 'state': 'absent'}
    assert result['diff'][1]['after'] == {'path': str(missing), 'state': 'directory', 'mode': '0750'}


def test_symbolic_mode(tmp_path, capsys):
    target = tmp_path / 'sym'
    result = run_module(capsys, paths=[{'path': str(target), 'mode': 'u=rwx,g=rx,o='}])
    assert result['rc'] == 0
    assert mode_of(target) == 0o750


def test_refuses_a_file_in_the_way_and_stops_there(tmp_path, capsys):
    blocker = tmp_path / 'blocker'
    blocker.write_text('not a directory')
    after = tmp_path / 'after'
    result = run_module(capsys, paths=[str(blocker), str(after)])
    assert result['rc'] == 1 and result['failed'] is True
    assert str(blocker) in result['msg'] and 'not a directory' in result['msg']
    assert not after.exists()


@pytest.mark.parametrize('entry, fragment', [
    ('relative/dir', 'is not an absolute path'),
    ({'mode': '0755'}, 'must be a path or a dictionary with a path'),
    ({'path': '/tmp/x', 'state': 'absent'}, 'unknown keys state'),
])
def test_refuses_bad_entries_before_changing_anything(tmp_path, capsys, entry, fragment):
    first = tmp_path / 'first'
    result = run_module(capsys, paths=[str(first), entry])
    assert result['rc'] == 1
    assert fragment in result['msg']
    assert not first.exists()
