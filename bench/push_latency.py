"""Benchmark 2: how long after a receipt call returns the sender's push arrives.

Setup (unmeasured): a reference server in this process on a file database, N users in one
Work group (`groupReceiptMaxMembers` raised to fit), every one of them holding a WebSocket open
(`GET /v1/events`). The client side runs in a `ClientProcess`: a thread per sender socket
stamps each `onRecvMessageReadReceipts` frame as it arrives, a drain thread reads (and answers
the pings of) the N-1 other sockets, which receive every group message.

Each run the sender sends just enough needReadReceipt messages, waits until all N-1 sockets
got them, then the members take turns: one receipt call at a time, each waiting for its push
before the next. Two latencies per sample, both on this machine's monotonic clock:
`returned_to_push` (the figure asked for: from the call returning to the frame arriving; it can
be negative, when the push overtakes the HTTP answer) and `sent_to_push` (from the call being
sent; never negative, so it bounds the whole path).
"""

from __future__ import annotations

import json
import math
import queue
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import websocket

from bench.client_process import ClientProcess
from bench.population import Admin
from bench.sizes import Sizes
from bench.stats import Figure, percentile
from bench.wire import KeepAliveConnection, encode_call
from seenby import reference_server

P99_TARGET_SECONDS = 0.020
_DEADLINE_SECONDS = 30.0


@dataclass(frozen=True)
class PushJob:
    """What the client process needs: where, who, and how many samples."""

    host: str
    port: int
    group_id: str
    sender_token: str
    member_tokens: tuple[str, ...]
    samples: int
    runs: int
    pause_s: float = 0.0
    """A pause before each receipt call (0: back to back). Paced calls find the machine idle
    between them, as a user's calls do, and wake it each time: slower on a virtual machine."""


@dataclass(frozen=True)
class PushRun:
    """One run's latencies in seconds, in sample order."""

    returned_to_push: tuple[float, ...]
    sent_to_push: tuple[float, ...]


@dataclass(frozen=True)
class PushRow:
    """Latency percentiles at one number of connected users (medians over runs, seconds)."""

    users: int
    samples_per_run: int
    p50: Figure
    p99: Figure
    sent_p50: Figure
    sent_p99: Figure

    @property
    def meets_target(self) -> bool:
        """Whether the median p99 is under `P99_TARGET_SECONDS`."""
        return self.p99.median < P99_TARGET_SECONDS


def _open_socket(host: str, port: int, token: str) -> websocket.WebSocket:
    return websocket.create_connection(
        f"ws://{host}:{port}/v1/events",
        header=[f"Authorization: Bearer {token}"],
        timeout=_DEADLINE_SECONDS,
        enable_multithread=True,
    )


