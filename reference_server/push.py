"""The push channel: ``GET /v1/events`` upgraded to a WebSocket on the HTTP port, framed by wsproto.

The hub is the domain's ``EventSink`` and ``Presence``. Each connection has two threads: the
HTTP handler thread reads (answers pings, completes close handshakes, enforces the 64 KiB
incoming cap and the silent-peer timeout) and a writer thread sends the replay, then live
events from a bounded queue, and pings. ``publish`` only ever enqueues, so a slow client cannot
block a receipt call or other clients: when its queue is full it is closed with 1008 and may
reconnect with ``since``.

wsproto is not thread-safe, so every use of a connection's ``WSConnection`` and every write to
its socket happens under that connection's lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import AcceptConnection, CloseConnection, Message, Ping, Request, TextMessage
from wsproto.events import Event as WsEvent
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from seenby.contract import vocabulary
from seenby.contract.vocabulary import Code
from seenby.reference_server.domain import Caller
from seenby.reference_server.values import Event, ReceiptError, Replay

log = logging.getLogger("seenby.reference_server")

QUEUE_SIZE = vocabulary.PUSH_QUEUE_EVENTS.value
PING_INTERVAL = float(vocabulary.PING_INTERVAL_SECONDS.value)
IDLE_TIMEOUT = float(vocabulary.IDLE_SECONDS.value)
MAX_INCOMING_MESSAGE = vocabulary.PUSH_INCOMING_MAX_BYTES.value
_READ_CHUNK = 65_536
# Kernel buffering per connection is bounded too, so the queue bound means what it says.
_SEND_BUFFER_BYTES = 256 * 1024

CLOSE_GOING_AWAY = 1001
CLOSE_POLICY_VIOLATION = 1008
CLOSE_MESSAGE_TOO_BIG = 1009


class BufferedInput(Protocol):
    """A buffered byte stream (the HTTP handler's input); ``read1`` returns what is there."""

    def read1(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes with at most one read from the socket; ``b""`` at EOF."""
        ...


@dataclass(frozen=True)
class UpgradeRequest:
    """An HTTP request that asks for ``/v1/events``, as the HTTP layer parsed it.

    ``head`` is the request line and headers re-serialised with CRLF line endings; ``rfile``
    is the handler's buffered reader, which may already hold the first WebSocket bytes.
    """

    sock: socket.socket
    rfile: BufferedInput
    head: bytes


OpenStream = Callable[[Callable[[], None]], Replay]
"""Reads the replay and calls the given ``register`` under the publishing lock."""


def frame_text(event: Event) -> str:
    """The JSON text frame of one event (``event.json``)."""
    return json.dumps(event.to_json(), ensure_ascii=False, separators=(",", ":"))


class PushConnection:
    """One upgraded connection of one user."""

    def __init__(
        self,
        user_id: str,
        upgrade: UpgradeRequest,
        ws: WSConnection,
        queue_size: int,
        ping_interval: float,
    ) -> None:
        self.user_id = user_id
        self._sock = upgrade.sock
        self._rfile = upgrade.rfile
        self._ws = ws
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=queue_size)
        self._ping_interval = ping_interval
        self._lock = threading.Lock()
        # close() runs inside publish, so it must never wait for a writer stuck on a slow peer.
        self._close_lock = threading.Lock()
        self._closing = threading.Event()
        self._close_code: int | None = None
        self._close_reason = ""
        self.finished = threading.Event()

    def offer(self, frame: str) -> None:
        """Enqueue a live frame without blocking; a full queue closes the connection (1008)."""
        if self._closing.is_set():
            return
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            self.close(CLOSE_POLICY_VIOLATION, "outgoing queue full; reconnect with since")

    def close(self, code: int, reason: str) -> None:
        """Start a server-initiated close: the writer sends Close(code) after its current frame."""
        with self._close_lock:
            if self._closing.is_set():
                return
            self._close_code, self._close_reason = code, reason
            self._closing.set()
        self._wake_writer()

    def abort(self) -> None:
        """Cut the TCP connection at once (a peer that does not answer, or shutdown)."""
        self._closing.set()
        self._wake_writer()
        with contextlib.suppress(OSError):  # already gone
            self._sock.shutdown(socket.SHUT_RDWR)

    def _wake_writer(self) -> None:
        # A full queue means the writer is busy; it checks the flag before its next frame.
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)

    def accept(self) -> None:
        """Send the 101 answer."""
        self._send(AcceptConnection())

    def _send(self, event: WsEvent) -> None:
        with self._lock:
            if _may_send(self._ws.state, event):
                self._sock.sendall(self._ws.send(event))

    def write_loop(self, replay: Replay) -> None:
        """The writer thread: replay first, then live frames and periodic pings, then Close."""
        try:
            if replay.gap is not None:
                self._send(TextMessage(frame_text(replay.gap)))
            for event in replay.events:
                if self._closing.is_set():
                    break
                self._send(TextMessage(frame_text(event)))
            next_ping = time.monotonic() + self._ping_interval
            while not self._closing.is_set():
                try:
                    frame = self._queue.get(timeout=max(0.0, next_ping - time.monotonic()))
                except queue.Empty:
                    frame = None
                if self._closing.is_set():
                    break
                if frame is not None:
                    self._send(TextMessage(frame))
                if time.monotonic() >= next_ping:
                    self._send(Ping())
                    next_ping = time.monotonic() + self._ping_interval
            if self._close_code is not None:
                self._send(CloseConnection(self._close_code, self._close_reason))
        except OSError:
            self.abort()  # the peer is gone or stuck past the socket timeout
        except Exception:
            log.exception("push writer for %s failed", self.user_id)
            self.abort()

    def read_loop(self) -> None:
        """The reader (handler thread): until the close handshake ends or the peer goes away.

        A peer silent for the socket timeout (60 s; it is pinged every 20 s) is dropped.
        """
        message_bytes = 0
        too_big = False
        while True:
            try:
                data = self._rfile.read1(_READ_CHUNK)
            except OSError:
                return  # timed out (silent peer) or reset
            with self._lock:
                try:
                    self._ws.receive_data(data or None)
                except (LocalProtocolError, RemoteProtocolError):
                    return
                replies: list[WsEvent] = []
                done = not data
                for event in self._ws.events():
                    if isinstance(event, Ping):
                        replies.append(event.response())  # wsproto does not pong by itself
                    elif isinstance(event, CloseConnection):
                        if self._ws.state is ConnectionState.REMOTE_CLOSING:
                            replies.append(event.response())
                        elif self._ws.state is ConnectionState.OPEN:
                            # wsproto found a protocol error (say, invalid UTF-8): fail the
                            # connection with its code.
                            replies.append(CloseConnection(event.code, event.reason))
                        done = True
                    elif isinstance(event, Message):
                        # Client messages are ignored, but their size is capped.
                        payload = event.data
                        message_bytes += len(
                            payload.encode() if isinstance(payload, str) else payload
                        )
                        too_big = too_big or message_bytes > MAX_INCOMING_MESSAGE
                        if event.message_finished:
                            message_bytes = 0
            for reply in replies:
                try:
                    self._send(reply)
                except OSError:
                    return
            if too_big:
                self.close(CLOSE_MESSAGE_TOO_BIG, "messages to the server are limited to 64 KiB")
            if done:
                return


def _may_send(state: ConnectionState, event: WsEvent) -> bool:
    """Whether wsproto may send ``event`` in ``state`` (late pings or pongs are dropped)."""
    if isinstance(event, AcceptConnection):
        return state is ConnectionState.CONNECTING
    if isinstance(event, CloseConnection):
        return state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING)
    return state is ConnectionState.OPEN


class PushHub:
    """Every open push connection, by user: the domain's event sink and presence oracle."""

    def __init__(
        self,
        queue_size: int = QUEUE_SIZE,
        ping_interval: float = PING_INTERVAL,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self._queue_size = queue_size
        self._ping_interval = ping_interval
        self._idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._by_user: dict[str, set[PushConnection]] = {}
        self._closed = False

    # -- EventSink and Presence ----------------------------------------------------------------

    def publish(self, events: Sequence[Event]) -> None:
        """Enqueue each event on its user's connections, in order; never blocks."""
        with self._lock:
            for event in events:
                connections = self._by_user.get(event.user_id)
                if connections:
                    frame = frame_text(event)
                    for connection in connections:
                        connection.offer(frame)

    def is_online(self, user_id: str) -> bool:
        """Whether the user has an open push connection."""
        with self._lock:
            return bool(self._by_user.get(user_id))

    # -- connections ---------------------------------------------------------------------------

    def serve(self, caller: Caller, upgrade: UpgradeRequest, open_stream: OpenStream) -> None:
        """Run one push connection to its end.

        Raises ``ReceiptError`` (and sends nothing) if the request is not a valid WebSocket
        upgrade; after the 101 answer it returns only when the connection is over.
        """
        ws = WSConnection(ConnectionType.SERVER)
        try:
            ws.receive_data(upgrade.head)
            requested = any(isinstance(event, Request) for event in ws.events())
        except RemoteProtocolError as error:
            raise ReceiptError(
                Code.MALFORMED_BODY, f"GET /v1/events must be a WebSocket upgrade: {error}"
            ) from error
        if not requested:
            raise ReceiptError(Code.MALFORMED_BODY, "GET /v1/events must be a WebSocket upgrade")
        connection = PushConnection(
            caller.user_id, upgrade, ws, self._queue_size, self._ping_interval
        )
        replay = open_stream(lambda: self._register(connection))
        self._opened(connection, replay)
        writer = None
        try:
            upgrade.sock.settimeout(self._idle_timeout)
            upgrade.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER_BYTES)
            connection.accept()
            writer = threading.Thread(
                target=connection.write_loop,
                args=(replay,),
                name=f"push-writer-{caller.user_id}",
                daemon=True,
            )
            writer.start()
            connection.read_loop()
        except OSError:
            pass  # the peer went away during the handshake
        finally:
            self._unregister(connection)
            connection.abort()
            if writer is not None:
                writer.join(timeout=self._idle_timeout)
            connection.finished.set()

    def _opened(self, connection: PushConnection, replay: Replay) -> None:
        """Called once the connection is registered and its replay read, before the 101."""

    def _register(self, connection: PushConnection) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the push hub is shut down")
            self._by_user.setdefault(connection.user_id, set()).add(connection)

    def _unregister(self, connection: PushConnection) -> None:
        with self._lock:
            connections = self._by_user.get(connection.user_id)
            if connections is not None:
                connections.discard(connection)
                if not connections:
                    del self._by_user[connection.user_id]

    def close_all(self, timeout: float) -> None:
        """Refuse new connections; close open ones with 1001, cutting those that do not answer."""
        with self._lock:
            self._closed = True
            connections = [c for group in self._by_user.values() for c in group]
        for connection in connections:
            connection.close(CLOSE_GOING_AWAY, "server shutting down")
        deadline = time.monotonic() + timeout
        for connection in connections:
            if not connection.finished.wait(max(0.0, deadline - time.monotonic())):
                connection.abort()
        for connection in connections:
            connection.finished.wait(timeout)
