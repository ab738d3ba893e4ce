"""`bench.load_latency`: `seenby load` beside the dedicated push benchmark, on one server.

The section is rendered from hand-made pairs (the target met, missed, or not measured when the
load generator refused its figure); one smoke run at tiny size proves the benchmark runs end
to end. Nothing here judges the figures of this machine.
"""

from __future__ import annotations

from bench.load_latency import Pair, main, render_section


def pair(dedicated: float, load: float | None, saturated: str | None = None) -> Pair:
    return Pair(
        back_to_back_p50=dedicated / 4,
        back_to_back_p99=dedicated / 2,
        dedicated_p50=dedicated,
        dedicated_p99=dedicated * 2,
        load_p50=load,
        load_p99=None if load is None else load * 2,
        load_samples=100,
        load_lag_p99=1.0,
        load_saturated=saturated,
        load_holds=True,
    )


def render(pairs: list[Pair]) -> str:
    return render_section(pairs, 20, 30, 10, 200, 0.15, "a CPU, 2 cores", "2026-12-08")


def test_the_difference_is_the_median_of_per_run_differences_against_the_target() -> None:
    text = render([pair(1.0, 2.0), pair(1.0, 3.0), pair(2.0, 3.5)])
    row = "| p50 | 0.25 ms (0.25..0.50) | 1.00 ms (1.00..2.00) | 3.00 ms (2.00..3.50) | 1.50 ms"
    assert row in text
    assert "≤ 5 ms: met |" in text and "never reported itself saturated" in text
    assert "≤ 5 ms: missed" in render([pair(1.0, 9.0)])


def test_runs_the_generator_refused_have_no_load_figure_and_are_named() -> None:
    text = render([pair(1.0, None, "its event loop lagged 40 ms at p99")])
    row = "| 1.00 ms (1.00..1.00) | not reported | not reported | ≤ 5 ms: not measured |"
    assert row in text
    assert "saturated in 1 of 1 runs (its event loop lagged 40 ms at p99)" in text


def test_the_benchmark_runs_at_tiny_size() -> None:
    assert main(["--tiny", "--no-write"]) == 0
