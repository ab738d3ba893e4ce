"""Results of harness calls: small frozen dataclasses mirroring the SDK's V2Tim* types.

Each result is built from an already schema-validated wire dict, keeps it in ``raw``, prints
without it, and renders as an HTML table in Jupyter. Lists of results are ``ResultList``s: a
``list`` with ``to_records()`` (for ``pandas.DataFrame``) and a one-row-per-item HTML table.
"""

from __future__ import annotations

import dataclasses
import enum
import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from seenby.contract.vocabulary import (
    DEFAULT_LIMITS,
    ON_RECV_C2C_READ_RECEIPT,
    ON_RECV_MESSAGE_READ_RECEIPTS,
    ON_RECV_NEW_MESSAGE,
)
from seenby.harness.wire.deviations import Deviation

_RECEIPT_EVENTS = (ON_RECV_MESSAGE_READ_RECEIPTS, ON_RECV_C2C_READ_RECEIPT)

__all__ = [
    "Capabilities",
    "Conversation",
    "Event",
    "Group",
    "MemberInfo",
    "Message",
    "ReadFilter",
    "ReadMemberPage",
    "Receipt",
    "Record",
    "ResultList",
    "Settings",
]

WireDict = Mapping[str, Any]


class ReadFilter(enum.IntEnum):
    """Which members ``getGroupMessageReadMemberList`` lists (``V2TIM_GROUP_MESSAGE_READ_*``)."""

    READ = 0
    UNREAD = 1


class Record:
    """Mixin for result dataclasses: a plain-dict view and an HTML table for notebooks."""

    def to_record(self) -> dict[str, Any]:
        """The result's fields (without ``raw``) as a flat dict, e.g. for a DataFrame row."""
        assert dataclasses.is_dataclass(self)
        return {
            item.name: _plain(getattr(self, item.name))
            for item in dataclasses.fields(self)
            if item.name != "raw"
        }

    def _repr_html_(self) -> str:
        return _html_table([self.to_record()])


RecordT = TypeVar("RecordT", bound=Record)


class ResultList(list[RecordT]):
    """A list of results that tabulates: ``to_records()`` and one HTML table row per item."""

    def to_records(self) -> list[dict[str, Any]]:
        """Every item's ``to_record()``, ready for ``pandas.DataFrame(rows.to_records())``."""
        return [item.to_record() for item in self]

    def _repr_html_(self) -> str:
        return _html_table(self.to_records())


@dataclass(frozen=True)
class Message(Record):
    """``V2TimMessage`` as one viewer sees it: C2C messages have ``receiver``, group ones
    ``group_id``."""

    msg_id: str
    sender: str
    receiver: str | None
    group_id: str | None
    timestamp: int
    elem: dict[str, Any]
    need_read_receipt: bool
    online_user_only: bool
    is_self: bool
    is_peer_read: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, wire: WireDict) -> Message:
        """Build from a ``message.json`` dict."""
        return cls(
            msg_id=wire["msgID"],
            sender=wire["sender"],
            receiver=wire.get("receiver"),
            group_id=wire.get("groupID"),
            timestamp=wire["timestamp"],
            elem=dict(wire["elem"]),
            need_read_receipt=wire["needReadReceipt"],
            online_user_only=wire["onlineUserOnly"],
            is_self=wire["isSelf"],
            is_peer_read=wire["isPeerRead"],
            raw=dict(wire),
        )


