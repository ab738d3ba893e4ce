"""Group commit and the token cache of ReceiptService, with real threads.

Concurrent calls share one transaction (one durable COMMIT) but must behave exactly as if they
had run one at a time: each call applies entirely or not at all, later calls see earlier ones,
events are published in seq order, and no caller is answered before the commit that holds its
change. To make a batch happen for sure, a "plug" call holds the leader's transaction open
until every other call is queued behind it; those then run as the next batch.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from seenby.contract.vocabulary import Code
from seenby.reference_server.domain import Admin, Caller, ReceiptService
from seenby.reference_server.storage import SqliteStorage
from seenby.reference_server.values import (
    Event,
    GroupChat,
    JsonValue,
    Message,
    PeerChat,
    Profile,
    ReceiptError,
    TextElem,
)

WAIT_SECONDS = 10.0
RECEIPTS = "onRecvMessageReadReceipts"


class Log:
    """What happened, in the order it happened, across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[tuple[object, ...]] = []

    def add(self, *entry: object) -> None:
        with self._lock:
            self.entries.append(entry)

    def index(self, *entry: object) -> int:
        return self.entries.index(entry)


class ObservedStorage(SqliteStorage):
    """In-memory storage that logs commits and receipt writes, can hold one transaction open,
    can fail the commit of a transaction, and can fail chosen users' receipts after writing."""

    def __init__(self, log: Log) -> None:
        super().__init__(":memory:")
        self.log = log
        self.transactions = 0
        self.hold: threading.Event | None = None
        self.holding = threading.Event()
        self.fail_next_commit = False
        self.doomed: set[str] = set()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        fail, self.fail_next_commit = self.fail_next_commit, False
        self.transactions += 1
        number = self.transactions
        hold, self.hold = self.hold, None
        if hold is not None:
            self.holding.set()
            assert hold.wait(WAIT_SECONDS), "the plug was never released"
        with super().transaction():
            yield
            if fail:
                raise sqlite3.OperationalError("disk I/O error (injected at COMMIT)")
        self.log.add("commit", number)

    def record_receipt(self, message: Message, user_id: str, read_ms: int) -> Message | None:
        counted = super().record_receipt(message, user_id, read_ms)
        self.log.add("write", user_id, self.transactions)
        if user_id in self.doomed:
            raise RuntimeError(f"injected failure after {user_id}'s receipt was written")
        return counted


class RecordingSink:
    """Keeps published events in order, and logs each publication."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.events: list[Event] = []

    def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            self.log.add("publish", event.user_id, event.seq)
        self.events.extend(events)

    def of(self, user_id: str, name: str) -> list[Event]:
        return [e for e in self.events if e.user_id == user_id and e.name == name]


class NobodyOnline:
    def is_online(self, user_id: str) -> bool:
        return False


@dataclass
class Scene:
    """A service over ``ObservedStorage`` and the helpers to run calls concurrently."""

    service: ReceiptService
    storage: ObservedStorage
    sink: RecordingSink
    log: Log
    outcomes: dict[str, object] = field(default_factory=dict)

    def users(self, *user_ids: str) -> list[Caller]:
        for user_id in user_ids:
            self.service.create_user(user_id)
        return [Caller(user_id) for user_id in user_ids]

    def send(self, sender: Caller, group_id: str) -> str:
        view = self.service.send_message(
            sender, GroupChat(group_id), TextElem("hi"), need_read_receipt=True
        )
        return view.message.msg_id

    def counts(self, sender: Caller, msg_id: str) -> tuple[int, int]:
        (receipt,) = self.service.get_message_read_receipts(sender, [msg_id])
        data = receipt.to_json()
        return data["readCount"], data["unreadCount"]  # type: ignore[return-value]

    def receipts(self, caller: Caller, msg_ids: list[str]) -> Callable[[], object]:
        """A call sending ``caller``'s receipts for ``msg_ids``, to run later."""
        return lambda: self.service.send_message_read_receipts(caller, msg_ids)

    def read_counts(self, sender: Caller) -> list[tuple[int, JsonValue]]:
        """(seq, readCount) of each receipt event published to ``sender``, in order."""
        counts = []
        for event in self.sink.of(sender.user_id, RECEIPTS):
            assert isinstance(event.data, list) and isinstance(event.data[0], dict)
            counts.append((event.seq, event.data[0]["readCount"]))
        return counts

    def queued(self) -> int:
        """How many calls wait in the group-commit queue (the leader's batch included)."""
        return self.service._group_commit.queued()

    def batch(self, calls: dict[str, Callable[[], object]], *, fail_commit: bool = False) -> None:
        """Run ``calls`` concurrently as one batch, queued in the given order, behind a plug.

        Each call's outcome (its result or the exception it raised) lands in ``outcomes``
        under its name, and ``("answer", name)`` is logged as soon as it returns. With
        ``fail_commit`` the batch's COMMIT fails.
        """
        released = threading.Event()
        self.storage.hold = released
        plug = threading.Thread(target=self.service.get_settings)
        plug.start()
        assert self.storage.holding.wait(WAIT_SECONDS), "the plug never began its transaction"
        self.storage.fail_next_commit = fail_commit  # the plug's transaction took its flag
        threads = []
        for name, call in calls.items():
            thread = threading.Thread(target=self._call, args=(name, call))
            thread.start()
            threads.append(thread)
            # One at a time, so that the queue order is the order of ``calls``.
            wait_for(lambda: self.queued() == len(threads) + 1, f"{name} to queue")
        before = self.storage.transactions
        released.set()
        for thread in [plug, *threads]:
            thread.join(WAIT_SECONDS)
            assert not thread.is_alive(), "a call never returned"
        assert self.storage.transactions == before + 1, "the queued calls were not one batch"

    def _call(self, name: str, call: Callable[[], object]) -> None:
        try:
            self.outcomes[name] = call()
        except BaseException as error:  # the outcome under test may be any exception
            self.outcomes[name] = error
        self.log.add("answer", name)


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


