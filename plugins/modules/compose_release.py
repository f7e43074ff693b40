#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: compose_release
short_description: Record, read, activate and retag the releases of a Docker Compose stack
version_added: 0.4.0
author:
  - prodkit.stack maintainers (@prodkit)
description:
  - The one owner of a stack's release history under O(releases_dir). A release is a directory named
    C(<UTC time>-<app version>) that holds the compose file that ran (C(docker-compose.yml)) and C(release.json),
    with its C(id), C(project), C(app_version), C(deployed_at), the C(previous) release, the image ID behind every image
    reference (C(images)), the image reference of every service (C(services)) and the SHA-256 of each configuration
    the release ran with (C(config), for the C(.env) and the nginx configuration, see O(config_files)). C(current) is a
    symbolic link to the release that runs; C(history.log) has one line per deploy and rollback.
  - O(action=record) writes a new release from the running images (their IDs are read with C(docker image inspect)),
    points C(current) at it, logs it and removes the oldest releases beyond O(keep).
  - O(action=current), O(action=previous) and O(action=list) only read.
  - O(action=retag) points each image reference of release O(release) back at the image ID it had, through the
    docker CLI (C(docker tag)), as a rollback needs before C(docker compose up). It fails before it tags anything
    when one of the images is no longer on the host.
  - O(action=activate) points C(current) at release O(release) and logs a rollback line with O(reason).
  - O(action=compare) only reads; it hashes O(config_files) now and compares each with what release O(release) (default
    the current one) recorded, so that a rollback can say exactly which configuration it did not bring back.
extends_documentation_fragment:
  - prodkit.stack.attributes
attributes:
  check_mode:
    support: full
    details: O(action=record), O(action=retag) and O(action=activate) report what they would write or tag, and do not.
  diff_mode:
    support: full
    details: The new C(release.json) and C(current) link for O(action=record), the image ID of each retagged reference
      for O(action=retag), the C(current) link for O(action=activate).
  idempotent:
    support: partial
    details: O(action=retag) changes nothing when every reference already names its image. Every O(action=record) is a new
      release and every O(action=activate) a new line in the history; the reading actions never change anything.
options:
  releases_dir:
    description: The directory of the releases (C(<compose_stack_dir>/releases)).
    type: path
    required: true
  action:
    description:
      - V(current) returns the release C(current) points at; V(previous) the one recorded before it (C(previous) in its
        C(release.json)); V(list) every release, oldest first.
      - V(record) writes a new release; V(retag) and V(activate) act on release O(release).
      - V(compare) compares O(config_files) as they are now with what release O(release) recorded.
    type: str
    choices: [current, previous, list, record, retag, activate, compare]
    default: current
  release:
    description:
      - The ID (directory name) of the release that O(action=retag) and O(action=activate) act on.
      - With O(action=record), the ID of the new release; default C(<UTC time as %Y%m%dT%H%M%SZ>-<app_version>).
    type: str
  project:
    description: The Compose project name recorded in the release. Required with O(action=record).
    type: str
  app_version:
    description: The application version recorded in the release. Required with O(action=record).
    type: str
  services:
    description:
      - The image reference of each service (service name to image), as the compose file names them. Required with
        O(action=record); the ID of each image is read on the host.
    type: dict
  previous:
    description:
      - The release the new one replaces (a rollback returns to it), with O(action=record). Default is the release
        C(current) points at before the record; an empty string for none.
    type: str
  compose_file:
    description: The compose file kept in the new release as C(docker-compose.yml), with O(action=record).
    type: path
  config_files:
    description:
      - The configuration a release runs with, by name (V(.env), V(nginx)) to a file or a directory on the host. With
        O(action=record) the SHA-256 of each is kept in C(config) of the release; with O(action=compare) each is
        compared with it.
      - A directory's hash covers the relative path and the content of every regular file under it, in sorted order;
        a path that does not exist is recorded as V(absent). Only hashes are kept, never the content (the C(.env)
        holds secrets).
    type: dict
    default: {}
  keep:
    description: With O(action=record), how many releases are kept; the oldest beyond this are removed.
    type: int
    default: 10
  reason:
    description: Why release O(release) is activated, in its history line (whitespace collapsed, truncated to 200 characters).
    type: str
    default: on demand
  owner:
    description: Owner of what O(action=record) writes.
    type: str
  group:
    description: Group of what O(action=record) writes.
    type: str
  docker_cli:
    description: The C(docker) command.
    type: path
    default: docker
