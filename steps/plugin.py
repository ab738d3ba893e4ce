"""The seenby pytest plugin (entry point pytest11: seenby): options and the report hook, nothing
more.

It comes with the installed package, into every pytest session of the environment, so it stays
out of the way: it adds its options, and nothing else happens until seenby's own scenarios
(``steps/test_conformance.py``) are collected. That module holds the step definitions and
fixtures in its own namespace, so they reach no other test and a user's fixture of the same name
(``world``, say) changes nothing on either side. When the module is about to be collected, the
plugin registers every Gherkin tag of the features as a marker, so ``--strict-markers`` stays on.

The scenarios run in this repository (``pytest steps``) and from anywhere (``pytest --pyargs
steps --seenby-target URL --seenby-admin-key KEY``); without a URL, against the bundled reference
server, one per pytest process (so one per xdist worker).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from seenby import features
from seenby.harness.drivers import DEFAULT_DRIVER
from seenby.harness.wire.deviations import DEVIATION_PROPERTY
from seenby.harness.wire.transcript import TRANSCRIPT_PROPERTY
from seenby.harness.wire.transport import (
    CA_CERT_VARIABLE,
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_TIMEOUT,
    MAX_ANSWER_BYTES_VARIABLE,
    answer_size,
    time_budget,
)
from seenby.steps.world import WORLD_KEY

# Options and hooks only, like this module: ``--seenby-expect`` (known-deviation files).
pytest_plugins = ["seenby.harness.plugins.known_deviations"]

FEATURES_DIR = Path(features.__file__).resolve().parent
"""The installed feature files."""
SCENARIOS_MODULE = Path(__file__).resolve().with_name("test_conformance.py")
"""The module whose collection brings in seenby's scenarios, steps and fixtures."""

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
        "--seenby-driver",
        metavar="NAME",
        default=os.environ.get("SEENBY_DRIVER", DEFAULT_DRIVER),
        help="the driver that reaches the target (env SEENBY_DRIVER; default "
        f"{DEFAULT_DRIVER}; `seenby drivers` lists the installed ones)",
    )
    group.addoption(
        "--seenby-transcripts",
        metavar="DIR",
        default=os.environ.get("SEENBY_TRANSCRIPTS"),
        help="write each scenario's wire transcript (HTTP exchanges and push frames, "
        "credentials redacted) to DIR/<test>.txt (env SEENBY_TRANSCRIPTS)",
    )
    group.addoption(
        "--seenby-timeout",
        metavar="SECONDS",
        type=time_budget,
        default=time_budget(os.environ.get("SEENBY_TIMEOUT", str(DEFAULT_TIMEOUT))),
        help="the time budget: how long any single wait may take in all, by the wall clock "
        f"(env SEENBY_TIMEOUT; default {DEFAULT_TIMEOUT:g}); raise it for a slow or distant "
        "target",
    )
    group.addoption(
        "--seenby-ca-cert",
        metavar="FILE",
        default=os.environ.get(CA_CERT_VARIABLE),
        help="PEM file of the CA that signed an https:// target's certificate "
        f"(env {CA_CERT_VARIABLE})",
    )
    group.addoption(
        "--seenby-max-answer-bytes",
        metavar="BYTES",
        type=answer_size,
        default=answer_size(
            os.environ.get(MAX_ANSWER_BYTES_VARIABLE) or str(DEFAULT_MAX_ANSWER_BYTES)
        ),
        help="the size cap of one answer or push message; a larger one fails its call "
        f"(env {MAX_ANSWER_BYTES_VARIABLE}; default {DEFAULT_MAX_ANSWER_BYTES} bytes)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Hand ``--seenby-ca-cert`` and ``--seenby-max-answer-bytes`` to every transport of the
    process, which reads them from the environment (as those of ``seenby run`` do)."""
    ca_cert = config.getoption("seenby_ca_cert")
    if ca_cert is not None:
        if not Path(ca_cert).is_file():
            raise pytest.UsageError(f"--seenby-ca-cert {ca_cert}: no such file")
        os.environ[CA_CERT_VARIABLE] = str(Path(ca_cert).resolve())
    os.environ[MAX_ANSWER_BYTES_VARIABLE] = str(config.getoption("seenby_max_answer_bytes"))


def feature_tags(features_dir: Path = FEATURES_DIR) -> set[str]:
    """Every tag used in the feature files, without its ``@``."""
    tags: set[str] = set()
    for path in features_dir.rglob("*.feature"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("@"):
                tags.update(_TAG.findall(line))
    return tags


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> None:
    """Register every Gherkin tag as a marker just before seenby's scenarios are collected."""
    # Resolved: the repository reaches the same file as steps/ and as seenby/steps/ (a link).
    if module_path.resolve() == SCENARIOS_MODULE:
        known = set(parent.config.getini("markers"))
        for tag in sorted(feature_tags()):
            line = f"{tag}: seenby Gherkin tag"
            if line not in known:
                parent.config.addinivalue_line("markers", line)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
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
