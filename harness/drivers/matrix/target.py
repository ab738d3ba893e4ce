"""The ``matrix`` driver's target: V2TIM calls translated to the Matrix client-server API (v3).

Users come from the homeserver's shared-secret registration (the admin key is that secret),
groups are rooms the owner creates and invites the members to (each joins with its own token),
one-to-one chats are direct rooms created on first use, ``needReadReceipt`` travels as a field
of the event content, receipts are ``m.read`` receipts, the conversation mark is the read marker
(``m.fully_read`` with ``m.read``), and the push is each user's ``/sync`` long-poll. Read counts,
``isPeerRead`` and member lists are derived as a Matrix client derives "read by"
(``rooms.RoomSnapshot``).

The driver remembers what it created, as a client keeps a local store: which room is whose
direct chat, and which room each event it sent or saw is in (Matrix names an event only
together with its room). It never checks a flag, a membership, a batch rule or who may see what:
the homeserver decides, and what it decides is what the scenario sees.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from seenby.harness.api.client import (
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
    Capabilities,
    Conversation,
    Group,
    Message,
    ReadFilter,
    ReadMemberPage,
    Receipt,
    ResultList,
    Settings,
)
from seenby.harness.api.target import Target, unique_id
from seenby.harness.drivers.capabilities import (
    ADMIN_SETTINGS,
    EVENT_REPLAY,
    RAW_WIRE,
    NotApplicable,
)
from seenby.harness.drivers.matrix.api import (
    CLIENT_API,
    MATRIX_ERROR_CODE,
    MatrixHttp,
    path,
    registration_mac,
)
from seenby.harness.drivers.matrix.rooms import (
    MESSAGE_TYPE,
    RoomSnapshot,
    elem_of,
    message_content,
)
from seenby.harness.drivers.matrix.sync import SyncStream
from seenby.harness.wire.deviations import DeviationLog
from seenby.harness.wire.push import PushStream
from seenby.harness.wire.transcript import Transcript
from seenby.harness.wire.transport import ApiError, ViolationLog, WireResponse

__all__ = ["MatrixAdmin", "MatrixTarget", "MatrixUser", "RoomDirectory"]

_HISTORY_LIMIT = 1000
"""How many timeline events a room snapshot asks for (scenario rooms hold far fewer)."""


class RoomDirectory:
    """What the driver created and saw: rooms by kind, direct rooms by pair, events by room."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._direct: dict[frozenset[str], str] = {}
        self._kind: dict[str, str] = {}
        self._owner: dict[str, str] = {}
        self._event_room: dict[str, str] = {}
        self._users: dict[str, MatrixUser] = {}

    def add_user(self, user: MatrixUser) -> None:
        """Remember a user the admin created (its token acts for it in joins)."""
        with self._lock:
            self._users[user.user_id] = user

    def user(self, user_id: str) -> MatrixUser | None:
        """The client of a user the admin created."""
        with self._lock:
            return self._users.get(user_id)

    def direct_room(self, first: str, second: str) -> str | None:
        """The direct room of two users, if the driver made one."""
        with self._lock:
            return self._direct.get(frozenset((first, second)))

    def add_direct(self, first: str, second: str, room_id: str) -> None:
        """Remember the direct room of two users."""
        with self._lock:
            self._direct[frozenset((first, second))] = room_id
            self._kind[room_id] = "c2c"

    def add_group(self, room_id: str, owner: str) -> None:
        """Remember a room made for a group, and its owner (whose token administers it)."""
        with self._lock:
            self._kind[room_id] = "group"
            self._owner[room_id] = owner

    def kind(self, room_id: str) -> str:
        """``c2c`` for a direct room the driver made, else ``group``."""
        with self._lock:
            return self._kind.get(room_id, "group")

    def owner(self, room_id: str) -> str | None:
        """The owner of a group room."""
        with self._lock:
            return self._owner.get(room_id)

    def peer_in(self, room_id: str, user_id: str) -> str | None:
        """The other user of a direct room the driver made."""
        with self._lock:
            pairs = [pair for pair, room in self._direct.items() if room == room_id]
        others = [user for pair in pairs for user in pair if user != user_id]
        return others[0] if others else None

    def add_event(self, event_id: str, room_id: str) -> None:
        """Remember which room an event is in."""
        with self._lock:
            self._event_room[event_id] = room_id

    def room_of(self, event_id: str) -> str | None:
        """The room of an event the driver sent or saw."""
        with self._lock:
            return self._event_room.get(event_id)


