"""The verdict after a receipt workload: the target's final state checked against the ledger.

``pull_state`` asks the target, as each sender, for the receipts of every message it sent and
walks both member lists of every group message; ``judge`` compares that state and every logged
push connection with the `Ledger` and returns a `Verdict`: one `Invariant` per rule of
``INVARIANTS``, each with the number of cases checked and concrete breaches (message, user,
expected, seen). ``judge`` is pure, so it is tested on hand-made ledgers without a server.

Where a call is in doubt the check is bracketed: a message's ``readCount`` lies between its
acknowledged readers and those plus the in-doubt ones. Feed rules apply to users whose last
connection settled (saw the user's last event before it closed); the others are named by
``push-settled``.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from seenby.contract.vocabulary import RECEIPT_BATCH_MAX
from seenby.harness.api.models import ReadFilter, Receipt
from seenby.harness.drivers.wire import WireUserClient
from seenby.harness.wire.transport import ApiError, NoAnswer, ViolationLog

from .ledger import Connection, Frame, Ledger, Send

__all__ = [
    "INVARIANTS",
    "RULES",
    "Breach",
    "Invariant",
    "PulledState",
    "Rule",
    "Verdict",
    "judge",
    "pull_state",
    "seq_ranges",
]


@dataclass(frozen=True)
class Rule:
    """One invariant as data: its stable code, the behaviours it checks, and what it means."""

    code: str
    behaviours: tuple[str, ...]
    """Behaviour IDs of docs/spec/receipts-spec.md (``P-3``) or protocol sections (``§6.1``)."""
    meaning: str


RULES: tuple[Rule, ...] = (
    Rule(
        "read-count",
        ("P-3", "Q-2", "R-5"),
        "each message's readCount (C2C: isPeerRead) equals its distinct acknowledged readers, "
        "bracketed by the in-doubt ones; a plain message has no receipt (left out of the pull, "
        "or the pull naming it refused)",
    ),
    Rule("read-plus-unread", ("Q-2",), "readCount + unreadCount = recipients"),
    Rule(
        "member-lists",
        ("L-3",),
        "the READ and UNREAD lists partition the recipients, with readCount and unreadCount "
        "members, READ holding the acknowledged readers",
    ),
    Rule(
        "push-monotonic",
        ("P-3",),
        "the counts pushed to a sender for one message never go backwards",
    ),
    Rule(
        "push-final",
        ("P-1", "P-3", "Q-4"),
        "the last count pushed to the sender equals the pulled count, one push per new receipt",
    ),
    Rule("push-to-sender-only", ("P-4",), "receipt pushes reach only the message's sender"),
    Rule("push-settled", (), "every connected user's last connection saw the user's last event"),
    Rule(
        "seq-gap-free",
        ("§6.1",),
        "each user's seq runs 1, 2, 3 ... across connections; a connection opened with since=N "
        "continues at N + 1",
    ),
    Rule(
        "message-once",
        ("P-1", "S-1"),
        "each message arrives once per connection, and exactly once per recipient over its "
        "connections, live or replayed",
    ),
    Rule(
        "conversation-marks",
        ("C-1",),
        "each acknowledged markC2CMessageAsRead is pushed once to the peer",
    ),
    Rule(
        "no-server-fault",
        ("E-1", "E-3"),
        "every call got an answer, none 5xx; no call the spec says must succeed was refused "
        "(refusals it allows are counted apart); every answer and frame kept the contract",
    ),
)
"""Every invariant the verdict checks, in report order."""

INVARIANTS: dict[str, Rule] = {rule.code: rule for rule in RULES}
"""The rules by code."""

NOT_CHECKED = "not checked"

T = TypeVar("T")

EXAMPLES_KEPT = 5
"""Breaches kept per invariant (the count covers them all)."""
RECEIPT_BATCH = RECEIPT_BATCH_MAX.value
"""Messages per verdict pull: the spec's default batch limit."""
PULL_THREADS = 16
PULL_ATTEMPTS = 3


