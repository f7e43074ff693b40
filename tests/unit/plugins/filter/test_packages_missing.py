# -*- coding: utf-8 -*-
from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.prodkit.stack.plugins.filter.packages_missing import packages_missing

FACTS = {
    'nftables': [{'name': 'nftables', 'version': '1.1.1-1', 'source': 'apt'}],
    'restic': [{'name': 'restic', 'version': '0.17.3-1', 'source': 'apt'}],
}


def test_without_facts_every_name_is_missing():
    assert packages_missing(['nftables', 'restic']) == ['nftables', 'restic']
    assert packages_missing(['nftables'], None) == ['nftables']


def test_installed_names_are_dropped_in_order():
    assert packages_missing(['restic', 'gnupg', 'nftables', 'curl'], FACTS) == ['gnupg', 'curl']
    assert packages_missing(['nftables', 'restic'], FACTS) == []


def test_versions_releases_and_wildcards_are_left_to_apt():
    assert packages_missing(['nftables=1.1.1-1', 'restic/trixie', 'restic*'], FACTS) == [
        'nftables=1.1.1-1', 'restic/trixie', 'restic*']


def test_architecture_qualifier():
    assert packages_missing(['nftables:amd64', 'gnupg:amd64'], FACTS) == ['gnupg:amd64']


def test_a_single_name_and_an_empty_entry():
    assert packages_missing('nftables', FACTS) == []
    assert packages_missing(['nftables'], {'nftables': []}) == ['nftables']


@pytest.mark.parametrize('names, facts', [(42, FACTS), (['x'], ['nftables'])])
def test_bad_input_is_refused(names, facts):
    with pytest.raises(AnsibleFilterError, match='packages_missing'):
        packages_missing(names, facts)
