"""The HTTP side of the seenby wire: calls to one target, each answer checked against the contract.

``HttpTransport`` sends ``POST /v1/<method>`` and checks every answer before anyone sees it
(``check_envelope``): at the core level the body is a JSON envelope, its data validates against
the method's schema [V-1] and the status agrees with the code (2xx exactly with code 0, 4xx for a
refusal, never 5xx) [E-1], else the answer raises; at the strict level the exact status, the code
table and the strict schemas, whose breaks are recorded as deviations. Every exchange goes into
the target's transcript. Contract violations are ``AssertionError`` subclasses (test failures)
and are also recorded in the target's ``ViolationLog``, so a run can assert none was seen at all.

A hostile target cannot hang or flood a call: each call has one wall-clock deadline, the time
budget, enforced by a watchdog that cuts the call's connection when it passes (a per-read socket
timeout would let an answer trickle in a byte at a time forever), and an answer is read in
chunks and cut off past ``WireOptions.max_answer_bytes`` (after decompression), never read
into memory whole. Both fail the call with the reason, in the transcript too.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import itertools
import json
import os
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests.utils
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from seenby.contract.vocabulary import SUCCESS, code_named, is_refusal_status
from seenby.harness.wire.deviations import Deviation, DeviationLog, strict_check
from seenby.harness.wire.transcript import Transcript
from seenby.harness.wire.validation import PayloadContext, SchemaViolation, check

__all__ = [
    "CA_CERT_VARIABLE",
    "DATA_SCHEMAS",
    "DEFAULT_MAX_ANSWER_BYTES",
    "DEFAULT_TIMEOUT",
    "MAX_ANSWER_BYTES_VARIABLE",
    "AnswerTooLarge",
    "ApiError",
    "HttpTransport",
    "NoAnswer",
    "ProtocolViolation",
    "ServerFault",
    "ViolationLog",
    "WireOptions",
    "WireResponse",
    "answer_size",
    "check_envelope",
    "decode_body",
    "status_deviation",
    "time_budget",
]

DEFAULT_TIMEOUT = 10.0
"""The default time budget: seconds any single wait may take (an HTTP call, a WebSocket
handshake, a pushed event). ``seenby run --timeout`` / ``--seenby-timeout`` set it."""


STATUS_OF_CODE = strict_check("status-of-code", "§1.2", "the HTTP status §1.2 pairs with a code")
JSON_CONTENT_TYPE = strict_check("json-content-type", "§1", "Content-Type of the answer")


def time_budget(text: str) -> float:
    """A time budget given as text (a command-line option, ``SEENBY_TIMEOUT``): a positive
    number of seconds, else ``argparse.ArgumentTypeError`` saying so."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024
"""The default size cap of one answer or push message, decompressed: no correct answer within
the contract's limits comes near it."""
CA_CERT_VARIABLE = "SEENBY_CA_CERT"
"""The environment variable naming the PEM file of the CA that signed the target's certificate
(``--ca-cert`` / ``--seenby-ca-cert`` set it, so that every process of a run shares it)."""
MAX_ANSWER_BYTES_VARIABLE = "SEENBY_MAX_ANSWER_BYTES"
"""The environment variable holding the size cap (``--max-answer-bytes`` sets it)."""


