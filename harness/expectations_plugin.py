"""pytest plugin for ``--seenby-expect FILE``: a known-deviation file (``harness.expectations``)
when the suite runs under pytest itself (``pytest --pyargs steps --seenby-expect FILE``).

- At collection, before ``-m``/``-k`` deselect anything, every entry must name a collected
  scenario (and Examples row); otherwise pytest stops with a usage error (exit status 4).
- An item covered by a ``fail`` entry gets an ``xfail`` marker with the entry's reason, so
  pytest reports it ``XFAIL`` (and ``XPASS`` when it passes) instead of failing the session.
- At the end, each entry whose scenario ran is judged as ``seenby run`` judges it; the terminal
  summary lists them, and a stale entry (the target now does better) sets the exit status to 1,
  as in ``seenby run``.

Under xdist, collection and markers happen in each worker and the judging in the controller,
from the reports it receives.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.catalogue import decode_tags
from harness.deviations import DEVIATION_PROPERTY
from harness.expectations import EntryStatus, Expectations, ExpectationsError
from harness.reporting import example_of

__all__ = ["KnownDeviations"]


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
        expectations = Expectations.load(path)
    except ExpectationsError as error:
        raise pytest.UsageError(f"--seenby-expect: {error}") from error
    config.pluginmanager.register(KnownDeviations(expectations), "seenby-known-deviations")


def _scenario_and_row(item: pytest.Item) -> tuple[str | None, str | None]:
    scenario_id = decode_tags(marker.name for marker in item.iter_markers()).id
    return scenario_id, example_of(item.nodeid)


class KnownDeviations:
    """Marks the items of ``fail`` entries as xfail, and judges every entry at the end."""

    def __init__(self, expectations: Expectations) -> None:
        self._expectations = expectations
        self._verdicts: dict[str, dict[str | None, str]] = {}
        """Scenario ID → row → verdict of each item that reported."""
        self._lines: list[str] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
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
        except ExpectationsError as error:
            raise pytest.UsageError(f"--seenby-expect: {error}") from error
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

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Judge each entry whose scenario reported; a stale one fails the session."""
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