@dataclass(frozen=True)
class Receipt(Record):
    """``V2TimMessageReceipt``. Group shape: ``group_id``, ``read_count``, ``unread_count``.
    C2C shape: ``user_id`` (the peer), ``is_peer_read``, ``timestamp``. A conversation read
    mark is the C2C shape with an empty ``msg_id``. Fields of the other shape are ``None``."""

    msg_id: str
    group_id: str | None
    read_count: int | None
    unread_count: int | None
    user_id: str | None
    is_peer_read: bool | None
    timestamp: int | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, wire: WireDict) -> Receipt:
        """Build from a ``receipt.json`` dict (any of its three shapes)."""
        return cls(
            msg_id=wire["msgID"],
            group_id=wire.get("groupID"),
            read_count=wire.get("readCount"),
            unread_count=wire.get("unreadCount"),
            user_id=wire.get("userID"),
            is_peer_read=wire.get("isPeerRead"),
            timestamp=wire.get("timestamp"),
            raw=dict(wire),
        )

    @property
    def is_conversation_mark(self) -> bool:
        """A C2C conversation read mark (``onRecvC2CReadReceipt``), not a message receipt."""
        return self.msg_id == ""


@dataclass(frozen=True)
class MemberInfo(Record):
    """One entry of a read / unread member list; profile fields when the user has them."""

    user_id: str
    nick_name: str | None
    face_url: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, wire: WireDict) -> MemberInfo:
        """Build from a ``read-member-list.json#/$defs/memberInfo`` dict."""
        return cls(
            user_id=wire["userID"],
            nick_name=wire.get("nickName"),
            face_url=wire.get("faceURL"),
            raw=dict(wire),
        )


@dataclass(frozen=True)
class ReadMemberPage(Record):
    """``V2TimGroupMessageReadMemberList``: one page and the cursor for the next."""

    members: ResultList[MemberInfo]
    next_seq: int
    is_finished: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, wire: WireDict) -> ReadMemberPage:
        """Build from a ``read-member-list.json`` dict."""
        return cls(
            members=ResultList(MemberInfo.from_wire(item) for item in wire["memberInfoList"]),
            next_seq=wire["nextSeq"],
            is_finished=wire["isFinished"],
            raw=dict(wire),
        )

    def _repr_html_(self) -> str:
        caption = f"nextSeq {self.next_seq}, isFinished {self.is_finished}"
        return f"<p>{html.escape(caption)}</p>" + self.members._repr_html_()


@dataclass(frozen=True)
class Conversation(Record):
    """An entry of ``getConversationList``: ``type`` 1 is C2C (``user_id``), 2 is group."""

    conversation_id: str
    type: int
    user_id: str | None
    group_id: str | None
    unread_count: int
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, wire: WireDict) -> Conversation:
        """Build from a ``conversation-list.json`` item."""
        return cls(
            conversation_id=wire["conversationID"],
            type=wire["type"],
            user_id=wire.get("userID"),
            group_id=wire.get("groupID"),
            unread_count=wire["unreadCount"],
            raw=dict(wire),
        )


@dataclass(frozen=True)
class Settings(Record):
    """The deployment's application settings (``settings.json``)."""

    edition: str
    group_receipt_types: tuple[str, ...]
    group_receipt_max_members: int
    receipt_batch_max: int
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, wire: WireDict) -> Settings:
        """Build from a ``settings.json`` dict."""
        return cls(
            edition=wire["edition"],
            group_receipt_types=tuple(wire["groupReceiptTypes"]),
            group_receipt_max_members=wire["groupReceiptMaxMembers"],
            receipt_batch_max=wire["receiptBatchMax"],
            raw=dict(wire),
        )


@dataclass(frozen=True)
class Group(Record):
    """A group as ``admin/createGroup`` answered it."""

    group_id: str
    group_type: str
    owner_id: str
    member_count: int
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, wire: WireDict) -> Group:
        """Build from a ``group.json`` dict."""
        return cls(
            group_id=wire["groupID"],
            group_type=wire["groupType"],
            owner_id=wire["ownerID"],
            member_count=wire["memberCount"],
            raw=dict(wire),
        )


