"""pytest plugin that records per-scenario results for ``seenby run`` (``-p
harness.plugins.results``).

- Every scenario's test item carries its scenario ID, spec IDs, doc section and area as
  ``user_properties``, so ``--junitxml`` writes them as ``<properties>`` of its ``<testcase>``.
  The step that failed is added as ``failed_step``.
- With ``--seenby-records``, one JSON line per finished test item goes to standard output:
  ``{"seenby": "result", "nodeid", "name", "scenario_id", "example", "outcome", "reason",
  "evidence", "duration_s", "deviations", "bdd"}``, and ``{"seenby": "collect-error", "nodeid",
  "evidence"}``, and after collection one ``{"seenby": "collected", "scenario_id", "example"}``
  per item. ``seenby run`` starts pytest with ``-p no:terminal`` and reads these lines: they
  are both its live progress and its results. Verdicts come from here, never from Cucumber JSON.
- ``deviations`` are the strict deviations the steps plugin attached to the item
  (``seenby.harness.wire.deviations``); ``bdd`` is what ``seenby run`` writes ``cucumber.json``
  from: the
  scenario and feature as pytest-bdd ran them and each step's keyword, name, line, status,
  duration and error. It is gathered from pytest-bdd's public ``pytest_bdd_*`` hooks and carried
  as a ``user_properties`` entry of the call report, which pytest serialises across xdist like
  any report field: no private pytest or pytest-bdd module is involved.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TextIO

import pytest

from seenby.harness.run.catalogue import decode_tags
from seenby.harness.wire.deviations import DEVIATION_PROPERTY, Deviation
from seenby.harness.wire.transcript import TRANSCRIPT_PROPERTY

__all__ = ["BDD_PROPERTY", "RECORD_KEY", "ResultRecorder", "example_of"]

RECORD_KEY = "seenby"
"""Every record line is a JSON object with this key (its kind: ``result``, ``collected``,
``collect-error``)."""

BDD_PROPERTY = "seenby_bdd"
"""The ``user_properties`` name that carries an item's scenario and step results (JSON)."""

_SKIPPED_PREFIX = "Skipped: "


class _GherkinStep(Protocol):
    keyword: str
    name: str
    line_number: int


class _GherkinScenario(Protocol):
    keyword: str
    name: str
    line_number: int
    description: str
    tags: set[str]

    @property
    def steps(self) -> Iterable[_GherkinStep]: ...


class _GherkinFeature(Protocol):
    keyword: str
    name: str
    rel_filename: str
    line_number: int
    description: str
    language: str
    tags: set[str]


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--seenby-records``."""
    group = parser.getgroup("seenby-reporting", "seenby result records")
    group.addoption(
        "--seenby-records",
        action="store_true",
        default=False,
        help="write one JSON line per finished scenario to standard output (for `seenby run`)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """With ``--seenby-records``, record results where reports end up: in the controller."""
    is_xdist_worker = hasattr(config, "workerinput")
    if config.getoption("seenby_records") and not is_xdist_worker:
        config.pluginmanager.register(ResultRecorder(sys.stdout), "seenby-result-recorder")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each scenario's item its ID, spec IDs, doc section and area as user properties."""
    for item in items:
        tags = decode_tags(marker.name for marker in item.iter_markers())
        if tags.id is None:
            continue
        item.user_properties.append(("scenario_id", tags.id))
        item.user_properties.extend(("spec", spec_id) for spec_id in tags.spec)
        if tags.doc is not None:
            item.user_properties.append(("doc", tags.doc))
        if tags.area is not None:
            item.user_properties.append(("area", tags.area))


_RUNS = pytest.StashKey[dict[str, Any]]()
"""The scenario run of an item, as ``bdd`` of its record, while its steps run."""


def pytest_bdd_before_scenario(
    request: pytest.FixtureRequest, feature: _GherkinFeature, scenario: _GherkinScenario
) -> None:
    """Start the item's scenario run: every step ``skipped`` until it runs."""
    request.node.stash[_RUNS] = {
        "feature": {
            "keyword": feature.keyword,
            "name": feature.name,
            "uri": feature.rel_filename,
            "line": feature.line_number,
            "description": feature.description,
            "language": feature.language,
            "tags": sorted(feature.tags),
        },
        "keyword": scenario.keyword,
        "name": scenario.name,
        "line": scenario.line_number,
        "description": scenario.description,
        "tags": sorted(scenario.tags),
        "steps": [
            {
                "keyword": step.keyword,
                "name": step.name,
                "line": step.line_number,
                "status": "skipped",
                "duration_s": 0.0,
            }
            for step in scenario.steps
        ],
    }


def _pending_step(request: pytest.FixtureRequest, step: _GherkinStep) -> dict[str, Any] | None:
    """The entry of ``step`` in the item's scenario run, while it has not finished."""
    run = request.node.stash.get(_RUNS, None)
    steps: list[dict[str, Any]] = run["steps"] if run is not None else []
    for entry in steps:
        if entry["line"] == step.line_number and entry["status"] == "skipped":
            return entry
    return None


def _finish_step(request: pytest.FixtureRequest, step: _GherkinStep, **result: str) -> None:
    entry = _pending_step(request, step)
    if entry is not None:
        started = entry.pop("started", None)
        if started is not None:
            entry["duration_s"] = round(time.perf_counter() - started, 6)
        entry.update(result)


