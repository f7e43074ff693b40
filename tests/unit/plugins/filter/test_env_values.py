# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.prodkit.stack.plugins.filter.env_values import env_values

# What env_secrets writes, and what a person writes by hand.
TEXT = '''# Managed by prodkit.stack.env_secrets
REDIS_PASSWORD='r3d=is#x'
export FLOWER_PASSWORD="it's \\"quoted\\" \\$HOME"
PLAIN=  spaced value # comment
MULTI="line one
line two"
BARE
REF=${REDIS_PASSWORD}
REDIS_PASSWORD='last wins'
'''


def test_values_as_compose_reads_them():
    assert env_values(TEXT) == {
        'REDIS_PASSWORD': 'last wins',
        'FLOWER_PASSWORD': 'it\'s "quoted" $HOME',
        'PLAIN': 'spaced value',
        'MULTI': 'line one\nline two',
        'REF': '${REDIS_PASSWORD}',
    }


def test_only_the_keys_asked_for():
    assert env_values(TEXT, ['PLAIN', 'NOPE']) == {'PLAIN': 'spaced value'}


def test_no_file_is_no_values():
    assert env_values('') == {} and env_values(None) == {}


def test_a_bad_line_is_named_without_its_content():
    with pytest.raises(AnsibleFilterError) as info:
        env_values("A=1\nsecret-looking garbage\n")
    assert str(info.value) == 'env_values: line 2 is not KEY=VALUE'
