#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: image_updates
short_description: Tell, for each image a Compose project runs, whether its registry holds a newer image under the same reference
version_added: 0.2.0
author:
  - prodkit.stack maintainers (@prodkit)
description:
  - For each image reference, compares the digest of the image the project's containers run (its C(RepoDigests))
    with the digest the registry holds now for the same reference, asked with a HEAD request to the registry HTTP
    API v2 (what C(docker pull) would fetch). Nothing is pulled, no login is written, no container is touched.
  - The registry is asked with the logins given in O(registry_logins), else with the ones C(docker login) keeps in
    O(docker_config), else anonymously; Basic authentication and Bearer tokens (Docker Hub, GitLab, Harbor, ...) both
    work. A registry Docker treats as insecure (C(insecure-registries), 127.0.0.0/8) is asked over HTTPS without
    certificate checks, then over plain HTTP, as Docker does.
  - Images built on the host or loaded from archives (O(images[].source)) are reported as such and not compared with a
    registry; an image that runs without a digest from its registry (loaded or built here) is V(unknown), never
    V(up_to_date).
extends_documentation_fragment:
  - prodkit.stack.attributes
  - prodkit.stack.attributes.docker_cli
  - prodkit.stack.attributes.read_only
options:
  project:
    description: The Compose project whose running containers tell which image each reference runs.
    type: str
    required: true
  images:
    description: The image references of the project, each with where it comes from.
    type: list
    elements: dict
    required: true
    suboptions:
      image:
        description: The image reference, as in the Compose file.
        type: str
        required: true
      source:
        description:
          - V(pull) from a registry (compared), V(build) built on the host or V(archive) loaded from a C(docker save)
            tarball (reported, not compared).
        type: str
        choices: [pull, build, archive]
        default: pull
  registry_logins:
    description: Logins to ask registries with, as C(prodkit.stack.compose_stack)'s C(compose_stack_registry_logins).
    type: list
    elements: dict
    default: []
    suboptions:
      registry:
        description: Registry host (and port).
        type: str
        required: true
      username:
        description: User name on the registry.
        type: str
        required: true
      password:
        description: Password or access token.
        type: str
        required: true
  docker_config:
    description:
      - Docker's client configuration, read (never written) for the logins C(docker login) stored in its C(auths).
        A credential helper's store is not read.
    type: path
    default: ~/.docker/config.json
  timeout:
    description: Seconds to wait for each answer of a registry.
    type: int
    default: 15
seealso:
  - module: prodkit.stack.compose_plan
  - module: community.docker.docker_image_info
notes:
  - A reference pinned by digest (C(name@sha256:...)) cannot move, and is reported as V(pinned).
'''

EXAMPLES = r'''
- name: Ask the registries whether newer images exist for the running stack
  prodkit.stack.image_updates:
    project: myproject
    images:
      - {image: registry.example.com/app/django:1.4}
      - {image: postgres:17}
      - {image: app/worker:1.4, source: build}
    registry_logins:
      - {registry: registry.example.com, username: deploy, password: "{{ vault_registry_password }}"}
  register: images

- name: Name the images with a newer digest
  ansible.builtin.debug:
    msg: "{{ images.newer }}"
'''

RETURN = r'''
images:
  description: One entry per image reference, in the order given.
  returned: always
  type: list
  elements: dict
  sample:
    - image: registry.example.com/app/django:1.4
      source: pull
      services: [celery, django]
      status: newer
      running_image_ids: ['sha256:3f2a...']
      running_digests: ['sha256:9c1e...']
      registry_digest: sha256:77ab...
      pulled: false
      msg: the registry holds sha256:77ab... under this reference; the containers run sha256:9c1e...
newer:
  description: The references whose registry digest differs from the one their containers run (status V(newer)).
  returned: always
  type: list
  elements: str
summary:
  description: One line per reference.
  returned: always
  type: list
  elements: str
  sample: ['registry.example.com/app/django:1.4  newer  (celery, django): the registry holds sha256:77ab...']
