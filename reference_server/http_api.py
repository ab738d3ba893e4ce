"""The HTTP side of the reference server: stdlib ``http.server`` translating wire to domain.

A request is framed (Content-Length only, 1 MiB checked before reading), routed, authenticated,
parsed strictly (UTF-8, JSON without duplicate keys, depth <= 32, numbers within +/-2^53, an
object), handed to ``methods.METHODS``, and answered with the envelope. ``ReceiptError`` becomes
an envelope here and nowhere else; any other exception is a 90500 whose traceback stays in the
server log. Timeouts bound every read: a keep-alive connection idle for 60 s is closed, and a
request (head and body, or a WebSocket handshake) must arrive whole within 10 s of its first
byte or the connection is dropped.

Per receipt, ``http.server``'s own request handling cost more than the receipt rules: the
request head is read by ``http_head`` instead of the ``email`` package, the ``Date`` header is
formatted once per second, and an answer's head and body leave in one write.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import math
import socket
import socketserver
import struct
import sys
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from seenby.contract import vocabulary
from seenby.contract.vocabulary import Code
from seenby.reference_server.domain import Admin, Caller, Credential, ReceiptService
from seenby.reference_server.http_head import HeadError, read_headers
from seenby.reference_server.methods import METHODS, AdminMethod
from seenby.reference_server.push import PushHub, UpgradeRequest
from seenby.reference_server.values import JsonObject, JsonValue, ReceiptError

log = logging.getLogger("seenby.reference_server")

MAX_BODY_BYTES = vocabulary.BODY_MAX_BYTES.value
MAX_JSON_DEPTH = vocabulary.NESTING_MAX.value
MAX_SAFE_INTEGER = vocabulary.SAFE_INTEGER_MAX.value
_MAX_REQUEST_LINE = 65_536
_LINGER_SECONDS = 1.0


CAPABILITIES_PATH = "/v1/capabilities"
EVENTS_PATH = "/v1/events"
_METHOD_PREFIX = "/v1/"


@dataclass(frozen=True)
class Timeouts:
    """How long the server waits on a peer, in seconds."""

    idle: float = float(vocabulary.IDLE_SECONDS.value)
    """A keep-alive connection without a request, or a push peer without a frame."""
    request: float = float(vocabulary.REQUEST_SECONDS.value)
    """From a request's first byte to its last (head and body, or a WebSocket handshake)."""


def _malformed(desc: str) -> ReceiptError:
    return ReceiptError(Code.MALFORMED_BODY, desc)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        keys = [key for key, _ in pairs]
        duplicate = next(key for key in keys if keys.count(key) > 1)
        raise _malformed(f"the body repeats the key {duplicate!r}")
    return result


def _safe_int(text: str) -> int:
    # Checking the length first keeps int() away from huge digit strings.
    if len(text.lstrip("-")) > 16 or abs(int(text)) > MAX_SAFE_INTEGER:
        raise _malformed("numbers must be within +/-2^53")
    return int(text)


def _safe_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or abs(value) > MAX_SAFE_INTEGER:
        raise _malformed("numbers must be within +/-2^53")
    return value


def _no_constant(name: str) -> float:
    raise _malformed(f"{name} is not JSON")


