"""User and admin clients: the SDK's read-receipt API as Python methods, whatever the driver.

``UserClient`` and ``AdminClient`` are what the steps and notebooks program against; each driver
(``seenby.harness.drivers``) implements them for its target's API. Method names mirror V2TIM
(``send_message_read_receipts``, ``get_group_message_read_member_list``,
``on_recv_message_read_receipts``) so the SDK documentation maps onto them. Arguments accept
either harness objects (``UserClient``, ``Group``, ``Message``, ``MemberInfo``) or plain ID
strings. An answer with an error raises ``ApiError``. The raw calls of negative tests (``call``,
``post_raw``) exist only where the driver has the ``raw-wire`` capability; elsewhere they raise
``NotApplicable``.

    alice, bob = target.users("alice", "bob")
    msg = alice.send_text("lunch?", to=bob, need_read_receipt=True)
    bob.send_message_read_receipts([msg])
    alice.get_message_read_receipts([msg])
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from seenby.contract.vocabulary import ON_RECV_C2C_READ_RECEIPT, ON_RECV_MESSAGE_READ_RECEIPTS
from seenby.harness.api.models import (
    Conversation,
    Event,
    Group,
    MemberInfo,
    Message,
    ReadFilter,
    ReadMemberPage,
    Receipt,
    ResultList,
    Settings,
)
from seenby.harness.drivers.capabilities import RAW_WIRE, NotApplicable
from seenby.harness.wire.push import PushStream
from seenby.harness.wire.transport import ProtocolViolation, WireResponse

__all__ = [
    "SETTING_WIRE_NAMES",
    "AdminClient",
    "GroupRef",
    "MessageRef",
    "UserClient",
    "UserRef",
    "group_id_of",
    "msg_id_of",
    "user_id_of",
]

WALK_MAX_PAGES = 1000
"""Most pages ``walk_group_message_read_members`` fetches before blaming the server's cursor."""

SETTING_WIRE_NAMES = {
    "edition": "edition",
    "group_receipt_types": "groupReceiptTypes",
    "group_receipt_max_members": "groupReceiptMaxMembers",
    "receipt_batch_max": "receiptBatchMax",
}
"""``set_settings`` keyword → the wire's settings field."""


class _HasUserID(Protocol):
    @property
    def user_id(self) -> str: ...


class _HasGroupID(Protocol):
    @property
    def group_id(self) -> str: ...


class _HasMsgID(Protocol):
    @property
    def msg_id(self) -> str: ...


UserRef = str | _HasUserID
"""A user: its ID, or anything with a ``user_id`` (``UserClient``, ``MemberInfo``)."""
GroupRef = str | _HasGroupID
"""A group: its ID, or a ``Group``."""
MessageRef = str | _HasMsgID
"""A message: its ID, or a ``Message``."""


def user_id_of(user: UserRef) -> str:
    """The ID of ``user``."""
    return user if isinstance(user, str) else user.user_id


def group_id_of(group: GroupRef) -> str:
    """The ID of ``group``."""
    return group if isinstance(group, str) else group.group_id


def msg_id_of(message: MessageRef) -> str:
    """The ID of ``message``."""
    return message if isinstance(message, str) else message.msg_id


