# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""compose_plan reads the .env as Compose does to find the keys that need a placeholder."""

from __future__ import annotations

import os

import pytest

from ansible_collections.prodkit.stack.plugins.modules import compose_plan


class _Failed(Exception):
    pass


class _Module(object):
    def __init__(self, **params):
        self.params = dict(project='demo', project_dir='/nonexistent', files=['docker-compose.yml'], env_file=None,
                           placeholder_env=[], expected_images={}, docker_cli='docker')
        self.params.update(params)

    def fail_json(self, **kwargs):
        raise _Failed(kwargs['msg'])


def placeholders(tmp_path, text, keys):
    env_file = tmp_path / '.env'
    env_file.write_text(text)
    path, temporary = compose_plan.ComposePlanner(_Module(env_file=str(env_file), placeholder_env=keys)) \
        .env_file_with_placeholders()
    if temporary is None:
        assert path == str(env_file)
        return []
    with open(temporary) as handle:
        written = handle.read()
    os.remove(temporary)
    assert written.startswith(text)
    return [line.split('=', 1)[0] for line in written[len(text):].splitlines()]


@pytest.mark.parametrize('text, missing', [
    ("A='1'\nexport B=2\n", ['C']),
    # A quoted value over two lines holds no key B (the old line reader saw one).
    ("A=\"x\nB=y\"\n", ['B', 'C']),
    # A bare key sets nothing in Compose, a commented one neither.
    ("A=1\nB\n# C=3\n", ['B', 'C']),
    ("A=\nB= # empty\nC=''\n", []),
])
def test_keys_compose_would_see(tmp_path, text, missing):
    assert placeholders(tmp_path, text, ['A', 'B', 'C']) == missing


def test_a_file_compose_cannot_read_is_named(tmp_path):
    with pytest.raises(_Failed) as info:
        placeholders(tmp_path, "A=1\nnot an assignment\n", ['A'])
    assert str(info.value) == 'Error parsing env file %s: line 2 is not KEY=VALUE' % (tmp_path / '.env')


def test_no_env_file_yet(tmp_path):
    planner = compose_plan.ComposePlanner(_Module(env_file=str(tmp_path / '.env'), placeholder_env=['S_1']))
    path, temporary = planner.env_file_with_placeholders()
    assert path == temporary
    with open(path) as handle:
        written = handle.read()
    os.remove(path)
    assert written == 'S_1=placeholder-s_1\n'
