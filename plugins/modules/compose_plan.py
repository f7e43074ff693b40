#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: compose_plan
short_description: Show what deploying a Docker Compose file would do to the running project
version_added: 0.1.0
author:
  - prodkit.stack maintainers (@prodkit)
description:
  - Compares a candidate Compose file with the containers of the project that run now, service by service, and
    tells which services would be created, recreated (and why, configuration or image, with old and new image IDs),
    started, scaled or removed, and which would be kept.
  - Uses the same service configuration hash as C(docker compose up) (C(docker compose config --hash)), so the plan
    matches what Compose will do; an image reference whose tag now points to another image counts as a change.
  - Only reads. It reports C(changed=true) when deploying the file would change the running project, so that in
    check mode and with C(--diff) it shows the plan before anything happens.
  - Works before the C(.env) exists (a first deploy in check mode) when O(placeholder_env) names its keys.
extends_documentation_fragment:
  - prodkit.stack.attributes
  - prodkit.stack.compose_project
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs the same way in check mode.
  diff_mode:
    support: full
    details: The plan, one line per service, as a prepared diff. It never contains environment values.
  idempotent:
    support: full
    details: It never changes the host.
options:
  placeholder_env:
    description:
      - Keys to give a placeholder value when the C(.env) lacks them (it does not exist yet, or this run has not
        written it yet because it runs in check mode). Services that use them show as changed.
    type: list
    elements: str
    default: []
  expected_images:
    description:
      - Image reference to image ID (V(sha256:...)) for images that are not on the host yet but will be, such as
        those of an image archive about to be loaded. Lets the plan name the new image IDs.
    type: dict
    default: {}
requirements:
  - The Docker CLI with the Compose v2 plugin on the target.
seealso:
  - module: prodkit.stack.image_archive
  - module: prodkit.stack.health_check
'''

EXAMPLES = r'''
- name: Show what a deploy would do
  prodkit.stack.compose_plan:
    project: myproject
    project_dir: /opt/myproject
    files: [/opt/myproject/.staging/docker-compose.yml]
  register: plan

- name: Deploy only when something would change
  ansible.builtin.command: docker compose up --detach --wait
  args:
    chdir: /opt/myproject
  when: plan.changed
  changed_when: true
'''

RETURN = r'''
services:
  description: Service name to its planned action and the reasons.
  returned: always
  type: dict
  sample:
    django:
      action: recreate
      reasons: ['image registry/app/django:1.1: 3f2a0c1b9d8e -> 77ab10e4c2d1']
      image: registry/app/django:1.1
      image_id_before: sha256:3f2a...
      image_id_after: sha256:77ab...
    db:
      action: keep
      reasons: []
changed_services:
  description: Services whose action is not V(keep), in the order of the file.
  returned: always
  type: list
  elements: str
  sample: [django, celery]
summary:
  description: The plan, one line per service.
  returned: always
  type: list
  elements: str
  sample: ['django    recreate  image registry/app/django:1.1: 3f2a0c1b9d8e -> 77ab10e4c2d1']