@pytest.fixture
def scene() -> Iterator[Scene]:
    log = Log()
    storage = ObservedStorage(log)
    sink = RecordingSink(log)
    service = ReceiptService(storage, "admin-key", sink=sink, presence=NobodyOnline())
    yield Scene(service, storage, sink, log)
    storage.close()


def test_a_call_failing_mid_batch_is_rolled_back_alone_and_the_rest_is_serial(
    scene: Scene,
) -> None:
    """R-3, P-3: 50 readers in one batch; 10 send an invalid batch (ReceiptError), 10 fail
    with another exception after their receipt row was written. Exactly the 30 others count,
    each seeing the count left by the one before it."""
    readers = [f"reader{i:02}" for i in range(50)]
    alice, *callers = scene.users("alice", *readers)
    scene.service.create_group("g1", "Work", "alice", readers)
    msg = scene.send(alice, "g1")
    refused = set(readers[4::5])
    scene.storage.doomed = set(readers[2::5])
    valid = [r for r in readers if r not in refused and r not in scene.storage.doomed]

    scene.batch(
        {
            c.user_id: scene.receipts(
                c, [msg, "no-such-message"] if c.user_id in refused else [msg]
            )
            for c in callers
        }
    )

    for reader in readers:
        outcome = scene.outcomes[reader]
        if reader in refused:
            assert isinstance(outcome, ReceiptError), (reader, outcome)
            assert outcome.code == Code.INVALID_PARAMETERS
        elif reader in scene.storage.doomed:
            assert isinstance(outcome, RuntimeError), (reader, outcome)
        else:
            assert outcome is None, (reader, outcome)
    assert len(valid) == 30
    assert scene.counts(alice, msg) == (30, 20)
    assert scene.read_counts(alice) == [(n, n) for n in range(1, 31)]
    read_walk = scene.service.get_group_message_read_member_list(alice, msg, 0, 0, 100)
    assert [m.user_id for m in read_walk.members] == valid  # queue order = reading order


def test_a_call_failing_alone_in_its_batch_changes_nothing_and_publishes_nothing(
    scene: Scene,
) -> None:
    """R-3: a batch of one runs without a savepoint; a work that fails after writing its
    receipt row is undone with the whole transaction, and the next call sees no trace of it."""
    alice, bob, carol = scene.users("alice", "bob", "carol")
    scene.service.create_group("g1", "Work", "alice", ["bob", "carol"])
    msg = scene.send(alice, "g1")
    scene.storage.doomed = {"bob"}
    with pytest.raises(RuntimeError, match="injected failure after bob"):
        scene.service.send_message_read_receipts(bob, [msg])
    assert ("write", "bob", scene.storage.transactions) in scene.log.entries  # it did write
    assert scene.counts(alice, msg) == (0, 2)
    assert scene.read_counts(alice) == []
    scene.service.send_message_read_receipts(carol, [msg])
    assert scene.counts(alice, msg) == (1, 1)
    read_walk = scene.service.get_group_message_read_member_list(alice, msg, 0, 0, 100)
    assert [m.user_id for m in read_walk.members] == ["carol"]
    assert scene.read_counts(alice) == [(1, 1)]  # seq 1: bob's event was never numbered


def test_every_answer_comes_after_the_commit_that_holds_its_change(scene: Scene) -> None:
    """Durability: a caller is answered only after the COMMIT of the transaction that wrote
    its receipt; nothing is published before that commit either."""
    readers = [f"reader{i:02}" for i in range(20)]
    alice, *callers = scene.users("alice", *readers)
    scene.service.create_group("g1", "Work", "alice", readers)
    msg = scene.send(alice, "g1")

    scene.batch({c.user_id: scene.receipts(c, [msg]) for c in callers})

    entries = scene.log.entries
    writes = {str(entry[1]): entry[2] for entry in entries if entry[0] == "write"}
    assert sorted(writes) == readers
    (batch_transaction,) = set(writes.values())
    commit = scene.log.index("commit", batch_transaction)
    for reader in readers:
        assert scene.log.index("answer", reader) > commit, f"{reader} answered before COMMIT"
    alice_pushes = [i for i, entry in enumerate(entries) if entry[:2] == ("publish", "alice")]
    assert len(alice_pushes) == 20 and min(alice_pushes) > commit


