#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: os_updates
short_description: Report the pending APT updates of a Debian host, security ones marked, and what needs a restart or a reboot
version_added: 0.2.0
author:
  - prodkit.stack maintainers (@prodkit)
description:
  - Asks APT what an upgrade would do now (C(apt-get --simulate), the same command line the upgrade itself runs, from
    the package lists as they are) and returns each package it would upgrade, install or remove, with the installed and
    the new version and the archives the new version comes from.
  - Marks as security updates the packages with a newer version from an origin that matches one of
    O(security_origins), written as unattended-upgrades' C(Origins-Pattern) (C(origin=Debian,codename=${distro_codename}-security,label=Debian-Security)),
    so that "security" means what unattended-upgrades installs by itself.
  - Reports what an upgrade already made (whatever did it) waits for, the way needrestart and checkrestart find it
    (processes of the host that still map a program or library deleted or replaced since they started, grouped by
    systemd service) and whether a reboot is required (C(/run/reboot-required), written by the packages that need
    one, and its C(.pkgs) list).
  - Only reads; it never refreshes the package lists, installs, restarts or reboots.
extends_documentation_fragment:
  - prodkit.stack.attributes
  - prodkit.stack.attributes.read_only
options:
  upgrade:
    description:
      - The upgrade to plan. V(safe) is C(apt-get upgrade --with-new-pkgs) (new dependencies are installed, no package
        is removed, the ones that would need a removal are kept back); V(full) is C(apt-get dist-upgrade).
    type: str
    choices: [safe, full]
    default: safe
  security_origins:
    description:
      - unattended-upgrades C(Origins-Pattern) entries that make an update a security update (keys C(origin) / C(o),
        C(label) / C(l), C(archive) / C(a), C(codename) / C(n), C(component) / C(c), C(site); shell wildcards in
        values; C(${distro_codename}) replaced).
      - Empty, an update counts as a security update when its archive or codename ends in C(-security).
    type: list
    elements: str
    default: []
  restart_check:
    description: Look for processes that run replaced programs or libraries, and for a required reboot.
    type: bool
    default: true
requirements:
  - APT (C(apt-get)); python3-apt for the origins of each version (without it, the archives C(apt-get) names are used).
seealso:
  - module: ansible.builtin.apt
notes:
  - Refresh the package lists first (M(ansible.builtin.apt) with C(update_cache)) for an up-to-date answer.
'''

EXAMPLES = r'''
- name: Refresh the package lists (unattended-upgrades does it daily)
  ansible.builtin.apt:
    update_cache: true
    cache_valid_time: 3600
  changed_when: false

- name: Report the pending updates
  prodkit.stack.os_updates:
    upgrade: safe
    security_origins:
      - origin=Debian,codename=${distro_codename}-security,label=Debian-Security
  register: pending

- name: Name the security updates
  ansible.builtin.debug:
    msg: "{{ pending.packages | selectattr('security') | map(attribute='name') | list }}"
'''

RETURN = r'''
packages:
  description: What the upgrade would do, one entry per package, in APT's order.
  returned: always
  type: list
  elements: dict
  sample:
    - name: libssl3t64
      action: upgrade
      installed: 3.5.1-1
      version: 3.5.1-1+deb13u1
      security: true
      origins: ['Debian-Security:13/stable-security']
pending:
  description: Number of packages the upgrade would upgrade or install.
  returned: always
  type: int
security:
  description: The names of the packages with a security update.
  returned: always
  type: list
  elements: str
removals:
  description: Packages the upgrade would remove (only with O(upgrade=full)).
  returned: always
  type: list
  elements: str
kept_back:
  description: Upgradable packages the upgrade keeps back (held, or needing a removal under O(upgrade=safe)).
  returned: always
  type: list
  elements: str
reboot_required:
  description: Whether a package asked for a reboot (C(/run/reboot-required)).
  returned: always
  type: bool
reboot_required_packages:
  description: The packages that asked for it (C(/run/reboot-required.pkgs)).
  returned: always
  type: list
  elements: str
restart_services:
  description: systemd services with a process that runs a replaced program or library.
  returned: always
  type: list
  elements: str
restart_processes:
  description: Such processes outside any service (a login session, PID 1), with up to three of their replaced files.
  returned: always
  type: list
  elements: dict
summary:
  description: The report in a few lines.
  returned: always
  type: list
  elements: str
