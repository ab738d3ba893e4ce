"""Slow and bad clients: each is dropped cleanly, and nobody else notices (docs/protocol.md §1.3).

- a push client that stops reading is closed with 1008 once its bounded queue fills, while the
  same user's other connection and another user keep receiving everything;
- invalid frames end the connection with a Close frame (1002, or 1007 for bad UTF-8); an
  incoming message over 64 KiB closes it with 1009;
- clients that never finish a request or a handshake, or that hold idle connections, are closed
  after the request / idle timeouts, and cannot take more than the connection limit;
- malformed HTTP framing is answered with its documented code.

Limits are lowered through ``seenby.reference_server.Tuning`` so each is reached in well under a
second
in CI; ``SEENBY_FULL=1`` also runs the slow consumer and the connection limit at production size.
After every misbehaviour the server must still serve a call and deliver a push.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import create_user
from .rawsocket import RawWebSocket, address, frame
from .sizes import FULL
from .wire import EventStream, Wire, parse_reply
from .workload import User

EVENT_TEXT_BYTES = 12_000
KERNEL_BUFFER_ALLOWANCE = 2 * 1024 * 1024
"""Bytes the two kernels may hold for a stalled connection (send plus receive buffers): the
server must have queued everything past this before its queue can be said to be full."""
OPCODE_CONTINUATION, OPCODE_TEXT, OPCODE_BINARY, OPCODE_CLOSE, OPCODE_PING = 0x0, 0x1, 0x2, 0x8, 0x9


def new_users(server: Any, *names: str) -> list[User]:
    """Fresh users on ``server``."""
    wire = Wire(server.url)
    try:
        return [create_user(wire, server.admin_key, name) for name in names]
    finally:
        wire.close()


def assert_still_serving(server: Any) -> None:
    """A call is answered and a push is delivered: whatever happened, the server is fine."""
    alice, bob = new_users(server, "alice", "bob")
    wire = Wire(server.url)
    try:
        with EventStream(server.url, alice.token) as stream:
            body = {"receiver": alice.user_id, "elem": {"elemType": "text", "text": "still?"}}
            msg_id = wire.must("sendMessage", body, bob.token)["msgID"]
            (frame_,) = stream.wait_for_seq(1)
    finally:
        wire.close()
    assert frame_["data"]["msgID"] == msg_id


# ---- a client that stops reading ---------------------------------------------------------------


def slow_consumer_case(server: Any, queue_size: int) -> None:
    bob, alice, carol = new_users(server, "bob", "alice", "carol")
    wire = Wire(server.url)
    group_id = f"g-{uuid.uuid4().hex[:8]}"
    wire.must(
        "admin/createGroup",
        {"groupID": group_id, "groupType": "Work", "ownerID": bob.user_id,
         "memberIDs": [alice.user_id, carol.user_id]},
        server.admin_key,
    )  # fmt: skip
    stalled = RawWebSocket(server.url, alice.token, receive_buffer=4_096)
    total = queue_size + KERNEL_BUFFER_ALLOWANCE // EVENT_TEXT_BYTES + 16
    try:
        with (
            EventStream(server.url, alice.token) as alice_elsewhere,
            EventStream(server.url, carol.token) as carol_stream,
        ):
            for number in range(total):
                text = f"{number:06d}" + "x" * (EVENT_TEXT_BYTES - 6)
                body = {"groupID": group_id, "elem": {"elemType": "text", "text": text}}
                wire.must("sendMessage", body, bob.token)
            # Progress, not speed: everyone else got every event while `stalled` read nothing.
            alice_elsewhere.wait_for_seq(total, timeout=60)
            carol_stream.wait_for_seq(total, timeout=60)
        assert stalled.read_until_closed(timeout=30), "the stalled connection was never closed"
        received = [event["seq"] for event in stalled.events]
        print(
            f"slow consumer: queue {queue_size}, {total} events of {EVENT_TEXT_BYTES} bytes; the "
            f"stalled connection got {len(received)} before Close {stalled.close_code}"
        )
        assert stalled.close_code == 1008
        assert len(received) < total, "the stalled connection was never cut off"
        assert received == list(range(1, len(received) + 1))
        with EventStream(server.url, alice.token, since=len(received)) as resumed:
            rest = resumed.wait_for_seq(total, timeout=60)
        assert [event["seq"] for event in rest] == list(range(len(received) + 1, total + 1))
    finally:
        stalled.close()
        wire.close()


@pytest.mark.tuning(push_queue_size=64)
def test_a_client_that_stops_reading_is_closed_with_1008_and_nobody_else_waits(
    tuned: Any,
) -> None:
    slow_consumer_case(tuned, queue_size=64)
    assert_still_serving(tuned)


@pytest.mark.skipif(not FULL, reason="production queue size runs with SEENBY_FULL=1")
def test_a_client_that_stops_reading_is_closed_at_the_production_queue_size(tuned: Any) -> None:
    slow_consumer_case(tuned, queue_size=1_024)
    assert_still_serving(tuned)


# ---- invalid frames and oversize messages ------------------------------------------------------

INVALID_FRAMES = {
    "unmasked text frame": (frame(OPCODE_TEXT, b"{}", masked=False), {1002}),
    "reserved opcode 0x3": (frame(0x3, b"x"), {1002}),
    "RSV1 set without an extension": (frame(OPCODE_TEXT, b"x", rsv=4), {1002}),
    "text that is not UTF-8": (frame(OPCODE_TEXT, b"\xff\xfe\xfd"), {1007}),
    "ping payload over 125 bytes": (frame(OPCODE_PING, b"p" * 126), {1002}),
    "fragmented ping": (frame(OPCODE_PING, b"p", fin=False), {1002}),
    "continuation with nothing to continue": (frame(OPCODE_CONTINUATION, b"x"), {1002}),
    "close code 1005 sent on the wire": (frame(OPCODE_CLOSE, b"\x03\xed"), {1002}),
    "random bytes": (bytes(range(256)) * 4, {1002, 1007, 1009}),
}


@pytest.mark.parametrize("case", list(INVALID_FRAMES))
def test_an_invalid_frame_ends_the_connection_and_the_server_keeps_serving(
    tuned: Any, case: str
) -> None:
    (alice,) = new_users(tuned, "alice")
    data, allowed_codes = INVALID_FRAMES[case]
    client = RawWebSocket(tuned.url, alice.token)
    try:
        client.send_raw(data)
        assert client.read_until_closed(), f"{case}: the connection stayed open"
    finally:
        client.close()
    assert client.close_code in allowed_codes, f"{case}: Close frame {client.close_code}"
    assert_still_serving(tuned)


@pytest.mark.parametrize(
    "pieces",
    [
        pytest.param([(OPCODE_TEXT, 64 * 1024 + 1, True)], id="one 64 KiB + 1 byte text message"),
        pytest.param(
            [(OPCODE_TEXT, 40 * 1024, False), (OPCODE_CONTINUATION, 40 * 1024, True)],
            id="two 40 KiB fragments of one message",
        ),
        pytest.param([(OPCODE_BINARY, 100 * 1024, True)], id="one 100 KiB binary message"),
    ],
)
def test_a_message_over_64_kib_closes_with_1009(
    tuned: Any, pieces: list[tuple[int, int, bool]]
) -> None:
    (alice,) = new_users(tuned, "alice")
    client = RawWebSocket(tuned.url, alice.token)
    try:
        for opcode, size, fin in pieces:
            client.send_raw(frame(opcode, b"a" * size, fin=fin))
        assert client.read_until_closed()
    finally:
        client.close()
    assert client.close_code == 1009
    assert_still_serving(tuned)


def test_a_message_of_exactly_64_kib_is_ignored_and_the_connection_stays(tuned: Any) -> None:
    alice, bob = new_users(tuned, "alice", "bob")
    client = RawWebSocket(tuned.url, alice.token)
    wire = Wire(tuned.url)
    try:
        client.send_raw(frame(OPCODE_TEXT, b"a" * (64 * 1024)))
        body = {"receiver": alice.user_id, "elem": {"elemType": "text", "text": "after"}}
        msg_id = wire.must("sendMessage", body, bob.token)["msgID"]
        client.read_events(1)
    finally:
        client.close()
        wire.close()
    assert client.events[0]["data"]["msgID"] == msg_id
    assert client.close_code is None


# ---- clients that never finish, and idle ones --------------------------------------------------

REQUEST_TIMEOUT_S = 0.5
IDLE_TIMEOUT_S = 1.0


def open_socket(server: Any, data: bytes = b"") -> socket.socket:
    """A TCP connection to ``server`` that has sent ``data`` and then nothing more."""
    connection = socket.create_connection(address(server.url), timeout=10)
    if data:
        connection.sendall(data)
    return connection


def closed_by_server(connection: socket.socket, timeout: float) -> bool:
    """Read (discarding) until the server closes; False if still open at the deadline."""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        connection.settimeout(remaining)
        try:
            if not connection.recv(65_536):
                return True
        except TimeoutError:
            return False
        except OSError:
            return True
    return False


def upgrade_head(server: Any, token: str) -> bytes:
    host, port = address(server.url)
    return (
        f"GET /v1/events HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    ).encode()


UNFINISHED: dict[str, Callable[[Any, str], bytes]] = {
    "connects and sends nothing": lambda server, token: b"",
    "half a request line": lambda server, token: b"GET /v1/eve",
    "an upgrade head without its blank line": upgrade_head,
    "a POST with half its body": lambda server, token: (
        b"POST /v1/getConversationList HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + token.encode()
        + b'\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a"'
    ),
}


@pytest.mark.tuning(request_timeout=REQUEST_TIMEOUT_S, idle_timeout=IDLE_TIMEOUT_S)
def test_clients_that_never_finish_are_dropped_and_others_are_served_meanwhile(
    tuned: Any,
) -> None:
    (alice,) = new_users(tuned, "alice")
    stuck = {
        name: open_socket(tuned, make(tuned, alice.token)) for name, make in UNFINISHED.items()
    }
    try:
        assert_still_serving(tuned)
        still_open = [
            name for name, connection in stuck.items() if not closed_by_server(connection, 10)
        ]
    finally:
        for connection in stuck.values():
            connection.close()
    assert still_open == []


@pytest.mark.tuning(request_timeout=REQUEST_TIMEOUT_S, idle_timeout=60.0)
def test_a_handshake_trickled_byte_by_byte_is_dropped_within_the_request_timeout(
    tuned: Any,
) -> None:
    # §1.3: "the upgrade request must arrive within 10 s" (here: the lowered request timeout).
    (alice,) = new_users(tuned, "alice")
    head = upgrade_head(tuned, alice.token) + b"\r\n"
    pace_s = REQUEST_TIMEOUT_S / 5  # each byte well within the per-read timeout
    trickle = head[:20]  # 20 bytes at that pace last four request timeouts
    connection = open_socket(tuned)
    sent = 0
    dropped = False
    try:
        for byte in trickle:
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                dropped = True
                break
            sent += 1
            # Waiting for the server to hang up is also what paces the next byte.
            if closed_by_server(connection, pace_s):
                dropped = True
                break
    finally:
        connection.close()
    assert dropped, f"still open after {sent} bytes trickled over {sent * pace_s:.1f} s"


@pytest.mark.tuning(max_connections=24, idle_timeout=60.0)
def test_idle_connections_cannot_take_more_than_the_connection_limit(tuned: Any) -> None:
    wire = Wire(tuned.url)
    idle = [open_socket(tuned) for _ in range(24)]
    try:
        one_too_many = open_socket(tuned)
        assert closed_by_server(one_too_many, 5), "a connection past the limit was kept"
        one_too_many.close()
        for connection in idle[:4]:
            connection.close()
        assert _eventually_served(tuned), "freed connections were not reused"
    finally:
        for connection in idle:
            connection.close()
        wire.close()


@pytest.mark.tuning(max_connections=24, idle_timeout=IDLE_TIMEOUT_S)
def test_idle_connections_are_closed_after_the_idle_timeout(tuned: Any) -> None:
    idle = [open_socket(tuned) for _ in range(24)]
    try:
        assert all(closed_by_server(connection, 10) for connection in idle)
        assert_still_serving(tuned)
    finally:
        for connection in idle:
            connection.close()


@pytest.mark.skipif(not FULL, reason="4,096 idle connections run with SEENBY_FULL=1")
def test_the_production_connection_limit_holds_with_4096_idle_connections(tuned: Any) -> None:
    idle = [open_socket(tuned) for _ in range(4_096)]
    try:
        one_too_many = open_socket(tuned)
        assert closed_by_server(one_too_many, 10)
        one_too_many.close()
        for connection in idle[:16]:
            connection.close()
        assert _eventually_served(tuned)
    finally:
        for connection in idle:
            connection.close()


def _eventually_served(server: Any, timeout: float = 10.0) -> bool:
    """Whether a capabilities call succeeds before ``timeout`` (the server frees slots as it
    notices closed connections, so the first attempts may still be turned away)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection = open_socket(server, b"GET /v1/capabilities HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            connection.settimeout(max(0.1, deadline - time.monotonic()))
            if connection.recv(12).startswith(b"HTTP/1.1 200"):
                return True
        except OSError:
            pass
        finally:
            connection.close()
    return False


# ---- malformed HTTP framing --------------------------------------------------------------------

FRAMING = {
    "a body declared over 1 MiB, of which 100 bytes are sent": (
        b"POST /v1/getConversationList HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n"
        + b"{" * 100,
        413, 90005,
    ),
    "no Content-Length": (b"POST /v1/getConversationList HTTP/1.1\r\nHost: x\r\n\r\n", 400, 90006),
    "chunked": (
        b"POST /v1/getConversationList HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",
        400, 90006,
    ),
    "two different Content-Lengths": (
        b"POST /v1/getConversationList HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
        b"Content-Length: 3\r\n\r\n{} ",
        400, 90006,
    ),
    "a request line that is not HTTP": (b"HELLO\r\n\r\n", 400, 90006),
    "a header line without a colon": (
        b"POST /v1/getConversationList HTTP/1.1\r\nHost: x\r\nno colon here\r\n"
        b"Content-Length: 2\r\n\r\n{}",
        400, 90006,
    ),
    "a space before a header's colon": (
        b"POST /v1/getConversationList HTTP/1.1\r\nHost: x\r\nContent-Length : 2\r\n\r\n{}",
        400, 90006,
    ),
    "101 header fields": (
        b"POST /v1/getConversationList HTTP/1.1\r\n" + b"X-Filler: 1\r\n" * 101
        + b"Content-Length: 2\r\n\r\n{}",
        400, 90006,
    ),
    "an unknown route": (b"POST /v1/nope HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 404,
                         90003),
    "GET on a POST method": (b"GET /v1/sendMessage HTTP/1.1\r\nHost: x\r\n\r\n", 405, 90004),
}  # fmt: skip


def http_exchange(server: Any, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` raw; the status and body of the answer (the server may then close)."""
    connection = open_socket(server, request)
    received = b""
    try:
        while b"\r\n\r\n" not in received or not _complete(received):
            chunk = connection.recv(65_536)
            if not chunk:
                break
            received += chunk
    finally:
        connection.close()
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


@pytest.mark.parametrize("case", list(FRAMING))
def test_malformed_http_framing_gets_its_documented_code(tuned: Any, case: str) -> None:
    request, status, code = FRAMING[case]
    answered_status, body = http_exchange(tuned, request)
    reply = parse_reply(case, answered_status, body, tuned.url)
    assert (reply.status, reply.code) == (status, code)
    assert_still_serving(tuned)