seealso:
  - module: prodkit.stack.compose_plan
  - module: prodkit.stack.compose_rollout
requirements:
  - The docker CLI on the target, for O(action=record) and O(action=retag).
'''

EXAMPLES = r'''
- name: Read the release that runs now
  prodkit.stack.compose_release:
    releases_dir: /opt/myproject/releases
    action: current
  register: current

- name: Record the release that was just brought up
  prodkit.stack.compose_release:
    releases_dir: /opt/myproject/releases
    action: record
    project: myproject
    app_version: "1.4"
    services:
      django: registry.example.com/myproject/django:1.4
      db: postgres:16
    previous: "{{ current.release.id | default('') }}"
    compose_file: /opt/myproject/docker-compose.yml
    keep: 10

- name: Point the image references back at the previous release's images
  prodkit.stack.compose_release:
    releases_dir: /opt/myproject/releases
    action: retag
    release: "{{ current.release.previous }}"

- name: Make it the current release
  prodkit.stack.compose_release:
    releases_dir: /opt/myproject/releases
    action: activate
    release: "{{ current.release.previous }}"
    reason: the health gate failed
'''

RETURN = r'''
release:
  description:
    - The release acted on or read (C(release.json)); an empty dictionary when there is none (no current release, or
      nothing before it).
  returned: always
  type: dict
  sample:
    id: 20261128T101500Z-1.3
    project: myproject
    app_version: "1.3"
    deployed_at: "2026-11-28T10:15:00.123456"
    previous: 20261121T090000Z-1.2
    images: {"registry.example.com/myproject/django:1.3": "sha256:6f1c..."}
    services: {django: "registry.example.com/myproject/django:1.3"}
    config: {.env: "sha256:0be1...", nginx: "sha256:77ac..."}
current:
  description: The ID of the release C(current) points at before the run; empty when there is none.
  returned: always
  type: str
  sample: 20261128T101500Z-1.3
releases:
  description: Every release, oldest first, with C(current) true for the one that runs.
  returned: when O(action=list)
  type: list
  elements: dict
retagged:
  description: The image references that were (in check mode would be) pointed at another image, with the ID before and after.
  returned: when O(action=retag)
  type: list
  elements: dict
  sample: [{ref: "registry.example.com/myproject/django:1.3", before: "sha256:9a0b...", after: "sha256:6f1c..."}]
config:
  description:
    - For each of O(config_files), the hash recorded by release O(release) (V(null) when the release predates
      configuration hashes), the hash now, and whether they are the same.
  returned: when O(action=compare)
  type: dict
  sample: {.env: {recorded: "sha256:0be1...", now: "sha256:9f00...", same: false}, nginx: {recorded: "sha256:77ac...", now: "sha256:77ac...", same: true}}
differs:
  description: The names among O(config_files) whose hash now is not the one release O(release) recorded, sorted.
  returned: when O(action=compare)
  type: list
  elements: str
unrecorded:
  description: The names among O(config_files) that release O(release) has no hash for (recorded before they were kept).
  returned: when O(action=compare)
  type: list
  elements: str
removed:
  description: The releases that O(action=record) removed, beyond O(keep).
  returned: when O(action=record)
  type: list
  elements: str
