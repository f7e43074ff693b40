# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The options that name a Compose project, shared by the modules that run
``docker compose`` on it (private to prodkit.stack), as community.docker's
compose_v2 modules share theirs."""

from __future__ import annotations


def compose_project_argument_spec(**extra):
    """project, project_dir, files, env_file and docker_cli, plus ``extra``."""
    spec = dict(
        project=dict(type='str', required=True),
        project_dir=dict(type='path', required=True),
        files=dict(type='list', elements='path', required=True),
        env_file=dict(type='path'),
        docker_cli=dict(type='path', default='docker'),
    )
    spec.update(extra)
    return spec
