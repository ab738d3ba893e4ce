"""The ``seenby`` command: ``seenby run`` checks a target and reports, ``seenby serve`` starts the
bundled reference server, ``seenby load`` drives a receipt workload (``seenby.harness.load``),
``seenby drivers`` lists the installed drivers, ``seenby synapse`` starts and stops a throw-away
Synapse for ``--driver matrix``.

``seenby run`` exits 0 when the target is ``conformant`` or ``conformant with N strict
deviations`` (and, with ``--expect``, no entry of the known-deviation file is stale); 1 when it
is not conformant (with ``--strict``: also for a strict deviation), when the run is incomplete,
when a known-deviation entry is stale (the target now does better: remove the entry), or when
the suite's feature files are broken; 2 on a usage error (including an ``--id`` or ``--tag``
that matches no scenario and a known-deviation file that is malformed or names a scenario or
Examples row the suite does not have). Only what the known-deviation file does not list
counts against the target.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from seenby.harness.api.target_options import add_target_options, check_target_options, positive_int
from seenby.harness.drivers import DEFAULT_DRIVER, DriverError, get_driver, installed_drivers
from seenby.harness.drivers.capabilities import CAPABILITIES
from seenby.harness.reports.summary import VERDICTS, RunReport
from seenby.harness.run.catalogue import AREA_NAMES, CatalogueError
from seenby.harness.run.known_deviations import EntryStatus, KnownDeviationFileError
from seenby.harness.run.runner import RunSettings, SelectionError, Suite, run, selected_scenarios
from seenby.harness.wire.transport import DEFAULT_TIMEOUT, time_budget

__all__ = ["main"]

_REPORT_FILES = "junit.xml, cucumber.json, conformance-summary.json, report.html"


def _parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The ``seenby`` parser and its ``run`` subcommand's parser."""
    parser = argparse.ArgumentParser(
        prog="seenby",
        description="Conformance suite and reference server for chat message read receipts.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "serve",
        help="run the bundled reference server (`seenby serve --help` for its options)",
        add_help=False,
    )
    commands.add_parser(
        "drivers",
        help="list the installed drivers and their capabilities",
        description="List the installed drivers (entry point group seenby.drivers), what each "
        "speaks and which capabilities it has; scenarios needing a capability a driver lacks "
        "are not applicable through it.",
    )
    commands.add_parser(
        "synapse",
        help="start or stop a throw-away Synapse for --driver matrix (`seenby synapse --help`)",
        add_help=False,
    )
    commands.add_parser(
        "load",
        help="drive a receipt workload on Locust and check its invariants (`seenby load --help`; "
        "needs the load extra)",
        add_help=False,
    )
    run_parser = commands.add_parser(
        "run",
        help="run the conformance suite against a target and write reports",
        description=(
            "Run the conformance scenarios against a target (default: the bundled reference "
            "server) and write junit.xml, cucumber.json, conformance-summary.json and "
            "report.html. Exit status: 0 conformant (with or without strict deviations), "
            "1 not conformant, incomplete or a stale --expect entry, 2 usage."
        ),
    )
    add_target_options(run_parser, "check")
    run_parser.add_argument(
        "--driver",
        metavar="NAME",
        default=os.environ.get("SEENBY_DRIVER", DEFAULT_DRIVER),
        help=f"how to reach the target (env SEENBY_DRIVER; default {DEFAULT_DRIVER}; "
        "`seenby drivers` lists them); without --target, the driver's throw-away target",
    )
    selection = run_parser.add_argument_group("selection")
    selection.add_argument(
        "--list", action="store_true", help="list the selected scenarios and exit"
    )
    selection.add_argument(
        "--id",
        dest="ids",
        action="append",
        default=[],
        metavar="ID",
        help="run the scenario with this ID (e.g. RR-R-004); repeatable",
    )
    selection.add_argument(
        "--tag",
        dest="tags",
        action="append",
        default=[],
        metavar="TAG",
        help="run the scenarios with this tag (e.g. spec-R-4, area-L, optional); repeatable; "
        "scenarios matching any --id or --tag run",
    )
    levels = run_parser.add_argument_group("conformance levels")
    levels.add_argument(
        "--strict",
        action="store_true",
        help="count a strict deviation (the target answered correctly, but not as the "
        "reference server does) as a failure",
    )
    levels.add_argument(
        "--expect",
        type=Path,
        metavar="FILE",
        help="known-deviation file (TOML): scenarios or Examples rows expected to fail or to "
        "deviate, each with a reason; only what it does not list counts",
    )
    output = run_parser.add_argument_group("execution and output")
    output.add_argument(
        "--timeout",
        type=time_budget,
        default=time_budget(os.environ.get("SEENBY_TIMEOUT", str(DEFAULT_TIMEOUT))),
        metavar="SECONDS",
        help="the time budget: how long any single wait of the suite may take in all, by the "
        "wall clock (an HTTP call with its whole answer, a WebSocket upgrade, a pushed event; "
        f"env SEENBY_TIMEOUT; default {DEFAULT_TIMEOUT:g}); raise it for a slow or distant "
        "target",
    )
    output.add_argument(
        "--report-dir",
        type=Path,
        default=Path("seenby-report"),
        metavar="DIR",
        help="where to write the reports (default: ./seenby-report/)",
    )
    output.add_argument(
        "-n",
        dest="jobs",
        type=positive_int,
        default=1,
        metavar="N",
        help="run on N parallel workers (pytest-xdist); default 1",
    )
    output.add_argument(
        "--notebook",
        type=Path,
        metavar="PATH",
        help="also write a Jupyter notebook presenting the results (needs the notebooks extra)",
    )
    output.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print only the verdict, not a line per scenario and the table by area",
    )
    return parser, run_parser


