"""Push: one user's events as the harness sees them, and waiting on them.

``EventInbox`` validates each frame against ``event.json``, tracks ``seq`` gaps, and keeps
``Event``s that tests wait on with a predicate and a deadline (a condition variable, never a
sleep). ``PushStream`` is one connection as a driver delivers it; ``WebSocketPushStream`` is the
seenby wire's ``GET /v1/events``, read by a background thread.

Absence is proved, not waited out: ``expect_none`` takes a *fence*, a call that makes the target
send the watched user one more event (a message from another user) after the action under test
returned. Every user's events carry a gap-free ``seq`` [V-1] and a connection receives them in
``seq`` order, so once the fence has arrived every earlier event is in hand, or is a gap that is
itself a failure; none of them may be the forbidden one.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.events import Event as WsEvent
from wsproto.extensions import PerMessageDeflate
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from seenby.contract.vocabulary import ON_RECV_NEW_MESSAGE, ON_REPLAY_GAP
from seenby.harness.api.models import Event
from seenby.harness.wire.transport import (
    DEFAULT_TIMEOUT,
    AnswerTooLarge,
    ApiError,
    NoAnswer,
    ProtocolViolation,
    ViolationLog,
    WireOptions,
    check_envelope,
    decode_body,
)
from seenby.harness.wire.validation import PayloadContext, SchemaViolation, check

__all__ = [
    "EventInbox",
    "PushStream",
    "SeqGap",
    "UnexpectedEvent",
    "WaitTimeout",
    "WebSocketPushStream",
]

_EVENTS_METHOD = "events"
_CLOSE_GRACE_SECONDS = 2.0
_CLOSE_NORMAL = 1000
_CLOSE_MESSAGE_TOO_BIG = 1009
_READ_CHUNK_BYTES = 16 * 1024
"""Bytes read from the socket at a time: small, so that a compressed frame cannot inflate
far past the cap before it is checked."""
_SUMMARY_EVENTS_SHOWN = 20


class WaitTimeout(AssertionError):
    """``PushStream.wait_for`` saw no matching event before its deadline."""


class UnexpectedEvent(AssertionError):
    """``PushStream.expect_none`` saw an event it was told must not arrive, or the events before
    its fence had a ``seq`` gap."""


@dataclass(frozen=True)
class SeqGap:
    """Event numbering broke: after ``expected - 1`` came ``received`` instead of ``expected``."""

    expected: int
    received: int


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
        self,
        *,
        owner: str,
        target: str,
        violations: ViolationLog,
        since: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.owner = owner
        self.target = target
        self.since = since
        self.timeout = timeout
        """How long a wait on this stream may take unless told otherwise (the time budget)."""
        self.unavailable: dict[str, str] = {}
        """Event names the target is known never to deliver (a failed preflight), each with the
        reason: a wait for one of them fails at once instead of waiting out its timeout."""
        self._violations = violations
        # Reentrant, so a failure found while holding it can be recorded without unlocking.
        self._condition = threading.Condition(threading.RLock())
        self._events: list[Event] = []
        self._seq_gaps: list[SeqGap] = []
        self._failures: list[AssertionError] = []
        self._listeners: list[Callable[[Event], None]] = []
        # Orders the delivery of each frame to the listeners against add_listener, so a
        # listener added from_start sees every event exactly once: in the backlog or after it.
        self._dispatch = threading.RLock()
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

    def add_listener(self, callback: Callable[[Event], None], *, from_start: bool = False) -> None:
        """Call ``callback(event)`` for every later event, on the thread that receives it and
        before the event is visible to ``wait_for``; with ``from_start``, first for every event
        received so far, in order, so that a listener added just after the connection opened
        misses none of its first (replayed) frames."""
        with self._dispatch:
            with self._condition:
                backlog = list(self._events) if from_start else []
                self._listeners.append(callback)
            for event in backlog:
                self._tell(callback, event)

    def wait_for(
        self,
        predicate: Callable[[Event], bool],
        timeout: float | None = None,
        description: str = "a matching event",
        *,
        event: str | None = None,
    ) -> Event:
        """The first event so far or within ``timeout`` seconds (default: the stream's budget)
        for which ``predicate`` holds; ``event`` names the event kind awaited, if one.

        Raises ``WaitTimeout`` (saying what was expected, what arrived and from which target)
        when none does — at once if ``event`` is one the target is known never to deliver —
        and the first of ``failures`` if a frame broke the contract.
        """
        budget = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        checked = 0
        with self._condition:
            while True:
                self._raise_failure()
                for candidate in self._events[checked:]:
                    if predicate(candidate):
                        return candidate
                checked = len(self._events)
                remaining = deadline - time.monotonic()
                known_missing = self.unavailable.get(event) if event is not None else None
                if self._ended or remaining <= 0 or known_missing is not None:
                    if known_missing is not None:
                        why = f"the preflight found that {known_missing}"
                    elif self._ended:
                        why = "the connection closed"
                    else:
                        why = f"{budget:g} s passed"
                    raise WaitTimeout(self._describe(f"expected {description}, but {why}"))
                self._condition.wait(remaining)

    def expect_none(
        self,
        predicate: Callable[[Event], bool],
        *,
        fence: Callable[[], str],
        description: str = "a matching event",
    ) -> None:
        """Prove that no event matching ``predicate`` came before a fence.

        ``fence()`` makes the target send this stream's user a new message, caused after the
        action under test returned, and returns its ``msgID``. Once that message's event has
        arrived, every event with a lower ``seq`` must be in hand (a missing one is waited for,
        then named) and none of them may match ``predicate``. Events received before the call
        count too; the fence event itself never does.
        """
        fence_id = fence()
        fence_event = self.wait_for(
            lambda e: e.name == ON_RECV_NEW_MESSAGE and e.data.get("msgID") == fence_id,
            description=f"the fence message {fence_id} (sent to prove an absence)",
            event=ON_RECV_NEW_MESSAGE,
        )
        missing = self._missing_before(fence_event.seq)
        if missing:
            raise UnexpectedEvent(
                self._describe(
                    f"expected every event before the fence (seq {fence_event.seq}), but seq "
                    f"skipped {_ranges(missing)}: those events never arrived"
                )
            )
        with self._condition:
            before = [e for e in self._events if e.seq < fence_event.seq and e is not fence_event]
        for candidate in before:
            if predicate(candidate):
                raise UnexpectedEvent(
                    self._describe(f"expected no {description}, but got {candidate.summary()}")
                )

    def _missing_before(self, fence_seq: int) -> list[int]:
        """The ``seq`` numbers this connection should have delivered before ``fence_seq`` but
        has not, after waiting up to the stream's budget for them to arrive."""
        deadline = time.monotonic() + self.timeout
        with self._condition:
            while True:
                seen = {e.seq for e in self._events}
                first = self.since + 1 if self.since is not None else min(seen)
                # Events an announced replay gap says were discarded are not missing [§6.1].
                gaps = [e.seq for e in self._events if e.name == ON_REPLAY_GAP]
                if gaps:
                    first = max(first, max(gaps))
                missing = [seq for seq in range(first, fence_seq) if seq not in seen]
                remaining = deadline - time.monotonic()
                if not missing or self._ended or remaining <= 0:
                    return missing
                self._condition.wait(remaining)

    def receive(self, text: str) -> None:
        """Take one text frame: validate it, track its ``seq``, keep it, tell the listeners."""
        self._violations.transcript.push(self.owner, text)
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
        with self._dispatch:
            with self._condition:
                listeners = list(self._listeners)
            # Listeners run before the event becomes visible, so once wait_for returns an event,
            # every SDK-style callback for it has already been called.
            for listener in listeners:
                self._tell(listener, event)
            with self._condition:
                self._track_seq(event)
                self._events.append(event)
                self._condition.notify_all()

    def _tell(self, listener: Callable[[Event], None], event: Event) -> None:
        try:
            listener(event)
        except Exception as error:  # a listener bug must not kill the reader thread
            failure = AssertionError(f"push listener failed on {event.summary()}: {error!r}")
            self._fail(failure, contract=False)

    def finish(self, close_code: int | None = None) -> None:
        """Mark the connection over; waits stop waiting for more events."""
        with self._condition:
            self._ended = True
            if close_code is not None:
                self.close_code = close_code
            self._condition.notify_all()

    def _track_seq(self, event: Event) -> None:
        """Record a ``SeqGap`` unless ``event.seq`` follows the previous one (caller locks)."""
        if event.name == ON_REPLAY_GAP:
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


class PushStream(EventInbox, ABC):
    """One push connection of one user, whatever carries it: a driver feeds the ``EventInbox``
    it is from its target's push channel, and says how to close it and how to lose it."""

    def __enter__(self) -> PushStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @abstractmethod
    def close(self) -> None:
        """Close the connection politely; waits on it stop waiting."""

    @abstractmethod
    def drop(self) -> None:
        """End the connection as a lost network would (no goodbye to the target)."""


class WebSocketPushStream(PushStream):
    """One push connection (``GET /v1/events``) of one user, read by a background thread
    that feeds the ``EventInbox`` it is. A refused upgrade raises ``ApiError``; no upgrade
    answer within the time budget raises ``NoAnswer``.

    The WebSocket is spoken with wsproto over a plain or TLS socket: the path is the target
    URL's own (a base path is kept), ``permessage-deflate`` is offered and honoured, the
    server's pings are answered, and no message is held past ``options.max_answer_bytes``: a
    larger one fails the stream (``AnswerTooLarge``) and closes it with 1009.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        owner: str,
        violations: ViolationLog,
        since: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        options: WireOptions | None = None,
    ) -> None:
        super().__init__(
            owner=owner,
            target=base_url.rstrip("/"),
            violations=violations,
            since=since,
            timeout=timeout,
        )
        self._options = WireOptions.from_environment() if options is None else options
        self._closing = False
        # wsproto is not thread-safe: the reader and the closing thread share it under this.
        self._ws_lock = threading.Lock()
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._early_events: list[WsEvent] = []
        self._early_refused_frame = False
        self._socket = self._connect(token, timeout)
        self._reader = threading.Thread(
            target=self._read_frames, name=f"seenby-push-{owner}", daemon=True
        )
        self._reader.start()

    def close(self) -> None:
        """Close the connection politely (Close frame, then wait briefly for the reply)."""
        with self._condition:
            if self._closing:
                return
            self._closing = True
        with contextlib.suppress(OSError, LocalProtocolError):
            self._send(CloseConnection(_CLOSE_NORMAL))  # fails only if already gone
        self._reader.join(_CLOSE_GRACE_SECONDS)
        self._cut()
        self._reader.join(_CLOSE_GRACE_SECONDS)
        with contextlib.suppress(OSError):
            self._socket.close()

    def drop(self) -> None:
        """Cut the TCP connection without a Close frame, as a lost network looks to the server."""
        self._cut()
        self.close()

    def _cut(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)

    def _send(self, event: WsEvent) -> None:
        with self._ws_lock:
            self._socket.sendall(self._ws.send(event))

    def _connect(self, token: str, timeout: float) -> socket.socket:
        """Open the socket and complete the upgrade, all within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        parts = urlsplit(self.target)
        secure = parts.scheme == "https"
        host = parts.hostname or ""
        port = parts.port or (443 if secure else 80)
        route = parts.path.rstrip("/") + "/v1/events"
        if self.since is not None:
            route += f"?since={self.since}"
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as error:
            raise NoAnswer(f"GET {route}: cannot connect to {self.target}: {error}") from error
        try:
            if secure:
                sock = self._options.ssl_context().wrap_socket(sock, server_hostname=host)
            upgrade = Request(
                host=parts.netloc,
                target=route,
                extensions=[PerMessageDeflate()],
                extra_headers=[(b"authorization", f"Bearer {token}".encode())],
            )
            sock.sendall(self._ws.send(upgrade))
            self._await_upgrade(sock, route, deadline, timeout)
        except BaseException:
            sock.close()
            raise
        # The reader blocks until a frame or the close; the server's pings keep the line alive.
        sock.settimeout(None)
        return sock

    def _await_upgrade(
        self, sock: socket.socket, route: str, deadline: float, timeout: float
    ) -> None:
        """Read the upgrade answer: return once accepted, raise ``ApiError`` for a refusal
        (its envelope checked) and ``NoAnswer`` if none is complete by ``deadline``."""
        refusal: RejectConnection | None = None
        body = bytearray()
        cap = self._options.max_answer_bytes
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._violations.transcript.push_failure(
                    self.owner, f"no upgrade answer within the time budget of {timeout:g} s"
                )
                raise NoAnswer(
                    f"GET {route}: no complete upgrade answer from {self.target} within the "
                    f"time budget of {timeout:g} s"
                )
            sock.settimeout(remaining)
            try:
                data = sock.recv(_READ_CHUNK_BYTES)
            except TimeoutError:
                continue
            except OSError as error:
                raise NoAnswer(f"GET {route}: connection to {self.target} lost: {error}") from error
            try:
                self._ws.receive_data(data or None)
                events = list(self._ws.events())
            except RemoteProtocolError as error:
                raise ProtocolViolation(
                    f"GET {route}: the upgrade answer is not valid HTTP/WebSocket: {error} "
                    f"[target {self.target}]"
                ) from None
            for number, event in enumerate(events):
                if isinstance(event, AcceptConnection):
                    self._early_events = events[number + 1 :]
                    self._early_refused_frame = self._ws.state is ConnectionState.OPEN
                    return
                if isinstance(event, RejectConnection):
                    refusal = event
                elif isinstance(event, RejectData):
                    body += event.data
                    if len(body) > cap:
                        raise AnswerTooLarge(
                            f"GET {route}: the refusal's body went past the cap of {cap:,} bytes "
                            f"[target {self.target}]"
                        )
                    if event.body_finished and refusal is not None:
                        self._refused(refusal, bytes(body))
            if not data:
                if refusal is not None:
                    self._refused(refusal, bytes(body))
                raise NoAnswer(
                    f"GET {route}: {self.target} closed the connection before answering the upgrade"
                )

    def _refused(self, refusal: RejectConnection, body: bytes) -> None:
        headers = {name.decode("latin-1").lower(): value.decode("latin-1")
                   for name, value in refusal.headers}  # fmt: skip
        try:
            body = decode_body(
                body, headers.get("content-encoding", ""), self._options.max_answer_bytes
            )
        except ProtocolViolation as problem:
            violation = type(problem)(f"GET /v1/events refused: {problem} [target {self.target}]")
            self._violations.record(violation)
            raise violation from None
        envelope = check_envelope(
            _EVENTS_METHOD,
            refusal.status_code,
            body,
            headers.get("content-type", ""),
            target=self.target,
            violations=self._violations,
        )
        raise ApiError(
            _EVENTS_METHOD, envelope["code"], envelope["desc"], refusal.status_code, self.target
        )

    def _read_frames(self) -> None:
        close_code = None
        message: list[str] = []
        size = 0
        cap = self._options.max_answer_bytes
        # Frames that came with the upgrade answer are handled first.
        events, refused_frame = self._early_events, self._early_refused_frame
        data = b"(upgrade)"
        try:
            while True:
                for event in events:
                    if isinstance(event, Ping):
                        self._send(event.response())  # wsproto does not pong by itself
                    elif isinstance(event, CloseConnection):
                        close_code = event.code
                        if refused_frame and not self._closing:
                            problem = f"sent an invalid frame ({event.code}): {event.reason}"
                            self._violations.transcript.push_failure(self.owner, problem)
                            self._fail(ProtocolViolation(self._describe(problem)))
                        with contextlib.suppress(OSError, LocalProtocolError):
                            self._send(event.response())
                        return
                    elif isinstance(event, TextMessage):
                        size += len(event.data)
                        if size > cap:
                            self._too_large(cap)
                            return
                        message.append(event.data)
                        if event.message_finished:
                            self.receive("".join(message))
                            message, size = [], 0
                    elif isinstance(event, BytesMessage) and event.message_finished:
                        problem = self._describe("received a non-text frame")
                        self._fail(ProtocolViolation(problem))
                if not data:
                    return
                data = self._socket.recv(_READ_CHUNK_BYTES)
                try:
                    with self._ws_lock:
                        self._ws.receive_data(data or None)
                        events = list(self._ws.events())
                        # A Close event while still open is wsproto's own verdict on a frame.
                        refused_frame = self._ws.state is ConnectionState.OPEN
                except RemoteProtocolError as error:
                    self._fail(ProtocolViolation(self._describe(f"broke the framing: {error}")))
                    return
        except OSError:
            pass  # connection lost, or cut by close(): `closed` reports it either way
        finally:
            self.finish(close_code)

    def _too_large(self, cap: int) -> None:
        """Fail the stream on a message past the cap, and close it with 1009."""
        self._violations.transcript.push_failure(
            self.owner, f"a message went past the cap of {cap:,} characters and was cut off"
        )
        problem = f"received a message over the cap of {cap:,} characters (--max-answer-bytes)"
        self._fail(AnswerTooLarge(self._describe(problem)))
        with contextlib.suppress(OSError, LocalProtocolError):
            self._send(CloseConnection(_CLOSE_MESSAGE_TOO_BIG, "message too big"))
        self._cut()


def _ranges(numbers: list[int]) -> str:
    """``[3, 4, 5, 9]`` → ``"3-5, 9"``."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
