"""Statistics for noisy machines: medians over repeated runs and ratios of paired runs.

A single run on a shared 2-core machine says little. Every figure the benchmarks report is a
`Figure`: the median of the per-run values, with the spread (min..max) kept so a reader can see
how noisy the machine was. A comparison is the median of per-run ratios, each ratio taken from a
baseline run and a subject run made back to back (`paired_ratio`), so slow drift of the machine
cancels out instead of landing on one side. Percentiles follow the one rule of
`seenby.harness.load.stats.percentile` (linear interpolation between ranks), shared with
`seenby load`'s reports.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from seenby.harness.load.stats import percentile

__all__ = ["Figure", "paired_ratio", "percentile"]


@dataclass(frozen=True)
class Figure:
    """One reported number: the median of `runs` per-run values, and their range."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Figure:
        """Summarise per-run values (at least one)."""
        if not values:
            raise ValueError("a figure needs at least one run")
        return cls(
            median=statistics.median(values), low=min(values), high=max(values), runs=len(values)
        )

    def scaled(self, factor: float) -> Figure:
        """The same figure in another unit (e.g. seconds to milliseconds)."""
        return Figure(self.median * factor, self.low * factor, self.high * factor, self.runs)


def paired_ratio(subject: Sequence[float], baseline: Sequence[float]) -> Figure:
    """Median of subject[i] / baseline[i] over runs made side by side."""
    if len(subject) != len(baseline):
        raise ValueError(f"unpaired runs: {len(subject)} subject vs {len(baseline)} baseline")
    return Figure.of([s / b for s, b in zip(subject, baseline, strict=True)])
