"""Benchmark 6: wall time of the whole conformance run against the bundled server.

Each run is `seenby run --quiet` as a subprocess, exactly as a QA engineer would start it,
writing its reports to a temporary directory; serially and on two workers (`-n 2`), the runs of
the two modes interleaved so that both see the same machine. The time is the subprocess's wall
time, start to exit, including interpreter start-up and report writing. The verdict line is
kept, so a figure from a run that was not conformant says so.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.stats import Figure

_SUITE_TIMEOUT_SECONDS = 900.0


SERIAL_TARGET_SECONDS = 12.0
PARALLEL_TARGET_SECONDS = 8.0
"""The suite-time targets: the median whole run, serially and with `-n 2` on this 2-core machine."""


@dataclass(frozen=True)
class SuiteTime:
    """Median wall time of `seenby run`, serially and with `-n 2`, with the verdicts printed."""

    seconds: Figure
    parallel_seconds: Figure
    verdicts: tuple[str, ...]


def seenby_run_command() -> list[str]:
    """`seenby run --quiet` of this interpreter's environment (the project's virtualenv)."""
    return [str(Path(sys.executable).with_name("seenby")), "run", "--quiet"]


def measure_suite_time(runs: int, workdir: Path) -> SuiteTime:
    """Run the conformance suite `runs` times in each mode; fail if a run does not finish or
    cannot start."""
    seconds: dict[int, list[float]] = {1: [], 2: []}
    verdicts = []
    for run in range(runs):
        for jobs in (1, 2):
            started = time.perf_counter()
            finished = subprocess.run(
                [*seenby_run_command(), "-n", str(jobs),
                 "--report-dir", str(workdir / f"suite-report-{run}-{jobs}")],
                cwd=workdir,
                capture_output=True,
                text=True,
                timeout=_SUITE_TIMEOUT_SECONDS,
                check=False,
            )  # fmt: skip
            seconds[jobs].append(time.perf_counter() - started)
            verdict = next(
                (line for line in finished.stdout.splitlines() if line.startswith("verdict:")), ""
            )
            if finished.returncode not in (0, 1) or not verdict:
                raise RuntimeError(
                    f"seenby run exited {finished.returncode} without a verdict:\n"
                    f"{finished.stdout[-2000:]}{finished.stderr[-2000:]}"
                )
            verdicts.append(verdict.removeprefix("verdict: ").split(" (")[0])
    return SuiteTime(Figure.of(seconds[1]), Figure.of(seconds[2]), tuple(verdicts))
