#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: env_read
short_description: Read values from a Docker Compose C(.env) file as Compose reads them
version_added: 0.3.0
author:
  - prodkit.stack maintainers (@prodkit)
description:
  - Reads the keys asked for from an env file on the target with the same parser as M(prodkit.stack.env_secrets),
    which follows Compose v2's (comments, C(export ), single and double quotes, escapes, values over several lines;
    the last assignment of a key wins). A role that needs a value another role wrote, such as a password in the
    application's C(.env), gets exactly the string the containers get, not a regular expression's guess.
  - Only reads. Nothing on the target changes.
  - A value that refers to variables (C($VAR), C(${VAR}) in an unquoted or double-quoted value) depends on the
    environment Compose runs in, so it cannot be read here; asking for such a key is an error.
extends_documentation_fragment:
  - prodkit.stack.attributes
attributes:
  check_mode:
    support: full
    details: It only reads, so check mode runs it exactly as a normal run does.
  diff_mode:
    support: none
    details: It changes nothing, so it has nothing to show as a diff.
  idempotent:
    support: full
    details: It changes nothing; every run reports C(changed=false).
options:
  path:
    description: Path of the env file on the target.
    type: path
    required: true
  keys:
    description:
      - The keys to read. A key that the file does not assign (or assigns no value, as C(KEY) alone) is listed in
        RV(missing), not in RV(values).
    type: list
    elements: str
    required: true
  missing_file_ok:
    description:
      - When the file does not exist, return RV(exists=false) and every key in RV(missing) instead of failing
        (the caller decides what a missing file means).
    type: bool
    default: false
notes:
  - The values are secrets more often than not. Set C(no_log) on the task.
requirements: []
seealso:
  - module: prodkit.stack.env_secrets
'''

EXAMPLES = r'''
- name: Read the exporters' credentials from the application's .env
  prodkit.stack.env_read:
    path: /opt/myproject/.env
    keys: [REDIS_PASSWORD, FLOWER_PASSWORD]
  register: app_env
  no_log: true

- name: Use one
  ansible.builtin.copy:
    content: "{{ app_env['values']['FLOWER_PASSWORD'] }}"
    dest: /opt/myproject/monitoring/secrets/flower_password
    mode: '0400'
  no_log: true
'''

RETURN = r'''
exists:
  description: Whether the file exists.
  returned: always
  type: bool
  sample: true
values:
  description: The keys asked for that the file assigns a value, with their values as Compose reads them.
  returned: always
  type: dict
  sample: {REDIS_PASSWORD: s3cret}
missing:
  description: The keys asked for that the file does not assign a value (in the order asked).
  returned: always
  type: list
  elements: str
  sample: [FLOWER_PASSWORD]
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.prodkit.stack.plugins.module_utils._env_file import EnvFileError, env_values, parse_env


def read_values(text, keys):
    """(values, missing) of keys in an env file's text, as Compose reads them.

    Raises EnvFileError for a file that does not parse or a key asked for
    whose value refers to variables (never with the value in the message)."""
    entries = env_values(parse_env(text))
    values = {}
    missing = []
    for key in keys:
        entry = entries.get(key)
        if entry is None or entry.value is None:
            missing.append(key)
            continue
        if entry.interpolated:
            raise EnvFileError('the value of %s refers to variables ($NAME or ${NAME}), which only Compose resolves; '
                               'write it in single quotes' % key)
        values[key] = entry.value
    return values, missing


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            keys=dict(type='list', elements='str', required=True, no_log=False),
            missing_file_ok=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    path = module.params['path']
    keys = module.params['keys']
    if not os.path.exists(path):
        if module.params['missing_file_ok']:
            module.exit_json(changed=False, exists=False, values={}, missing=list(keys))
        module.fail_json(msg='Error reading env file %s: it does not exist' % path)
    try:
        with open(path, 'rb') as handle:
            text = handle.read().decode('utf-8')
    except UnicodeDecodeError:
        module.fail_json(msg='Error reading env file %s: it is not UTF-8 text' % path)
    except (IOError, OSError) as exc:
        module.fail_json(msg='Error reading env file %s: %s' % (path, to_native(exc.strerror or exc)))
    try:
        values, missing = read_values(text, keys)
    except EnvFileError as exc:
        module.fail_json(msg='Error reading env file %s: %s' % (path, to_native(exc)))
    module.exit_json(changed=False, exists=True, values=values, missing=missing)


if __name__ == '__main__':
    main()
