"""The seenby wire: HTTP calls and the push channel, each checked against the contract.

``HttpTransport`` sends ``POST /v1/<method>`` and checks every answer before anyone sees it: the
body is JSON, the envelope and (on success) the method's data validate against their schemas
[V-1], and the HTTP status is the one docs/protocol.md pairs with the code [E-1]. ``PushStream``
holds one ``GET /v1/events`` WebSocket; a background thread validates each frame against
``event.json``, tracks ``seq`` gaps, and appends ``Event``s that tests wait on with a predicate and
a deadline (a condition variable, never a sleep).

Contract violations raise ``AssertionError`` subclasses (they are test failures) and are also
recorded in the target's ``ViolationLog``, so a run can assert that none was seen at all.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import websocket

from contract.vocabulary import SUCCESS, code_named, is_refusal_status
from harness.deviations import Deviation, DeviationLog
from harness.models import Event
from harness.validation import PayloadContext, SchemaViolation, check

__all__ = [
    "DATA_SCHEMAS",
    "DEFAULT_TIMEOUT",
    "ApiError",
    "EventInbox",
    "HttpTransport",
    "ProtocolViolation",
    "PushStream",
    "SeqGap",
    "ServerFault",
    "UnexpectedEvent",
    "ViolationLog",
    "WaitTimeout",
    "WireResponse",
    "check_envelope",
    "status_deviation",
]

DEFAULT_TIMEOUT = 10.0
"""Seconds any single HTTP call or WebSocket handshake may take."""

_EMPTY = "common.json#/$defs/empty"
DATA_SCHEMAS: Mapping[str, str] = {
    "admin/getSettings": "settings.json",
    "admin/setSettings": "settings.json",
    "admin/createUser": "user.json",
    "admin/createGroup": "group.json",
    "admin/addGroupMembers": _EMPTY,
    "admin/removeGroupMembers": _EMPTY,
    "sendMessage": "message.json",
    "getHistoryMessageList": "message-list.json",
    "getConversationList": "conversation-list.json",
    "sendMessageReadReceipts": _EMPTY,
    "getMessageReadReceipts": "receipt-list.json",
    "getGroupMessageReadMemberList": "read-member-list.json",
    "markC2CMessageAsRead": _EMPTY,
}
"""The schema of each method's ``data`` on success (``capabilities`` is checked by the target
itself, tolerantly: see ``WireTarget.capabilities``)."""

_EVENTS_METHOD = "events"
_CLOSE_GRACE_SECONDS = 2.0
_SUMMARY_EVENTS_SHOWN = 20


class ApiError(Exception):
    """The target answered with a non-zero ``code`` (a well-formed error, not a fault)."""

    def __init__(self, method: str, code: int, desc: str, http_status: int, target: str) -> None:
        self.method = method
        self.code = code
        self.desc = desc
        self.http_status = http_status
        self.target = target
        super().__init__(f"{method} → {code} (HTTP {http_status}): {desc} [target {target}]")


class ProtocolViolation(AssertionError):
    """An answer the protocol forbids beyond what schemas express (status/code mismatch, a body
    that is not JSON, a replay gap frame that does not add up)."""


class ServerFault(ProtocolViolation):
    """The target answered 5xx for something that is not a documented error: a server fault."""


class WaitTimeout(AssertionError):
    """``PushStream.wait_for`` saw no matching event before its deadline."""


class UnexpectedEvent(AssertionError):
    """``PushStream.expect_none`` saw an event it was told must not arrive."""


class ViolationLog:
    """Every contract violation seen through one target's clients (thread-safe), and, in
    ``deviations``, every strict deviation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._violations: list[AssertionError] = []
        self.deviations = DeviationLog()

    def record(self, violation: AssertionError) -> None:
        """Remember ``violation``."""
        with self._lock:
            self._violations.append(violation)

    def snapshot(self) -> list[AssertionError]:
        """The violations so far, oldest first."""
        with self._lock:
            return list(self._violations)


@dataclass(frozen=True)
class WireResponse:
    """One checked HTTP answer: the envelope's ``code``/``desc``/``data`` plus the HTTP side."""

    method: str
    http_status: int
    code: int
    desc: str
    data: Any
    headers: Mapping[str, str]

    @property
    def ok(self) -> bool:
        """``code`` is 0."""
        return self.code == 0


