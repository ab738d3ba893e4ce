"""Hostile servers: faulty variants that misbehave on the wire, each in one way.

A vendor points the suite at half-built servers, so the suite must reach a verdict whatever a
server does on the wire: every call and every wait is bounded by the time budget by the wall
clock, and no answer or push message is read past the size cap. Each variant here is the
reference server with one answer (or the push channel) made hostile: it trickles, never ends,
stalls after its headers, is 300 MB long, is not UTF-8 or is cut by a reset; or the push
channel accepts and then never speaks, or pushes a 17 MiB frame. They are registered into the
faulty gallery like the others, named after a behaviour whose scenarios meet the answer.
"""

from __future__ import annotations

import functools
import socket
import struct
import time
from collections.abc import Callable, Sequence
from typing import TypeVar
from urllib.parse import urlsplit

from seenby.contract.vocabulary import Code
from seenby.reference_server.domain import ON_RECV_MESSAGE_READ_RECEIPTS, Caller
from seenby.reference_server.http_api import RequestHandler
from seenby.reference_server.push import OpenStream, PushHub, UpgradeRequest, frame_text
from seenby.reference_server.values import Event, JsonValue, Replay

from .gallery import variant

__all__ = ["HOSTILE", "OVERSIZE_BODY_BYTES"]

HOSTILE: list[str] = []
"""The names of the hostile variants (in the faulty gallery as well)."""

OVERSIZE_BODY_BYTES = 300 * 1024 * 1024
"""The length of ``C1_conversation_list_of_300_MB``'s answer."""
_TRICKLE_SECONDS = 2.0
_NEVER_ENDS_CHUNK = b" " * 1024
_NEVER_ENDS_PAUSE_SECONDS = 0.05
_STALL_LIMIT_SECONDS = 600.0
_BIG_CHUNK = b"x" * (1024 * 1024)
_PUSH_PADDING_CHARACTERS = 17 * 1024 * 1024


Piece = TypeVar("Piece", bound=type)


def _hostile(name: str, *breaks: str) -> Callable[[Piece], Piece]:
    """Register the decorated piece as the faulty variant ``name`` (see ``gallery.variant``)."""
    HOSTILE.append(name)
    return variant(name, *breaks)


class _HostileAnswer(RequestHandler):
    """The reference handler, except that every answer to ``METHOD`` goes to ``_misbehave``
    with the head and body the reference would have sent."""

    METHOD = ""

    def _send_envelope(
        self,
        code: Code,
        desc: str,
        data: JsonValue,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        if urlsplit(self.path).path != f"/v1/{self.METHOD}":
            super()._send_envelope(code, desc, data, headers)
            return
        self.close_connection = True
        self._misbehave(self.status_of(code))

    def _head(self, status: int, *headers: str) -> None:
        lines = [f"HTTP/1.1 {status} {self.responses[status][0]}", *headers]
        lines.append("Content-Type: application/json; charset=utf-8")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.wfile.flush()

    def _misbehave(self, status: int) -> None:
        raise NotImplementedError


@_hostile("Q1_receipt_pull_trickles_a_byte_every_2_s", "Q-1", "Q-2", "Q-4", "E-1")
class PullTrickles(_HostileAnswer):
    """The answer to getMessageReadReceipts is sent a byte every 2 s: each read of the
    socket gets a byte well within any socket timeout, so only a wall-clock deadline ends it."""

    METHOD = "getMessageReadReceipts"

    def _misbehave(self, status: int) -> None:
        body = b'{"code":0,"desc":"ok","data":[]}'
        self._head(status, f"Content-Length: {len(body)}")
        for byte in body:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(_TRICKLE_SECONDS)


@_hostile("Q1_history_answer_never_ends", "Q-1", "E-1")
class HistoryNeverEnds(_HostileAnswer):
    """The answer to getHistoryMessageList is chunked and never ends: a kilobyte of
    whitespace every 50 ms, forever, too slowly to reach any size cap within a time budget."""

    METHOD = "getHistoryMessageList"

    def _misbehave(self, status: int) -> None:
        self._head(status, "Transfer-Encoding: chunked")
        self.wfile.write(b'a\r\n{"code":0,\r\n')
        while True:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(_NEVER_ENDS_CHUNK), _NEVER_ENDS_CHUNK))
            self.wfile.flush()
            time.sleep(_NEVER_ENDS_PAUSE_SECONDS)


