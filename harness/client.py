"""User and admin clients: the SDK's read-receipt API as Python methods over the seenby wire.

Method names mirror V2TIM (``send_message_read_receipts``, ``get_group_message_read_member_list``,
``on_recv_message_read_receipts``) so the SDK documentation maps onto them. Arguments accept
either harness objects (``UserClient``, ``Group``, ``Message``, ``MemberInfo``) or plain ID
strings. Every answer is checked by the transport; a non-zero code raises ``ApiError``. For
negative tests, ``call`` returns the raw ``WireResponse`` instead of raising.

    alice, bob = target.users("alice", "bob")
    msg = alice.send_text("lunch?", to=bob, need_read_receipt=True)
    bob.send_message_read_receipts([msg])
    alice.get_message_read_receipts([msg])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from seenby.harness.models import (
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
from seenby.harness.push import PushStream
from seenby.harness.transport import (
    DEFAULT_TIMEOUT,
    HttpTransport,
    ProtocolViolation,
    ViolationLog,
    WireResponse,
)

__all__ = ["AdminClient", "GroupRef", "MessageRef", "UserClient", "UserRef"]

WALK_MAX_PAGES = 1000
"""Most pages ``walk_group_message_read_members`` fetches before blaming the server's cursor."""

_SETTING_WIRE_NAMES = {
    "edition": "edition",
    "group_receipt_types": "groupReceiptTypes",
    "group_receipt_max_members": "groupReceiptMaxMembers",
    "receipt_batch_max": "receiptBatchMax",
}


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


def _user_id(user: UserRef) -> str:
    return user if isinstance(user, str) else user.user_id


def _group_id(group: GroupRef) -> str:
    return group if isinstance(group, str) else group.group_id


def _msg_id(message: MessageRef) -> str:
    return message if isinstance(message, str) else message.msg_id


def _conversation(user: UserRef | None, group: GroupRef | None, user_key: str) -> dict[str, str]:
    """The body field naming one conversation: ``{user_key: peer}`` or ``{"groupID": group}``."""
    if (user is None) == (group is None):
        raise TypeError("name exactly one conversation: a user (to=/user=) or a group (group=)")
    if user is not None:
        return {user_key: _user_id(user)}
    assert group is not None
    return {"groupID": _group_id(group)}


