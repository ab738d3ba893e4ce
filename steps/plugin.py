"""The seenby pytest plugin (entry point pytest11: seenby): options, target fixture, markers.

It comes with the installed package, so the conformance scenarios run both in this repository
(``pytest steps``) and from anywhere (``pytest --pyargs steps --seenby-target URL
--seenby-admin-key KEY``). Without a URL the scenarios run against the bundled reference server,
one per pytest process (so one per xdist worker). Every Gherkin tag of the features is
registered as a marker, so ``--strict-markers`` stays on; scenarios tagged ``@needs-<feature>``
are skipped, with the reason, when the target's ``GET /v1/capabilities`` lacks the feature.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import features
from harness import Target, open_target
from harness.deviations import DEVIATION_PROPERTY
from steps.world import World

pytest_plugins = [
    "steps.world",
    "steps.given_world",
    "steps.messaging",
    "steps.receipts",
    "steps.push",
    "steps.outcomes",
    "steps.cross_user",
]

FEATURES_DIR = Path(features.__file__).resolve().parent
"""The installed feature files."""

NEEDS_PREFIX = "needs-"
_TAG = re.compile(r"@([^\s@]+)")


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--seenby-target`` and ``--seenby-admin-key`` (defaults from the environment)."""
    group = parser.getgroup("seenby", "seenby conformance suite")
    group.addoption(
        "--seenby-target",
        metavar="URL",
        default=os.environ.get("SEENBY_TARGET"),
        help="base URL of the deployment under test (env SEENBY_TARGET); "
        "default: start the bundled reference server",
    )
    group.addoption(
        "--seenby-admin-key",
        metavar="KEY",
        default=os.environ.get("SEENBY_ADMIN_KEY"),
        help="the deployment's admin key (env SEENBY_ADMIN_KEY)",
    )


def feature_tags(features_dir: Path = FEATURES_DIR) -> set[str]:
    """Every tag used in the feature files, without its ``@``."""
    tags: set[str] = set()
    for path in features_dir.rglob("*.feature"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("@"):
                tags.update(_TAG.findall(line))
    return tags


def pytest_configure(config: pytest.Config) -> None:
    """Register every Gherkin tag as a marker."""
    for tag in sorted(feature_tags()):
        config.addinivalue_line("markers", f"{tag}: seenby Gherkin tag")


@pytest.fixture(scope="session")
def seenby_target(pytestconfig: pytest.Config) -> Iterator[Target]:
    """The deployment under test: ``--seenby-target`` or the bundled reference server."""
    url = pytestconfig.getoption("seenby_target")
    admin_key = pytestconfig.getoption("seenby_admin_key")
    with open_target(url, admin_key) as target:
        yield target


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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None]:
    """Attach the scenario's strict deviations to its item before the call report is made, so
    they travel with it (across xdist too) and junitxml and ``seenby run`` see them."""
    if call.when == "call":
        world = getattr(item, "funcargs", {}).get("world")
        if isinstance(world, World):
            item.user_properties.extend(
                (DEVIATION_PROPERTY, deviation.to_json()) for deviation in world.new_deviations()
            )
    return (yield)
