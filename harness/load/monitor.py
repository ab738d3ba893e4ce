"""The load generator watching itself: event-loop lag and CPU share, into the `Timeline`.

A latency the generator measures includes the generator's own delay: a frame that arrived while
the event loop was busy elsewhere is stamped late. Under gevent every user, every push reader
and this monitor share one loop, so a timer that should fire every ``TICK_S`` and fires late
shows exactly that delay (the lag Locust's users would suffer too); the process's CPU time per
second shows when it ran out of core. `Timeline.saturation` turns both into the verdict on the
figures. The monitor is a plain thread, a greenlet once gevent has patched ``threading``.
"""

from __future__ import annotations

import resource
import threading
import time

from .timeline import LOOP_LAG, Timeline

__all__ = ["TICK_S", "GeneratorMonitor"]

TICK_S = 0.1
"""How often the monitor asks to be woken."""


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class GeneratorMonitor:
    """Samples the event-loop lag every ``TICK_S`` and the CPU share every second until
    ``stop``."""

    def __init__(self, timeline: Timeline) -> None:
        self._timeline = timeline
        self._stopping = threading.Event()
        self._thread = threading.Thread()
        """The sampling thread (a placeholder until ``start``)."""

    def start(self) -> GeneratorMonitor:
        """Begin sampling, unless already sampling; returns self."""
        if not self._thread.is_alive():
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self._run, name="seenby-load-monitor", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling (waits for the last tick)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(5 * TICK_S)

    def _run(self) -> None:
        cpu_before, wall_before = _cpu_seconds(), time.monotonic()
        while not self._stopping.is_set():
            asked = time.monotonic()
            time.sleep(TICK_S)
            woke = time.monotonic()
            self._timeline.add(LOOP_LAG, time.time(), max(0.0, woke - asked - TICK_S) * 1000)
            if woke - wall_before >= 1.0:
                cpu = _cpu_seconds()
                self._timeline.add_cpu_share(time.time(), (cpu - cpu_before) / (woke - wall_before))
                cpu_before, wall_before = cpu, woke
