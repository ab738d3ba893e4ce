"""Every call and push wait has one wall-clock deadline, and no answer is read past the cap.

Each test serves one scripted misbehaviour from a raw socket and calls it through the harness's
own transport or push stream, with a one-second budget: the call must end within about that
budget whatever the server does, or at once when the answer is over the cap, with the reason.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request

from seenby.harness.wire.push import WebSocketPushStream
from seenby.harness.wire.transport import (
    AnswerTooLarge,
    HttpTransport,
    NoAnswer,
    ProtocolViolation,
    ViolationLog,
    WireOptions,
)

BUDGET = 1.0
SLACK = 1.5
"""Seconds a cut call may take past its budget (thread wake-ups on a busy machine)."""
CAP = 64 * 1024
Script = Callable[[socket.socket, bytes], None]
"""What the server does on a connection, given the request it read."""


@pytest.fixture
def scripted() -> Iterator[Callable[[Script], str]]:
    """Serve each connection with a script (in a thread); returns the server's URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(script: Script) -> str:
        def accept() -> None:
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return  # the listener was closed: the test is over
                with connection:
                    connection.settimeout(10)
                    request = connection.recv(65_536)
                    # The client cutting the connection is what most tests want.
                    with contextlib.suppress(OSError):
                        script(connection, request)

        threading.Thread(target=accept, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield serve
    stop.set()
    listener.close()


def _transport(url: str, violations: ViolationLog | None = None) -> HttpTransport:
    return HttpTransport(
        url,
        None,
        violations=ViolationLog() if violations is None else violations,
        timeout=BUDGET,
        options=WireOptions(max_answer_bytes=CAP),
    )


def _trickle(data: bytes, pause: float) -> Script:
    def script(connection: socket.socket, request: bytes) -> None:
        for byte in data:
            connection.sendall(bytes([byte]))
            time.sleep(pause)

    return script


ENVELOPE = b'{"code":0,"desc":"ok","data":null}'
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


def _timed(call: Callable[[], object]) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def test_an_answer_trickling_a_byte_at_a_time_is_cut_at_the_budget(
    scripted: Callable[[Script], str],
) -> None:
    url = scripted(_trickle(HEAD % len(ENVELOPE) + ENVELOPE, pause=0.2))
    transport = _transport(url)

    def call() -> None:
        with pytest.raises(NoAnswer, match="not complete within the time budget of 1 s"):
            transport.call("sendMessage", {})

    assert _timed(call) < BUDGET + SLACK


def test_a_status_line_trickling_in_is_cut_at_the_budget_too(
    scripted: Callable[[Script], str],
) -> None:
    url = scripted(_trickle(HEAD % len(ENVELOPE), pause=0.2))
    transport = _transport(url)

    def call() -> None:
        with pytest.raises(NoAnswer, match="time budget"):
            transport.call("sendMessage", {})

    assert _timed(call) < BUDGET + SLACK


def test_an_announced_length_over_the_cap_fails_at_once_unread(
    scripted: Callable[[Script], str],
) -> None:
    def huge(connection: socket.socket, request: bytes) -> None:
        connection.sendall(HEAD % (300 * 1024 * 1024))
        time.sleep(5)  # the body never comes: the call must not wait for it

    transport = _transport(scripted(huge))

    def call() -> None:
        with pytest.raises(AnswerTooLarge, match="announces 314,572,800 bytes"):
            transport.call("sendMessage", {})

    assert _timed(call) < BUDGET


def test_a_compressed_answer_inflating_past_the_cap_is_cut_off(
    scripted: Callable[[Script], str],
) -> None:
    bomb = gzip.compress(b" " * (50 * CAP))

    def answer(connection: socket.socket, request: bytes) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
        connection.sendall(head % len(bomb) + bomb)

    violations = ViolationLog()
    transport = _transport(scripted(answer), violations)
    with pytest.raises(AnswerTooLarge, match="went past the cap of 65,536 bytes"):
        transport.call("sendMessage", {})
    assert "no complete answer" in violations.transcript.render(violations.transcript.since(0))


def test_a_body_that_is_not_utf8_is_a_protocol_violation(
    scripted: Callable[[Script], str],
) -> None:
    body = '{"code":0,"desc":"déjà","data":null}'.encode("latin-1")
    url = scripted(lambda connection, request: connection.sendall(HEAD % len(body) + body))
    with pytest.raises(ProtocolViolation, match="not valid UTF-8"):
        _transport(url).call("sendMessage", {})


def test_a_push_upgrade_never_answered_fails_within_the_budget(
    scripted: Callable[[Script], str],
) -> None:
    url = scripted(lambda connection, request: time.sleep(5))

    def connect() -> None:
        with pytest.raises(NoAnswer, match="no complete upgrade answer"):
            WebSocketPushStream(
                url, "token", owner="alice", violations=ViolationLog(), timeout=BUDGET
            )

    assert _timed(connect) < BUDGET + SLACK


def test_a_push_upgrade_trickling_in_fails_within_the_budget(
    scripted: Callable[[Script], str],
) -> None:
    url = scripted(_trickle(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n", 0.2))

    def connect() -> None:
        with pytest.raises(NoAnswer, match="within the time budget of 1 s"):
            WebSocketPushStream(
                url, "token", owner="alice", violations=ViolationLog(), timeout=BUDGET
            )

    assert _timed(connect) < BUDGET + SLACK


def test_a_push_frame_that_is_not_utf8_fails_the_wait_with_the_reason(
    scripted: Callable[[Script], str],
) -> None:
    def accept_then_send_latin1(connection: socket.socket, request: bytes) -> None:
        server = WSConnection(ConnectionType.SERVER)
        server.receive_data(request)
        assert any(isinstance(event, Request) for event in server.events())
        connection.sendall(server.send(AcceptConnection()))
        # A text frame (FIN, opcode 1) whose payload is Latin-1, not UTF-8.
        payload = '{"event":"onRecvNewMessage","seq":1,"data":"é"}'.encode("latin-1")
        connection.sendall(bytes([0x81, len(payload)]) + payload)
        time.sleep(2)

    violations = ViolationLog()
    url = scripted(accept_then_send_latin1)
    stream = WebSocketPushStream(url, "token", owner="alice", violations=violations, timeout=BUDGET)
    with stream, pytest.raises(ProtocolViolation, match="sent an invalid frame \\(1007\\)"):
        stream.wait_for(lambda event: True)
    assert "push channel: sent an invalid frame" in violations.transcript.render(
        violations.transcript.since(0)
    )
