# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    """What every prodkit.stack module says about check mode, diff mode and idempotence.

    The descriptions live here, as in community.docker's ``attributes``
    fragment; each module gives only its ``support:`` level and ``details:``.
    Every module runs on POSIX targets, so the platform is said here once.
    """

    # Standard documentation fragment
    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description: When run twice in a row with the same inputs, the second run reports no change.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
'''

    # Modules that only read: prodkit.stack.attributes.read_only, beside
    # prodkit.stack.attributes.
    READ_ONLY = r'''
options: {}
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs the same way in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: It never changes the host.
'''

    # Modules that run the Docker CLI on the target:
    # prodkit.stack.attributes.docker_cli.
    DOCKER_CLI = r'''
options:
  docker_cli:
    description: The C(docker) command.
    type: path
    default: docker
requirements:
  - The Docker CLI on the target.
'''