@dataclass(frozen=True)
class Capabilities(Record):
    """``GET /v1/capabilities``: protocol, implementation, optional features, current limits.

    Read tolerantly, so that one bad field cannot stop a run: a missing or malformed limit takes
    the spec's default (``seenby.contract.vocabulary.DEFAULT_LIMITS``), missing features are absent,
    and what was wrong is kept in ``problems`` (core violations, one sentence each) and
    ``deviations`` (strict ones), for the discovery scenario and the top of the report.
    """

    protocol: str
    implementation: dict[str, str]
    features: frozenset[str]
    limits: dict[str, int]
    raw: dict[str, Any] = field(repr=False, compare=False)
    problems: tuple[str, ...] = field(default=(), compare=False)
    deviations: tuple[Deviation, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def from_wire(
        cls,
        wire: WireDict,
        *,
        problems: tuple[str, ...] = (),
        deviations: tuple[Deviation, ...] = (),
    ) -> Capabilities:
        """Build from a ``capabilities.json`` dict, filling what is missing or malformed."""
        implementation = wire.get("implementation")
        features = wire.get("features")
        limits = wire.get("limits")
        announced = limits if isinstance(limits, dict) else {}
        return cls(
            protocol=str(wire.get("protocol", "")),
            implementation=dict(implementation) if isinstance(implementation, dict) else {},
            features=frozenset(feature for feature in features if isinstance(feature, str))
            if isinstance(features, list)
            else frozenset(),
            limits={
                name: announced[name]
                if type(announced.get(name)) is int and announced[name] >= 1
                else default
                for name, default in DEFAULT_LIMITS.items()
            },
            raw=dict(wire),
            problems=problems,
            deviations=deviations,
        )

    def has(self, feature: str) -> bool:
        """Whether the target advertises ``feature`` (``adminSettings``, ``eventReplay``, ...)."""
        return feature in self.features


@dataclass(frozen=True)
class Event(Record):
    """One push frame: ``name`` (``onRecvNewMessage``, ...), the user's ``seq``, raw ``data``."""

    name: str
    seq: int
    data: Any
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, wire: WireDict) -> Event:
        """Build from an ``event.json`` frame."""
        return cls(name=wire["event"], seq=wire["seq"], data=wire["data"], raw=dict(wire))

    @property
    def message(self) -> Message | None:
        """The message of an ``onRecvNewMessage`` event; ``None`` for other events."""
        if self.name != ON_RECV_NEW_MESSAGE:
            return None
        return Message.from_wire(self.data)

    @property
    def receipts(self) -> ResultList[Receipt]:
        """The receipts of a receipt event (empty for other events)."""
        if self.name not in _RECEIPT_EVENTS:
            return ResultList()
        return ResultList(Receipt.from_wire(item) for item in self.data)

    def summary(self) -> str:
        """A compact one-line description, for failure messages."""
        if self.name == ON_RECV_NEW_MESSAGE:
            data = self.data
            where = f"group {data.get('groupID')}" if "groupID" in data else "c2c"
            detail = f"{data.get('msgID')} from {data.get('sender')} ({where})"
        elif self.name in _RECEIPT_EVENTS:
            detail = ", ".join(_receipt_summary(item) for item in self.data)
        else:
            detail = ", ".join(f"{key}={value}" for key, value in self.data.items())
        return f"#{self.seq} {self.name} [{detail}]"


def _receipt_summary(wire: WireDict) -> str:
    if "groupID" in wire:
        return f"{wire['msgID']} read {wire['readCount']} unread {wire['unreadCount']}"
    subject = wire["msgID"] or "conversation mark"
    return f"{subject} by {wire['userID']} isPeerRead={wire['isPeerRead']}"


def _plain(value: object) -> object:
    """Values as a DataFrame cell wants them: sets and tuples become sorted/plain lists."""
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, ResultList):
        return value.to_records()
    return value


def _html_table(rows: Iterable[Mapping[str, object]]) -> str:
    rows = list(rows)
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    head = "".join(f"<th>{html.escape(name)}</th>" for name in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(_cell(row.get(name)))}</td>" for name in columns)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: object) -> str:
    return "" if value is None else str(value)