@dataclass(frozen=True)
class Breach:
    """One concrete case where an invariant failed."""

    message: str
    user: str
    expected: str
    seen: str

    def __str__(self) -> str:
        where = f"message {self.message or '-'}, user {self.user or '-'}"
        return f"{where}: expected {self.expected}, saw {self.seen}"


@dataclass
class Invariant:
    """One rule's outcome: cases checked, cases that broke it, and a few examples."""

    name: str
    """The rule's code (a key of ``INVARIANTS``)."""
    checked: int = 0
    broken: int = 0
    examples: list[Breach] = field(default_factory=list)
    not_checked_because: str = ""
    """Why the run could not check this rule at all (a workload that lacks the means)."""

    @property
    def state(self) -> str:
        """``"broken"``, ``"holds"`` (cases checked, none broke it) or ``"not checked"``."""
        if self.broken:
            return "broken"
        return "holds" if self.checked else NOT_CHECKED

    @property
    def holds(self) -> bool:
        """Cases were checked and none broke the rule (a rule that checked nothing does not
        hold: it is ``not checked``)."""
        return self.state == "holds"

    def passed(self, cases: int) -> None:
        """Count ``cases`` more cases that kept the rule."""
        self.checked += cases

    def check(self, ok: bool, message: str, user: str, expected: object, seen: object) -> None:
        """Count one case; keep it as an example if it broke the rule."""
        self.checked += 1
        if not ok:
            self.broken += 1
            if len(self.examples) < EXAMPLES_KEPT:
                self.examples.append(Breach(message, user, str(expected), str(seen)))

    def to_json(self) -> dict[str, Any]:
        """The JSON summary's entry for this rule."""
        rule = INVARIANTS[self.name]
        return {
            "name": self.name,
            "behaviours": list(rule.behaviours),
            "description": rule.meaning,
            "state": self.state,
            "holds": self.holds,
            "checked": self.checked,
            "broken": self.broken,
            "examples": [vars(example) for example in self.examples],
            **({"notCheckedBecause": self.not_checked_because} if self.not_checked_because else {}),
        }


@dataclass
class Verdict:
    """The outcome of every invariant of one run."""

    invariants: dict[str, Invariant]

    @property
    def holds(self) -> bool:
        """No invariant broke and the run gave something to check (some invariants may be
        ``not checked``: see ``not_checked``; a run that checked nothing proves nothing)."""
        return not self.broken and len(self.not_checked) < len(self.invariants)

    @property
    def broken(self) -> list[Invariant]:
        """The invariants that failed, in ``RULES`` order."""
        return [i for i in self.invariants.values() if i.state == "broken"]

    @property
    def not_checked(self) -> list[Invariant]:
        """The invariants the run gave nothing to check, in ``RULES`` order."""
        return [i for i in self.invariants.values() if i.state == NOT_CHECKED]

    def headline(self) -> str:
        """One line: held, or which broke; and which were not checked."""
        if self.broken:
            text = "BROKEN: " + ", ".join(i.name for i in self.broken)
        elif not self.holds:
            return "NOTHING CHECKED: the run gave no invariant anything to check"
        else:
            text = "every invariant checked holds"
        if self.not_checked:
            text += " (not checked: " + ", ".join(i.name for i in self.not_checked) + ")"
        return text

    def lines(self) -> list[str]:
        """A human report: one line per invariant, examples under the broken ones."""
        marks = {"holds": "ok  ", "broken": "FAIL", NOT_CHECKED: "--  "}
        lines = []
        for invariant in self.invariants.values():
            lines.append(
                f"{marks[invariant.state]} {invariant.name:<20} "
                + (
                    NOT_CHECKED
                    + (
                        f": {invariant.not_checked_because}"
                        if invariant.not_checked_because
                        else ""
                    )
                    if invariant.state == NOT_CHECKED
                    else f"{invariant.checked:>8} checked"
                )
                + (f", {invariant.broken} broken" if invariant.broken else "")
            )
            lines.extend(f"       {example}" for example in invariant.examples)
        return lines

    def problems(self) -> list[str]:
        """One line per kept breach, naming its invariant (for test failure messages)."""
        return [
            f"{invariant.name}: {example}"
            for invariant in self.broken
            for example in invariant.examples
        ]

    def to_json(self) -> dict[str, Any]:
        """The JSON summary's ``verdict``."""
        return {
            "holds": self.holds,
            "broken": [invariant.name for invariant in self.broken],
            "notChecked": [invariant.name for invariant in self.not_checked],
            "invariants": [invariant.to_json() for invariant in self.invariants.values()],
        }