def _list_scenarios(suite: Suite, ids: Sequence[str], tags: Sequence[str]) -> str:
    scenarios = selected_scenarios(suite, ids, tags)
    rows = [("ID", "AREA", "LEVEL", "SPEC", "NEEDS", "TITLE")]
    rows += [
        (
            scenario.id,
            scenario.area,
            "required" if scenario.required else "optional",
            ",".join(scenario.spec),
            ",".join(scenario.needs) or "-",
            scenario.title,
        )
        for scenario in scenarios
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True))
        + "  "
        + row[5]
        for row in rows
    ]
    lines.append(f"{len(scenarios)} scenarios")
    return "\n".join(lines)


def _list_drivers() -> str:
    """Each installed driver: name, version, what it speaks, its capabilities and lacks."""
    lines = []
    for name, driver in installed_drivers().items():
        has = sorted(driver.capabilities)
        lacks = sorted(set(CAPABILITIES) - driver.capabilities)
        lines.append(f"{name} {driver.version}: {driver.description}")
        lines.append(f"  capabilities: {', '.join(has) or 'none'}")
        lines.append(f"  lacks: {', '.join(lacks) or 'nothing'}")
    lines.append("")
    lines.append("capabilities (a scenario tagged @needs-<name> is not applicable without it):")
    lines.extend(f"  {name}: {meaning}" for name, meaning in CAPABILITIES.items())
    return "\n".join(lines)


def _area_table(report: RunReport) -> str:
    name_width = max([len(f"{area}  {name}") for area, name in AREA_NAMES.items()] + [5])
    width = max(len(verdict) for verdict in VERDICTS) + 2
    header = "area".ljust(name_width) + "".join(f"{verdict:>{width}}" for verdict in VERDICTS)
    lines = [header]
    for area in report.by_area():
        label = f"{area['area']}  {area['name']}".ljust(name_width)
        lines.append(label + "".join(f"{area['counts'][v]:>{width}}" for v in VERDICTS))
    total = report.counts
    lines.append("total".ljust(name_width) + "".join(f"{total[v]:>{width}}" for v in VERDICTS))
    return "\n".join(lines)


def _deviation_lines(report: RunReport) -> list[str]:
    """Each distinct strict deviation, with both answers, its section and where it was seen."""
    if not report.deviations:
        return []
    lines = [f"strict deviations ({len(report.deviations)} distinct):"]
    for deviation in report.deviations:
        known = " [expected]" if deviation.expected else ""
        lines.append(f"  - {deviation.describe()}{known}")
    return lines


def _expectation_lines(report: RunReport) -> list[str]:
    """Every known-deviation entry of the selection, judged; stale ones say what to do."""
    if report.expectations is None:
        return []
    source = report.expectations.source
    judged = [each for result in report.results for each in result.expected]
    lines = [f"known deviations ({source}): {len(judged)} entries for the selection"]
    for each in judged:
        marker = "STALE" if each.status is EntryStatus.STALE else str(each.status)
        lines.append(f"  {marker:<9}  {each.expectation.advice(each.status, source)}")
    return lines


