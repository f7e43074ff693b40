# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""os_updates: APT's plan, security origins as unattended-upgrades reads them, and what waits for a restart."""

from __future__ import annotations

import pytest

from ansible_collections.prodkit.stack.plugins.modules import os_updates

# apt-get --simulate upgrade --with-new-pkgs on Debian 13 (trimmed), with a
# held package and a new dependency.
SIMULATION = """NOTE: This is only a simulation!
      apt-get needs root privileges for real execution.
Reading package lists...
Building dependency tree...
Calculating upgrade...
The following NEW packages will be installed:
  libnew1
The following packages have been kept back:
  docker.io linux-image-amd64
The following packages will be upgraded:
  libzstd1 login.defs passwd tzdata
4 upgraded, 1 newly installed, 0 to remove and 2 not upgraded.
Inst login.defs [1:4.17.4-2] (1:4.17.4-2+deb13u1 Debian-Security:13/stable-security [all])
Conf login.defs (1:4.17.4-2+deb13u1 Debian-Security:13/stable-security [all])
Inst libnew1 (1.0-1 Debian:13.2/stable [amd64])
Inst tzdata [2025b-4] (2025b-4+deb13u1 Debian:13.2/stable, Debian:13-updates/stable-updates [all])
Inst libzstd1 [1.5.7+dfsg-1] (1.5.7+dfsg-1+deb13u1 Debian-Security:13/stable-security [amd64]) []
Remv oldpkg [2.0]
Conf libzstd1 (1.5.7+dfsg-1+deb13u1 Debian-Security:13/stable-security [amd64])
"""

DEBIAN = ['origin=Debian,codename=${distro_codename}-security,label=Debian-Security',
          'origin=Debian,codename=${distro_codename},label=Debian-Security']


def origin(**kw):
    base = {'origin': 'Debian', 'label': 'Debian', 'archive': 'stable', 'codename': 'trixie', 'component': 'main',
            'site': 'deb.debian.org'}
    base.update(kw)
    return base


SECURITY = origin(label='Debian-Security', archive='stable-security', codename='trixie-security')


def test_parse_simulation():
    packages, removals, kept = os_updates.parse_simulation(SIMULATION)
    assert [(p['name'], p['action'], p['installed'], p['version']) for p in packages] == [
        ('login.defs', 'upgrade', '1:4.17.4-2', '1:4.17.4-2+deb13u1'),
        ('libnew1', 'install', None, '1.0-1'),
        ('tzdata', 'upgrade', '2025b-4', '2025b-4+deb13u1'),
        ('libzstd1', 'upgrade', '1.5.7+dfsg-1', '1.5.7+dfsg-1+deb13u1'),
    ]
    assert packages[2]['origins'] == ['Debian:13.2/stable', 'Debian:13-updates/stable-updates']
    assert removals == ['oldpkg']
    assert kept == ['docker.io', 'linux-image-amd64']


@pytest.mark.parametrize('candidate, expected', [
    (SECURITY, True),
    (origin(), False),
    (origin(archive='stable-updates', codename='trixie-updates'), False),
    # A security origin with another codename (the next release's) does not count.
    (origin(label='Debian-Security', archive='testing-security', codename='forky-security'), False),
    # Same label, other origin (a third-party mirror that copies the label) does not count.
    (origin(origin='Evil', label='Debian-Security', archive='stable-security', codename='trixie-security'), False),
])
def test_security_as_unattended_upgrades_reads_it(candidate, expected):
    patterns = [os_updates.parse_pattern(p, 'trixie') for p in DEBIAN]
    assert os_updates.origin_is_security(candidate, patterns) is expected


def test_pattern_keys_wildcards_and_escaped_commas():
    pattern = os_updates.parse_pattern('o=Debian,a=*-security,l=Sec\\,urity', 'trixie')
    assert pattern == {'origin': 'Debian', 'archive': '*-security', 'label': 'Sec,urity'}
    assert os_updates.origin_matches(origin(archive='stable-security', label='Sec,urity'), [pattern])
    with pytest.raises(ValueError):
        os_updates.parse_pattern('flavour=vanilla', 'trixie')


