#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: compose_rollout
short_description: Replace the containers of a Compose service start-first, without dropping a request
version_added: 0.3.0
author:
  - prodkit.stack maintainers (@prodkit)
description:
  - Replaces the running containers of one service of a Compose project by new ones made from the project's
    file (a new release, or the same one for a restart), the way docker-rollout does, so that a proxy in front of
    the service (nginx resolving the service name through Docker's DNS) never sends a request to a container that
    cannot answer it.
  - "1. Starts O(replicas) new containers next to the old ones (C(docker compose up --no-recreate --scale); the
    services it depends on are started if they are not running, never recreated). Until they are healthy they
    are I(held): every other container on their networks, the proxy among them, has new connections to them
    refused, so a container that listens before it works gets no request."
  - 2. Waits until each new container is healthy (or running, without a healthcheck), at most O(wait_timeout)
    seconds. A container that exits (even if its restart policy starts it again) or turns unhealthy fails the
    rollout at once. On failure the new containers
    are removed, with their state and last log lines in the error, and the old ones never stopped serving.
  - 3. Waits until the new containers have been running for O(dns_wait) seconds (every DNS answer cached without
    them has expired), releases them, and I(drains) the old ones; new connections to those are refused from
    then on, so the proxy passes each request to a new container at once (C(proxy_next_upstream error)).
  - 4. Waits until the connections in flight to the old containers have finished (at most O(drain_timeout)
    seconds), stops them (SIGTERM and their stop grace period, or O(stop_timeout)) and removes them. The refusal
    stays O(dns_wait) seconds more, for answers cached just before they left the DNS, then goes.
  - The refusals are an nftables table in each client container's network namespace (entered with C(nsenter));
    nothing is installed in the containers and nothing is asked of the application. Their addresses are set
    elements with a timeout, so the kernel forgets them even if the run dies half-way.
extends_documentation_fragment:
  - prodkit.stack.compose_project
  - prodkit.stack.attributes
attributes:
  check_mode:
    support: full
    details: Reports the containers that would be replaced and changes nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every run replaces the containers; that is what it is for (a restart is a rollout of the same release).
options:
  service:
    description: The service whose containers are replaced.
    type: str
    required: true
  replicas:
    description: How many new containers to start.
    type: int
    default: 1
  wait_timeout:
    description: Seconds the new containers have to become healthy.
    type: int
    default: 300
  dns_wait:
    description:
      - Seconds a client may keep a DNS answer, longer than the proxy's resolver cache (nginx's
        C(resolver ... valid=)).
    type: float
    default: 6
  drain_timeout:
    description: Seconds to wait at most for the requests in flight to the old containers to finish.
    type: float
    default: 30
  stop_timeout:
    description: Seconds between SIGTERM and SIGKILL for the old containers. Default is their own stop grace period.
    type: int
  log_lines:
    description: Log lines of each failed new container to put in the error.
    type: int
    default: 40
requirements:
  - Docker with the Compose v2 plugin, C(nsenter) (util-linux), C(nft) (nftables) and C(ss) (iproute2) on the
    target, and root.
seealso:
  - module: prodkit.stack.compose_plan
  - module: prodkit.stack.health_check
  - name: docker-rollout
    description: Zero-downtime deployment for Docker Compose services (the start-first method this follows).
    link: https://github.com/wowu/docker-rollout
'''

EXAMPLES = r'''
- name: Replace django start-first
  prodkit.stack.compose_rollout:
    project: myproject
    project_dir: /opt/myproject
    files: [/opt/myproject/docker-compose.yml]
    env_file: /opt/myproject/.env
    service: django
'''

RETURN = r'''
old:
  description: The containers replaced (stopped and removed).
  returned: always
  type: list
  elements: str
  sample: [myproject-django-1]
new:
  description: The containers that serve now.
  returned: always
  type: list
  elements: str
  sample: [myproject-django-2]
clients:
  description: The containers whose network namespace held the new and drained the old containers.
  returned: success
  type: list
  elements: str
  sample: [myproject-nginx-1, myproject-celery-1]
healthy_after:
  description: Seconds from the start of the new containers until they were all healthy.
  returned: success
  type: float
dns_waited:
  description: Seconds waited after that for the new addresses to reach every DNS cache.
  returned: success
  type: float
