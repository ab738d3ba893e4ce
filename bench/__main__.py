"""`python -m bench`: run seenby's benchmarks, print the tables, rewrite docs/performance.md."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.big_send import measure_big_send
from bench.client_process import ClientProcess
from bench.push_latency import measure_push_latency
from bench.report import Machine, Previous, Results, render_markdown, render_text, write_json
from bench.scale import measure_scale
from bench.sizes import FULL, QUICK, TINY
from bench.suite_time import measure_suite_time
from bench.throughput import measure_throughput

BENCHMARKS = ("throughput", "push", "scale", "bigsend", "suite")
DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
DOC_FIGURES = DOC.with_suffix(".json")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the seenby reference server; print the figures and rewrite "
        "docs/performance.md with them.",
    )
    profile = parser.add_mutually_exclusive_group()
    profile.add_argument("--quick", action="store_true", help="CI sizes (about a minute)")
    profile.add_argument("--tiny", action="store_true", help="smoke-test sizes (seconds)")
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        help="run only this benchmark (repeatable); needs --no-write",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave docs/performance.md alone"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks; 0 when they ran (missed targets are figures, not errors)."""
    parser = _parser()
    options = parser.parse_args(argv)
    if options.only and not options.no_write:
        parser.error("docs/performance.md needs every benchmark: add --no-write to --only")
    sizes = TINY if options.tiny else QUICK if options.quick else FULL
    selected = set(options.only or BENCHMARKS)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="seenby-bench-") as scratch, ClientProcess() as client:
        workdir = Path(scratch)
        throughput = measure_throughput(client, sizes, workdir) if "throughput" in selected else []
        push = measure_push_latency(client, sizes, workdir) if "push" in selected else []
        scale = measure_scale(sizes, workdir) if "scale" in selected else None
        big_send = measure_big_send(client, sizes, workdir) if "bigsend" in selected else None
        suite = (
            measure_suite_time(sizes.suite_runs, workdir)
            if "suite" in selected and sizes.suite_runs
            else None
        )
    results = Results(
        sizes=sizes,
        machine=Machine.this_one(),
        throughput=tuple(throughput),
        push=tuple(push),
        scale=scale,
        big_send=big_send,
        suite=suite,
        wall_seconds=time.perf_counter() - started,
    )
    sys.stdout.write(render_text(results))
    if options.json is not None:
        write_json(results, options.json)
    if not options.no_write:
        DOC.write_text(render_markdown(results, Previous.load(DOC_FIGURES)), encoding="utf-8")
        write_json(results, DOC_FIGURES)
        print(f"wrote {DOC} and {DOC_FIGURES.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
