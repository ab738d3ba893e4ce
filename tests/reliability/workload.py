"""A workload of C2C and group read receipts that keeps its own ground truth.

Theory of operation. A seeded plan fixes, before anything runs, who sends which message where
and which recipients will read it. Workers drain one task queue concurrently: a send task sends
one planned message; a read task sends one ``sendMessageReadReceipts`` batch for one reader in
one conversation (sometimes with the reader's own message, which must be skipped [R-4], and
sometimes a second time, which must change nothing [R-5]). Reads are queued a round after the
sends they refer to and wait, with a deadline, for those sends to be acknowledged.

The `Ledger` records only what the server acknowledged with code 0, and, separately, calls whose
outcome is unknown because the connection broke (the crash run). Every check compares the
server's state, and every frame pushed to every user, with the ledger: exact where nothing was
in flight, bracketed (acknowledged <= stored <= acknowledged + in flight) where something was.
"""

from __future__ import annotations

import queue
import random
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

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


@dataclass
class Ledger:
    """What the server acknowledged (and what was in flight when calls broke off)."""

    msg_ids: dict[int, str] = field(default_factory=dict)
    reads: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    unknown_sends: set[int] = field(default_factory=set)
    unknown_reads: list[ReadTask] = field(default_factory=list)
    acked_calls: int = 0
    read_calls: int = 0
    errors: list[str] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def begin_send(self, index: int) -> None:
        """Planned message ``index`` is being sent: in flight until acknowledged."""
        with self._changed:
            self.unknown_sends.add(index)

    def record_send(self, index: int, msg_id: str) -> None:
        """The server acknowledged planned message ``index`` as ``msg_id``."""
        with self._changed:
            self.unknown_sends.discard(index)
            self.msg_ids[index] = msg_id
            self.acked_calls += 1
            self._changed.notify_all()

    def begin_read(self, task: ReadTask) -> None:
        """The read batch ``task`` is being sent: in flight until acknowledged."""
        with self._changed:
            self.unknown_reads.append(task)

    def record_read(self, task: ReadTask) -> None:
        """The server acknowledged the read batch ``task``."""
        with self._changed:
            self.unknown_reads.remove(task)
            for message in task.messages:
                self.reads[message.index].add(task.reader)
            self.acked_calls += 1
            self.read_calls += 1
            self._changed.notify_all()

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

    def receipts(self, plan: Plan) -> int:
        """Acknowledged receipts that count: (message, reader) pairs the server must have."""
        return sum(
            len(self.reads[m.index] & set(m.recipients))
            for m in plan.messages
            if m.need_read_receipt and m.index in self.msg_ids
        )

    def readers_of(self, message: PlannedMessage) -> set[str]:
        """Recipients whose acknowledged batch held ``message``."""
        return self.reads.get(message.index, set()) & set(message.recipients)

    def maybe_readers_of(self, message: PlannedMessage) -> set[str]:
        """Recipients whose in-flight batch held ``message``."""
        return {
            task.reader
            for task in self.unknown_reads
            if any(m.index == message.index for m in task.messages)
        } & set(message.recipients)


