"""Big sends: a needReadReceipt message to more than ``SEND_CHUNK`` recipients is written and
delivered in short works, hidden until its snapshot is whole, and finished after a crash.

``SEND_CHUNK`` is lowered to 3 so that a group of 10 takes the chunked path; every check
compares with what the one-work path gives.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from seenby.contract.vocabulary import Code
from seenby.reference_server import domain
from seenby.reference_server.domain import Caller, ReceiptService
from seenby.reference_server.storage import SqliteStorage
from seenby.reference_server.values import Event, GroupChat, Message, TextElem

ServiceScene = Any  # conftest's ServiceScene: the fixtures hand it out

CHUNK = 3
MEMBERS = 10
NEW_MESSAGE = "onRecvNewMessage"


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(domain, "SEND_CHUNK", CHUNK)


def _group(world: ServiceScene) -> tuple[Caller, list[Caller], GroupChat]:
    sender, *members = world.users("sender", *[f"m{i}" for i in range(MEMBERS)])
    return sender, members, world.group(sender, *members)


def test_a_chunked_send_has_the_whole_snapshot_in_order_and_tells_every_recipient(
    world: ServiceScene,
) -> None:
    # M-1 snapshot of the members at send time; L-3 UNREAD in snapshot order; Q-2 counts.
    sender, members, chat = _group(world)
    msg = world.send(sender, chat)
    assert world.counts(sender, msg) == (0, MEMBERS)
    assert world.walk(sender, msg, 1) == [m.user_id for m in members]
    for member in members:
        (event,) = world.sink.of(member.user_id, NEW_MESSAGE)
        assert event.data["msgID"] == msg  # type: ignore[index,call-overload]
        assert world.unread(member) == {f"group_{chat.group_id}": 1}
    world.read(members[4], msg)
    assert world.counts(sender, msg) == (1, MEMBERS - 1)
    assert world.walk(sender, msg, 0) == [members[4].user_id]


class _PausingStorage(SqliteStorage):
    """Runs ``between`` (once) inside the first chunk work of the given kind."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.pause_in: str | None = None
        self.between: Callable[[], None] = lambda: None

    def _pause(self, kind: str) -> None:
        if self.pause_in == kind:
            self.pause_in = None
            self.between()

    def add_recipients(self, message: Message, first_idx: int, user_ids: Sequence[str]) -> None:
        super().add_recipients(message, first_idx, user_ids)
        self._pause("stage")

    def set_delivered(self, message: Message, idx: int | None) -> None:
        super().set_delivered(message, idx)
        self._pause("deliver")


@pytest.fixture
def paused(world: ServiceScene, tmp_path: Path) -> Iterator[ServiceScene]:
    """``world``, on a storage that can run something between the works of a big send."""
    storage = _PausingStorage(str(tmp_path / "big.sqlite3"))
    service = ReceiptService(storage, "admin-key", sink=world.sink, presence=world.presence)
    yield dataclasses.replace(world, service=service, storage=storage)
    storage.close()