def _check_strings_and_depth(value: JsonValue) -> None:
    """Depth <= 32 and no unpaired surrogate escapes (they are not Unicode text)."""
    stack: list[tuple[JsonValue, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise _malformed(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise _malformed("the body holds an unpaired surrogate escape") from None


# One decoder and one encoder for every request: ``json.loads``/``json.dumps`` with options
# build a new one per call, a measurable share of a receipt's CPU.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_keys,
    parse_int=_safe_int,
    parse_float=_safe_float,
    parse_constant=_no_constant,
)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def parse_body(raw: bytes) -> JsonObject:
    """A request body as a JSON object, or ``ReceiptError(90006)`` saying what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed("the body is not valid UTF-8") from None
    try:
        if text.startswith("\ufeff"):  # as json.loads refuses it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = _DECODER.decode(text)
    except RecursionError:
        raise _malformed(f"the body nests deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as error:
        raise _malformed(
            f"the body is not JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    if not isinstance(value, dict):
        raise _malformed("the body must be a JSON object")
    _check_strings_and_depth(value)
    return value


class _DeadlineInput(io.RawIOBase):
    """A connection's input whose reads share one deadline while a request is being read.

    A per-read timeout alone lets a client trickle a request one byte at a time forever; with
    ``deadline`` set, each read gets only the time left, so the whole head and body must arrive
    in time. With ``deadline`` ``None`` a read waits up to the idle timeout.

    The socket stays in blocking mode and the kernel enforces the timeouts (``SO_RCVTIMEO``,
    ``SO_SNDTIMEO``; writes always get the idle timeout). A Python-level socket timeout makes
    every ``recv`` and ``send`` a ``poll`` plus the call, and every ``settimeout`` an ``ioctl``:
    each one a release and re-acquisition of the GIL, four more per request than the no-op
    stack pays. The kernel's read timeout is changed only when a read must wait mid-request.
    """

    def __init__(self, sock: socket.socket, idle: float) -> None:
        super().__init__()
        self._sock = sock
        self._idle = idle
        self.deadline: float | None = None
        sock.settimeout(None)
        _set_kernel_timeout(sock, socket.SO_SNDTIMEO, idle)
        _set_kernel_timeout(sock, socket.SO_RCVTIMEO, idle)
        self._read_timeout = idle

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the request did not arrive in time")
            self._set_read_timeout(remaining)
        try:
            return self._sock.recv_into(buffer)
        except BlockingIOError:  # the kernel's read timeout expired
            raise TimeoutError("the peer sent nothing in time") from None

    def end_deadline(self) -> None:
        """The request is in (or not begun): reads wait up to the idle timeout again."""
        self.deadline = None
        if self._read_timeout != self._idle:
            self._set_read_timeout(self._idle)

    def _set_read_timeout(self, seconds: float) -> None:
        _set_kernel_timeout(self._sock, socket.SO_RCVTIMEO, seconds)
        self._read_timeout = seconds


def _set_kernel_timeout(sock: socket.socket, option: int, seconds: float) -> None:
    """Set ``SO_RCVTIMEO`` or ``SO_SNDTIMEO`` (a ``struct timeval``; never 0, which is none)."""
    if sys.platform == "win32":  # a DWORD of milliseconds there
        sock.setsockopt(socket.SOL_SOCKET, option, max(1, math.ceil(seconds * 1000)))
        return
    whole = int(seconds)
    micro = int((seconds - whole) * 1_000_000)
    if whole == 0 and micro == 0:
        micro = 1
    sock.setsockopt(socket.SOL_SOCKET, option, struct.pack("@ll", whole, micro))


class _DropConnection(Exception):
    """The peer stalled or vanished mid-request: close without answering."""


class _MethodNotAllowed(ReceiptError):
    """90004, with the method the path does accept (for the ``Allow`` header)."""

    def __init__(self, path: str, allowed: str) -> None:
        super().__init__(Code.METHOD_NOT_ALLOWED, f"{path} accepts only {allowed} requests")
        self.allowed = allowed


class ReceiptHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that counts and can close its connections."""

    daemon_threads = True
    block_on_close = False
    # socketserver's default backlog of 5 resets connections under a burst of clients.
    request_queue_size = socket.SOMAXCONN

    def __init__(
        self,
        address: tuple[str, int],
        service: ReceiptService,
        hub: PushHub,
        timeouts: Timeouts,
        max_connections: int,
    ) -> None:
        self.service = service
        self.hub = hub
        self.timeouts = timeouts
        self._max_connections = max_connections
        self._connections: set[socket.socket] = set()
        self._connections_changed = threading.Condition()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, RequestHandler)

    def server_bind(self) -> None:
        """Bind without the stdlib's reverse-DNS lookup of the host (it can stall startup)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        """Start a handler thread, or close the connection at once past the connection cap."""
        with self._connections_changed:
            if len(self._connections) >= self._max_connections:
                self.shutdown_request(request)
                return
            self._connections.add(request)
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection, then forget it."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_changed:
                self._connections.discard(request)
                self._connections_changed.notify_all()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a handler failure; a peer that went away is not worth a traceback."""
        if isinstance(sys.exc_info()[1], OSError):
            log.debug("connection from %s failed", client_address, exc_info=True)
        else:
            log.exception("connection from %s failed", client_address)

    def close_connections(self, timeout: float) -> None:
        """Cut every open connection and wait (up to ``timeout``) for their threads to end."""
        with self._connections_changed:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            deadline = time.monotonic() + timeout
            while self._connections and time.monotonic() < deadline:
                self._connections_changed.wait(deadline - time.monotonic())


class RequestHandler(BaseHTTPRequestHandler):
    """One connection: keep-alive HTTP/1.1 requests, or one upgraded push channel."""

    protocol_version = "HTTP/1.1"
    server_version = "seenby-reference/0.1.0"
    # Headers and body leave in separate writes; with Nagle on, the body waits for the peer's
    # delayed ACK (~40 ms per answer).
    disable_nagle_algorithm = True
    # Narrowed: this handler only ever serves a ReceiptHTTPServer.
    server: ReceiptHTTPServer  # pyright: ignore[reportIncompatibleVariableOverride]

    def setup(self) -> None:
        """The stdlib's output stream, and buffered input over a :class:`_DeadlineInput`."""
        super().setup()
        self.rfile.close()  # the stdlib's reader is replaced (closing it keeps no socket ref)
        self._input = _DeadlineInput(self.connection, self.server.timeouts.idle)
        self.reader = io.BufferedReader(self._input)
        self.rfile = self.reader
        self._body_read = False
        self._server_header = f"Server: {self.version_string()}\r\n"

    def log_message(self, format: str, *args: Any) -> None:
        """Per-request lines go to the debug log, so the server is quiet by default."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s", self.address_string(), format % args)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header's value, formatted once per second."""
        if timestamp is not None:
            return formatdate(timestamp, usegmt=True)
        return _http_date(int(time.time()))

    def parse_request(self) -> bool:
        """The request line as ``http.server`` reads it, then the head by ``http_head``.

        Returns whether the request can be answered; if not, the answer has been sent.
        """
        self.command = ""
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if not words:
            return False
        if len(words) == 3:
            version = words[2]
            number = _http_version(version)
            if number is None:
                self.send_error(400, f"Bad request version ({version!r})")
                return False
            if number >= (2, 0):
                self.send_error(505, f"Invalid HTTP version ({version})")
                return False
            self.close_connection = number < (1, 1)
            self.request_version = version
        elif len(words) != 2 or words[0] != "GET":  # two words: an HTTP/0.9 GET
            self.send_error(400, f"Bad request syntax ({self.requestline!r})")
            return False
        self.command, self.path = words[0], words[1]
        try:
            self.headers = read_headers(self.rfile)  # type: ignore[assignment]
        except HeadError as error:
            self.send_error(400, str(error))
            return False
        connection = (self.headers.get("Connection") or "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        return True

    def handle_one_request(self) -> None:
        """Wait (idle timeout) for a request, then read and answer it (request timeout)."""
        timeouts = self.server.timeouts
        try:
            self._end_request_deadline()
            if not self.reader.peek(1):
                self.close_connection = True
                return
            self._input.deadline = time.monotonic() + timeouts.request
            self.raw_requestline = self.rfile.readline(_MAX_REQUEST_LINE + 1)
            self._body_read = False
            if len(self.raw_requestline) > _MAX_REQUEST_LINE:
                self.requestline = self.request_version = self.command = ""
                self.close_connection = True
                self._send_error(_malformed("the request line is too long"))
                return
            if not self.parse_request():
                return
            self._answer()
            self.wfile.flush()
        except (OSError, _DropConnection):
            self.close_connection = True

    def handle_expect_100(self) -> bool:
        """Defer ``100 Continue`` until the body's size has been accepted (see ``_read_body``)."""
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed HTTP (as found by ``parse_request``) is answered with the envelope."""
        self.close_connection = True
        self.request_version = self.protocol_version  # answer with a status line, even to junk
        self._send_error(_malformed(f"malformed HTTP request: {message or code}"))

    # -- one request ---------------------------------------------------------------------------

    def _answer(self) -> None:
        try:
            self._route_and_call()
        except ReceiptError as error:
            self._send_error(error)
        except (OSError, _DropConnection):
            raise
        except Exception:
            log.exception("internal error answering %s %s", self.command, self.path)
            self.close_connection = True
            self._send_error(ReceiptError(Code.INTERNAL_ERROR, "internal server error"))

    def _route_and_call(self) -> None:
        raw = self._read_body()  # first, so that any answer leaves the connection reusable
        path = urlsplit(self.path).path
        if path in (CAPABILITIES_PATH, EVENTS_PATH):
            self._require_method("GET")
            if path == CAPABILITIES_PATH:
                self._send_envelope(Code.OK, "ok", self.server.service.capabilities().to_json())
            else:
                self._open_push_channel()
            return
        method = METHODS.get(path.removeprefix(_METHOD_PREFIX))
        if method is None or not path.startswith(_METHOD_PREFIX):
            raise ReceiptError(Code.UNKNOWN_ROUTE, f"there is no method at {path}")
        self._require_method("POST")
        credential = self._credential()
        if isinstance(method, AdminMethod):
            if not isinstance(credential, Admin):
                raise ReceiptError(Code.WRONG_CREDENTIAL, "this method needs the admin key")
            data = method.call(self.server.service, parse_body(raw))
        else:
            data = method.call(self.server.service, _as_user(credential), parse_body(raw))
        self._send_envelope(Code.OK, "ok", data)

    def _require_method(self, allowed: str) -> None:
        if self.command != allowed:
            raise _MethodNotAllowed(urlsplit(self.path).path, allowed)

    def _read_body(self) -> bytes:
        """The body, framed by Content-Length (checked against 1 MiB before reading)."""
        if self.headers.get_all("Transfer-Encoding"):
            self.close_connection = True
            raise _malformed("Transfer-Encoding is not supported; send a Content-Length body")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            if self.command == "POST" and urlsplit(self.path).path.startswith(_METHOD_PREFIX):
                self.close_connection = True
                raise _malformed("a Content-Length header is required")
            self._body_read = True
            self._end_request_deadline()
            return b""
        text = lengths[0].strip()
        if len(set(lengths)) != 1 or not (text.isascii() and text.isdigit()):
            self.close_connection = True
            raise _malformed("the Content-Length header is not a single decimal number")
        length = int(text)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise ReceiptError(
                Code.BODY_TOO_LARGE,
                f"the body is {length} bytes; at most {MAX_BODY_BYTES} are accepted",
            )
        if (self.headers.get("Expect") or "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        raw = self.rfile.read(length)
        if len(raw) != length:
            raise _DropConnection
        self._body_read = True
        self._end_request_deadline()
        return raw

    def _end_request_deadline(self) -> None:
        """The request is in (or not begun): back to the idle timeout, for reads and writes."""
        self._input.end_deadline()

    def _credential(self) -> Credential:
        headers = self.headers.get_all("Authorization") or []
        if len(headers) != 1:
            raise ReceiptError(
                Code.UNAUTHENTICATED, "send one Authorization: Bearer <token> header"
            )
        scheme, _, token = headers[0].strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ReceiptError(
                Code.UNAUTHENTICATED, "the Authorization header must be Bearer <token>"
            )
        credential = self.server.service.identify(token)
        if credential is None:
            raise ReceiptError(Code.UNAUTHENTICATED, "the token or admin key is not known")
        return credential

    def _open_push_channel(self) -> None:
        caller = _as_user(self._credential())
        since = _since(urlsplit(self.path).query)
        head = (
            self.requestline
            + "\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in self.headers.items())
            + "\r\n"
        ).encode("latin-1")
        service = self.server.service
        self.server.hub.serve(
            caller,
            UpgradeRequest(self.connection, self.reader, head),
            lambda register: service.open_event_stream(caller, since, register),
        )
        self.close_connection = True  # the connection was the WebSocket's; it is over now

    # -- answers -------------------------------------------------------------------------------

    def _send_error(self, error: ReceiptError) -> None:
        self._end_request_deadline()
        if not self._body_read:
            self.close_connection = True
        headers = []
        if isinstance(error, _MethodNotAllowed):
            headers.append(("Allow", error.allowed))
        if error.code is Code.UNAUTHENTICATED:
            headers.append(("WWW-Authenticate", "Bearer"))
        self._send_envelope(error.code, error.desc, None, headers)
        if not self._body_read:
            self._linger()

    def status_of(self, code: Code) -> int:
        """The HTTP status an answer with ``code`` goes out with (docs/protocol.md §1.2)."""
        return vocabulary.http_status(code)

    def _send_envelope(
        self,
        code: Code,
        desc: str,
        data: JsonValue,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        if data is None and code is Code.OK and desc == "ok":
            body = _OK_NULL_BODY  # most writes (every receipt) answer exactly this
        else:
            body = _ENCODER.encode({"code": int(code), "desc": desc, "data": data}).encode()
        status = self.status_of(code)
        if log.isEnabledFor(logging.DEBUG):  # the request line is logged at debug level only
            self.log_request(status, len(body))
        head = [
            _status_line(self.protocol_version, status, self.responses[status][0]),
            self._server_header,
            f"Date: {self.date_time_string()}\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n",
        ]
        head += [f"{name}: {value}\r\n" for name, value in headers or []]
        if self.close_connection:
            head.append("Connection: close\r\n")
        head.append("\r\n")
        answer = "".join(head).encode("latin-1")
        self.wfile.write(answer if self.command == "HEAD" else answer + body)
        self.wfile.flush()

    def _linger(self) -> None:
        """After answering early, let the peer finish sending before closing.

        Closing a socket with unread input makes the kernel send RST, which can destroy the
        answer before the client reads it; so read and discard briefly first.
        """
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + _LINGER_SECONDS
            while (remaining := deadline - time.monotonic()) > 0:
                self.connection.settimeout(remaining)
                if not self.rfile.read1(65_536):
                    break


@functools.lru_cache(maxsize=64)  # clients send the same version on every request
def _http_version(text: str) -> tuple[int, int] | None:
    """``HTTP/major.minor`` as numbers (at most 10 digits each), or ``None``."""
    if not text.startswith("HTTP/"):
        return None
    numbers = text[5:].split(".")
    if len(numbers) != 2 or not all(n.isdigit() and n.isascii() and len(n) <= 10 for n in numbers):
        return None
    return int(numbers[0]), int(numbers[1])


_OK_NULL_BODY = _ENCODER.encode({"code": int(Code.OK), "desc": "ok", "data": None}).encode()


@functools.lru_cache(maxsize=64)
def _status_line(protocol_version: str, status: int, reason: str) -> str:
    return f"{protocol_version} {status} {reason}\r\n"


@functools.lru_cache(maxsize=2)
def _http_date(second: int) -> str:
    return formatdate(second, usegmt=True)


def _as_user(credential: Credential) -> Caller:
    if not isinstance(credential, Caller):
        raise ReceiptError(
            Code.WRONG_CREDENTIAL, "this method needs a user token; the admin key acts as no user"
        )
    return credential


def _since(query: str) -> int | None:
    """The ``since`` query parameter of ``/v1/events``: absent, or a decimal 0..2^53."""
    values = parse_qs(query, keep_blank_values=True).get("since")
    if values is None:
        return None
    text = values[0]
    if (
        len(values) != 1
        or not (text.isascii() and text.isdigit())
        or len(text) > 16
        or int(text) > MAX_SAFE_INTEGER
    ):
        raise ReceiptError(Code.INVALID_PARAMETERS, "since must be an integer from 0 to 2^53")
    return int(text)
