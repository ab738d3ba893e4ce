"""What a load run measured, per wall-clock second: receipts, latencies, and the generator itself.

Locust keeps request statistics; this keeps what it does not, as raw samples so that every
percentile follows the one rule (`seenby.harness.load.stats`):

- receipts (not calls) acknowledged per second;
- latency series (``SERIES``), each sample filed under the second it was taken: every call's
  duration by method, each receipt push from the call that caused it to the sender's frame and
  each message push from the send to the recipient's frame — split by whether the receiving user
  stayed on one connection meanwhile (*live*) or had to reconnect (*after a reconnect*: that
  wait is time offline, not delivery) — and each reconnect's time offline;
- the load generator's own health: the lag of its event loop (how late a periodic timer fires)
  and its CPU share, so that a figure measured while the generator was saturated is refused
  (`saturation`) rather than published as the target's.

Workers ship theirs to the master with their ledger; ``merge`` adds them up (a second's CPU
share is the busiest process's).
"""

from __future__ import annotations

import statistics
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

from .stats import percentile

__all__ = [
    "CPU_LIMIT",
    "LAG_LIMIT_MS",
    "LOOP_LAG",
    "MESSAGE_PUSH",
    "MESSAGE_PUSH_AFTER_RECONNECT",
    "OFFLINE",
    "RECEIPT_PUSH",
    "RECEIPT_PUSH_AFTER_RECONNECT",
    "Timeline",
    "call_series",
]

RECEIPT_PUSH = "receipt push"
"""From the reader's ``sendMessageReadReceipts`` starting to the sender's frame, the sender on
one connection throughout."""
RECEIPT_PUSH_AFTER_RECONNECT = "receipt push after a reconnect"
MESSAGE_PUSH = "message push"
"""From the sender's ``sendMessage`` starting to a recipient's frame, live."""
MESSAGE_PUSH_AFTER_RECONNECT = "message push after a reconnect"
OFFLINE = "offline"
"""A reconnecting user's time without a push connection: from closing (or finding it closed)
to the new connection's handshake done."""
LOOP_LAG = "event-loop lag"
"""How much later than asked a 100 ms timer of the generator's event loop fired."""

LAG_LIMIT_MS = 25.0
"""Above this p99 event-loop lag the generator adds its own delay to every latency: no latency
figure is reported."""
CPU_LIMIT = 0.9
"""A generator process above this share of a core (Locust warns at 90 % too) is saturated."""
CPU_SECONDS_LIMIT = 2
"""Seconds over ``CPU_LIMIT`` that make a run saturated."""


def call_series(method: str) -> str:
    """The series of ``method``'s call durations."""
    return f"POST {method}"


class Timeline:
    """Per-second counters and samples (keys are whole Unix seconds, so machines line up)."""

    def __init__(self) -> None:
        self.receipts: Counter[int] = Counter()
        self.samples: dict[str, dict[int, list[float]]] = {}
        """Series name → second → samples (ms)."""
        self.cpu_share: dict[int, float] = {}
        """Second → the generator's CPU time in it, as a share of one core (busiest process)."""
        self._lock = threading.Lock()

    def add_receipts(self, at: float, count: int) -> None:
        """``count`` new receipts were acknowledged at Unix time ``at``."""
        with self._lock:
            self.receipts[int(at)] += count

    def add(self, series: str, at: float, value_ms: float) -> None:
        """One sample of ``series`` taken at Unix time ``at``."""
        with self._lock:
            self.samples.setdefault(series, {}).setdefault(int(at), []).append(value_ms)

    def add_cpu_share(self, at: float, share: float) -> None:
        """The generator used ``share`` of a core over the second ending at ``at``."""
        with self._lock:
            second = int(at)
            self.cpu_share[second] = max(share, self.cpu_share.get(second, 0.0))

    def values(self, series: str, start: float = 0.0, end: float = float("inf")) -> list[float]:
        """Every sample of ``series`` taken in the whole seconds from ``start`` to ``end``."""
        with self._lock:
            per_second = dict(self.samples.get(series, {}))
        return [
            value
            for second, values in per_second.items()
            if int(start) <= second <= end
            for value in values
        ]

    def sustained_receipts_per_s(self, start: float, end: float) -> float:
        """Median receipts per second over the whole seconds in [start, end)."""
        window = range(int(start) + 1, int(end))
        if not window:
            return 0.0
        return float(statistics.median(self.receipts.get(second, 0) for second in window))

    def saturation(self, start: float, end: float) -> str | None:
        """Why the generator was saturated between ``start`` and ``end`` (its event loop lagged,
        or a process was out of CPU), or None if it kept up."""
        reasons = []
        lags = self.values(LOOP_LAG, start, end)
        if lags and percentile(lags, 0.99) > LAG_LIMIT_MS:
            reasons.append(
                f"its event loop lagged {percentile(lags, 0.99):.1f} ms at p99 (limit "
                f"{LAG_LIMIT_MS:g} ms; max {max(lags):.0f} ms)"
            )
        busy = [s for s, share in self.cpu_share.items() if start <= s <= end and share > CPU_LIMIT]
        if len(busy) >= CPU_SECONDS_LIMIT:
            reasons.append(
                f"a generator process used over {CPU_LIMIT:.0%} of a core for {len(busy)} s"
            )
        return "; ".join(reasons) or None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        with self._lock:
            return {
                "receipts": [[s, n] for s, n in sorted(self.receipts.items())],
                "samples": {
                    name: [[s, v] for s, v in sorted(per_second.items())]
                    for name, per_second in self.samples.items()
                },
                "cpuShare": [[s, share] for s, share in sorted(self.cpu_share.items())],
            }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timeline:
        """The inverse of ``to_json``."""
        timeline = cls()
        timeline.receipts = Counter({s: n for s, n in data["receipts"]})
        timeline.samples = {
            name: {s: list(v) for s, v in per_second}
            for name, per_second in data["samples"].items()
        }
        timeline.cpu_share = {s: share for s, share in data["cpuShare"]}
        return timeline

    @classmethod
    def merge(cls, timelines: Iterable[Timeline]) -> Timeline:
        """The sum of ``timelines`` (several workers over the same seconds)."""
        merged = cls()
        for timeline in timelines:
            merged.receipts.update(timeline.receipts)
            for name, per_second in timeline.samples.items():
                into = merged.samples.setdefault(name, {})
                for second, values in per_second.items():
                    into.setdefault(second, []).extend(values)
            for second, share in timeline.cpu_share.items():
                merged.add_cpu_share(second, share)
        return merged
