# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.prodkit.stack.plugins.module_utils._compose_render import StackError, render_stack


def compose_document(services, project, networks=None, volumes=None, dotenv=None, service_defaults=None,
                     healthcheck_defaults=None, dotenv_path='.env', variable='compose_stack_services'):
    """Render a stack definition as a Compose document; fail naming every problem."""
    try:
        return render_stack(project, services, networks=networks, volumes=volumes, dotenv=dotenv,
                            service_defaults=service_defaults, healthcheck_defaults=healthcheck_defaults,
                            dotenv_path=dotenv_path, variable=variable)
    except StackError as exc:
        raise AnsibleFilterError('the stack definition has %d problem%s:\n- %s' % (
            len(exc.problems), '' if len(exc.problems) == 1 else 's', '\n- '.join(exc.problems)))


class FilterModule(object):
    def filters(self):
        return {'compose_document': compose_document}
