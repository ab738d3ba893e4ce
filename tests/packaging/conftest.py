"""The release artifacts, built once per session."""

from __future__ import annotations

import pytest

from tests.packaging.artifacts import Distributions, build


@pytest.fixture(scope="session")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> Distributions:
    """The sdist and the wheel built from it, in a fresh folder."""
    return build(tmp_path_factory.mktemp("dist"))
