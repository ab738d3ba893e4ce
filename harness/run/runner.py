"""``seenby run``: run the conformance suite against a target and write its reports.

Theory of operation:

1. The catalogue (the feature files, parsed without pytest) gives every scenario; ``--id`` and
   ``--tag`` select some. The selection is passed to pytest as an ``-m`` expression of
   scenario IDs, so pytest runs exactly the scenarios the reports list. A known-deviation file
   (``--expect``) is checked first: its IDs against the catalogue and, when it names single
   Examples rows, its rows against what pytest collects (a ``--collect-only`` run), so that a
   misspelt entry is a usage error before anything runs.
2. The target's capabilities are read once for the reports (the bundled server: from a
   throw-away instance of it; the steps plugin starts its own in each pytest process), in a
   thread while the first pytest process starts. What is wrong with them
   (``Capabilities.problems``), or that the call failed, is reported once, at the top:
   progress, summary and report.html.
3. pytest runs in a subprocess with exactly the plugins the suite needs (no autoloading, no
   assertion rewriting: each costs about a second per process), with
   ``seenby.harness.plugins.results`` writing one JSON record per finished item to its standard
   output, which is read line by line: each record is a progress line and a result. Against a
   remote target with ``-n`` > 1, ``@serial`` scenarios (they change global settings) run
   afterwards in a second, serial pass, so they never overlap with others.
4. Each selected scenario gets a verdict from its items' records (a scenario with no record is
   ``not-run``), matched with the known-deviation entries, and ``seenby.harness.reports.summary``
   writes the
   four report files: after every finished item (a run stopped from outside, even by SIGKILL,
   leaves complete reports of what had finished, saying that the run had not), and once more
   at the end from pytest's own JUnit files.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from seenby.harness.api.target import open_target
from seenby.harness.drivers import DEFAULT_DRIVER, get_driver
from seenby.harness.plugins.results import RECORD_KEY
from seenby.harness.reports.summary import (
    TRANSCRIPTS_DIR,
    ItemResult,
    RunReport,
    ScenarioResult,
    write_junit_part,
    write_reports,
)
from seenby.harness.run.catalogue import (
    CatalogueScenario,
    default_features_dir,
    load_catalogue,
    select,
)
from seenby.harness.run.known_deviations import KnownDeviationFile
from seenby.harness.wire.transport import DEFAULT_TIMEOUT

__all__ = [
    "BUNDLED_TARGET",
    "RunSettings",
    "SelectionError",
    "Suite",
    "run",
    "selected_scenarios",
    "suite_versions",
]

BUNDLED_TARGET = "bundled reference server"
"""How reports name the target when no URL was given."""

# The steps plugin reads these too; the runner passes the target explicitly instead, so a stray
# variable in the caller's environment cannot point pytest at another target than the reports.
_TARGET_ENVIRONMENT = ("SEENBY_TARGET", "SEENBY_ADMIN_KEY", "SEENBY_DRIVER")

_UNFINISHED = (
    "the run had not finished when these reports were written: scenarios without a result "
    "are not-run (the reports are rewritten as each scenario finishes)"
)

_PYTEST_EXIT_MEANINGS = {
    2: "interrupted",
    3: "internal error",
    4: "usage error",
    5: "no tests collected",
}


def _package_dir(name: str) -> Path:
    # Locate without importing: harness must not import steps (steps imports harness).
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"package {name!r} is not installed")
    return Path(spec.origin).resolve().parent


class SelectionError(Exception):
    """An ``--id`` or ``--tag`` matches no scenario of the suite."""


@dataclass(frozen=True)
class Suite:
    """Where the scenarios come from: the feature files, and the pytest arguments that collect
    them (run from ``rootdir``)."""

    features_dir: Path
    pytest_args: tuple[str, ...]
    rootdir: Path

    @classmethod
    def installed(cls) -> Suite:
        """seenby's own suite: the ``features`` package, collected by ``--pyargs seenby.steps``."""
        return cls(
            features_dir=default_features_dir(),
            pytest_args=("--pyargs", "seenby.steps"),
            rootdir=_package_dir("seenby.steps").parent,
        )


