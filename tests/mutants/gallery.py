"""The gallery: variants of the reference server, each with exactly one realistic bug.

A variant is the reference server with one of its pieces replaced by a subclass that overrides as
little as it can to reproduce a mistake a vendor's engineer could make under deadline: the receipt
rules (``ReceiptService``), the storage (``SqliteStorage``), the HTTP handler (``RequestHandler``)
or the push hub (``PushHub``). The production server has no fault switches; ``Variant.start``
assembles a server from the pieces the same way ``seenby.reference_server.start`` does.

Each variant is registered with ``@variant(NAME, *BREAKS)``: ``NAME`` starts with the behaviour it
breaks (``R5_duplicate_receipt_counted`` breaks R-5 of docs/spec/receipts-spec.md), ``BREAKS``
lists every behaviour the bug breaks, and the class docstring says what went wrong. The kill run
counts a variant as caught only when a failing scenario is tagged with one of ``BREAKS``.
"""

from __future__ import annotations

import dataclasses
import json
import queue
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast
from urllib.parse import urlsplit

from seenby.contract.vocabulary import Code
from seenby.reference_server import RunningServer, Tuning
from seenby.reference_server.domain import (
    ON_RECV_C2C_READ_RECEIPT,
    ON_RECV_MESSAGE_READ_RECEIPTS,
    ON_RECV_NEW_MESSAGE,
    Admin,
    Caller,
    Credential,
    Presence,
    ReceiptService,
)
from seenby.reference_server.group_commit import EventSink
from seenby.reference_server.http_api import ReceiptHTTPServer, RequestHandler, Timeouts, parse_body
from seenby.reference_server.push import PushConnection, PushHub
from seenby.reference_server.storage import SqliteStorage, Storage
from seenby.reference_server.values import (
    HISTORY_COUNT_MAX,
    MEMBER_LIST_COUNT_MAX,
    READ,
    UNREAD,
    C2CReceipt,
    Chat,
    CustomElem,
    Elem,
    Event,
    Group,
    GroupChat,
    GroupReceipt,
    JsonObject,
    JsonValue,
    MemberFilter,
    MemberPage,
    Message,
    MessageView,
    NewMessage,
    PeerChat,
    Profile,
    ReadMark,
    Receipt,
    ReceiptError,
    Settings,
    now_ms,
)

__all__ = ["GALLERY", "REFERENCE", "Variant", "variant", "variant_named"]

Piece = TypeVar("Piece", bound=type)


@dataclass(frozen=True)
class Variant:
    """A server assembled from the reference pieces, with at most one of them replaced."""

    name: str
    breaks: tuple[str, ...]
    """The spec behaviours (``R-5``) the bug breaks; empty for the reference server."""
    bug: str
    """What went wrong, in a sentence or two."""
    service: type[ReceiptService] = ReceiptService
    storage: type[SqliteStorage] = SqliteStorage
    handler: type[RequestHandler] = RequestHandler
    hub: type[PushHub] = PushHub

    @property
    def layer(self) -> str:
        """Which piece of the server holds the bug (``"reference"`` for none)."""
        replaced = [
            layer
            for layer, piece, original in (
                ("rules", self.service, ReceiptService),
                ("storage", self.storage, SqliteStorage),
                ("http", self.handler, RequestHandler),
                ("push", self.hub, PushHub),
            )
            if piece is not original
        ]
        return replaced[0] if replaced else "reference"

    def start(self, db: str = ":memory:") -> RunningServer:
        """Start this variant on 127.0.0.1, a free port and a fresh database (``db``)."""
        tuning = Tuning()
        # Hex, so that the key never starts with "-" (command lines would read it as an option).
        admin_key = secrets.token_hex(24)
        storage = self.storage(db, event_retention=tuning.event_retention)
        hub = self.hub(tuning.push_queue_size, tuning.ping_interval, tuning.idle_timeout)
        service = self.service(storage, admin_key, sink=hub, presence=hub)
        try:
            httpd = ReceiptHTTPServer(
                ("127.0.0.1", 0),
                service,
                hub,
                Timeouts(idle=tuning.idle_timeout, request=tuning.request_timeout),
                tuning.max_connections,
            )
        except BaseException:
            storage.close()
            raise
        httpd.RequestHandlerClass = self.handler
        return RunningServer(httpd, hub, storage, admin_key)


REFERENCE = Variant("reference", (), "None: the reference server as shipped.")
"""The control: the suite must pass on it, served exactly like the variants."""

GALLERY: list[Variant] = []
"""Every faulty variant, in the order of the spec's areas."""

_PIECES = {
    ReceiptService: "service",
    SqliteStorage: "storage",
    RequestHandler: "handler",
    PushHub: "hub",
}


def variant(name: str, *breaks: str, into: list[Variant] | None = None) -> Callable[[Piece], Piece]:
    """Register the decorated subclass of a server piece as the variant ``name``, in
    ``GALLERY`` or in the list ``into`` (another gallery, e.g. the load variants')."""

    def register(piece: Piece) -> Piece:
        (field,) = [field for base, field in _PIECES.items() if issubclass(piece, base)]
        # __doc__, not inspect.getdoc: a variant must not inherit its piece's docstring.
        bug = piece.__doc__
        assert bug, f"variant {name} needs a docstring saying what went wrong"
        gallery = GALLERY if into is None else into
        gallery.append(Variant(name, breaks, " ".join(bug.split()), **{field: piece}))
        return piece

    return register


def variant_named(name: str) -> Variant:
    """The variant called ``name`` (``"reference"`` is the correct server)."""
    if name == REFERENCE.name:
        return REFERENCE
    for each in GALLERY:
        if each.name == name:
            return each
    raise KeyError(f"no variant is called {name!r}")


# -- helpers shared by several variants --------------------------------------------------------


def _objects(data: JsonValue) -> list[JsonObject]:
    """The receipts (JSON objects) of an event's ``data`` array."""
    assert isinstance(data, list)
    return [cast(JsonObject, item) for item in data]


def _is_c2c(receipt: JsonObject) -> bool:
    return "userID" in receipt


def _messages(service: ReceiptService, msg_ids: Sequence[str]) -> dict[str, Message]:
    """Stored messages by ID, read in a transaction of their own."""
    return service._run(lambda _: service._storage.messages(msg_ids))


def _receipt_of(message: Message) -> Receipt:
    """The receipt of a message as stored (C2C: as if unread)."""
    if message.group_id is not None:
        return GroupReceipt(
            message.msg_id,
            message.group_id,
            message.read_count,
            message.recipient_count - message.read_count,
        )
    assert message.receiver is not None
    return C2CReceipt(message.msg_id, message.receiver, False, 0)


