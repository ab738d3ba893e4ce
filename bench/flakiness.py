"""How often does the suite fail a correct server? ``python -m bench.flakiness``.

Runs the whole conformance suite against the bundled reference server many times, serially
(default 20 runs) and on two workers (default 5 runs), each as ``seenby run`` in a subprocess,
and reports every scenario that ever ended in anything but ``pass``, with the runs it did so
in. The target is none: a flaky scenario would teach QA teams to ignore red. The figures go to
``bench/flakiness.md``, which ``python -m bench`` copies into ``docs/performance.md``, and, with
``--json``, to a file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.suite_time import seenby_run_command

_RUN_TIMEOUT_SECONDS = 900.0
SECTION = Path(__file__).with_name("flakiness.md")


@dataclass(frozen=True)
class FlakeReport:
    """Runs made in each mode, their wall times, and each scenario that did not pass."""

    runs: dict[str, int]
    seconds: dict[str, list[float]]
    not_passed: dict[str, list[str]] = field(default_factory=dict)
    """Scenario ID → the runs (``serial#3``, ``-n 2#1``) where its verdict was not ``pass``."""

    @property
    def flaky_scenarios(self) -> int:
        """How many scenarios failed (or did not run) at least once."""
        return len(self.not_passed)


def measure(serial_runs: int, parallel_runs: int) -> FlakeReport:
    """Run the suite ``serial_runs`` times alone and ``parallel_runs`` times with ``-n 2``."""
    modes = {"serial": (serial_runs, 1), "-n 2": (parallel_runs, 2)}
    not_passed: dict[str, list[str]] = defaultdict(list)
    seconds: dict[str, list[float]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory(prefix="seenby-flakiness-") as work:
        for mode, (runs, jobs) in modes.items():
            for run in range(1, runs + 1):
                reports = Path(work) / f"{mode.replace(' ', '')}-{run}"
                started = time.perf_counter()
                finished = subprocess.run(
                    [*seenby_run_command(), "-n", str(jobs), "--report-dir", str(reports)],
                    cwd=work,
                    capture_output=True,
                    text=True,
                    timeout=_RUN_TIMEOUT_SECONDS,
                    check=False,
                )
                seconds[mode].append(round(time.perf_counter() - started, 2))
                summary_path = reports / "conformance-summary.json"
                if not summary_path.exists():
                    raise RuntimeError(f"{mode} run {run} wrote no summary:\n{finished.stderr}")
                summary = json.loads(summary_path.read_text(encoding="utf-8"))
                for scenario in summary["scenarios"]:
                    if scenario["verdict"] not in ("pass", "skip"):
                        not_passed[scenario["id"]].append(f"{mode}#{run}: {scenario['verdict']}")
                print(f"{mode} run {run}/{runs}: {seconds[mode][-1]} s, {summary['verdict']}")
    runs = {mode: count for mode, (count, _) in modes.items()}
    return FlakeReport(runs, seconds, dict(not_passed))


def main(argv: list[str] | None = None) -> int:
    """Measure, print the scenarios that did not pass, optionally write JSON; exit 1 if any."""
    parser = argparse.ArgumentParser(prog="python -m bench.flakiness", description=__doc__)
    parser.add_argument("--serial", type=int, default=20, metavar="N", help="serial runs (20)")
    parser.add_argument("--parallel", type=int, default=5, metavar="N", help="-n 2 runs (5)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the result here")
    options = parser.parse_args(argv)
    report = measure(options.serial, options.parallel)
    total = sum(report.runs.values())
    print(f"{report.flaky_scenarios} scenario(s) did not pass in some of {total} runs")
    for scenario_id, where in sorted(report.not_passed.items()):
        print(f"  {scenario_id}: {', '.join(where)}")
    if options.json is not None:
        options.json.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    SECTION.write_text(render_section(report), encoding="utf-8")
    return 1 if report.not_passed else 0


def render_section(report: FlakeReport) -> str:
    """The "Flakiness" section of ``docs/performance.md``."""
    rows = [
        f"| {mode} | {runs} | {statistics.median(report.seconds[mode]):.1f} s "
        f"({min(report.seconds[mode]):.1f}..{max(report.seconds[mode]):.1f}) |"
        for mode, runs in report.runs.items()
        if runs
    ]
    failed = [
        f"- `{scenario_id}`: {', '.join(where)}"
        for scenario_id, where in sorted(report.not_passed.items())
    ] or ["- none: every scenario passed every run"]
    return "\n".join(
        [
            "## 8. Flakiness of the suite",
            "",
            "The whole suite against the bundled server, again and again (`python -m "
            "bench.flakiness`, written "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}); target: no scenario ever "
            "fails a correct server.",
            "",
            "| mode | runs | wall time, median (range) |",
            "|---|---|---|",
            *rows,
            "",
            f"Scenarios that did not pass in some run: {report.flaky_scenarios}",
            "",
            *failed,
            "",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
