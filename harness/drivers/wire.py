"""The ``seenby`` driver's clients: the SDK calls as seenby protocol v1 requests.

Every answer is checked by the transport (envelope schema, status class, strict deviations); a
non-zero code raises ``ApiError``. For negative tests, ``call`` and ``post_raw`` send the raw
request and return the checked ``WireResponse`` whatever its code (the ``raw-wire``
capability, which only this driver has).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from seenby.harness.api.client import (
    SETTING_WIRE_NAMES,
    AdminClient,
    GroupRef,
    MessageRef,
    UserClient,
    UserRef,
    group_id_of,
    msg_id_of,
    user_id_of,
)
from seenby.harness.api.models import (
    Conversation,
    Group,
    Message,
    ReadFilter,
    ReadMemberPage,
    Receipt,
    ResultList,
    Settings,
)
from seenby.harness.wire.push import PushStream, WebSocketPushStream
from seenby.harness.wire.transport import DEFAULT_TIMEOUT, HttpTransport, ViolationLog, WireResponse

__all__ = ["WireAdminClient", "WireUserClient"]


def _conversation(user: UserRef | None, group: GroupRef | None, user_key: str) -> dict[str, str]:
    """The body field naming one conversation: ``{user_key: peer}`` or ``{"groupID": group}``."""
    if (user is None) == (group is None):
        raise TypeError("name exactly one conversation: a user (to=/user=) or a group (group=)")
    if user is not None:
        return {user_key: user_id_of(user)}
    assert group is not None
    return {"groupID": group_id_of(group)}


class WireUserClient(UserClient):
    """One user of a seenby-wire target, acting with its own token."""

    def __init__(
        self,
        user_id: str,
        token: str,
        *,
        base_url: str,
        violations: ViolationLog,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(user_id, token, target=base_url, timeout=timeout)
        self._base_url = base_url
        self._violations = violations
        self._http = HttpTransport(
            base_url, token, violations=violations, timeout=timeout, actor=user_id
        )

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
            body["lastMsgID"] = msg_id_of(last_msg)
        data = self._http.invoke("getHistoryMessageList", body)
        return ResultList(Message.from_wire(item) for item in data)

    def get_conversation_list(self) -> ResultList[Conversation]:
        """The caller's conversations with unread counts, most recent activity first."""
        data = self._http.invoke("getConversationList", {})
        return ResultList(Conversation.from_wire(item) for item in data)

    # -- receipts ---------------------------------------------------------------------------

    def send_message_read_receipts(self, messages: Iterable[MessageRef]) -> None:
        """Send read receipts for a batch of messages of one conversation [R-1]."""
        self._http.invoke("sendMessageReadReceipts", {"msgIDs": [msg_id_of(m) for m in messages]})

    def get_message_read_receipts(self, messages: Iterable[MessageRef]) -> ResultList[Receipt]:
        """Receipt information for a batch of the caller's own messages [Q-1]."""
        data = self._http.invoke(
            "getMessageReadReceipts", {"msgIDs": [msg_id_of(m) for m in messages]}
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
            "msgID": msg_id_of(message),
            "filter": int(filter),
            "nextSeq": next_seq,
            "count": count,
        }
        return ReadMemberPage.from_wire(self._http.invoke("getGroupMessageReadMemberList", body))

    def mark_c2c_message_as_read(self, user: UserRef) -> None:
        """Mark the C2C conversation with ``user`` read [C-1]."""
        self._http.invoke("markC2CMessageAsRead", {"userID": user_id_of(user)})

    # -- raw access for negative tests: the raw-wire capability -----------------------------

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

    def _open_stream(self, since: int | None) -> PushStream:
        return WebSocketPushStream(
            self._base_url,
            self.token,
            owner=self.user_id,
            violations=self._violations,
            since=since,
            timeout=self.timeout,
        )

    def close(self) -> None:
        """Close every push connection and the HTTP session."""
        super().close()
        self._http.close()


class WireAdminClient(AdminClient):
    """The administrator of a seenby-wire target (admin key): settings, users and groups."""

    def __init__(
        self,
        base_url: str,
        admin_key: str,
        *,
        violations: ViolationLog,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(base_url)
        self._base_url = base_url
        self._violations = violations
        self._timeout = timeout
        self._http = HttpTransport(
            base_url, admin_key, violations=violations, timeout=timeout, actor="admin"
        )

    def get_settings(self) -> Settings:
        """The current application settings."""
        return Settings.from_wire(self._http.invoke("admin/getSettings", {}))

    def set_settings(self, **changes: Any) -> Settings:
        """Change settings (``edition``, ``group_receipt_types``, ``group_receipt_max_members``,
        ``receipt_batch_max``); returns the settings after the change."""
        unknown = sorted(set(changes) - set(SETTING_WIRE_NAMES))
        if unknown:
            raise TypeError(f"unknown settings {unknown}; known: {sorted(SETTING_WIRE_NAMES)}")
        body = {
            SETTING_WIRE_NAMES[name]: list(value) if isinstance(value, tuple) else value
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
        user = WireUserClient(
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
            "ownerID": user_id_of(owner),
            "memberIDs": [user_id_of(member) for member in members],
        }
        if group_id is not None:
            body["groupID"] = group_id
        return Group.from_wire(self._http.invoke("admin/createGroup", body))

    def add_group_members(self, group: GroupRef, users: Iterable[UserRef]) -> None:
        """Add users to a group (existing members are skipped)."""
        body = {"groupID": group_id_of(group), "userIDs": [user_id_of(user) for user in users]}
        self._http.invoke("admin/addGroupMembers", body)

    def remove_group_members(self, group: GroupRef, users: Iterable[UserRef]) -> None:
        """Remove users from a group (non-members are skipped; never the owner)."""
        body = {"groupID": group_id_of(group), "userIDs": [user_id_of(user) for user in users]}
        self._http.invoke("admin/removeGroupMembers", body)

    def call(self, method: str, body: Mapping[str, Any]) -> WireResponse:
        """``POST /v1/admin/<method>`` (``"setSettings"`` or ``"admin/setSettings"``) with
        ``body`` as given; returns the checked answer whatever its code."""
        return self._http.call(method if method.startswith("admin/") else f"admin/{method}", body)

    def close(self) -> None:
        """Close the clients of the users created here, then the HTTP session."""
        super().close()
        self._http.close()