class _BodyRewritingHandler(RequestHandler):
    """A handler that edits each well-formed request body (``rewrite``) before the method reads
    it; a malformed body is left as it is, so it is refused exactly as before."""

    def _read_body(self) -> bytes:
        raw = super()._read_body()
        try:
            body = parse_body(raw)
        except ReceiptError:
            return raw
        method = urlsplit(self.path).path.removeprefix("/v1/")
        return json.dumps(self.rewrite(method, body)).encode()

    def rewrite(self, method: str, body: JsonObject) -> JsonObject:
        """The body the server goes on with."""
        return body


class _ActsAsNamedUser(_BodyRewritingHandler):
    """A handler that lets a body field of one method name the acting user."""

    acting_method = ""
    acting_field = ""
    named_user: str | None = None

    def _read_body(self) -> bytes:
        self.named_user = None  # one connection carries many requests
        return super()._read_body()

    def rewrite(self, method: str, body: JsonObject) -> JsonObject:
        named = body.get(self.acting_field)
        if method == self.acting_method and isinstance(named, str):
            del body[self.acting_field]
            self.named_user = named
        return body

    def _credential(self) -> Credential:
        credential = super()._credential()
        if self.named_user is not None and isinstance(credential, Caller):
            return Caller(self.named_user)
        return credential


# == A. Application settings ===================================================================


class _EveryEditionHasReceipts(Settings):
    @property
    def has_receipts(self) -> bool:
        return True


@variant("A1_edition_not_checked", "A-1")
class EditionNeverConsulted(SqliteStorage):
    """The edition is stored but never consulted: every edition gets read receipts."""

    def settings(self) -> Settings:
        stored = super().settings()
        return _EveryEditionHasReceipts(
            stored.edition,
            stored.group_receipt_types,
            stored.group_receipt_max_members,
            stored.receipt_batch_max,
        )


@variant("A1_plain_messages_refused_on_standard", "A-1")
class EditionGatesEveryMessage(ReceiptService):
    """sendMessage checks the edition for every message, so on the standard edition plain
    messages fail with 7013 too."""

    def send_message(
        self,
        caller: Caller,
        chat: Chat,
        elem: Elem,
        *,
        need_read_receipt: bool = False,
        online_user_only: bool = False,
    ) -> MessageView:
        if not self.get_settings().has_receipts:
            raise ReceiptError(Code.INTERFACE_NOT_SUPPORTED, "read receipts need ultimate")
        return super().send_message(
            caller,
            chat,
            elem,
            need_read_receipt=need_read_receipt,
            online_user_only=online_user_only,
        )


@variant("A2_group_type_setting_not_saved", "A-2")
class GroupTypesNeverSaved(SqliteStorage):
    """admin/setSettings answers the new groupReceiptTypes but the UPDATE leaves the column
    out, so the console switch never takes effect."""

    def save_settings(self, settings: Settings) -> None:
        kept = super().settings().group_receipt_types
        super().save_settings(dataclasses.replace(settings, group_receipt_types=kept))


class _AnyTypeSupportsReceipts(Group):
    @property
    def supports_receipts(self) -> bool:
        return True


@variant("A2_community_allowed_when_listed", "A-2", "A-3")
class ConsoleListTrusted(SqliteStorage):
    """Any group type listed in groupReceiptTypes gets receipts, Community and AVChatRoom
    included."""

    def group(self, group_id: str) -> Group | None:
        found = super().group(group_id)
        if found is None:
            return None
        return _AnyTypeSupportsReceipts(
            found.group_id, found.group_type, found.owner_id, found.member_count
        )


@variant("A2_c2c_refused_without_group_types", "A-2")
class C2CNeedsAGroupSwitch(ReceiptService):
    """The group-type switch is checked for every needReadReceipt message: with no group type
    enabled, C2C messages cannot ask for receipts either."""

    def send_message(
        self,
        caller: Caller,
        chat: Chat,
        elem: Elem,
        *,
        need_read_receipt: bool = False,
        online_user_only: bool = False,
    ) -> MessageView:
        if need_read_receipt and not self.get_settings().group_receipt_types:
            raise ReceiptError(Code.GROUP_TYPE_WITHOUT_RECEIPTS, "no type has read receipts")
        return super().send_message(
            caller,
            chat,
            elem,
            need_read_receipt=need_read_receipt,
            online_user_only=online_user_only,
        )


@variant("A3_flag_dropped_silently", "A-3")
class ReceiptFlagDropped(ReceiptService):
    """A needReadReceipt message to a group type without receipts is sent as a plain message
    instead of being refused: the sender waits for receipts that never come."""

    def send_message(
        self,
        caller: Caller,
        chat: Chat,
        elem: Elem,
        *,
        need_read_receipt: bool = False,
        online_user_only: bool = False,
    ) -> MessageView:
        try:
            return super().send_message(
                caller,
                chat,
                elem,
                need_read_receipt=need_read_receipt,
                online_user_only=online_user_only,
            )
        except ReceiptError as refusal:
            if refusal.code is not Code.GROUP_TYPE_WITHOUT_RECEIPTS:
                raise
            return super().send_message(caller, chat, elem, online_user_only=online_user_only)


@variant("A4_member_limit_off_by_one", "A-4")
class OwnerCountedTwice(SqliteStorage):
    """The size check counts the owner on top of the members, so a group exactly as large as
    groupReceiptMaxMembers is refused."""

    def group(self, group_id: str) -> Group | None:
        found = super().group(group_id)
        if found is None:
            return None
        return dataclasses.replace(found, member_count=found.member_count + 1)


@variant("A4_member_limit_counts_recipients_only", "A-4")
class SenderLeftOutOfTheSize(SqliteStorage):
    """The size check counts the recipients (the members but the sender), so a group one
    member over groupReceiptMaxMembers still gets receipts."""

    def group(self, group_id: str) -> Group | None:
        found = super().group(group_id)
        if found is None:
            return None
        return dataclasses.replace(found, member_count=found.member_count - 1)


# == S. Sender marks a message =================================================================


@variant("S1_flag_lost_in_delivery", "S-1")
class FlagLostInDelivery(ReceiptService):
    """onRecvNewMessage is serialised without the sender's flag: recipients always see
    needReadReceipt false."""

    def _emit(
        self, outbox: list[Event], user_ids: Sequence[str], name: str, data: JsonValue
    ) -> None:
        if name == ON_RECV_NEW_MESSAGE and isinstance(data, dict):
            data = {**data, "needReadReceipt": False}
        super()._emit(outbox, user_ids, name, data)


