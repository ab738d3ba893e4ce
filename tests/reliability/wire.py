"""Raw wire access for the reliability tests: every call and every pushed frame, exactly as sent.

The harness client is the polished API. These tests must also misbehave (no token, odd bodies,
stalled sockets) and count every frame, so they speak HTTP and WebSocket directly, and check each
answer against the contract on the way: the envelope schema, the code/HTTP-status pairs of
docs/protocol.md §1.2, and, for pushed frames, `event.json`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import requests
import websocket

from seenby.contract.vocabulary import Level, http_status
from seenby.harness.wire.validation import PayloadContext, validate

CALL_TIMEOUT_S = 10.0
"""Every HTTP call gives up after this long: a hang is a failure, never a stuck test run."""


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: the status line and the envelope's three fields."""

    method: str
    status: int
    code: int
    desc: str
    data: Any

    @property
    def ok(self) -> bool:
        """The call succeeded (code 0)."""
        return self.code == 0


class CallFailed(AssertionError):
    """A call that had to succeed answered with a non-zero code."""


def parse_reply(method: str, status: int, body: bytes, target: str) -> Reply:
    """Turn a raw answer into a `Reply`, failing on anything outside the contract.

    A 5xx, a body that is not an envelope, an undocumented code, or a code travelling with the
    wrong HTTP status are all contract breaks, whatever the request was.
    """
    if status >= 500:
        raise AssertionError(f"{method}: HTTP {status} (server fault): {body[:300]!r}")
    try:
        envelope = json.loads(body)
    except ValueError as exc:
        raise AssertionError(f"{method}: HTTP {status} body is not JSON: {body[:300]!r}") from exc
    validate(
        "envelope.json",
        envelope,
        context=PayloadContext(f"{method} response", target),
        level=Level.STRICT,
    )
    code = envelope["code"]
    if http_status(code) != status:
        raise AssertionError(
            f"{method}: code {code} came with HTTP {status}, protocol says {http_status(code)}"
        )
    return Reply(method, status, code, envelope["desc"], envelope["data"])


class Wire:
    """HTTP calls to one server, on one keep-alive session (one `Wire` per thread)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = requests.Session()

    def call(self, method: str, body: Any, credential: str | None) -> Reply:
        """POST ``body`` (any JSON value) to ``/v1/<method>`` with ``credential`` as Bearer."""
        return self.post_bytes(
            method, json.dumps(body).encode(), credential, {"Content-Type": "application/json"}
        )

    def post_bytes(
        self,
        method: str,
        raw: bytes,
        credential: str | None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """POST exactly ``raw`` to ``/v1/<method>``: for bodies JSON cannot express."""
        sent = dict(headers or {})
        if credential is not None:
            sent["Authorization"] = f"Bearer {credential}"
        answer = self._session.post(
            f"{self.base_url}/v1/{method}", data=raw, headers=sent, timeout=CALL_TIMEOUT_S
        )
        return parse_reply(method, answer.status_code, answer.content, self.base_url)

    def must(self, method: str, body: Any, credential: str | None) -> Any:
        """Call and return ``data``; a non-zero code fails the test with the server's words."""
        reply = self.call(method, body, credential)
        if not reply.ok:
            raise CallFailed(f"{method} {body!r} -> {reply.code} ({reply.status}): {reply.desc}")
        return reply.data

    def close(self) -> None:
        """Close the keep-alive connection."""
        self._session.close()


def ws_url(base_url: str, since: int | None = None) -> str:
    """The push channel's address for ``base_url``, with ``?since=N`` when given."""
    url = base_url.replace("http://", "ws://", 1).rstrip("/") + "/v1/events"
    return url if since is None else f"{url}?since={since}"


class EventStream:
    """One push connection; a reader thread validates and records every frame [V-1] and the
    close code.

    Waiting is a predicate with a deadline on a condition variable, never a sleep.
    """

    def __init__(self, base_url: str, token: str, since: int | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.ended = False
        self.end_reason = ""
        """Why the reader stopped, when it was not a Close frame."""
        self._closing = False
        self._changed = threading.Condition()
        self._url = ws_url(base_url, since)
        self._ws = websocket.create_connection(
            self._url,
            header=[f"Authorization: Bearer {token}"],
            timeout=CALL_TIMEOUT_S,
            enable_multithread=True,
        )
        # recv blocks until a frame or close; the socket timeout would end an idle stream.
        self._ws.settimeout(None)
        self._reader = threading.Thread(target=self._read, name="event-stream", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        pieces: list[bytes] = []
        try:
            while True:
                frame = self._ws.recv_frame()  # type: ignore[no-untyped-call]
                if frame.opcode == websocket.ABNF.OPCODE_PING:
                    self._ws.pong(frame.data)
                elif frame.opcode == websocket.ABNF.OPCODE_CLOSE:
                    with self._changed:
                        self.close_code = (
                            int.from_bytes(frame.data[:2], "big") if len(frame.data) >= 2 else None
                        )
                        we_closed = self._closing
                    if not we_closed:
                        self._ws.send_close(self.close_code or 1000)
                    return
                elif frame.opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_CONT):
                    pieces.append(frame.data)
                    if frame.fin:
                        self._record(json.loads(b"".join(pieces)))
                        pieces.clear()
        except (OSError, websocket.WebSocketException) as exc:
            self.end_reason = f"{type(exc).__name__}: {exc}"
        except BaseException as exc:
            self.end_reason = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            with self._changed:
                self.ended = True
                self._changed.notify_all()

    def _record(self, event: dict[str, Any]) -> None:
        validate("event.json", event, context=PayloadContext("pushed frame", self._url))
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    @property
    def last_seq(self) -> int | None:
        """The seq of the newest frame received, None before the first."""
        with self._changed:
            return self.events[-1]["seq"] if self.events else None

    def snapshot(self) -> list[dict[str, Any]]:
        """A copy of the frames received so far."""
        with self._changed:
            return list(self.events)

    def wait_until(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float, what: str
    ) -> list[dict[str, Any]]:
        """Wait until ``predicate(frames)`` holds; fail naming ``what`` and the frames seen."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.events):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.ended:
                    if predicate(self.events):
                        break
                    tail = [(e["seq"], e["event"]) for e in self.events[-8:]]
                    raise AssertionError(
                        f"push stream: waited for {what}; stream "
                        f"{self._state()}"
                        f", {len(self.events)} frames, last {tail}"
                    )
                self._changed.wait(remaining)
            return list(self.events)

    def _state(self) -> str:
        if not self.ended:
            return "open"
        return f"ended (close {self.close_code}{', ' + self.end_reason if self.end_reason else ''})"

    def wait_for_seq(self, seq: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Wait until the frame numbered ``seq`` (or a later one) has arrived."""
        return self.wait_until(
            lambda frames: bool(frames) and frames[-1]["seq"] >= seq, timeout, f"seq {seq}"
        )

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close cleanly from the client side (Close frame, then the server's reply)."""
        with self._changed:
            self._closing = True
            ended = self.ended
        if not ended:
            with suppress(OSError, websocket.WebSocketException):
                self._ws.send_close(1000)
            self._reader.join(timeout=5)
        self._ws.shutdown()  # type: ignore[no-untyped-call]
        self._reader.join(timeout=5)

    def drop(self) -> None:
        """Vanish without a Close frame, as a client whose network went away."""
        self._ws.abort()  # type: ignore[no-untyped-call]
        self._reader.join(timeout=5)
        self._ws.shutdown()  # type: ignore[no-untyped-call]
