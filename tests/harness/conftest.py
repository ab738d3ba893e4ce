"""Fixtures for the harness's integration tests: one bundled reference server per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from seenby.harness import Target, open_target


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    """The bundled reference server on a fresh database, shared by one test module."""
    with open_target() as bundled:
        yield bundled
