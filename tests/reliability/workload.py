"""A workload of C2C and group read receipts that keeps its own ground truth.

Theory of operation. A seeded plan fixes, before anything runs, who sends which message where
and which recipients will read it. Workers drain one task queue concurrently: a send task sends
one planned message; a read task sends one ``sendMessageReadReceipts`` batch for one reader in
one conversation (sometimes with the reader's own message, which must be skipped [R-4], and
sometimes a second time, which must change nothing [R-5]). Reads are queued a round after the
sends they refer to and wait, with a deadline, for those sends to be acknowledged.

The `PlanLedger` records what the server acknowledged with code 0 and, separately, calls whose
outcome is unknown because the connection broke (the crash run), in the ground truth that
``seenby load`` keeps too (`seenby.harness.load.Ledger`). The checks are that command's verdict
(`seenby.harness.load.verdict`, via `check_against_truth`): the server's state and every frame
pushed to every user against the truth, exact where nothing was in flight, bracketed
(acknowledged <= stored <= acknowledged + in flight) where something was.
"""

from __future__ import annotations

import queue
import random
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from seenby.harness.load.ledger import Connection, Send, frame_of
from seenby.harness.load.ledger import Ledger as Truth
from seenby.harness.load.verdict import judge, pull_state, seq_ranges

from .sizes import LoadSize
from .wire import CallFailed, EventStream, Wire

GROUP_TYPES = ("Work", "Public", "Meeting")
ROUND_SIZE = 300
"""Messages per round; reads of a round are queued after the next round's sends."""
SEND_ACK_WAIT_S = 30.0


@dataclass(frozen=True)
class User:
    """A user the workload created, with its bearer token."""

    user_id: str
    token: str


@dataclass(frozen=True)
class Group:
    """A group the workload created; ``members`` starts with the owner."""

    group_id: str
    group_type: str
    members: tuple[str, ...]


@dataclass
class Population:
    """Every user and group of one run, and each user's C2C peers."""

    users: dict[str, User]
    groups: dict[str, Group]
    friends: dict[str, tuple[str, ...]]

    @classmethod
    def create(cls, wire: Wire, admin_key: str, size: LoadSize, rng: random.Random) -> Population:
        """Create ``size.users`` users, groups of ``size.group_size`` and a ring of C2C peers."""
        tag = uuid.uuid4().hex[:8]
        users: dict[str, User] = {}
        for number in range(size.users):
            user_id = f"u{number:04d}-{tag}"
            data = wire.must(
                "admin/createUser", {"userID": user_id, "nickName": f"user {number}"}, admin_key
            )
            users[user_id] = User(user_id, data["token"])
        ids = list(users)
        shuffled = ids[:]
        rng.shuffle(shuffled)
        groups: dict[str, Group] = {}
        for number, start in enumerate(range(0, len(shuffled), size.group_size)):
            members = tuple(shuffled[start : start + size.group_size])
            if len(members) < 2:
                continue
            group_id = f"g{number:03d}-{tag}"
            group_type = GROUP_TYPES[number % len(GROUP_TYPES)]
            wire.must(
                "admin/createGroup",
                {
                    "groupID": group_id,
                    "groupType": group_type,
                    "ownerID": members[0],
                    "memberIDs": list(members[1:]),
                },
                admin_key,
            )
            groups[group_id] = Group(group_id, group_type, members)
        friends = {
            user_id: tuple(ids[(index + step) % len(ids)] for step in (1, 2, 3))
            for index, user_id in enumerate(ids)
        }
        return cls(users, groups, friends)


@dataclass(frozen=True)
class PlannedMessage:
    """A message the plan will send, and the recipients the plan has read it."""

    index: int
    sender: str
    receiver: str | None
    group_id: str | None
    recipients: tuple[str, ...]
    need_read_receipt: bool
    readers: tuple[str, ...]

    @property
    def text(self) -> str:
        """The message's text: unique within the run, so history can be matched to the plan."""
        return f"m{self.index}"

    def conversation_of(self, viewer: str) -> str:
        """The conversation ID as ``viewer`` sees it (``c2c_<peer>`` or ``group_<groupID>``)."""
        if self.group_id is not None:
            return f"group_{self.group_id}"
        peer = self.receiver if viewer == self.sender else self.sender
        return f"c2c_{peer}"


@dataclass(frozen=True)
class SendTask:
    """Send one planned message."""

    message: PlannedMessage