class Workers:
    """Drain a task list with ``count`` threads, each with its own keep-alive connection.

    With ``tolerate_breaks`` (the crash run), a call that breaks off without an answer is recorded
    as in flight and stops its worker; otherwise it is an error.
    """

    def __init__(
        self,
        base_url: str,
        population: Population,
        ledger: Ledger,
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
        self.ledger.begin_send(message.index)
        data = wire.must("sendMessage", body, token)
        self.ledger.record_send(message.index, data["msgID"])

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

    Each connection's frames must continue exactly where the previous connection's stopped.
    """

    def __init__(self, base_url: str, user: User) -> None:
        self.base_url = base_url
        self.user = user
        self.log: list[dict[str, Any]] = []
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
                f"{_ranges(seqs)}, expected {_ranges(expected)}"
            )
        self.log.extend(frames)
        if frames:
            self._since = frames[-1]["seq"]


def _ranges(seqs: Sequence[int]) -> str:
    if not seqs:
        return "[]"
    parts: list[str] = []
    start = previous = seqs[0]
    for seq in [*seqs[1:], None]:
        if seq is not None and seq == previous + 1:
            previous = seq
            continue
        parts.append(str(start) if start == previous else f"{start}..{previous}")
        if seq is not None:
            start = previous = seq
    return "[" + ", ".join(parts) + "]"


def check_feed(
    user_id: str,
    log: Sequence[dict[str, Any]],
    plan: Plan,
    msg_ids: dict[int, str],
    readers: dict[int, int],
    extra_messages: Counter[str],
    marks_by_peer: Counter[str],
) -> list[str]:
    """Compare one user's whole feed with what the server holds.

    ``msg_ids`` maps plan indexes to the msgIDs of messages that exist; ``readers`` gives each
    receipt-needing one's number of readers. The feed must hold:

    - seq 1..n, each once;
    - one ``onRecvNewMessage`` per message sent to the user (plus ``extra_messages``), no other;
    - receipt pushes only about the user's own messages [P-4]; per group message the pushed
      ``readCount``s, in seq order, exactly 1..N for its N readers (each receipt pushed once,
      counts never go backwards [P-3]); per C2C message one push iff the receiver read it;
    - one ``onRecvC2CReadReceipt`` per acknowledged conversation mark of each peer.
    """
    problems: list[str] = []
    seqs = [frame["seq"] for frame in log]
    if seqs != list(range(1, len(log) + 1)):
        problems.append(f"{user_id}: seqs {_ranges(seqs)} are not 1..{len(log)}")
    by_msg_id = {msg_ids[m.index]: m for m in plan.messages if m.index in msg_ids}
    delivered: Counter[str] = Counter()
    pushed_counts: dict[str, list[tuple[int, int]]] = defaultdict(list)
    marks: Counter[str] = Counter()
    for frame in log:
        if frame["event"] == "onRecvNewMessage":
            delivered[frame["data"]["msgID"]] += 1
        elif frame["event"] == "onRecvMessageReadReceipts":
            for receipt in frame["data"]:
                message = by_msg_id.get(receipt["msgID"])
                if message is None or message.sender != user_id:
                    problems.append(f"{user_id}: pushed a receipt of another's message: {receipt}")
                elif message.group_id is not None:
                    pushed_counts[receipt["msgID"]].append(
                        (receipt["readCount"], receipt["unreadCount"])
                    )
                else:
                    pushed_counts[receipt["msgID"]].append((1, 0))
        elif frame["event"] == "onRecvC2CReadReceipt":
            marks.update(receipt["userID"] for receipt in frame["data"])
        else:
            problems.append(f"{user_id}: unexpected {frame['event']} at seq {frame['seq']}")
    expected_delivered = Counter(
        msg_ids[m.index] for m in plan.messages if user_id in m.recipients and m.index in msg_ids
    )
    expected_delivered.update(extra_messages)
    if delivered != expected_delivered:
        missing = expected_delivered - delivered
        surplus = delivered - expected_delivered
        problems.append(
            f"{user_id}: onRecvNewMessage missing {len(missing)} {list(missing)[:3]}, "
            f"duplicated or unknown {len(surplus)} {list(surplus)[:3]}"
        )
    for message in plan.messages:
        if message.sender != user_id or message.index not in msg_ids:
            continue
        msg_id = msg_ids[message.index]
        read_by = readers.get(message.index, 0) if message.need_read_receipt else 0
        recipients = len(message.recipients)
        if message.group_id is not None:
            expected = [(n, recipients - n) for n in range(1, read_by + 1)]
        else:
            expected = [(1, 0)] * read_by
        if pushed_counts.get(msg_id, []) != expected:
            problems.append(
                f"{user_id}: receipt pushes for {msg_id} ({read_by} readers of {recipients}) "
                f"were {pushed_counts.get(msg_id, [])}, expected {expected}"
            )
    if marks != marks_by_peer:
        problems.append(f"{user_id}: conversation marks pushed {marks}, expected {marks_by_peer}")
    return problems


def check_pulled_state(
    wire: Wire, population: Population, plan: Plan, ledger: Ledger, *, walk_members: bool = True
) -> list[str]:
    """Pull every sender's receipts and every group message's member lists; compare to ledger.

    Where calls were in flight, a message's readers must lie between the acknowledged readers and
    those plus the in-flight ones; and the two member lists must always partition the snapshot
    and agree with ``readCount`` / ``unreadCount``.
    """
    problems: list[str] = []
    own: dict[tuple[str, str], list[PlannedMessage]] = defaultdict(list)
    for message in plan.messages:
        if message.index in ledger.msg_ids:
            own[(message.sender, message.conversation_of(message.sender))].append(message)
    for (sender, _conversation), messages in own.items():
        token = population.users[sender].token
        for start in range(0, len(messages), 30):
            batch = messages[start : start + 30]
            receipts = wire.must(
                "getMessageReadReceipts",
                {"msgIDs": [ledger.msg_ids[m.index] for m in batch]},
                token,
            )
            by_id = {receipt["msgID"]: receipt for receipt in receipts}
            for message in batch:
                problems.extend(_check_receipt(wire, token, message, ledger, by_id, walk_members))
    return problems


def _check_receipt(
    wire: Wire,
    token: str,
    message: PlannedMessage,
    ledger: Ledger,
    by_id: dict[str, dict[str, Any]],
    walk_members: bool,
) -> list[str]:
    msg_id = ledger.msg_ids[message.index]
    receipt = by_id.get(msg_id)
    if not message.need_read_receipt:
        return [f"{msg_id}: plain message has receipt info {receipt}"] if receipt else []
    if receipt is None:
        return [f"{msg_id}: no receipt info returned"]
    sure = ledger.readers_of(message)
    maybe = ledger.maybe_readers_of(message)
    recipients = len(message.recipients)
    if message.group_id is None:
        read = bool(receipt["isPeerRead"])
        if (read and not sure | maybe) or (not read and sure):
            return [f"{msg_id}: isPeerRead {read}, acknowledged readers {sorted(sure)}"]
        if read != (receipt["timestamp"] > 0):
            return [f"{msg_id}: isPeerRead {read} with timestamp {receipt['timestamp']}"]
        return []
    count, unread = receipt["readCount"], receipt["unreadCount"]
    problems: list[str] = []
    if not len(sure) <= count <= len(sure | maybe) or count + unread != recipients:
        problems.append(
            f"{msg_id}: readCount {count} unreadCount {unread}; acknowledged readers {len(sure)},"
            f" in flight {len(maybe - sure)}, recipients {recipients}"
        )
    if walk_members:
        read_list = walk_member_list(wire, token, msg_id, 0)
        unread_list = walk_member_list(wire, token, msg_id, 1)
        everyone = read_list + unread_list
        if len(read_list) != count or len(unread_list) != unread:
            problems.append(
                f"{msg_id}: member lists hold {len(read_list)} read / {len(unread_list)} unread,"
                f" counts say {count} / {unread}"
            )
        if sorted(everyone) != sorted(message.recipients):
            problems.append(f"{msg_id}: member lists are not the recipient snapshot")
        if not sure <= set(read_list) <= sure | maybe:
            problems.append(
                f"{msg_id}: read list {sorted(read_list)} vs acknowledged {sorted(sure)}"
            )
    return problems


def walk_member_list(wire: Wire, token: str, msg_id: str, read_filter: int) -> list[str]:
    """Every userID of one member list, following ``nextSeq`` (at most 1,000 pages)."""
    members: list[str] = []
    next_seq = 0
    for _ in range(1_000):
        page = wire.must(
            "getGroupMessageReadMemberList",
            {"msgID": msg_id, "filter": read_filter, "nextSeq": next_seq, "count": 100},
            token,
        )
        members.extend(member["userID"] for member in page["memberInfoList"])
        if page["isFinished"]:
            return members
        next_seq = page["nextSeq"]
    raise AssertionError(f"member list of {msg_id} did not finish in 1,000 pages")


def send_sentinels(wire: Wire, admin_key: str, population: Population) -> dict[str, str]:
    """One last C2C message to every user, from a user made for it: once a feed holds its
    sentinel, it holds every earlier event of that user (per-user seq order)."""
    closer_id = "closer-" + next(iter(population.users)).split("-", 1)[1]
    token = wire.must("admin/createUser", {"userID": closer_id}, admin_key)["token"]
    sentinels = {}
    for user_id in population.users:
        body = {"receiver": user_id, "elem": {"elemType": "text", "text": "sentinel"}}
        sentinels[user_id] = wire.must("sendMessage", body, token)["msgID"]
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
