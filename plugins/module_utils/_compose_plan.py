# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a deploy would change, service by service (private to prodkit.stack).

``plan`` compares what a deploy would run (service config hashes from
``docker compose config --hash``, image IDs, replica counts) with the
containers that run now. Pure: prodkit.stack.compose_plan gathers both
sides, the unit tests call it with dicts.
"""

from __future__ import annotations


def plan(desired, running):
    """Compare a desired stack with the running one, service by service.

    desired: name -> {'hash': config hash, 'image': ref, 'image_id': ID or
             None (not on the host yet), 'replicas': n}
    running: name -> list of {'hash', 'image_id', 'state', 'health', 'name'}
             for the containers of the project (one-off containers excluded)
    Returns name -> {'action': create|recreate|scale|keep|remove, 'reasons': [...]}
    """
    result = {}
    for name, want in desired.items():
        have = running.get(name) or []
        reasons = []
        replicas = want.get('replicas', 1)
        if not have:
            action = 'create' if replicas else 'keep'
            if replicas:
                reasons.append('no container yet')
        else:
            action = 'keep'
            if any(c.get('hash') != want.get('hash') for c in have):
                action = 'recreate'
                reasons.append('configuration changed')
            image_id = want.get('image_id')
            if image_id is None:
                action = 'recreate'
                reasons.append('image %s is not on the host yet' % want.get('image'))
            elif any(c.get('image_id') != image_id for c in have):
                action = 'recreate'
                olds = sorted(set(_short(c.get('image_id')) for c in have if c.get('image_id') != image_id))
                reasons.append('image %s: %s -> %s' % (want.get('image'), ', '.join(olds), _short(image_id)))
            not_running = [c['name'] for c in have if c.get('state') != 'running']
            if not_running and action == 'keep':
                action = 'start'
                reasons.append('not running: %s' % ', '.join(sorted(not_running)))
            if len(have) != replicas:
                if action == 'keep':
                    action = 'scale'
                reasons.append('replicas %d -> %d' % (len(have), replicas))
        result[name] = {'action': action, 'reasons': reasons}
    for name in running:
        if name not in desired:
            result[name] = {'action': 'remove', 'reasons': ['not in the stack any more']}
    return result


def _short(image_id):
    if not image_id:
        return 'none'
    return image_id.split(':', 1)[-1][:12]