@variant("S1_flag_lost_in_history", "S-1")
class FlagLostInHistory(SqliteStorage):
    """The history query forgets the needReadReceipt column: stored messages read as plain."""

    def history(self, conversation: str, before_pos: int | None, limit: int) -> list[Message]:
        return [
            dataclasses.replace(message, need_read_receipt=False)
            for message in super().history(conversation, before_pos, limit)
        ]


@variant("S2_custom_message_flag_ignored", "S-2")
class CustomMessagesWithoutReceipts(ReceiptService):
    """Only text messages keep needReadReceipt; custom messages are always sent as plain."""

    def send_message(
        self,
        caller: Caller,
        chat: Chat,
        elem: Elem,
        *,
        need_read_receipt: bool = False,
        online_user_only: bool = False,
    ) -> MessageView:
        return super().send_message(
            caller,
            chat,
            elem,
            need_read_receipt=need_read_receipt and not isinstance(elem, CustomElem),
            online_user_only=online_user_only,
        )


@variant("S3_plain_message_has_empty_member_list", "S-3", "L-2")
class PlainMessageMemberList(ReceiptService):
    """The member lists of a message sent without needReadReceipt answer an empty finished
    page instead of 10062."""

    def get_group_message_read_member_list(
        self,
        caller: Caller,
        msg_id: str,
        member_filter: MemberFilter,
        next_seq: int,
        count: int,
    ) -> MemberPage:
        try:
            return super().get_group_message_read_member_list(
                caller, msg_id, member_filter, next_seq, count
            )
        except ReceiptError as refusal:
            if refusal.code is not Code.RECEIPT_INFO_NOT_FOUND:
                raise
            return MemberPage((), next_seq, True)


@variant("S3_plain_messages_pulled", "S-3")
class PlainMessagesPulled(ReceiptService):
    """getMessageReadReceipts answers zero counts for messages sent without needReadReceipt
    instead of leaving them out."""

    def get_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> list[Receipt]:
        pulled = {r.msg_id: r for r in super().get_message_read_receipts(caller, msg_ids)}
        stored = _messages(self, msg_ids)
        return [pulled.get(i) or _receipt_of(stored[i]) for i in dict.fromkeys(msg_ids)]


class _EveryoneOnline:
    def is_online(self, user_id: str) -> bool:
        return True


