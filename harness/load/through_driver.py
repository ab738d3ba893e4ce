"""The receipt workload through a driver (``seenby load --driver NAME``), and its invariants.

The Locust workload (``workload``) speaks seenby's wire: raw calls, ``seq`` and resuming with
``since``. This one reaches the target only through a driver's ``AdminClient``, ``UserClient``
and ``PushStream``, so it runs on any target a driver opens, Synapse included. Theory of
operation: the users come in blocks of ``group_size``, each block one Work group; every user
holds one push stream. A round is: every user sends one needReadReceipt text to its group (in
parallel); every member waits on its stream for its peers' messages of the round and receipts
them in one batch, in the order they arrived (in parallel). Each receipt call notes when it
began; the sender's receipt pushes are paired with them (a push with readCount N settles the
receipts up to the Nth, so a push carrying several readers at once, as /sync batches do, times
each of them). After the rounds the sender pulls its counts and walks both member lists of each
message, and the invariants of ``verdict.RULES`` are judged against what was acknowledged; the
ones this workload cannot check through the driver are *not checked*, each with its reason,
never held.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from seenby.harness.api.client import UserClient
from seenby.harness.api.models import Event, Group, Message, ReadFilter
from seenby.harness.api.target import Target
from seenby.harness.drivers import Driver
from seenby.harness.drivers.capabilities import EVENT_REPLAY
from seenby.harness.wire.push import PushStream

from .verdict import RULES, Invariant, Verdict

__all__ = ["DriverLoadResult", "DriverLoadSettings", "percentile", "run_through_driver"]

NEW_MESSAGE = "onRecvNewMessage"
RECEIPT = "onRecvMessageReadReceipts"
SETTLE_POLL_S = 0.05
NOT_CHECKED_REASONS = {
    "push-settled": "each stream is judged by message-once over the whole run; no settle "
    "sentinel is sent through the driver",
    "conversation-marks": "the workload through a driver sends group messages only",
}
"""Why this workload leaves a rule unchecked on every driver."""


@dataclass(frozen=True)
class DriverLoadSettings:
    """What the workload through a driver does."""

    users: int = 24
    group_size: int = 6
    rounds: int = 5
    timeout_s: float = 20.0
    """How long a member waits for a round's messages, and a sender for its last pushes."""


@dataclass
class _Sent:
    message: Message
    sender: str
    recipients: tuple[str, ...]
    readers: set[str] = field(default_factory=set)
    """Readers whose receipt call was acknowledged."""
    began: list[float] = field(default_factory=list)
    """When each acknowledged receipt call began (monotonic), oldest first, for pairing."""
    pushed: list[int] = field(default_factory=list)
    """The readCounts pushed to the sender, in arrival order."""
    paired: int = 0


@dataclass
class DriverLoadResult:
    """What one run measured and its verdict."""

    driver: str
    implementation: str
    users: int
    receipts: int
    seconds: float
    latencies_ms: list[float]
    verdict: Verdict
    faults: list[str]

    @property
    def receipts_per_s(self) -> float:
        """Acknowledged receipts over the whole run's wall time."""
        return self.receipts / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        """A human report: the figures, then one line per invariant."""
        p50, p99 = percentile(self.latencies_ms, 50), percentile(self.latencies_ms, 99)
        lines = [
            f"{self.implementation} through driver {self.driver}: {self.users} users, "
            f"{self.receipts} receipts in {self.seconds:.1f} s ({self.receipts_per_s:.1f}/s), "
            f"receipt push p50 {p50:.1f} ms, p99 {p99:.1f} ms "
            f"({len(self.latencies_ms)} pushes timed)",
            *self.verdict.lines(),
        ]
        lines += [f"fault: {fault}" for fault in self.faults[:10]]
        lines.append(self.verdict.headline())
        return lines

    def to_json(self) -> dict[str, Any]:
        """The summary written to ``driver-load-summary.json``."""
        return {
            "driver": self.driver,
            "implementation": self.implementation,
            "users": self.users,
            "receipts": self.receipts,
            "seconds": self.seconds,
            "receiptsPerSecond": self.receipts_per_s,
            "receiptPushMs": {
                "p50": percentile(self.latencies_ms, 50),
                "p99": percentile(self.latencies_ms, 99),
                "timed": len(self.latencies_ms),
            },
            "faults": self.faults,
            "verdict": self.verdict.to_json(),
        }


def percentile(values: Iterable[float], pct: int) -> float:
    """The ``pct``-th percentile (statistics' inclusive method); 0.0 for no values."""
    ordered = sorted(values)
    if len(ordered) < 2:
        return ordered[0] if ordered else 0.0
    return statistics.quantiles(ordered, n=100, method="inclusive")[pct - 1]