'''

import json
import os
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.prodkit.stack.plugins.module_utils._compose_args import compose_project_argument_spec
from ansible_collections.prodkit.stack.plugins.module_utils._compose_plan import plan
from ansible_collections.prodkit.stack.plugins.module_utils._env_file import EnvFileError, env_values, parse_env


class ComposePlanner:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.docker = module.params['docker_cli']

    def run(self, args, what):
        rc, out, err = self.module.run_command([self.docker] + args, environ_update={'NO_COLOR': '1'})
        if rc != 0:
            self.module.fail_json(msg='Error %s: %s' % (what, (err or out).strip()), rc=rc)
        return out

    def compose_args(self, env_file):
        args = ['compose', '--project-name', self.params['project'], '--project-directory', self.params['project_dir']]
        if os.path.exists(env_file):
            args += ['--env-file', env_file]
        for path in self.params['files']:
            args += ['--file', path]
        return args

    def env_file_with_placeholders(self):
        """The .env to interpolate from: the real one, plus placeholders."""
        env_file = self.params['env_file'] or os.path.join(self.params['project_dir'], '.env')
        present = set()
        text = ''
        if os.path.exists(env_file):
            with open(env_file, encoding='utf-8') as handle:
                text = handle.read()
            # Compose's own reading of the file: a quoted value over several
            # lines holds no keys, a bare KEY (no '=') sets none.
            try:
                present = set(key for key, line in env_values(parse_env(text)).items() if line.value is not None)
            except EnvFileError as exc:
                self.module.fail_json(msg='Error parsing env file %s: %s' % (env_file, exc))
        missing = [k for k in self.params['placeholder_env'] if k not in present]
        if not missing:
            return env_file, None
        handle, path = tempfile.mkstemp(prefix='compose-plan-', suffix='.env')
        with os.fdopen(handle, 'w', encoding='utf-8') as out:
            out.write(text + ('\n' if text and not text.endswith('\n') else ''))
            for key in missing:
                out.write('%s=placeholder-%s\n' % (key, key.lower()))
        return path, path

    def desired(self, env_file):
        args = self.compose_args(env_file)
        hashes = {}
        for line in self.run(args + ['config', '--hash', '*'], 'hashing the services of %s' % ', '.join(
                self.params['files'])).splitlines():
            if line.strip() and len(line.split()) == 2:
                name, digest = line.split()
                hashes[name] = digest.strip()
        # The resolved model carries interpolated secrets: parse, never return.
        model = json.loads(self.run(args + ['config', '--format', 'json'], 'reading the compose file'))
        desired = {}
        ids = {}
        for name, svc in model.get('services', {}).items():
            if svc.get('profiles'):
                # One-off services (static-sync) never run under `up`.
                continue
            ref = svc.get('image')
            if ref not in ids:
                ids[ref] = self.image_id(ref)
            replicas = (svc.get('deploy') or {}).get('replicas')
            desired[name] = {
                'hash': hashes.get(name),
                'image': ref,
                'image_id': ids[ref],
                'replicas': 1 if replicas is None else int(replicas),
            }
        return desired

    def image_id(self, ref):
        rc, out, dummy = self.module.run_command([self.docker, 'image', 'inspect', '--format', '{{.Id}}', ref])
        if rc == 0 and out.strip():
            return out.strip()
        return self.params['expected_images'].get(ref)

    def running(self):
        out = self.run(['ps', '--all', '--quiet', '--no-trunc', '--filter',
                        'label=com.docker.compose.project=%s' % self.params['project']],
                       'listing the containers of project %s' % self.params['project'])
        ids = out.split()
        result = {}
        if not ids:
            return result
        for info in json.loads(self.run(['inspect'] + ids, 'inspecting the containers of %s' % self.params['project'])):
            labels = info.get('Config', {}).get('Labels') or {}
            if labels.get('com.docker.compose.oneoff') == 'True':
                continue
            state = info.get('State') or {}
            result.setdefault(labels.get('com.docker.compose.service'), []).append({
                'name': info.get('Name', '').lstrip('/'),
                'hash': labels.get('com.docker.compose.config-hash'),
                'image_id': info.get('Image'),
                'state': state.get('Status'),
                'health': (state.get('Health') or {}).get('Status'),
            })
        return result


def main():
    module = AnsibleModule(
        argument_spec=compose_project_argument_spec(
            placeholder_env=dict(type='list', elements='str', default=[], no_log=False),
            expected_images=dict(type='dict', default={}),
        ),
        supports_check_mode=True,
    )
    planner = ComposePlanner(module)
    env_file, temporary = planner.env_file_with_placeholders()
    try:
        desired = planner.desired(env_file)
        running = planner.running()
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg='Error planning project %s: %s' % (module.params['project'], exc),
                         exception=traceback.format_exc())
    finally:
        if temporary:
            os.remove(temporary)

    services = plan(desired, running)
    order = list(desired) + [n for n in services if n not in desired]
    width = max(len(n) for n in order) if order else 0
    summary = []
    for name in order:
        entry = services[name]
        want = desired.get(name, {})
        have = running.get(name) or []
        entry['image'] = want.get('image')
        entry['image_id_after'] = want.get('image_id')
        entry['image_id_before'] = have[0]['image_id'] if have else None
        summary.append(('%-*s  %-8s  %s' % (width, name, entry['action'], '; '.join(entry['reasons']))).rstrip())
    changed_services = [n for n in order if services[n]['action'] != 'keep']
    result = dict(changed=bool(changed_services), services=services, changed_services=changed_services,
                  summary=summary)
    if module._diff:
        result['diff'] = {'prepared': 'compose project %s:\n%s\n' % (module.params['project'], '\n'.join(summary))}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
