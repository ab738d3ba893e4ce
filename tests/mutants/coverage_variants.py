"""Faulty variants for the classes of bugs the coverage scenarios look for.

Each is registered in the gallery (``@variant`` over one replaced server piece, as in
``gallery.py``) and is caught by the scenarios written for its class, and by no older one:
near-miss credentials [X-1], generated wrong-typed, missing, out-of-range and null fields [E-3],
implausible time fields [V-1, P-2, Q-2, C-1], two errors in one call [E-3], declared limits
not enforced [L-2], and concurrency without an artificial delay [P-3, R-5].
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from seenby.contract.vocabulary import Code
from seenby.reference_server.domain import (
    ON_RECV_C2C_READ_RECEIPT,
    ON_RECV_MESSAGE_READ_RECEIPTS,
    Caller,
    Credential,
    Presence,
    ReceiptService,
    _receipt,
)
from seenby.reference_server.group_commit import EventSink
from seenby.reference_server.storage import SqliteStorage, Storage
from seenby.reference_server.values import (
    Capabilities,
    Event,
    JsonObject,
    JsonValue,
    Message,
    NewUser,
    ReceiptError,
    conversation_key,
    now_ms,
)

from .gallery import _BodyRewritingHandler, variant

# == X-1: near-miss credentials ================================================================


class _RemembersTokens(ReceiptService):
    """A service that keeps every token it issued in memory, in the clear, so that a faulty
    comparison can be written the way a hurried engineer writes it."""

    def __init__(
        self,
        storage: Storage,
        admin_key: str,
        sink: EventSink,
        presence: Presence,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        super().__init__(storage, admin_key, sink, presence, clock)
        self._issued_lock = threading.Lock()
        self._issued: dict[str, str] = {}

    def create_user(
        self, user_id: str, nick_name: str | None = None, face_url: str | None = None
    ) -> NewUser:
        created = super().create_user(user_id, nick_name, face_url)
        with self._issued_lock:
            self._issued[created.token] = user_id
        return created

    def identify(self, credential: str) -> Credential | None:
        exact = super().identify(credential)
        if exact is not None:
            return exact
        with self._issued_lock:
            issued = list(self._issued.items())
        for token, user_id in issued:
            if self.matches(token, credential):
                return Caller(user_id)
        return None

    def matches(self, token: str, credential: str) -> bool:
        """Whether the faulty comparison takes ``credential`` for ``token``."""
        raise NotImplementedError


@variant("X1_token_compared_by_prefix", "X-1")
class TokenPrefixCompared(_RemembersTokens):
    """Tokens are compared on their first 16 characters only (an index on a token prefix): a
    real token with its last character changed, or cut short, opens the user's account."""

    PREFIX = 16

    def matches(self, token: str, credential: str) -> bool:
        return len(credential) >= self.PREFIX and token[: self.PREFIX] == credential[: self.PREFIX]


@variant("X1_token_with_trailing_characters_accepted", "X-1")
class TokenStartsWith(_RemembersTokens):
    """A token is accepted when the credential starts with it (``startswith``): a real token
    followed by anything opens the user's account."""

    def matches(self, token: str, credential: str) -> bool:
        return credential.startswith(token)


@variant("X1_token_compared_case_insensitively", "X-1")
class TokenCaseFolded(_RemembersTokens):
    """Tokens are looked up case-insensitively (a case-folding collation on the token column):
    a real token in another letter case opens the user's account."""

    def matches(self, token: str, credential: str) -> bool:
        return token.casefold() == credential.casefold()


# == E-3: generated wrong-typed, missing, out-of-range and null fields ==========================

_INTEGER_FIELDS = {
    "getHistoryMessageList": ("count",),
    "getGroupMessageReadMemberList": ("filter", "nextSeq", "count"),
}
_FLAG_FIELDS = {"sendMessage": ("needReadReceipt", "onlineUserOnly")}


@variant("E3_null_page_size_is_500", "E-3")
class NullPageSizeCrashes(_BodyRewritingHandler):
    """A page size given as null reaches the paging arithmetic (``count + 1``), which raises:
    the server answers 500 instead of refusing the body."""

    def rewrite(self, method: str, body: JsonObject) -> JsonObject:
        if method in _INTEGER_FIELDS and "count" in body and body["count"] is None:
            raise TypeError("unsupported operand type(s) for +: 'NoneType' and 'int'")
        return body