class _Run:
    """One run's users, streams, ledger of sends and faults."""

    def __init__(self, target: Target, driver: Driver, settings: DriverLoadSettings) -> None:
        self.target = target
        self.driver = driver
        self.settings = settings
        self.tag = uuid.uuid4().hex[:8]
        self.sent: dict[str, _Sent] = {}
        self.arrivals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        """user → msgID → times it arrived on the user's stream."""
        self.arrival_order: dict[str, dict[str, int]] = defaultdict(dict)
        """user → msgID → its place among the messages the user received, first arrival."""
        self.stray_receipts: list[tuple[str, str]] = []
        """(user, msgID): receipt pushes that reached a user who did not send the message."""
        self.faults: list[str] = []
        self.calls = 0
        self.latencies_ms: list[float] = []
        self.lock = threading.Lock()
        self.clients: list[UserClient] = []
        self.streams: dict[str, PushStream] = {}
        self.groups: dict[str, tuple[Group, tuple[str, ...]]] = {}
        """user → its block's group and the group's members."""

    def call(self, what: str, action: Callable[[], Any]) -> Any:
        """Run one call, counting it; a failure is a fault (None is returned)."""
        with self.lock:
            self.calls += 1
        try:
            return action()
        except Exception as error:  # every failure of a call through a driver is a finding
            with self.lock:
                self.faults.append(f"{what}: {type(error).__name__}: {error}".splitlines()[0])
            return None

    def set_up(self, pool: ThreadPoolExecutor) -> None:
        size = self.settings.group_size
        names = [f"dl{self.tag}{index}" for index in range(self.settings.users)]
        self.clients = list(pool.map(lambda name: self.target.user(name), names))
        for start in range(0, len(self.clients), size):
            block = self.clients[start : start + size]
            if len(block) < 2:
                break
            group = self.target.group("Work", block[0], block[1:])
            members = tuple(client.user_id for client in block)
            for client in block:
                self.groups[client.user_id] = (group, members)
        self.clients = [c for c in self.clients if c.user_id in self.groups]
        for client in self.clients:
            stream = client.connect()
            stream.add_listener(partial(self.on_event, client.user_id))
            self.streams[client.user_id] = stream

    def on_event(self, user: str, event: Event) -> None:
        now = time.monotonic()
        if event.name == NEW_MESSAGE:
            with self.lock:
                seen = self.arrivals[user]
                seen[event.data["msgID"]] += 1
                self.arrival_order[user].setdefault(event.data["msgID"], len(seen))
            return
        if event.name != RECEIPT:
            return
        for receipt in event.data:
            sent = self.sent.get(receipt.get("msgID", ""))
            if sent is None:
                continue
            with self.lock:
                if user != sent.sender:
                    self.stray_receipts.append((user, sent.message.msg_id))
                    continue
                count = int(receipt.get("readCount") or 0)
                sent.pushed.append(count)
                while sent.paired < min(count, len(sent.began)):
                    self.latencies_ms.append((now - sent.began[sent.paired]) * 1000)
                    sent.paired += 1

    def send_round(self, number: int, pool: ThreadPoolExecutor) -> list[_Sent]:
        def send(client: UserClient) -> _Sent | None:
            group, members = self.groups[client.user_id]
            text = f"{self.tag} round {number} from {client.user_id}"
            message = self.call(
                f"sendMessage as {client.user_id}",
                lambda: client.send_text(text, group=group, need_read_receipt=True),
            )
            if message is None:
                return None
            recipients = tuple(m for m in members if m != client.user_id)
            sent = _Sent(message, client.user_id, recipients)
            with self.lock:
                self.sent[message.msg_id] = sent
            return sent

        return [sent for sent in pool.map(send, self.clients) if sent is not None]

    def read_round(self, round_sent: list[_Sent], pool: ThreadPoolExecutor) -> int:
        due: dict[str, list[_Sent]] = defaultdict(list)
        for sent in round_sent:
            for recipient in sent.recipients:
                due[recipient].append(sent)

        def read(client: UserClient) -> int:
            mine = due.get(client.user_id, [])
            wanted = {sent.message.msg_id for sent in mine}
            deadline = time.monotonic() + self.settings.timeout_s
            arrived: set[str] = set()
            while time.monotonic() < deadline:
                with self.lock:
                    arrived = {m for m in wanted if self.arrivals[client.user_id].get(m)}
                if arrived == wanted:
                    break
                time.sleep(SETTLE_POLL_S)
            else:
                with self.lock:
                    self.faults.append(
                        f"{client.user_id}: {len(wanted - arrived)} of the round's messages "
                        f"did not arrive within {self.settings.timeout_s:.0f} s"
                    )
            # Read in the order received, as a person reads (a Matrix m.read for an event before
            # the reader's last one moves nothing, and is not sent on).
            order = self.arrival_order[client.user_id]
            batch = sorted(
                (sent for sent in mine if sent.message.msg_id in arrived),
                key=lambda sent: order[sent.message.msg_id],
            )
            if not batch:
                return 0
            began = time.monotonic()
            with self.lock:  # before the call: its push may come before the call returns
                for sent in batch:
                    sent.began.append(began)
            done = self.call(
                f"sendMessageReadReceipts as {client.user_id}",
                lambda: client.send_message_read_receipts([s.message for s in batch]) or True,
            )
            with self.lock:
                for sent in batch:
                    if done is None:
                        sent.began.remove(began)  # refused or in doubt: no push to pair
                    else:
                        sent.readers.add(client.user_id)
            return 0 if done is None else len(batch)

        return sum(pool.map(read, self.clients))

    def wait_for_pushes(self) -> None:
        deadline = time.monotonic() + self.settings.timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                behind = [
                    s for s in self.sent.values() if max(s.pushed, default=0) < len(s.readers)
                ]
            if not behind:
                return
            time.sleep(SETTLE_POLL_S)


