"""The ground truth of a receipt workload: what the target acknowledged, and what is in doubt.

Theory of operation. Every state-changing call is written down twice: ``begin_*`` before it is
sent (the call is *in doubt* from then on) and ``acknowledge_*`` once the target answered code
0. A call the target refused with an error code is ``forget``-ten (a refusal changes nothing
[R-1]); a call whose answer was lost (timeout, broken connection, a killed worker) stays in
doubt. Every call is also counted (``calls``), and every refusal by method and code: as a
refusal (``refusals``) where the spec lets the target refuse that call as a whole, as a fault
(``faults``, with the reason it had to succeed) where it does not. The
verdict (`seenby.harness.load.verdict`) is then exact where nothing was in doubt and bracketed where
something was: acknowledged <= stored <= acknowledged + in doubt.

Messages are known by a ``ref`` the client chose and put in the content (text or custom data),
so a message whose ``sendMessage`` answer was lost can still be recognised when it is pushed.
Push connections are logged frame by frame in a compact form (`Frame`). A ledger is plain data:
``to_json`` / ``from_json`` carry it between Locust processes and ``merge`` joins the ledgers of
several workers. It is safe to record from several threads (or greenlets) at once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from seenby.contract.vocabulary import (
    ON_RECV_C2C_READ_RECEIPT,
    ON_RECV_MESSAGE_READ_RECEIPTS,
    ON_RECV_NEW_MESSAGE,
    ON_REPLAY_GAP,
    c2c_conversation_id,
    group_conversation_id,
)

__all__ = ["Connection", "Frame", "Ledger", "Send", "frame_of"]


@dataclass
class Send:
    """One ``sendMessage`` call: who sent what to whom; ``msg_id`` is None while in doubt."""

    ref: str
    sender: str
    recipients: tuple[str, ...]
    group_id: str | None
    need_read_receipt: bool
    msg_id: str | None = None

    def conversation_of(self, viewer: str) -> str:
        """The conversation ID as ``viewer`` sees it (``c2c_<peer>`` or ``group_<groupID>``)."""
        if self.group_id is not None:
            return group_conversation_id(self.group_id)
        peer = self.recipients[0] if viewer == self.sender else self.sender
        return c2c_conversation_id(peer)

    def to_json(self) -> list[Any]:
        """A compact JSON form."""
        return [
            self.ref,
            self.sender,
            list(self.recipients),
            self.group_id,
            self.need_read_receipt,
            self.msg_id,
        ]

    @classmethod
    def from_json(cls, data: list[Any]) -> Send:
        """The inverse of ``to_json``."""
        ref, sender, recipients, group_id, need, msg_id = data
        return cls(ref, sender, tuple(recipients), group_id, need, msg_id)


@dataclass(frozen=True)
class Frame:
    """One pushed frame, reduced to what the verdict reads.

    ``items`` per event: ``onRecvNewMessage`` → ``((msgID, ref),)``;
    ``onRecvMessageReadReceipts`` → ``((msgID, readCount, unreadCount), ...)`` (a C2C receipt
    counts as ``(msgID, 1, 0)``); ``onRecvC2CReadReceipt`` → ``((peer userID,),)``;
    ``onReplayGap`` → ``((since, firstAvailableSeq),)``.
    """

    seq: int
    event: str
    items: tuple[tuple[Any, ...], ...]


def frame_of(event: str, seq: int, data: Any) -> Frame:
    """The `Frame` of one pushed ``{event, seq, data}`` (already checked against event.json)."""
    items: list[tuple[Any, ...]]
    if event == ON_RECV_NEW_MESSAGE:
        elem = data["elem"]
        items = [(data["msgID"], elem.get("text", elem.get("data", "")))]
    elif event == ON_RECV_MESSAGE_READ_RECEIPTS:
        items = [
            (r["msgID"], r["readCount"], r["unreadCount"])
            if "readCount" in r
            else (r["msgID"], 1 if r["isPeerRead"] else 0, 0 if r["isPeerRead"] else 1)
            for r in data
        ]
    elif event == ON_RECV_C2C_READ_RECEIPT:
        items = [(r["userID"],) for r in data]
    elif event == ON_REPLAY_GAP:
        items = [(data["since"], data["firstAvailableSeq"])]
    else:
        items = []
    return Frame(seq, event, tuple(items))


@dataclass
class Connection:
    """One push connection of one user: the ``since`` it opened with and the frames it got."""

    user_id: str
    since: int
    frames: list[Frame] = field(default_factory=list)
    settled: bool = False
    """The connection saw the user's last event (its settle sentinel) before it closed."""
    unsettled_because: str = ""
    """Why it did not settle, when known."""

    def to_json(self) -> list[Any]:
        """A compact JSON form."""
        return [
            self.user_id,
            self.since,
            self.settled,
            self.unsettled_because,
            [[f.seq, f.event, [list(i) for i in f.items]] for f in self.frames],
        ]

    @classmethod
    def from_json(cls, data: list[Any]) -> Connection:
        """The inverse of ``to_json``."""
        user_id, since, settled, because, frames = data
        return cls(
            user_id,
            since,
            [Frame(seq, event, tuple(tuple(i) for i in items)) for seq, event, items in frames],
            settled,
            because,
        )


