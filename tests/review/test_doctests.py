"""The review package's doctests (review/ is not collected with --doctest-modules: most of it needs Django set up,
which tests/review/conftest.py does)."""

from __future__ import annotations

import doctest

import pytest

from review import grouping, incident, pseudonyms, settings


@pytest.mark.parametrize("module", [grouping, incident, pseudonyms, settings])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