@dataclass
class PulledState:
    """What the target holds at the end: receipts and member lists of the ledger's messages."""

    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """msgID → the receipt ``getMessageReadReceipts`` returned (raw wire dict)."""
    member_lists: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    """msgID → (READ userIDs, UNREAD userIDs), as walked."""
    pulled: set[str] = field(default_factory=set)
    """msgIDs whose receipts were asked for (absent from ``receipts``: none was returned)."""
    faults: list[str] = field(default_factory=list)
    """Calls of the pull itself that failed, were refused though they had to succeed, or broke
    the contract."""
    calls: int = 0
    """Calls the pull made."""
    refusals: Counter[tuple[str, int]] = field(default_factory=Counter)
    """(method, code) → refusals of the pull that the spec allows."""


def pull_state(base_url: str, ledger: Ledger, *, walk_members: bool = True) -> PulledState:
    """Pull, as each sender, the receipts of all its acknowledged messages (batches of one
    conversation) and, with ``walk_members``, both member lists of each group receipt message.
    """
    state = PulledState()
    violations = ViolationLog()
    batches: list[tuple[str, list[Send]]] = []
    by_conversation: dict[tuple[str, str], list[Send]] = defaultdict(list)
    for send in ledger.acknowledged_sends():
        if send.sender in ledger.tokens:
            by_conversation[(send.sender, send.conversation_of(send.sender))].append(send)
    for (sender, _), sends in sorted(by_conversation.items()):
        batches.extend(
            (sender, sends[start : start + RECEIPT_BATCH])
            for start in range(0, len(sends), RECEIPT_BATCH)
        )
    clients: dict[str, WireUserClient] = {}
    lock = threading.Lock()

    def client(user_id: str) -> WireUserClient:
        if user_id not in clients:
            clients[user_id] = WireUserClient(
                user_id, ledger.tokens[user_id], base_url=base_url, violations=violations
            )
        return clients[user_id]

    def members(sender: str, msg_id: str, which: ReadFilter) -> list[str]:
        walked = client(sender).walk_group_message_read_members(msg_id, which)
        return [member.user_id for member in walked]

    def receipts_of(sender: str, msg_ids: list[str]) -> list[Receipt]:
        with lock:
            state.calls += 1
        return list(_patiently(lambda: client(sender).get_message_read_receipts(msg_ids)))

    def pull_receipts(sender: str, sends: list[Send]) -> None:
        """Pull the batch; a refusal of a batch naming plain messages is one the spec allows
        [S-3]: then the receipt messages are pulled alone (they must answer) and each plain one
        alone (a refusal there is its "no receipt")."""
        msg_ids = [send.msg_id for send in sends if send.msg_id is not None]
        plain = [send.msg_id for send in sends if send.msg_id and not send.need_read_receipt]
        try:
            receipts = receipts_of(sender, msg_ids)
        except ApiError as refused:
            if not plain:
                state.faults.append(
                    f"getMessageReadReceipts as {sender} refused ({refused}), though every "
                    "message named is the caller's own and needs a receipt [Q-1]"
                )
                return
            with lock:
                state.refusals[("getMessageReadReceipts", refused.code)] += 1
            needing = [m for m in msg_ids if m not in plain]
            receipts = []
            if needing:
                try:
                    receipts = receipts_of(sender, needing)
                except ApiError as again:
                    state.faults.append(
                        f"getMessageReadReceipts as {sender} refused ({again}), though every "
                        "message named is the caller's own and needs a receipt [Q-1]"
                    )
                    return
            for msg_id in plain:
                try:
                    receipts.extend(receipts_of(sender, [msg_id]))
                except ApiError as alone:
                    with lock:
                        state.refusals[("getMessageReadReceipts", alone.code)] += 1
        state.pulled.update(msg_ids)
        state.receipts.update({receipt.msg_id: receipt.raw for receipt in receipts})

    def pull(batch: tuple[str, list[Send]]) -> None:
        sender, sends = batch
        try:
            pull_receipts(sender, sends)
        except (AssertionError, OSError) as error:
            state.faults.append(f"getMessageReadReceipts as {sender}: {error}")
            return
        if not walk_members:
            return
        for send in sends:
            if send.group_id is None or not send.need_read_receipt or send.msg_id is None:
                continue
            try:
                with lock:
                    state.calls += 2
                read, unread = (
                    _patiently(partial(members, sender, send.msg_id, which))
                    for which in (ReadFilter.READ, ReadFilter.UNREAD)
                )
            except ApiError as refused:
                state.faults.append(
                    f"member lists of {send.msg_id} as {sender} refused ({refused}), though it "
                    "is the caller's own group message needing a receipt [L-1]"
                )
                continue
            except (AssertionError, OSError) as error:
                state.faults.append(f"member lists of {send.msg_id} as {sender}: {error}")
                continue
            state.member_lists[send.msg_id] = (read, unread)

    # One client per sender and one thread per batch would race on a sender's session: batches
    # of one sender run in one task.
    per_sender: dict[str, list[tuple[str, list[Send]]]] = defaultdict(list)
    for batch in batches:
        per_sender[batch[0]].append(batch)
    for sender in per_sender:
        client(sender)

    def pull_all(sender_batches: list[tuple[str, list[Send]]]) -> None:
        for batch in sender_batches:
            pull(batch)

    with ThreadPoolExecutor(PULL_THREADS) as pool:
        list(pool.map(pull_all, per_sender.values()))
    for each in clients.values():
        each.close()
    state.faults.extend(str(violation) for violation in violations.snapshot())
    return state


