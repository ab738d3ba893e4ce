"""How big each benchmark is: the full profile, `--quick` for CI, `--tiny` for the smoke test."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    """One profile of the benchmark sizes."""

    name: str
    runs: int
    """Repetitions behind every median (and baseline/subject pairs behind every ratio)."""
    readers: tuple[int, ...]
    """Concurrent receipting readers of the throughput benchmark."""
    run_seconds: float
    """Aimed-for length of one throughput run (the work is sized from a pilot run)."""
    push_users: tuple[int, ...]
    """Users holding WebSockets open in the push benchmark."""
    push_samples: int
    """Receipt-to-push latencies measured per run."""
    group_recipients: tuple[int, ...]
    """Recipients of the groups of the scale benchmark (smallest first)."""
    calls_per_point: int
    """Calls per group size and operation in each round of the scale benchmark."""
    big_send_recipients: int
    """Recipients of the group that bystanders' calls must not notice (benchmark 5)."""
    suite_runs: int
    """Runs of the conformance suite (0: not measured)."""


FULL = Sizes(
    name="full",
    runs=5,
    readers=(1, 8, 32),
    run_seconds=1.0,
    push_users=(10, 100, 1_000),
    push_samples=200,
    group_recipients=(10, 1_000, 10_000, 100_000),
    calls_per_point=30,
    big_send_recipients=100_000,
    suite_runs=5,
)
QUICK = Sizes(
    name="quick",
    runs=5,
    readers=(1, 8, 32),
    run_seconds=0.4,
    push_users=(10, 100, 1_000),
    push_samples=50,
    group_recipients=(10, 1_000, 10_000),
    calls_per_point=5,
    big_send_recipients=10_000,
    suite_runs=0,
)
TINY = Sizes(
    name="tiny",
    runs=2,
    readers=(1, 4),
    run_seconds=0.05,
    push_users=(3, 5),
    push_samples=4,
    group_recipients=(3, 400),
    calls_per_point=2,
    big_send_recipients=2_000,
    suite_runs=0,
)
PROFILES = {sizes.name: sizes for sizes in (FULL, QUICK, TINY)}