class UserClient(ABC):
    """One user of the target, acting with its own credential (``user_id``, ``token``).

    A driver implements the abstract SDK calls; the conveniences (``send_text``,
    ``send_custom``, ``walk_group_message_read_members``, the ``on_recv_*`` listeners) are built
    on them here, once for every driver.
    """

    def __init__(self, user_id: str, token: str, *, target: str, timeout: float) -> None:
        self.user_id = user_id
        self.token = token
        self.target = target
        """The target's base URL, for failure messages."""
        self.timeout = timeout
        self._streams: list[PushStream] = []
        self._listener_stream: PushStream | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.user_id} at {self.target}>"

    # -- messages -------------------------------------------------------------------------

    @abstractmethod
    def send_message(
        self,
        elem: Mapping[str, Any],
        *,
        to: UserRef | None = None,
        group: GroupRef | None = None,
        need_read_receipt: bool = False,
        online_user_only: bool = False,
    ) -> Message:
        """Send ``elem`` (a wire elem dict) to one user (``to``) or one ``group``."""

    def send_text(
        self,
        text: str,
        *,
        to: UserRef | None = None,
        group: GroupRef | None = None,
        need_read_receipt: bool = False,
        online_user_only: bool = False,
    ) -> Message:
        """Send a text message to one user (``to``) or one ``group``."""
        return self.send_message(
            {"elemType": "text", "text": text},
            to=to,
            group=group,
            need_read_receipt=need_read_receipt,
            online_user_only=online_user_only,
        )

    def send_custom(
        self,
        data: str,
        *,
        desc: str | None = None,
        extension: str | None = None,
        to: UserRef | None = None,
        group: GroupRef | None = None,
        need_read_receipt: bool = False,
        online_user_only: bool = False,
    ) -> Message:
        """Send a custom message (``data`` plus optional ``desc`` / ``extension``)."""
        elem = {"elemType": "custom", "data": data}
        if desc is not None:
            elem["desc"] = desc
        if extension is not None:
            elem["extension"] = extension
        return self.send_message(
            elem,
            to=to,
            group=group,
            need_read_receipt=need_read_receipt,
            online_user_only=online_user_only,
        )

    @abstractmethod
    def get_history_message_list(
        self,
        *,
        user: UserRef | None = None,
        group: GroupRef | None = None,
        count: int = 20,
        last_msg: MessageRef | None = None,
    ) -> ResultList[Message]:
        """Messages of one conversation, newest first; ``last_msg`` pages past that message."""

    @abstractmethod
    def get_conversation_list(self) -> ResultList[Conversation]:
        """The caller's conversations with unread counts, most recent activity first."""

    # -- receipts ---------------------------------------------------------------------------

    @abstractmethod
    def send_message_read_receipts(self, messages: Iterable[MessageRef]) -> None:
        """Send read receipts for a batch of messages of one conversation [R-1]."""

    @abstractmethod
    def get_message_read_receipts(self, messages: Iterable[MessageRef]) -> ResultList[Receipt]:
        """Receipt information for a batch of the caller's own messages [Q-1]."""

    @abstractmethod
    def get_group_message_read_member_list(
        self,
        message: MessageRef,
        filter: ReadFilter | int,
        next_seq: int = 0,
        count: int = 100,
    ) -> ReadMemberPage:
        """One page of the members who have (``ReadFilter.READ``) or have not
        (``ReadFilter.UNREAD``) read the caller's group message [L-1]."""

    def walk_group_message_read_members(
        self,
        message: MessageRef,
        filter: ReadFilter | int,
        count: int = 100,
        *,
        max_pages: int = WALK_MAX_PAGES,
    ) -> ResultList[MemberInfo]:
        """Every member of one list, following ``nextSeq`` until ``isFinished``.

        Members are returned as the pages gave them (duplicates included, so a test can see
        them). Raises ``ProtocolViolation`` if the walk does not finish within ``max_pages``
        pages or a page neither finishes nor advances the cursor.
        """
        members: ResultList[MemberInfo] = ResultList()
        next_seq = 0
        for _ in range(max_pages):
            page = self.get_group_message_read_member_list(message, filter, next_seq, count)
            members.extend(page.members)
            if page.is_finished:
                return members
            if not page.members and page.next_seq == next_seq:
                raise ProtocolViolation(
                    f"getGroupMessageReadMemberList for {msg_id_of(message)}: an empty "
                    f"unfinished page kept nextSeq at {next_seq} [target {self.target}]"
                )
            next_seq = page.next_seq
        raise ProtocolViolation(
            f"getGroupMessageReadMemberList for {msg_id_of(message)}: not finished after "
            f"{max_pages} pages of {count} ({len(members)} members) [target {self.target}]"
        )

    @abstractmethod
    def mark_c2c_message_as_read(self, user: UserRef) -> None:
        """Mark the C2C conversation with ``user`` read [C-1]."""

    # -- raw access for negative tests (the raw-wire capability) ---------------------------

    def call(self, method: str, body: Mapping[str, Any]) -> WireResponse:
        """``POST /v1/<method>`` with ``body`` as given; returns the checked answer whatever its
        code (the envelope is still schema-validated)."""
        raise NotApplicable(RAW_WIRE, f"{type(self).__name__}.call")

    def post_raw(
        self, path: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> WireResponse:
        """POST exactly ``body`` to ``path`` with this user's token (``headers`` may override
        it or add others; no Content-Type is added)."""
        raise NotApplicable(RAW_WIRE, f"{type(self).__name__}.post_raw")

    # -- push ------------------------------------------------------------------------------

    def connect(self, since: int | None = None) -> PushStream:
        """Open a new push connection; ``since`` asks for replay of events after that seq."""
        stream = self._open_stream(since)
        self._streams.append(stream)
        return stream

    @abstractmethod
    def _open_stream(self, since: int | None) -> PushStream:
        """A new push connection of this user (the driver's part of ``connect``)."""

    @property
    def push(self) -> PushStream:
        """The stream the ``on_recv_*`` listeners use, opened on first use; each listener is
        called for every event of it, from its first (those already received at once)."""
        if self._listener_stream is None or self._listener_stream.closed:
            self._listener_stream = self.connect()
        return self._listener_stream

    def on_recv_new_message(self, callback: Callable[[Message], None]) -> PushStream:
        """Call ``callback(message)`` for each ``onRecvNewMessage`` (V2TimAdvancedMsgListener)."""

        def listener(event: Event) -> None:
            if event.message is not None:
                callback(event.message)

        return self._listen(listener)

    def on_recv_message_read_receipts(
        self, callback: Callable[[list[Receipt]], None]
    ) -> PushStream:
        """Call ``callback(receipts)`` for each ``onRecvMessageReadReceipts`` [P-1]."""
        return self._listen(_receipts_listener(ON_RECV_MESSAGE_READ_RECEIPTS, callback))

    def on_recv_c2c_read_receipt(self, callback: Callable[[list[Receipt]], None]) -> PushStream:
        """Call ``callback(receipts)`` for each ``onRecvC2CReadReceipt`` [C-1]."""
        return self._listen(_receipts_listener(ON_RECV_C2C_READ_RECEIPT, callback))

    def close(self) -> None:
        """Close every push connection (a driver closes its own sessions after this)."""
        for stream in self._streams:
            stream.close()

    def _listen(self, listener: Callable[[Event], None]) -> PushStream:
        # From the start: the connection may deliver its first frames before this line runs.
        stream = self.push
        stream.add_listener(listener, from_start=True)
        return stream


def _receipts_listener(
    event_name: str, callback: Callable[[list[Receipt]], None]
) -> Callable[[Event], None]:
    def listener(event: Event) -> None:
        if event.name == event_name:
            callback(list(event.receipts))

    return listener


class AdminClient(ABC):
    """The deployment's administrator: settings, users and groups, as far as the target's API
    offers them (a driver without ``admin-settings`` raises ``NotApplicable`` for settings)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._created: list[UserClient] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} at {self.target}>"

    @abstractmethod
    def get_settings(self) -> Settings:
        """The current application settings."""

    @abstractmethod
    def set_settings(self, **changes: Any) -> Settings:
        """Change settings (``edition``, ``group_receipt_types``, ``group_receipt_max_members``,
        ``receipt_batch_max``); returns the settings after the change."""

    @abstractmethod
    def create_user(
        self, user_id: str, nick_name: str | None = None, face_url: str | None = None
    ) -> UserClient:
        """Create a user with exactly ``user_id`` (as the target spells IDs); returns a client
        acting as it (closed with this admin client)."""

    @abstractmethod
    def create_group(
        self,
        group_type: str,
        owner: UserRef,
        members: Iterable[UserRef],
        group_id: str | None = None,
    ) -> Group:
        """Create a group; without ``group_id`` the server picks one."""

    @abstractmethod
    def add_group_members(self, group: GroupRef, users: Iterable[UserRef]) -> None:
        """Add users to a group (existing members are skipped)."""

    @abstractmethod
    def remove_group_members(self, group: GroupRef, users: Iterable[UserRef]) -> None:
        """Remove users from a group (non-members are skipped; never the owner)."""

    def call(self, method: str, body: Mapping[str, Any]) -> WireResponse:
        """``POST /v1/admin/<method>`` (``"setSettings"`` or ``"admin/setSettings"``) with
        ``body`` as given; returns the checked answer whatever its code."""
        raise NotApplicable(RAW_WIRE, f"{type(self).__name__}.call")

    def close(self) -> None:
        """Close the clients of the users created here (a driver closes its session after)."""
        for user in self._created:
            user.close()
