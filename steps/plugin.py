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
from harness import DEFAULT_TIMEOUT, Target, open_target
from harness.deviations import DEVIATION_PROPERTY
from harness.preflight import Preflight, run_preflight
from steps.world import WORLD_KEY

pytest_plugins = [
    "steps.world",
    "steps.given_world",
    "steps.messaging",
    "steps.receipts",
    "steps.push",
    "steps.outcomes",
    "steps.security",
    "steps.replay",
]

FEATURES_DIR = Path(features.__file__).resolve().parent
"""The installed feature files."""

NEEDS_PREFIX = "needs-"
TRANSCRIPT_PROPERTY = "seenby_transcript"
"""The ``user_properties`` name of the path of a scenario's transcript file."""
TRANSCRIPT_SECTION = "seenby transcript"
"""The report section that shows a failing or deviating scenario's transcript."""
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
    group.addoption(
        "--seenby-transcripts",
        metavar="DIR",
        default=None,
        help="write each scenario's wire transcript (HTTP exchanges and push frames, "
        "credentials redacted) to DIR/<test>.txt",
    )
    group.addoption(
        "--seenby-timeout",
        metavar="SECONDS",
        type=_positive_seconds,
        default=_positive_seconds(os.environ.get("SEENBY_TIMEOUT", str(DEFAULT_TIMEOUT))),
        help="the time budget: how long any single wait may take (env SEENBY_TIMEOUT; "
        f"default {DEFAULT_TIMEOUT:g}); raise it for a slow or distant target",
    )


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"a time budget must be a positive number of seconds, not {text!r}")
    return value


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
    timeout = pytestconfig.getoption("seenby_timeout")
    with open_target(url, admin_key, timeout=timeout) as target:
        yield target


@pytest.fixture(scope="session")
def seenby_preflight(seenby_target: Target) -> Preflight:
    """One round trip through each part of the target, before the first scenario of this
    process (``harness.preflight``)."""
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None]:
    """Before the call report is made: attach the scenario's strict deviations to its item (so
    they travel with it, across xdist too, and junitxml and ``seenby run`` see them), write its
    transcript where ``--seenby-transcripts`` says, and show the transcript of a scenario that
    failed or deviated in pytest's own report."""
    if call.when == "call":
        world = item.stash.get(WORLD_KEY, None)
        if world is not None:
            deviations = world.new_deviations()
            item.user_properties.extend(
                (DEVIATION_PROPERTY, deviation.to_json()) for deviation in deviations
            )
            transcript = world.transcript()
            folder = item.config.getoption("seenby_transcripts")
            if folder is not None:
                path = Path(folder) / f"{_file_name(item.nodeid)}.txt"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(transcript + "\n", encoding="utf-8")
                item.user_properties.append((TRANSCRIPT_PROPERTY, str(path)))
            if call.excinfo is not None or deviations:
                item.add_report_section("call", TRANSCRIPT_SECTION, transcript)
    return (yield)


def _file_name(nodeid: str) -> str:
    """A file name for a test: its node ID's function part, with what a file system dislikes
    replaced (unique within a run, as node IDs are)."""
    name = nodeid.rpartition("::")[2]
    return re.sub(r"[^A-Za-z0-9_.\-\[\]]+", "_", name)[:200]