@dataclass(frozen=True)
class RunSettings:
    """What ``seenby run`` was asked to do."""

    target_url: str | None = None
    """``None``: the bundled reference server."""
    admin_key: str | None = None
    driver: str = DEFAULT_DRIVER
    """``--driver``: how the suite reaches the target (``seenby.harness.drivers``)."""
    ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    report_dir: Path = Path("seenby-report")
    jobs: int = 1
    timeout: float = DEFAULT_TIMEOUT
    """``--timeout``: the time budget of every wait in the suite."""
    strict: bool = False
    """``--strict``: a strict deviation counts as a failure."""
    expect: Path | None = None
    """``--expect``: the known-deviation file."""
    suite: Suite = field(default_factory=Suite.installed)


@dataclass(frozen=True)
class _Pass:
    """One pytest subprocess over some of the selected scenarios."""

    name: str
    scenarios: Sequence[CatalogueScenario]
    jobs: int


def selected_scenarios(
    suite: Suite,
    ids: Sequence[str] = (),
    tags: Sequence[str] = (),
    catalogue: Sequence[CatalogueScenario] | None = None,
) -> tuple[CatalogueScenario, ...]:
    """The suite's scenarios (``catalogue``, read from the suite when not given) having any of
    ``ids`` or ``tags`` (all when both are empty).

    Raises ``CatalogueError`` when the feature files break the tag conventions and
    ``SelectionError`` when an ID or tag matches no scenario.
    """
    if catalogue is None:
        catalogue = load_catalogue(suite.features_dir)
    selection = select(catalogue, ids, tags)
    if selection.unmatched:
        raise SelectionError(
            "no scenario matches "
            + ", ".join(selection.unmatched)
            + " (`seenby run --list` shows every scenario and its tags)"
        )
    return selection.scenarios


def suite_versions() -> dict[str, str]:
    """The versions a report must name to be reproducible."""
    return {
        "seenby": importlib.metadata.version("seenby"),
        "python": platform.python_version(),
        "pytest": importlib.metadata.version("pytest"),
        "pytest-bdd": importlib.metadata.version("pytest-bdd"),
    }


class _Discovery(NamedTuple):
    """The capabilities payload as the target sent it (``None`` if the call failed), and what
    is wrong with it."""

    capabilities: dict[str, Any] | None
    problems: tuple[str, ...]

    def progress_lines(self, target: str) -> list[str]:
        if not self.problems:
            return []
        heading = f"discovery problems of {target} (GET /v1/capabilities):"
        return [heading, *(f"  - {problem}" for problem in self.problems)]


def _discover(settings: RunSettings, target_name: str) -> _Discovery:
    """Read the target's capabilities once, for the reports."""
    try:
        with open_target(
            settings.target_url,
            settings.admin_key,
            timeout=settings.timeout,
            driver=settings.driver,
        ) as target:
            capabilities = target.capabilities
            return _Discovery(dict(capabilities.raw), capabilities.problems)
    except Exception as error:  # any failure to talk to the target belongs in the report
        return _Discovery(None, (f"GET /v1/capabilities failed on {target_name}: {error}",))


def _load_expectations(
    settings: RunSettings, catalogue: Sequence[CatalogueScenario]
) -> KnownDeviationFile | None:
    """Read ``--expect`` and check that every entry names a scenario (and row) of the suite;
    raises ``KnownDeviationFileError``."""
    if settings.expect is None:
        return None
    expectations = KnownDeviationFile.load(settings.expect)
    suite: dict[str, list[str]] = {scenario.id: [] for scenario in catalogue}
    expectations.check_names(suite, rows=False)
    collected = _collected_items(settings) if expectations.names_rows() else None
    if collected is not None:
        for scenario_id, example in collected:
            if example is not None:
                suite.setdefault(scenario_id, []).append(example)
        expectations.check_names(suite)
    return expectations


