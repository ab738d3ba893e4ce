"""The fixtures every scenario stands on: the target, its preflight, and the capability gate.

They are imported into ``steps/test_conformance.py`` with the step definitions, so they exist for
seenby's scenarios alone (see ``steps/plugin.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest

from seenby.harness import Target, get_driver, open_target
from seenby.harness.drivers.capabilities import (
    NEEDS_PREFIX,
    TARGET_FEATURES,
    not_applicable_reason,
)
from seenby.harness.run.preflight import Preflight, run_preflight

__all__ = ["seenby_capability_gate", "seenby_preflight", "seenby_target"]


@pytest.fixture(scope="session")
def seenby_target(pytestconfig: pytest.Config) -> Iterator[Target]:
    """The deployment under test: ``--seenby-target`` through ``--seenby-driver``, or the
    driver's throw-away target (the bundled reference server for ``seenby``)."""
    url = pytestconfig.getoption("seenby_target")
    admin_key = pytestconfig.getoption("seenby_admin_key")
    timeout = cast(float, pytestconfig.getoption("seenby_timeout"))  # its type= converts it
    driver = cast(str, pytestconfig.getoption("seenby_driver"))
    with open_target(url, admin_key, timeout=timeout, driver=driver) as target:
        yield target


@pytest.fixture(scope="session")
def seenby_preflight(seenby_target: Target) -> Preflight:
    """One round trip through each part of the target, before the first scenario of this
    process (``seenby.harness.run.preflight``)."""
    return run_preflight(seenby_target)


@pytest.fixture
def seenby_capability_gate(request: pytest.FixtureRequest, seenby_target: Target) -> None:
    """A scenario tagged ``@needs-<capability>`` is not applicable through a driver without it,
    and skipped on a seenby-wire target that does not advertise a feature it needs."""
    needed = sorted(
        {
            mark.name.removeprefix(NEEDS_PREFIX)
            for mark in request.node.iter_markers()
            if mark.name.startswith(NEEDS_PREFIX)
        }
    )
    if not needed:
        return
    driver = get_driver(seenby_target.driver_name)
    for capability in needed:
        if capability not in driver.capabilities:
            pytest.skip(not_applicable_reason(driver.name, capability))
    features = [capability for capability in needed if capability in TARGET_FEATURES]
    if features:
        advertised = seenby_target.capabilities
        for feature in features:
            if not advertised.has(feature):
                pytest.skip(f"target lacks capability '{feature}' (GET /v1/capabilities)")
