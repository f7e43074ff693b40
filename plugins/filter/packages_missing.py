# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def packages_missing(names, packages=None):
    """The names of ``names`` that ``packages`` (ansible_facts.packages) does not list as installed.

    Without package facts every name is returned, so the install task runs as
    it always did. A name with a version or release (``pkg=1.2``, ``pkg/trixie``)
    is always returned: only apt can tell whether it is satisfied.
    """
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, (list, tuple)):
        raise AnsibleFilterError('packages_missing: expected a list of package names, got %s' % type(names).__name__)
    if packages is None:
        return list(names)
    if not isinstance(packages, Mapping):
        raise AnsibleFilterError('packages_missing: the package facts must be a dict (ansible_facts.packages), got %s'
                                 % type(packages).__name__)
    missing = []
    for name in names:
        name = str(name)
        if any(c in name for c in '=<>/*') or not packages.get(name.split(':', 1)[0]):
            missing.append(name)
    return missing


class FilterModule(object):
    def filters(self):
        return {'packages_missing': packages_missing}
