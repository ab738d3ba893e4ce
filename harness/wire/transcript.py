"""The wire transcript: every HTTP exchange and push frame seen through one target, in order.

A failing scenario is a riddle without the exchanges that led there, so the harness keeps them:
each HTTP exchange (method, path, status, headers without credentials, bodies cut at
``BODY_LIMIT`` bytes) and each push frame, with its time and the acting user. A scenario takes
its slice (``mark`` / ``since``) and renders it one line per exchange, bodies indented below.

Credentials never appear: ``Authorization`` headers are dropped when recorded, and every secret
the harness learns (the admin key, each user's token) is replaced by ``<redacted>`` in whatever
is rendered.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["BODY_LIMIT", "REDACTED", "TRANSCRIPT_PROPERTY", "Entry", "Transcript", "entries_of"]

BODY_LIMIT = 4096
"""Bytes of a body kept in a transcript; the rest is cut, with its length said."""
REDACTED = "<redacted>"
TRANSCRIPT_PROPERTY = "seenby_transcript"
"""The ``user_properties`` name of the path of a scenario's transcript file."""
_HIDDEN_HEADERS = frozenset({"authorization", "cookie", "set-cookie"})
_SHOWN_HEADERS = frozenset({"content-type", "allow", "connection", "upgrade", "retry-after"})


@dataclass(frozen=True)
class Entry:
    """One exchange (``kind`` ``"http"``) or pushed frame (``kind`` ``"push"``)."""

    at: float
    """``time.monotonic()`` when it was recorded."""
    kind: str
    actor: str
    """Who acted: a user ID, ``"admin"`` or ``"anonymous"``; for a push, the receiving user."""
    line: str
    """The one-line summary (``POST /v1/sendMessage → 200 code 0``)."""
    details: tuple[str, ...] = ()
    """Headers and bodies, one string each."""