def test_each_users_events_are_published_in_seq_order(scene: Scene) -> None:
    """P-3: receipts for two senders' messages, interleaved in one batch; each sender's events
    are published with consecutive seqs and counts that never go back."""
    readers = [f"reader{i:02}" for i in range(15)]
    alice, bob, *callers = scene.users("alice", "bob", *readers)
    scene.service.create_group("g1", "Work", "alice", ["bob", *readers])
    from_alice, from_bob = scene.send(alice, "g1"), scene.send(bob, "g1")
    calls: dict[str, Callable[[], object]] = {}
    for caller in callers:
        for msg in (from_alice, from_bob):
            calls[f"{caller.user_id}:{msg}"] = scene.receipts(caller, [msg])
    # Each sender already got the other's message (seq 1).
    assert [len(scene.sink.of(u, "onRecvNewMessage")) for u in ("alice", "bob")] == [1, 1]

    scene.batch(calls)

    assert all(outcome is None for outcome in scene.outcomes.values())
    for sender in (alice, bob):
        assert scene.read_counts(sender) == [(n + 1, n) for n in range(1, 16)]
    assert scene.counts(alice, from_alice) == (15, 1)


def test_a_failed_commit_fails_every_call_of_the_batch_and_publishes_nothing(
    scene: Scene,
) -> None:
    """If COMMIT fails, no call of the batch is answered with success, nothing is published,
    and nothing is applied; a call refused on its own merits keeps its own error."""
    readers = [f"reader{i:02}" for i in range(10)]
    alice, *callers = scene.users("alice", *readers)
    scene.service.create_group("g1", "Work", "alice", readers)
    msg = scene.send(alice, "g1")
    published = len(scene.sink.events)
    calls = {c.user_id: scene.receipts(c, [msg]) for c in callers}
    calls["refused"] = scene.receipts(callers[0], [])

    scene.batch(calls, fail_commit=True)

    for reader in readers:
        outcome = scene.outcomes[reader]
        assert isinstance(outcome, sqlite3.OperationalError), (reader, outcome)
    refused = scene.outcomes["refused"]
    assert isinstance(refused, ReceiptError) and refused.code == Code.INVALID_PARAMETERS
    assert len(scene.sink.events) == published
    assert scene.counts(alice, msg) == (0, 10)
    scene.service.send_message_read_receipts(callers[0], [msg])  # the service still works
    assert scene.counts(alice, msg) == (1, 9)


def test_a_push_connection_registers_at_its_place_in_the_batch(scene: Scene) -> None:
    """§6.1: an event stream opened between two sends of one batch replays the first send's
    event and is registered before the second send's event is published: exactly once."""
    alice, bob = scene.users("alice", "bob")
    chat = PeerChat("bob")
    replays = []

    def open_stream() -> object:
        replay = scene.service.open_event_stream(bob, 0, lambda: scene.log.add("register", "bob"))
        replays.append(replay)
        return replay

    scene.batch(
        {
            "first": lambda: scene.service.send_message(alice, chat, TextElem("1")),
            "open": open_stream,
            "second": lambda: scene.service.send_message(alice, chat, TextElem("2")),
        }
    )

    (replay,) = replays
    assert [e.seq for e in replay.events] == [1]
    bob_log = [e for e in scene.log.entries if e[0] in ("register", "publish") and e[1] == "bob"]
    assert bob_log == [("publish", "bob", 1), ("register", "bob"), ("publish", "bob", 2)]


def test_a_known_token_is_identified_without_a_transaction(scene: Scene) -> None:
    """Tokens never change: after the first lookup a token costs no transaction."""
    token = scene.service.create_user("alice").token
    before = scene.storage.transactions
    assert scene.service.identify(token) == Caller("alice")
    assert scene.storage.transactions == before + 1
    assert scene.service.identify(token) == Caller("alice")
    assert scene.service.identify("admin-key") == Admin()
    assert scene.storage.transactions == before + 1


def test_an_unknown_token_is_not_cached_so_a_later_user_is_found(scene: Scene) -> None:
    """A miss goes to storage every time: a user created after the miss is identified."""
    digest = hashlib.sha256(b"late-token").hexdigest()
    assert scene.service.identify("late-token") is None
    with scene.storage.transaction():
        scene.storage.insert_user(Profile("late", None, None), digest)
    assert scene.service.identify("late-token") == Caller("late")
    assert scene.service.identify("other-token") is None
