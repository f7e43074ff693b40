# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Former home of the stack's Python, kept so that old import paths work (private).

Each concern now has its module: ``_compose_render`` (the stack as a
Compose document), ``_compose_plan`` (what a deploy would change) and
``_compose_archive`` (the images of a ``docker save`` archive). Import
from those; this module only re-exports their public names.
"""

from __future__ import annotations

from ansible_collections.prodkit.stack.plugins.module_utils._compose_archive import archive_images
from ansible_collections.prodkit.stack.plugins.module_utils._compose_plan import plan
from ansible_collections.prodkit.stack.plugins.module_utils._compose_render import (
    StackError,
    interpolated_names,
    parse_port,
    render_stack,
)

__all__ = ['StackError', 'archive_images', 'interpolated_names', 'parse_port', 'plan', 'render_stack']
