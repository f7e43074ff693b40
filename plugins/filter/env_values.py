# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.prodkit.stack.plugins.module_utils._env_file import EnvFileError, env_values as _entries
from ansible_collections.prodkit.stack.plugins.module_utils._env_file import parse_env


def env_values(text, keys=None):
    """KEY -> value of a Compose .env file's text, read as Compose reads it.

    A bare ``KEY`` (no ``=``) sets nothing and is left out; a value that
    interpolates other variables is returned as written. ``keys`` limits
    the result to those keys. The error names the line, never a value.
    """
    if text is None:
        text = ''
    if not isinstance(text, str):
        raise AnsibleFilterError('env_values: expected the text of a .env file, got %s' % type(text).__name__)
    try:
        lines = parse_env(text)
    except EnvFileError as exc:
        raise AnsibleFilterError('env_values: %s' % exc)
    result = dict((key, line.value) for key, line in _entries(lines).items() if line.value is not None)
    if keys is not None:
        result = dict((key, value) for key, value in result.items() if key in keys)
    return result


class FilterModule(object):
    def filters(self):
        return {'env_values': env_values}
