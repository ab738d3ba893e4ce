"""A lean HTTP/1.1 keep-alive client for seenby's JSON calls.

The load generator must cost the server's machine as little as possible, so requests are
serialised once into bytes (`encode_call`) and replayed over a raw socket; the response parser
only understands what an HTTP/1.1 server with `Content-Length` bodies sends. `http.client`
would parse every header block with the `email` package, which on 2 cores takes CPU away from
the server being measured.
"""

from __future__ import annotations

import json
import socket
from typing import Any

_HEAD_END = b"\r\n\r\n"
_READ_SIZE = 65536


class WireError(RuntimeError):
    """A call answered with something other than HTTP 200 and envelope code 0."""

    def __init__(self, path: str, status: int, body: bytes) -> None:
        super().__init__(f"POST {path} -> HTTP {status}: {body[:300]!r}")
        self.path = path
        self.status = status
        self.body = body


def encode_call(host: str, port: int, method: str, body: Any, token: str | None) -> bytes:
    """Serialise `POST /v1/<method>` with a JSON body and an optional bearer token."""
    payload = json.dumps(body, separators=(",", ":")).encode()
    lines = [
        f"POST /v1/{method} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
    ]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class KeepAliveConnection:
    """One persistent connection; `send` a request's bytes, get `(status, body)` back."""

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.host = host
        self.port = port
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = bytearray()

    def send(self, request: bytes) -> tuple[int, bytes]:
        """Send one serialised request and read its whole response."""
        self._sock.sendall(request)
        while (head_end := self._buffer.find(_HEAD_END)) < 0:
            self._fill()
        head = bytes(self._buffer[:head_end]).decode("latin-1")
        del self._buffer[: head_end + len(_HEAD_END)]
        status_line, *header_lines = head.split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        length = 0
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        while len(self._buffer) < length:
            self._fill()
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        return status, body

    def call(self, method: str, body: Any, token: str | None) -> Any:
        """Make one call and return the envelope's `data`; raise `WireError` unless code 0."""
        status, raw = self.send(encode_call(self.host, self.port, method, body, token))
        if status != 200:
            raise WireError(method, status, raw)
        envelope = json.loads(raw)
        if envelope.get("code") != 0:
            raise WireError(method, status, raw)
        return envelope["data"]

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()

    def _fill(self) -> None:
        chunk = self._sock.recv(_READ_SIZE)
        if not chunk:
            raise ConnectionError(f"{self.host}:{self.port} closed the connection mid-response")
        self._buffer += chunk

    def __enter__(self) -> KeepAliveConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
