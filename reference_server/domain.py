"""The receipt rules of seenby: every protocol method as plain Python, no HTTP, no sockets.

``ReceiptService`` has one method per protocol method. It takes an identified caller and typed
arguments (``methods.py`` turns request bodies into them) and raises ``ReceiptError`` with the
protocol's code when it refuses a call. Storage, push and presence are interfaces it is given.

Theory of operation
-------------------

*Serialised calls.* Every call runs as one *work* through group commit (``group_commit.py``):
works run one at a time in queue order, each in its own savepoint (or, alone in its batch, its
own transaction), so an error never changes anything (all of a receipt batch applies or none of
it [R-3]), and a call returns only once its transaction is durable and its events are published:
a ``code: 0`` answer always means a durable change. The reference server favours
obviously-correct ordering over parallel writes; what keeps one big call from stalling everyone
is that no work is big (see *Big sends* below).

*The recipient snapshot* [M-1, M-2]. When a needReadReceipt message is sent, its recipients are
fixed: the C2C receiver, or the group's members except the sender at that moment (only those
online, for onlineUserOnly [S-4]). Each gets a row numbered in snapshot order. Later joins and
leaves never touch those rows: a member who joined later is not a recipient (its receipt is
skipped [R-4]); a member who left keeps its place in the lists but can no longer see the message,
so it can no longer send receipts for it [R-7]. Messages without needReadReceipt have no
recipient rows: there is nothing to count [S-3].

*Counts are stored, not recounted* [Q-2, P-3]. A message row holds ``recipient_count`` and
``read_count``; a new receipt increments ``read_count`` in the same transaction that marks the
reader's row, and ``unreadCount`` is the difference. Pulling counts costs the same for any group
size, and because receipts are serialised, N distinct readers give exactly N.

*Keyset cursors* [L-3, L-4]. A reader's row gets ``read_seq`` = the message's new read count,
its place in the order of readers. The READ list is ordered by ``read_seq``, the UNREAD list by
snapshot order, and ``nextSeq`` is the position of the last member returned, never an offset. A
member who reads leaves the UNREAD list and joins the end of the READ list: an unread walk may
miss it (it left that list), a read walk meets it later, and no walk returns anyone twice.

*Event seq.* Every event belongs to one user and gets that user's next ``seq`` in the same
transaction as the change that caused it, so numbering is gap-free, survives restarts, and the
newest events are kept for replay.

*Ordering guarantee* [P-3]. Events are handed to the push sink after commit, work by work in
queue order, before the next batch may start, so each user's events reach its connections in
``seq`` order, and a sender never sees an older count after a newer one. A push connection is
registered at its own place in that order, right after the events of the works before it: its
replay (read inside the transaction) holds exactly those, and live delivery starts with the
works after it, so nothing is lost or repeated. A connection counts as online [S-4] from then
on: an onlineUserOnly message in the same batch was concurrent with the connection's opening
(neither had been answered) and is ordered before it.

*Big sends* [M-1, M-2]. Writing a needReadReceipt message to 100,000 recipients (a snapshot
row, an event and an unread counter each) takes over a second; as one work, every other call
would wait that long. So a send to more than ``SEND_CHUNK`` recipients is several works, each
short, with other calls' works queued between them:

1. The first work checks the call, reads the members (the snapshot is taken here, at one
   moment, and kept in memory by the sending call), stores the message with the first chunk of
   its snapshot, and *hides* it: no query finds a hidden message, so nobody can see, receipt or
   list it, and counts and pages never meet half a snapshot.
2. One work per further chunk of snapshot rows, numbered on in snapshot order.
3. One work makes the message visible (and moves the sender's conversation); from here on its
   counts and member lists are exact, because the whole snapshot is there.
4. One work per chunk of recipients delivers it: each gets its ``onRecvNewMessage`` event (seq
   numbered and published like any other work's, so per-user seq order holds) and, for history
   messages, its unread count. A member removed meanwhile keeps its snapshot row [M-2] but is
   not told, and gets no conversation back [R-7]. Each chunk records how far delivery got.

Only then is the sender answered, so ``code: 0`` still means the whole message is durable. A
crash leaves the whole message or nothing: on start, the service deletes a message still hidden
(nobody saw it, nobody was answered) and finishes delivering a visible one from its recorded
progress (some recipients may already have been told; none is told twice). The cost: while a
big send runs, messages sent later can become visible before it, so it lands in history at its
own, earlier place (conversation activity never moves back), and recipients learn of it up to
the send's duration apart, as they would behind any server fan-out.

*Tokens.* Tokens never change and users are never deleted, so ``identify`` keeps each token's
caller in memory after its first lookup (keyed by the token, so a known token is not even
hashed again) and answers later requests without the queue or a transaction. An unknown token
is looked up every time: the user may be created later.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import string
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from seenby.contract import vocabulary
from seenby.contract.vocabulary import Code
from seenby.reference_server.group_commit import EventSink, GroupCommit
from seenby.reference_server.storage import Storage
from seenby.reference_server.values import (
    GROUP_TYPES,
    C2CReceipt,
    Capabilities,
    Chat,
    Conversation,
    ConversationMark,
    Elem,
    Event,
    Group,
    GroupChat,
    GroupReceipt,
    JsonValue,
    MemberFilter,
    MemberPage,
    Message,
    MessageView,
    NewMessage,
    NewUser,
    PeerChat,
    Profile,
    ReadMark,
    Receipt,
    ReceiptError,
    Replay,
    Settings,
    SettingsChange,
    conversation_key,
    now_ms,
)

T = TypeVar("T")

ON_RECV_NEW_MESSAGE = vocabulary.ON_RECV_NEW_MESSAGE
ON_RECV_MESSAGE_READ_RECEIPTS = vocabulary.ON_RECV_MESSAGE_READ_RECEIPTS
ON_RECV_C2C_READ_RECEIPT = vocabulary.ON_RECV_C2C_READ_RECEIPT
ON_REPLAY_GAP = vocabulary.ON_REPLAY_GAP

_GENERATED_GROUP_ID_ALPHABET = string.ascii_uppercase + string.digits

SEND_CHUNK = 250
"""Recipients one work of a big send writes or delivers, so that no other call waits long."""


class Presence(Protocol):
    """Who is online, for ``onlineUserOnly`` [S-4]."""

    def is_online(self, user_id: str) -> bool:
        """Whether the user has an open push connection."""
        ...


@dataclass(frozen=True)
class Caller:
    """A user identified by its token: the only user a user method acts as [X-1]."""

    user_id: str


@dataclass(frozen=True)
class Admin:
    """The holder of the admin key."""


Credential = Caller | Admin


class ReceiptService:
    """All of seenby's receipt rules, over a storage, an event sink and a presence oracle."""

    def __init__(
        self,
        storage: Storage,
        admin_key: str,
        sink: EventSink,
        presence: Presence,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._storage = storage
        self._admin_key = admin_key.encode()
        self._presence = presence
        self._clock = clock
        self._group_commit = GroupCommit(storage, sink)
        self._token_lock = threading.Lock()
        self._callers_by_token: dict[str, Caller] = {}
        self._finish_interrupted_sends()

    # -- plumbing ------------------------------------------------------------------------------

    def _run(
        self,
        work: Callable[[list[Event]], T],
        *,
        after_commit: Callable[[], None] | None = None,
    ) -> T:
        """Run ``work`` as one group-committed work (see ``GroupCommit.run``)."""
        return self._group_commit.run(work, after_commit=after_commit)

    def _emit(
        self, outbox: list[Event], user_ids: Sequence[str], name: str, data: JsonValue
    ) -> None:
        if user_ids:
            outbox.extend(self._storage.append_events(user_ids, name, data, self._clock()))

    # -- credentials ---------------------------------------------------------------------------

    def identify(self, credential: str) -> Credential | None:
        """Who holds ``credential`` (the admin key or a user token); ``None`` if nobody."""
        if hmac.compare_digest(credential.encode(), self._admin_key):
            return Admin()
        # Keyed by the token itself: hashing it on every request cost more than the lookup.
        # Storage keeps only the hash; the map lives in memory, as the tokens in requests do.
        with self._token_lock:
            caller = self._callers_by_token.get(credential)
        if caller is None:
            digest = _token_digest(credential)
            user_id = self._run(lambda _: self._storage.user_for_token(digest))
            if user_id is None:
                return None
            caller = Caller(user_id)
            with self._token_lock:
                self._callers_by_token[credential] = caller
        return caller

    # -- discovery and settings ----------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        """Features and current limits."""
        return Capabilities(self._run(lambda _: self._storage.settings()))

    def get_settings(self) -> Settings:
        """``admin/getSettings``."""
        return self._run(lambda _: self._storage.settings())

    def set_settings(self, change: SettingsChange) -> Settings:
        """``admin/setSettings``: applies to later calls; sent messages keep their snapshot."""

        def work(_: list[Event]) -> Settings:
            current = self._storage.settings()
            updated = Settings(
                edition=_or(change.edition, current.edition),
                group_receipt_types=_or(change.group_receipt_types, current.group_receipt_types),
                group_receipt_max_members=_or(
                    change.group_receipt_max_members, current.group_receipt_max_members
                ),
                receipt_batch_max=_or(change.receipt_batch_max, current.receipt_batch_max),
            )
            self._storage.save_settings(updated)
            return updated

        return self._run(work)

    # -- users and groups (admin) --------------------------------------------------------------

    def create_user(
        self, user_id: str, nick_name: str | None = None, face_url: str | None = None
    ) -> NewUser:
        """``admin/createUser``: the token is returned once; only its hash is stored."""

        def work(_: list[Event]) -> NewUser:
            if self._storage.profile(user_id) is not None:
                raise ReceiptError(Code.USER_EXISTS, f"user {user_id!r} already exists")
            token = secrets.token_urlsafe(32)
            self._storage.insert_user(Profile(user_id, nick_name, face_url), _token_digest(token))
            return NewUser(user_id, token)

        return self._run(work)

    def create_group(
        self, group_id: str | None, group_type: str, owner_id: str, member_ids: Sequence[str]
    ) -> Group:
        """``admin/createGroup``: the owner is a member; duplicates count once."""
        if group_type not in GROUP_TYPES:
            raise ReceiptError(
                Code.ADMIN_INVALID_PARAMETER,
                f"groupType must be one of {', '.join(GROUP_TYPES)}",
            )
        members = list(dict.fromkeys([owner_id, *member_ids]))

        def work(_: list[Event]) -> Group:
            self._require_users(members)
            if group_id is not None and self._storage.group(group_id) is not None:
                raise ReceiptError(Code.GROUP_ID_IN_USE, f"group ID {group_id!r} is in use")
            chosen = group_id if group_id is not None else self._free_group_id()
            group = Group(chosen, group_type, owner_id, len(members))
            self._storage.insert_group(group, members)
            return group

        return self._run(work)

    def add_group_members(self, group_id: str, user_ids: Sequence[str]) -> None:
        """``admin/addGroupMembers``: existing members are skipped; joiners get no old messages."""

        def work(_: list[Event]) -> None:
            self._admin_group(group_id)
            self._require_users(user_ids)
            self._storage.add_members(group_id, user_ids)

        self._run(work)

    def remove_group_members(self, group_id: str, user_ids: Sequence[str]) -> None:
        """``admin/removeGroupMembers``: non-members are skipped; the owner cannot be removed.

        The removed keep their place in earlier messages' snapshots [M-2] but lose the group:
        its conversation leaves their list and they can no longer see or receipt it [R-7].
        """

        def work(_: list[Event]) -> None:
            group = self._admin_group(group_id)
            if group.owner_id in user_ids:
                raise ReceiptError(
                    Code.ADMIN_INVALID_PARAMETER,
                    f"the owner {group.owner_id!r} cannot be removed from group {group_id!r}",
                )
            removed = self._storage.remove_members(group_id, user_ids)
            self._storage.drop_conversations(removed, GroupChat(group_id))

        self._run(work)

    # -- messages ------------------------------------------------------------------------------

    def send_message(
        self,
        caller: Caller,
        chat: Chat,
        elem: Elem,
        *,
        need_read_receipt: bool = False,
        online_user_only: bool = False,
    ) -> MessageView:
        """``sendMessage`` [S-1, S-2, S-4, A-1..A-4, M-1]: the message as the sender sees it."""

        def work(outbox: list[Event]) -> tuple[Message, list[str]]:
            settings = self._storage.settings()
            if need_read_receipt and not settings.has_receipts:
                raise _edition_error()
            if isinstance(chat, PeerChat):
                self._require_peer(caller, chat.user_id)
                audience = [chat.user_id]
            else:
                group = self._visible_group(caller, chat.group_id)
                if need_read_receipt:
                    _check_group_receipts(group, settings)
                members = self._storage.member_ids(group.group_id)
                audience = [member for member in members if member != caller.user_id]
            recipients = (
                [u for u in audience if self._presence.is_online(u)]
                if online_user_only
                else audience
            )
            staged = need_read_receipt and len(recipients) > SEND_CHUNK
            message = self._storage.insert_message(
                NewMessage(
                    msg_id=secrets.token_hex(16),
                    sender=caller.user_id,
                    receiver=chat.user_id if isinstance(chat, PeerChat) else None,
                    group_id=chat.group_id if isinstance(chat, GroupChat) else None,
                    timestamp=self._clock(),
                    elem=elem,
                    need_read_receipt=need_read_receipt,
                    online_user_only=online_user_only,
                    recipient_count=len(recipients) if need_read_receipt else 0,
                ),
                recipients[:SEND_CHUNK] if staged else recipients if need_read_receipt else (),
            )
            if staged:
                self._storage.hide_message(message)
                return message, recipients
            self._record_sent(message)
            self._deliver(outbox, message, recipients)
            return message, []

        message, snapshot = self._run(work)
        if snapshot:
            self._send_in_chunks(message, snapshot)
        return MessageView(message, is_self=True)

    def _record_sent(self, message: Message) -> None:
        """The sender's side of a send: its conversation moves up (history messages only)."""
        if not message.online_user_only:
            self._storage.record_activity(
                [(message.sender, _chat_seen_by(message.sender, message))], message.pos, 0
            )

    def _deliver(self, outbox: list[Event], message: Message, user_ids: Sequence[str]) -> None:
        """Tell recipients about a message: its event, and their unread count [S-4]."""
        if not message.online_user_only:
            # Only history messages count as activity and unread [S-4].
            self._storage.record_activity(
                [(u, _chat_seen_by(u, message)) for u in user_ids], message.pos, 1
            )
        self._emit(
            outbox, user_ids, ON_RECV_NEW_MESSAGE, MessageView(message, is_self=False).to_json()
        )

    def _send_in_chunks(self, message: Message, snapshot: Sequence[str]) -> None:
        """Finish a big send (see *Big sends*): the rest of the snapshot while the message is
        hidden, then make it visible, then deliver it; one short work per chunk."""

        def stage(start: int) -> Callable[[list[Event]], None]:
            chunk = snapshot[start : start + SEND_CHUNK]
            return lambda _: self._storage.add_recipients(message, start + 1, chunk)

        try:
            for start in range(SEND_CHUNK, len(snapshot), SEND_CHUNK):
                self._run(stage(start))
        except BaseException:
            with contextlib.suppress(Exception):  # if this fails too, the next start discards it
                self._discard(message)
            raise

        def show(_: list[Event]) -> None:
            self._storage.show_message(message)
            self._record_sent(message)

        self._run(show)
        self._deliver_from(message, 0)

    def _deliver_from(self, message: Message, delivered: int) -> None:
        """Deliver a visible message to its snapshot after index ``delivered``, chunk by chunk;
        each chunk records its progress, so a restart resumes where a crash stopped it."""
        group_id = message.group_id
        assert group_id is not None

        def deliver_chunk(after: int) -> Callable[[list[Event]], int | None]:
            def work(outbox: list[Event]) -> int | None:
                rows = self._storage.recipients(message, after, SEND_CHUNK)
                # A member removed meanwhile has lost the group; it is not told.
                members = self._storage.members_among(group_id, [user for _, user in rows])
                self._deliver(outbox, message, members)
                last = rows[-1][0] if len(rows) == SEND_CHUNK else None
                self._storage.set_delivered(message, last)
                return last

            return work

        progress: int | None = delivered
        while progress is not None:
            progress = self._run(deliver_chunk(progress))

    def _finish_interrupted_sends(self) -> None:
        """After a crash: discard hidden messages, finish delivering visible ones."""
        for pending in self._run(lambda _: self._storage.pending_sends()):
            if pending.visible:
                self._deliver_from(pending.message, pending.delivered)
            else:
                self._discard(pending.message)

    def _discard(self, message: Message) -> None:
        """Delete a hidden message: its send never happened."""
        self._run(lambda _: self._storage.discard_message(message))

    def get_history_message_list(
        self, caller: Caller, chat: Chat, count: int, last_msg_id: str | None = None
    ) -> list[MessageView]:
        """``getHistoryMessageList``: newest first, starting after ``last_msg_id`` if given.

        Own C2C messages show ``isPeerRead`` when the peer's read mark covers them [C-2].
        """

        def work(_: list[Event]) -> list[MessageView]:
            if isinstance(chat, PeerChat):
                self._require_peer(caller, chat.user_id)
                conversation = conversation_key(caller.user_id, chat.user_id, None)
                peer_mark = self._storage.read_mark(chat.user_id, caller.user_id)
            else:
                self._visible_group(caller, chat.group_id)
                conversation = conversation_key(caller.user_id, None, chat.group_id)
                peer_mark = None
            before_pos = None
            if last_msg_id is not None:
                last = self._storage.messages([last_msg_id]).get(last_msg_id)
                if last is None or last.conversation != conversation:
                    raise ReceiptError(
                        Code.INVALID_PARAMETERS,
                        f"lastMsgID {last_msg_id!r} is not a message of this conversation",
                    )
                before_pos = last.pos
            return [
                MessageView(
                    message,
                    is_self=message.sender == caller.user_id,
                    peer_read=(
                        message.sender == caller.user_id
                        and peer_mark is not None
                        and message.pos <= peer_mark.pos
                    ),
                )
                for message in self._storage.history(conversation, before_pos, count)
            ]

        return self._run(work)

    def get_conversation_list(self, caller: Caller) -> list[Conversation]:
        """``getConversationList``: most recent activity first; receipts never change unread."""
        return self._run(lambda _: self._storage.conversations(caller.user_id))

    # -- receipts ------------------------------------------------------------------------------

    def send_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> None:
        """``sendMessageReadReceipts`` [R-1..R-7, P-1..P-4].

        All messages must be visible and in one conversation, or nothing applies. The caller's
        own messages, messages without needReadReceipt, messages it already receipted and
        messages it is not a recipient of are skipped silently. Each sender of a newly
        receipted message gets one event with the counts after this call; nobody else is told.
        """
        unique_ids = list(dict.fromkeys(msg_ids))

        def work(outbox: list[Event]) -> None:
            self._check_batch(unique_ids)
            messages = self._batch(caller, unique_ids, own=False)
            read_ms = self._clock()
            by_sender: dict[str, list[Receipt]] = {}
            for message in messages:
                if message.sender == caller.user_id or not message.need_read_receipt:
                    continue
                counted = self._storage.record_receipt(message, caller.user_id, read_ms)
                if counted is None:
                    continue  # already receipted, or not a recipient
                by_sender.setdefault(message.sender, []).append(_receipt(counted, read_ms))
            for sender, receipts in by_sender.items():
                self._emit(
                    outbox,
                    [sender],
                    ON_RECV_MESSAGE_READ_RECEIPTS,
                    [receipt.to_json() for receipt in receipts],
                )

        self._run(work)

    def get_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> list[Receipt]:
        """``getMessageReadReceipts`` [Q-1..Q-4]: the caller's own messages only.

        Messages sent without needReadReceipt have no receipt information and are left out
        [S-3]. Results follow ``msg_ids`` order, repeats once.
        """
        unique_ids = list(dict.fromkeys(msg_ids))

        def work(_: list[Event]) -> list[Receipt]:
            self._check_batch(unique_ids)
            receipts: list[Receipt] = []
            for message in self._batch(caller, unique_ids, own=True):
                if message.need_read_receipt:
                    read_ms = None if message.group_id else self._storage.receipt_time(message)
                    receipts.append(_receipt(message, read_ms))
            return receipts

        return self._run(work)

    def get_group_message_read_member_list(
        self,
        caller: Caller,
        msg_id: str,
        member_filter: MemberFilter,
        next_seq: int,
        count: int,
    ) -> MemberPage:
        """``getGroupMessageReadMemberList`` [L-1..L-5]: one page of READ (0) or UNREAD (1).

        ``next_seq`` is 0 on the first call and the previous page's ``nextSeq`` after that.
        """

        def work(_: list[Event]) -> MemberPage:
            if not self._storage.settings().has_receipts:
                raise _edition_error()
            message = self._storage.messages([msg_id]).get(msg_id)
            if (
                message is None
                or message.group_id is None
                or message.sender != caller.user_id
                or not self._can_see(caller, message)
            ):
                raise ReceiptError(
                    Code.INVALID_PARAMETERS,
                    f"msgID {msg_id!r} is not a group message you sent",
                )
            if not message.need_read_receipt:
                raise ReceiptError(
                    Code.RECEIPT_INFO_NOT_FOUND,
                    f"message {msg_id!r} was sent without needReadReceipt: it has no receipts",
                )
            rows = self._storage.member_page(message, member_filter, next_seq, count + 1)
            page = rows[:count]
            return MemberPage(
                members=tuple(profile for _, profile in page),
                next_seq=page[-1][0] if page else next_seq,
                is_finished=len(rows) <= count,
            )

        return self._run(work)

    def mark_c2c_message_as_read(self, caller: Caller, peer_id: str) -> None:
        """``markC2CMessageAsRead`` [C-1..C-3]: unread to 0, the peer is told the mark time.

        The mark covers every message the server accepted before this call; it creates no
        message receipts.
        """

        def work(outbox: list[Event]) -> None:
            self._require_peer(caller, peer_id)
            mark = ReadMark(pos=self._storage.last_pos(), timestamp=self._clock())
            self._storage.set_read_mark(caller.user_id, peer_id, mark)
            self._emit(
                outbox,
                [peer_id],
                ON_RECV_C2C_READ_RECEIPT,
                [ConversationMark(caller.user_id, mark.timestamp).to_json()],
            )

        self._run(work)

    # -- push channel --------------------------------------------------------------------------

    def open_event_stream(
        self, caller: Caller, since: int | None, register: Callable[[], None]
    ) -> Replay:
        """Read the replay after ``since``; call ``register`` at this call's place in the order
        of publication, once the replay's transaction has committed.

        Every event published after the registration goes to the registered connection, and
        every retained event before it is in the replay: exactly once, in order, no gap (§6.1).
        """
        if since is not None and since < 0:
            raise ReceiptError(Code.INVALID_PARAMETERS, "since must be an integer >= 0")

        def work(_: list[Event]) -> Replay:
            replay = Replay(events=())
            if since is not None:
                oldest, latest = self._storage.event_bounds(caller.user_id)
                gap = None
                if since < latest and oldest > since + 1:
                    gap = Event(
                        caller.user_id,
                        oldest - 1,
                        ON_REPLAY_GAP,
                        {"since": since, "firstAvailableSeq": oldest},
                    )
                events = tuple(self._storage.events_after(caller.user_id, since))
                replay = Replay(events, gap, latest)
            return replay

        return self._run(work, after_commit=register)

    # -- rules shared by several methods -------------------------------------------------------

    def _check_batch(self, unique_ids: Sequence[str]) -> None:
        """Batch size [R-2], then edition [A-1]: both come before any message is looked at."""
        settings = self._storage.settings()
        if not unique_ids:
            raise ReceiptError(Code.INVALID_PARAMETERS, "msgIDs must not be empty")
        if len(unique_ids) > settings.receipt_batch_max:
            raise ReceiptError(
                Code.INVALID_PARAMETERS,
                f"msgIDs holds {len(unique_ids)} messages; at most"
                f" {settings.receipt_batch_max} are allowed per call",
            )
        if not settings.has_receipts:
            raise _edition_error()

    def _batch(self, caller: Caller, unique_ids: Sequence[str], *, own: bool) -> list[Message]:
        """The messages, each visible to the caller (and its own, if ``own``), one conversation.

        A message the caller may not see fails exactly like an unknown one [X-2, Q-3].
        """
        found = self._storage.messages(unique_ids)
        messages = []
        for msg_id in unique_ids:
            message = found.get(msg_id)
            if (
                message is None
                or not self._can_see(caller, message)
                or (own and message.sender != caller.user_id)
            ):
                kind = "message you sent" if own else "message you can see"
                raise ReceiptError(Code.INVALID_PARAMETERS, f"msgID {msg_id!r} is not a {kind}")
            messages.append(message)
        if len({message.conversation for message in messages}) > 1:
            raise ReceiptError(Code.INVALID_PARAMETERS, "messages must all be in one conversation")
        return messages

    def _can_see(self, caller: Caller, message: Message) -> bool:
        if message.group_id is not None:
            return self._storage.is_member(message.group_id, caller.user_id)
        return caller.user_id in (message.sender, message.receiver)

    def _visible_group(self, caller: Caller, group_id: str) -> Group:
        """The group, if the caller is a member; otherwise the same 10010 as for no group."""
        group = self._storage.group(group_id)
        if group is None or not self._storage.is_member(group_id, caller.user_id):
            raise ReceiptError(
                Code.GROUP_NOT_FOUND,
                f"group {group_id!r} does not exist or you are not a member of it",
            )
        return group

    def _admin_group(self, group_id: str) -> Group:
        group = self._storage.group(group_id)
        if group is None:
            raise ReceiptError(Code.GROUP_NOT_FOUND, f"group {group_id!r} does not exist")
        return group

    def _require_peer(self, caller: Caller, peer_id: str) -> None:
        if peer_id == caller.user_id:
            raise ReceiptError(Code.INVALID_PARAMETERS, "the C2C peer must be another user")
        if self._storage.profile(peer_id) is None:
            raise ReceiptError(Code.INVALID_PARAMETERS, f"user {peer_id!r} does not exist")

    def _require_users(self, user_ids: Sequence[str]) -> None:
        unknown = self._storage.unknown_users(user_ids)
        if unknown:
            raise ReceiptError(
                Code.ADMIN_INVALID_PARAMETER,
                "these users do not exist: " + ", ".join(repr(u) for u in unknown[:10]),
            )

    def _free_group_id(self) -> str:
        while True:
            candidate = "@TGS#" + "".join(
                secrets.choice(_GENERATED_GROUP_ID_ALPHABET) for _ in range(10)
            )
            if self._storage.group(candidate) is None:
                return candidate


def _check_group_receipts(group: Group, settings: Settings) -> None:
    """A needReadReceipt message needs an enabled, supported type [A-2, A-3] and a small group
    [A-4]."""
    if not group.supports_receipts or group.group_type not in settings.group_receipt_types:
        raise ReceiptError(
            Code.GROUP_TYPE_WITHOUT_RECEIPTS,
            f"read receipts are not enabled for {group.group_type} groups;"
            " send without needReadReceipt or enable the type in groupReceiptTypes",
        )
    if group.member_count > settings.group_receipt_max_members:
        raise ReceiptError(
            Code.GROUP_TOO_LARGE,
            f"group {group.group_id!r} has {group.member_count} members; read receipts work"
            f" in groups of at most {settings.group_receipt_max_members}",
        )


def _receipt(message: Message, read_ms: int | None) -> Receipt:
    """A message's receipt: counts for a group message, the receiver's state for C2C."""
    if message.group_id is not None:
        return GroupReceipt(
            message.msg_id,
            message.group_id,
            message.read_count,
            message.recipient_count - message.read_count,
        )
    assert message.receiver is not None
    return C2CReceipt(message.msg_id, message.receiver, read_ms is not None, read_ms or 0)


def _chat_seen_by(user_id: str, message: Message) -> Chat:
    if message.group_id is not None:
        return GroupChat(message.group_id)
    assert message.receiver is not None
    return PeerChat(message.receiver if user_id == message.sender else message.sender)


def _edition_error() -> ReceiptError:
    return ReceiptError(
        Code.INTERFACE_NOT_SUPPORTED,
        "read receipts need the ultimate edition; an admin can change it with admin/setSettings",
    )


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _or(value: T | None, default: T) -> T:
    return default if value is None else value