'''

import json
import os
import traceback
from urllib.error import HTTPError, URLError

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

from ansible_collections.prodkit.stack.plugins.module_utils._registry import (
    NotFound, RegistryClient, RegistryError, parse_reference, repo_digests_for)


def classify(image, source, running_ids, repo_digests, local_id, local_digests, registry):
    """The status of one reference (a pure function).

    running_ids: image IDs its containers run; repo_digests: image ID to its
    RepoDigests; local_id / local_digests: the image the reference names on
    the host now; registry: ('ok', digest), ('not_found', msg) or
    ('error', msg), or None when not asked.
    """
    entry = {
        'image': image, 'source': source, 'running_image_ids': sorted(running_ids), 'running_digests': [],
        'registry_digest': None, 'pulled': False, 'status': None, 'msg': '',
    }
    if source in ('build', 'archive'):
        entry['status'] = source
        entry['msg'] = ('built on the host' if source == 'build' else 'loaded from an image archive') + \
            ': not compared with a registry (a new image comes with a new version)'
        return entry
    if parse_reference(image)['digest']:
        entry['status'] = 'pinned'
        entry['msg'] = 'pinned by digest: the image under this reference cannot change'
        return entry
    running_digests = sorted(set(d for image_id in running_ids for d in repo_digests_for(image, repo_digests.get(image_id))))
    entry['running_digests'] = running_digests
    kind, value = registry if registry else ('error', 'not asked')
    if kind == 'not_found':
        entry['status'] = 'not_in_registry'
        entry['msg'] = value
        return entry
    if kind == 'error':
        entry['status'] = 'unknown'
        entry['msg'] = value
        return entry
    entry['registry_digest'] = value
    entry['pulled'] = value in repo_digests_for(image, local_digests)
    if not running_ids:
        entry['status'] = 'not_running'
        entry['msg'] = 'no container of the project runs it'
        return entry
    stale_ids = [i for i in running_ids if value not in repo_digests_for(image, repo_digests.get(i))]
    unknown_ids = [i for i in stale_ids if not repo_digests_for(image, repo_digests.get(i))]
    if not stale_ids:
        entry['status'] = 'up_to_date'
        entry['msg'] = 'the containers run the image the registry holds (%s)' % value
    elif unknown_ids and not (entry['pulled'] and local_id not in running_ids):
        entry['status'] = 'unknown'
        entry['msg'] = ('the image that runs (%s) has no digest from this registry (loaded or built on the host): '
                        'cannot compare it with the registry\'s %s' % (', '.join(short(i) for i in unknown_ids), value))
    else:
        entry['status'] = 'newer'
        entry['msg'] = 'the registry holds %s under this reference; the containers run %s%s' % (
            value, ', '.join(running_digests) or ', '.join(short(i) for i in stale_ids),
            ' (already pulled, not deployed)' if entry['pulled'] else '')
    return entry


def short(image_id):
    return (image_id or '').split(':')[-1][:12]


def summary_line(entry, services):
    return '%s  %s%s: %s' % (entry['image'], entry['status'],
                             ' (%s)' % ', '.join(services) if services else '', entry['msg'])


class ImageUpdates(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.docker = module.params['docker_cli']

    def run(self, args, what, json_out=False):
        rc, out, err = self.module.run_command([self.docker] + args)
        if rc != 0:
            self.module.fail_json(msg='Error %s: %s' % (what, (err or out).strip()), rc=rc)
        return json.loads(out) if json_out else out

    def containers(self):
        """reference -> (services, image IDs) of the project's running containers."""
        ids = self.run(['ps', '--quiet', '--no-trunc', '--filter', 'label=com.docker.compose.project=%s' % self.params['project'],
                        '--filter', 'label=com.docker.compose.oneoff=False'],
                       'listing the containers of project %s' % self.params['project']).split()
        found = {}
        if not ids:
            return found
        for container in self.run(['container', 'inspect'] + ids, 'reading the containers of project %s'
                                  % self.params['project'], json_out=True):
            config = container.get('Config') or {}
            service = (config.get('Labels') or {}).get('com.docker.compose.service', '?')
            services, image_ids = found.setdefault(config.get('Image'), (set(), set()))
            services.add(service)
            image_ids.add(container.get('Image'))
        return found

    def repo_digests(self, refs_or_ids):
        """image reference or ID -> (ID, RepoDigests); absent ones left out."""
        result = {}
        for name in refs_or_ids:
            rc, out, dummy = self.module.run_command([self.docker, 'image', 'inspect', name])
            if rc == 0:
                data = json.loads(out)[0]
                result[name] = (data.get('Id'), data.get('RepoDigests') or [])
        return result

    def insecure(self):
        config = self.run(['info', '--format', '{{json .RegistryConfig}}'], 'reading the Docker daemon\'s registry settings',
                          json_out=True) or {}
        names = [name for name, index in (config.get('IndexConfigs') or {}).items() if not index.get('Secure', True)]
        return config.get('InsecureRegistryCIDRs') or [], names

    def docker_config(self):
        path = self.params['docker_config']
        if not os.path.isfile(path):
            return {}
        try:
            with open(path, encoding='utf-8') as handle:
                return json.load(handle)
        except (OSError, ValueError) as exc:
            self.module.warn('Could not read %s: %s; asking without its logins' % (path, exc))
            return {}

    def fetch(self, method, url, headers, timeout, validate_certs):
        try:
            response = open_url(url, method=method, headers=headers, timeout=timeout, validate_certs=validate_certs,
                                follow_redirects='safe' if method != 'HEAD' else 'all')
            return response.getcode(), dict(response.headers.items()), response.read() if method != 'HEAD' else b''
        except HTTPError as exc:
            return exc.code, dict(exc.headers.items()) if exc.headers else {}, b''
        except (URLError, OSError) as exc:
            raise ConnectionError(str(getattr(exc, 'reason', exc)))

    def report(self):
        images = []
        seen = set()
        for item in self.params['images']:
            if item['image'] not in seen:
                seen.add(item['image'])
                images.append(item)
        running = self.containers()
        cidrs, names = self.insecure()
        client = RegistryClient(self.fetch, logins=self.params['registry_logins'], docker_config=self.docker_config(),
                                insecure_cidrs=cidrs, insecure_names=names, timeout=self.params['timeout'])
        running_ids = set(i for dummy, ids in running.values() for i in ids)
        digests = dict((image_id, found[1]) for image_id, found in self.repo_digests(sorted(running_ids)).items())
        results, lines = [], []
        for item in images:
            ref, source = item['image'], item['source']
            services, ids = running.get(ref, (set(), set()))
            registry = None
            local_id, local_digests = self.repo_digests([ref]).get(ref, (None, []))
            if source == 'pull':
                try:
                    parse_reference(ref)
                except ValueError as exc:
                    self.module.fail_json(msg='Error reading image reference %s: %s' % (ref, exc))
                try:
                    registry = ('ok', client.digest(ref))
                except NotFound as exc:
                    registry = ('not_found', str(exc))
                except RegistryError as exc:
                    registry = ('error', str(exc))
            entry = classify(ref, source, ids, digests, local_id, local_digests, registry)
            entry['services'] = sorted(services)
            results.append(entry)
            lines.append(summary_line(entry, entry['services']))
        return dict(changed=False, images=results, newer=[e['image'] for e in results if e['status'] == 'newer'],
                    summary=lines)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project=dict(type='str', required=True),
            images=dict(type='list', elements='dict', required=True, options=dict(
                image=dict(type='str', required=True),
                source=dict(type='str', choices=['pull', 'build', 'archive'], default='pull'),
            )),
            registry_logins=dict(type='list', elements='dict', default=[], options=dict(
                registry=dict(type='str', required=True),
                username=dict(type='str', required=True),
                password=dict(type='str', required=True, no_log=True),
            )),
            docker_config=dict(type='path', default='~/.docker/config.json'),
            timeout=dict(type='int', default=15),
            docker_cli=dict(type='path', default='docker'),
        ),
        supports_check_mode=True,
    )
    try:
        module.exit_json(**ImageUpdates(module).report())
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg='Error reading the images of project %s: %s' % (module.params['project'], exc),
                         exception=traceback.format_exc())


if __name__ == '__main__':
    main()
