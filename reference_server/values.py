"""Values shared by the reference server's layers: settings, records and payloads.

Nothing here has behaviour beyond building values and turning them into the JSON shapes named
in docs/protocol.md (``to_json``); the rules that combine them live in ``domain.py``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Literal, TypeAlias

from seenby.contract import vocabulary
from seenby.contract.vocabulary import Code, c2c_conversation_id, group_conversation_id

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = dict[str, JsonValue]

PROTOCOL = vocabulary.PROTOCOL
IMPLEMENTATION_NAME = "seenby-reference"
IMPLEMENTATION_VERSION = "0.1.0"
FEATURES = ("adminSettings", "onlineUserOnly", "eventReplay")

GROUP_TYPES = ("Work", "Public", "Meeting", "Community", "AVChatRoom")
RECEIPT_CAPABLE_GROUP_TYPES = frozenset({"Work", "Public", "Meeting"})
EDITIONS = ("standard", "ultimate")
EDITION_WITH_RECEIPTS = "ultimate"

MEMBER_LIST_COUNT_MAX = vocabulary.MEMBER_LIST_COUNT_MAX.value
HISTORY_COUNT_MAX = vocabulary.HISTORY_COUNT_MAX.value
GROUP_RECEIPT_MAX_MEMBERS_CEILING = vocabulary.GROUP_RECEIPT_MAX_MEMBERS_CEILING.value
RECEIPT_BATCH_MAX_CEILING = vocabulary.RECEIPT_BATCH_MAX_CEILING.value
ADMIN_ID_LIST_MAX = vocabulary.ADMIN_ID_LIST_MAX.value
ID_MAX_CHARS = vocabulary.ID_MAX_CHARS.value
NICK_NAME_MAX_CHARS = vocabulary.NICK_NAME_MAX_CHARS.value
FACE_URL_MAX_CHARS = vocabulary.FACE_URL_MAX_CHARS.value
ELEM_TEXT_MAX_BYTES = vocabulary.ELEM_TEXT_MAX_BYTES.value
ELEM_DESC_MAX_CHARS = vocabulary.ELEM_DESC_MAX_CHARS.value
REPLAY_RETAINED_EVENTS = vocabulary.REPLAY_RETAINED_EVENTS.value


class ReceiptError(Exception):
    """A call that is refused: the envelope ``code`` and a ``desc`` a person can act on.

    Raised anywhere below the HTTP layer; the HTTP layer turns it into an envelope in one place.
    A refused call changes nothing.
    """

    def __init__(self, code: Code, desc: str) -> None:
        super().__init__(f"{int(code)}: {desc}")
        self.code = code
        self.desc = desc


def now_ms() -> int:
    """Wall-clock time in integer milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a C0 control character or DEL (the schemas' definition)."""
    return _CONTROL_CHARACTER.search(text) is not None  # a regex: a scan in C, per request


@dataclass(frozen=True)
class Settings:
    """The deployment-wide application settings (``settings.json``)."""

    edition: str = "ultimate"
    group_receipt_types: tuple[str, ...] = ("Work", "Public", "Meeting")
    group_receipt_max_members: int = vocabulary.GROUP_RECEIPT_MAX_MEMBERS.value
    receipt_batch_max: int = vocabulary.RECEIPT_BATCH_MAX.value

    @property
    def has_receipts(self) -> bool:
        """Whether the edition includes read receipts [A-1]."""
        return self.edition == EDITION_WITH_RECEIPTS

    def to_json(self) -> JsonObject:
        """The ``settings.json`` shape."""
        return {
            "edition": self.edition,
            "groupReceiptTypes": list(self.group_receipt_types),
            "groupReceiptMaxMembers": self.group_receipt_max_members,
            "receiptBatchMax": self.receipt_batch_max,
        }


@dataclass(frozen=True)
class Capabilities:
    """What ``GET /v1/capabilities`` answers: fixed features, limits following the settings."""

    settings: Settings

    def to_json(self) -> JsonObject:
        """The ``capabilities.json`` shape."""
        return {
            "protocol": PROTOCOL,
            "implementation": {"name": IMPLEMENTATION_NAME, "version": IMPLEMENTATION_VERSION},
            "features": list(FEATURES),
            "limits": {
                "receiptBatchMax": self.settings.receipt_batch_max,
                "memberListCountMax": MEMBER_LIST_COUNT_MAX,
                "groupReceiptMaxMembers": self.settings.group_receipt_max_members,
            },
        }


@dataclass(frozen=True)
class SettingsChange:
    """The fields an ``admin/setSettings`` call names; ``None`` leaves a field as it is."""

    edition: str | None = None
    group_receipt_types: tuple[str, ...] | None = None
    group_receipt_max_members: int | None = None
    receipt_batch_max: int | None = None


@dataclass(frozen=True)
class Profile:
    """A user and the profile fields it has (``None`` when never set)."""

    user_id: str
    nick_name: str | None = None
    face_url: str | None = None

    def to_json(self) -> JsonObject:
        """A ``memberInfo`` entry of ``read-member-list.json`` [L-5]."""
        info: JsonObject = {"userID": self.user_id}
        if self.nick_name is not None:
            info["nickName"] = self.nick_name
        if self.face_url is not None:
            info["faceURL"] = self.face_url
        return info


@dataclass(frozen=True)
class NewUser:
    """The answer of ``admin/createUser``; the token is shown once and stored only as a hash."""

    user_id: str
    token: str

    def to_json(self) -> JsonObject:
        """The ``user.json`` shape."""
        return {"userID": self.user_id, "token": self.token}


@dataclass(frozen=True)
class Group:
    """A group as ``admin/createGroup`` answers it (``group.json``)."""

    group_id: str
    group_type: str
    owner_id: str
    member_count: int

    @property
    def supports_receipts(self) -> bool:
        """Whether the type can ever carry receipts; Community and AVChatRoom never do [A-2]."""
        return self.group_type in RECEIPT_CAPABLE_GROUP_TYPES

    def to_json(self) -> JsonObject:
        """The ``group.json`` shape."""
        return {
            "groupID": self.group_id,
            "groupType": self.group_type,
            "ownerID": self.owner_id,
            "memberCount": self.member_count,
        }


@dataclass(frozen=True)
class TextElem:
    """A text element."""

    text: str

    def to_json(self) -> JsonObject:
        """The ``textElem`` shape."""
        return {"elemType": "text", "text": self.text}


@dataclass(frozen=True)
class CustomElem:
    """A custom element; ``desc`` and ``extension`` are ``None`` when not sent."""

    data: str
    desc: str | None = None
    extension: str | None = None

    def to_json(self) -> JsonObject:
        """The ``customElem`` shape, with the optional fields only when sent."""
        elem: JsonObject = {"elemType": "custom", "data": self.data}
        if self.desc is not None:
            elem["desc"] = self.desc
        if self.extension is not None:
            elem["extension"] = self.extension
        return elem


Elem: TypeAlias = TextElem | CustomElem


@dataclass(frozen=True)
class PeerChat:
    """A C2C conversation, named from the caller's side by the other user."""

    user_id: str


@dataclass(frozen=True)
class GroupChat:
    """A group conversation."""

    group_id: str


Chat: TypeAlias = PeerChat | GroupChat


def conversation_key(sender: str, receiver: str | None, group_id: str | None) -> str:
    """One key per conversation, the same from both sides of a C2C pair.

    IDs never hold control characters, so a tab cannot be part of one.
    """
    if group_id is not None:
        return f"group\t{group_id}"
    assert receiver is not None
    low, high = sorted((sender, receiver))
    return f"c2c\t{low}\t{high}"


@dataclass(frozen=True)
class NewMessage:
    """A message accepted by ``sendMessage``, before storage gives it a position."""

    msg_id: str
    sender: str
    receiver: str | None
    group_id: str | None
    timestamp: int
    elem: Elem
    need_read_receipt: bool
    online_user_only: bool
    recipient_count: int

    @property
    def conversation(self) -> str:
        """The conversation key (see :func:`conversation_key`)."""
        return conversation_key(self.sender, self.receiver, self.group_id)


@dataclass(frozen=True)
class Message:
    """A stored message: ``pos`` is its place in server order; counts are stored, not recounted.

    ``recipient_count`` and ``read_count`` are 0 for a message sent without needReadReceipt.
    """

    pos: int
    msg_id: str
    sender: str
    receiver: str | None
    group_id: str | None
    timestamp: int
    elem: Elem
    need_read_receipt: bool
    online_user_only: bool
    recipient_count: int
    read_count: int

    @property
    def conversation(self) -> str:
        """The conversation key (see :func:`conversation_key`)."""
        return conversation_key(self.sender, self.receiver, self.group_id)


@dataclass(frozen=True)
class MessageView:
    """A message as one viewer sees it: ``is_self`` when the viewer sent it; ``peer_read`` when
    it is the viewer's own C2C message and the peer's conversation read mark covers it [C-2].
    """

    message: Message
    is_self: bool
    peer_read: bool = False

    def to_json(self) -> JsonObject:
        """The ``message.json`` shape."""
        message = self.message
        view: JsonObject = {"msgID": message.msg_id, "sender": message.sender}
        if message.group_id is not None:
            view["groupID"] = message.group_id
        else:
            view["receiver"] = message.receiver
        view.update(
            timestamp=message.timestamp,
            elem=message.elem.to_json(),
            needReadReceipt=message.need_read_receipt,
            onlineUserOnly=message.online_user_only,
            isSelf=self.is_self,
            isPeerRead=self.peer_read,
        )
        return view


@dataclass(frozen=True)
class GroupReceipt:
    """Counts of one group message [Q-2, P-2]."""

    msg_id: str
    group_id: str
    read_count: int
    unread_count: int

    def to_json(self) -> JsonObject:
        """The ``groupReceipt`` shape."""
        return {
            "msgID": self.msg_id,
            "groupID": self.group_id,
            "readCount": self.read_count,
            "unreadCount": self.unread_count,
        }


@dataclass(frozen=True)
class C2CReceipt:
    """The receiver's receipt state for one C2C message; ``timestamp`` 0 while unread."""

    msg_id: str
    user_id: str
    is_peer_read: bool
    timestamp: int

    def to_json(self) -> JsonObject:
        """The ``c2cReceipt`` shape."""
        return {
            "msgID": self.msg_id,
            "userID": self.user_id,
            "isPeerRead": self.is_peer_read,
            "timestamp": self.timestamp,
        }


Receipt: TypeAlias = GroupReceipt | C2CReceipt


@dataclass(frozen=True)
class ConversationMark:
    """A user's C2C conversation read mark, as its peer is told [C-1]."""

    user_id: str
    timestamp: int

    def to_json(self) -> JsonObject:
        """The ``conversationMark`` shape."""
        return {
            "msgID": "",
            "userID": self.user_id,
            "isPeerRead": True,
            "timestamp": self.timestamp,
        }


MemberFilter: TypeAlias = Literal[0, 1]
READ: MemberFilter = 0
UNREAD: MemberFilter = 1


@dataclass(frozen=True)
class MemberPage:
    """One page of a read or unread member list [L-1]."""

    members: tuple[Profile, ...]
    next_seq: int
    is_finished: bool

    def to_json(self) -> JsonObject:
        """The ``read-member-list.json`` shape."""
        return {
            "memberInfoList": [member.to_json() for member in self.members],
            "nextSeq": self.next_seq,
            "isFinished": self.is_finished,
        }


@dataclass(frozen=True)
class Conversation:
    """One entry of a user's conversation list."""

    chat: Chat
    unread_count: int

    def to_json(self) -> JsonObject:
        """The ``c2cConversation`` / ``groupConversation`` shape."""
        if isinstance(self.chat, PeerChat):
            return {
                "conversationID": c2c_conversation_id(self.chat.user_id),
                "type": 1,
                "userID": self.chat.user_id,
                "unreadCount": self.unread_count,
            }
        return {
            "conversationID": group_conversation_id(self.chat.group_id),
            "type": 2,
            "groupID": self.chat.group_id,
            "unreadCount": self.unread_count,
        }


@dataclass(frozen=True)
class ReadMark:
    """Where a user's C2C conversation read mark stands: a server-order position and a time."""

    pos: int
    timestamp: int


@dataclass(frozen=True)
class Event:
    """One event of one user: ``seq`` rises by exactly one per event of that user."""

    user_id: str
    seq: int
    name: str
    data: JsonValue

    def to_json(self) -> JsonObject:
        """The ``event.json`` frame."""
        return {"event": self.name, "seq": self.seq, "data": self.data}


@dataclass(frozen=True)
class Replay:
    """What a push connection gets before live events: retained events after ``since``.

    ``gap`` is set when events after ``since`` were already discarded; it is then the first
    frame (``onReplayGap``) and ``events`` start at ``gap.seq + 1``.
    """

    events: tuple[Event, ...]
    gap: Event | None = None
    latest: int | None = None
    """The user's latest seq when the replay was read (when ``since`` was given): where a
    node that learns of other nodes' events from the database goes on from."""
