#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: image_archive
short_description: Load Docker image archives (air-gapped sites), only when their images are not there yet
version_added: 0.1.0
author:
  - prodkit.stack maintainers (@prodkit)
description:
  - Reads the image references and IDs that C(docker save) archives hold (their C(manifest.json), without unpacking
    the layers) and loads an archive with C(docker load) only when one of its references is missing on the host or
    points to another image. A second run with the same archives changes nothing and takes a second, not the minutes
    a load of a large archive takes.
  - After loading it checks that every reference now has the image ID the archive declared.
extends_documentation_fragment:
  - prodkit.stack.attributes
  - prodkit.stack.attributes.docker_cli
attributes:
  check_mode:
    support: full
    details: Reports which archives would be loaded and which references would change.
  diff_mode:
    support: full
    details: One line per reference that would change, with the old and new image IDs.
  idempotent:
    support: full
options:
  path:
    description: Image archives on the target, as written by C(docker save) (plain tar).
    type: list
    elements: path
    required: true
seealso:
  - module: community.docker.docker_image_load
  - module: prodkit.stack.compose_plan
'''

EXAMPLES = r'''
- name: Load the release's images from the archive copied to the host
  prodkit.stack.image_archive:
    path:
      - /srv/releases/myproject-1.4.tar
  register: loaded

- name: Show the image IDs the host now has
  ansible.builtin.debug:
    var: loaded.images
'''

RETURN = r'''
images:
  description: Every reference the archives hold, to the image ID it has (or will have, in check mode) on the host.
  returned: always
  type: dict
  sample: {'registry.example.com/app/django:1.4': 'sha256:77ab10e4c2d1...'}
loaded:
  description: The archives that were (or in check mode would be) loaded.
  returned: always
  type: list
  elements: str
changed_images:
  description: References that were missing or pointed to another image, to their old ID (null when missing).
  returned: always
  type: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.prodkit.stack.plugins.module_utils._compose_archive import archive_images


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='list', elements='path', required=True),
            docker_cli=dict(type='path', default='docker'),
        ),
        supports_check_mode=True,
    )
    docker = module.params['docker_cli']

    def local_id(ref):
        rc, out, dummy = module.run_command([docker, 'image', 'inspect', '--format', '{{.Id}}', ref])
        return out.strip() if rc == 0 and out.strip() else None

    images = {}
    loaded = []
    changed_images = {}
    for path in module.params['path']:
        if not os.path.isfile(path):
            module.fail_json(msg='Error reading image archive %s: no such file on %s' % (path, os.uname()[1]))
        try:
            wanted = archive_images(path)
        except Exception as exc:  # pylint: disable=broad-except
            module.fail_json(msg='Error reading image archive %s: %s' % (path, exc))
        if not wanted:
            module.fail_json(msg='Error reading image archive %s: it holds no tagged image '
                                 '(save images by name:tag, not by ID)' % path)
        stale = dict((ref, local_id(ref)) for ref in wanted)
        stale = dict((ref, old) for ref, old in stale.items() if old != wanted[ref])
        images.update(wanted)
        if not stale:
            continue
        changed_images.update(stale)
        loaded.append(path)
        if module.check_mode:
            continue
        rc, out, err = module.run_command([docker, 'load', '--input', path])
        if rc != 0:
            module.fail_json(msg='Error loading image archive %s: %s' % (path, (err or out).strip()), rc=rc)
        wrong = ['%s is %s, the archive declares %s' % (ref, local_id(ref), wanted[ref])
                 for ref in wanted if local_id(ref) != wanted[ref]]
        if wrong:
            module.fail_json(msg='Error loading image archive %s: after docker load %s' % (path, '; '.join(wrong)))

    result = dict(changed=bool(loaded), images=images, loaded=loaded, changed_images=changed_images)
    if module._diff and changed_images:
        lines = ['%s: %s -> %s' % (ref, (old or 'missing')[:19], images[ref][:19]) for ref, old in sorted(changed_images.items())]
        result['diff'] = {'prepared': 'images:\n%s\n' % '\n'.join(lines)}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
