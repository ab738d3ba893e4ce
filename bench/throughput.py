"""Benchmark 1: receipts applied per second, against a no-op server on the same stack.

Setup (unmeasured): a reference server in this process on a file database (WAL,
`synchronous=FULL`: the durable configuration), one Work group of a sender and the readers.
Each run the sender sends fresh needReadReceipt messages, and every reader receipts every one of
them, one `sendMessageReadReceipts` call per message over its own keep-alive connection;
readers start at different messages so they do not queue on the same row. The no-op server
gets the very same requests, replayed as many times as it is faster so that its runs last as
long. Runs alternate baseline-first and subject-first, and each run's ratio is taken against
its own partner. After each subject run, `getMessageReadReceipts` confirms that every message
counts exactly one read per reader, so the figure is receipts applied.

Durability bounds the ratio: N readers have at most N calls in flight, so at most N receipts
share one `fsync`, and the ratio cannot pass `N x no-op answer time / durable commit time`.
After each pair, 200 one-row transactions on a scratch file with the server's settings (WAL,
`synchronous=FULL`) time a durable commit; every row reports that bound beside its ratio, and
with one reader (one `fsync` per receipt) the bound stands instead of a target.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from bench.baseline import NoopServer
from bench.client_process import ClientProcess
from bench.load import LoadJob, LoadResult, run_load
from bench.population import Admin, send_group_messages
from bench.sizes import Sizes
from bench.stats import Figure, paired_ratio
from bench.wire import KeepAliveConnection, encode_call
from seenby import reference_server

RATIO_TARGETS = {8: 0.35, 32: 0.5}
"""Receipt throughput / no-op baseline to reach, by number of readers."""
_COMMITS_TIMED = 200
_PILOT_RECEIPTS = 200
_MAX_RECEIPTS_PER_RUN = 20_000
_PULL_BATCH = 30


@dataclass(frozen=True)
class ThroughputRow:
    """Receipt throughput at one concurrency, its baseline, and their paired ratio."""

    readers: int
    receipts_per_run: int
    receipts_per_second: Figure
    baseline_per_second: Figure
    ratio: Figure
    commit_seconds: Figure
    """A durable commit's time, measured beside each pair."""
    fsync_bound: Figure
    """The ratio the commit time allows: readers x no-op answer time / commit time."""

    @property
    def target(self) -> float | None:
        """The ratio to reach at this concurrency, if there is one."""
        return RATIO_TARGETS.get(self.readers)

    @property
    def meets_target(self) -> bool:
        """Whether the median ratio reaches the target."""
        return self.target is not None and self.ratio.median >= self.target


def durable_commit_seconds(path: Path) -> float:
    """Median time of a one-row write transaction with the server's durability settings."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        times = []
        for value in range(_COMMITS_TIMED):
            started = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t VALUES (?)", (value,))
            db.execute("COMMIT")
            times.append(time.perf_counter() - started)
    return statistics.median(times)


_Plan = list[tuple[str, str]]
"""One reader's receipts to send, as (token, msgID)."""


class _ReceiptWorkload:
    """The reference server with a group of readers, making fresh receipt work on demand."""

    def __init__(self, server: reference_server.RunningServer, readers: int) -> None:
        self._server = server
        with KeepAliveConnection(server.host, server.port) as connection:
            admin = Admin(connection, server.admin_key)
            ((sender_id, self._sender_token),) = admin.create_users("sender", 1).items()
            reader_tokens = admin.create_users("reader", readers)
            self._reader_tokens = list(reader_tokens.values())
            self._group_id = admin.create_group(sender_id, list(reader_tokens))

    def scripts(self, readers: int, per_reader: int) -> tuple[list[str], list[_Plan]]:
        """Send `per_reader` messages; return them and, per reader, (token, msgID) to receipt."""
        with KeepAliveConnection(self._server.host, self._server.port) as connection:
            msg_ids = send_group_messages(
                connection, self._sender_token, self._group_id, per_reader
            )
        plans = []
        for reader in range(readers):
            start = reader * per_reader // readers
            rotated = msg_ids[start:] + msg_ids[:start]
            plans.append([(self._reader_tokens[reader], msg_id) for msg_id in rotated])
        return msg_ids, plans

    def check_applied(self, msg_ids: list[str], readers: int) -> None:
        """Fail unless each message counts exactly `readers` reads."""
        with KeepAliveConnection(self._server.host, self._server.port) as connection:
            for start in range(0, len(msg_ids), _PULL_BATCH):
                receipts = connection.call(
                    "getMessageReadReceipts",
                    {"msgIDs": msg_ids[start : start + _PULL_BATCH]},
                    self._sender_token,
                )
                wrong = [r for r in receipts if r["readCount"] != readers]
                if wrong:
                    raise RuntimeError(f"receipts were not all applied: {wrong[:3]}")


