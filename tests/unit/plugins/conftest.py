# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Make ``ansible_collections.prodkit.stack`` importable under plain pytest.

``ansible-test units`` puts the collection on the path by itself. Run from
the checkout (``pytest tests/unit``), the collection resolves through the
link that ``make venv`` creates in ``.ansible/collections``, or, failing
that, through the directory layout ``.../ansible_collections/prodkit/stack``
that ``make sanity`` copies the tree into.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(_HERE)))


def _collections_dir():
    linked = os.path.join(_ROOT, '.ansible', 'collections')
    if os.path.isdir(os.path.join(linked, 'ansible_collections', 'prodkit', 'stack')):
        return linked
    parts = _ROOT.split(os.sep)
    if len(parts) >= 3 and parts[-3:-1] == ['ansible_collections', 'prodkit']:
        return os.sep.join(parts[:-3])
    return None


_COLLECTIONS = _collections_dir()
if _COLLECTIONS and _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)