'''

import datetime
import fnmatch
import hashlib
import json
import os
import re
import shutil
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

RELEASE_FILE = 'release.json'
CURRENT = 'current'
HISTORY = 'history.log'
# Release directories: <%Y%m%dT%H%M%SZ>-<app version>.
RELEASE_PATTERN = '[0-9]*T*Z-*'
ID_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+-]*$')


class ReleaseError(Exception):
    pass


def release_json(release):
    """The text of release.json, as the role wrote it (Ansible's to_nice_json and a newline)."""
    return json.dumps(release, indent=4, sort_keys=True, separators=(',', ': '), ensure_ascii=False) + '\n'


def truncate_reason(text, length=200, leeway=5, end='...'):
    """Whitespace collapsed, then Jinja's truncate(200): cut at a word, with '...'."""
    text = re.sub(r'\s+', ' ', text or '').strip()
    if len(text) <= length + leeway:
        return text
    return text[:length - len(end)].rsplit(' ', 1)[0] + end


def new_release_id(app_version, now):
    return '%s-%s' % (now.strftime('%Y%m%dT%H%M%SZ'), app_version)


def check_id(release_id, option='release'):
    if not release_id or not ID_RE.match(release_id) or release_id == CURRENT:
        raise ReleaseError('%s must be a release ID (a directory name under the releases directory, such as '
                           '20261128T101500Z-1.3), got %r' % (option, release_id))
    return release_id


def config_hash(path):
    """'sha256:<hex>' of a file, or of a directory tree (each regular file's relative path and content, sorted);
    'absent' when the path does not exist."""
    if not os.path.lexists(path):
        return 'absent'
    digest = hashlib.sha256()
    if os.path.isdir(path):
        files = []
        for root, dirs, names in os.walk(path):
            dirs.sort()
            files.extend(os.path.join(root, name) for name in names)
        for name in sorted(files):
            if os.path.isfile(name) and not os.path.islink(name):
                digest.update(('%s\0' % os.path.relpath(name, path)).encode('utf-8'))
                digest.update(hashlib.sha256(open(name, 'rb').read()).hexdigest().encode('ascii') + b'\n')
    else:
        with open(path, 'rb') as handle:
            for chunk in iter(lambda: handle.read(65536), b''):
                digest.update(chunk)
    return 'sha256:' + digest.hexdigest()


def releases_to_remove(names, keep):
    """The release directories beyond the `keep` newest (names sort by time)."""
    ids = sorted((n for n in names if fnmatch.fnmatchcase(n, RELEASE_PATTERN)), reverse=True)
    return sorted(ids[keep:])


class Releases(object):

    def __init__(self, module, now=None):
        self.module = module
        self.p = module.params
        self.dir = self.p['releases_dir']
        # Naive UTC, as Jinja's now(utc=true) that wrote the history before: no '+00:00'.
        self.now = now or (lambda: datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None))
        self.diff = []

    # --- reading ------------------------------------------------------------
    def current_id(self):
        """The release `current` points at; empty when there is none (or its directory is gone)."""
        link = os.path.join(self.dir, CURRENT)
        if not os.path.islink(link) or not os.path.isdir(link):
            return ''
        return os.path.basename(os.readlink(link).rstrip('/'))

    def read(self, release_id):
        path = os.path.join(self.dir, release_id, RELEASE_FILE)
        try:
            with open(path) as handle:
                return json.load(handle)
        except (IOError, OSError) as exc:
            raise ReleaseError('release %s has no readable %s in %s: %s'
                               % (release_id, RELEASE_FILE, self.dir, to_native(exc)))
        except ValueError as exc:
            raise ReleaseError('%s of release %s is not JSON: %s' % (path, release_id, to_native(exc)))

    def current(self):
        release_id = self.current_id()
        return self.read(release_id) if release_id else {}

    def previous(self):
        current = self.current()
        return self.read(current['previous']) if current.get('previous') else {}

    def list(self):
        if not os.path.isdir(self.dir):
            return []
        current = self.current_id()
        found = []
        for name in sorted(os.listdir(self.dir)):
            if fnmatch.fnmatchcase(name, RELEASE_PATTERN) and os.path.isfile(os.path.join(self.dir, name, RELEASE_FILE)):
                item = dict(self.read(name))
                item['current'] = name == current
                found.append(item)
        return found

    # --- docker -----------------------------------------------------------
    def docker(self, args, check=True):
        rc, out, err = self.module.run_command([self.p['docker_cli']] + args)
        if check and rc != 0:
            raise ReleaseError('docker %s failed (rc %s): %s' % (' '.join(args[:2]), rc, (err or out).strip()))
        return rc, out, err

    def image_ids(self, refs):
        """The ID of each image (reference or ID), or None for one not on the host."""
        ids = {}
        for ref in refs:
            rc, out, err = self.docker(['image', 'inspect', '--format', '{{.Id}}', ref], check=False)
            ids[ref] = out.strip() if rc == 0 and out.strip() else None
        return ids

    # --- writing ----------------------------------------------------------
    def chown(self, path):
        if self.p['owner'] or self.p['group']:
            args = self.module.load_file_common_arguments(dict(owner=self.p['owner'], group=self.p['group']), path=path)
            self.module.set_owner_if_different(path, args['owner'], False)
            self.module.set_group_if_different(path, args['group'], False)

    def point_current(self, release_id):
        link = os.path.join(self.dir, CURRENT)
        before = self.current_id()
        if before != release_id:
            self.diff.append(dict(before_header=link, after_header=link, before='-> %s\n' % (before or '(none)'),
                                  after='-> %s\n' % release_id))
        if not self.module.check_mode:
            tmp = os.path.join(self.dir, '.current.%d' % os.getpid())
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(release_id, tmp)
            os.rename(tmp, link)

    def log(self, line):
        path = os.path.join(self.dir, HISTORY)
        self.diff.append(dict(before_header=path, after_header=path, before='', after=line + '\n'))
        if self.module.check_mode:
            return
        new = not os.path.exists(path)
        with open(path, 'a') as handle:
            handle.write(line + '\n')
        if new:
            os.chmod(path, 0o640)
            self.chown(path)

    def record(self):
        p = self.p
        for name in ('project', 'app_version', 'services'):
            if p[name] in (None, '', {}):
                raise ReleaseError('%s is required with action=record' % name)
        now = self.now()
        release_id = check_id(p['release'] or new_release_id(p['app_version'], now))
        previous = self.current_id() if p['previous'] is None else p['previous']
        refs = sorted(set(str(ref) for ref in p['services'].values()))
        ids = self.image_ids(refs)
        missing = [ref for ref in refs if not ids[ref]]
        if missing:
            raise ReleaseError('the images %s of release %s are not on the host' % (', '.join(missing), release_id))
        release = dict(id=release_id, project=p['project'], app_version=p['app_version'], deployed_at=now.isoformat(),
                       previous=previous, images=ids, services=dict((k, str(v)) for k, v in p['services'].items()))
        if p['config_files']:
            release['config'] = dict((name, config_hash(path)) for name, path in p['config_files'].items())
        target = os.path.join(self.dir, release_id)
        if os.path.lexists(target):
            raise ReleaseError('release %s already exists in %s' % (release_id, self.dir))
        self.diff.append(dict(before_header=os.path.join(target, RELEASE_FILE),
                              after_header=os.path.join(target, RELEASE_FILE), before='', after=release_json(release)))
        if not self.module.check_mode:
            os.makedirs(target, 0o750)
            os.chmod(target, 0o750)
            self.chown(target)
            if p['compose_file']:
                kept = os.path.join(target, 'docker-compose.yml')
                shutil.copyfile(p['compose_file'], kept)
                os.chmod(kept, 0o640)
                self.chown(kept)
            path = os.path.join(target, RELEASE_FILE)
            with open(path, 'w') as handle:
                handle.write(release_json(release))
            os.chmod(path, 0o640)
            self.chown(path)
        self.point_current(release_id)
        self.log('%s deploy %s' % (release['deployed_at'], release_id))
        names = os.listdir(self.dir) if os.path.isdir(self.dir) else []
        removed = releases_to_remove(names + ([release_id] if self.module.check_mode else []), p['keep'])
        if not self.module.check_mode:
            for name in removed:
                shutil.rmtree(os.path.join(self.dir, name))
        return dict(changed=True, release=release, removed=removed)

    def retag(self):
        release_id = check_id(self.p['release'])
        release = self.read(release_id)
        images = release.get('images') or {}
        wanted = sorted(set(images.values()))
        present = self.image_ids(wanted)
        gone = [image for image in wanted if not present[image]]
        if gone:
            raise ReleaseError('the images %s of release %s are no longer on the host (pruned?); deploy that version '
                               'again instead, which pulls, builds or loads its images' % (', '.join(gone), release_id))
        now = self.image_ids(sorted(images))
        retagged = []
        for ref in sorted(images):
            if now[ref] != images[ref]:
                retagged.append(dict(ref=ref, before=now[ref] or '', after=images[ref]))
        if retagged:
            self.diff.append(dict(before_header='image references', after_header='image references of release %s' % release_id,
                                  before=''.join('%s %s\n' % (r['ref'], r['before'] or '(missing)') for r in retagged),
                                  after=''.join('%s %s\n' % (r['ref'], r['after']) for r in retagged)))
        if not self.module.check_mode:
            for item in retagged:
                self.docker(['tag', item['after'], item['ref']])
        return dict(changed=bool(retagged), release=release, retagged=retagged)

    def activate(self):
        release_id = check_id(self.p['release'])
        release = self.read(release_id)
        self.point_current(release_id)
        self.log('%s rollback %s (%s)' % (self.now().isoformat(), release_id, truncate_reason(self.p['reason'])))
        return dict(changed=True, release=release)

    def compare(self):
        release_id = check_id(self.p['release']) if self.p['release'] else self.current_id()
        if not release_id:
            raise ReleaseError('there is no current release to compare with, and no release was given')
        release = self.read(release_id)
        recorded = release.get('config') or {}
        config = {}
        for name, path in sorted(self.p['config_files'].items()):
            now = config_hash(path)
            config[name] = dict(recorded=recorded.get(name), now=now, same=recorded.get(name) == now)
        return dict(release=release, config=config,
                    differs=sorted(n for n, c in config.items() if c['recorded'] is not None and not c['same']),
                    unrecorded=sorted(n for n, c in config.items() if c['recorded'] is None))

    def run(self):
        action = self.p['action']
        result = dict(changed=False, current=self.current_id())
        if action == 'current':
            result['release'] = self.current()
        elif action == 'previous':
            result['release'] = self.previous()
        elif action == 'compare':
            result.update(self.compare())
        elif action == 'list':
            result['releases'] = self.list()
            result['release'] = self.current()
        else:
            if action in ('retag', 'activate') and not self.p['release']:
                raise ReleaseError('release is required with action=%s: the ID of the release to %s' % (action, action))
            result.update(getattr(self, action)())
        if self.module._diff and self.diff:
            result['diff'] = self.diff
        return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            releases_dir=dict(type='path', required=True),
            action=dict(type='str', default='current',
                        choices=['current', 'previous', 'list', 'record', 'retag', 'activate', 'compare']),
            release=dict(type='str'),
            project=dict(type='str'),
            app_version=dict(type='str'),
            services=dict(type='dict'),
            previous=dict(type='str'),
            compose_file=dict(type='path'),
            config_files=dict(type='dict', default={}),
            keep=dict(type='int', default=10),
            reason=dict(type='str', default='on demand'),
            owner=dict(type='str'),
            group=dict(type='str'),
            docker_cli=dict(type='path', default='docker'),
        ),
        required_if=[
            ('action', 'record', ('project', 'app_version', 'services')),
            ('action', 'retag', ('release',)),
            ('action', 'activate', ('release',)),
        ],
        supports_check_mode=True,
    )
    if module.params['keep'] < 1:
        module.fail_json(msg='keep must be 1 or more (the release just recorded is kept), got %d' % module.params['keep'])
    action = module.params['action']
    try:
        result = Releases(module).run()
    except ReleaseError as exc:
        module.fail_json(msg='Error %s release in %s: %s' % (VERBS[action], module.params['releases_dir'], exc))
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg='Error %s release in %s: %s' % (VERBS[action], module.params['releases_dir'], to_native(exc)),
                         exception=traceback.format_exc())
    module.exit_json(**result)


VERBS = dict(current='reading the current', previous='reading the previous', list='listing the', record='recording a',
             retag='retagging the', activate='activating the', compare='comparing the configuration with the')


if __name__ == '__main__':
    main()