def _job(host: str, port: int, plans: list[_Plan], repeat: int = 1) -> LoadJob:
    """Each reader's receipt calls, serialised; `repeat` replays them (only the no-op cares)."""
    return LoadJob(
        host,
        port,
        tuple(
            tuple(
                encode_call(host, port, "sendMessageReadReceipts", {"msgIDs": [msg_id]}, token)
                for token, msg_id in plan
            )
            * repeat
            for plan in plans
        ),
    )


def _checked(result: LoadResult, what: str) -> LoadResult:
    if result.failed:
        raise RuntimeError(f"{what}: {result.failed} calls failed, first: {result.first_failure}")
    return result


def measure_throughput(client: ClientProcess, sizes: Sizes, workdir: Path) -> list[ThroughputRow]:
    """Run benchmark 1 at each concurrency of `sizes.readers`."""
    rows = []
    with (
        reference_server.start("127.0.0.1", 0, str(workdir / "throughput.sqlite3")) as server,
        NoopServer() as noop,
    ):
        workload = _ReceiptWorkload(server, max(sizes.readers))
        for readers in sizes.readers:
            # Pilot runs size the work so that a measured run of either server lasts about
            # `run_seconds`: the no-op replays the same calls as many times as it is faster.
            _, pilot_plans = workload.scripts(readers, math.ceil(_PILOT_RECEIPTS / readers))
            pilot = _checked(
                client.call(run_load, _job(server.host, server.port, pilot_plans)), "pilot run"
            )
            baseline_pilot = _checked(
                client.call(run_load, _job(noop.host, noop.port, pilot_plans)), "no-op pilot"
            )
            per_reader = math.ceil(
                min(pilot.per_second * sizes.run_seconds, _MAX_RECEIPTS_PER_RUN) / readers
            )
            repeat = max(1, round(baseline_pilot.per_second / pilot.per_second))
            subject_rates: list[float] = []
            baseline_rates: list[float] = []
            commits: list[float] = []
            for run in range(sizes.runs):
                msg_ids, plans = workload.scripts(readers, per_reader)
                subject_job = _job(server.host, server.port, plans)
                baseline_job = _job(noop.host, noop.port, plans, repeat)
                if run % 2:
                    subject = _checked(client.call(run_load, subject_job), "reference server")
                    baseline = _checked(client.call(run_load, baseline_job), "no-op server")
                else:
                    baseline = _checked(client.call(run_load, baseline_job), "no-op server")
                    subject = _checked(client.call(run_load, subject_job), "reference server")
                workload.check_applied(msg_ids, readers)
                subject_rates.append(subject.per_second)
                baseline_rates.append(baseline.per_second)
                commits.append(durable_commit_seconds(workdir / "commit-timing.sqlite3"))
            rows.append(
                ThroughputRow(
                    readers=readers,
                    receipts_per_run=readers * per_reader,
                    receipts_per_second=Figure.of(subject_rates),
                    baseline_per_second=Figure.of(baseline_rates),
                    ratio=paired_ratio(subject_rates, baseline_rates),
                    commit_seconds=Figure.of(commits),
                    fsync_bound=_fsync_bound(readers, baseline_rates, commits),
                )
            )
    return rows


def _fsync_bound(readers: int, baseline_rates: list[float], commits: list[float]) -> Figure:
    """Per pair: `readers` answers of the no-op per durable commit (1 = no bound)."""
    pairs = zip(baseline_rates, commits, strict=True)
    return Figure.of([min(1.0, readers / (rate * commit)) for rate, commit in pairs])
