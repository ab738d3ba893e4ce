"""Benchmark 5: wall time of the whole conformance run against the bundled server.

Each run is `seenby run --quiet` as a subprocess, exactly as a QA engineer would start it,
writing its reports to a temporary directory. The time is the subprocess's wall time, start to
exit, including interpreter start-up and report writing. The verdict line is kept, so a figure
from a run that was not conformant says so.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.stats import Figure

_SUITE_TIMEOUT_SECONDS = 900.0


@dataclass(frozen=True)
class SuiteTime:
    """Median wall time of `seenby run`, with the verdicts the runs printed."""

    seconds: Figure
    verdicts: tuple[str, ...]


def _seenby_command() -> list[str]:
    # The console script lives next to this interpreter (the project's virtualenv).
    return [str(Path(sys.executable).with_name("seenby")), "run", "--quiet"]


def measure_suite_time(runs: int, workdir: Path) -> SuiteTime:
    """Run the conformance suite `runs` times; fail if a run does not finish or cannot start."""
    seconds = []
    verdicts = []
    for run in range(runs):
        started = time.perf_counter()
        finished = subprocess.run(
            [*_seenby_command(), "--report-dir", str(workdir / f"suite-report-{run}")],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=_SUITE_TIMEOUT_SECONDS,
            check=False,
        )
        seconds.append(time.perf_counter() - started)
        verdict = next(
            (line for line in finished.stdout.splitlines() if line.startswith("verdict:")), ""
        )
        if finished.returncode not in (0, 1) or not verdict:
            raise RuntimeError(
                f"seenby run exited {finished.returncode} without a verdict:\n"
                f"{finished.stdout[-2000:]}{finished.stderr[-2000:]}"
            )
        verdicts.append(verdict.removeprefix("verdict: "))
    return SuiteTime(Figure.of(seconds), tuple(verdicts))
