"""Load generators, meant to run in a `ClientProcess`: N threads, each replaying its own
requests on its own keep-alive connection; every thread connects first, then all start together
at a barrier.

- `run_load`, closed loop: each thread sends its next request as soon as the previous one is
  answered, so the figure is the throughput the server sustains with N callers in flight, not a
  rate the generator imposes. The run lasts from the release until the last answer.
- `run_paced`, paced: each thread sends a request every `interval` seconds (at once if the
  previous answer came late) for `seconds`, and records when each call was sent and how long
  its answer took, on the machine's monotonic clock (shared by processes on Linux), so the
  caller can pick the calls that overlapped something it did meanwhile.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.wire import KeepAliveConnection


@dataclass(frozen=True)
class LoadJob:
    """What to send: one tuple of serialised requests per reader thread."""

    host: str
    port: int
    scripts: tuple[tuple[bytes, ...], ...]


@dataclass(frozen=True)
class LoadResult:
    """How it went: successful calls, failed calls and the run's wall time."""

    seconds: float
    succeeded: int
    failed: int
    first_failure: str

    @property
    def per_second(self) -> float:
        """Successful calls per second."""
        return self.succeeded / self.seconds


def _run_each(thread_body: Callable[[int], None], connections: list[KeepAliveConnection]) -> None:
    """Run `thread_body(index)` on a thread per connection; close the connections after."""
    threads = [threading.Thread(target=thread_body, args=(i,)) for i in range(len(connections))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for connection in connections:
        connection.close()


def _succeeded(status: int, body: bytes) -> bool:
    return status == 200 and json.loads(body).get("code") == 0


def run_load(job: LoadJob) -> LoadResult:
    """Replay `job.scripts` concurrently and time it."""
    readers = len(job.scripts)
    connections = [KeepAliveConnection(job.host, job.port) for _ in range(readers)]
    started = [0.0]
    finished = [0.0] * readers
    succeeded = [0] * readers
    failures: list[str] = []
    barrier = threading.Barrier(readers, action=lambda: started.__setitem__(0, time.perf_counter()))

    def read(index: int) -> None:
        connection = connections[index]
        barrier.wait()
        try:
            for request in job.scripts[index]:
                status, body = connection.send(request)
                if _succeeded(status, body):
                    succeeded[index] += 1
                else:
                    failures.append(f"HTTP {status}: {body[:200]!r}")
        except OSError as error:
            failures.append(f"reader {index}: {error!r}")
        finally:
            finished[index] = time.perf_counter()

    _run_each(read, connections)
    return LoadResult(
        seconds=max(finished) - started[0],
        succeeded=sum(succeeded),
        failed=sum(len(job.scripts[i]) for i in range(readers)) - sum(succeeded),
        first_failure=failures[0] if failures else "",
    )


@dataclass(frozen=True)
class PacedJob:
    """What to send, how often and for how long: each thread cycles through its script."""

    host: str
    port: int
    scripts: tuple[tuple[bytes, ...], ...]
    interval: float
    seconds: float


@dataclass(frozen=True)
class PacedCall:
    """One call of a paced run: when it was sent (monotonic seconds) and how long it took."""

    sent: float
    seconds: float
    succeeded: bool


def run_paced(job: PacedJob) -> list[PacedCall]:
    """Replay `job.scripts` at the job's pace; return every call in the order sent per thread."""
    connections = [KeepAliveConnection(job.host, job.port) for _ in job.scripts]
    calls: list[list[PacedCall]] = [[] for _ in job.scripts]
    barrier = threading.Barrier(len(job.scripts))

    def send(index: int) -> None:
        connection, script = connections[index], job.scripts[index]
        barrier.wait()
        start = time.monotonic()
        for count in itertools.count():
            due = start + count * job.interval
            if due - start >= job.seconds:
                return
            time.sleep(max(0.0, due - time.monotonic()))
            sent = time.monotonic()
            status, body = connection.send(script[count % len(script)])
            calls[index].append(PacedCall(sent, time.monotonic() - sent, _succeeded(status, body)))

    _run_each(send, connections)
    return [call for per_thread in calls for call in per_thread]