def run_through_driver(
    target: Target, driver: Driver, settings: DriverLoadSettings
) -> DriverLoadResult:
    """Run the workload on ``target``, opened by ``driver``, and judge its invariants."""
    run = _Run(target, driver, settings)
    workers = max(2, min(32, settings.users))
    with ThreadPoolExecutor(workers) as pool:
        run.set_up(pool)
        started = time.monotonic()
        receipts = 0
        for number in range(settings.rounds):
            receipts += run.read_round(run.send_round(number, pool), pool)
        seconds = time.monotonic() - started
        run.wait_for_pushes()
        verdict = _judge(run, pool)
    for stream in run.streams.values():
        stream.close()
    implementation = target.capabilities.implementation
    return DriverLoadResult(
        driver=driver.name,
        implementation=f"{implementation.get('name', '?')} {implementation.get('version', '')}",
        users=len(run.clients),
        receipts=receipts,
        seconds=seconds,
        latencies_ms=run.latencies_ms,
        verdict=verdict,
        faults=run.faults,
    )


def _judge(run: _Run, pool: ThreadPoolExecutor) -> Verdict:
    """The final state pulled through the driver, checked against what was acknowledged."""
    rules = {rule.code: Invariant(rule.code) for rule in RULES}
    clients = {client.user_id: client for client in run.clients}

    def pull(sent: _Sent) -> tuple[_Sent, Any, Any, Any]:
        sender = clients[sent.sender]
        receipts = run.call(
            f"getMessageReadReceipts as {sent.sender}",
            lambda: sender.get_message_read_receipts([sent.message]),
        )
        read = run.call(
            f"getGroupMessageReadMemberList READ as {sent.sender}",
            lambda: sender.walk_group_message_read_members(sent.message, ReadFilter.READ),
        )
        unread = run.call(
            f"getGroupMessageReadMemberList UNREAD as {sent.sender}",
            lambda: sender.walk_group_message_read_members(sent.message, ReadFilter.UNREAD),
        )
        return sent, receipts, read, unread

    for sent, receipts, read, unread in pool.map(pull, list(run.sent.values())):
        msg_id, sender = sent.message.msg_id, sent.sender
        if receipts:
            count, uncount = receipts[0].read_count, receipts[0].unread_count
            rules["read-count"].check(
                count == len(sent.readers), msg_id, sender, len(sent.readers), count
            )
            rules["read-plus-unread"].check(
                (count or 0) + (uncount or 0) == len(sent.recipients),
                msg_id,
                sender,
                len(sent.recipients),
                f"{count} + {uncount}",
            )
            rules["push-final"].check(
                (sent.pushed[-1:] or [0]) == [count] and len(sent.pushed) <= len(sent.readers),
                msg_id,
                sender,
                f"last push readCount {count}, at most {len(sent.readers)} pushes",
                f"pushes {sent.pushed}",
            )
        if read is not None and unread is not None:
            readers = sorted(member.user_id for member in read)
            others = sorted(member.user_id for member in unread)
            expected_unread = sorted(set(sent.recipients) - sent.readers)
            rules["member-lists"].check(
                readers == sorted(sent.readers) and others == expected_unread,
                msg_id,
                sender,
                f"READ {sorted(sent.readers)}, UNREAD {expected_unread}",
                f"READ {readers}, UNREAD {others}",
            )
        rules["push-monotonic"].check(
            sent.pushed == sorted(sent.pushed), msg_id, sender, "non-decreasing", sent.pushed
        )
        for recipient in sent.recipients:
            times = run.arrivals[recipient].get(msg_id, 0)
            rules["message-once"].check(times == 1, msg_id, recipient, "1 arrival", times)
    strays = {(user, msg_id) for user, msg_id in run.stray_receipts}
    for user, msg_id in sorted(strays):
        rules["push-to-sender-only"].check(False, msg_id, user, "no receipt push", "one")
    rules["push-to-sender-only"].passed(
        sum(len(sent.recipients) for sent in run.sent.values()) - len(strays)
    )
    if EVENT_REPLAY in run.driver.capabilities:
        for user, stream in run.streams.items():
            seqs = [event.seq for event in stream.events]
            rules["seq-gap-free"].check(
                seqs == list(range(1, len(seqs) + 1)), "", user, "1, 2, 3 ...", seqs[:10]
            )
    else:
        rules["seq-gap-free"].not_checked_because = (
            f"driver '{run.driver.name}' lacks capability '{EVENT_REPLAY}': its push events "
            "carry no sequence to check"
        )
    for code, reason in NOT_CHECKED_REASONS.items():
        rules[code].not_checked_because = reason
    rules["no-server-fault"].passed(run.calls - len(run.faults))
    for fault in run.faults:
        rules["no-server-fault"].check(False, "", "", "an answer", fault)
    return Verdict(rules)
