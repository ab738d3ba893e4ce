"""Receipts per second and push latency over a load run, per wall-clock second.

Locust keeps request statistics; this keeps the two series it does not: receipts (not calls)
acknowledged per second, and the latency of each receipt push from the reader's call to the
sender's frame. Workers ship theirs to the master with their ledger; ``merge`` adds them up.
"""

from __future__ import annotations

import statistics
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

__all__ = ["Timeline"]


class Timeline:
    """Per-second counters (keys are whole Unix seconds, so machines' series line up)."""

    def __init__(self) -> None:
        self.receipts: Counter[int] = Counter()
        self.push_latency_ms: dict[int, list[float]] = {}
        self._lock = threading.Lock()

    def add_receipts(self, at: float, count: int) -> None:
        """``count`` new receipts were acknowledged at Unix time ``at``."""
        with self._lock:
            self.receipts[int(at)] += count

    def add_push_latency(self, at: float, latency_ms: float) -> None:
        """A receipt push arrived at ``at``, ``latency_ms`` after its reader's call began."""
        with self._lock:
            self.push_latency_ms.setdefault(int(at), []).append(latency_ms)

    def sustained_receipts_per_s(self, start: float, end: float) -> float:
        """Median receipts per second over the whole seconds in [start, end)."""
        window = range(int(start) + 1, int(end))
        if not window:
            return 0.0
        return float(statistics.median(self.receipts.get(second, 0) for second in window))

    def latency_percentile(self, fraction: float) -> float:
        """The ``fraction`` quantile (0.99 = p99) of every push latency, in ms; 0 if none."""
        samples = sorted(v for values in self.push_latency_ms.values() for v in values)
        if not samples:
            return 0.0
        return samples[min(len(samples) - 1, int(fraction * len(samples)))]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        with self._lock:
            return {
                "receipts": [[s, n] for s, n in sorted(self.receipts.items())],
                "pushLatencyMs": [[s, v] for s, v in sorted(self.push_latency_ms.items())],
            }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timeline:
        """The inverse of ``to_json``."""
        timeline = cls()
        timeline.receipts = Counter({s: n for s, n in data["receipts"]})
        timeline.push_latency_ms = {s: list(v) for s, v in data["pushLatencyMs"]}
        return timeline

    @classmethod
    def merge(cls, timelines: Iterable[Timeline]) -> Timeline:
        """The sum of ``timelines`` (several workers over the same seconds)."""
        merged = cls()
        for timeline in timelines:
            merged.receipts.update(timeline.receipts)
            for second, values in timeline.push_latency_ms.items():
                merged.push_latency_ms.setdefault(second, []).extend(values)
        return merged