@_hostile("L1_member_list_stalls_after_its_headers", "L-1", "L-3", "L-4", "E-1")
class MemberListStalls(_HostileAnswer):
    """The answer to getGroupMessageReadMemberList stops after its headers: the body it
    announces never comes, and the connection stays open."""

    METHOD = "getGroupMessageReadMemberList"

    def _misbehave(self, status: int) -> None:
        self._head(status, "Content-Length: 100")
        self.connection.settimeout(_STALL_LIMIT_SECONDS)
        while self.connection.recv(65_536):
            pass  # until the client gives up and closes


@_hostile("C1_conversation_list_of_300_MB", "C-1", "C-2", "E-1")
class ConversationListOf300MB(_HostileAnswer):
    """The answer to getConversationList is a 300 MB JSON envelope (its desc), chunked
    without a length, as a server that serialises a runaway list would send it."""

    METHOD = "getConversationList"

    def _misbehave(self, status: int) -> None:
        self._head(status, "Transfer-Encoding: chunked")
        opening = b'{"code":0,"desc":"'
        self.wfile.write(b"%x\r\n%s\r\n" % (len(opening), opening))
        for _ in range(OVERSIZE_BODY_BYTES // len(_BIG_CHUNK)):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(_BIG_CHUNK), _BIG_CHUNK))
        closing = b'","data":[]}'
        self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(closing), closing))


@_hostile("C1_mark_answer_is_not_utf8", "C-1", "C-2", "E-1", "V-1")
class MarkAnswerNotUtf8(_HostileAnswer):
    """The answer to markC2CMessageAsRead has a desc in Latin-1, not UTF-8 (a server that
    encodes its strings with the platform's charset)."""

    METHOD = "markC2CMessageAsRead"

    def _misbehave(self, status: int) -> None:
        body = '{"code":0,"desc":"marqué","data":null}'.encode("latin-1")
        self._head(status, f"Content-Length: {len(body)}")
        self.wfile.write(body)


@_hostile("Q1_receipt_pull_reset_midway", "Q-1", "Q-2", "Q-4", "E-1")
class PullResetMidway(_HostileAnswer):
    """The answer to getMessageReadReceipts is cut by a TCP reset halfway through its body
    (a worker that crashes while writing)."""

    METHOD = "getMessageReadReceipts"

    def _misbehave(self, status: int) -> None:
        body = b'{"code":0,"desc":"ok","data":[]}'
        self._head(status, f"Content-Length: {len(body)}")
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        # Linger 0: closing sends RST, not FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        raise OSError("connection reset on purpose")


_NEVER = 1e9


@_hostile("P1_push_channel_accepts_and_never_speaks", "P-1", "P-2", "P-3", "C-2")
class PushNeverSpeaks(PushHub):
    """The push channel accepts the upgrade and then sends nothing at all: no replay, no
    event, not even a ping (a broker that lost its subscription)."""

    def __init__(self, queue_size: int, ping_interval: float, idle_timeout: float) -> None:
        super().__init__(queue_size, _NEVER, idle_timeout)

    def serve(self, caller: Caller, upgrade: UpgradeRequest, open_stream: OpenStream) -> None:
        # The connection is never registered, so nothing is ever published to it.
        super().serve(caller, upgrade, lambda register: Replay(events=()))


@functools.cache
def _padding() -> str:
    """The field that ends every padded frame (made once, when first needed)."""
    return ',"padding":"' + "x" * _PUSH_PADDING_CHARACTERS + '"}'


@_hostile("P2_receipt_push_of_17_MiB", "P-2", "P-1", "P-3", "V-1")
class ReceiptPushOf17MiB(PushHub):
    """Every receipt push carries a 17 MiB padding field (a server that attaches a debug
    dump to its events)."""

    def publish(self, events: Sequence[Event]) -> None:
        with self._lock:
            for event in events:
                connections = self._by_user.get(event.user_id)
                if connections:
                    frame = frame_text(event)
                    if event.name == ON_RECV_MESSAGE_READ_RECEIPTS:
                        frame = frame[:-1] + _padding()
                    for connection in connections:
                        connection.offer(frame)