def _collected_items(settings: RunSettings) -> list[tuple[str, str | None]] | None:
    """(scenario ID, Examples row) of every item pytest collects from the suite; ``None`` when
    the suite cannot be collected (the run then reports why)."""
    command = [*_pytest_base_command(settings), "--collect-only"]
    completed = subprocess.run(
        command,
        cwd=settings.suite.rootdir,
        env=_pytest_environment(settings),
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        check=False,
    )
    if completed.returncode != 0:
        return None
    records = [_parse_record(line) for line in completed.stdout.splitlines()]
    return [
        (record["scenario_id"], record["example"])
        for record in records
        if record is not None and record[RECORD_KEY] == "collected"
    ]


def _pytest_environment(settings: RunSettings) -> dict[str, str]:
    """The caller's environment without its target, with the run's time budget and transcript
    folder, which the steps plugin reads as its options' defaults (a suite without the plugin,
    such as a test's sample suite, is not handed options it does not know)."""
    environment = {
        name: value for name, value in os.environ.items() if name not in _TARGET_ENVIRONMENT
    }
    environment["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    environment["SEENBY_TIMEOUT"] = str(settings.timeout)
    environment["SEENBY_TRANSCRIPTS"] = str((settings.report_dir / TRANSCRIPTS_DIR).resolve())
    return environment


def _plan(settings: RunSettings, scenarios: Sequence[CatalogueScenario]) -> list[_Pass]:
    if settings.jobs > 1 and settings.target_url is not None:
        concurrent = [scenario for scenario in scenarios if not scenario.serial]
        serial = [scenario for scenario in scenarios if scenario.serial]
        passes = [_Pass("parallel", concurrent, settings.jobs), _Pass("serial", serial, 1)]
    else:
        passes = [_Pass("main", scenarios, settings.jobs)]
    return [each for each in passes if each.scenarios]


def _pytest_base_command(settings: RunSettings) -> list[str]:
    """pytest over the suite, writing result records to standard output."""
    return [
        sys.executable, "-m", "pytest", *settings.suite.pytest_args,
        "--rootdir", str(settings.suite.rootdir),
        # Exactly the plugins the suite needs (autoload is off, see _pytest_environment): the
        # other plugins of a shared environment cost each pytest process up to a second to import.
        "-p", "pytest_bdd.plugin", "-p", "seenby.steps.plugin",
        "-p", "seenby.harness.plugins.results", "--seenby-records",
        # The steps' assertions carry their own messages; rewriting every module of the
        # package (pytest rewrites a plugin's whole distribution) costs a second per process
        # when no bytecode is cached.
        "--assert=plain",
        # The records are the run's output; pytest's own terminal report would only interleave.
        "-p", "no:terminal",
        # Never write a cache into the suite's folder (site-packages, for an installed suite).
        "-p", "no:cacheprovider",
        "--strict-markers",
    ]  # fmt: skip


def _pytest_command(settings: RunSettings, each: _Pass, work_dir: Path) -> list[str]:
    command = [
        *_pytest_base_command(settings),
        # xunit2, pytest's default: harness.reports.junit makes the merged file XSD-valid.
        "-o", "junit_family=xunit2",
        "-o", f"junit_suite_name=seenby-{each.name}",
        "--junitxml", str(work_dir / f"junit-{each.name}.xml"),
        "-m", " or ".join(scenario.id for scenario in each.scenarios),
    ]  # fmt: skip
    command += [f"--seenby-driver={settings.driver}"]
    if settings.target_url is not None:
        # key=value form, so a value starting with "-" (token_urlsafe keys can) is no option.
        command += [f"--seenby-target={settings.target_url}"]
        if settings.admin_key is not None:
            command += [f"--seenby-admin-key={settings.admin_key}"]
    if each.jobs > 1:
        command += ["-p", "xdist.plugin", "-n", str(each.jobs)]
    return command


def _pass_heading(each: _Pass, target: str) -> str:
    count = len(each.scenarios)
    if each.name == "serial":
        return (
            f"running {count} @serial scenario{'s' if count != 1 else ''} against {target}, "
            "one at a time and alone (they change global settings)"
        )
    workers = f" on {each.jobs} workers" if each.jobs > 1 else ""
    return f"running {count} scenario{'s' if count != 1 else ''} against {target}{workers}"


def _progress_line(
    scenario: CatalogueScenario | None, item: ItemResult, expectations: KnownDeviationFile | None
) -> str:
    title = scenario.title if scenario is not None else "(not in the catalogue)"
    if item.example is not None:
        title += f" [{item.example}]"
    line = f"  {item.verdict.upper():<7}  {item.scenario_id:<8}  {title}"
    if item.outcome == "skipped" and item.reason:
        line += f" — {item.reason}"
    entry = expectations.for_item(item.scenario_id, item.example) if expectations else None
    if entry is not None:
        line += f" (known: expected to {entry.result}: {entry.reason})"
    details = [str(deviation) for deviation in item.deviations]
    if item.outcome == "failed" and item.evidence:
        details += item.evidence.splitlines()[:4]
    return "\n".join([line, *(f"           {text}" for text in details)])


def _run_pass(
    settings: RunSettings,
    each: _Pass,
    work_dir: Path,
    discovery: Future[_Discovery] | None,
    progress: Callable[[str], None],
    items: list[ItemResult],
    errors: list[str],
    expectations: KnownDeviationFile | None,
    item_finished: Callable[[], None],
) -> None:
    """Run one pass in a pytest process, turning its records into items and progress lines
    (calling ``item_finished`` after each item); ``discovery``'s problems, if given, are
    reported once pytest has started, before the pass's heading."""
    target = settings.target_url or BUNDLED_TARGET
    by_id = {scenario.id: scenario for scenario in each.scenarios}
    with subprocess.Popen(
        _pytest_command(settings, each, work_dir),
        cwd=work_dir,
        env=_pytest_environment(settings),
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
    ) as pytest_process:
        assert pytest_process.stdout is not None
        if discovery is not None:
            for line in discovery.result().progress_lines(target):
                progress(line)
        progress(_pass_heading(each, target))
        for line in pytest_process.stdout:
            record = _parse_record(line)
            if record is None:
                # Not ours (a print at import time, a plugin's notice): pass it on.
                sys.stderr.write(line)
            elif record[RECORD_KEY] == "collect-error":
                errors.append(f"collection error in {record['nodeid']}:\n{record['evidence']}")
                progress(f"  ERROR collecting {record['nodeid']}")
            elif record[RECORD_KEY] == "result" and record.get("scenario_id"):
                item = ItemResult.from_record(record)
                items.append(item)
                progress(_progress_line(by_id.get(item.scenario_id), item, expectations))
                item_finished()
    exit_code = pytest_process.returncode
    if exit_code not in (0, 1):
        meaning = _PYTEST_EXIT_MEANINGS.get(exit_code, "unexpected exit")
        errors.append(f"pytest ({each.name} pass) exited with code {exit_code}: {meaning}")


_REWRITE_INTERVAL_SECONDS = 1.0
"""At most how often the reports of a run still going are rewritten (each rewrite costs tens
of milliseconds; after every item it was half the suite's CPU time)."""


class _Rewriter:
    """Calls ``write`` on a thread of its own once something ``changed``, at most once per
    ``_REWRITE_INTERVAL_SECONDS``, until the block ends (then the caller writes the last)."""

    def __init__(self, write: Callable[[], None]) -> None:
        self._write = write
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="seenby-reports", daemon=True)

    def __enter__(self) -> _Rewriter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._changed.set()
        self._thread.join()

    def changed(self) -> None:
        """Something new is worth reporting."""
        self._changed.set()

    def _run(self) -> None:
        while True:
            self._changed.wait()
            if self._stopping.is_set():
                return
            self._changed.clear()
            # A report that cannot be written fails the run's last write, on the caller's thread.
            with contextlib.suppress(Exception):
                self._write()
            self._stopping.wait(_REWRITE_INTERVAL_SECONDS)