@dataclass(frozen=True)
class ReadTask:
    """One ``sendMessageReadReceipts`` call: ``reader`` receipts ``messages`` (one conversation)."""

    reader: str
    messages: tuple[PlannedMessage, ...]


Task = SendTask | ReadTask


@dataclass(frozen=True)
class Plan:
    """The messages and the order of calls of one run."""

    messages: tuple[PlannedMessage, ...]
    tasks: tuple[Task, ...]


def make_plan(population: Population, size: LoadSize, rng: random.Random) -> Plan:
    """Plan messages until they carry ``size.receipts`` receipts, then order the calls."""
    messages: list[PlannedMessage] = []
    group_target = round(size.receipts * (1 - size.c2c_share))
    c2c_target = size.receipts - group_target
    group_receipts = c2c_receipts = 0
    groups = list(population.groups.values())
    ids = list(population.users)
    while group_receipts < group_target or c2c_receipts < c2c_target:
        if group_receipts < group_target:
            group = rng.choice(groups)
            sender = rng.choice(group.members)
            recipients = tuple(m for m in group.members if m != sender)
            readers = tuple(rng.sample(recipients, rng.randint(0, len(recipients))))
            need = rng.random() < 0.95
            planned = PlannedMessage(0, sender, None, group.group_id, recipients, need, readers)
            messages.append(planned)
            group_receipts += len(readers) if need else 0
        if c2c_receipts < c2c_target:
            sender = rng.choice(ids)
            receiver = rng.choice(population.friends[sender])
            readers = (receiver,) if rng.random() < 0.85 else ()
            need = rng.random() < 0.95
            messages.append(PlannedMessage(0, sender, receiver, None, (receiver,), need, readers))
            c2c_receipts += len(readers) if need else 0
    rng.shuffle(messages)
    messages = [_renumbered(m, index) for index, m in enumerate(messages)]
    return Plan(tuple(messages), tuple(_order_calls(messages, rng)))


def _renumbered(message: PlannedMessage, index: int) -> PlannedMessage:
    return PlannedMessage(
        index,
        message.sender,
        message.receiver,
        message.group_id,
        message.recipients,
        message.need_read_receipt,
        message.readers,
    )


def _order_calls(messages: Sequence[PlannedMessage], rng: random.Random) -> list[Task]:
    rounds = [messages[start : start + ROUND_SIZE] for start in range(0, len(messages), ROUND_SIZE)]
    sent_so_far: dict[tuple[str, str], list[PlannedMessage]] = defaultdict(list)
    tasks: list[Task] = []
    replays: list[ReadTask] = []
    for number in range(len(rounds) + 1):
        if number < len(rounds):
            tasks.extend(SendTask(m) for m in rounds[number])
        if number == 0:
            continue
        previous = rounds[number - 1]
        wanted: dict[tuple[str, str], list[PlannedMessage]] = defaultdict(list)
        for message in previous:
            for reader in message.readers:
                wanted[(reader, message.conversation_of(reader))].append(message)
        for message in previous:
            sent_so_far[(message.sender, message.conversation_of(message.sender))].append(message)
        reads: list[ReadTask] = []
        for (reader, conversation), batch in wanted.items():
            rng.shuffle(batch)
            while batch:
                take = rng.randint(1, min(30, len(batch)))
                chunk, batch = batch[:take], batch[take:]
                own = sent_so_far.get((reader, conversation), [])
                if own and len(chunk) < 30 and rng.random() < 0.1:
                    chunk = [*chunk, rng.choice(own)]
                reads.append(ReadTask(reader, tuple(chunk)))
        rng.shuffle(reads)
        tasks.extend(reads)
        replays.extend(task for task in reads if rng.random() < 0.05)
        if replays and rng.random() < 0.5:
            tasks.append(replays.pop())
    tasks.extend(replays)
    return tasks


