"""Closed-loop load: N reader threads, each replaying its own requests on its own connection.

Every thread connects first, then all start together at a barrier; the run lasts from that
release until the last thread has its last answer. Each thread sends its next request as soon as
the previous one is answered (closed loop), so the figure is the throughput the server sustains
with N callers in flight, not a rate the generator imposes. Meant to run in a `ClientProcess`.
"""

from __future__ import annotations

import json
import threading
import time
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

    threads = [threading.Thread(target=read, args=(index,)) for index in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for connection in connections:
        connection.close()
    return LoadResult(
        seconds=max(finished) - started[0],
        succeeded=sum(succeeded),
        failed=sum(len(job.scripts[i]) for i in range(readers)) - sum(succeeded),
        first_failure=failures[0] if failures else "",
    )
