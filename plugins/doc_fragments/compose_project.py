# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    """The options that name a Compose project (module_utils/_compose_args.py),
    shared by the modules that run ``docker compose`` on it."""

    # Standard documentation fragment
    DOCUMENTATION = r'''
options:
  project:
    description: Compose project name.
    type: str
    required: true
  project_dir:
    description: Project directory (relative paths in the Compose files and the default C(.env) are taken from it).
    type: path
    required: true
  files:
    description: The Compose file(s) of the project (for M(prodkit.stack.compose_plan), the candidate ones).
    type: list
    elements: path
    required: true
  env_file:
    description: The C(.env) Compose interpolates from. Defaults to C(.env) in O(project_dir).
    type: path
  docker_cli:
    description: The C(docker) command.
    type: path
    default: docker
'''
