"""Reading an HTTP/1.1 request's header block: a lean replacement for ``http.client``'s parser.

The stdlib parses every header block with the ``email`` package, which cost about a quarter of
the server's CPU per receipt. The protocol reads a handful of fields, so this reads the lines
itself (RFC 9112 §5): ``name: value``, at most ``MAX_HEADERS`` fields of at most
``MAX_LINE`` bytes, a name without surrounding whitespace; an obsolete folded line continues
the previous value (joined by a space, as §5.2 allows). Anything else is a malformed request.
"""

from __future__ import annotations

import functools
from typing import Protocol

MAX_HEADERS = 100
MAX_LINE = 65_536
_TOKEN_EXCLUDED = frozenset(' \t"(),/:;<=>?@[\\]{}')


class LineReader(Protocol):
    """A buffered byte stream (the handler's input)."""

    def readline(self, size: int = -1, /) -> bytes:
        """One line, of at most ``size`` bytes."""
        ...


class HeadError(Exception):
    """The header block is malformed; the message says how."""


class Headers:
    """A request's header fields: case-insensitive lookup, repeated fields kept in order."""

    __slots__ = ("_by_name", "_fields")

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields = fields
        self._by_name: dict[str, list[str]] = {}
        for name, value in fields:
            self._by_name.setdefault(_field_key(name) or name.lower(), []).append(value)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of the field ``name``, or ``default``."""
        values = self._by_name.get(name.lower())
        return values[0] if values else default

    def get_all(self, name: str) -> list[str] | None:
        """Every value of the field ``name`` in order, or ``None`` if it is absent."""
        return self._by_name.get(name.lower())

    def items(self) -> list[tuple[str, str]]:
        """Every (name, value) in the order received."""
        return list(self._fields)


def read_headers(rfile: LineReader) -> Headers:
    """Read header lines up to the empty line that ends them; raise ``HeadError`` if malformed."""
    fields: list[tuple[str, str]] = []
    while True:
        raw = rfile.readline(MAX_LINE + 1)
        if len(raw) > MAX_LINE:
            raise HeadError("a header line is too long")
        if raw in (b"\r\n", b"\n", b""):
            return Headers(fields)
        line = raw.decode("latin-1").rstrip("\r\n")
        if line[0] in " \t":
            if not fields:
                raise HeadError("the header block starts with a continuation line")
            name, value = fields[-1]
            fields[-1] = (name, value + " " + line.strip(" \t"))
            continue
        name, colon, value = line.partition(":")
        if not colon or _field_key(name) is None:
            raise HeadError(f"not a header field: {line[:100]!r}")
        if len(fields) == MAX_HEADERS:
            raise HeadError(f"more than {MAX_HEADERS} header fields")
        fields.append((name, value.strip(" \t")))


@functools.lru_cache(maxsize=256)
def _field_key(name: str) -> str | None:
    """A field name's lookup key (lower case), or ``None`` if it is not a token. Clients send
    the same few names on every request, so each is checked once."""
    return name.lower() if _is_token(name) else None


def _is_token(name: str) -> bool:
    """A field name is a token: visible ASCII without delimiters (RFC 9110 §5.6.2)."""
    return bool(name) and name.isascii() and name.isprintable() and _TOKEN_EXCLUDED.isdisjoint(name)