drained:
  description: For each old container, the seconds its requests in flight took and how many were left at its stop.
  returned: success
  type: list
  elements: dict
  sample: [{name: myproject-django-1, inflight_seconds: 0.2, inflight_left: 0}]
failed_containers:
  description: State and last log lines of the new containers that did not become healthy (they are removed).
  returned: failure
  type: str
'''

import time
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.prodkit.stack.plugins.module_utils._compose_args import compose_project_argument_spec
from ansible_collections.prodkit.stack.plugins.module_utils._traffic import (
    CommandError, Traffic, addresses, networks, parse_docker_time, remaining_dns_wait)

HEALTH_POLL = 0.5


def health_verdict(inspected):
    """'healthy', 'waiting' or the reason it failed, for one container."""
    state = inspected.get('State') or {}
    status = state.get('Status')
    if status in ('exited', 'dead'):
        return 'exited with code %s' % state.get('ExitCode')
    # A restart policy starts it again; it crashed all the same.
    if state.get('Restarting') or inspected.get('RestartCount'):
        return 'exited with code %s and was restarted' % state.get('ExitCode')
    health = (state.get('Health') or {}).get('Status')
    if health == 'unhealthy':
        return 'unhealthy'
    if health == 'healthy' or (health is None and status == 'running'):
        return 'healthy'
    return 'waiting'


def describe(inspected):
    state = inspected.get('State') or {}
    health = state.get('Health') or {}
    last = (health.get('Log') or [{}])[-1]
    line = '%s state=%s' % (inspected['Name'].lstrip('/'), state.get('Status'))
    if health:
        line += ' health=%s' % health.get('Status')
        if last.get('Output'):
            line += ' (last check: %s)' % ' '.join(last['Output'].split())[:200]
    return line


class Rollout(object):

    def __init__(self, module, sleep=None, clock=None):
        self.module = module
        self.p = module.params
        self.sleep = sleep or time.sleep
        self.clock = clock or time.monotonic
        self.traffic = Traffic(module.run_command, docker=self.p['docker_cli'], sleep=self.sleep)

    def compose(self):
        cmd = [self.p['docker_cli'], 'compose', '--project-name', self.p['project'],
               '--project-directory', self.p['project_dir']]
        if self.p['env_file']:
            cmd += ['--env-file', self.p['env_file']]
        for path in self.p['files']:
            cmd += ['--file', path]
        return cmd

    def containers(self):
        rc, out, err = self.traffic.run([
            self.p['docker_cli'], 'ps', '--all', '--quiet', '--no-trunc',
            '--filter', 'label=com.docker.compose.project=%s' % self.p['project'],
            '--filter', 'label=com.docker.compose.service=%s' % self.p['service'],
            '--filter', 'label=com.docker.compose.oneoff=False'])
        return [line for line in out.split() if line]

    def wait_healthy(self, ids):
        started = self.clock()
        while True:
            found = self.traffic.inspect(ids)
            verdicts = dict((item['Id'], health_verdict(item)) for item in found)
            missing = [i for i in ids if i not in verdicts]
            failed = [v for v in verdicts.values() if v not in ('healthy', 'waiting')]
            if missing or failed:
                return False, found, 'a new container %s' % (failed[0] if failed else 'disappeared')
            if all(v == 'healthy' for v in verdicts.values()):
                return True, found, round(self.clock() - started, 2)
            if self.clock() - started >= self.p['wait_timeout']:
                return False, found, 'the new containers were not healthy after %d s (wait_timeout)' % self.p['wait_timeout']
            self.sleep(HEALTH_POLL)

    def failure_report(self, found):
        lines = []
        for item in found:
            lines.append(describe(item))
            rc, out, err = self.traffic.run([self.p['docker_cli'], 'logs', '--tail', str(self.p['log_lines']), item['Id']],
                                            check=False)
            lines += ['    ' + line for line in (out + err).splitlines()]
        return '\n'.join(lines)

    def run(self):
        p = self.p
        result = dict(changed=False, old=[], new=[])
        old_ids = self.containers()
        old = self.traffic.inspect(old_ids)
        result['old'] = [item['Name'].lstrip('/') for item in old]
        result['changed'] = True
        if self.module.check_mode:
            return result

        scale = '%s=%d' % (p['service'], len(old_ids) + p['replicas'])
        # Not --no-deps: Compose 2.2x leaves depends_on out of the configuration
        # hash of containers made with it, and the next `up` recreates them.
        self.traffic.run(self.compose() + ['up', '--detach', '--no-recreate', '--scale', scale, p['service']])
        new_ids = [i for i in self.containers() if i not in old_ids]
        if not new_ids:
            raise CommandError('docker compose up --scale %s started no new container' % scale)
        new = self.traffic.inspect(new_ids)
        result['new'] = [item['Name'].lstrip('/') for item in new]

        running_old = [item for item in old if (item.get('State') or {}).get('Running')]
        new4, new6 = set(), set()
        nets = set()
        for item in new + running_old:
            nets.update(networks(item))
        for item in new:
            a4, a6 = addresses(item)
            new4.update(a4)
            new6.update(a6)
        clients = self.traffic.find_clients(sorted(nets), set(old_ids) | set(new_ids))
        result['clients'] = [name for name, pid in clients]
        grace = max([p['stop_timeout'] or (item.get('Config') or {}).get('StopTimeout') or 10 for item in old] or [10])
        expiry = int(p['wait_timeout'] + p['drain_timeout'] + grace + 2 * p['dns_wait'] + 60)

        try:
            # Hold the new containers until they are healthy.
            self.traffic.install(clients)
            self.traffic.hold(sorted(new4), sorted(new6), expiry)
            ok, found, detail = self.wait_healthy(new_ids)
            if not ok:
                report = self.failure_report(found)
                self.traffic.run([p['docker_cli'], 'rm', '--force'] + new_ids, check=False)
                self.traffic.remove()
                self.module.fail_json(
                    msg='The new containers of %s did not become healthy: %s. They were removed; the old ones (%s) '
                        'kept serving.' % (p['service'], detail, ', '.join(result['old']) or 'none'),
                    failed_containers=report, **result)
            result['healthy_after'] = detail
            wait = remaining_dns_wait([parse_docker_time(item['State']['StartedAt']) for item in found],
                                      p['dns_wait'], time.time())
            if running_old and wait > 0:
                self.sleep(wait)
            result['dns_waited'] = round(wait if running_old else 0.0, 2)

            # Cut over: the new ones take connections, the old ones take none.
            self.traffic.release(sorted(new4), sorted(new6))
            old4, old6 = set(), set()
            for item in running_old:
                a4, a6 = addresses(item)
                old4.update(a4)
                old6.update(a6)
            self.traffic.drain(sorted(old4), sorted(old6), expiry)
            result['drained'] = []
            for item in running_old:
                seconds, left = self.traffic.wait_inflight(item['State']['Pid'], p['drain_timeout'], clock=self.clock)
                result['drained'].append(dict(name=item['Name'].lstrip('/'), inflight_seconds=seconds,
                                              inflight_left=left))
        except Exception:
            self.traffic.remove()  # the old containers go on serving, as before the run
            raise

        stop = [p['docker_cli'], 'stop'] + (['--time', str(p['stop_timeout'])] if p['stop_timeout'] is not None else [])
        try:
            if running_old:
                self.traffic.run(stop + [item['Id'] for item in running_old])
            if old_ids:
                self.traffic.run([p['docker_cli'], 'rm', '--force'] + old_ids)
            if running_old:
                self.sleep(p['dns_wait'])
        finally:
            self.traffic.remove()
        return result


def main():
    module = AnsibleModule(
        argument_spec=compose_project_argument_spec(
            service=dict(type='str', required=True),
            replicas=dict(type='int', default=1),
            wait_timeout=dict(type='int', default=300),
            dns_wait=dict(type='float', default=6),
            drain_timeout=dict(type='float', default=30),
            stop_timeout=dict(type='int'),
            log_lines=dict(type='int', default=40),
        ),
        supports_check_mode=True,
    )
    for name, least in (('replicas', 1), ('wait_timeout', 1), ('dns_wait', 0), ('drain_timeout', 0), ('log_lines', 0)):
        if module.params[name] < least:
            module.fail_json(msg='%s must be %s or more, got %s' % (name, least, module.params[name]))
    try:
        result = Rollout(module).run()
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg='Error rolling out service %s: %s' % (module.params['service'], exc),
                         exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == '__main__':
    main()
