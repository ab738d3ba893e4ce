"""The ``matrix`` driver's push: one user's ``/sync`` long-poll, translated into V2TIM events.

Theory of operation: ``SyncStream`` makes one sync with no ``since`` (history left out) to learn
where "now" is, then long-polls from there on a background thread. Each batch is translated, room
by room, receipts before messages (the fence logic of ``EventInbox.expect_none`` then never sees
a message sent after an action before that action's receipts): every ``m.receipt`` another user
sent becomes ``onRecvMessageReadReceipts`` (C2C shape in a direct room, group counts derived from
the room otherwise), every ``m.room.message`` from another user becomes ``onRecvNewMessage``.
Nothing the homeserver sent is dropped for being unwelcome: Matrix gives every member every
member's ``m.read``, and so the stream does. Only the user's own actions echoed back to it are
left out, as a V2TIM client reports others' receipts and messages, not its own. Events are
numbered 1, 2, ... in arrival order (Matrix has no per-user event sequence of its own).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seenby.contract.vocabulary import ON_RECV_MESSAGE_READ_RECEIPTS, ON_RECV_NEW_MESSAGE
from seenby.harness.drivers.matrix.api import CLIENT_API, path
from seenby.harness.drivers.matrix.rooms import MESSAGE_TYPE
from seenby.harness.wire.push import PushStream
from seenby.harness.wire.transport import ApiError, NoAnswer, ViolationLog

if TYPE_CHECKING:
    from seenby.harness.drivers.matrix.target import MatrixUser

__all__ = ["SyncStream"]

_POLL_MS = 1000
"""How long one long-poll waits: short, so that ``close`` is prompt."""
_INITIAL_FILTER = json.dumps(
    {
        "room": {"timeline": {"limit": 0}, "state": {"types": []}, "ephemeral": {"types": []}},
        "presence": {"types": []},
        "account_data": {"types": []},
    }
)
_LIVE_FILTER = json.dumps(
    {
        "room": {"state": {"types": []}, "account_data": {"types": []}},
        "presence": {"types": []},
        "account_data": {"types": []},
    }
)


class SyncStream(PushStream):
    """One ``/sync`` loop of one user, feeding the ``EventInbox`` it is."""

    def __init__(self, user: MatrixUser, violations: ViolationLog) -> None:
        super().__init__(
            owner=user.user_id, target=user.target, violations=violations, timeout=user.timeout
        )
        self._user = user
        self._seq = 0
        self._stopping = threading.Event()
        first = self._sync(None, _INITIAL_FILTER, timeout_ms=0)
        self._since: str = first["next_batch"]
        self._thread = threading.Thread(
            target=self._poll, name=f"seenby-matrix-sync-{user.user_id}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop polling (the current long-poll ends within a second)."""
        self._stopping.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(self.timeout)
        self.finish()

    def drop(self) -> None:
        """A sync loop has no connection to lose: stopping it is all a lost network does."""
        self.close()

    def _sync(self, since: str | None, filter_json: str, *, timeout_ms: int) -> Any:
        query = f"?timeout={timeout_ms}&filter={path('{}', filter_json)}"
        if since is not None:
            query += f"&since={path('{}', since)}"
        return self._user.request("GET", CLIENT_API + "/sync" + query, method="events")

    def _poll(self) -> None:
        try:
            while not self._stopping.is_set():
                batch = self._sync(self._since, _LIVE_FILTER, timeout_ms=_POLL_MS)
                self._since = batch["next_batch"]
                for room_id, room in batch.get("rooms", {}).get("join", {}).items():
                    self._translate(room_id, room)
        except (ApiError, NoAnswer) as error:
            if not self._stopping.is_set():
                self._fail(
                    AssertionError(f"/sync of {self.owner} stopped: {error}"), contract=False
                )
        finally:
            self.finish()

    def _translate(self, room_id: str, room: Mapping[str, Any]) -> None:
        kind = self._user.room_kind(room_id)
        for event in room.get("ephemeral", {}).get("events", []):
            if event.get("type") == "m.receipt":
                receipts = self._receipts(room_id, kind, event.get("content", {}))
                if receipts:
                    self._emit(ON_RECV_MESSAGE_READ_RECEIPTS, receipts)
        for event in room.get("timeline", {}).get("events", []):
            self._user.remember(event["event_id"], room_id)
            if event.get("type") == MESSAGE_TYPE and event.get("sender") != self.owner:
                message = self._user.message_of(room_id, event, None)
                self._emit(ON_RECV_NEW_MESSAGE, message.raw)

    def _receipts(
        self, room_id: str, kind: str, content: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """V2TIM receipts for every other user's ``m.read`` in one ``m.receipt`` event."""
        receipts: list[dict[str, Any]] = []
        snapshot = None
        for event_id, kinds in content.items():
            readers = {
                user_id: info
                for user_id, info in kinds.get("m.read", {}).items()
                if user_id != self.owner
            }
            if not readers:
                continue
            if kind == "c2c":
                receipts.extend(
                    {
                        "msgID": event_id,
                        "userID": user_id,
                        "isPeerRead": True,
                        "timestamp": int(info.get("ts", 0)) if isinstance(info, dict) else 0,
                    }
                    for user_id, info in readers.items()
                )
            else:
                if snapshot is None:
                    snapshot = self._user.snapshot(room_id, "events")
                read = len(snapshot.readers(event_id))
                receipts.append(
                    {
                        "msgID": event_id,
                        "groupID": room_id,
                        "readCount": read,
                        "unreadCount": len(snapshot.recipients(event_id)) - read,
                    }
                )
        return receipts

    def _emit(self, name: str, data: Any) -> None:
        self._seq += 1
        self.receive(json.dumps({"event": name, "seq": self._seq, "data": data}))
