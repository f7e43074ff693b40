# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The images a ``docker save`` archive holds (private to prodkit.stack).

``archive_images`` reads the image references and IDs of an archive
without loading it; prodkit.stack.image_archive loads only what is stale.
"""

from __future__ import annotations

import json
import tarfile


def archive_images(path):
    """Reference -> image ID ('sha256:...') of a ``docker save`` archive.

    Reads only manifest.json and, for the OCI layout, the index; both sit
    near the end of the tar but tarfile can seek over the layers.
    """
    result = {}
    with tarfile.open(path, 'r:') as archive:
        try:
            member = archive.extractfile('manifest.json')
        except KeyError:
            member = None
        if member is None:
            raise ValueError('%s has no manifest.json: not an archive made by docker save' % path)
        manifest = json.loads(member.read().decode('utf-8'))
        for entry in manifest:
            config = entry.get('Config', '')
            # "<hex>.json" (Docker < 25) or "blobs/sha256/<hex>" (OCI layout).
            digest = config.rsplit('/', 1)[-1].replace('.json', '')
            for ref in entry.get('RepoTags') or []:
                result[ref] = 'sha256:' + digest
    return result