def _parse_record(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and RECORD_KEY in record else None


def run(settings: RunSettings, progress: Callable[[str], None] = lambda line: None) -> RunReport:
    """Run the selected scenarios against the target, write the reports to
    ``settings.report_dir`` and return what was found. ``progress`` receives the discovery
    problems first (if any), then one line per finished scenario (per Examples row of an
    outline) and a line per pass.

    Raises what ``selected_scenarios`` raises, and ``KnownDeviationFileError`` for a bad
    ``--expect`` file, before running anything.
    """
    started_at = datetime.now(UTC)
    catalogue = load_catalogue(settings.suite.features_dir)
    selected = selected_scenarios(settings.suite, settings.ids, settings.tags, catalogue)
    expectations = _load_expectations(settings, catalogue)
    # Created first, so an unwritable folder is found before the run, not after it.
    settings.report_dir.mkdir(parents=True, exist_ok=True)
    # Transcripts of an earlier run in the same folder would be mistaken for this run's.
    shutil.rmtree(settings.report_dir / TRANSCRIPTS_DIR, ignore_errors=True)
    target = settings.target_url or BUNDLED_TARGET
    errors: list[str] = []
    passes = _plan(settings, selected)
    items: list[ItemResult] = []
    # Discovery runs while the first pytest process starts (a second or so of imports and
    # collection); its problems are still reported before any scenario's line.
    with (
        ThreadPoolExecutor(max_workers=1) as discovery_thread,
        tempfile.TemporaryDirectory(prefix="seenby-run-") as work,
    ):
        discovery = discovery_thread.submit(_discover, settings, target)
        work_dir = Path(work)
        junit_parts = [work_dir / f"junit-{each.name}.xml" for each in passes]
        interim_part = work_dir / "junit-so-far.xml"

        def report_so_far(finished: bool) -> RunReport:
            capabilities, discovery_problems = (
                discovery.result() if discovery.done() else (None, ())
            )
            return RunReport(
                target=target,
                capabilities=capabilities,
                settings={
                    "driver": settings.driver,
                    "ids": list(settings.ids),
                    "tags": list(settings.tags),
                    "jobs": settings.jobs,
                    "serial_pass": any(each.name == "serial" for each in passes),
                    "strict": settings.strict,
                    "expect": str(settings.expect) if settings.expect is not None else None,
                },
                versions={**suite_versions(), "driver": get_driver(settings.driver).version},
                started_at=started_at,
                finished_at=datetime.now(UTC),
                results=[
                    ScenarioResult.from_items(
                        scenario,
                        [item for item in items if item.scenario_id == scenario.id],
                        expectations,
                    )
                    for scenario in selected
                ],
                errors=errors if finished else [*errors, _UNFINISHED],
                discovery_problems=discovery_problems,
                strict=settings.strict,
                expectations=expectations,
            )

        pass_started_at = [0]  # the index in ``items`` of the running pass's first item

        def write_so_far() -> None:
            # Passes that ended wrote their own JUnit file; the running one is written from
            # its items so far.
            ended = [part for part in junit_parts if part.exists()]
            running = items[pass_started_at[0] :]
            write_junit_part(running, interim_part, "seenby-so-far", started_at)
            write_reports(report_so_far(False), settings.report_dir, [*ended, interim_part])

        with _Rewriter(write_so_far) as rewriter:
            for number, each in enumerate(passes):
                first = discovery if number == 0 else None
                pass_started_at[0] = len(items)
                _run_pass(
                    settings, each, work_dir, first, progress, items, errors, expectations,
                    rewriter.changed,
                )  # fmt: skip
        discovery.result()
        report = report_so_far(True)
        write_reports(report, settings.report_dir, junit_parts=junit_parts)
    return report