def _patiently(pull: Callable[[], T]) -> T:
    """``pull()``, tried again (up to ``PULL_ATTEMPTS`` in all) when no answer came: a busy
    target is slow, not wrong. Reads only, so trying again changes nothing."""
    for _ in range(PULL_ATTEMPTS - 1):
        try:
            return pull()
        except NoAnswer:
            continue
    return pull()


def judge(ledger: Ledger, state: PulledState) -> Verdict:
    """Check ``state`` and every logged push connection against ``ledger``."""
    rules = {name: Invariant(name) for name in INVARIANTS}
    _judge_counts(ledger, state, rules)
    feeds = _feeds(ledger, rules)
    _judge_feeds(ledger, state, feeds, rules)
    faults = [*ledger.faults, *state.faults]
    for fault in faults:
        rules["no-server-fault"].check(False, "", "", "no fault", fault)
    answers = (
        sum(ledger.calls.values())
        + state.calls
        + sum(len(connection.frames) for connection in ledger.connections)
    )
    rules["no-server-fault"].passed(max(answers - len(faults), 0))
    return Verdict(rules)


def _judge_counts(ledger: Ledger, state: PulledState, rules: dict[str, Invariant]) -> None:
    for send in ledger.acknowledged_sends():
        msg_id = send.msg_id
        assert msg_id is not None
        if msg_id not in state.pulled:
            continue
        receipt = state.receipts.get(msg_id)
        if not send.need_read_receipt:
            rules["read-count"].check(receipt is None, msg_id, send.sender, "no receipt", receipt)
            continue
        if receipt is None:
            rules["read-count"].check(False, msg_id, send.sender, "a receipt", "none")
            continue
        sure, maybe = ledger.sure_readers(send), ledger.maybe_readers(send)
        if send.group_id is None:
            read = bool(receipt.get("isPeerRead"))
            rules["read-count"].check(
                (read or not sure) and (not read or bool(sure | maybe)),
                msg_id,
                send.sender,
                f"isPeerRead {bool(sure)}" + (" (or True, in doubt)" if maybe else ""),
                f"isPeerRead {read}",
            )
            continue
        count, unread = receipt["readCount"], receipt["unreadCount"]
        rules["read-count"].check(
            len(sure) <= count <= len(sure) + len(maybe),
            msg_id,
            send.sender,
            f"readCount {len(sure)}" + (f"..{len(sure) + len(maybe)}" if maybe else ""),
            f"readCount {count}",
        )
        rules["read-plus-unread"].check(
            count + unread == len(send.recipients),
            msg_id,
            send.sender,
            f"readCount + unreadCount = {len(send.recipients)} recipients",
            f"{count} + {unread}",
        )
        if msg_id in state.member_lists:
            read_list, unread_list = state.member_lists[msg_id]
            partition = sorted(read_list + unread_list) == sorted(send.recipients)
            sized = len(read_list) == count and len(unread_list) == unread
            readers_ok = sure <= set(read_list) <= sure | maybe
            missing = sorted(sure - set(read_list))
            extra = sorted(set(read_list) - sure - maybe)
            rules["member-lists"].check(
                partition and sized and readers_ok,
                msg_id,
                send.sender,
                f"{count} read + {unread} unread = the {len(send.recipients)} recipients, "
                f"READ holding the {len(sure)} acknowledged readers",
                f"{len(read_list)} read + {len(unread_list)} unread"
                + ("" if partition else ", not a partition of the recipients")
                + (f", READ lacks {missing[:3]}" if missing else "")
                + (f", READ has non-readers {extra[:3]}" if extra else ""),
            )