@variant("E3_string_flag_read_by_truthiness", "E-3", "S-1")
class FlagReadByTruthiness(_BodyRewritingHandler):
    """sendMessage reads its flags by truthiness (``bool(body.get(...))``): a string or a number
    is accepted and stored as a flag, so ``"needReadReceipt": "false"`` sends a message that
    needs receipts."""

    def rewrite(self, method: str, body: JsonObject) -> JsonObject:
        for name in _FLAG_FIELDS.get(method, ()):
            value = body.get(name)
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                body[name] = bool(value)
        return body


@variant("E3_numeric_string_taken_for_integer", "E-3")
class NumericStringTakenForInteger(_BodyRewritingHandler):
    """Integer fields are read with ``int(value)``: ``"count": "1"`` is accepted as 1 where
    the protocol requires a JSON integer."""

    def rewrite(self, method: str, body: JsonObject) -> JsonObject:
        for name in _INTEGER_FIELDS.get(method, ()):
            value = body.get(name)
            if isinstance(value, str) and value.isdigit():
                body[name] = int(value)
        return body


@variant("E3_boolean_taken_for_integer", "E-3")
class BooleanTakenForInteger(_BodyRewritingHandler):
    """Integer fields are checked with ``isinstance(value, int)``, which ``true`` passes in
    Python: ``"count": true`` is accepted as a page of one."""

    def rewrite(self, method: str, body: JsonObject) -> JsonObject:
        for name in _INTEGER_FIELDS.get(method, ()):
            value = body.get(name)
            if isinstance(value, bool):
                body[name] = int(value)
        return body


# == V-1, P-2, Q-2, C-1: implausible time fields ================================================