'''

import fnmatch
import os
import re
import traceback

from ansible.module_utils.basic import AnsibleModule

# Inst name [installed] (version Label:Version/Archive, Label:Version/Archive [arch]) [extra]
_INST = re.compile(r'^Inst (\S+)(?: \[([^\]]+)\])? \((\S+)((?: [^\[\]]*?)?) \[[^\]]+\]\)')
_REMV = re.compile(r'^Remv (\S+)(?: \[([^\]]+)\])?')
_PATTERN_KEYS = {'o': 'origin', 'origin': 'origin', 'l': 'label', 'label': 'label', 'a': 'archive', 'suite': 'archive',
                 'archive': 'archive', 'n': 'codename', 'codename': 'codename', 'c': 'component', 'component': 'component',
                 'site': 'site'}
# Files whose replacement matters to a running program (needrestart's view):
# programs and libraries, not caches, sockets or temporary files.
_MAPPED_PREFIXES = ('/usr/', '/lib/', '/lib64/', '/lib32/', '/bin/', '/sbin/', '/opt/', '/etc/')


def upgrade_args(upgrade):
    return ['upgrade', '--with-new-pkgs'] if upgrade == 'safe' else ['dist-upgrade']


def parse_simulation(text):
    """apt-get --simulate output -> (packages, removals, kept back)."""
    packages, removals, kept = [], [], []
    in_kept = False
    for line in text.splitlines():
        if line.startswith('The following packages have been kept back'):
            in_kept = True
            continue
        if in_kept:
            if line.startswith('  '):
                kept.extend(line.split())
                continue
            in_kept = False
        match = _INST.match(line)
        if match:
            name, installed, version, origins = match.groups()
            packages.append({
                'name': name, 'installed': installed, 'version': version,
                'action': 'upgrade' if installed else 'install',
                'origins': [o.strip() for o in origins.split(',') if o.strip()],
            })
            continue
        match = _REMV.match(line)
        if match:
            removals.append(match.group(1))
    return packages, removals, kept


def parse_pattern(pattern, codename):
    """An Origins-Pattern entry -> {attribute: glob}; commas escaped as \\, stay."""
    pattern = pattern.replace('${distro_codename}', codename or '')
    parts = re.split(r'(?<!\\),', pattern)
    result = {}
    for part in parts:
        if not part.strip():
            continue
        key, sep, value = part.partition('=')
        if not sep or key.strip() not in _PATTERN_KEYS:
            raise ValueError('unknown key in origin pattern %r: %r' % (pattern, key))
        result[_PATTERN_KEYS[key.strip()]] = value.replace('\\,', ',')
    return result


def origin_matches(origin, patterns):
    """Whether an origin (dict of origin, label, archive, codename, component, site) matches any pattern."""
    for pattern in patterns:
        if pattern and all(fnmatch.fnmatchcase(origin.get(key) or '', glob) for key, glob in pattern.items()):
            return True
    return False


def origin_is_security(origin, patterns):
    if patterns:
        return origin_matches(origin, patterns)
    return any((origin.get(key) or '').endswith('-security') for key in ('archive', 'codename'))


def label_is_security(origin_text):
    """Without python3-apt: 'Debian-Security:13/stable-security' names its archive after the slash."""
    return origin_text.split('/')[-1].endswith('-security')


def mark_security(packages, newer_origins, patterns):
    """Set each package's ``security``: a version newer than the installed one, up to the new one, comes from a
    security origin. newer_origins: name -> list of origin dicts (None: python3-apt was not there)."""
    for package in packages:
        origins = newer_origins.get(package['name']) if newer_origins is not None else None
        if origins is None:
            package['security'] = any(label_is_security(o) for o in package['origins'])
        else:
            package['security'] = any(origin_is_security(o, patterns) for o in origins)
    return packages


def apt_newer_origins(names):
    """name -> origins of every version newer than the installed one (up to the candidate), from python3-apt."""
    try:
        import apt  # pylint: disable=import-outside-toplevel
        import apt_pkg  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None
    cache = apt.Cache()
    result = {}
    for name in names:
        base = name.split(':')[0]
        if base not in cache:
            result[name] = []
            continue
        package = cache[base]
        installed = package.installed.version if package.installed else None
        candidate = package.candidate.version if package.candidate else None
        origins = []
        for version in package.versions:
            if installed and apt_pkg.version_compare(version.version, installed) <= 0:
                continue
            if candidate and apt_pkg.version_compare(version.version, candidate) > 0:
                continue
            for origin in version.origins:
                origins.append({'origin': origin.origin, 'label': origin.label, 'archive': origin.archive,
                                'codename': origin.codename, 'component': origin.component, 'site': origin.site})
        result[name] = origins
    return result


def unit_of(cgroup_text):
    """The systemd service a process belongs to, from /proc/PID/cgroup (v1 or v2), or None."""
    paths = {}
    for line in cgroup_text.splitlines():
        fields = line.split(':', 2)
        if len(fields) == 3:
            paths[fields[1]] = fields[2]
    path = paths.get('name=systemd') or paths.get('') or ''
    units = [segment for segment in path.split('/') if segment.endswith('.service')]
    return units[-1] if units else None


def deleted_files(maps_text, exe=None):
    """Programs and libraries a process maps (or runs) that were deleted or replaced since it started."""
    found = []
    for line in maps_text.splitlines():
        if not line.endswith(' (deleted)'):
            continue
        fields = line.split(None, 5)
        if len(fields) < 6:
            continue
        path = fields[5][:-len(' (deleted)')]
        if path.startswith(_MAPPED_PREFIXES) and path not in found:
            found.append(path)
    if exe and exe.endswith(' (deleted)'):
        path = exe[:-len(' (deleted)')]
        if path.startswith(_MAPPED_PREFIXES) and path not in found:
            found.insert(0, path)
    return found


def _read(path):
    try:
        with open(path, encoding='utf-8', errors='replace') as handle:
            return handle.read()
    except OSError:
        return None


def _ancestors(pid, proc):
    chain = set()
    while pid and pid not in chain:
        chain.add(pid)
        status = _read(os.path.join(proc, str(pid), 'status')) or ''
        match = re.search(r'^PPid:\s*(\d+)', status, re.M)
        pid = int(match.group(1)) if match else 0
    return chain


def restart_needs(proc='/proc'):
    """(services, processes) that run replaced files, among the processes of
    this mount namespace (the host's, not the containers'), this module's
    own process and its parents (the Ansible connection) left out."""
    try:
        own_ns = os.readlink(os.path.join(proc, 'self', 'ns', 'mnt'))
    except OSError:
        own_ns = None
    skip = _ancestors(os.getpid(), proc)
    services, processes = set(), []
    for name in os.listdir(proc):
        if not name.isdigit() or int(name) in skip:
            continue
        base = os.path.join(proc, name)
        try:
            if own_ns and os.readlink(os.path.join(base, 'ns', 'mnt')) != own_ns:
                continue
            exe = os.readlink(os.path.join(base, 'exe'))
        except OSError:
            continue
        files = deleted_files(_read(os.path.join(base, 'maps')) or '', exe)
        if not files:
            continue
        unit = unit_of(_read(os.path.join(base, 'cgroup')) or '')
        if unit:
            services.add(unit)
        else:
            processes.append({'pid': int(name), 'command': (_read(os.path.join(base, 'comm')) or '?').strip(),
                              'files': files[:3]})
    return sorted(services), sorted(processes, key=lambda p: p['pid'])


def reboot_state(run_dir='/run'):
    flag = os.path.join(run_dir, 'reboot-required')
    listed = _read(flag + '.pkgs') or ''
    return os.path.exists(flag), sorted(set(line.strip() for line in listed.splitlines() if line.strip()))


def summarise(result):
    security = result['security']
    lines = ['%d pending (%d security%s)%s%s' % (
        result['pending'], len(security), ': ' + ', '.join(security) if security else '',
        '; would remove: ' + ', '.join(result['removals']) if result['removals'] else '',
        '; kept back: ' + ', '.join(result['kept_back']) if result['kept_back'] else '')]
    for package in result['packages']:
        lines.append('  %s %s %s -> %s%s' % (package['action'], package['name'], package['installed'] or '-',
                                             package['version'], '  SECURITY' if package['security'] else ''))
    if result['reboot_required']:
        lines.append('reboot required%s' % (' by ' + ', '.join(result['reboot_required_packages'])
                                            if result['reboot_required_packages'] else ''))
    if result['restart_services']:
        lines.append('services running replaced files (restart them): ' + ', '.join(result['restart_services']))
    if result['restart_processes']:
        lines.append('other processes running replaced files: ' + ', '.join(
            '%s[%d]' % (p['command'], p['pid']) for p in result['restart_processes']))
    return lines


def os_codename():
    text = _read('/etc/os-release') or ''
    match = re.search(r'^VERSION_CODENAME="?([^"\n]*)"?', text, re.M)
    return match.group(1) if match else ''


def main():
    module = AnsibleModule(
        argument_spec=dict(
            upgrade=dict(type='str', choices=['safe', 'full'], default='safe'),
            security_origins=dict(type='list', elements='str', default=[]),
            restart_check=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    codename = os_codename()
    try:
        patterns = [parse_pattern(p, codename) for p in params['security_origins']]
    except ValueError as exc:
        module.fail_json(msg='Error reading security_origins: %s' % exc)
    apt_get = module.get_bin_path('apt-get', required=True)
    # Debug::NoLocking: a simulation next to a running unattended-upgrades
    # neither waits for nor takes APT's lock.
    rc, out, err = module.run_command([apt_get, '--simulate', '-o', 'Debug::NoLocking=1', '-o', 'APT::Color=0']
                                      + upgrade_args(params['upgrade']), environ_update={'LC_ALL': 'C'})
    if rc != 0:
        module.fail_json(msg='Error simulating the upgrade: %s' % (err or out).strip(), rc=rc)
    try:
        packages, removals, kept = parse_simulation(out)
        packages = mark_security(packages, apt_newer_origins([p['name'] for p in packages]), patterns)
        services, processes = restart_needs() if params['restart_check'] else ([], [])
        reboot, reboot_packages = reboot_state() if params['restart_check'] else (False, [])
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg='Error reading the pending updates: %s' % exc, exception=traceback.format_exc())
    result = dict(
        changed=False,
        packages=packages,
        pending=len(packages),
        security=[p['name'] for p in packages if p['security']],
        removals=removals,
        kept_back=kept,
        reboot_required=reboot,
        reboot_required_packages=reboot_packages,
        restart_services=services,
        restart_processes=processes,
    )
    result['summary'] = summarise(result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