def test_mark_security_any_newer_version_from_a_security_origin():
    packages, dummy, dummy2 = os_updates.parse_simulation(SIMULATION)
    patterns = [os_updates.parse_pattern(p, 'trixie') for p in DEBIAN]
    newer = {'login.defs': [SECURITY], 'libnew1': [origin()], 'libzstd1': [origin(), SECURITY],
             'tzdata': [origin(), origin(archive='stable-updates', codename='trixie-updates')]}
    marked = os_updates.mark_security(packages, newer, patterns)
    assert [p['name'] for p in marked if p['security']] == ['login.defs', 'libzstd1']
    # Without python3-apt: the archives apt-get names.
    packages, dummy, dummy2 = os_updates.parse_simulation(SIMULATION)
    assert [p['name'] for p in os_updates.mark_security(packages, None, patterns) if p['security']] == \
        ['login.defs', 'libzstd1']


@pytest.mark.parametrize('text, unit', [
    ('12:hugetlb:/\n9:name=systemd:/system.slice/cron.service\n0::/system.slice/cron.service\n', 'cron.service'),
    ('0::/system.slice/docker-1.scope/system.slice/nginx.service\n', 'nginx.service'),
    ('0::/user.slice/user-0.slice/session-3.scope\n', None),
    ('9:name=systemd:/docker/22ee\n0::/docker/22ee\n', None),
])
def test_unit_of(text, unit):
    assert os_updates.unit_of(text) == unit


def test_deleted_files_only_programs_and_libraries():
    maps = '\n'.join([
        '7f00-7f01 r-xp 00000000 08:01 123 /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)',
        '7f01-7f02 r--p 00000000 08:01 123 /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)',
        '7f02-7f03 rw-s 00000000 00:05 9 /dev/shm/x (deleted)',
        '7f03-7f04 rw-s 00000000 00:05 9 /memfd:jit (deleted)',
        '7f04-7f05 r-xp 00000000 08:01 55 /usr/lib/x86_64-linux-gnu/libc.so.6',
    ])
    assert os_updates.deleted_files(maps, '/usr/sbin/cron (deleted)') == \
        ['/usr/sbin/cron', '/usr/lib/x86_64-linux-gnu/libssl.so.3']
    assert os_updates.deleted_files(maps.splitlines()[-1], '/usr/sbin/cron') == []


def _proc(tmp_path, pid, maps, exe, cgroup, mnt='mnt:[1]'):
    base = tmp_path / str(pid)
    (base / 'ns').mkdir(parents=True)
    (base / 'ns' / 'mnt').symlink_to(mnt)
    (base / 'exe').symlink_to(exe)
    (base / 'maps').write_text(maps)
    (base / 'cgroup').write_text(cgroup)
    (base / 'comm').write_text('proc%s\n' % pid)
    (base / 'status').write_text('PPid:\t0\n')


def test_restart_needs_reads_the_hosts_processes_only(tmp_path, monkeypatch):
    deleted = '7f-80 r-xp 0 08:01 1 /usr/lib/libssl.so.3 (deleted)\n'
    _proc(tmp_path, 'self', '', '/usr/bin/python3', '')
    _proc(tmp_path, 10, deleted, '/usr/sbin/cron', '0::/system.slice/cron.service\n')
    _proc(tmp_path, 11, deleted, '/usr/bin/bash', '0::/user.slice/session-1.scope\n')
    # A container's process: another mount namespace.
    _proc(tmp_path, 12, deleted, '/usr/bin/x', '0::/system.slice/docker-1.scope\n', mnt='mnt:[2]')
    _proc(tmp_path, 13, '', '/usr/sbin/sshd', '0::/system.slice/ssh.service\n')
    monkeypatch.setattr(os_updates.os, 'getpid', lambda: 999999)
    services, processes = os_updates.restart_needs(str(tmp_path))
    assert services == ['cron.service']
    assert [(p['pid'], p['command'], p['files']) for p in processes] == [(11, 'proc11', ['/usr/lib/libssl.so.3'])]


def test_reboot_state(tmp_path):
    assert os_updates.reboot_state(str(tmp_path)) == (False, [])
    (tmp_path / 'reboot-required').write_text('*** System restart required ***\n')
    (tmp_path / 'reboot-required.pkgs').write_text('linux-image-6.12\nlibc6\nlinux-image-6.12\n')
    assert os_updates.reboot_state(str(tmp_path)) == (True, ['libc6', 'linux-image-6.12'])


def test_upgrade_args_match_the_apt_module():
    # ansible.builtin.apt with force_apt_get: upgrade=yes runs `upgrade --with-new-pkgs`, upgrade=dist `dist-upgrade`.
    assert os_updates.upgrade_args('safe') == ['upgrade', '--with-new-pkgs']
    assert os_updates.upgrade_args('full') == ['dist-upgrade']