@variant("S4_online_only_counts_everyone", "S-4")
class PresenceStubbed(ReceiptService):
    """Presence is stubbed to 'online', so an onlineUserOnly message counts every member as a
    recipient."""

    def __init__(
        self,
        storage: Storage,
        admin_key: str,
        sink: EventSink,
        presence: Presence,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        super().__init__(storage, admin_key, sink, _EveryoneOnline(), clock)


@variant("S4_online_only_stored_in_history", "S-4")
class OnlineOnlyStored(SqliteStorage):
    """onlineUserOnly messages are written to history like any other."""

    def insert_message(self, message: NewMessage, recipients: Sequence[str]) -> Message:
        stored = super().insert_message(
            dataclasses.replace(message, online_user_only=False), recipients
        )
        return dataclasses.replace(stored, online_user_only=message.online_user_only)


@variant("S4_online_only_raises_unread", "S-4")
class OnlineOnlyRaisesUnread(ReceiptService):
    """onlineUserOnly messages are kept out of history but still raise the unread counts of
    everyone in the conversation."""

    def send_message(
        self,
        caller: Caller,
        chat: Chat,
        elem: Elem,
        *,
        need_read_receipt: bool = False,
        online_user_only: bool = False,
    ) -> MessageView:
        view = super().send_message(
            caller,
            chat,
            elem,
            need_read_receipt=need_read_receipt,
            online_user_only=online_user_only,
        )

        def raise_unread(_: list[Event]) -> None:
            if isinstance(chat, GroupChat):
                members = self._storage.member_ids(chat.group_id)
                audience: list[tuple[str, Chat]] = [
                    (member, chat) for member in members if member != caller.user_id
                ]
            else:
                audience = [(chat.user_id, PeerChat(caller.user_id))]
            self._storage.record_activity(audience, view.message.pos, 1)

        if online_user_only:
            self._run(raise_unread)
        return view


# == R. Recipient sends receipts ===============================================================


@variant("R1_mixed_conversations_accepted", "R-1", "Q-3")
class NoConversationCheck(ReceiptService):
    """Each message of a batch is checked on its own, so a batch may span conversations."""

    def _batch(self, caller: Caller, unique_ids: Sequence[str], *, own: bool) -> list[Message]:
        messages: list[Message] = []
        for msg_id in unique_ids:  # a loop: zero-argument super() fails in a comprehension
            messages += super()._batch(caller, [msg_id], own=own)
        return messages


@variant("R1_batch_applies_first_message_only", "R-1")
class FirstMessageOnly(ReceiptService):
    """The batch call reuses the single-message path: only the first msgID is receipted."""

    def send_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> None:
        super().send_message_read_receipts(caller, list(msg_ids)[:1])


@variant("R2_empty_batch_accepted", "R-2")
class EmptyBatchAccepted(ReceiptService):
    """An empty msgIDs array returns success instead of 6017."""

    def send_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> None:
        if msg_ids:
            super().send_message_read_receipts(caller, msg_ids)


@variant("R2_batch_limit_off_by_one", "R-2")
class BatchLimitOffByOne(ReceiptService):
    """The batch limit is checked with >= instead of >: a batch exactly at receiptBatchMax
    fails."""

    def _check_batch(self, unique_ids: Sequence[str]) -> None:
        batch_max = self._storage.settings().receipt_batch_max
        if len(unique_ids) >= batch_max:
            raise ReceiptError(Code.INVALID_PARAMETERS, f"at most {batch_max} msgIDs per call")
        super()._check_batch(unique_ids)


@variant("R2_batch_limit_hard_coded", "R-2")
class BatchLimitHardCoded(ReceiptService):
    """The batch limit is the default 30, whatever receiptBatchMax says."""

    def _check_batch(self, unique_ids: Sequence[str]) -> None:
        if not 1 <= len(unique_ids) <= 30:
            raise ReceiptError(Code.INVALID_PARAMETERS, "1 to 30 msgIDs per call")
        if not self._storage.settings().has_receipts:
            raise ReceiptError(Code.INTERFACE_NOT_SUPPORTED, "read receipts need ultimate")


@variant("R3_batch_half_applied_before_error", "R-3", "R-1")
class BatchNotAtomic(ReceiptService):
    """Each message of a batch is applied in its own transaction, so an invalid message fails
    the call after the messages before it were receipted (and pushed)."""

    def send_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> None:
        if not msg_ids:
            super().send_message_read_receipts(caller, msg_ids)  # refuses the empty batch
        for msg_id in dict.fromkeys(msg_ids):
            super().send_message_read_receipts(caller, [msg_id])


@variant("R3_unknown_messages_skipped", "R-3")
class UnknownMessagesSkipped(ReceiptService):
    """Unknown msgIDs are skipped silently instead of failing the whole call."""

    def _batch(self, caller: Caller, unique_ids: Sequence[str], *, own: bool) -> list[Message]:
        known = self._storage.messages(unique_ids)
        return super()._batch(caller, [i for i in unique_ids if i in known], own=own)


@variant("R4_own_message_rejects_batch", "R-4")
class OwnMessageRejected(ReceiptService):
    """A receipt for one's own message fails the call with 6017 instead of being skipped."""

    def _batch(self, caller: Caller, unique_ids: Sequence[str], *, own: bool) -> list[Message]:
        messages = super()._batch(caller, unique_ids, own=own)
        if not own and any(message.sender == caller.user_id for message in messages):
            raise ReceiptError(Code.INVALID_PARAMETERS, "you cannot read your own message")
        return messages


@variant("R4_late_joiner_counted", "R-4", "M-1")
class LateJoinerCounted(SqliteStorage):
    """A member who joined after the message has no recipient row, which reads as 'not read
    yet': its receipt is counted."""

    def record_receipt(self, message: Message, user_id: str, read_ms: int) -> Message | None:
        counted = super().record_receipt(message, user_id, read_ms)
        if counted is None and self.recipient_has_read(message, user_id) is None:
            read_count = message.read_count + 1
            self._conn.execute(
                "UPDATE messages SET read_count = ? WHERE pos = ?", (read_count, message.pos)
            )
            return dataclasses.replace(message, read_count=read_count)
        return counted


@variant("R5_duplicate_receipt_counted", "R-5")
class DuplicateReceiptCounted(SqliteStorage):
    """Whether the reader already receipted the message is never checked: every receipt
    counts again."""

    def record_receipt(self, message: Message, user_id: str, read_ms: int) -> Message | None:
        if self.recipient_has_read(message, user_id) is None:
            return None
        read_count = message.read_count + 1  # the reader's row is overwritten, read or not
        self._conn.execute(
            "UPDATE recipients SET read_seq = ?, read_ms = ? WHERE pos = ? AND user_id = ?",
            (read_count, read_ms, message.pos, user_id),
        )
        self._conn.execute(
            "UPDATE messages SET read_count = ? WHERE pos = ?", (read_count, message.pos)
        )
        return dataclasses.replace(message, read_count=read_count)


@variant("R5_duplicate_receipt_notified", "R-5")
class DuplicateReceiptNotified(SqliteStorage):
    """The receipt write is idempotent, but the caller is not told it changed nothing: a
    repeated receipt pushes the (unchanged) counts to the sender again."""

    def record_receipt(self, message: Message, user_id: str, read_ms: int) -> Message | None:
        counted = super().record_receipt(message, user_id, read_ms)
        if counted is None and self.recipient_has_read(message, user_id):
            return message  # nothing changed, reported as a new receipt all the same
        return counted


@variant("R6_receipt_clears_unread", "R-6")
class ReceiptClearsUnread(SqliteStorage):
    """A receipt also lowers the reader's unread count for the conversation."""

    def record_receipt(self, message: Message, user_id: str, read_ms: int) -> Message | None:
        counted = super().record_receipt(message, user_id, read_ms)
        if counted is not None:
            chat = (2, message.group_id) if message.group_id is not None else (1, message.sender)
            self._conn.execute(
                "UPDATE conversations SET unread_count = max(unread_count - 1, 0)"
                " WHERE user_id = ? AND chat_type = ? AND chat_id = ?",
                (user_id, *chat),
            )
        return counted


@variant("R7_left_member_can_receipt", "R-7")
class SnapshotGrantsSight(ReceiptService):
    """A group message is visible to anyone in its recipient snapshot, so a member who left can
    still send receipts for it."""

    def _can_see(self, caller: Caller, message: Message) -> bool:
        in_snapshot = self._storage.recipient_has_read(message, caller.user_id) is not None
        return in_snapshot or super()._can_see(caller, message)


# == P. Sender is notified =====================================================================


@variant("P1_push_to_one_connection_only", "P-1")
class OneConnectionPerUser(PushHub):
    """The hub keeps one connection per user: a second device replaces the first, which stops
    receiving events."""

    def _register(self, connection: PushConnection) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the push hub is shut down")
            self._by_user[connection.user_id] = {connection}


@variant("P1_receipt_pushes_never_sent", "P-1")
class ReceiptPushesNeverSent(ReceiptService):
    """Receipts are counted, but the notification to the sender is never sent: the push channel
    delivers messages and nothing else."""

    def _emit(
        self, outbox: list[Event], user_ids: Sequence[str], name: str, data: JsonValue
    ) -> None:
        if name != ON_RECV_MESSAGE_READ_RECEIPTS:
            super()._emit(outbox, user_ids, name, data)


@variant("P1_one_event_per_receipt", "P-1")
class OneEventPerReceipt(ReceiptService):
    """A batch that receipts several messages of one sender pushes one event per message
    instead of one event holding them all."""

    def _emit(
        self, outbox: list[Event], user_ids: Sequence[str], name: str, data: JsonValue
    ) -> None:
        if name != ON_RECV_MESSAGE_READ_RECEIPTS:
            super()._emit(outbox, user_ids, name, data)
            return
        for receipt in _objects(data):
            super()._emit(outbox, user_ids, name, [receipt])


@variant("P1_replay_repeats_the_last_seen_event", "P-1")
class ReplayFromSinceInclusive(SqliteStorage):
    """Replay after since=N starts at event N instead of N + 1: the last event the client saw
    comes again."""

    def events_after(self, user_id: str, since: int) -> list[Event]:
        return super().events_after(user_id, max(since - 1, 0))


@variant("P2_c2c_push_without_read_time", "P-2")
class C2CPushWithoutTime(ReceiptService):
    """The C2C receipt push is built before the read time is known: its timestamp is 0."""

    def _emit(
        self, outbox: list[Event], user_ids: Sequence[str], name: str, data: JsonValue
    ) -> None:
        if name == ON_RECV_MESSAGE_READ_RECEIPTS:
            data = [{**r, "timestamp": 0} if _is_c2c(r) else r for r in _objects(data)]
        super()._emit(outbox, user_ids, name, data)


@variant("P3_stale_counts_in_push", "P-3", "P-2", "Q-4")
class StaleCountsInPush(SqliteStorage):
    """The push is built from the message as loaded before the receipt was recorded: it
    carries the counts before this reader."""

    def record_receipt(self, message: Message, user_id: str, read_ms: int) -> Message | None:
        return None if super().record_receipt(message, user_id, read_ms) is None else message


DATABASE_ROUND_TRIP_SECONDS = 0.002
"""The time between two transactions of one call on a server whose database is across a network.
The reference's database is in its own process, where the gap is microseconds: a race between
two transactions would then hinge on the machine's speed rather than on the bug."""


@variant("P3_concurrent_receipts_lose_updates", "P-3")
class ReadThenWrite(ReceiptService):
    """Receipts are checked in one transaction and written in another, from the counts read
    in the first (a database round trip apart): concurrent readers overwrite each other's
    increments."""

    def send_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> None:
        unique_ids = list(dict.fromkeys(msg_ids))

        def check(_: list[Event]) -> list[Message]:
            self._check_batch(unique_ids)
            return self._batch(caller, unique_ids, own=False)

        messages = self._run(check)
        time.sleep(DATABASE_ROUND_TRIP_SECONDS)

        def write(outbox: list[Event]) -> None:
            read_ms = self._clock()
            by_sender: dict[str, list[JsonValue]] = {}
            for message in messages:
                if message.sender == caller.user_id or not message.need_read_receipt:
                    continue
                counted = self._storage.record_receipt(message, caller.user_id, read_ms)
                if counted is None:
                    continue
                receipt = _receipt_of(counted)
                if isinstance(receipt, C2CReceipt):
                    receipt = dataclasses.replace(receipt, is_peer_read=True, timestamp=read_ms)
                by_sender.setdefault(message.sender, []).append(receipt.to_json())
            for sender, receipts in by_sender.items():
                self._emit(outbox, [sender], ON_RECV_MESSAGE_READ_RECEIPTS, receipts)

        self._run(write)


@variant("P4_push_to_every_member", "P-4")
class PushToEveryMember(ReceiptService):
    """Group receipt notifications go to every current member of the group, not just the
    sender."""

    def _emit(
        self, outbox: list[Event], user_ids: Sequence[str], name: str, data: JsonValue
    ) -> None:
        if name == ON_RECV_MESSAGE_READ_RECEIPTS:
            group_id = _objects(data)[0].get("groupID")
            if isinstance(group_id, str):
                user_ids = self._storage.member_ids(group_id)
        super()._emit(outbox, user_ids, name, data)


@variant("P4_c2c_reader_also_notified", "P-4")
class C2CReaderNotified(ReceiptService):
    """A C2C receipt notification goes to both ends of the chat, the reader included."""

    def _emit(
        self, outbox: list[Event], user_ids: Sequence[str], name: str, data: JsonValue
    ) -> None:
        if name == ON_RECV_MESSAGE_READ_RECEIPTS:
            readers = [str(r["userID"]) for r in _objects(data) if _is_c2c(r)]
            user_ids = list(dict.fromkeys([*user_ids, *readers]))
        super()._emit(outbox, user_ids, name, data)


# -- forbidden pushes that come late ---------------------------------------------------------
#
# A queued fan-out delivers some pushes after the call that caused them has answered. These two
# variants do so with a forbidden push, 1.5 s late but in its place in the user's seq order:
# only an absence proof that waits for a later event (a fence) can catch them; a fixed window
# shorter than the delay cannot.

LATE_DELIVERY_SECONDS = 1.5


class _QueuedFanOut:
    """An event sink that publishes through one FIFO worker; before an event ``late`` names it
    waits ``LATE_DELIVERY_SECONDS``, and everything queued behind it waits too (order kept)."""

    def __init__(self, sink: EventSink, late: Callable[[Event], bool]) -> None:
        self._sink = sink
        self._late = late
        self._queue: queue.Queue[Sequence[Event]] = queue.Queue()
        threading.Thread(target=self._deliver, name="seenby-late-fan-out", daemon=True).start()

    def publish(self, events: Sequence[Event]) -> None:
        self._queue.put(list(events))

    def _deliver(self) -> None:
        while True:
            for event in self._queue.get():
                if self._late(event):
                    time.sleep(LATE_DELIVERY_SECONDS)
                self._sink.publish([event])


class _LateForbiddenPushes(ReceiptService):
    """Base of the late variants: events passed to ``_emit_late`` are delivered late."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._late_events: set[int] = set()
        commit = self._group_commit
        commit._sink = _QueuedFanOut(commit._sink, lambda event: id(event) in self._late_events)

    def _emit_late(
        self, outbox: list[Event], user_ids: Sequence[str], name: str, data: JsonValue
    ) -> None:
        first = len(outbox)
        super()._emit(outbox, user_ids, name, data)
        self._late_events.update(id(event) for event in outbox[first:])


@variant("P4_group_receipt_pushed_to_members_late", "P-4")
class GroupReceiptPushedToMembersLate(_LateForbiddenPushes):
    """Group receipt notifications also go to every other current member of the group, through
    a queued fan-out that delivers them 1.5 s after the receipt call answered."""

    def _emit(
        self, outbox: list[Event], user_ids: Sequence[str], name: str, data: JsonValue
    ) -> None:
        super()._emit(outbox, user_ids, name, data)
        if name != ON_RECV_MESSAGE_READ_RECEIPTS:
            return
        group_id = _objects(data)[0].get("groupID")
        if isinstance(group_id, str):
            others = [m for m in self._storage.member_ids(group_id) if m not in user_ids]
            self._emit_late(outbox, others, name, data)


@variant("R5_repeated_receipt_notified_late", "R-5")
class RepeatedReceiptNotifiedLate(_LateForbiddenPushes):
    """A repeated receipt changes no count, but the sender is pushed the unchanged counts again,
    1.5 s after the call answered (a fan-out queue that does not check for a change)."""

    def send_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> None:
        before = _messages(self, msg_ids)
        repeated = [
            message
            for message in before.values()
            if message.need_read_receipt
            and message.sender != caller.user_id
            and self._run(lambda _, m=message: self._storage.recipient_has_read(m, caller.user_id))
        ]
        super().send_message_read_receipts(caller, msg_ids)
        if repeated:
            self._run(lambda outbox: self._push_again(outbox, repeated))

    def _push_again(self, outbox: list[Event], messages: Sequence[Message]) -> None:
        current = self._storage.messages([message.msg_id for message in messages])
        for message in current.values():
            receipt = _receipt_of(message).to_json()
            self._emit_late(outbox, [message.sender], ON_RECV_MESSAGE_READ_RECEIPTS, [receipt])


# == Q. Sender pulls receipts ==================================================================


@variant("Q1_pull_in_server_order", "Q-1")
class PullInServerOrder(ReceiptService):
    """Pulled receipts come back in the order the messages were sent, not in msgIDs order."""

    def get_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> list[Receipt]:
        receipts = super().get_message_read_receipts(caller, msg_ids)
        stored = _messages(self, msg_ids)
        return sorted(receipts, key=lambda receipt: stored[receipt.msg_id].pos)


@variant("Q1_repeated_id_pulled_twice", "Q-1")
class RepeatsPulledTwice(ReceiptService):
    """A msgID named twice in a pull gets two receipts."""

    def get_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> list[Receipt]:
        by_id = {r.msg_id: r for r in super().get_message_read_receipts(caller, msg_ids)}
        return [by_id[msg_id] for msg_id in msg_ids if msg_id in by_id]


@variant("Q2_unread_counts_the_sender", "Q-2")
class SenderCountedAsRecipient(SqliteStorage):
    """A group message's recipient count includes its sender: unreadCount is one too high."""

    def insert_message(self, message: NewMessage, recipients: Sequence[str]) -> Message:
        if message.group_id is not None and message.need_read_receipt:
            message = dataclasses.replace(message, recipient_count=message.recipient_count + 1)
        return super().insert_message(message, recipients)


@variant("Q2_c2c_receipt_names_sender", "Q-2")
class C2CReceiptNamesSender(ReceiptService):
    """A pulled C2C receipt names the caller (the sender) as userID instead of the peer."""

    def get_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> list[Receipt]:
        return [
            dataclasses.replace(r, user_id=caller.user_id) if isinstance(r, C2CReceipt) else r
            for r in super().get_message_read_receipts(caller, msg_ids)
        ]


@variant("Q2_c2c_read_time_is_send_time", "Q-2", "Q-4")
class C2CReadTimeIsSendTime(ReceiptService):
    """A pulled C2C receipt gives the time the message was sent as the time it was read."""

    def get_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> list[Receipt]:
        receipts = super().get_message_read_receipts(caller, msg_ids)
        stored = _messages(self, msg_ids)
        return [
            dataclasses.replace(r, timestamp=stored[r.msg_id].timestamp)
            if isinstance(r, C2CReceipt) and r.is_peer_read
            else r
            for r in receipts
        ]


@variant("Q3_pull_others_messages", "Q-3")
class PullOthersMessages(ReceiptService):
    """Pulls check only that the caller can see each message, not that it sent them."""

    def _batch(self, caller: Caller, unique_ids: Sequence[str], *, own: bool) -> list[Message]:
        return super()._batch(caller, unique_ids, own=False)


@variant("Q4_pull_served_from_stale_cache", "Q-4")
class PullCache(ReceiptService):
    """Pulled receipts are cached per message and never invalidated by new receipts."""

    def __init__(
        self,
        storage: Storage,
        admin_key: str,
        sink: EventSink,
        presence: Presence,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        super().__init__(storage, admin_key, sink, presence, clock)
        self._cache: dict[str, Receipt] = {}

    def get_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> list[Receipt]:
        receipts = super().get_message_read_receipts(caller, msg_ids)
        return [self._cache.setdefault(receipt.msg_id, receipt) for receipt in receipts]


# == L. Sender pages read / unread members =====================================================


@variant("L1_filters_swapped", "L-1")
class FiltersSwapped(SqliteStorage):
    """filter 0 pages the unread members and filter 1 the readers."""

    def member_page(
        self, message: Message, member_filter: MemberFilter, after: int, limit: int
    ) -> list[tuple[int, Profile]]:
        swapped = UNREAD if member_filter == READ else READ
        return super().member_page(message, swapped, after, limit)


@variant("L1_read_list_sorted_by_user_id", "L-1", "L-4")
class ReadListByUserID(SqliteStorage):
    """The READ list is ordered by user ID, not in the order members read."""

    def member_page(
        self, message: Message, member_filter: MemberFilter, after: int, limit: int
    ) -> list[tuple[int, Profile]]:
        if member_filter != READ:
            return super().member_page(message, member_filter, after, limit)
        readers = sorted(
            (profile for _, profile in super().member_page(message, READ, 0, 2**31)),
            key=lambda profile: profile.user_id,
        )
        return list(enumerate(readers, 1))[after : after + limit]


@variant("L2_c2c_message_has_member_list", "L-2")
class C2CMemberList(ReceiptService):
    """A C2C message's member lists answer an empty finished page instead of 6017."""

    def get_group_message_read_member_list(
        self,
        caller: Caller,
        msg_id: str,
        member_filter: MemberFilter,
        next_seq: int,
        count: int,
    ) -> MemberPage:
        message = _messages(self, [msg_id]).get(msg_id)
        if message is not None and message.group_id is None and message.sender == caller.user_id:
            return MemberPage((), next_seq, True)
        return super().get_group_message_read_member_list(
            caller, msg_id, member_filter, next_seq, count
        )


@variant("L2_member_list_of_others_message", "L-2", "X-2")
class AnyMemberListsReaders(ReceiptService):
    """The member lists check that the caller is in the group, not that it sent the message."""

    def get_group_message_read_member_list(
        self,
        caller: Caller,
        msg_id: str,
        member_filter: MemberFilter,
        next_seq: int,
        count: int,
    ) -> MemberPage:
        message = _messages(self, [msg_id]).get(msg_id)
        if message is not None and message.group_id is not None:
            member = self._run(lambda _: self._can_see(caller, message))
            if member:
                caller = Caller(message.sender)
        return super().get_group_message_read_member_list(
            caller, msg_id, member_filter, next_seq, count
        )


@variant("L2_page_size_clamped", "L-2")
class PageSizeClamped(_BodyRewritingHandler):
    """A member-list count outside 1..100 is silently clamped instead of refused."""

    def rewrite(self, method: str, body: JsonObject) -> JsonObject:
        count = body.get("count")
        if method == "getGroupMessageReadMemberList" and type(count) is int:
            body["count"] = min(max(count, 1), MEMBER_LIST_COUNT_MAX)
        return body


@variant("L3_last_page_off_by_one", "L-3")
class LastPageOffByOne(ReceiptService):
    """Every page drops its last row, assuming it is the look-ahead row; on the last page it
    is a member, who is never listed."""

    def get_group_message_read_member_list(
        self,
        caller: Caller,
        msg_id: str,
        member_filter: MemberFilter,
        next_seq: int,
        count: int,
    ) -> MemberPage:
        page = super().get_group_message_read_member_list(
            caller, msg_id, member_filter, next_seq, count
        )
        if page.is_finished and page.members:
            return dataclasses.replace(page, members=page.members[:-1])
        return page


@variant("L3_cursor_skips_a_member", "L-3", "L-4")
class CursorSkipsAMember(ReceiptService):
    """nextSeq points one past the last member returned, so each next page skips a member."""

    def get_group_message_read_member_list(
        self,
        caller: Caller,
        msg_id: str,
        member_filter: MemberFilter,
        next_seq: int,
        count: int,
    ) -> MemberPage:
        page = super().get_group_message_read_member_list(
            caller, msg_id, member_filter, next_seq, count
        )
        if page.is_finished:
            return page
        return dataclasses.replace(page, next_seq=page.next_seq + 1)


@variant("L4_offset_cursor", "L-4")
class OffsetCursor(ReceiptService):
    """nextSeq is an offset into the list as it is now: members who read during a walk shift
    the list under the cursor."""

    def get_group_message_read_member_list(
        self,
        caller: Caller,
        msg_id: str,
        member_filter: MemberFilter,
        next_seq: int,
        count: int,
    ) -> MemberPage:
        whole = super().get_group_message_read_member_list(
            caller, msg_id, member_filter, 0, MEMBER_LIST_COUNT_MAX
        )
        page = whole.members[next_seq : next_seq + count]
        end = next_seq + len(page)
        return MemberPage(page, end, end >= len(whole.members))


@variant("L5_profile_fields_dropped", "L-5")
class ProfilesDropped(SqliteStorage):
    """Member list entries carry the userID only: the join with the users' profiles was
    dropped."""

    def member_page(
        self, message: Message, member_filter: MemberFilter, after: int, limit: int
    ) -> list[tuple[int, Profile]]:
        return [
            (position, Profile(profile.user_id))
            for position, profile in super().member_page(message, member_filter, after, limit)
        ]


# == M. Membership over time ===================================================================


@variant("M1_denominator_follows_live_membership", "M-1")
class LiveDenominator(SqliteStorage):
    """unreadCount is computed from the group's current size, not from the recipients fixed
    when the message was sent."""

    def messages(self, msg_ids: Sequence[str]) -> dict[str, Message]:
        found = super().messages(msg_ids)
        for msg_id, message in found.items():
            group = None if message.group_id is None else self.group(message.group_id)
            if group is not None and message.need_read_receipt:
                found[msg_id] = dataclasses.replace(message, recipient_count=group.member_count - 1)
        return found


@variant("M2_unread_list_follows_live_membership", "M-2", "M-1")
class LiveUnreadList(SqliteStorage):
    """The UNREAD list is the group's current members minus the readers: newcomers appear in
    it and members who left vanish from it."""

    def member_page(
        self, message: Message, member_filter: MemberFilter, after: int, limit: int
    ) -> list[tuple[int, Profile]]:
        if member_filter != UNREAD or message.group_id is None:
            return super().member_page(message, member_filter, after, limit)
        readers = {profile.user_id for _, profile in super().member_page(message, READ, 0, 2**31)}
        unread = [
            profile
            for user_id in self.member_ids(message.group_id)
            if user_id != message.sender and user_id not in readers
            for profile in [self.profile(user_id)]
            if profile is not None
        ]
        return list(enumerate(unread, 1))[after : after + limit]


@variant("M2_left_member_dropped_from_lists", "M-2")
class LeftMembersDropped(SqliteStorage):
    """The member lists join with the current membership: members who left disappear."""

    def member_page(
        self, message: Message, member_filter: MemberFilter, after: int, limit: int
    ) -> list[tuple[int, Profile]]:
        assert message.group_id is not None
        return [
            (position, profile)
            for position, profile in super().member_page(message, member_filter, after, limit)
            if self.is_member(message.group_id, profile.user_id)
        ]


# == C. C2C conversation read mark =============================================================


@variant("C1_mark_keeps_unread", "C-1")
class MarkKeepsUnread(SqliteStorage):
    """Marking a chat as read stores the mark but leaves the unread count as it was."""

    def set_read_mark(self, user_id: str, peer_id: str, mark: ReadMark) -> None:
        self._conn.execute(
            "INSERT INTO conversations (user_id, chat_type, chat_id, mark_pos, mark_ms)"
            " VALUES (?, 1, ?, ?, ?)"
            " ON CONFLICT DO UPDATE SET mark_pos = excluded.mark_pos, mark_ms = excluded.mark_ms",
            (user_id, peer_id, mark.pos, mark.timestamp),
        )


@variant("C1_mark_told_to_the_reader", "C-1")
class MarkToldToReader(ReceiptService):
    """onRecvC2CReadReceipt goes to the user who marked the chat, not to its peer."""

    def _emit(
        self, outbox: list[Event], user_ids: Sequence[str], name: str, data: JsonValue
    ) -> None:
        if name == ON_RECV_C2C_READ_RECEIPT:
            user_ids = [str(_objects(data)[0]["userID"])]
        super()._emit(outbox, user_ids, name, data)


@variant("C2_mark_covers_later_messages", "C-2")
class MarkCoversEverything(SqliteStorage):
    """The read mark is kept as a flag: once a chat was marked, every message in it shows
    isPeerRead, later ones too."""

    def read_mark(self, user_id: str, peer_id: str) -> ReadMark | None:
        mark = super().read_mark(user_id, peer_id)
        return None if mark is None else dataclasses.replace(mark, pos=2**62)


@variant("C2_mark_misses_last_message", "C-2")
class MarkOffByOne(SqliteStorage):
    """The mark is placed just before the newest message instead of on it."""

    def last_pos(self) -> int:
        return max(super().last_pos() - 1, 0)


@variant("C2_mark_read_from_the_wrong_side", "C-2")
class MarkReadFromTheWrongSide(SqliteStorage):
    """History looks up the viewer's own read mark instead of its peer's: a user's messages
    show as read when the user itself marked the chat."""

    def read_mark(self, user_id: str, peer_id: str) -> ReadMark | None:
        return super().read_mark(peer_id, user_id)


@variant("C3_mark_creates_receipts", "C-3")
class MarkCreatesReceipts(ReceiptService):
    """Marking a chat as read also sends receipts for the peer's messages that need one."""

    def mark_c2c_message_as_read(self, caller: Caller, peer_id: str) -> None:
        super().mark_c2c_message_as_read(caller, peer_id)
        history = self.get_history_message_list(caller, PeerChat(peer_id), HISTORY_COUNT_MAX)
        wanted = [
            view.message.msg_id
            for view in history
            if view.message.sender == peer_id and view.message.need_read_receipt
        ]
        batch_max = self.get_settings().receipt_batch_max
        for start in range(0, len(wanted), batch_max):
            self.send_message_read_receipts(caller, wanted[start : start + batch_max])


@variant("C3_receipt_moves_mark", "C-3")
class ReceiptMovesMark(ReceiptService):
    """A receipt for a C2C message also marks the whole chat as read."""

    def send_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> None:
        super().send_message_read_receipts(caller, msg_ids)
        senders = {
            message.sender
            for message in _messages(self, msg_ids).values()
            if message.group_id is None and message.sender != caller.user_id
        }
        for sender in senders:
            self.mark_c2c_message_as_read(caller, sender)


# == E. Errors and envelopes ===================================================================


@variant("E1_error_with_http_200", "E-1")
class ErrorsWithStatus200(RequestHandler):
    """Client errors are answered with HTTP 200 and the code in the body only."""

    def status_of(self, code: Code) -> int:
        status = super().status_of(code)
        return 200 if 400 <= status < 500 else status


@variant("E2_plain_member_list_is_6017", "E-2", "S-3", "L-2")
class PlainMemberListIsInvalid(ReceiptService):
    """The member lists of the caller's own message sent without needReadReceipt answer the
    generic 6017 instead of the documented 10062 (receipt information does not exist)."""

    def get_group_message_read_member_list(
        self,
        caller: Caller,
        msg_id: str,
        member_filter: MemberFilter,
        next_seq: int,
        count: int,
    ) -> MemberPage:
        try:
            return super().get_group_message_read_member_list(
                caller, msg_id, member_filter, next_seq, count
            )
        except ReceiptError as refusal:
            if refusal.code is not Code.RECEIPT_INFO_NOT_FOUND:
                raise
            raise ReceiptError(Code.INVALID_PARAMETERS, refusal.desc) from refusal


@variant("E3_bad_json_is_500", "E-3")
class BadJSONCrashes(RequestHandler):
    """The JSON parse error escapes the handler: malformed bodies get a 500."""

    def _send_error(self, error: ReceiptError) -> None:
        if error.code is Code.MALFORMED_BODY:
            error = ReceiptError(Code.INTERNAL_ERROR, "internal server error")
        super()._send_error(error)


# == X. Security ===============================================================================


@variant("X1_reader_taken_from_body", "X-1")
class ReaderFromBody(_ActsAsNamedUser):
    """sendMessageReadReceipts accepts a userID field naming the reader: anyone can read on
    another's behalf."""

    acting_method = "sendMessageReadReceipts"
    acting_field = "userID"


@variant("X1_sender_taken_from_body", "X-1")
class SenderFromBody(_ActsAsNamedUser):
    """sendMessage accepts a sender field naming the author: anyone can send as another."""

    acting_method = "sendMessage"
    acting_field = "sender"


@variant("X1_user_token_opens_admin_methods", "X-1")
class AnyTokenIsAdmin(RequestHandler):
    """Admin methods check that the credential is known, not that it is the admin key."""

    def _credential(self) -> Credential:
        credential = super()._credential()
        return Admin() if urlsplit(self.path).path.startswith("/v1/admin/") else credential


@variant("X2_non_member_gets_distinct_error", "X-2")
class NonMemberToldGroupExists(ReceiptService):
    """A non-member is told the group exists: same code as for an unknown group, a different
    description."""

    def _visible_group(self, caller: Caller, group_id: str) -> Group:
        group = self._storage.group(group_id)
        if group is not None and not self._storage.is_member(group_id, caller.user_id):
            raise ReceiptError(Code.GROUP_NOT_FOUND, f"you are not a member of group {group_id!r}")
        return super()._visible_group(caller, group_id)


@variant("X2_outsider_told_message_exists", "X-2")
class OutsiderToldMessageExists(ReceiptService):
    """A message in a conversation the caller is not part of is refused with its own
    description, telling the caller that the message exists."""

    def _batch(self, caller: Caller, unique_ids: Sequence[str], *, own: bool) -> list[Message]:
        for msg_id, message in self._storage.messages(unique_ids).items():
            if not self._can_see(caller, message):
                raise ReceiptError(
                    Code.INVALID_PARAMETERS,
                    f"msgID {msg_id!r} is in a conversation you are not part of",
                )
        return super()._batch(caller, unique_ids, own=own)


@variant("X2_outsider_reads_group_history", "X-2")
class HistoryWithoutMembership(ReceiptService):
    """Group history checks that the group exists, not that the caller is a member."""

    def get_history_message_list(
        self, caller: Caller, chat: Chat, count: int, last_msg_id: str | None = None
    ) -> list[MessageView]:
        if isinstance(chat, GroupChat):
            group = self._run(lambda _: self._storage.group(chat.group_id))
            if group is not None:
                caller = Caller(group.owner_id)
        return super().get_history_message_list(caller, chat, count, last_msg_id)


@variant("X2_history_cursor_from_another_chat", "X-2")
class HistoryCursorFromAnyChat(ReceiptService):
    """lastMsgID is checked for existence only: a message of a conversation the caller is not
    part of is accepted as a history cursor, which tells the caller it exists."""

    def get_history_message_list(
        self, caller: Caller, chat: Chat, count: int, last_msg_id: str | None = None
    ) -> list[MessageView]:
        last = None if last_msg_id is None else _messages(self, [last_msg_id]).get(last_msg_id)
        if last is None:
            return super().get_history_message_list(caller, chat, count, last_msg_id)
        views = super().get_history_message_list(caller, chat, HISTORY_COUNT_MAX)
        return [view for view in views if view.message.pos < last.pos][:count]


# == V. Payload validity =======================================================================


@dataclass(frozen=True)
class _ReadCountAsString(GroupReceipt):
    def to_json(self) -> JsonObject:
        return {**super().to_json(), "readCount": str(self.read_count)}


@variant("V1_readCount_sent_as_string", "V-1")
class ReadCountAsString(ReceiptService):
    """Pulled group receipts carry readCount as a string."""

    def get_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> list[Receipt]:
        return [
            _ReadCountAsString(r.msg_id, r.group_id, r.read_count, r.unread_count)
            if isinstance(r, GroupReceipt)
            else r
            for r in super().get_message_read_receipts(caller, msg_ids)
        ]


@variant("V1_new_message_event_without_timestamp", "V-1")
class NewMessageWithoutTimestamp(ReceiptService):
    """onRecvNewMessage events leave out the message's timestamp."""

    def _emit(
        self, outbox: list[Event], user_ids: Sequence[str], name: str, data: JsonValue
    ) -> None:
        if name == ON_RECV_NEW_MESSAGE and isinstance(data, dict):
            data = {key: value for key, value in data.items() if key != "timestamp"}
        super()._emit(outbox, user_ids, name, data)


# The hostile servers and the coverage scenarios' variants live in modules of their own.
from . import (  # noqa: E402  (they register into GALLERY, so it must exist first)
    coverage_variants,  # noqa: F401
    hostile_variants,  # noqa: F401
)