def _verdict_line(report: RunReport) -> str:
    verdict = report.verdict
    if report.failed:
        detail = f"{len(report.failed)} failed: {', '.join(report.failed)}"
    elif verdict == "not-conformant":
        deviating = sorted(
            {label for each in report.unexpected_deviations for label in each.seen_in}
        )
        detail = f"deviating: {', '.join(deviating)}"
    elif not report.results:
        detail = "no scenario ran"
    elif report.unproven:
        detail = (
            f"{len(report.unproven)} required not run, skipped or not applicable: "
            + ", ".join(report.unproven)
        )
    else:
        detail = f"all {len(report.results)} scenarios passed core checks or were optional skips"
    if report.expectations is not None:
        judged = [each for result in report.results for each in result.expected]
        counted = [each for each in judged if each.status is not EntryStatus.UNCHECKED]
        detail += f"; {len(counted)} known-deviation entries of {report.expectations.source} apply"
        if report.stale:
            detail += f", {len(report.stale)} of them stale (exit status 1 until removed)"
    not_applicable = report.counts["not-applicable"]
    if not_applicable:
        detail += f"; {not_applicable} not applicable through this driver"
    return f"verdict: {report.verdict_text} ({detail})"


def _print_progress(line: str) -> None:
    # Flushed: in CI, standard output is a pipe and would otherwise hold lines back.
    print(line, flush=True)


def _run(parser: argparse.ArgumentParser, options: argparse.Namespace) -> int:
    suite = Suite.installed()
    if options.list:
        try:
            print(_list_scenarios(suite, options.ids, options.tags))
        except SelectionError as error:
            parser.error(str(error))
        return 0
    check_target_options(parser, options, "the suite")
    try:
        get_driver(options.driver)
    except DriverError as error:
        parser.error(str(error))
    if options.notebook is not None and importlib.util.find_spec("nbformat") is None:
        parser.error("--notebook needs nbformat: pip install -e '.[notebooks]'")
    settings = RunSettings(
        target_url=options.target,
        admin_key=options.admin_key,
        driver=options.driver,
        ids=tuple(options.ids),
        tags=tuple(options.tags),
        report_dir=options.report_dir,
        jobs=options.jobs,
        timeout=options.timeout,
        strict=options.strict,
        expect=options.expect,
        suite=suite,
    )
    try:
        report = run(settings, progress=(lambda _: None) if options.quiet else _print_progress)
    except (SelectionError, KnownDeviationFileError) as error:
        parser.error(str(error))
    for problem in report.errors:
        print(f"seenby: {problem}", file=sys.stderr)
    if options.quiet:
        # Without progress, the discovery problems were not printed yet: they still come first.
        for problem in report.discovery_problems:
            print(f"discovery problem: {problem}")
    else:
        print()
        print(_area_table(report))
        print()
        for line in _deviation_lines(report) + _expectation_lines(report):
            print(line)
    print(_verdict_line(report))
    print(f"reports: {settings.report_dir}/ ({_REPORT_FILES})")
    if options.notebook is not None:
        from seenby.harness.run.notebook import (
            write_results_notebook,  # nbformat: the notebooks extra
        )

        summary_path = settings.report_dir / "conformance-summary.json"
        print(f"notebook: {write_results_notebook(summary_path, options.notebook)}")
    return 0 if report.succeeded else 1


def _load(arguments: list[str]) -> int:
    """``seenby load``: Locust runs on gevent, which must patch the standard library before
    anything imports it, so the load runs in a fresh interpreter under ``gevent.monkey``."""
    if importlib.util.find_spec("locust") is None:
        print("seenby load needs the load extra: pip install 'seenby[load]'", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "gevent.monkey", "--module", "seenby.harness.load", *arguments]
    with subprocess.Popen(command) as child:
        try:
            return child.wait()
        except KeyboardInterrupt:  # the child got the same Ctrl-C and winds down
            return child.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``seenby`` console script; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["serve"]:
        # The harness touches the reference server only to start it.
        from seenby.reference_server.cli import main as serve

        exit_status: int = serve(arguments[1:])
        return exit_status
    if arguments[:1] == ["load"]:
        return _load(arguments[1:])
    if arguments[:1] == ["synapse"]:
        from seenby.harness.drivers.matrix.synapse import main as synapse

        return synapse(arguments[1:])
    parser, run_parser = _parsers()
    options = parser.parse_args(arguments)
    if options.command == "drivers":
        try:
            print(_list_drivers())
        except DriverError as error:
            print(f"seenby: {error}", file=sys.stderr)
            return 1
        return 0
    try:
        return _run(run_parser, options)
    except CatalogueError as error:
        print(f"seenby: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("seenby: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