class Transcript:
    """The entries of one target's clients, thread-safe, with the secrets to redact."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[Entry] = []
        self._redactor = _Redactor()

    def add_secret(self, secret: str | None) -> None:
        """Never show ``secret`` (a token or key) in anything rendered."""
        if secret:
            with self._lock:
                self._redactor.add(secret)

    def http(
        self,
        actor: str,
        http_method: str,
        path: str,
        request_headers: Mapping[str, str],
        request_body: bytes | None,
        status: int,
        response_headers: Mapping[str, str],
        response_body: bytes,
    ) -> None:
        """Record one HTTP exchange (a token it hands out becomes a secret at once)."""
        envelope = _envelope_of(response_body)
        code = envelope.get("code")
        data = envelope.get("data")
        if isinstance(data, dict) and isinstance(data.get("token"), str):
            self.add_secret(data["token"])
        line = f"{http_method} {path} → HTTP {status}" + (
            f" code {code}" if code is not None else ""
        )
        details = (
            f"request headers: {_headers(request_headers)}",
            f"request body: {_body(request_body)}",
            f"response headers: {_headers(response_headers)}",
            f"response body: {_body(response_body)}",
        )
        self._add(Entry(time.monotonic(), "http", actor, line, details))

    def failed_http(
        self,
        actor: str,
        http_method: str,
        path: str,
        request_headers: Mapping[str, str],
        request_body: bytes | None,
        reason: str,
        partial_body: bytes,
    ) -> None:
        """Record an HTTP call that got no complete answer: why, and what had arrived."""
        details = (
            f"request headers: {_headers(request_headers)}",
            f"request body: {_body(request_body)}",
            f"response body so far: {_body(partial_body)}",
        )
        line = f"{http_method} {path} → no complete answer: {reason}"
        self._add(Entry(time.monotonic(), "http", actor, line, details))

    def push_failure(self, actor: str, reason: str) -> None:
        """Record that ``actor``'s push channel broke the contract or was cut (``reason``)."""
        self._add(Entry(time.monotonic(), "push", actor, f"push channel: {reason}"))

    def push(self, actor: str, frame: str) -> None:
        """Record one text frame pushed to ``actor``."""
        try:
            parsed = json.loads(frame)
            name, seq = parsed.get("event", "?"), parsed.get("seq", "?")
        except (ValueError, AttributeError):
            name, seq = "?", "?"
        line = f"push {name} #{seq}"
        self._add(
            Entry(time.monotonic(), "push", actor, line, (f"frame: {_body(frame.encode())}",))
        )

    def mark(self) -> int:
        """A position: ``since(mark())`` later gives what was recorded after it."""
        with self._lock:
            return len(self._entries)

    def since(self, mark: int) -> list[Entry]:
        """The entries recorded after ``mark``, oldest first."""
        with self._lock:
            return self._entries[mark:]

    def render(self, entries: Iterable[Entry]) -> str:
        """Readable text: a line per entry (time offset, actor, summary), details indented."""
        listed = list(entries)
        if not listed:
            return "(no exchanges)"
        start = listed[0].at
        lines = []
        for entry in listed:
            lines.append(f"+{entry.at - start:7.3f}s  {entry.actor:<24} {entry.line}")
            lines.extend(f"      {detail}" for detail in entry.details)
        return self.redact("\n".join(lines))

    def to_json(self, entries: Iterable[Entry]) -> list[dict[str, object]]:
        """The entries as JSON objects (for reports), redacted, times as offsets."""
        listed = list(entries)
        start = listed[0].at if listed else 0.0
        return [
            {
                "offset_s": round(entry.at - start, 3),
                "kind": entry.kind,
                "actor": entry.actor,
                "line": self.redact(entry.line),
                "details": [self.redact(detail) for detail in entry.details],
            }
            for entry in listed
        ]

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced by ``<redacted>``."""
        with self._lock:
            return self._redactor.redact(text)

    def _add(self, entry: Entry) -> None:
        with self._lock:
            self._entries.append(entry)


class _Redactor:
    """Replaces a growing set of secrets in time that does not grow with their number (a run
    collects thousands of tokens).

    A secret can only occur inside a run of the characters secrets are made of, so only such
    runs are looked at, and in a run only the windows as long as some secret (secrets come in
    a few lengths) are looked up in a set: leftmost first, the longest secret at a position
    first. Not thread-safe: the transcript's lock guards it.
    """

    def __init__(self) -> None:
        self._by_length: dict[int, set[str]] = {}
        self._lengths: list[int] = []
        self._alphabet: set[str] = set()
        self._runs: re.Pattern[str] | None = None

    def add(self, secret: str) -> None:
        if len(secret) not in self._by_length:
            self._by_length[len(secret)] = set()
            self._lengths = sorted(self._by_length, reverse=True)
        self._by_length[len(secret)].add(secret)
        if not self._alphabet.issuperset(secret):
            self._alphabet.update(secret)
            self._runs = re.compile(f"[{re.escape(''.join(sorted(self._alphabet)))}]+")

    def redact(self, text: str) -> str:
        if self._runs is None:
            return text
        return self._runs.sub(self._redact_run, text)

    def _redact_run(self, match: re.Match[str]) -> str:
        run = match.group()
        if len(run) < self._lengths[-1]:
            return run
        kept: list[str] = []
        position = start = 0
        while position <= len(run) - self._lengths[-1]:
            for length in self._lengths:
                if run[position : position + length] in self._by_length[length]:
                    kept += [run[start:position], REDACTED]
                    position = start = position + length
                    break
            else:
                position += 1
        return "".join(kept) + run[start:] if kept else run


def entries_of(rendered: str) -> list[tuple[str, list[str]]]:
    """A rendered transcript back as ``(line, details)`` pairs, for a report to lay out."""
    entries: list[tuple[str, list[str]]] = []
    for line in rendered.splitlines():
        if line.startswith("      ") and entries:
            entries[-1][1].append(line.strip())
        elif line.strip():
            entries.append((line, []))
    return entries


def _headers(headers: Mapping[str, str]) -> str:
    shown = {
        name: value
        for name, value in headers.items()
        if name.lower() in _SHOWN_HEADERS and name.lower() not in _HIDDEN_HEADERS
    }
    return ", ".join(f"{name}: {value}" for name, value in shown.items()) or "-"


def _body(body: bytes | None) -> str:
    if not body:
        return "(empty)"
    text = body[:BODY_LIMIT].decode("utf-8", errors="replace")
    if len(body) > BODY_LIMIT:
        text += f" ... ({len(body):,} bytes in all)"
    return text


def _envelope_of(body: bytes) -> dict[str, object]:
    """The answer's JSON object, or ``{}`` (bodies past ``BODY_LIMIT`` are not parsed)."""
    if len(body) > BODY_LIMIT:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
