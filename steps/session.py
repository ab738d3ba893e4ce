"""The fixtures every scenario stands on: the target, its preflight, and the capability gate.

They are imported into ``steps/test_conformance.py`` with the step definitions, so they exist for
seenby's scenarios alone (see ``steps/plugin.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest

from seenby.harness import Target, open_target
from seenby.harness.preflight import Preflight, run_preflight

__all__ = ["NEEDS_PREFIX", "seenby_capability_gate", "seenby_preflight", "seenby_target"]

NEEDS_PREFIX = "needs-"
"""Scenarios tagged ``@needs-<feature>`` skip, with the reason, on a target without it."""


@pytest.fixture(scope="session")
def seenby_target(pytestconfig: pytest.Config) -> Iterator[Target]:
    """The deployment under test: ``--seenby-target`` or the bundled reference server."""
    url = pytestconfig.getoption("seenby_target")
    admin_key = pytestconfig.getoption("seenby_admin_key")
    timeout = cast(float, pytestconfig.getoption("seenby_timeout"))  # its type= converts it
    with open_target(url, admin_key, timeout=timeout) as target:
        yield target


@pytest.fixture(scope="session")
def seenby_preflight(seenby_target: Target) -> Preflight:
    """One round trip through each part of the target, before the first scenario of this
    process (``seenby.harness.preflight``)."""
    return run_preflight(seenby_target)


@pytest.fixture
def seenby_capability_gate(request: pytest.FixtureRequest, seenby_target: Target) -> None:
    """Skip a scenario tagged ``@needs-<feature>`` when the target does not offer it."""
    needed = {
        mark.name.removeprefix(NEEDS_PREFIX)
        for mark in request.node.iter_markers()
        if mark.name.startswith(NEEDS_PREFIX)
    }
    if not needed:
        return
    capabilities = seenby_target.capabilities
    for feature in sorted(needed):
        if not capabilities.has(feature):
            pytest.skip(f"target lacks capability '{feature}' (GET /v1/capabilities)")
