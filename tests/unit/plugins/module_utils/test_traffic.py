# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_traffic's pure parts: Docker times, the DNS wait, the nftables scripts and
what ss prints (taken from a real container of the test bed)."""

from __future__ import annotations

import textwrap

import pytest

from ansible_collections.prodkit.stack.plugins.module_utils import _traffic as traffic


@pytest.mark.parametrize('text, expected', [
    ('2026-12-04T16:52:46.123456789Z', 1796403166.123456789),
    ('2026-12-04T16:52:46Z', 1796403166.0),
    ('2026-12-04T17:52:46.5+01:00', 1796403166.5),
])
def test_parse_docker_time(text, expected):
    assert traffic.parse_docker_time(text) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize('text', ['yesterday', '', None, '2026-12-04 16:52:46'])
def test_parse_docker_time_refuses_anything_else(text):
    with pytest.raises(ValueError):
        traffic.parse_docker_time(text)


@pytest.mark.parametrize('started, now, expected', [
    ([], 100.0, 0.0),                 # nothing takes over: no wait
    ([100.0], 100.0, 6.0),            # just started: the whole cache time
    ([90.0, 98.0], 100.0, 4.0),       # the youngest container counts
    ([80.0], 100.0, 0.0),             # running long enough already
])
def test_remaining_dns_wait(started, now, expected):
    assert traffic.remaining_dns_wait(started, 6.0, now) == pytest.approx(expected)


def test_addresses_and_networks_of_a_container():
    inspected = {'NetworkSettings': {'Networks': {
        'p_frontend': {'IPAddress': '172.20.0.4', 'GlobalIPv6Address': 'fd00::4'},
        'p_backend': {'IPAddress': '172.21.0.4', 'GlobalIPv6Address': ''},
        'none': {'IPAddress': '', 'GlobalIPv6Address': ''},
    }}}
    assert traffic.addresses(inspected) == (['172.20.0.4', '172.21.0.4'], ['fd00::4'])
    assert traffic.networks(inspected) == ['none', 'p_backend', 'p_frontend']
    assert traffic.addresses({'NetworkSettings': None}) == ([], [])


def test_table_refuses_only_first_packets_to_held_and_drained_addresses():
    script = traffic.table_script('prodkit_rollout_7')
    assert script.startswith('table inet prodkit_rollout_7 {')
    for name, kind in (('held4', 'ipv4_addr'), ('held6', 'ipv6_addr'), ('drained4', 'ipv4_addr'),
                       ('drained6', 'ipv6_addr')):
        assert '  set %s { type %s; flags timeout; }' % (name, kind) in script
    assert 'type filter hook output priority -10; policy accept;' in script
    assert '    ip daddr @held4 tcp flags & (syn | ack) == syn reject with tcp reset' in script
    assert '    ip6 daddr @drained6 tcp flags & (syn | ack) == syn reject with tcp reset' in script


def test_elements_scripts():
    assert traffic.elements_script('add', 't', 'held', ['172.20.0.5', '172.21.0.5'], [], 120) == (
        'add element inet t held4 { 172.20.0.5 timeout 120s, 172.21.0.5 timeout 120s }\n')
    assert traffic.elements_script('delete', 't', 'held', ['172.20.0.5'], ['fd00::5']) == (
        'delete element inet t held4 { 172.20.0.5 }\ndelete element inet t held6 { fd00::5 }\n')
    assert traffic.elements_script('add', 't', 'drained', [], [], 60) == ''


# Printed by `ss -Htln` and `ss -Htn state established` in a django container
# of the test bed (the listener line carries the state first, the other not).
SS_LISTEN = textwrap.dedent('''\
    LISTEN 0      4096   127.0.0.11:43497 0.0.0.0:*
    LISTEN 0      2048      0.0.0.0:8000  0.0.0.0:*
    LISTEN 0      511          [::]:3001     [::]:*
    LISTEN 0      128     127.0.0.1:9999  0.0.0.0:*
    ''')

SS_ESTABLISHED = textwrap.dedent('''\
    0      0      172.20.1.13:45404 172.20.1.2:6379
    0      0       172.20.0.4:8000  172.20.0.9:51234
    0      0       172.20.0.4:8000  172.20.0.9:51236
    0      0        127.0.0.1:8000   127.0.0.1:40000
    0      0   [::ffff:172.20.0.4]:3001 [::ffff:172.20.0.9]:40404
    ''')


def test_listening_ports_leave_out_loopback_listeners():
    # Docker's DNS listener (127.0.0.11) and a loopback-only one are not served ports.
    assert traffic.listening_ports(SS_LISTEN) == {'8000', '3001'}


def test_inflight_counts_connections_from_others_to_served_ports():
    # Two to 8000 and one to 3001 from the proxy count; the container's own
    # connection to Redis and a healthcheck over loopback do not.
    assert traffic.inflight_connections(SS_ESTABLISHED, {'8000', '3001'}) == 3
    assert traffic.inflight_connections(SS_ESTABLISHED, {'5555'}) == 0
    assert traffic.inflight_connections('', {'8000'}) == 0