@dataclass
class _Feed:
    """One user's events over all its connections, by seq (first arrival kept)."""

    frames: dict[int, Frame] = field(default_factory=dict)
    settled: bool = False


def _feeds(ledger: Ledger, rules: dict[str, Invariant]) -> dict[str, _Feed]:
    """Each connected user's whole feed; checks seq, per-connection repeats and settling."""
    by_user: dict[str, list[Connection]] = defaultdict(list)
    for connection in ledger.connections:
        by_user[connection.user_id].append(connection)
    feeds: dict[str, _Feed] = {}
    for user_id, connections in by_user.items():
        last = connections[-1]
        feed = _Feed(settled=last.settled)
        rules["push-settled"].check(
            feed.settled,
            "",
            user_id,
            "its last event before the end",
            f"no settle sentinel ({last.unsettled_because or 'reason unknown'})",
        )
        previous = 0
        for number, connection in enumerate(connections):
            expected_first = connection.since + 1
            seqs = [frame.seq for frame in connection.frames]
            if connection.frames and connection.frames[0].event == "onReplayGap":
                expected_first = connection.frames[0].seq
            expected = list(range(expected_first, expected_first + len(seqs)))
            rules["seq-gap-free"].check(
                seqs == expected and connection.since <= previous,
                "",
                user_id,
                f"connection {number + 1} (since={connection.since}) seqs {seq_ranges(expected)}",
                f"{seq_ranges(seqs)}" + ("" if connection.since <= previous else " (since ahead)"),
            )
            once = Counter(
                item[0]
                for frame in connection.frames
                if frame.event == "onRecvNewMessage"
                for item in frame.items
            )
            repeated = sorted(msg_id for msg_id, n in once.items() if n > 1)
            rules["message-once"].check(
                not repeated,
                repeated[0] if repeated else "",
                user_id,
                f"each message once on connection {number + 1}",
                f"{len(repeated)} repeated",
            )
            for frame in connection.frames:
                feed.frames.setdefault(frame.seq, frame)
            if seqs:
                previous = max(previous, seqs[-1])
        feeds[user_id] = feed
    return feeds