class PlanLedger:
    """The run's ground truth — the shared `seenby.harness.load.Ledger` in ``truth``, messages known
    by their text — seen by plan index, with the waits the plan's workers need."""

    def __init__(self, population: Population, plan: Plan) -> None:
        self.truth = Truth()
        for user in population.users.values():
            self.truth.add_user(user.user_id, user.token)
        self.msg_ids: dict[int, str] = {}
        self.unknown_sends: set[int] = set()
        self.unknown_reads: list[ReadTask] = []
        self.acked_calls = 0
        self.read_calls = 0
        self.errors: list[str] = []
        self._changed = threading.Condition()

    def begin_send(self, message: PlannedMessage) -> None:
        """``message`` is being sent: in flight until acknowledged."""
        with self._changed:
            self.unknown_sends.add(message.index)
            self.truth.begin_send(
                Send(
                    message.text,
                    message.sender,
                    message.recipients,
                    message.group_id,
                    message.need_read_receipt,
                )
            )

    def record_send(self, message: PlannedMessage, msg_id: str) -> None:
        """The server acknowledged ``message`` as ``msg_id``."""
        with self._changed:
            self.unknown_sends.discard(message.index)
            self.msg_ids[message.index] = msg_id
            self.truth.acknowledge_send(message.text, msg_id)
            self.acked_calls += 1
            self._changed.notify_all()

    def begin_read(self, task: ReadTask) -> None:
        """The read batch ``task`` is being sent: in flight until acknowledged."""
        with self._changed:
            self.unknown_reads.append(task)
            self.truth.begin_read(task.reader, self._ids(task))

    def record_read(self, task: ReadTask) -> None:
        """The server acknowledged the read batch ``task``."""
        with self._changed:
            self.unknown_reads.remove(task)
            self.truth.acknowledge_read(task.reader, self._ids(task))
            self.acked_calls += 1
            self.read_calls += 1
            self._changed.notify_all()

    def _ids(self, task: ReadTask) -> list[str]:
        return [self.msg_ids[m.index] for m in task.messages]

    def wait_sent(self, indexes: Iterable[int], stop: threading.Event) -> dict[int, str]:
        """msgIDs of ``indexes`` once all are acknowledged; those still missing at the deadline
        (or when ``stop`` is set) are left out."""
        wanted = set(indexes)
        with self._changed:
            self._changed.wait_for(
                lambda: stop.is_set() or wanted <= self.msg_ids.keys(), SEND_ACK_WAIT_S
            )
            return {i: self.msg_ids[i] for i in wanted if i in self.msg_ids}

    def wait_progress(self, calls: int, timeout: float) -> bool:
        """Wait until ``calls`` calls were acknowledged; False if the deadline passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: self.acked_calls >= calls, timeout)

    def readers_of(self, message: PlannedMessage) -> set[str]:
        """Recipients whose acknowledged batch held ``message`` (which must exist)."""
        return self.truth.sure_readers(self.truth.sends[message.text])


class Workers:
    """Drain a task list with ``count`` threads, each with its own keep-alive connection.

    With ``tolerate_breaks`` (the crash run), a call that breaks off without an answer is recorded
    as in flight and stops its worker; otherwise it is an error.
    """

    def __init__(
        self,
        base_url: str,
        population: Population,
        ledger: PlanLedger,
        count: int,
        *,
        tolerate_breaks: bool = False,
    ) -> None:
        self.base_url = base_url
        self.population = population
        self.ledger = ledger
        self.count = count
        self.tolerate_breaks = tolerate_breaks
        self.stop = threading.Event()
        self._tasks: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def start(self, tasks: Iterable[Task]) -> None:
        """Queue ``tasks`` and start the workers."""
        for task in tasks:
            self._tasks.put(task)
        for _ in range(self.count):
            self._tasks.put(None)
        for number in range(self.count):
            thread = threading.Thread(target=self._work, name=f"worker-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def join(self, timeout: float) -> None:
        """Wait for every worker to finish; fail if one is still busy after ``timeout``."""
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                self.stop.set()
                raise AssertionError(f"{thread.name} still busy after {timeout} s")

    def _work(self) -> None:
        wire = Wire(self.base_url)
        try:
            while not self.stop.is_set():
                task = self._tasks.get()
                if task is None:
                    return
                try:
                    self._run(wire, task)
                except (requests.ConnectionError, requests.Timeout) as exc:
                    if not self.tolerate_breaks:
                        self.ledger.errors.append(f"{task!r}: {exc}")
                    return
                except CallFailed as exc:
                    self.ledger.errors.append(str(exc))
        finally:
            wire.close()

    def _run(self, wire: Wire, task: Task) -> None:
        if isinstance(task, SendTask):
            self._send(wire, task.message)
        else:
            self._read(wire, task)

    def _send(self, wire: Wire, message: PlannedMessage) -> None:
        body: dict[str, Any] = {
            "elem": {"elemType": "text", "text": message.text},
            "needReadReceipt": message.need_read_receipt,
        }
        if message.group_id is not None:
            body["groupID"] = message.group_id
        else:
            body["receiver"] = message.receiver
        token = self.population.users[message.sender].token
        self.ledger.begin_send(message)
        data = wire.must("sendMessage", body, token)
        self.ledger.record_send(message, data["msgID"])

    def _read(self, wire: Wire, task: ReadTask) -> None:
        sent = self.ledger.wait_sent((m.index for m in task.messages), self.stop)
        messages = tuple(m for m in task.messages if m.index in sent)
        if not messages:
            return
        known = ReadTask(task.reader, messages)
        token = self.population.users[task.reader].token
        self.ledger.begin_read(known)
        wire.must("sendMessageReadReceipts", {"msgIDs": [sent[m.index] for m in messages]}, token)
        self.ledger.record_read(known)


class Feed:
    """One user's push feed, kept whole across reconnects with ``since``.

    Each connection's frames must continue exactly where the previous connection's stopped;
    ``connections`` keeps each one's ``since`` and frames for the shared verdict.
    """

    def __init__(self, base_url: str, user: User) -> None:
        self.base_url = base_url
        self.user = user
        self.log: list[dict[str, Any]] = []
        self.connections: list[tuple[int, list[dict[str, Any]]]] = []
        self.problems: list[str] = []
        self.reconnects = 0
        self.current = EventStream(base_url, user.token, since=0)
        self._since = 0
        self._lock = threading.Lock()

    def reconnect(self, *, abrupt: bool) -> None:
        """Close (or drop) the connection and open a new one with ``since`` = last seq seen."""
        with self._lock:
            self._fold(abrupt=abrupt)
            self.current = EventStream(self.base_url, self.user.token, since=self._since)
            self.reconnects += 1

    def finish(self) -> list[dict[str, Any]]:
        """Close the connection and return the whole feed."""
        with self._lock:
            self._fold(abrupt=False)
            return self.log

    def _fold(self, *, abrupt: bool) -> None:
        if abrupt:
            self.current.drop()
        else:
            self.current.close()
        frames = self.current.snapshot()
        seqs = [frame["seq"] for frame in frames]
        expected = list(range(self._since + 1, self._since + 1 + len(frames)))
        if seqs != expected:
            self.problems.append(
                f"{self.user.user_id}: connection with since={self._since} got seqs "
                f"{seq_ranges(seqs)}, expected {seq_ranges(expected)}"
            )
        self.connections.append((self._since, frames))
        self.log.extend(frames)
        if frames:
            self._since = frames[-1]["seq"]


def check_against_truth(
    base_url: str, ledger: PlanLedger, feeds: dict[str, list[tuple[int, list[dict[str, Any]]]]]
) -> list[str]:
    """The shared verdict (`seenby.harness.load.verdict`): the server's final counts and member
    lists, and each user's whole feed (``(since, frames)`` per connection, ending with its
    sentinel), against the ledger's truth. One line per breach kept, naming its invariant."""
    for user_id, connections in feeds.items():
        for since, frames in connections:
            logged = [frame_of(f["event"], f["seq"], f["data"]) for f in frames]
            ledger.truth.connections.append(Connection(user_id, since, logged, settled=True))
    verdict = judge(ledger.truth, pull_state(base_url, ledger.truth))
    return verdict.problems()


