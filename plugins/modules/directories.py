#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: directories
short_description: Make sure a set of directories exists with their owners and modes, in one module run
version_added: 0.2.0
author:
  - prodkit.stack maintainers (@prodkit)
description:
  - Does for a list of directories what M(ansible.builtin.file) with O(ansible.builtin.file#module:state=directory)
    does for one, in a single run on the target. A role that lays out its tree with a loop of
    M(ansible.builtin.file) pays a module run per directory on every play, changed or not; this pays one.
  - Missing directories are created with their missing parents (parents get the default mode and owner, as
    with M(ansible.builtin.file)); then owner, group and mode are set on each listed directory when they differ.
    The entries are handled in the order given, so a parent listed first gets its own mode before its children.
  - An existing path that is not a directory is an error, and nothing is changed after it.
extends_documentation_fragment:
  - prodkit.stack.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: One before/after entry per directory that is created or whose owner, group or mode changes.
  idempotent:
    support: full
options:
  paths:
    description:
      - The directories, in order. An entry is a path, or a dictionary with C(path) and optionally C(owner),
        C(group) and C(mode) that override the module's defaults for that directory.
    type: list
    elements: raw
    required: true
  owner:
    description: Owner (name or numeric ID) of every listed directory that does not name its own.
    type: str
  group:
    description: Group (name or numeric ID) of every listed directory that does not name its own.
    type: str
  mode:
    description:
      - Mode of every listed directory that does not name its own, as with M(ansible.builtin.file) (octal string
        such as V('0750') or symbolic). Quote it in YAML.
    type: raw
requirements: []
seealso:
  - module: ansible.builtin.file
'''

EXAMPLES = r'''
- name: Create the project's directories
  prodkit.stack.directories:
    owner: root
    group: root
    mode: "0755"
    paths:
      - {path: /opt/myproject, mode: "0750"}
      - /opt/myproject/nginx
      - {path: /opt/myproject/nginx/tls, mode: "0700"}
      - {path: /opt/myproject/secrets, mode: "0700", owner: "65534", group: "65534"}
'''

RETURN = r'''
changed_paths:
  description: The directories that were (or in check mode would be) created or had their owner, group or mode set.
  returned: always
  type: list
  elements: str
  sample: [/opt/myproject/nginx/tls]
created:
  description: The listed directories that did not exist (and were, unless in check mode, created).
  returned: always
  type: list
  elements: str
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

ENTRY_KEYS = frozenset(('path', 'owner', 'group', 'mode'))


def normalise(module, entry):
    """One entry of `paths` as a dict with path, owner, group and mode (defaults filled in)."""
    if isinstance(entry, str):
        entry = {'path': entry}
    if not isinstance(entry, dict) or not entry.get('path'):
        module.fail_json(msg='paths: each entry must be a path or a dictionary with a path, got %r' % (entry,))
    unknown = set(entry) - ENTRY_KEYS
    if unknown:
        module.fail_json(msg='paths: entry %s has unknown keys %s (allowed: %s)'
                             % (entry['path'], ', '.join(sorted(unknown)), ', '.join(sorted(ENTRY_KEYS))))
    path = os.path.normpath(str(entry['path']))
    if not os.path.isabs(path):
        module.fail_json(msg='paths: %s is not an absolute path' % path)
    result = {'path': path}
    for key in ('owner', 'group', 'mode'):
        value = entry.get(key, module.params[key])
        result[key] = None if value is None else str(value)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type='list', elements='raw', required=True),
            owner=dict(type='str'),
            group=dict(type='str'),
            mode=dict(type='raw'),
        ),
        supports_check_mode=True,
    )
    entries = [normalise(module, entry) for entry in module.params['paths']]

    changed_paths = []
    created = []
    diffs = []
    for entry in entries:
        path = entry['path']
        b_path = to_bytes(path, errors='surrogate_or_strict')
        before = {'path': path}
        after = {'path': path}
        if os.path.lexists(b_path):
            if not os.path.isdir(b_path):
                module.fail_json(msg='%s exists and is not a directory; move it away or change the path' % path,
                                 changed=bool(changed_paths), changed_paths=changed_paths, created=created)
        else:
            created.append(path)
            before['state'] = 'absent'
            after['state'] = 'directory'
            if not module.check_mode:
                try:
                    os.makedirs(b_path)
                except OSError as exc:
                    module.fail_json(msg='Error creating %s: %s' % (path, to_native(exc)),
                                     changed=bool(changed_paths), changed_paths=changed_paths, created=created)
        attr_diff = {'before': {}, 'after': {}}
        file_args = module.load_file_common_arguments(entry, path=path)
        if path in created and module.check_mode:
            # Nothing to compare with: it would be made with what was asked.
            attrs_changed = False
            for key in ('owner', 'group', 'mode'):
                if entry[key] is not None:
                    after[key] = entry[key]
        else:
            attrs_changed = module.set_fs_attributes_if_different(file_args, False, attr_diff, expand=False)
            before.update(attr_diff['before'])
            after.update(attr_diff['after'])
        if path in created or attrs_changed:
            changed_paths.append(path)
            diffs.append({'before': before, 'after': after, 'before_header': path, 'after_header': path})

    result = dict(changed=bool(changed_paths), changed_paths=changed_paths, created=created)
    if module._diff:
        result['diff'] = diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
