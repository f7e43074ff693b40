# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_updates: what each reference's status is, from what runs, what the host has and what the registry holds."""

from __future__ import annotations

import pytest

from ansible_collections.prodkit.stack.plugins.modules.image_updates import classify

REF = '127.0.0.1:5000/pk/django:1.0'
OLD = 'sha256:' + '1' * 64
NEW = 'sha256:' + '2' * 64
OLD_ID = 'sha256:' + 'a' * 64
NEW_ID = 'sha256:' + 'b' * 64
DIGESTS = {OLD_ID: ['127.0.0.1:5000/pk/django@' + OLD], NEW_ID: ['127.0.0.1:5000/pk/django@' + NEW]}


@pytest.mark.parametrize('running, local_id, local_digests, answer, status', [
    # The registry holds what runs.
    ({OLD_ID}, OLD_ID, DIGESTS[OLD_ID], ('ok', OLD), 'up_to_date'),
    # Pushed under the same tag since: newer.
    ({OLD_ID}, OLD_ID, DIGESTS[OLD_ID], ('ok', NEW), 'newer'),
    # Already pulled (the tag names the new image on the host), not deployed: newer.
    ({OLD_ID}, NEW_ID, DIGESTS[NEW_ID], ('ok', NEW), 'newer'),
    # Mid-rollout, one old container left: newer.
    ({OLD_ID, NEW_ID}, NEW_ID, DIGESTS[NEW_ID], ('ok', NEW), 'newer'),
    # Loaded or built here, no digest from this registry: unknown, never up to date.
    ({'sha256:' + 'c' * 64}, 'sha256:' + 'c' * 64, [], ('ok', NEW), 'unknown'),
    ({OLD_ID}, OLD_ID, DIGESTS[OLD_ID], ('not_found', 'gone'), 'not_in_registry'),
    ({OLD_ID}, OLD_ID, DIGESTS[OLD_ID], ('error', 'Error asking registry x: refused'), 'unknown'),
    (set(), OLD_ID, DIGESTS[OLD_ID], ('ok', NEW), 'not_running'),
])
def test_pulled_images(running, local_id, local_digests, answer, status):
    entry = classify(REF, 'pull', running, DIGESTS, local_id, local_digests, answer)
    assert entry['status'] == status, entry['msg']
    if status in ('up_to_date', 'newer'):
        assert entry['registry_digest'] == answer[1]


def test_newer_names_both_digests_and_whether_it_was_pulled():
    entry = classify(REF, 'pull', {OLD_ID}, DIGESTS, NEW_ID, DIGESTS[NEW_ID], ('ok', NEW))
    assert NEW in entry['msg'] and OLD in entry['msg'] and 'already pulled' in entry['msg']
    assert entry['pulled'] is True and entry['running_digests'] == [OLD]


@pytest.mark.parametrize('source', ['build', 'archive'])
def test_built_and_loaded_images_are_reported_as_such(source):
    entry = classify(REF, source, {OLD_ID}, DIGESTS, OLD_ID, [], None)
    assert entry['status'] == source
    assert 'not compared' in entry['msg']


def test_pinned_reference():
    entry = classify('127.0.0.1:5000/pk/django@' + OLD, 'pull', {OLD_ID}, DIGESTS, OLD_ID, [], ('ok', OLD))
    assert entry['status'] == 'pinned'
