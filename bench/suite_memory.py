"""Peak memory of a conformance run against a hostile target: ``python -m bench.suite_memory``.

A target that answers a 300 MB body must not make the suite read it whole: the harness cuts
every answer off at its size cap (16 MiB). This runs ``seenby run --quiet`` against the faulty
variant ``C1_conversation_list_of_300_MB`` and, side by side, against the correct server served
the same way (each in its own process, ``python -m tests.mutants.serve``), and measures the
peak resident memory of the largest process of each run (``seenby run`` or the pytest it
starts): each run is started by a small launcher process whose ``RUSAGE_CHILDREN`` then holds
the run's processes alone. Every run must leave its four report files. The target
is a peak under 300 MB. The figures go to ``bench/suite-memory.md``, which ``python -m bench``
copies into ``docs/performance.md``, and, with ``--json``, to a file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from bench.suite_time import seenby_run_command

REPO = Path(__file__).resolve().parent.parent
SECTION = Path(__file__).with_name("suite-memory.md")
HOSTILE = "C1_conversation_list_of_300_MB"
CONTROL = "reference"
PEAK_TARGET_MB = 300.0
REPORTS = ("junit.xml", "cucumber.json", "conformance-summary.json", "report.html")
_RUN_TIMEOUT_SECONDS = 900.0
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "status = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "print(status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


@dataclass(frozen=True)
class MemoryRun:
    """One ``seenby run`` against one server."""

    server: str
    exit_status: int
    peak_mb: float
    seconds: float
    verdict: str
    reports_present: bool


def _serve(name: str) -> tuple[subprocess.Popen[str], str, str]:
    """Start server ``name`` of the galleries in its own process: it, its URL and admin key."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.mutants.serve", name],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    address = json.loads(server.stdout.readline())
    return server, address["url"], address["admin_key"]


def measure_once(name: str, selection: list[str], report_dir: Path) -> MemoryRun:
    """One run of the suite (``selection``: extra ``seenby run`` options) against ``name``."""
    server, url, admin_key = _serve(name)
    try:
        command = [
            *seenby_run_command(), f"--target={url}", f"--admin-key={admin_key}",
            "--report-dir", str(report_dir), *selection,
        ]  # fmt: skip
        started = time.perf_counter()
        launched = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, *command],
            capture_output=True,
            text=True,
            timeout=_RUN_TIMEOUT_SECONDS,
            check=True,
        )
        seconds = time.perf_counter() - started
    finally:
        assert server.stdin is not None
        server.stdin.close()  # the server stops when its standard input closes
        server.wait(30)
    status, peak_kib = (int(word) for word in launched.stdout.split())
    summary_path = report_dir / "conformance-summary.json"
    verdict = (
        json.loads(summary_path.read_text(encoding="utf-8"))["verdict"]
        if summary_path.exists()
        else "no summary"
    )
    return MemoryRun(
        server=name,
        exit_status=status,
        peak_mb=peak_kib / 1024,
        seconds=seconds,
        verdict=verdict,
        reports_present=all((report_dir / each).is_file() for each in REPORTS),
    )


def measure(runs: int, selection: list[str], work_dir: Path) -> list[MemoryRun]:
    """``runs`` runs against each server, the two servers taking turns."""
    results = []
    for run in range(runs):
        for name in (HOSTILE, CONTROL):
            results.append(measure_once(name, selection, work_dir / f"{name}-{run}"))
    return results


def render(results: list[MemoryRun], selection: list[str]) -> str:
    """The "Peak memory against a 300 MB answer" section of ``docs/performance.md``."""
    rows = []
    for name in (HOSTILE, CONTROL):
        mine = [each for each in results if each.server == name]
        peaks = [each.peak_mb for each in mine]
        verdicts = ", ".join(sorted({each.verdict for each in mine}))
        reports = "all" if all(each.reports_present for each in mine) else "MISSING"
        rows.append(
            f"| {name} | {len(mine)} | {statistics.median(peaks):.0f} MB "
            f"({min(peaks):.0f}..{max(peaks):.0f}) | "
            f"{statistics.median(each.seconds for each in mine):.1f} s | {verdicts} | {reports} |"
        )
    scope = " ".join(selection) if selection else "the whole suite"
    return "\n".join(
        [
            "## 9. Peak memory against a 300 MB answer",
            "",
            f"`seenby run --quiet` ({scope}) against `{HOSTILE}`, whose getConversationList "
            "answers a 300 MB body, and against the correct server served the same way, taking "
            "turns; the peak resident memory of the run's largest process (seenby or its "
            "pytest), median (lowest..highest run). Target: under "
            f"{PEAK_TARGET_MB:g} MB, with every report written (`python -m bench.suite_memory`).",
            "",
            "| server | runs | peak memory | wall time | verdicts | reports |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Measure, print the section and write it to ``bench/suite-memory.md``."""
    parser = argparse.ArgumentParser(prog="python -m bench.suite_memory", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per server (default 3)")
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="smoke size: one run each over the conversation scenarios only; writes no section",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the runs as JSON")
    options = parser.parse_args(argv)
    selection = ["--tag", "area-C"] if options.tiny else []
    runs = 1 if options.tiny else options.runs
    with TemporaryDirectory(prefix="seenby-memory-") as work:
        results = measure(runs, selection, Path(work))
    section = render(results, selection)
    print(section)
    if options.json is not None:
        options.json.write_text(json.dumps([asdict(each) for each in results], indent=2) + "\n")
    if not options.tiny:
        SECTION.write_text(section + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
