"""Benchmark 5: other users' calls while one sender sends to a very large group.

Setup (unmeasured): one group of `big_send_recipients` recipients made in-process
(`population.populate_large_groups`), a reference server *process* on that file, and, over
HTTP, a small Work group of bystanders: a sender and `_READERS` readers with real tokens.

Each run is two windows of the same length, taken in turns (quiet first in even runs, busy first
in odd runs). In both, the bystanders call at a steady pace from a `ClientProcess`
(`load.run_paced`): every reader sends one `sendMessageReadReceipts` for a fresh message each
`_INTERVAL`, the bystanders' sender pulls `getMessageReadReceipts` at the same pace. In the
*busy* window the large group's owner sends one needReadReceipt message to it meanwhile; the
calls in flight at some moment of that send are the figure. The *quiet* window has no send; its
calls (after the same lead-in) are the side-by-side baseline. A run's value is the p50 / p99 /
maximum of its window's calls; the figures are medians (and ranges) over runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.client_process import ClientProcess
from bench.load import PacedCall, PacedJob, run_paced
from bench.population import Admin, populate_large_groups, send_group_messages
from bench.sizes import Sizes
from bench.stats import Figure, percentile
from bench.wire import KeepAliveConnection, encode_call
from seenby.harness.api.server_process import ServerProcess

P99_TARGET_SECONDS = 0.050
_READERS = 4
_INTERVAL = 0.010
_LEAD_IN = 0.3
"""Seconds of paced calls before the big send starts (connections warm, pace settled)."""
_MIN_WINDOW = 2.0


@dataclass(frozen=True)
class BigSendResults:
    """Latency of bystanders' calls with and without a big send running, and the send."""

    recipients: int
    calls_per_window: Figure
    send_seconds: Figure
    busy_p50: Figure
    busy_p99: Figure
    busy_max: Figure
    quiet_p50: Figure
    quiet_p99: Figure
    quiet_max: Figure

    @property
    def meets_target(self) -> bool:
        """Whether the median p99 during the send is at most `P99_TARGET_SECONDS`."""
        return self.busy_p99.median <= P99_TARGET_SECONDS


@dataclass(frozen=True)
class _Window:
    p50: float
    p99: float
    worst: float
    calls: int


def _summary(calls: list[PacedCall], start: float, end: float) -> _Window:
    """The calls in flight at some moment between `start` and `end`."""
    chosen = [call for call in calls if call.sent <= end and call.sent + call.seconds >= start]
    if not chosen or not all(call.succeeded for call in chosen):
        raise RuntimeError(f"bystander calls failed or none were made: {len(chosen)} calls")
    seconds = [call.seconds for call in chosen]
    return _Window(percentile(seconds, 0.5), percentile(seconds, 0.99), max(seconds), len(chosen))


class _Bystanders:
    """The small group whose receipts and pulls are timed, with fresh messages per window."""

    def __init__(self, connection: KeepAliveConnection, admin_key: str) -> None:
        self._connection = connection
        admin = Admin(connection, admin_key)
        ((sender_id, self._sender_token),) = admin.create_users("bystander-sender", 1).items()
        readers = admin.create_users("bystander", _READERS)
        self._reader_tokens = list(readers.values())
        self._group_id = admin.create_group(sender_id, list(readers))

    def job(self, seconds: float) -> PacedJob:
        """A window's calls: each reader receipts fresh messages, the sender pulls counts."""
        connection = self._connection
        host, port = connection.host, connection.port
        msg_ids = send_group_messages(
            connection, self._sender_token, self._group_id, int(seconds / _INTERVAL) + 1
        )
        receipts = [
            tuple(
                encode_call(host, port, "sendMessageReadReceipts", {"msgIDs": [msg_id]}, token)
                for msg_id in msg_ids
            )
            for token in self._reader_tokens
        ]
        pull = encode_call(
            host, port, "getMessageReadReceipts", {"msgIDs": msg_ids[:30]}, self._sender_token
        )
        return PacedJob(host, port, (*receipts, (pull,)), _INTERVAL, seconds)


def _in_background(client: ClientProcess, job: PacedJob) -> Callable[[], list[PacedCall]]:
    """Start the paced calls in the client process; return a function that waits for them."""
    outcome: list[list[PacedCall] | BaseException] = []

    def run() -> None:
        try:
            outcome.append(client.call(run_paced, job))
        except BaseException as error:  # handed to the waiting caller
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()

    def calls() -> list[PacedCall]:
        thread.join()
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]

    return calls


def _send_big(connection: KeepAliveConnection, token: str, group_id: str) -> tuple[float, float]:
    """Send one needReadReceipt message to the large group; (start, end) on the monotonic clock."""
    start = time.monotonic()
    connection.call(
        "sendMessage",
        {
            "groupID": group_id,
            "elem": {"elemType": "text", "text": "big send"},
            "needReadReceipt": True,
        },
        token,
    )
    return start, time.monotonic()


def measure_big_send(client: ClientProcess, sizes: Sizes, workdir: Path) -> BigSendResults:
    """Run benchmark 5 with a group of `sizes.big_send_recipients`."""
    db_path = workdir / "big-send.sqlite3"
    population = populate_large_groups(str(db_path), (sizes.big_send_recipients,))
    (group,) = population.groups
    token = population.sender_token
    windows: dict[str, list[_Window]] = {"busy": [], "quiet": []}
    send_seconds: list[float] = []
    with (
        ServerProcess(str(db_path), population.admin_key) as server,
        KeepAliveConnection(server.host, server.port) as connection,
        KeepAliveConnection(server.host, server.port) as sender,
    ):
        bystanders = _Bystanders(connection, population.admin_key)
        start, end = _send_big(sender, token, group.group_id)  # unmeasured: sizes the windows
        window = max(_MIN_WINDOW, 1.5 * (end - start)) + _LEAD_IN
        for run in range(sizes.runs):
            for kind in ("quiet", "busy") if run % 2 == 0 else ("busy", "quiet"):
                job = bystanders.job(window)
                began = time.monotonic()
                calls = _in_background(client, job)
                time.sleep(_LEAD_IN)
                if kind == "busy":
                    start, end = _send_big(sender, token, group.group_id)
                    send_seconds.append(end - start)
                else:
                    start, end = began + _LEAD_IN, began + window
                windows[kind].append(_summary(calls(), start, end))

    def figure(kind: str, field: str) -> Figure:
        return Figure.of([getattr(w, field) for w in windows[kind]])

    return BigSendResults(
        recipients=group.recipients,
        calls_per_window=Figure.of([float(w.calls) for w in windows["busy"]]),
        send_seconds=Figure.of(send_seconds),
        busy_p50=figure("busy", "p50"),
        busy_p99=figure("busy", "p99"),
        busy_max=figure("busy", "worst"),
        quiet_p50=figure("quiet", "p50"),
        quiet_p99=figure("quiet", "p99"),
        quiet_max=figure("quiet", "worst"),
    )