def _judge_feeds(
    ledger: Ledger, state: PulledState, feeds: dict[str, _Feed], rules: dict[str, Invariant]
) -> None:
    by_msg_id = {send.msg_id: send for send in ledger.acknowledged_sends()}
    by_ref = {send.ref: send for send in ledger.sends.values()}
    expected_to: dict[str, list[Send]] = defaultdict(list)
    for send in ledger.sends.values():
        for recipient in send.recipients:
            expected_to[recipient].append(send)
    for user_id, feed in feeds.items():
        frames = [feed.frames[seq] for seq in sorted(feed.frames)]
        delivered: Counter[str] = Counter()
        delivered_refs: dict[str, str] = {}
        pushed: dict[str, list[int]] = defaultdict(list)
        marks: Counter[str] = Counter()
        for frame in frames:
            if frame.event == "onRecvNewMessage":
                for msg_id, ref in frame.items:
                    delivered[msg_id] += 1
                    delivered_refs[msg_id] = ref
            elif frame.event == "onRecvMessageReadReceipts":
                for msg_id, count, _unread in frame.items:
                    about = by_msg_id.get(msg_id)
                    rules["push-to-sender-only"].check(
                        about is not None and about.sender == user_id,
                        msg_id,
                        user_id,
                        "receipts of the user's own messages only",
                        f"a receipt of {about.sender if about else 'an unknown sender'}'s message",
                    )
                    pushed[msg_id].append(count)
            elif frame.event == "onRecvC2CReadReceipt":
                marks.update(item[0] for item in frame.items)
        for msg_id, counts in pushed.items():
            backwards = [(a, b) for a, b in itertools.pairwise(counts) if b < a]
            rules["push-monotonic"].check(
                not backwards,
                msg_id,
                user_id,
                "pushed readCounts never decrease",
                f"{counts}"
                if len(counts) <= 12 or not backwards
                else f"{backwards[0]} among {len(counts)} pushes",
            )
        if not feed.settled:
            continue
        for send in expected_to.get(user_id, []):
            msg_id = send.msg_id
            if msg_id is None:
                seen = [m for m, ref in delivered_refs.items() if ref == send.ref]
                rules["message-once"].check(
                    len(seen) <= 1, send.ref, user_id, "at most once (send in doubt)", len(seen)
                )
                continue
            times = delivered.pop(msg_id, 0)
            rules["message-once"].check(
                times == 1,
                msg_id,
                user_id,
                "delivered once over the user's connections",
                f"delivered {times} times",
            )
        # What is left was never sent to this user (in-doubt sends were matched by ref above).
        strays = [
            m
            for m in delivered
            if delivered_refs[m] not in by_ref
            or user_id not in by_ref[delivered_refs[m]].recipients
        ]
        for msg_id in strays:
            rules["message-once"].check(
                False, msg_id, user_id, "only messages sent to the user", "a stray message"
            )
        for send in ledger.acknowledged_sends():
            if send.sender != user_id or not send.need_read_receipt:
                continue
            _judge_final_push(ledger, state, send, pushed.get(send.msg_id or "", []), rules)
        for (reader, peer), count in ledger.marks.items():
            if peer != user_id:
                continue
            doubtful = ledger.doubtful_marks.get((reader, peer), 0)
            rules["conversation-marks"].check(
                count <= marks.get(reader, 0) <= count + doubtful,
                "",
                user_id,
                f"{count} mark pushes from {reader}"
                + (f" (+{doubtful} in doubt)" if doubtful else ""),
                marks.get(reader, 0),
            )


def _judge_final_push(
    ledger: Ledger,
    state: PulledState,
    send: Send,
    counts: Sequence[int],
    rules: dict[str, Invariant],
) -> None:
    msg_id = send.msg_id
    assert msg_id is not None
    receipt = state.receipts.get(msg_id)
    if receipt is None:
        return
    if send.group_id is None:
        final = 1 if receipt.get("isPeerRead") else 0
    else:
        final = int(receipt["readCount"])
    in_doubt = bool(ledger.maybe_readers(send))
    last = counts[-1] if counts else 0
    ok = (last == final and len(counts) == final) or (in_doubt and last <= final)
    rules["push-final"].check(
        ok,
        msg_id,
        send.sender,
        f"{final} pushes ending at the pulled readCount {final}",
        f"pushes {list(counts)}" if len(counts) <= 12 else f"{len(counts)} pushes, last {last}",
    )


def seq_ranges(seqs: Iterable[int]) -> str:
    """``[1..4, 6]`` for 1, 2, 3, 4, 6."""
    parts: list[str] = []
    values = list(seqs)
    if not values:
        return "[]"
    start = previous = values[0]
    for seq in [*values[1:], None]:
        if seq is not None and seq == previous + 1:
            previous = seq
            continue
        parts.append(str(start) if start == previous else f"{start}..{previous}")
        if seq is not None:
            start = previous = seq
    return "[" + ", ".join(parts) + "]"
