"""pytest plugin that records per-scenario results for ``seenby run`` (``-p harness.reporting``).

- Every scenario's test item carries its scenario ID, spec IDs, doc section and area as
  ``user_properties``, so ``--junitxml`` writes them as ``<properties>`` of its ``<testcase>``.
  The step that failed is added as ``failed_step``.
- With ``--seenby-records``, one JSON line per finished test item goes to standard output:
  ``{"seenby": "result", "nodeid", "scenario_id", "example", "outcome", "reason", "evidence",
  "duration_s"}`` (and ``{"seenby": "collect-error", "nodeid", "evidence"}``). ``seenby run``
  starts pytest with ``-p no:terminal`` and reads these lines: they are both its live progress
  and its results. Verdicts come from here, never from Cucumber JSON, which leaves out skipped
  scenarios.
- Under pytest-xdist, pytest-bdd 9 keeps each scenario's report context in a registry local to
  the worker, so the controller's ``--cucumberjson`` would be an empty list. The context is
  carried inside the test report to the controller and registered there again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TextIO

import pytest
from pytest_bdd.parser import Feature, Scenario, Step
from pytest_bdd.reporting import ReportContext, test_report_context_registry

from harness.catalogue import decode_tags

__all__ = ["RECORD_KEY", "ResultRecorder"]

RECORD_KEY = "seenby"
"""Every record line is a JSON object with this key (its kind: ``result``, ``collect-error``)."""

_BDD_CONTEXT = "seenby_bdd_context"
_SKIPPED_PREFIX = "Skipped: "


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


def pytest_bdd_step_error(
    request: pytest.FixtureRequest,
    feature: Feature,
    scenario: Scenario,
    step: Step,
    step_func: Callable[..., object],
    step_func_args: dict[str, object],
    exception: Exception,
) -> None:
    """Name the step that failed (``failed_step``), for the evidence."""
    request.node.user_properties.append(("failed_step", _describe_step(feature, step)))


def pytest_bdd_step_func_lookup_error(
    request: pytest.FixtureRequest,
    feature: Feature,
    scenario: Scenario,
    step: Step,
    exception: Exception,
) -> None:
    """Name the step that has no definition (``failed_step``), for the evidence."""
    request.node.user_properties.append(("failed_step", _describe_step(feature, step)))


def _describe_step(feature: Feature, step: Step) -> str:
    return f"{step.keyword} {step.name} ({feature.rel_filename}:{step.line_number})"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """In an xdist worker, carry pytest-bdd's report context inside the report."""
    # Outermost wrapper: pytest-bdd has registered the report's context by the time we resume.
    report = yield
    context = test_report_context_registry.get(report)
    if context is not None and hasattr(item.config, "workerinput"):
        vars(report)[_BDD_CONTEXT] = {"scenario": context.scenario, "name": context.name}
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """In the controller, register a carried context again for the Cucumber JSON writer."""
    # tryfirst: runs before pytest-bdd's writer, which looks the context up in its registry.
    carried = vars(report).get(_BDD_CONTEXT)
    if carried is not None and report not in test_report_context_registry:
        test_report_context_registry[report] = ReportContext(
            scenario=carried["scenario"], name=carried["name"]
        )


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

    def pytest_sessionfinish(self) -> None:
        # Items whose teardown never reported (a crashed xdist worker) still get a record.
        for nodeid, progress in list(self._pending.items()):
            self._write_result(nodeid, progress)
        self._pending.clear()

    def _write_result(self, nodeid: str, progress: _ItemProgress) -> None:
        properties = dict(progress.user_properties)
        name = nodeid.rpartition("::")[2]
        example = name[name.index("[") + 1 : -1] if name.endswith("]") and "[" in name else None
        self._write(
            {
                RECORD_KEY: "result",
                "nodeid": nodeid,
                "scenario_id": properties.get("scenario_id"),
                "example": example,
                "outcome": progress.outcome,
                "reason": progress.reason,
                "evidence": "\n".join(progress.evidence) or None,
                "duration_s": round(progress.duration_s, 6),
            }
        )

    def _write(self, record: dict[str, Any]) -> None:
        # ASCII JSON: safe whatever encoding the pipe to `seenby run` has.
        self._stream.write(json.dumps(record) + "\n")
        self._stream.flush()


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
