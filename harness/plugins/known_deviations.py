"""pytest plugin for ``--seenby-expect FILE``: a known-deviation file
(``seenby.harness.run.known_deviations``)
when the suite runs under pytest itself (``pytest --pyargs seenby.steps --seenby-expect FILE``).

- At collection, before ``-m``/``-k`` deselect anything, every entry must name a collected
  scenario (and Examples row); otherwise pytest stops with a usage error (exit status 4).
- An item covered by a ``fail`` entry gets an ``xfail`` marker with the entry's reason, so
  pytest reports it ``XFAIL`` (and ``XPASS`` when it passes) instead of failing the session.
- At the end, each entry whose scenario ran is judged as ``seenby run`` judges it; the terminal
  summary lists them, and a stale entry (the target now does better) sets the exit status to 1,
  as in ``seenby run``.

Under xdist, collection and markers happen in each worker and the judging in the controller,
from the reports it receives. A worker cannot stop the session with a usage error (xdist reports
it as an internal error), so a worker that finds a bad entry runs nothing and passes the message
to the controller in ``workeroutput`` (xdist's public channel), which ends the session with the
same message and exit status 4.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from seenby.harness.plugins.results import example_of
from seenby.harness.run.catalogue import decode_tags
from seenby.harness.run.known_deviations import (
    EntryStatus,
    KnownDeviationFile,
    KnownDeviationFileError,
)
from seenby.harness.wire.deviations import DEVIATION_PROPERTY

__all__ = ["KnownDeviationsPlugin"]

_WORKER_ERROR = "seenby_expect_error"
"""The ``workeroutput`` key of a worker's usage error."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--seenby-expect``."""
    group = parser.getgroup("seenby", "seenby conformance suite")
    group.addoption(
        "--seenby-expect",
        metavar="FILE",
        type=Path,
        default=None,
        help="known-deviation file (TOML): scenarios or Examples rows expected to fail or to "
        "deviate, each with a reason",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Read ``--seenby-expect``; a malformed file is a usage error."""
    path = config.getoption("seenby_expect")
    if path is None:
        return
    try:
        expectations = KnownDeviationFile.load(path)
    except KnownDeviationFileError as error:
        raise pytest.UsageError(f"--seenby-expect: {error}") from error
    config.pluginmanager.register(KnownDeviationsPlugin(expectations), "seenby-known-deviations")


def _scenario_and_row(item: pytest.Item) -> tuple[str | None, str | None]:
    scenario_id = decode_tags(marker.name for marker in item.iter_markers()).id
    return scenario_id, example_of(item.nodeid)


class KnownDeviationsPlugin:
    """Marks the items of ``fail`` entries as xfail, and judges every entry at the end."""

    def __init__(self, expectations: KnownDeviationFile) -> None:
        self._expectations = expectations
        self._verdicts: dict[str, dict[str | None, str]] = {}
        """Scenario ID → row → verdict of each item that reported."""
        self._lines: list[str] = []
        self._usage_error: str | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Check the entries against every collected item, then mark the expected failures."""
        suite: dict[str, list[str]] = {}
        for item in items:
            scenario_id, row = _scenario_and_row(item)
            if scenario_id is not None:
                rows = suite.setdefault(scenario_id, [])
                if row is not None:
                    rows.append(row)
        try:
            self._expectations.check_names(suite)
        except KnownDeviationFileError as error:
            message = f"--seenby-expect: {error}"
            workeroutput: dict[str, Any] | None = getattr(config, "workeroutput", None)
            if workeroutput is None:
                raise pytest.UsageError(message) from error
            workeroutput[_WORKER_ERROR] = message
            config.hook.pytest_deselected(items=list(items))
            items.clear()
            return
        for item in items:
            scenario_id, row = _scenario_and_row(item)
            entry = self._expectations.for_item(scenario_id, row) if scenario_id else None
            if entry is not None and entry.excuses_failure():
                reason = f"known failure ({self._expectations.source}): {entry.reason}"
                item.add_marker(pytest.mark.xfail(reason=reason, strict=False))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep the item's verdict: ``fail`` (an xfail counts as the failure it is), ``skip``,
        ``deviate`` or ``pass``."""
        # The report's keywords hold the item's marker names, so its Gherkin tags (under xdist too).
        scenario_id = decode_tags(report.keywords).id
        if scenario_id is None:
            return
        rows = self._verdicts.setdefault(scenario_id, {})
        row = example_of(report.nodeid)
        if report.failed or (report.skipped and hasattr(report, "wasxfail")):
            rows[row] = "fail"
        elif report.skipped:
            rows.setdefault(row, "skip")
        elif report.when == "call" and rows.get(row) not in ("fail", "skip"):
            deviated = any(key == DEVIATION_PROPERTY for key, _ in report.user_properties)
            rows[row] = "deviate" if deviated else "pass"

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """(xdist controller) Take a worker's usage error."""
        self._usage_error = getattr(node, "workeroutput", {}).get(_WORKER_ERROR, self._usage_error)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Judge each entry whose scenario reported; a stale one fails the session."""
        if self._usage_error is not None:
            sys.stderr.write(f"ERROR: {self._usage_error}\n")
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
            return
        stale = False
        for entry in self._expectations.entries:
            verdicts = self._verdicts.get(entry.scenario_id)
            if verdicts is None:
                continue
            status = entry.assess(
                self._expectations.covered_verdicts(entry, verdicts, len(verdicts))
            )
            stale = stale or status is EntryStatus.STALE
            self._lines.append(f"{status}: {entry.advice(status, self._expectations.source)}")
        if stale and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """List the judged entries."""
        if self._lines:
            terminalreporter.write_sep(
                "-", f"seenby known deviations ({self._expectations.source})"
            )
            for line in self._lines:
                terminalreporter.write_line(line)