@variant("V1_times_in_seconds", "V-1", "P-2", "Q-2", "C-1")
class TimesInSeconds(ReceiptService):
    """The clock gives seconds since the epoch (``int(time.time())``) where the protocol says
    milliseconds: every timestamp is a thousand times too small, and still a valid integer."""

    def __init__(
        self,
        storage: Storage,
        admin_key: str,
        sink: EventSink,
        presence: Presence,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        super().__init__(storage, admin_key, sink, presence, lambda: int(time.time()))


FIXED_CLOCK_MS = 1_600_000_000_000
"""The time of the variant whose clock was left fixed (13 September 2020)."""


@variant("V1_clock_fixed_at_a_constant", "V-1", "P-2", "Q-2", "C-1")
class ClockFixedAtAConstant(ReceiptService):
    """The service was deployed with the fixed clock of its tests: every message, receipt and
    mark carries the same timestamp, years before the call."""

    def __init__(
        self,
        storage: Storage,
        admin_key: str,
        sink: EventSink,
        presence: Presence,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        super().__init__(storage, admin_key, sink, presence, lambda: FIXED_CLOCK_MS)


@variant("C1_mark_time_is_the_last_message_time", "C-1")
class MarkTimeIsLastMessageTime(ReceiptService):
    """The conversation mark is pushed with the time of the last message it covers ("read up
    to") instead of the time it was made: receipts sent before the mark carry later times."""

    def _emit(
        self, outbox: list[Event], user_ids: Sequence[str], name: str, data: JsonValue
    ) -> None:
        if name == ON_RECV_C2C_READ_RECEIPT and isinstance(data, list) and len(user_ids) == 1:
            marks = [item for item in data if isinstance(item, dict)]
            for mark in marks:
                reader = mark.get("userID")
                if not isinstance(reader, str):
                    continue
                chat = conversation_key(user_ids[0], reader, None)
                latest = self._storage.history(chat, None, 1)
                if latest:
                    mark["timestamp"] = latest[0].timestamp
        super()._emit(outbox, user_ids, name, data)


# == E-2, E-3: two errors in one call ===========================================================


@variant("E3_edition_refusal_quotes_the_unchecked_body", "E-3", "E-2")
class EditionRefusalQuotesTheBody(_BodyRewritingHandler):
    """The edition is checked before the body is, and its refusal quotes the body's first
    message ID as it reads it (``body["msgIDs"][0]``): on an edition without receipts, a body
    without message IDs raises, and the server answers 500 instead of refusing it."""

    def rewrite(self, method: str, body: JsonObject) -> JsonObject:
        if method in ("sendMessageReadReceipts", "getMessageReadReceipts"):
            service = self.server.service
            settings = service._run(lambda _: service._storage.settings())
            if not settings.has_receipts:
                first = body["msgIDs"][0]  # type: ignore[index]
                raise ReceiptError(
                    Code.INTERFACE_NOT_SUPPORTED,
                    f"read receipts (asked for {first}) need an edition that has them",
                )
        return body


# == L-2: limits checked from below =============================================================

DECLARED_PAGE_SIZE_MAX = 10
"""The member-list page size limit the faulty variant declares."""


@dataclass(frozen=True)
class _DeclaresSmallerPages(Capabilities):
    def to_json(self) -> JsonObject:
        announced = super().to_json()
        limits = announced["limits"]
        assert isinstance(limits, dict)
        return {**announced, "limits": {**limits, "memberListCountMax": DECLARED_PAGE_SIZE_MAX}}


@variant("L2_declared_page_size_limit_not_enforced", "L-2")
class DeclaredPageLimitNotEnforced(ReceiptService):
    """The capabilities declare member-list pages of at most 10 (the limit of the deployment's
    tier), but the method still takes the protocol's 100: a page of 11 is served where the
    target said it would refuse it."""

    def capabilities(self) -> Capabilities:
        return _DeclaresSmallerPages(super().capabilities().settings)


# == P-3, R-5: races with no delay added ========================================================


class _ReceiptsInTwoTransactions(ReceiptService):
    """Receipts checked in one transaction and written in a second, with nothing between the
    two but the server's own work (no sleep): what the first read may be stale by the second."""

    def send_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> None:
        unique_ids = list(dict.fromkeys(msg_ids))

        def check(_: list[Event]) -> list[Message]:
            self._check_batch(unique_ids)
            return [
                message
                for message in self._batch(caller, unique_ids, own=False)
                if message.sender != caller.user_id
                and message.need_read_receipt
                and self._storage.recipient_has_read(message, caller.user_id) is False
            ]

        unread = self._run(check)

        def write(outbox: list[Event]) -> None:
            read_ms = self._clock()
            by_sender: dict[str, list[JsonValue]] = {}
            for message in unread:
                counted = self.write_receipt(message, caller.user_id, read_ms)
                if counted is not None:
                    receipt = _receipt(counted, read_ms).to_json()
                    by_sender.setdefault(message.sender, []).append(receipt)
            for sender, receipts in by_sender.items():
                self._emit(outbox, [sender], ON_RECV_MESSAGE_READ_RECEIPTS, receipts)

        self._run(write)

    def write_receipt(self, message: Message, user_id: str, read_ms: int) -> Message | None:
        """Record the receipt checked in the first transaction; the message with its counts."""
        raise NotImplementedError


@variant("P3_read_count_written_from_a_stale_read", "P-3")
class ReadCountWrittenFromStaleRead(_ReceiptsInTwoTransactions):
    """readCount is read in the first transaction and written back, plus one, in the second:
    readers whose first transactions ran before each other's second overwrite each other's
    increments (a lost update, with no delay in the server)."""

    def write_receipt(self, message: Message, user_id: str, read_ms: int) -> Message | None:
        return self._storage.record_receipt(message, user_id, read_ms)


@variant("R5_duplicate_check_then_insert", "R-5", "P-3")
class DuplicateCheckThenInsert(_ReceiptsInTwoTransactions):
    """Whether the reader has read the message is checked in the first transaction and the
    receipt written unconditionally in the second: the same receipt sent from two devices at
    once passes both checks and counts twice."""

    def write_receipt(self, message: Message, user_id: str, read_ms: int) -> Message | None:
        storage = cast(SqliteStorage, self._storage)
        connection = storage._conn
        connection.execute(
            "UPDATE messages SET read_count = read_count + 1 WHERE pos = ?", (message.pos,)
        )
        (read_count,) = connection.execute(
            "SELECT read_count FROM messages WHERE pos = ?", (message.pos,)
        ).fetchone()
        connection.execute(
            "UPDATE recipients SET read_seq = ?, read_ms = ? WHERE pos = ? AND user_id = ?",
            (read_count, read_ms, message.pos, user_id),
        )
        return dataclasses.replace(message, read_count=int(read_count))
