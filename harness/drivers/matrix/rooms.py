"""What a Matrix client derives from a room: its messages in order, and who has read what.

Matrix keeps only each user's *latest* receipt per room ("read up to here"): a member has read
an event when their latest ``m.read`` points at it or at a later event of the timeline. That is
how a Matrix client shows "read by", and all the driver derives: read counts and member lists
come from the room's receipts and membership as the homeserver returned them
(``GET /rooms/{id}/initialSync``), never from what the driver thinks should have happened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MESSAGE_TYPE", "Member", "RoomSnapshot", "elem_of", "message_content"]

MESSAGE_TYPE = "m.room.message"
CUSTOM_MSGTYPE = "org.seenby.custom"
"""The ``msgtype`` of a V2TIM custom message (Matrix has none of its own)."""


def message_content(
    elem: Mapping[str, Any], need_read_receipt: bool, online_user_only: bool
) -> dict[str, Any]:
    """The ``m.room.message`` content for a V2TIM elem: a readable ``body`` for Matrix clients,
    the elem as sent, and the two V2TIM flags as plain fields (Matrix acts on neither)."""
    text = elem.get("text") if elem.get("elemType") == "text" else elem.get("desc")
    return {
        "msgtype": "m.text" if elem.get("elemType") == "text" else CUSTOM_MSGTYPE,
        "body": text if isinstance(text, str) else str(elem.get("data", "")),
        "elem": dict(elem),
        "needReadReceipt": need_read_receipt,
        "onlineUserOnly": online_user_only,
    }


def elem_of(content: Mapping[str, Any]) -> dict[str, Any]:
    """The V2TIM elem of a message's content (a plain Matrix text message reads as a text elem)."""
    elem = content.get("elem")
    if isinstance(elem, dict):
        return dict(elem)
    return {"elemType": "text", "text": str(content.get("body", ""))}


@dataclass(frozen=True)
class Member:
    """A joined member with its profile as the room's state gives it."""

    user_id: str
    display_name: str | None
    avatar_url: str | None

    def to_wire(self) -> dict[str, str]:
        """The ``memberInfo`` of a member list."""
        wire = {"userID": self.user_id}
        if self.display_name:
            wire["nickName"] = self.display_name
        if self.avatar_url:
            wire["faceURL"] = self.avatar_url
        return wire


@dataclass(frozen=True)
class RoomSnapshot:
    """One ``initialSync`` of a room: its timeline in order, joined members, latest receipts."""

    room_id: str
    events: Sequence[Mapping[str, Any]]
    members: Sequence[Member]
    read_up_to: Mapping[str, tuple[str, int]]
    """User → (event ID of their latest ``m.read``, its ``ts``)."""

    @classmethod
    def from_initial_sync(cls, room_id: str, data: Mapping[str, Any]) -> RoomSnapshot:
        """Build from ``GET /rooms/{id}/initialSync``'s answer."""
        events = list(data.get("messages", {}).get("chunk", []))
        members = [
            Member(
                event["state_key"],
                event["content"].get("displayname"),
                event["content"].get("avatar_url"),
            )
            for event in data.get("state", [])
            if event.get("type") == "m.room.member"
            and event.get("content", {}).get("membership") == "join"
        ]
        read_up_to: dict[str, tuple[str, int]] = {}
        for receipt in data.get("receipts", []):
            for event_id, kinds in receipt.get("content", {}).items():
                for user_id, info in kinds.get("m.read", {}).items():
                    if isinstance(info, dict) and "thread_id" not in info:
                        read_up_to[user_id] = (event_id, int(info.get("ts", 0)))
        return cls(room_id, events, sorted(members, key=lambda m: m.user_id), read_up_to)

    def position(self, event_id: str) -> int | None:
        """Where ``event_id`` is in the timeline (None: not in what the server returned)."""
        for index, event in enumerate(self.events):
            if event.get("event_id") == event_id:
                return index
        return None

    def event(self, event_id: str) -> Mapping[str, Any] | None:
        """The timeline event ``event_id``, if the server returned it."""
        index = self.position(event_id)
        return None if index is None else self.events[index]

    def messages(self) -> list[Mapping[str, Any]]:
        """The room's messages, oldest first."""
        return [event for event in self.events if event.get("type") == MESSAGE_TYPE]

    def has_read(self, user_id: str, event_id: str) -> bool:
        """Whether ``user_id``'s latest ``m.read`` is at ``event_id`` or later."""
        target = self.position(event_id)
        latest = self.read_up_to.get(user_id)
        if target is None or latest is None:
            return False
        position = self.position(latest[0])
        return position is not None and position >= target

    def read_at(self, user_id: str) -> int:
        """The ``ts`` of ``user_id``'s latest ``m.read`` (0 if none)."""
        latest = self.read_up_to.get(user_id)
        return 0 if latest is None else latest[1]

    def recipients(self, event_id: str) -> list[Member]:
        """The joined members other than the event's sender, by user ID."""
        event = self.event(event_id)
        sender = None if event is None else event.get("sender")
        return [member for member in self.members if member.user_id != sender]

    def readers(self, event_id: str) -> list[Member]:
        """The recipients who have read ``event_id``."""
        return [m for m in self.recipients(event_id) if self.has_read(m.user_id, event_id)]
