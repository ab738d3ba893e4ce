"""`python -m bench.matrix_load`: one receipt workload through the drivers, on seenby and Synapse.

Writes the section "The same workload on Synapse" to `bench/matrix_load.md`, which `python -m
bench` copies into docs/performance.md (a separate command: it starts a throw-away Synapse).
In one run, the workload of `seenby load --driver` (`seenby.harness.load.through_driver`:
users in groups, rounds of every user sending one needReadReceipt message to its group and
every member receipting the round's messages in one call, in parallel) goes through the
`seenby` driver to the bundled reference server and through the `matrix` driver to a
throw-away Synapse (SQLite, loopback), in interleaved repeats: receipts/s over the run's wall
time, and receipt push latency from the start of the reader's call to the sender's push, p50 and
p99 pooled over the repeats. The invariants of each repeat are judged as `seenby load` judges
them; the table says which held and which broke on each target.

The load generator (threads), the server and Synapse share the machine's cores, so the figures
are of the whole setup on this machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import Machine
from seenby.harness import open_target
from seenby.harness.drivers import get_driver
from seenby.harness.drivers.matrix.synapse import DEFAULT_VENV, ThrowawaySynapse
from seenby.harness.load.through_driver import (
    DriverLoadResult,
    DriverLoadSettings,
    percentile,
    run_through_driver,
)

__all__ = ["FULL", "SMOKE", "MatrixLoadSizes", "main", "measure", "render_section"]

SECTION = Path(__file__).with_name("matrix_load.md")
TIMEOUT_S = 20.0
KNOWN_BREAKS = {
    ("matrix", "push-to-sender-only"): "Matrix sends every member's `m.read` receipts to "
    "every member of the room, so other members are told (docs/targets/synapse.md, RR-P-008)",
    ("matrix", "push-final"): "a reader's `m.read` overtaken by its next one before the "
    "sender's /sync is not sent on (a receipt names only the reader's latest event), so that "
    "message's sender is never told of that read, though the pulled count has it",
}
"""Why an invariant breaks on a target, where docs/targets/ explains it."""


@dataclass(frozen=True)
class MatrixLoadSizes:
    """How big one measurement is."""

    repeats: int
    workload: DriverLoadSettings


FULL = MatrixLoadSizes(repeats=3, workload=DriverLoadSettings(users=24, group_size=6, rounds=5))
SMOKE = MatrixLoadSizes(repeats=1, workload=DriverLoadSettings(users=4, group_size=2, rounds=1))


def _summary(results: list[DriverLoadResult]) -> dict[str, Any]:
    latencies = [ms for result in results for ms in result.latencies_ms]
    broken = sorted({i.name for result in results for i in result.verdict.broken})
    not_checked = sorted({i.name for result in results for i in result.verdict.not_checked})
    return {
        "implementation": results[0].implementation,
        "driver": results[0].driver,
        "receiptsPerSecond": [round(result.receipts_per_s, 1) for result in results],
        "receipts": sum(result.receipts for result in results),
        "pushP50Ms": percentile(latencies, 50),
        "pushP99Ms": percentile(latencies, 99),
        "pushesTimed": len(latencies),
        "broken": broken,
        "notChecked": not_checked,
        "notCheckedBecause": {
            i.name: i.not_checked_because
            for result in results
            for i in result.verdict.not_checked
            if i.not_checked_because
        },
        "faults": [fault for result in results for fault in result.faults][:5],
    }


def measure(sizes: MatrixLoadSizes, scratch: Path) -> dict[str, Any]:
    """Run the workload on the reference server and on Synapse, interleaved; the figures."""
    runs: dict[str, list[DriverLoadResult]] = {"seenby": [], "matrix": []}
    with (
        ThrowawaySynapse(scratch / "synapse", venv=DEFAULT_VENV) as synapse,
        open_target(None, driver="seenby", timeout=TIMEOUT_S) as reference,
        open_target(synapse.url, synapse.admin_key, driver="matrix", timeout=TIMEOUT_S) as matrix,
    ):
        for _ in range(sizes.repeats):
            for name, target in (("seenby", reference), ("matrix", matrix)):
                runs[name].append(run_through_driver(target, get_driver(name), sizes.workload))
    return {
        "repeats": sizes.repeats,
        "users": sizes.workload.users,
        "groupSize": sizes.workload.group_size,
        "rounds": sizes.workload.rounds,
        "targets": [_summary(results) for results in runs.values()],
    }


def render_section(figures: dict[str, Any], machine: str, date: str) -> str:
    """The Markdown section."""
    lines = [
        "## 11. The same workload on Synapse (through the drivers)",
        "",
        f"Measured {date} on {machine} by `.venv/bin/python -m bench.matrix_load`: the workload "
        f"of `seenby load --driver` ({figures['users']} users in groups of "
        f"{figures['groupSize']}, {figures['rounds']} rounds; each round every user sends one "
        "needReadReceipt message to its group and every member receipts the round's messages "
        "in one call, all in parallel), through the `seenby` driver to the bundled reference "
        "server and through the `matrix` driver to a throw-away Synapse (SQLite, loopback), "
        f"{figures['repeats']} interleaved repeats. Receipt push latency: from the start of the "
        "reader's call to the sender's push (a /sync response carrying several readers at once "
        "times each of them). Load generator, server and Synapse share the machine's cores.",
        "",
        "| target | receipts/s (median) | runs | receipt push p50 / p99 | pushes timed "
        "| invariants broken | not checked |",
        "|---|---|---|---|---|---|---|",
    ]
    reference_rate = statistics.median(figures["targets"][0]["receiptsPerSecond"]) or 1.0
    for target in figures["targets"]:
        rate = statistics.median(target["receiptsPerSecond"])
        lines.append(
            f"| {target['implementation'].strip()} (driver `{target['driver']}`) "
            f"| {rate:.0f} ({rate / reference_rate:.2f}x) "
            f"| {', '.join(f'{r:.0f}' for r in target['receiptsPerSecond'])} "
            f"| {target['pushP50Ms']:.1f} / {target['pushP99Ms']:.1f} ms "
            f"| {target['pushesTimed']} "
            f"| {', '.join(target['broken']) or 'none'} "
            f"| {', '.join(target['notChecked']) or 'none'} |"
        )
    lines.append("")
    for target in figures["targets"]:
        for code in target["broken"]:
            why = KNOWN_BREAKS.get(
                (target["driver"], code),
                "not explained yet (`seenby load --driver` prints the breaches with examples)",
            )
            lines.append(f"- `{code}` broke through `{target['driver']}`: {why}.")
        for code, why in target["notCheckedBecause"].items():
            lines.append(f"- `{code}` not checked through `{target['driver']}`: {why}.")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run, print the section, write it to bench/matrix_load.md (unless ``--no-write``)."""
    parser = argparse.ArgumentParser(prog="python -m bench.matrix_load", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="smoke-test sizes (seconds)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="seenby-bench-matrix-load-") as scratch:
        figures = measure(SMOKE if options.smoke else FULL, Path(scratch))
    machine = Machine.this_one()
    text = render_section(figures, f"{machine.cpu}, {machine.cores} cores", machine.date)
    sys.stdout.write(text)
    if options.json is not None:
        options.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    if not options.no_write:
        SECTION.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