class _Sink:
    """Keeps what was published."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, events: Sequence[Event]) -> None:
        self.events.extend(events)

    def of(self, user_id: str, name: str) -> list[Event]:
        return [e for e in self.events if e.user_id == user_id and e.name == name]

    def is_online(self, user_id: str) -> bool:
        return False


def _in_parallel(call: Callable[[], object]) -> Callable[[], object]:
    """Start ``call`` on another thread; return a function that waits for its outcome."""
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(call()))
    thread.start()

    def result() -> object:
        thread.join(10)
        assert not thread.is_alive() and outcome, "the concurrent call never returned"
        return outcome[0]

    return result


def test_other_calls_run_between_the_works_of_a_big_send_and_do_not_see_it_half_written(
    paused: ServiceScene,
) -> None:
    # While the snapshot is written the message exists for nobody: not in history, not
    # receiptable; a receipt for another message is applied and answered meanwhile.
    world = paused
    sender, members, chat = _group(world)
    earlier = world.send(sender, chat)
    seen: dict[str, object] = {}
    storage = world.storage
    assert isinstance(storage, _PausingStorage)

    def between() -> None:
        # Runs inside a chunk work: the calls below must queue, so wait for them afterwards.
        seen["history"] = _in_parallel(lambda: world.history(members[0], chat))
        seen["receipt"] = _in_parallel(lambda: world.read(members[0], earlier))

    storage.between = between
    storage.pause_in = "stage"
    big = world.send(sender, chat, "big")
    history = seen["history"]()  # type: ignore[operator]
    seen["receipt"]()  # type: ignore[operator]
    assert [view.message.msg_id for view in history] == [earlier]  # type: ignore[attr-defined]
    assert world.counts(sender, earlier) == (1, MEMBERS - 1)
    assert [view.message.msg_id for view in world.history(members[0], chat)] == [big, earlier]


def test_a_member_removed_during_delivery_is_not_told_and_keeps_no_conversation(
    paused: ServiceScene,
) -> None:
    # M-2: the removed member keeps its place in the snapshot; R-7: it has lost the group.
    world = paused
    sender, members, chat = _group(world)
    last = members[-1]
    storage = world.storage
    assert isinstance(storage, _PausingStorage)
    removal: dict[str, Callable[[], object]] = {}

    def between() -> None:
        removal["done"] = _in_parallel(
            lambda: world.service.remove_group_members(chat.group_id, [last.user_id])
        )

    storage.between = between
    storage.pause_in = "deliver"
    msg = world.send(sender, chat)
    removal["done"]()
    assert world.sink.of(last.user_id, NEW_MESSAGE) == []
    assert world.unread(last) == {}
    assert world.counts(sender, msg) == (0, MEMBERS)
    assert world.walk(sender, msg, 1)[-1] == last.user_id


class _Crash(BaseException):
    """The process died: nothing after this point runs."""


class _CrashingStorage(SqliteStorage):
    """Dies for good at the ``at``-th call of ``method`` (a chunk of a big send)."""

    def __init__(self, path: str, method: str, at: int) -> None:
        super().__init__(path)
        self.method, self.countdown, self.dead = method, at, False

    def _maybe_die(self, method: str) -> None:
        if method == self.method:
            self.countdown -= 1
            self.dead = self.dead or self.countdown == 0
        if self.dead:
            raise _Crash

    def transaction(self):  # type: ignore[no-untyped-def]
        if self.dead:
            raise _Crash
        return super().transaction()

    def add_recipients(self, message: Message, first_idx: int, user_ids: Sequence[str]) -> None:
        self._maybe_die("add_recipients")
        super().add_recipients(message, first_idx, user_ids)

    def set_delivered(self, message: Message, idx: int | None) -> None:
        self._maybe_die("set_delivered")
        super().set_delivered(message, idx)


def _crash_during(path: Path, method: str, at: int) -> None:
    """Set up a group of ``MEMBERS`` and crash the big send at the ``at``-th ``method`` call."""
    storage = _CrashingStorage(str(path), method, at)
    service = ReceiptService(storage, "k", sink=_Sink(), presence=_Sink())
    for user_id in ["sender", *[f"m{i}" for i in range(MEMBERS)]]:
        service.create_user(user_id)
    service.create_group("g1", "Work", "sender", [f"m{i}" for i in range(MEMBERS)])
    with pytest.raises(_Crash):
        service.send_message(
            Caller("sender"), GroupChat("g1"), TextElem("big"), need_read_receipt=True
        )
    storage.dead = False
    storage.close()


def _restart(path: Path) -> tuple[ReceiptService, _Sink, SqliteStorage]:
    storage = SqliteStorage(str(path))
    sink = _Sink()
    return ReceiptService(storage, "k", sink=sink, presence=sink), sink, storage


def test_a_crash_while_the_snapshot_is_written_leaves_no_trace_of_the_message(
    tmp_path: Path,
) -> None:
    path = tmp_path / "crash.sqlite3"
    _crash_during(path, "add_recipients", 2)
    service, _, storage = _restart(path)
    with storage.transaction():
        assert storage.pending_sends() == []
    for table in ("messages", "recipients"):
        with sqlite3.connect(path) as db:
            assert db.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    assert service.get_history_message_list(Caller("m0"), GroupChat("g1"), 10) == []
    storage.close()


def test_a_crash_during_delivery_is_finished_on_restart_and_each_recipient_told_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "crash.sqlite3"
    _crash_during(path, "set_delivered", 2)  # the first chunk was delivered and committed
    service, sink, storage = _restart(path)
    (view,) = service.get_history_message_list(Caller("m0"), GroupChat("g1"), 10)
    msg = view.message.msg_id
    (receipt,) = service.get_message_read_receipts(Caller("sender"), [msg])
    assert receipt.to_json()["unreadCount"] == MEMBERS
    for i in range(MEMBERS):
        user = f"m{i}"
        told_before_crash = i < CHUNK
        assert [e.seq for e in sink.of(user, NEW_MESSAGE)] == ([] if told_before_crash else [1])
        replay = service.open_event_stream(Caller(user), 0, lambda: None)
        assert [(e.seq, e.name) for e in replay.events] == [(1, NEW_MESSAGE)]
        (conversation,) = service.get_conversation_list(Caller(user))
        assert conversation.unread_count == 1
    with storage.transaction():
        assert storage.pending_sends() == []
    storage.close()


def test_a_hidden_message_cannot_be_receipted(paused: ServiceScene) -> None:
    # Its ID could only be guessed; it fails like an unknown message.
    world = paused
    sender, members, chat = _group(world)
    storage = world.storage
    assert isinstance(storage, _PausingStorage)
    refusal: list[Callable[[], object]] = []

    def between() -> None:
        (pending,) = storage.pending_sends()  # inside the chunk's work: the hidden message
        hidden_id = pending.message.msg_id
        receipt = lambda: world.read(members[0], hidden_id)  # noqa: E731
        refusal.append(_in_parallel(lambda: world.refused(Code.INVALID_PARAMETERS, receipt)))

    storage.between = between
    storage.pause_in = "stage"
    world.send(sender, chat)
    assert "is not a message you can see" in str(refusal[0]())