class _Drain:
    """Reads every frame of the members' sockets, counting the new messages they announce."""

    def __init__(self, sockets: list[websocket.WebSocket]) -> None:
        self._selector = selectors.DefaultSelector()
        for ws in sockets:
            assert ws.sock is not None, "the socket is connected"
            self._selector.register(ws.sock, selectors.EVENT_READ, ws)
        self._count = 0
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            for key, _ in self._selector.select(timeout=0.1):
                ws: websocket.WebSocket = key.data
                frame = ws.recv()
                if isinstance(frame, str) and '"onRecvNewMessage"' in frame:
                    with self._changed:
                        self._count += 1
                        self._changed.notify_all()

    def wait_for(self, count: int) -> None:
        """Block until `count` new-message frames arrived in total."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._count >= count, _DEADLINE_SECONDS):
                raise TimeoutError(f"members got {self._count} of {count} new messages")

    def stop(self) -> None:
        """Stop reading (the sockets stay open)."""
        self._stopping.set()
        self._thread.join()
        self._selector.close()


def _stamp_receipts(ws: websocket.WebSocket, arrivals: queue.Queue[tuple[float, str]]) -> None:
    """Put (arrival time, msgID) for each receipt the sender is pushed, until the socket closes."""
    while True:
        try:
            frame = ws.recv()
        except (websocket.WebSocketException, OSError):
            return
        arrived = time.perf_counter()
        if not isinstance(frame, str) or not frame:
            return
        event = json.loads(frame)
        if event["event"] == "onRecvMessageReadReceipts":
            for receipt in event["data"]:
                arrivals.put((arrived, receipt["msgID"]))


@contextmanager
def _member_sockets(job: PushJob) -> Iterator[list[websocket.WebSocket]]:
    members: list[websocket.WebSocket] = []
    try:
        members.extend(_open_socket(job.host, job.port, token) for token in job.member_tokens)
        yield members
    finally:
        for ws in members:
            ws.close(timeout=1)


def measure_in_client(job: PushJob) -> list[PushRun]:
    """Open every socket, then make `job.runs` runs of `job.samples` receipts (client side)."""
    arrivals: queue.Queue[tuple[float, str]] = queue.Queue()
    members = len(job.member_tokens)
    results = []
    sender_ws = _open_socket(job.host, job.port, job.sender_token)
    stamper = threading.Thread(target=_stamp_receipts, args=(sender_ws, arrivals), daemon=True)
    stamper.start()
    with _member_sockets(job) as member_sockets, KeepAliveConnection(job.host, job.port) as http:
        drain = _Drain(member_sockets)
        delivered = 0
        try:
            for _ in range(job.runs):
                messages = math.ceil(job.samples / members)
                msg_ids = [
                    http.call(
                        "sendMessage",
                        {
                            "groupID": job.group_id,
                            "elem": {"elemType": "text", "text": "push latency probe"},
                            "needReadReceipt": True,
                        },
                        job.sender_token,
                    )["msgID"]
                    for _ in range(messages)
                ]
                delivered += messages * members
                drain.wait_for(delivered)
                returned_to_push, sent_to_push = [], []
                for sample in range(job.samples):
                    msg_id = msg_ids[sample // members]
                    request = encode_call(
                        job.host,
                        job.port,
                        "sendMessageReadReceipts",
                        {"msgIDs": [msg_id]},
                        job.member_tokens[sample % members],
                    )
                    if job.pause_s:
                        time.sleep(job.pause_s)
                    sent = time.perf_counter()
                    status, body = http.send(request)
                    returned = time.perf_counter()
                    if status != 200:
                        raise RuntimeError(f"receipt failed: HTTP {status} {body[:200]!r}")
                    arrived, pushed_id = arrivals.get(timeout=_DEADLINE_SECONDS)
                    if pushed_id != msg_id:
                        raise RuntimeError(f"pushed a receipt for {pushed_id}, expected {msg_id}")
                    returned_to_push.append(arrived - returned)
                    sent_to_push.append(arrived - sent)
                results.append(PushRun(tuple(returned_to_push), tuple(sent_to_push)))
        finally:
            drain.stop()
            # The stamper is blocked reading the sender's socket: cut it, then let it end.
            sender_socket = sender_ws.sock
            assert sender_socket is not None, "the socket is connected"
            sender_socket.shutdown(socket.SHUT_RDWR)
            stamper.join(timeout=_DEADLINE_SECONDS)
            sender_socket.close()
    return results


def measure_push_latency(client: ClientProcess, sizes: Sizes, workdir: Path) -> list[PushRow]:
    """Run benchmark 2 for each number of users in `sizes.push_users`."""
    rows = []
    for users in sizes.push_users:
        db = workdir / f"push-{users}.sqlite3"
        with (
            reference_server.start("127.0.0.1", 0, str(db)) as server,
            KeepAliveConnection(server.host, server.port) as connection,
        ):
            admin = Admin(connection, server.admin_key)
            admin.set_settings(groupReceiptMaxMembers=max(users, 200))
            tokens = admin.create_users("user", users)
            user_ids = list(tokens)
            group_id = admin.create_group(user_ids[0], user_ids[1:])
            job = PushJob(
                server.host,
                server.port,
                group_id,
                tokens[user_ids[0]],
                tuple(tokens[user_id] for user_id in user_ids[1:]),
                sizes.push_samples,
                sizes.runs,
            )
            runs = client.call(measure_in_client, job)
        rows.append(
            PushRow(
                users=users,
                samples_per_run=sizes.push_samples,
                p50=Figure.of([percentile(run.returned_to_push, 0.50) for run in runs]),
                p99=Figure.of([percentile(run.returned_to_push, 0.99) for run in runs]),
                sent_p50=Figure.of([percentile(run.sent_to_push, 0.50) for run in runs]),
                sent_p99=Figure.of([percentile(run.sent_to_push, 0.99) for run in runs]),
            )
        )
    return rows