def pytest_bdd_before_step(
    request: pytest.FixtureRequest,
    feature: _GherkinFeature,
    scenario: _GherkinScenario,
    step: _GherkinStep,
    step_func: Callable[..., object],
) -> None:
    """Time the step."""
    entry = _pending_step(request, step)
    if entry is not None:
        entry["started"] = time.perf_counter()


def pytest_bdd_after_step(
    request: pytest.FixtureRequest,
    feature: _GherkinFeature,
    scenario: _GherkinScenario,
    step: _GherkinStep,
    step_func: Callable[..., object],
    step_func_args: dict[str, object],
) -> None:
    """The step passed."""
    _finish_step(request, step, status="passed")


def pytest_bdd_step_error(
    request: pytest.FixtureRequest,
    feature: _GherkinFeature,
    scenario: _GherkinScenario,
    step: _GherkinStep,
    step_func: Callable[..., object],
    step_func_args: dict[str, object],
    exception: Exception,
) -> None:
    """Name the step that failed (``failed_step``), for the evidence; the step failed."""
    request.node.user_properties.append(("failed_step", _describe_step(feature, step)))
    _finish_step(request, step, status="failed", error=f"{type(exception).__name__}: {exception}")


def pytest_bdd_step_func_lookup_error(
    request: pytest.FixtureRequest,
    feature: _GherkinFeature,
    scenario: _GherkinScenario,
    step: _GherkinStep,
    exception: Exception,
) -> None:
    """Name the step that has no definition (``failed_step``), for the evidence."""
    request.node.user_properties.append(("failed_step", _describe_step(feature, step)))
    _finish_step(request, step, status="undefined")


def _describe_step(feature: _GherkinFeature, step: _GherkinStep) -> str:
    return f"{step.keyword} {step.name} ({feature.rel_filename}:{step.line_number})"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Before the call report is made, put the scenario run into the item's user properties,
    which the report copies (and xdist carries to the controller)."""
    run = item.stash.get(_RUNS, None)
    if call.when == "call" and run is not None:
        item.user_properties.append((BDD_PROPERTY, json.dumps(run, ensure_ascii=False)))
    return (yield)


@dataclass
class _ItemProgress:
    """What the phases (setup, call, teardown) of one test item have reported so far."""

    user_properties: list[tuple[str, object]] = field(default_factory=list)
    outcome: str = "passed"
    reason: str | None = None
    evidence: list[str] = field(default_factory=list)
    duration_s: float = 0.0


class ResultRecorder:
    """Writes a result record for each test item once its last phase has reported."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending: dict[str, _ItemProgress] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        progress = self._pending.setdefault(report.nodeid, _ItemProgress())
        progress.user_properties = list(report.user_properties)
        progress.duration_s += report.duration
        if report.failed:
            progress.outcome = "failed"
            progress.evidence.append(_failure_evidence(report))
        elif report.skipped and progress.outcome == "passed":
            progress.outcome = "skipped"
            progress.reason = _skip_reason(report)
        if report.when == "teardown":
            self._write_result(report.nodeid, self._pending.pop(report.nodeid))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._write(
                {
                    RECORD_KEY: "collect-error",
                    "nodeid": report.nodeid,
                    "evidence": report.longreprtext,
                }
            )

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            properties = dict(item.user_properties)
            if "scenario_id" in properties:
                self._write(
                    {
                        RECORD_KEY: "collected",
                        "scenario_id": properties["scenario_id"],
                        "example": example_of(item.nodeid),
                    }
                )

    def pytest_sessionfinish(self) -> None:
        # Items whose teardown never reported (a crashed xdist worker) still get a record.
        for nodeid, progress in list(self._pending.items()):
            self._write_result(nodeid, progress)
        self._pending.clear()

    def _write_result(self, nodeid: str, progress: _ItemProgress) -> None:
        properties = dict(progress.user_properties)
        bdd = properties.get(BDD_PROPERTY)
        self._write(
            {
                RECORD_KEY: "result",
                "nodeid": nodeid,
                "name": nodeid.rpartition("::")[2],
                "scenario_id": properties.get("scenario_id"),
                "example": example_of(nodeid),
                "outcome": progress.outcome,
                "reason": progress.reason,
                "evidence": "\n".join(progress.evidence) or None,
                "duration_s": round(progress.duration_s, 6),
                "deviations": [
                    asdict(Deviation.from_json(str(value)))
                    for key, value in progress.user_properties
                    if key == DEVIATION_PROPERTY
                ],
                "bdd": json.loads(str(bdd)) if bdd is not None else None,
                "transcript": properties.get(TRANSCRIPT_PROPERTY),
            }
        )

    def _write(self, record: dict[str, Any]) -> None:
        # ASCII JSON: safe whatever encoding the pipe to `seenby run` has.
        self._stream.write(json.dumps(record) + "\n")
        self._stream.flush()


def example_of(name: str) -> str | None:
    """The Examples row ID in an outline item's node ID or name (``...[group chat]``), else
    ``None``: the row as reports and known-deviation files name it."""
    name = name.rpartition("::")[2]
    return name[name.index("[") + 1 : -1] if name.endswith("]") and "[" in name else None


def _failure_evidence(report: pytest.TestReport) -> str:
    """The failing step (when a step failed) and the exception's message, without traceback."""
    if report.when == "call":
        lines = [f"step: {value}" for key, value in report.user_properties if key == "failed_step"]
    else:
        lines = [f"error in {report.when}"]
    crash = getattr(report.longrepr, "reprcrash", None)
    lines.append(crash.message if crash is not None else report.longreprtext)
    return "\n".join(lines)


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple | list) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix(_SKIPPED_PREFIX)
    return report.longreprtext
