# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""env_read: values as Compose reads them (the same parser as env_secrets),
what is missing, check mode, and its refusals (never with a value)."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.prodkit.stack.plugins.module_utils._env_file import EnvFileError
from ansible_collections.prodkit.stack.plugins.modules import env_read


def run_module(capsys, check_mode=False, **args):
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            env_read.main()
    result = json.loads(capsys.readouterr().out)
    result['rc'] = exc.value.code
    return result


@pytest.mark.parametrize('line, value', [
    ("REDIS_PASSWORD='s3cret'", 's3cret'),
    ('REDIS_PASSWORD="s3cret"', 's3cret'),
    ('REDIS_PASSWORD=s3cret', 's3cret'),
    ('export REDIS_PASSWORD=s3cret', 's3cret'),
    ('REDIS_PASSWORD=s3cret # a comment', 's3cret'),
    # What a regular expression gets wrong: quotes and escapes inside, $$, = in the value.
    ("REDIS_PASSWORD='it\\'s=ok'", "it's=ok"),
    ('REDIS_PASSWORD="a\\"b\\\\c"', 'a"b\\c'),
    ('REDIS_PASSWORD="pa$$word"', 'pa$word'),
    ("REDIS_PASSWORD='pa$$word'", 'pa$$word'),
    ('REDIS_PASSWORD="two\nlines"', 'two\nlines'),
    ("REDIS_PASSWORD=", ''),
])
def test_values_as_compose_reads_them(line, value):
    assert env_read.read_values('# header\n%s\nOTHER=1\n' % line, ['REDIS_PASSWORD']) == ({'REDIS_PASSWORD': value}, [])


def test_last_assignment_wins_and_missing_keys_are_listed():
    text = "A='1'\nB\nA='2'\n"
    assert env_read.read_values(text, ['A', 'B', 'C']) == ({'A': '2'}, ['B', 'C'])


@pytest.mark.parametrize('text', ['A=$HOME\n', 'A="${HOME}/x"\n'])
def test_a_value_with_variables_is_refused(text):
    with pytest.raises(EnvFileError, match=r'the value of A refers to variables'):
        env_read.read_values(text, ['A'])


def test_an_unread_key_with_variables_is_fine():
    assert env_read.read_values("A=$HOME\nB='x'\n", ['B']) == ({'B': 'x'}, [])


def test_module_reads_in_check_mode_and_changes_nothing(tmp_path, capsys):
    path = tmp_path / '.env'
    path.write_text("REDIS_PASSWORD='s3cret'\nFLOWER_PASSWORD=\"f$$x\"\n")
    before = path.stat()
    result = run_module(capsys, check_mode=True, path=str(path), keys=['REDIS_PASSWORD', 'FLOWER_PASSWORD', 'NOPE'])
    assert result['rc'] == 0 and result['changed'] is False and result['exists'] is True
    assert result['values'] == {'REDIS_PASSWORD': 's3cret', 'FLOWER_PASSWORD': 'f$x'}
    assert result['missing'] == ['NOPE']
    assert path.stat().st_mtime_ns == before.st_mtime_ns


def test_missing_file(tmp_path, capsys):
    path = str(tmp_path / '.env')
    result = run_module(capsys, path=path, keys=['A'], missing_file_ok=True)
    assert result['rc'] == 0 and result['exists'] is False and result['values'] == {} and result['missing'] == ['A']
    result = run_module(capsys, path=path, keys=['A'])
    assert result['rc'] == 1 and result['msg'] == 'Error reading env file %s: it does not exist' % path


@pytest.mark.parametrize('content, message', [
    (b"A='s3cret\n", 'line 1 opens a quoted value that is never closed'),
    (b'A=1\nthis is not an assignment s3cret\n', 'line 2 is not KEY=VALUE'),
    (b"A='\xff'\n", 'it is not UTF-8 text'),
    (b'A=${S3CRET}\n', 'the value of A refers to variables'),
])
def test_module_refusals_name_the_file_and_line_never_the_value(tmp_path, capsys, content, message):
    path = tmp_path / '.env'
    path.write_bytes(content)
    result = run_module(capsys, path=str(path), keys=['A'])
    assert result['rc'] == 1
    assert message in result['msg'] and str(path) in result['msg']
    assert 's3cret' not in result['msg'] and 'S3CRET' not in result['msg']