class UserClient:
    """One user of the target, acting with its own token (``user_id``, ``token``)."""

    def __init__(
        self,
        user_id: str,
        token: str,
        *,
        base_url: str,
        violations: ViolationLog,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.user_id = user_id
        self.token = token
        self._base_url = base_url
        self._violations = violations
        self._timeout = timeout
        self._http = HttpTransport(
            base_url, token, violations=violations, timeout=timeout, actor=user_id
        )
        self._streams: list[PushStream] = []
        self._listener_stream: PushStream | None = None

    def __repr__(self) -> str:
        return f"<UserClient {self.user_id} at {self._base_url}>"

    # -- messages -------------------------------------------------------------------------

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
        body = {
            **_conversation(to, group, "receiver"),
            "elem": dict(elem),
            "needReadReceipt": need_read_receipt,
            "onlineUserOnly": online_user_only,
        }
        return Message.from_wire(self._http.invoke("sendMessage", body))

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

    def get_history_message_list(
        self,
        *,
        user: UserRef | None = None,
        group: GroupRef | None = None,
        count: int = 20,
        last_msg: MessageRef | None = None,
    ) -> ResultList[Message]:
        """Messages of one conversation, newest first; ``last_msg`` pages past that message."""
        body: dict[str, Any] = {**_conversation(user, group, "userID"), "count": count}
        if last_msg is not None:
            body["lastMsgID"] = _msg_id(last_msg)
        data = self._http.invoke("getHistoryMessageList", body)
        return ResultList(Message.from_wire(item) for item in data)

    def get_conversation_list(self) -> ResultList[Conversation]:
        """The caller's conversations with unread counts, most recent activity first."""
        data = self._http.invoke("getConversationList", {})
        return ResultList(Conversation.from_wire(item) for item in data)

    # -- receipts ---------------------------------------------------------------------------

    def send_message_read_receipts(self, messages: Iterable[MessageRef]) -> None:
        """Send read receipts for a batch of messages of one conversation [R-1]."""
        self._http.invoke("sendMessageReadReceipts", {"msgIDs": [_msg_id(m) for m in messages]})

    def get_message_read_receipts(self, messages: Iterable[MessageRef]) -> ResultList[Receipt]:
        """Receipt information for a batch of the caller's own messages [Q-1]."""
        data = self._http.invoke(
            "getMessageReadReceipts", {"msgIDs": [_msg_id(m) for m in messages]}
        )
        return ResultList(Receipt.from_wire(item) for item in data)

    def get_group_message_read_member_list(
        self,
        message: MessageRef,
        filter: ReadFilter | int,
        next_seq: int = 0,
        count: int = 100,
    ) -> ReadMemberPage:
        """One page of the members who have (``ReadFilter.READ``) or have not
        (``ReadFilter.UNREAD``) read the caller's group message [L-1]."""
        body = {
            "msgID": _msg_id(message),
            "filter": int(filter),
            "nextSeq": next_seq,
            "count": count,
        }
        return ReadMemberPage.from_wire(self._http.invoke("getGroupMessageReadMemberList", body))

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
                    f"getGroupMessageReadMemberList for {_msg_id(message)}: an empty unfinished "
                    f"page kept nextSeq at {next_seq} [target {self._base_url}]"
                )
            next_seq = page.next_seq
        raise ProtocolViolation(
            f"getGroupMessageReadMemberList for {_msg_id(message)}: not finished after "
            f"{max_pages} pages of {count} ({len(members)} members) [target {self._base_url}]"
        )

    def mark_c2c_message_as_read(self, user: UserRef) -> None:
        """Mark the C2C conversation with ``user`` read [C-1]."""
        self._http.invoke("markC2CMessageAsRead", {"userID": _user_id(user)})

    # -- raw access for negative tests ------------------------------------------------------

    def call(self, method: str, body: Mapping[str, Any]) -> WireResponse:
        """``POST /v1/<method>`` with ``body`` as given; returns the checked answer whatever its
        code (the envelope is still schema-validated)."""
        return self._http.call(method, body)

    def post_raw(
        self, path: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> WireResponse:
        """POST exactly ``body`` to ``path`` with this user's token (``headers`` may override
        it or add others; no Content-Type is added)."""
        return self._http.request_raw("POST", path, body, headers or {})

    # -- push ------------------------------------------------------------------------------

    def connect(self, since: int | None = None) -> PushStream:
        """Open a new push connection; ``since`` asks for replay of events after that seq."""
        stream = PushStream(
            self._base_url,
            self.token,
            owner=self.user_id,
            violations=self._violations,
            since=since,
            timeout=self._timeout,
        )
        self._streams.append(stream)
        return stream

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
        return self._listen(_receipts_listener("onRecvMessageReadReceipts", callback))

    def on_recv_c2c_read_receipt(self, callback: Callable[[list[Receipt]], None]) -> PushStream:
        """Call ``callback(receipts)`` for each ``onRecvC2CReadReceipt`` [C-1]."""
        return self._listen(_receipts_listener("onRecvC2CReadReceipt", callback))

    def close(self) -> None:
        """Close every push connection and the HTTP session."""
        for stream in self._streams:
            stream.close()
        self._http.close()

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


class AdminClient:
    """The deployment's administrator (admin key): settings, users and groups."""

    def __init__(
        self,
        base_url: str,
        admin_key: str,
        *,
        violations: ViolationLog,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._base_url = base_url
        self._violations = violations
        self._timeout = timeout
        self._http = HttpTransport(
            base_url, admin_key, violations=violations, timeout=timeout, actor="admin"
        )
        self._created: list[UserClient] = []

    def __repr__(self) -> str:
        return f"<AdminClient at {self._base_url}>"

    def get_settings(self) -> Settings:
        """The current application settings."""
        return Settings.from_wire(self._http.invoke("admin/getSettings", {}))

    def set_settings(self, **changes: Any) -> Settings:
        """Change settings (``edition``, ``group_receipt_types``, ``group_receipt_max_members``,
        ``receipt_batch_max``); returns the settings after the change."""
        unknown = sorted(set(changes) - set(_SETTING_WIRE_NAMES))
        if unknown:
            raise TypeError(f"unknown settings {unknown}; known: {sorted(_SETTING_WIRE_NAMES)}")
        body = {
            _SETTING_WIRE_NAMES[name]: list(value) if isinstance(value, tuple) else value
            for name, value in changes.items()
        }
        return Settings.from_wire(self._http.invoke("admin/setSettings", body))

    def create_user(
        self, user_id: str, nick_name: str | None = None, face_url: str | None = None
    ) -> UserClient:
        """Create a user with exactly ``user_id``; returns a client acting as it (closed
        with this admin client)."""
        body = {"userID": user_id}
        if nick_name is not None:
            body["nickName"] = nick_name
        if face_url is not None:
            body["faceURL"] = face_url
        data = self._http.invoke("admin/createUser", body)
        user = UserClient(
            data["userID"],
            data["token"],
            base_url=self._base_url,
            violations=self._violations,
            timeout=self._timeout,
        )
        self._created.append(user)
        return user

    def create_group(
        self,
        group_type: str,
        owner: UserRef,
        members: Iterable[UserRef],
        group_id: str | None = None,
    ) -> Group:
        """Create a group; without ``group_id`` the server picks one."""
        body: dict[str, Any] = {
            "groupType": group_type,
            "ownerID": _user_id(owner),
            "memberIDs": [_user_id(member) for member in members],
        }
        if group_id is not None:
            body["groupID"] = group_id
        return Group.from_wire(self._http.invoke("admin/createGroup", body))

    def add_group_members(self, group: GroupRef, users: Iterable[UserRef]) -> None:
        """Add users to a group (existing members are skipped)."""
        body = {"groupID": _group_id(group), "userIDs": [_user_id(user) for user in users]}
        self._http.invoke("admin/addGroupMembers", body)

    def remove_group_members(self, group: GroupRef, users: Iterable[UserRef]) -> None:
        """Remove users from a group (non-members are skipped; never the owner)."""
        body = {"groupID": _group_id(group), "userIDs": [_user_id(user) for user in users]}
        self._http.invoke("admin/removeGroupMembers", body)

    def call(self, method: str, body: Mapping[str, Any]) -> WireResponse:
        """``POST /v1/admin/<method>`` (``"setSettings"`` or ``"admin/setSettings"``) with
        ``body`` as given; returns the checked answer whatever its code."""
        return self._http.call(method if method.startswith("admin/") else f"admin/{method}", body)

    def close(self) -> None:
        """Close the clients of the users created here, then the HTTP session."""
        for user in self._created:
            user.close()
        self._http.close()