class MatrixTarget(Target):
    """A Matrix homeserver at ``url``; ``admin_key`` is its registration shared secret."""

    driver_name = "matrix"

    def __init__(self, url: str, admin_key: str | None, *, timeout: float) -> None:
        self._url = url.rstrip("/")
        self._admin_key = admin_key
        self._timeout = timeout
        self._violation_log = ViolationLog()
        self._violation_log.transcript.add_secret(admin_key)
        self.http = MatrixHttp(self._url, self._violation_log, timeout=timeout)
        self.rooms = RoomDirectory()
        self._lock = threading.Lock()
        self._admin: MatrixAdmin | None = None
        self._on_close: list[Any] = []

    def stop_with_target(self, resource: Any) -> None:
        """Stop ``resource`` (anything with ``stop()``) when the target closes."""
        self._on_close.append(resource)

    @property
    def name(self) -> str:
        return f"Matrix homeserver {self._url}"

    @property
    def url(self) -> str:
        return self._url

    @property
    def admin_key(self) -> str | None:
        return self._admin_key

    @property
    def timeout(self) -> float:
        return self._timeout

    @property
    def restartable(self) -> bool:
        return False

    @property
    def capabilities(self) -> Capabilities:
        """The homeserver's name and version; no seenby features, the spec's default limits."""
        version = self.http.request(
            "GET", "/_synapse/admin/v1/server_version", actor="anonymous", method="capabilities"
        )
        return Capabilities.from_wire(
            {
                "protocol": "matrix-client-server/v3",
                "implementation": {
                    "name": "Synapse",
                    "version": str(version.get("server_version", "?")),
                },
                "features": [],
                "limits": {},
            }
        )

    @property
    def admin(self) -> MatrixAdmin:
        if self._admin_key is None:
            raise RuntimeError(
                f"no admin key for {self._url}: the matrix driver needs the homeserver's "
                "registration shared secret (--admin-key)"
            )
        with self._lock:
            if self._admin is None:
                self._admin = MatrixAdmin(self, self._admin_key)
            return self._admin

    @property
    def violations(self) -> list[AssertionError]:
        return self._violation_log.snapshot()

    @property
    def violation_log(self) -> ViolationLog:
        """The log the driver's streams record into."""
        return self._violation_log

    @property
    def deviation_log(self) -> DeviationLog:
        return self._violation_log.deviations

    @property
    def transcript(self) -> Transcript:
        return self._violation_log.transcript

    def users(
        self, *names: str, nick_name: str | None = None, face_url: str | None = None
    ) -> list[UserClient]:
        admin = self.admin
        return [
            admin.create_user(
                unique_id(name).lower(),
                nick_name=name if nick_name is None else nick_name,
                face_url=face_url,
            )
            for name in names
        ]

    def group(
        self,
        group_type: str,
        owner: UserRef,
        members: Iterable[UserRef] = (),
        *,
        name: str = "group",
    ) -> Group:
        return self.admin.create_group(group_type, owner, list(members))

    def restart(self) -> None:
        raise RuntimeError(f"{self._url} is a Matrix homeserver: the harness cannot restart it")

    def request_raw(
        self,
        http_method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> WireResponse:
        raise NotApplicable(RAW_WIRE, "MatrixTarget.request_raw")

    def close(self) -> None:
        with self._lock:
            admin, self._admin = self._admin, None
        if admin is not None:
            admin.close()
        self.http.close()
        for resource in self._on_close:
            resource.stop()


class MatrixAdmin(AdminClient):
    """Users by shared-secret registration; groups as rooms their owner administers."""

    def __init__(self, target: MatrixTarget, shared_secret: str) -> None:
        super().__init__(target.url)
        self._target = target
        self._secret = shared_secret

    def get_settings(self) -> Settings:
        raise NotApplicable(ADMIN_SETTINGS, "MatrixAdmin.get_settings")

    def set_settings(self, **changes: Any) -> Settings:
        raise NotApplicable(ADMIN_SETTINGS, "MatrixAdmin.set_settings")

    def create_user(
        self, user_id: str, nick_name: str | None = None, face_url: str | None = None
    ) -> UserClient:
        http = self._target.http
        nonce = http.request(
            "GET", "/_synapse/admin/v1/register", actor="admin", method="admin/createUser"
        )["nonce"]
        password = secrets.token_hex(16)
        self._target.transcript.add_secret(password)
        body: dict[str, Any] = {
            "nonce": nonce,
            "username": user_id,
            "password": password,
            "admin": False,
            "mac": registration_mac(self._secret, nonce, user_id, password, False),
        }
        if nick_name is not None:
            body["displayname"] = nick_name
        created = http.request(
            "POST", "/_synapse/admin/v1/register", body, actor="admin", method="admin/createUser"
        )
        token = created["access_token"]
        self._target.transcript.add_secret(token)
        user = MatrixUser(created["user_id"], token, self._target)
        if face_url is not None:
            user.request(
                "PUT",
                path(CLIENT_API + "/profile/{}/avatar_url", user.user_id),
                {"avatar_url": face_url},
                method="admin/createUser",
            )
        self._created.append(user)
        self._target.rooms.add_user(user)
        return user

    def create_group(
        self,
        group_type: str,
        owner: UserRef,
        members: Iterable[UserRef],
        group_id: str | None = None,
    ) -> Group:
        """A private room the owner creates (Matrix picks its ID; ``group_id`` has no Matrix
        counterpart a client can choose), inviting the members, who each join."""
        owner_client = self._client(user_id_of(owner), "admin/createGroup")
        invited = list(
            dict.fromkeys(
                user_id_of(member)
                for member in members
                if user_id_of(member) != owner_client.user_id
            )
        )
        room = owner_client.request(
            "POST",
            CLIENT_API + "/createRoom",
            {"preset": "private_chat", "creation_content": {"groupType": group_type}},
            method="admin/createGroup",
        )
        room_id = room["room_id"]
        self._target.rooms.add_group(room_id, owner_client.user_id)
        # One invitation per call: a createRoom inviting hundreds takes longer than one time
        # budget on Synapse, where each invitation is a call of its own.
        self.add_group_members(room_id, invited)
        return Group.from_wire(
            {
                "groupID": room_id,
                "groupType": group_type,
                "ownerID": owner_client.user_id,
                "memberCount": 1 + len(invited),
            }
        )

    def add_group_members(self, group: GroupRef, users: Iterable[UserRef]) -> None:
        room_id = group_id_of(group)
        owner = self._owner(room_id, "admin/addGroupMembers")
        for user_id in dict.fromkeys(user_id_of(user) for user in users):
            owner.request(
                "POST",
                path(CLIENT_API + "/rooms/{}/invite", room_id),
                {"user_id": user_id},
                method="admin/addGroupMembers",
            )
            self._client(user_id, "admin/addGroupMembers").join(room_id, "admin/addGroupMembers")

    def remove_group_members(self, group: GroupRef, users: Iterable[UserRef]) -> None:
        room_id = group_id_of(group)
        owner = self._owner(room_id, "admin/removeGroupMembers")
        for user_id in dict.fromkeys(user_id_of(user) for user in users):
            owner.request(
                "POST",
                path(CLIENT_API + "/rooms/{}/kick", room_id),
                {"user_id": user_id},
                method="admin/removeGroupMembers",
            )

    def _owner(self, room_id: str, method: str) -> MatrixUser:
        owner = self._target.rooms.owner(room_id)
        if owner is None:
            raise ApiError(
                method,
                MATRIX_ERROR_CODE,
                f"room {room_id} was not created through this driver, so no owner's token "
                "can administer it",
                0,
                self._target.url,
            )
        return self._client(owner, method)

    def _client(self, user_id: str, method: str) -> MatrixUser:
        user = self._target.rooms.user(user_id)
        if user is None:
            raise ApiError(
                method,
                MATRIX_ERROR_CODE,
                f"{user_id} was not registered through this driver: Matrix lets no one act "
                "for a user without the user's own access token",
                0,
                self._target.url,
            )
        return user


class MatrixUser(UserClient):
    """One Matrix user acting with its access token."""

    def __init__(self, user_id: str, token: str, target: MatrixTarget) -> None:
        super().__init__(user_id, token, target=target.url, timeout=target.timeout)
        self._target = target
        self._rooms = target.rooms

    def request(
        self, http_method: str, url_path: str, body: Mapping[str, Any] | None = None, *, method: str
    ) -> Any:
        """One Matrix request with this user's token (``method``: the SDK call it serves)."""
        return self._target.http.request(
            http_method, url_path, body, token=self.token, actor=self.user_id, method=method
        )

    def remember(self, event_id: str, room_id: str) -> None:
        """Note which room an event arrived in (a client's local store)."""
        self._rooms.add_event(event_id, room_id)

    def room_kind(self, room_id: str) -> str:
        """``c2c`` for a direct room the driver made, else ``group``."""
        return self._rooms.kind(room_id)

    def join(self, room_id: str, method: str) -> None:
        """Join ``room_id`` (after an invitation)."""
        self.request("POST", path(CLIENT_API + "/join/{}", room_id), {}, method=method)

    def snapshot(self, room_id: str, method: str) -> RoomSnapshot:
        """The room's timeline, members and receipts as this user sees them."""
        data = self.request(
            "GET",
            path(CLIENT_API + "/rooms/{}/initialSync", room_id) + f"?limit={_HISTORY_LIMIT}",
            method=method,
        )
        snapshot = RoomSnapshot.from_initial_sync(room_id, data)
        for event in snapshot.events:
            self._rooms.add_event(event["event_id"], room_id)
        return snapshot

    def message_of(
        self, room_id: str, event: Mapping[str, Any], snapshot: RoomSnapshot | None
    ) -> Message:
        """The V2TIM message of a timeline event as this user sees it."""
        content = event.get("content", {})
        sender = event["sender"]
        wire: dict[str, Any] = {
            "msgID": event["event_id"],
            "sender": sender,
            "timestamp": int(event.get("origin_server_ts", 0)),
            "elem": elem_of(content),
            "needReadReceipt": content.get("needReadReceipt") is True,
            "onlineUserOnly": content.get("onlineUserOnly") is True,
            "isSelf": sender == self.user_id,
            "isPeerRead": False,
        }
        if self._rooms.kind(room_id) == "c2c":
            peers = (
                []
                if snapshot is None
                else [m.user_id for m in snapshot.recipients(event["event_id"])]
            )
            wire["receiver"] = peers[0] if peers else self._peer_in(room_id, sender)
            if snapshot is not None and sender == self.user_id and peers:
                wire["isPeerRead"] = snapshot.has_read(peers[0], event["event_id"])
        else:
            wire["groupID"] = room_id
        return Message.from_wire(wire)

    def _peer_in(self, room_id: str, sender: str) -> str:
        """The other user of a direct room (the one who is not ``sender``)."""
        return self._rooms.peer_in(room_id, sender) or self.user_id

    def _room_for(self, to: UserRef | None, group: GroupRef | None, method: str) -> str:
        if (to is None) == (group is None):
            raise TypeError("name exactly one conversation: a user (to=/user=) or a group (group=)")
        if group is not None:
            return group_id_of(group)
        assert to is not None
        return self._direct_room(user_id_of(to), method)

    def _direct_room(self, peer: str, method: str) -> str:
        known = self._rooms.direct_room(self.user_id, peer)
        if known is not None:
            return known
        room = self.request(
            "POST",
            CLIENT_API + "/createRoom",
            {"preset": "trusted_private_chat", "is_direct": True, "invite": [peer]},
            method=method,
        )
        room_id: str = room["room_id"]
        peer_client = self._rooms.user(peer)
        if peer_client is not None:  # the peer accepts, as its client would
            peer_client.join(room_id, method)
        self._rooms.add_direct(self.user_id, peer, room_id)
        return room_id

    def _room_of(self, msg_id: str, method: str) -> str:
        room_id = self._rooms.room_of(msg_id)
        if room_id is None:
            raise ApiError(
                method,
                MATRIX_ERROR_CODE,
                f"no room is known for event {msg_id}: Matrix names an event only with its "
                "room, and this driver neither sent nor saw it",
                0,
                self.target,
            )
        return room_id

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
        room_id = self._room_for(to, group, "sendMessage")
        sent = self.request(
            "PUT",
            path(CLIENT_API + "/rooms/{}/send/{}/{}", room_id, MESSAGE_TYPE, uuid.uuid4().hex),
            message_content(elem, need_read_receipt, online_user_only),
            method="sendMessage",
        )
        event_id = sent["event_id"]
        self._rooms.add_event(event_id, room_id)
        event = self.request(
            "GET", path(CLIENT_API + "/rooms/{}/event/{}", room_id, event_id), method="sendMessage"
        )
        return self.message_of(room_id, event, None)

    def get_history_message_list(
        self,
        *,
        user: UserRef | None = None,
        group: GroupRef | None = None,
        count: int = 20,
        last_msg: MessageRef | None = None,
    ) -> ResultList[Message]:
        room_id = self._room_for(user, group, "getHistoryMessageList")
        snapshot = self.snapshot(room_id, "getHistoryMessageList")
        newest_first = list(reversed(snapshot.messages()))
        if last_msg is not None:
            ids = [event["event_id"] for event in newest_first]
            last = msg_id_of(last_msg)
            newest_first = newest_first[ids.index(last) + 1 :] if last in ids else []
        return ResultList(
            self.message_of(room_id, event, snapshot) for event in newest_first[:count]
        )

    def get_conversation_list(self) -> ResultList[Conversation]:
        """Joined rooms, latest activity first, each with Matrix's notification count."""
        data = self.request(
            "GET",
            CLIENT_API
            + "/sync?timeout=0&filter="
            + path(
                "{}",
                '{"room":{"timeline":{"limit":1},"state":{"types":[]},'
                '"ephemeral":{"types":[]}},"presence":{"types":[]}}',
            ),
            method="getConversationList",
        )
        rows: list[tuple[int, dict[str, Any]]] = []
        for room_id, room in data.get("rooms", {}).get("join", {}).items():
            events = room.get("timeline", {}).get("events", [])
            latest = int(events[-1].get("origin_server_ts", 0)) if events else 0
            unread = int(room.get("unread_notifications", {}).get("notification_count", 0))
            if self._rooms.kind(room_id) == "c2c":
                peer = self._peer_in(room_id, self.user_id)
                wire = {
                    "conversationID": f"c2c_{peer}",
                    "type": 1,
                    "userID": peer,
                    "unreadCount": unread,
                }
            else:
                wire = {
                    "conversationID": f"group_{room_id}",
                    "type": 2,
                    "groupID": room_id,
                    "unreadCount": unread,
                }
            rows.append((latest, wire))
        rows.sort(key=lambda row: row[0], reverse=True)
        return ResultList(Conversation.from_wire(wire) for _, wire in rows)

    # -- receipts ---------------------------------------------------------------------------

    def send_message_read_receipts(self, messages: Iterable[MessageRef]) -> None:
        """One ``m.read`` per message, in the order given (Matrix has no batch receipt)."""
        for message in messages:
            msg_id = msg_id_of(message)
            room_id = self._room_of(msg_id, "sendMessageReadReceipts")
            self.request(
                "POST",
                path(CLIENT_API + "/rooms/{}/receipt/m.read/{}", room_id, msg_id),
                {},
                method="sendMessageReadReceipts",
            )

    def get_message_read_receipts(self, messages: Iterable[MessageRef]) -> ResultList[Receipt]:
        receipts: ResultList[Receipt] = ResultList()
        snapshots: dict[str, RoomSnapshot] = {}
        for message in messages:
            msg_id = msg_id_of(message)
            room_id = self._room_of(msg_id, "getMessageReadReceipts")
            if room_id not in snapshots:
                snapshots[room_id] = self.snapshot(room_id, "getMessageReadReceipts")
            receipts.append(receipt_of(snapshots[room_id], msg_id, self._rooms.kind(room_id)))
        return receipts

    def get_group_message_read_member_list(
        self,
        message: MessageRef,
        filter: ReadFilter | int,
        next_seq: int = 0,
        count: int = 100,
    ) -> ReadMemberPage:
        """The recipients who have (or have not) read it, by user ID; ``nextSeq`` is a position
        in that order."""
        msg_id = msg_id_of(message)
        room_id = self._room_of(msg_id, "getGroupMessageReadMemberList")
        snapshot = self.snapshot(room_id, "getGroupMessageReadMemberList")
        readers = {member.user_id for member in snapshot.readers(msg_id)}
        wanted = [
            member
            for member in snapshot.recipients(msg_id)
            if (member.user_id in readers) == (int(filter) == ReadFilter.READ)
        ]
        page = wanted[next_seq : next_seq + count]
        end = next_seq + len(page)
        return ReadMemberPage.from_wire(
            {
                "memberInfoList": [member.to_wire() for member in page],
                "nextSeq": end,
                "isFinished": end >= len(wanted),
            }
        )

    def mark_c2c_message_as_read(self, user: UserRef) -> None:
        """The read marker on the room's latest event: ``m.fully_read`` with ``m.read``."""
        room_id = self._direct_room(user_id_of(user), "markC2CMessageAsRead")
        snapshot = self.snapshot(room_id, "markC2CMessageAsRead")
        if not snapshot.events:
            return
        latest = snapshot.events[-1]["event_id"]
        self.request(
            "POST",
            path(CLIENT_API + "/rooms/{}/read_markers", room_id),
            {"m.fully_read": latest, "m.read": latest},
            method="markC2CMessageAsRead",
        )

    # -- push ------------------------------------------------------------------------------

    def _open_stream(self, since: int | None) -> PushStream:
        if since is not None:
            raise NotApplicable(EVENT_REPLAY, "MatrixUser.connect(since=...)")
        return SyncStream(self, self._target.violation_log)


def receipt_of(snapshot: RoomSnapshot, msg_id: str, kind: str) -> Receipt:
    """The V2TIM receipt of one message, derived from the room's receipts."""
    if kind == "c2c":
        recipients = snapshot.recipients(msg_id)
        peer = recipients[0].user_id if recipients else ""
        read = bool(peer) and snapshot.has_read(peer, msg_id)
        return Receipt.from_wire(
            {
                "msgID": msg_id,
                "userID": peer,
                "isPeerRead": read,
                "timestamp": snapshot.read_at(peer) if read else 0,
            }
        )
    readers = len(snapshot.readers(msg_id))
    return Receipt.from_wire(
        {
            "msgID": msg_id,
            "groupID": snapshot.room_id,
            "readCount": readers,
            "unreadCount": len(snapshot.recipients(msg_id)) - readers,
        }
    )