def send_sentinels(wire: Wire, admin_key: str, ledger: PlanLedger) -> dict[str, str]:
    """One last C2C message to every user, from a user made for it: once a feed holds its
    sentinel, it holds every earlier event of that user (per-user seq order)."""
    users = [u for u in ledger.truth.tokens if not u.startswith("closer-")]
    closer_id = "closer-" + users[0].split("-", 1)[1]
    token = wire.must("admin/createUser", {"userID": closer_id}, admin_key)["token"]
    ledger.truth.add_user(closer_id, token)
    sentinels = {}
    for user_id in users:
        text = f"sentinel {user_id}"
        ledger.truth.begin_send(Send(text, closer_id, (user_id,), None, False))
        body = {"receiver": user_id, "elem": {"elemType": "text", "text": text}}
        sentinels[user_id] = wire.must("sendMessage", body, token)["msgID"]
        ledger.truth.acknowledge_send(text, sentinels[user_id])
    return sentinels


def wait_for_message(stream: EventStream, msg_id: str) -> list[dict[str, Any]]:
    """Wait until ``stream`` holds ``onRecvNewMessage`` for ``msg_id``; return every frame."""
    return stream.wait_until(
        lambda frames: any(
            f["event"] == "onRecvNewMessage" and f["data"]["msgID"] == msg_id for f in frames
        ),
        timeout=60.0,
        what=f"onRecvNewMessage {msg_id}",
    )
