"""Races made to show: calls released together by a barrier, in rounds, until one round sees a
wrong result or a bound (rounds, seconds) is reached.

A race in a faulty server needs no artificial delay to show: released at one moment, concurrent
calls meet in the server often enough that some round of a few dozen interleaves them. A correct
server never gives a wrong round, so it always runs every round; the bounds keep that short.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["RaceOutcome", "release_together", "repeat_until_wrong"]

T = TypeVar("T")


def release_together(calls: Sequence[Callable[[], T]], timeout: float) -> list[T]:
    """Run every call on a thread of its own, all released at the same moment by a barrier;
    their results in order. A call that raises raises here; none waits longer than
    ``timeout`` seconds for the others to be ready or for its answer."""
    start = threading.Barrier(len(calls))

    def released(call: Callable[[], T]) -> T:
        start.wait(timeout)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(released, call) for call in calls]
        return [future.result(timeout=timeout) for future in futures]


@dataclass(frozen=True)
class RaceOutcome:
    """How a repetition ended."""

    rounds: int
    """Rounds run (the wrong one included)."""
    seconds: float
    wrong: str | None
    """What the first wrong round saw; ``None`` if every round was right."""


def repeat_until_wrong(
    one_round: Callable[[int], str | None], *, max_rounds: int, max_seconds: float
) -> RaceOutcome:
    """Run ``one_round(n)`` for n = 1, 2, ... until it says what went wrong (a string), or
    ``max_rounds`` rounds have run, or ``max_seconds`` have passed (at least one round runs)."""
    began = time.monotonic()
    rounds = 0
    while True:
        rounds += 1
        wrong = one_round(rounds)
        elapsed = time.monotonic() - began
        if wrong is not None or rounds >= max_rounds or elapsed >= max_seconds:
            return RaceOutcome(rounds, elapsed, wrong)
