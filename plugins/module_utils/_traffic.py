# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which containers get new connections, for prodkit.stack.compose_rollout
(private to prodkit.stack).

A proxy such as nginx reaches a Compose service by its name, which Docker's
DNS answers with the address of every running container of the service,
healthy or not, and caches that answer for its resolver's ``valid=`` time.
Two things follow, and this file handles both from the Docker host, for any
image and any proxy:

- a new container gets requests as soon as it listens, before it is healthy:
  it is *held* (new connections to it refused) until it is;
- an old container still gets requests until every cached answer that has
  it has expired, and for that long after it stopped: it is *drained*.

Both are one nftables table in the network namespace of every other running
container on the same networks (the proxy among them, entered with
``nsenter``): new TCP connections (a SYN without ACK) to a held or drained
address are refused with a reset, so the proxy passes the request to another
address at once (nginx's ``proxy_next_upstream error``), while connections
already open go on. The addresses are set elements with a timeout, so the
kernel forgets them by itself if the run that put them there dies.

The functions that parse and build text are pure; ``Traffic`` runs the
commands through the module's ``run_command``.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import time

SETS = (('held4', 'ip', 'ipv4_addr'), ('held6', 'ip6', 'ipv6_addr'),
        ('drained4', 'ip', 'ipv4_addr'), ('drained6', 'ip6', 'ipv6_addr'))


def parse_docker_time(text):
    """Docker's RFC 3339 time (nanoseconds, Z or an offset) as a UTC timestamp in seconds."""
    match = re.match(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$', text or '')
    if not match:
        raise ValueError('not a Docker time: %r' % (text,))
    base, fraction, zone = match.groups()
    moment = datetime.datetime.fromisoformat(base + ('+00:00' if zone == 'Z' else zone))
    return moment.timestamp() + float('0.' + (fraction or '0'))


def remaining_dns_wait(started, dns_wait, now):
    """Seconds until every container started at the times in `started` has run for dns_wait."""
    if not started:
        return 0.0
    return max(0.0, max(started) + dns_wait - now)


def addresses(inspected):
    """(IPv4, IPv6) addresses of an inspected container on all its networks."""
    v4, v6 = set(), set()
    for network in ((inspected.get('NetworkSettings') or {}).get('Networks') or {}).values():
        if network.get('IPAddress'):
            v4.add(network['IPAddress'])
        if network.get('GlobalIPv6Address'):
            v6.add(network['GlobalIPv6Address'])
    return sorted(v4), sorted(v6)


def networks(inspected):
    return sorted(((inspected.get('NetworkSettings') or {}).get('Networks') or {}).keys())


def table_script(table):
    """The table: four address sets (held and drained, IPv4 and IPv6) and one rule each."""
    lines = ['table inet %s {' % table]
    for name, family, kind in SETS:
        lines.append('  set %s { type %s; flags timeout; }' % (name, kind))
    lines.append('  chain output {')
    lines.append('    type filter hook output priority -10; policy accept;')
    for name, family, kind in SETS:
        lines.append('    %s daddr @%s tcp flags & (syn | ack) == syn reject with tcp reset' % (family, name))
    lines.append('  }')
    lines.append('}')
    return '\n'.join(lines) + '\n'


def elements_script(verb, table, kind, v4, v6, timeout=None):
    """`add`/`delete element` commands for the held or drained addresses."""
    lines = []
    for suffix, items in (('4', v4), ('6', v6)):
        if not items:
            continue
        if timeout is None:
            elements = ', '.join(items)
        else:
            elements = ', '.join('%s timeout %ds' % (a, timeout) for a in items)
        lines.append('%s element inet %s %s%s { %s }' % (verb, table, kind, suffix, elements))
    return '\n'.join(lines) + ('\n' if lines else '')


def _split_host_port(text):
    host, dummy, port = text.rpartition(':')
    host = host.strip('[]').split('%', 1)[0]
    return host, port


def _is_loopback(host):
    return host.startswith('127.') or host == '::1' or host.startswith('::ffff:127.')


def listening_ports(ss_listen_output):
    """Ports something listens on, loopback-only listeners left out, from `ss -Htln`.

    The local address is the next to last field (ss prints the state first
    for listeners and not when a state filter is given).
    """
    ports = set()
    for line in ss_listen_output.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        host, port = _split_host_port(fields[-2])
        if not _is_loopback(host):
            ports.add(port)
    return ports


def inflight_connections(ss_established_output, ports):
    """Open connections from another address to one of `ports`, from `ss -Htn state established`."""
    count = 0
    for line in ss_established_output.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        local_host, local_port = _split_host_port(fields[-2])
        peer_host = _split_host_port(fields[-1])[0]
        if local_port in ports and not _is_loopback(local_host) and not _is_loopback(peer_host):
            count += 1
    return count


class CommandError(Exception):
    pass


class Traffic(object):
    """One nftables table, in the namespaces of the clients, for one rollout."""

    def __init__(self, run_command, docker='docker', table=None, poll=0.2, sleep=None):
        self._run_command = run_command
        self.docker = docker
        self.table = table or 'prodkit_rollout_%d' % os.getpid()
        self.poll = poll
        self.sleep = sleep or time.sleep
        self.clients = []  # (name, pid) whose namespace has the table

    def run(self, args, data=None, check=True):
        rc, out, err = self._run_command(args, data=data, binary_data=data is not None)
        if check and rc != 0:
            raise CommandError('%s: %s' % (' '.join(args[:3]), (err or out).strip()))
        return rc, out, err

    def inspect(self, refs):
        """`docker inspect` of the containers that still exist among refs."""
        if not refs:
            return []
        rc, out, err = self.run([self.docker, 'inspect', '--type', 'container'] + list(refs), check=False)
        try:
            return json.loads(out or '[]')
        except ValueError:
            raise CommandError('docker inspect: %s' % (err or out).strip())

    def in_netns(self, pid, args, data=None, check=True):
        return self.run(['nsenter', '--net=/proc/%d/ns/net' % pid] + list(args), data=data, check=check)

    def find_clients(self, network_names, exclude_ids):
        """Running containers on any of the networks, but those excluded: (name, pid), sorted."""
        ids = set()
        for network in network_names:
            rc, out, err = self.run([self.docker, 'network', 'inspect', '--format', '{{json .Containers}}', network],
                                    check=False)
            if rc == 0 and out.strip() not in ('', 'null'):
                ids.update(json.loads(out).keys())
        found = []
        for item in self.inspect(sorted(ids)):
            state = item.get('State') or {}
            if item['Id'] in exclude_ids or not state.get('Running') or not state.get('Pid'):
                continue
            found.append((item['Name'].lstrip('/'), state['Pid']))
        return sorted(found)

    def install(self, clients):
        """Put the (empty) table into each client's namespace."""
        script = table_script(self.table)
        for name, pid in clients:
            self.in_netns(pid, ['nft', '-f', '-'], data=script)
            self.clients.append((name, pid))

    def _elements(self, verb, kind, v4, v6, timeout=None, check=True):
        script = elements_script(verb, self.table, kind, v4, v6, timeout)
        if not script:
            return
        for name, pid in self.clients:
            self.in_netns(pid, ['nft', '-f', '-'], data=script, check=check)

    def hold(self, v4, v6, timeout):
        self._elements('add', 'held', v4, v6, timeout)

    def release(self, v4, v6):
        self._elements('delete', 'held', v4, v6)

    def drain(self, v4, v6, timeout):
        self._elements('add', 'drained', v4, v6, timeout)

    def remove(self):
        """Delete the table everywhere it was put (a client that stopped meanwhile has nothing left)."""
        for name, pid in self.clients:
            self.in_netns(pid, ['nft', 'delete', 'table', 'inet', self.table], check=False)
        self.clients = []

    def wait_inflight(self, pid, timeout, clock=None):
        """Wait until no connection from elsewhere is open to a port the container listens on.

        Returns (seconds waited, connections still open when the timeout ran out).
        """
        clock = clock or time.monotonic
        rc, out, err = self.in_netns(pid, ['ss', '-Htln'], check=False)
        ports = listening_ports(out) if rc == 0 else set()
        started = clock()
        left = 0
        while ports:
            rc, out, err = self.in_netns(pid, ['ss', '-Htn', 'state', 'established'], check=False)
            if rc != 0:
                break  # the namespace is gone: the container stopped by itself
            left = inflight_connections(out, ports)
            if left == 0 or clock() - started >= timeout:
                break
            self.sleep(self.poll)
        return round(clock() - started, 2), left