def answer_size(text: str) -> int:
    """A size cap given as text (``--max-answer-bytes``): a whole number of bytes, at least
    1024, else ``argparse.ArgumentTypeError`` saying so."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of bytes, not {text!r}") from None
    if value < 1024:
        raise argparse.ArgumentTypeError(f"must be at least 1024 bytes, not {value}")
    return value


@dataclass(frozen=True)
class WireOptions:
    """How the harness reaches a target beyond its URL: whose CA to trust and how large an
    answer may be. Read from the environment (``from_environment``), which the command-line
    options set for every process of a run."""

    ca_cert: str | None = None
    """A PEM file of CA certificates to trust for ``https://`` targets (else the system's)."""
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES

    @classmethod
    def from_environment(cls) -> WireOptions:
        """The options ``SEENBY_CA_CERT`` and ``SEENBY_MAX_ANSWER_BYTES`` give, else defaults;
        a malformed cap raises ``ValueError`` naming the variable."""
        cap_text = os.environ.get(MAX_ANSWER_BYTES_VARIABLE)
        try:
            cap = DEFAULT_MAX_ANSWER_BYTES if not cap_text else answer_size(cap_text)
        except argparse.ArgumentTypeError as error:
            raise ValueError(f"{MAX_ANSWER_BYTES_VARIABLE} {error}") from None
        return cls(ca_cert=os.environ.get(CA_CERT_VARIABLE) or None, max_answer_bytes=cap)

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context that verifies the target against ``ca_cert`` (or the system's
        CAs) and checks its host name."""
        return ssl.create_default_context(cafile=self.ca_cert)


def decode_body(content: bytes, coding: str, cap: int) -> bytes:
    """``content`` decoded as its ``Content-Encoding`` says (``gzip``, ``deflate`` or none),
    for a body read outside urllib3; ``ProtocolViolation`` for another coding or a body that
    does not decode, ``AnswerTooLarge`` once it inflates past ``cap`` bytes."""
    coding = coding.strip().lower()
    if coding in ("", "identity"):
        return content
    if coding not in ("gzip", "x-gzip", "deflate"):
        raise ProtocolViolation(f"the body is in an unknown Content-Encoding {coding!r}")
    attempts = (16 + zlib.MAX_WBITS,) if "gzip" in coding else (zlib.MAX_WBITS, -zlib.MAX_WBITS)
    for window in attempts:
        decoder = zlib.decompressobj(window)
        try:
            decoded = decoder.decompress(content, cap + 1)
        except zlib.error:
            continue  # deflate may come raw, without the zlib header
        if len(decoded) > cap:
            raise AnswerTooLarge(f"the body inflates past the cap of {cap:,} bytes")
        return decoded
    raise ProtocolViolation(f"the body does not decode as its Content-Encoding {coding!r}")


_SWITCHING_PROTOCOLS = 101
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


class ApiError(Exception):
    """The target answered with a non-zero ``code`` (a well-formed error, not a fault)."""

    def __init__(self, method: str, code: int, desc: str, http_status: int, target: str) -> None:
        self.method = method
        self.code = code
        self.desc = desc
        self.http_status = http_status
        self.target = target
        super().__init__(f"{method} → {code} (HTTP {http_status}): {desc} [target {target}]")


class NoAnswer(ConnectionError):
    """The target gave no HTTP answer: unreachable, timed out, or the connection broke midway.
    Whether a call that got none took effect is unknown."""


class ProtocolViolation(AssertionError):
    """An answer the protocol forbids beyond what schemas express (status/code mismatch, a body
    that is not JSON, a replay gap frame that does not add up)."""


class ServerFault(ProtocolViolation):
    """The target answered 5xx for something that is not a documented error: a server fault."""


class AnswerTooLarge(ProtocolViolation):
    """An answer (or push message) went past the size cap: it was cut off, not read whole."""


class ViolationLog:
    """Every contract violation seen through one target's clients (thread-safe); beside them,
    every strict deviation (``deviations``) and every exchange (``transcript``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._violations: list[AssertionError] = []
        self.deviations = DeviationLog()
        self.transcript = Transcript()

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


class HttpTransport:
    """HTTP calls to one target with one credential, over keep-alive connections.

    It speaks through ``urllib3`` directly: ``requests`` costs about a millisecond of CPU per
    call in its own machinery (environment proxies read again per call, cookies, hooks), which
    was a sixth of the suite's time. The environment's proxy settings are honoured as
    ``requests`` would honour them, read once. Nothing is retried (a repeated POST could apply a
    receipt twice) and redirects are not followed (an answer is the target's own). A call that
    gets no complete answer within ``timeout`` seconds in all raises ``NoAnswer``; an answer
    past ``options.max_answer_bytes`` raises ``AnswerTooLarge``.
    """

    def __init__(
        self,
        base_url: str,
        credential: str | None,
        *,
        violations: ViolationLog,
        timeout: float = DEFAULT_TIMEOUT,
        actor: str = "anonymous",
        options: WireOptions | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.actor = actor
        """Who this transport acts as, for the transcript (a user ID, ``"admin"``, ...)."""
        self.options = WireOptions.from_environment() if options is None else options
        self._violations = violations
        self._headers = {
            "User-Agent": _USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
        }
        if credential is not None:
            self._headers["Authorization"] = f"Bearer {credential}"
            violations.transcript.add_secret(credential)
        self._pool = _pool_for(self.base_url, self.options)

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
        self._pool.clear()

    def _exchange(
        self,
        http_method: str,
        method: str,
        body: bytes | None,
        headers: Mapping[str, str],
        *,
        path: str | None = None,
    ) -> WireResponse:
        route = path if path is not None else f"/v1/{method}"
        deadline = time.monotonic() + self.timeout
        _CALL.deadline = deadline
        try:
            answer, content = self._fetch(http_method, route, body, headers, deadline)
        except _CutOff as cut:
            self._violations.transcript.failed_http(
                self.actor, http_method, route, headers, body, str(cut), cut.partial
            )
            if cut.too_large:
                violation = AnswerTooLarge(f"{http_method} {route}: {cut} [target {self.base_url}]")
                self._violations.record(violation)
                raise violation from None
            raise NoAnswer(
                f"{http_method} {route}: no answer from {self.base_url}: {cut}"
            ) from cut.__cause__
        finally:
            _CALL.end()
        self._violations.transcript.http(
            self.actor,
            http_method,
            route,
            headers,
            body,
            answer.status,
            answer.headers,
            content,
        )
        if answer.status == _SWITCHING_PROTOCOLS:
            # An upgrade request that was accepted: success, and no envelope follows.
            return WireResponse(method, answer.status, SUCCESS, "upgraded", None, {})
        envelope = check_envelope(
            method,
            answer.status,
            content,
            answer.headers.get("Content-Type", ""),
            target=self.base_url,
            violations=self._violations,
        )
        return WireResponse(
            method=method,
            http_status=answer.status,
            code=envelope["code"],
            desc=envelope["desc"],
            data=envelope["data"],
            headers=dict(answer.headers),
        )

    def _fetch(
        self,
        http_method: str,
        route: str,
        body: bytes | None,
        headers: Mapping[str, str],
        deadline: float,
    ) -> tuple[urllib3.BaseHTTPResponse, bytes]:
        """The answer and its whole (decoded) body, read before ``deadline`` and within the
        size cap; else ``_CutOff`` saying why."""
        cap = self.options.max_answer_bytes
        received = bytearray()
        complete = False
        answer: urllib3.BaseHTTPResponse | None = None
        try:
            answer = self._pool.request(
                http_method,
                self.base_url + route,
                body=body,
                headers={**self._headers, **headers},
                timeout=self.timeout,
                retries=False,
                redirect=False,
                preload_content=False,
            )
            announced = answer.headers.get("Content-Length", "")
            if announced.isdigit() and int(announced) > cap:
                raise _CutOff(
                    f"the answer announces {int(announced):,} bytes, over the cap of "
                    f"{cap:,} (--max-answer-bytes)",
                    too_large=True,
                )
            for chunk in answer.stream(_READ_CHUNK_BYTES, decode_content=True):
                received += chunk
                if len(received) > cap:
                    raise _CutOff(
                        f"the answer went past the cap of {cap:,} bytes (--max-answer-bytes) "
                        "and was cut off",
                        bytes(received[:_PARTIAL_KEPT]),
                        too_large=True,
                    )
            complete = True
        except _CutOff:
            self._discard(answer)
            raise
        except urllib3.exceptions.DecodeError as error:
            self._discard(answer)
            raise _CutOff(
                f"the body could not be decoded as its Content-Encoding says: {error}",
                bytes(received[:_PARTIAL_KEPT]),
            ) from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            self._discard(answer)
            if time.monotonic() >= deadline:
                reason = f"the answer was not complete within the time budget of {self.timeout:g} s"
            else:
                reason = f"{type(error).__name__}: {error}"
            raise _CutOff(reason, bytes(received[:_PARTIAL_KEPT])) from error
        finally:
            if not complete:
                # Failed: the traceback keeps this frame (failures are kept for the run's
                # reports), so the body read so far, up to the cap, must not stay in it.
                received.clear()
        answer.release_conn()
        return answer, bytes(received)

    @staticmethod
    def _discard(answer: urllib3.BaseHTTPResponse | None) -> None:
        """Close the connection of an answer not read to its end (it cannot be reused)."""
        if answer is not None:
            answer.close()
            answer.release_conn()


class _CutOff(Exception):
    """A call that got no complete answer (``too_large``: cut off at the size cap)."""

    def __init__(self, reason: str, partial: bytes = b"", *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.partial = partial
        self.too_large = too_large


_USER_AGENT = "seenby-harness"
_KEPT_CONNECTIONS = 10
"""Keep-alive connections a transport keeps (as ``requests`` did): threads of one scenario may
call as the same user at once."""
_READ_CHUNK_BYTES = 16 * 1024
"""How much of a body is read at a time: small, so that a compressed chunk cannot inflate far
past the cap before the cap is checked."""
_PARTIAL_KEPT = 4096
"""Bytes of a cut-off answer kept for the transcript."""


class _CallDeadline(threading.local):
    """The wall-clock deadline of the call running on this thread, if any, and the watch
    that enforces it on the call's connection."""

    deadline: float | None = None
    watch: _Watch | None = None

    def end(self) -> None:
        """The call is over: no deadline, and its connection is left alone."""
        if self.watch is not None:
            _WATCHDOG.release(self.watch)
        self.deadline = self.watch = None


_CALL = _CallDeadline()


@dataclass(order=True)
class _Watch:
    deadline: float
    number: int
    connection: HTTPConnection = field(compare=False)
    over: bool = field(default=False, compare=False)


class _Watchdog:
    """One thread that cuts the connection of every call still running at its deadline, so
    that a call ends by its deadline however slowly its answer trickles in."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._watches: list[_Watch] = []
        self._numbers = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, connection: HTTPConnection, deadline: float) -> _Watch:
        """Cut ``connection`` at ``deadline`` unless ``release`` comes first."""
        with self._changed:
            watch = _Watch(deadline, next(self._numbers), connection)
            heapq.heappush(self._watches, watch)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="seenby-call-deadlines", daemon=True
                )
                self._thread.start()
            elif self._watches[0] is watch:
                self._changed.notify()
        return watch

    def release(self, watch: _Watch) -> None:
        """The call of ``watch`` is over: leave its connection alone."""
        with self._changed:
            watch.over = True

    def _run(self) -> None:
        with self._changed:
            while True:
                while self._watches and self._watches[0].over:
                    heapq.heappop(self._watches)
                if not self._watches:
                    self._changed.wait()
                    continue
                first = self._watches[0]
                remaining = first.deadline - time.monotonic()
                if remaining > 0:
                    self._changed.wait(remaining)
                    continue
                heapq.heappop(self._watches)
                sock = first.connection.sock
                if sock is not None:
                    with contextlib.suppress(OSError):  # already closed: nothing left to cut
                        sock.shutdown(socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()


class _DeadlineConnectionMixin:
    """Puts each request on this connection, with its answer, under the deadline of the call
    running on this thread (``_CALL``), which releases it when the call is over."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline = _CALL.deadline
        if deadline is not None:
            if _CALL.watch is not None:
                _WATCHDOG.release(_CALL.watch)
            _CALL.watch = _WATCHDOG.watch(self, deadline)  # type: ignore[arg-type]
        super().request(*args, **kwargs)  # type: ignore[misc]


class _DeadlineHTTPConnection(_DeadlineConnectionMixin, HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_DeadlineConnectionMixin, HTTPSConnection):
    pass


# urllib3 declares ConnectionCls as its connection protocol, whose mutable attributes pyright
# holds invariant against the subclasses of urllib3's own connection classes used here.
class _DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection  # pyright: ignore[reportAssignmentType]


class _DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection  # pyright: ignore[reportAssignmentType]


def _pool_for(base_url: str, options: WireOptions) -> urllib3.PoolManager:
    """Connections to ``base_url``: through the proxy the environment names for it (as
    ``requests`` chooses one: ``HTTP(S)_PROXY``, ``ALL_PROXY``, ``NO_PROXY``), else direct;
    trusting ``options.ca_cert`` for TLS, and each request under its call's deadline."""
    settings: dict[str, Any] = {"maxsize": _KEPT_CONNECTIONS}
    if options.ca_cert is not None:
        settings["ca_certs"] = options.ca_cert
    proxy = requests.utils.select_proxy(base_url, requests.utils.get_environ_proxies(base_url))
    manager = (
        urllib3.PoolManager(**settings)
        if proxy is None
        else urllib3.ProxyManager(proxy, **settings)
    )
    manager.pool_classes_by_scheme = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}
    return manager


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
    # The code is part of both answers: each code's status is a choice of its own.
    return STATUS_OF_CODE.deviation(
        f"HTTP {entry.http_status} for code {code}",
        f"HTTP {http_status} for code {code}",
        f"{method} response",
        what=f"HTTP status of code {code}",
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
            JSON_CONTENT_TYPE.deviation("application/json", repr(content_type), where)
        )


def _parse(method: str, http_status: int, content: bytes, target: str) -> dict[str, Any]:
    """The answer's JSON object, unless it is a server fault or not a JSON object at all."""
    excerpt = content[:300].decode("utf-8", errors="replace")
    if http_status >= 500:
        raise ServerFault(
            f"{method} → HTTP {http_status}: server fault: {excerpt} [target {target}]"
        )
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProtocolViolation(
            f"{method} → HTTP {http_status}: body is not valid UTF-8 (byte {error.start}: "
            f"{error.reason}): {excerpt!r} [target {target}]"
        ) from None
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise ProtocolViolation(
            f"{method} → HTTP {http_status}: body is not a JSON object: {excerpt!r} "
            f"[target {target}]"
        )
    return parsed
