"""The HTTP side of the seenby wire: calls to one target, each answer checked against the contract.

``HttpTransport`` sends ``POST /v1/<method>`` and checks every answer before anyone sees it
(``check_envelope``): at the core level the body is a JSON envelope, its data validates against
the method's schema [V-1] and the status agrees with the code (2xx exactly with code 0, 4xx for a
refusal, never 5xx) [E-1], else the answer raises; at the strict level the exact status, the code
table and the strict schemas, whose breaks are recorded as deviations. Every exchange goes into
the target's transcript. Contract violations are ``AssertionError`` subclasses (test failures)
and are also recorded in the target's ``ViolationLog``, so a run can assert none was seen at all.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests.utils
import urllib3

from seenby.contract.vocabulary import SUCCESS, code_named, is_refusal_status
from seenby.harness.deviations import Deviation, DeviationLog
from seenby.harness.transcript import Transcript
from seenby.harness.validation import PayloadContext, SchemaViolation, check

__all__ = [
    "DATA_SCHEMAS",
    "DEFAULT_TIMEOUT",
    "ApiError",
    "HttpTransport",
    "NoAnswer",
    "ProtocolViolation",
    "ServerFault",
    "ViolationLog",
    "WireResponse",
    "check_envelope",
    "status_deviation",
    "time_budget",
]

DEFAULT_TIMEOUT = 10.0
"""The default time budget: seconds any single wait may take (an HTTP call, a WebSocket
handshake, a pushed event). ``seenby run --timeout`` / ``--seenby-timeout`` set it."""


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
    gets no answer raises ``NoAnswer``.
    """

    def __init__(
        self,
        base_url: str,
        credential: str | None,
        *,
        violations: ViolationLog,
        timeout: float = DEFAULT_TIMEOUT,
        actor: str = "anonymous",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.actor = actor
        """Who this transport acts as, for the transcript (a user ID, ``"admin"``, ...)."""
        self._violations = violations
        self._headers = {"User-Agent": _USER_AGENT, "Accept": "application/json"}
        if credential is not None:
            self._headers["Authorization"] = f"Bearer {credential}"
            violations.transcript.add_secret(credential)
        self._pool = _pool_for(self.base_url)

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
        try:
            answer = self._pool.request(
                http_method,
                self.base_url + route,
                body=body,
                headers={**self._headers, **headers},
                timeout=self.timeout,
                retries=False,
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as error:
            raise NoAnswer(
                f"{http_method} {route}: no answer from {self.base_url}: "
                f"{type(error).__name__}: {error}"
            ) from error
        self._violations.transcript.http(
            self.actor,
            http_method,
            route,
            headers,
            body,
            answer.status,
            answer.headers,
            answer.data,
        )
        if answer.status == _SWITCHING_PROTOCOLS:
            # An upgrade request that was accepted: success, and no envelope follows.
            return WireResponse(method, answer.status, SUCCESS, "upgraded", None, {})
        envelope = check_envelope(
            method,
            answer.status,
            answer.data,
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


_USER_AGENT = "seenby-harness"
_KEPT_CONNECTIONS = 10
"""Keep-alive connections a transport keeps (as ``requests`` did): threads of one scenario may
call as the same user at once."""


def _pool_for(base_url: str) -> urllib3.PoolManager:
    """Connections to ``base_url``: through the proxy the environment names for it (as
    ``requests`` chooses one: ``HTTP(S)_PROXY``, ``ALL_PROXY``, ``NO_PROXY``), else direct."""
    proxy = requests.utils.select_proxy(base_url, requests.utils.get_environ_proxies(base_url))
    if proxy is None:
        return urllib3.PoolManager(maxsize=_KEPT_CONNECTIONS)
    return urllib3.ProxyManager(proxy, maxsize=_KEPT_CONNECTIONS)


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