@dataclass(frozen=True)
class SeqGap:
    """Event numbering broke: after ``expected - 1`` came ``received`` instead of ``expected``."""

    expected: int
    received: int


class HttpTransport:
    """HTTP calls to one target with one credential, over one keep-alive ``requests.Session``."""

    def __init__(
        self,
        base_url: str,
        credential: str | None,
        *,
        violations: ViolationLog,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._violations = violations
        self._session = requests.Session()
        if credential is not None:
            self._session.headers["Authorization"] = f"Bearer {credential}"

    def call(self, method: str, body: Mapping[str, Any]) -> WireResponse:
        """``POST /v1/<method>`` with a JSON body; checked, but a non-zero code is returned."""
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        return self._exchange("POST", method, payload, headers)

    def invoke(self, method: str, body: Mapping[str, Any]) -> Any:
        """Like ``call``, returning ``data``; a non-zero code raises ``ApiError``."""
        return self.raise_for_code(self.call(method, body))

    def get(self, method: str) -> WireResponse:
        """``GET /v1/<method>`` (only ``capabilities`` is a GET method)."""
        return self._exchange("GET", method, None, {})

    def invoke_get(self, method: str) -> Any:
        """Like ``get``, returning ``data``; a non-zero code raises ``ApiError``."""
        return self.raise_for_code(self.get(method))

    def request_raw(
        self, http_method: str, path: str, body: bytes, headers: Mapping[str, str]
    ) -> WireResponse:
        """Send exactly ``body`` and ``headers`` (plus this transport's credential, if any) to
        ``path``; for malformed-input checks. The answer is checked like any other."""
        method = path.removeprefix("/v1/") if path.startswith("/v1/") else path
        return self._exchange(http_method, method, body, headers, path=path)

    def raise_for_code(self, response: WireResponse) -> Any:
        """``response.data``, or ``ApiError`` if ``response.code`` is not 0."""
        if not response.ok:
            raise ApiError(
                response.method, response.code, response.desc, response.http_status, self.base_url
            )
        return response.data

    def close(self) -> None:
        """Close the keep-alive connections."""
        self._session.close()

    def _exchange(
        self,
        http_method: str,
        method: str,
        body: bytes | None,
        headers: Mapping[str, str],
        *,
        path: str | None = None,
    ) -> WireResponse:
        answer = self._session.request(
            http_method,
            self.base_url + (path if path is not None else f"/v1/{method}"),
            data=body,
            headers=dict(headers),
            timeout=self.timeout,
        )
        envelope = check_envelope(
            method,
            answer.status_code,
            answer.content,
            answer.headers.get("Content-Type", ""),
            target=self.base_url,
            violations=self._violations,
        )
        return WireResponse(
            method=method,
            http_status=answer.status_code,
            code=envelope["code"],
            desc=envelope["desc"],
            data=envelope["data"],
            headers=dict(answer.headers),
        )


def check_envelope(
    method: str,
    http_status: int,
    content: bytes,
    content_type: str,
    *,
    target: str,
    violations: ViolationLog,
) -> dict[str, Any]:
    """Check one HTTP answer against the contract and return its envelope.

    Core (a failure: raised and recorded): ``ServerFault`` for any 5xx; ``ProtocolViolation``
    for a body that is not a JSON envelope, for code 0 without a 2xx status or a non-zero code
    without a 4xx one [E-1]; ``SchemaViolation`` for an envelope or success ``data`` that breaks
    its core schema. Strict (recorded in ``violations.deviations``): the exact status the code
    table pairs with the code, a code the table does not list, the ``Content-Type``, and the
    strict layer of the schemas.
    """
    deviations = violations.deviations
    try:
        envelope = _parse(method, http_status, content, target)
        check(
            "envelope.json",
            envelope,
            context=PayloadContext(f"{method} response", target),
            deviations=deviations,
        )
        _check_status_class(method, http_status, envelope["code"], target)
        if envelope["code"] == SUCCESS and method in DATA_SCHEMAS:
            check(
                DATA_SCHEMAS[method],
                envelope["data"],
                context=PayloadContext(f"{method} response data", target),
                deviations=deviations,
            )
    except (ProtocolViolation, SchemaViolation) as violation:
        violations.record(violation)
        raise
    _check_strict_status(method, http_status, envelope["code"], content_type, deviations)
    return envelope


def _check_status_class(method: str, http_status: int, code: int, target: str) -> None:
    """Core [E-1]: code 0 comes with a 2xx status, any other code with a 4xx one."""
    if code == SUCCESS and not 200 <= http_status < 300:
        raise ProtocolViolation(
            f"{method} answered code 0 (success) with HTTP {http_status}; success comes with "
            f"a 2xx status [E-1] [target {target}]"
        )
    if code != SUCCESS and not is_refusal_status(http_status):
        raise ProtocolViolation(
            f"{method} answered code {code} (a refusal) with HTTP {http_status}; a refused call "
            f"comes with a 4xx status [E-1] [target {target}]"
        )


def status_deviation(method: str, code: int, http_status: int) -> Deviation | None:
    """The deviation of an answer whose status is not the one §1.2 pairs with its (listed)
    code, else ``None``."""
    entry = code_named(code)
    if entry is None or http_status == entry.http_status:
        return None
    return Deviation(
        f"HTTP status of code {code}",
        "§1.2",
        f"HTTP {entry.http_status}",
        f"HTTP {http_status}",
        f"{method} response",
    )


def _check_strict_status(
    method: str, http_status: int, code: int, content_type: str, deviations: DeviationLog
) -> None:
    """Strict (§1.1, §1.2): a listed code comes with its status; the body is labelled
    ``application/json``. (A code the table does not list is the envelope's strict schema's.)"""
    where = f"{method} response"
    mismatch = status_deviation(method, code, http_status)
    if mismatch is not None:
        deviations.record(mismatch)
    if not content_type.startswith("application/json"):
        deviations.record(
            Deviation(
                "Content-Type of the answer",
                "§1",
                "application/json",
                repr(content_type),
                where,
            )
        )


def _parse(method: str, http_status: int, content: bytes, target: str) -> dict[str, Any]:
    """The answer's JSON object, unless it is a server fault or not a JSON object at all."""
    excerpt = content[:300].decode("utf-8", errors="replace")
    if http_status >= 500:
        raise ServerFault(
            f"{method} → HTTP {http_status}: server fault: {excerpt} [target {target}]"
        )
    try:
        parsed = json.loads(content)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise ProtocolViolation(
            f"{method} → HTTP {http_status}: body is not a JSON object: {excerpt!r} "
            f"[target {target}]"
        )
    return parsed


class EventInbox:
    """The events one user's push connection delivered, and ways to wait for them.

    Frames go in through ``receive`` (validated against ``event.json``, ``seq`` tracked) and
    ``finish`` marks the end of the connection; ``PushStream`` feeds it from a socket, tests may
    feed it directly. ``wait_for`` and ``expect_none`` block on a condition variable until a
    predicate holds or a deadline passes. A frame that breaks the contract (or a listener that
    raises) is kept in ``failures`` and makes every later ``wait_for`` / ``expect_none`` raise
    it: a contract violation fails the test that sees it.
    """

    def __init__(
        self, *, owner: str, target: str, violations: ViolationLog, since: int | None = None
    ) -> None:
        self.owner = owner
        self.target = target
        self.since = since
        self._violations = violations
        # Reentrant, so a failure found while holding it can be recorded without unlocking.
        self._condition = threading.Condition(threading.RLock())
        self._events: list[Event] = []
        self._seq_gaps: list[SeqGap] = []
        self._failures: list[AssertionError] = []
        self._listeners: list[Callable[[Event], None]] = []
        self._last_seq: int | None = None
        self._ended = False
        self.close_code: int | None = None
        """The close code the server sent, once it closed the connection (1008, 1009, ...)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.owner}: {len(self.events)} events>"

    @property
    def events(self) -> list[Event]:
        """The events received so far, in arrival order (a copy)."""
        with self._condition:
            return list(self._events)

    @property
    def seq_gaps(self) -> list[SeqGap]:
        """Places where ``seq`` did not rise by exactly one (announced replay gaps excluded)."""
        with self._condition:
            return list(self._seq_gaps)

    @property
    def failures(self) -> list[AssertionError]:
        """Invalid frames and listener errors, oldest first."""
        with self._condition:
            return list(self._failures)

    @property
    def closed(self) -> bool:
        """The connection is over (closed by either side, or lost)."""
        with self._condition:
            return self._ended

    def add_listener(self, callback: Callable[[Event], None]) -> None:
        """Call ``callback(event)`` for every later event, on the thread that receives it and
        before the event is visible to ``wait_for``."""
        with self._condition:
            self._listeners.append(callback)

    def wait_for(
        self,
        predicate: Callable[[Event], bool],
        timeout: float = 5.0,
        description: str = "a matching event",
    ) -> Event:
        """The first event so far or within ``timeout`` seconds for which ``predicate`` holds.

        Raises ``WaitTimeout`` (saying what was expected, what arrived and from which target)
        when none does, and the first of ``failures`` if a frame broke the contract.
        """
        deadline = time.monotonic() + timeout
        checked = 0
        with self._condition:
            while True:
                self._raise_failure()
                for event in self._events[checked:]:
                    if predicate(event):
                        return event
                checked = len(self._events)
                remaining = deadline - time.monotonic()
                if self._ended or remaining <= 0:
                    why = "the connection closed" if self._ended else f"{timeout:g} s passed"
                    raise WaitTimeout(self._describe(f"expected {description}, but {why}"))
                self._condition.wait(remaining)

    def expect_none(
        self,
        predicate: Callable[[Event], bool],
        within: float = 0.5,
        description: str = "a matching event",
    ) -> None:
        """Assert that no event matching ``predicate`` arrives within ``within`` seconds.

        This is the harness's one deliberate bounded wait: absence can only be observed over a
        window. It fails as soon as a matching event is seen, so it never waits longer than
        ``within``; events received before the call count too.
        """
        deadline = time.monotonic() + within
        with self._condition:
            while True:
                self._raise_failure()
                for event in self._events:
                    if predicate(event):
                        raise UnexpectedEvent(
                            self._describe(f"expected no {description}, but got {event.summary()}")
                        )
                remaining = deadline - time.monotonic()
                if self._ended or remaining <= 0:
                    return
                self._condition.wait(remaining)

    def receive(self, text: str) -> None:
        """Take one text frame: validate it, track its ``seq``, keep it, tell the listeners."""
        try:
            frame = json.loads(text)
        except ValueError:
            self._fail(ProtocolViolation(self._describe(f"received a non-JSON frame {text!r}")))
            return
        name = frame.get("event", "?") if isinstance(frame, dict) else "?"
        context = PayloadContext(f"{name} event to {self.owner}", self.target)
        try:
            check("event.json", frame, context=context, deviations=self._violations.deviations)
        except SchemaViolation as violation:
            self._fail(violation)
            return
        event = Event.from_wire(frame)
        with self._condition:
            listeners = list(self._listeners)
        # Listeners run before the event becomes visible, so once wait_for returns an event,
        # every SDK-style callback for it has already been called.
        for listener in listeners:
            try:
                listener(event)
            except Exception as error:  # a listener bug must not kill the reader thread
                failure = AssertionError(f"push listener failed on {event.summary()}: {error!r}")
                self._fail(failure, contract=False)
        with self._condition:
            self._track_seq(event)
            self._events.append(event)
            self._condition.notify_all()

    def finish(self, close_code: int | None = None) -> None:
        """Mark the connection over; waits stop waiting for more events."""
        with self._condition:
            self._ended = True
            if close_code is not None:
                self.close_code = close_code
            self._condition.notify_all()

    def _track_seq(self, event: Event) -> None:
        """Record a ``SeqGap`` unless ``event.seq`` follows the previous one (caller locks)."""
        if event.name == "onReplayGap":
            if event.seq != event.data["firstAvailableSeq"] - 1:
                problem = f"onReplayGap seq must be firstAvailableSeq - 1: {event.summary()}"
                self._fail(ProtocolViolation(self._describe(problem)))
        else:
            previous = self.since if self._last_seq is None else self._last_seq
            if previous is not None and event.seq != previous + 1:
                self._seq_gaps.append(SeqGap(expected=previous + 1, received=event.seq))
        self._last_seq = event.seq

    def _fail(self, failure: AssertionError, *, contract: bool = True) -> None:
        """Keep ``failure`` for the next wait; ``contract`` ones also go to the target's log."""
        if contract:
            self._violations.record(failure)
        with self._condition:
            self._failures.append(failure)
            self._condition.notify_all()

    def _raise_failure(self) -> None:
        if self._failures:
            raise self._failures[0]

    def _describe(self, problem: str) -> str:
        """``problem`` with the owner, the target and a compact list of what arrived."""
        with self._condition:
            events = list(self._events)
        lines = [f"push stream of {self.owner}: {problem} [target {self.target}]"]
        if not events:
            lines.append("  no events arrived")
        else:
            lines.append(f"  {len(events)} event(s) arrived:")
            hidden = len(events) - _SUMMARY_EVENTS_SHOWN
            if hidden > 0:
                lines.append(f"    ... {hidden} earlier event(s)")
            lines.extend(f"    {event.summary()}" for event in events[-_SUMMARY_EVENTS_SHOWN:])
        return "\n".join(lines)


class PushStream(EventInbox):
    """One push connection (``GET /v1/events``) of one user, read by a background thread
    that feeds the ``EventInbox`` it is. A refused upgrade raises ``ApiError``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        owner: str,
        violations: ViolationLog,
        since: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(
            owner=owner, target=base_url.rstrip("/"), violations=violations, since=since
        )
        self._closing = False
        self._socket = self._connect(token, timeout)
        self._reader = threading.Thread(
            target=self._read_frames, name=f"seenby-push-{owner}", daemon=True
        )
        self._reader.start()

    def __enter__(self) -> PushStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection politely (Close frame, then wait briefly for the reply)."""
        with self._condition:
            if self._closing:
                return
            self._closing = True
        with contextlib.suppress(websocket.WebSocketException, OSError):
            self._socket.send_close()  # fails only if already gone: nothing to be polite to
        self._reader.join(_CLOSE_GRACE_SECONDS)
        # websocket-client leaves abort() and shutdown() unannotated.
        if self._reader.is_alive():
            self._socket.abort()  # type: ignore[no-untyped-call]
            self._reader.join(_CLOSE_GRACE_SECONDS)
        self._socket.shutdown()  # type: ignore[no-untyped-call]

    def drop(self) -> None:
        """Cut the TCP connection without a Close frame, as a lost network looks to the server."""
        with contextlib.suppress(websocket.WebSocketException, OSError):
            self._socket.abort()  # type: ignore[no-untyped-call]
        self.close()

    def _connect(self, token: str, timeout: float) -> websocket.WebSocket:
        scheme, netloc, _, _, _ = urlsplit(self.target)
        query = "" if self.since is None else f"since={self.since}"
        url = urlunsplit(("wss" if scheme == "https" else "ws", netloc, "/v1/events", query, ""))
        try:
            socket = websocket.create_connection(
                url,
                header=[f"Authorization: Bearer {token}"],
                timeout=timeout,
                enable_multithread=True,
            )
        except websocket.WebSocketBadStatusException as refused:
            envelope = check_envelope(
                _EVENTS_METHOD,
                refused.status_code,
                refused.resp_body or b"",
                (refused.resp_headers or {}).get("content-type", ""),
                target=self.target,
                violations=self._violations,
            )
            raise ApiError(
                _EVENTS_METHOD, envelope["code"], envelope["desc"], refused.status_code, self.target
            ) from None
        # The reader blocks until a frame or the close; the server's pings keep the line alive.
        socket.settimeout(None)
        return socket

    def _read_frames(self) -> None:
        close_code = None
        try:
            while True:
                opcode, frame = self._socket.recv_data_frame()
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    data = frame.data
                    close_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                    return
                if opcode != websocket.ABNF.OPCODE_TEXT:
                    self._fail(ProtocolViolation(self._describe("received a non-text frame")))
                    continue
                data = frame.data
                self.receive(data.decode("utf-8") if isinstance(data, bytes) else data)
        except (websocket.WebSocketException, OSError):
            pass  # connection lost, or aborted by close(): `closed` reports it either way
        finally:
            self.finish(close_code)