def _pair(key: str) -> tuple[str, str]:
    first, second = key.split("\n")
    return first, second


class Ledger:
    """Acknowledged and in-doubt calls, push logs and server faults of one workload run."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        """Bearer token of every user the workload created (the verdict pulls as the sender)."""
        self.sends: dict[str, Send] = {}
        """Every send begun, by ref."""
        self.readers: dict[str, set[str]] = {}
        """msgID → users whose acknowledged ``sendMessageReadReceipts`` named it."""
        self.doubtful_readers: dict[str, set[str]] = {}
        """msgID → users whose in-doubt batch named it."""
        self.marks: Counter[tuple[str, str]] = Counter()
        """(reader, peer) → acknowledged ``markC2CMessageAsRead`` calls."""
        self.doubtful_marks: Counter[tuple[str, str]] = Counter()
        self.connections: list[Connection] = []
        """Every push connection, in the order each user opened them."""
        self.faults: list[str] = []
        """Server faults: 5xx, calls that got no answer, refusals the spec forbids, and contract
        violations seen on any call or frame."""
        self.calls: Counter[str] = Counter()
        """Calls made, by method (answered or not)."""
        self.refusals: Counter[tuple[str, int]] = Counter()
        """(method, code) → refusals the spec allows (the call changed nothing)."""
        self.lock = threading.RLock()

    # -- recording -------------------------------------------------------------------------

    def add_user(self, user_id: str, token: str) -> None:
        """A user the workload created."""
        with self.lock:
            self.tokens[user_id] = token

    def begin_send(self, send: Send) -> None:
        """``send`` is about to go out: in doubt until acknowledged."""
        with self.lock:
            self.sends[send.ref] = send

    def acknowledge_send(self, ref: str, msg_id: str) -> None:
        """The target acknowledged the send ``ref`` as ``msg_id``."""
        with self.lock:
            self.sends[ref].msg_id = msg_id

    def forget_send(self, ref: str) -> None:
        """The target refused the send ``ref`` with an error code: it never happened."""
        with self.lock:
            del self.sends[ref]

    def begin_read(self, reader: str, msg_ids: Iterable[str]) -> None:
        """``reader``'s receipt batch for ``msg_ids`` is about to go out."""
        with self.lock:
            for msg_id in msg_ids:
                self.doubtful_readers.setdefault(msg_id, set()).add(reader)

    def acknowledge_read(self, reader: str, msg_ids: Iterable[str]) -> None:
        """The target acknowledged ``reader``'s batch for ``msg_ids``."""
        with self.lock:
            for msg_id in msg_ids:
                self._undoubt(msg_id, reader)
                self.readers.setdefault(msg_id, set()).add(reader)

    def forget_read(self, reader: str, msg_ids: Iterable[str]) -> None:
        """The target refused the batch: it changed nothing."""
        with self.lock:
            for msg_id in msg_ids:
                self._undoubt(msg_id, reader)

    def _undoubt(self, msg_id: str, reader: str) -> None:
        doubtful = self.doubtful_readers.get(msg_id)
        if doubtful is not None:
            doubtful.discard(reader)
            if not doubtful:
                del self.doubtful_readers[msg_id]

    def begin_mark(self, reader: str, peer: str) -> None:
        """``reader`` is about to mark its C2C conversation with ``peer`` read."""
        with self.lock:
            self.doubtful_marks[(reader, peer)] += 1

    def acknowledge_mark(self, reader: str, peer: str, *, acknowledged: bool = True) -> None:
        """The mark was acknowledged (or, with ``acknowledged=False``, refused)."""
        with self.lock:
            self.doubtful_marks[(reader, peer)] -= 1
            if not self.doubtful_marks[(reader, peer)]:
                del self.doubtful_marks[(reader, peer)]
            if acknowledged:
                self.marks[(reader, peer)] += 1

    def open_connection(self, user_id: str, since: int) -> Connection:
        """A new push connection of ``user_id``; record its frames with ``Connection.frames``."""
        connection = Connection(user_id, since)
        with self.lock:
            self.connections.append(connection)
        return connection

    def fault(self, description: str) -> None:
        """A server fault: a 5xx, no answer, a forbidden refusal or a contract violation."""
        with self.lock:
            self.faults.append(description)

    def count_call(self, method: str) -> None:
        """One more ``method`` call was sent."""
        with self.lock:
            self.calls[method] += 1

    def refusal(self, method: str, code: int) -> None:
        """The target refused a ``method`` call with ``code``, as the spec lets it."""
        with self.lock:
            self.refusals[(method, code)] += 1

    # -- reading ---------------------------------------------------------------------------

    def acknowledged_sends(self) -> Iterator[Send]:
        """Sends that certainly exist (msgID known)."""
        return (send for send in self.sends.values() if send.msg_id is not None)

    def sure_readers(self, send: Send) -> set[str]:
        """Recipients whose acknowledged batch named ``send``."""
        assert send.msg_id is not None
        return self.readers.get(send.msg_id, set()) & set(send.recipients)

    def maybe_readers(self, send: Send) -> set[str]:
        """Recipients whose in-doubt batch named ``send`` (and no acknowledged one)."""
        assert send.msg_id is not None
        doubtful = self.doubtful_readers.get(send.msg_id, set()) & set(send.recipients)
        return doubtful - self.sure_readers(send)

    def receipts(self) -> int:
        """Acknowledged receipts that count: distinct (message, recipient) pairs."""
        return sum(
            len(self.sure_readers(send))
            for send in self.acknowledged_sends()
            if send.need_read_receipt
        )

    def connections_of(self, user_id: str) -> list[Connection]:
        """``user_id``'s push connections in the order they were opened."""
        return [c for c in self.connections if c.user_id == user_id]

    # -- shipping --------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (for Locust's message channel or a file)."""
        with self.lock:
            return {
                "tokens": dict(self.tokens),
                "sends": [send.to_json() for send in self.sends.values()],
                "readers": {m: sorted(r) for m, r in self.readers.items()},
                "doubtfulReaders": {m: sorted(r) for m, r in self.doubtful_readers.items()},
                "marks": [[f"{r}\n{p}", n] for (r, p), n in self.marks.items()],
                "doubtfulMarks": [[f"{r}\n{p}", n] for (r, p), n in self.doubtful_marks.items()],
                "connections": [c.to_json() for c in self.connections],
                "faults": list(self.faults),
                "calls": dict(self.calls),
                "refusals": [[m, c, n] for (m, c), n in sorted(self.refusals.items())],
            }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ledger:
        """The inverse of ``to_json``."""
        ledger = cls()
        ledger.tokens = dict(data["tokens"])
        ledger.sends = {s[0]: Send.from_json(s) for s in data["sends"]}
        ledger.readers = {m: set(r) for m, r in data["readers"].items()}
        ledger.doubtful_readers = {m: set(r) for m, r in data["doubtfulReaders"].items()}
        ledger.marks = Counter({_pair(k): n for k, n in data["marks"]})
        ledger.doubtful_marks = Counter({_pair(k): n for k, n in data["doubtfulMarks"]})
        ledger.connections = [Connection.from_json(c) for c in data["connections"]]
        ledger.faults = list(data["faults"])
        ledger.calls = Counter(data["calls"])
        ledger.refusals = Counter({(m, c): n for m, c, n in data["refusals"]})
        return ledger

    @classmethod
    def merge(cls, ledgers: Iterable[Ledger]) -> Ledger:
        """One ledger holding everything ``ledgers`` hold (the workers' truths, joined)."""
        merged = cls()
        for ledger in ledgers:
            merged.tokens.update(ledger.tokens)
            merged.sends.update(ledger.sends)
            for msg_id, readers in ledger.readers.items():
                merged.readers.setdefault(msg_id, set()).update(readers)
            for msg_id, readers in ledger.doubtful_readers.items():
                merged.doubtful_readers.setdefault(msg_id, set()).update(readers)
            merged.marks.update(ledger.marks)
            merged.doubtful_marks.update(ledger.doubtful_marks)
            merged.connections.extend(ledger.connections)
            merged.faults.extend(ledger.faults)
            merged.calls.update(ledger.calls)
            merged.refusals.update(ledger.refusals)
        return merged
