"""Clients that misbehave on purpose: a WebSocket over a bare socket, and hand-made frames.

`RawWebSocket` does the opening handshake with wsproto's client state machine and then lets a
test stop reading, send bytes no library would send, and read what is left until the server
closes. `frame` builds single WebSocket frames with every bit under the caller's control.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from typing import Any
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from .wire import CALL_TIMEOUT_S


def address(base_url: str) -> tuple[str, int]:
    """``(host, port)`` of ``base_url``."""
    parts = urlsplit(base_url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
) -> bytes:
    """One WebSocket frame as a client would send it (masked unless told otherwise)."""
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if masked else 0
    if len(payload) < 126:
        head += bytes([mask_bit | len(payload)])
    elif len(payload) < 65_536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", len(payload))
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", len(payload))
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class RawWebSocket:
    """A push connection over a bare socket; nothing is read unless the test asks."""

    def __init__(self, base_url: str, token: str, *, receive_buffer: int | None = None) -> None:
        host, port = address(base_url)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            # Before connect, so the advertised window is small from the first segment on.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(CALL_TIMEOUT_S)
        self.sock.connect((host, port))
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.events: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self._text: list[str] = []
        request = Request(
            host=f"{host}:{port}",
            target="/v1/events",
            extra_headers=[(b"authorization", f"Bearer {token}".encode())],
        )
        self.sock.sendall(self.ws.send(request))
        accepted = False
        while not accepted:
            data = self.sock.recv(65_536)
            if not data:
                raise AssertionError("the server closed the connection during the handshake")
            self.ws.receive_data(data)
            for event in self.ws.events():
                if isinstance(event, RejectConnection):
                    raise AssertionError(f"upgrade refused with HTTP {event.status_code}")
                if isinstance(event, AcceptConnection):
                    accepted = True
                else:
                    self._handle(event)

    def send_raw(self, data: bytes) -> None:
        """Write ``data`` to the socket as it is."""
        self.sock.sendall(data)

    def read_until_closed(self, timeout: float = CALL_TIMEOUT_S) -> bool:
        """Read until the server ends the connection; False if it is still open at the deadline.

        Frames arriving meanwhile land in ``events``; a Close frame sets ``close_code``.
        """
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65_536)
            except TimeoutError:
                return False
            except OSError:
                return True  # reset: closed without the close handshake
            try:
                self.ws.receive_data(data or None)
                for event in self.ws.events():
                    self._handle(event)
            except RemoteProtocolError:
                return True  # framing the client cannot parse ends the connection too
            if not data:
                return True

    def read_events(self, count: int, timeout: float = CALL_TIMEOUT_S) -> None:
        """Read until ``count`` events have arrived; fail at the deadline."""
        deadline = time.monotonic() + timeout
        while len(self.events) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{len(self.events)} of {count} events arrived")
            self.sock.settimeout(remaining)
            data = self.sock.recv(65_536)
            self.ws.receive_data(data or None)
            for event in self.ws.events():
                self._handle(event)
            if not data:
                raise AssertionError(f"closed after {len(self.events)} of {count} events")

    def _handle(self, event: object) -> None:
        if isinstance(event, TextMessage):
            self._text.append(event.data)
            if event.message_finished:
                self.events.append(json.loads("".join(self._text)))
                self._text.clear()
        elif isinstance(event, Ping):
            self.sock.sendall(self.ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            if event.code == CloseReason.ABNORMAL_CLOSURE:
                return  # wsproto's word for "the TCP connection ended without a Close frame"
            self.close_code = event.code
            try:
                self.sock.sendall(self.ws.send(event.response()))
            except (OSError, LocalProtocolError):
                return  # the server may already be gone

    def close(self) -> None:
        """Close the socket without ceremony."""
        self.sock.close()
