"""Correct alternatives that differ from the reference only in their plumbing.

The spec says nothing about how a target frames, compresses or carries its answers, so any
correct HTTP and WebSocket plumbing must pass the suite's core level unchanged: answers
compressed with gzip or deflate, ``Connection: close`` on every answer, chunked answers,
HTTP/1.0 answers, a WebSocket ping every second, ``permessage-deflate``, a base path
(``http://host:port/im``), TLS with the target's own CA, and IPv6. Each alternative here is
the reference server with its HTTP handler or push hub replaced, or served differently
(``PlumbedVariant``: another host, a base path, TLS), and is registered into the correct
alternatives' gallery like the others. None of these choices is visible to a strict check,
so none declares a section.
"""

from __future__ import annotations

import gzip
import itertools
import json
import secrets
import socket
import ssl
import subprocess
import tempfile
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request
from wsproto.extensions import PerMessageDeflate
from wsproto.utilities import RemoteProtocolError

from seenby.contract.vocabulary import Code
from seenby.reference_server import RunningServer, Tuning
from seenby.reference_server.domain import Caller
from seenby.reference_server.http_api import ReceiptHTTPServer, RequestHandler, Timeouts
from seenby.reference_server.push import (
    _SEND_BUFFER_BYTES,
    OpenStream,
    PushConnection,
    PushHub,
    UpgradeRequest,
)
from seenby.reference_server.values import JsonValue, ReceiptError

from .alternatives import ALTERNATIVES, Alternative, alternative
from .gallery import Variant

__all__ = ["PLUMBING", "PlumbedServer", "PlumbedVariant", "make_test_ca"]

Piece = TypeVar("Piece", bound=type)

PLUMBING: list[str] = []
"""The names of the plumbing alternatives, in ALTERNATIVES as well."""


def _plumbing(name: str) -> Callable[[Piece], Piece]:
    """Register a replaced handler or hub as the plumbing alternative ``name``."""
    PLUMBING.append(name)
    return alternative(name)


# -- the answer itself ---------------------------------------------------------------------------


class _AnswersThroughOneHook(RequestHandler):
    """The reference handler with every envelope answer built here and written by
    ``_write_answer``, which the plumbing alternatives override."""

    def _send_envelope(
        self,
        code: Code,
        desc: str,
        data: JsonValue,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        envelope = {"code": int(code), "desc": desc, "data": data}
        body = _ENCODER.encode(envelope).encode()
        status = self.status_of(code)
        head = [
            ("Server", self.version_string()),
            ("Date", self.date_time_string()),
            ("Content-Type", "application/json; charset=utf-8"),
            *(headers or []),
        ]
        self._write_answer(status, head, body)
        self.wfile.flush()

    def _write_answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Write one answer as the reference does: HTTP/1.1, framed by Content-Length."""
        self._write_head("HTTP/1.1", status, [*headers, ("Content-Length", str(len(body)))])
        self.wfile.write(body)

    def _write_head(self, version: str, status: int, headers: list[tuple[str, str]]) -> None:
        if self.close_connection:
            headers = [*headers, ("Connection", "close")]
        lines = [f"{version} {status} {self.responses[status][0]}\r\n"]
        lines += [f"{name}: {value}\r\n" for name, value in headers]
        self.wfile.write(("".join(lines) + "\r\n").encode("latin-1"))


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@_plumbing("compressed_answers")
class CompressedAnswers(_AnswersThroughOneHook):
    """Every answer is compressed, gzip and deflate in turn (Content-Encoding), whatever the
    request's Accept-Encoding: HTTP lets a server pick any coding for a client that names
    none, and the spec leaves the transfer of an answer to HTTP."""

    _turn = itertools.count()

    def _write_answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        if next(self._turn) % 2 == 0:
            coding, packed = "gzip", gzip.compress(body)
        else:
            coding, packed = "deflate", zlib.compress(body)
        super()._write_answer(status, [*headers, ("Content-Encoding", coding)], packed)


@_plumbing("connection_closed_after_every_answer")
class ConnectionClosedAfterEveryAnswer(_AnswersThroughOneHook):
    """Every answer says ``Connection: close`` and the connection is closed after it (no
    keep-alive): HTTP allows it, and the spec says nothing about connections."""

    def _write_answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.close_connection = True
        super()._write_answer(status, headers, body)


_CHUNK_BYTES = 50


@_plumbing("chunked_answers")
class ChunkedAnswers(_AnswersThroughOneHook):
    """Every answer is sent with ``Transfer-Encoding: chunked``, in small chunks written
    one at a time, as a streaming server would: HTTP/1.1 framing the spec leaves open."""

    def _write_answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self._write_head("HTTP/1.1", status, [*headers, ("Transfer-Encoding", "chunked")])
        for start in range(0, len(body), _CHUNK_BYTES):
            chunk = body[start : start + _CHUNK_BYTES]
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


@_plumbing("http_1_0_answers")
class Http10Answers(_AnswersThroughOneHook):
    """Every answer is an HTTP/1.0 answer without Content-Length, its body ended by closing
    the connection, as a minimal or old front server answers: valid HTTP the spec does not
    rule out."""

    def _write_answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.close_connection = True
        self._write_head("HTTP/1.0", status, headers)
        self.wfile.write(body)


# -- the push channel ----------------------------------------------------------------------------

_PING_EVERY_SECOND = 1.0


@_plumbing("pings_every_second")
class PingsEverySecond(PushHub):
    """Each push connection is pinged every second instead of every 20 s: the spec leaves
    keep-alive to the server, and a client must answer pings whenever they come."""

    def __init__(self, queue_size: int, ping_interval: float, idle_timeout: float) -> None:
        super().__init__(queue_size, _PING_EVERY_SECOND, idle_timeout)


class _DeflatingConnection(PushConnection):
    def accept(self) -> None:
        """Accept with permessage-deflate (when the client offered it)."""
        self._send(AcceptConnection(extensions=[PerMessageDeflate()]))


@_plumbing("permessage_deflate")
class PermessageDeflate(PushHub):
    """The push channel accepts the client's permessage-deflate offer and compresses every
    frame (RFC 7692): a WebSocket extension the spec does not forbid."""

    def serve(self, caller: Caller, upgrade: UpgradeRequest, open_stream: OpenStream) -> None:
        # The reference hub's serve, with a connection that negotiates the extension.
        ws = WSConnection(ConnectionType.SERVER)
        try:
            ws.receive_data(upgrade.head)
            requested = any(isinstance(event, Request) for event in ws.events())
        except RemoteProtocolError as error:
            raise ReceiptError(Code.MALFORMED_BODY, f"not a WebSocket upgrade: {error}") from None
        if not requested:
            raise ReceiptError(Code.MALFORMED_BODY, "GET /v1/events must be a WebSocket upgrade")
        connection = _DeflatingConnection(
            caller.user_id, upgrade, ws, self._queue_size, self._ping_interval
        )
        replay = open_stream(lambda: self._register(connection))
        writer = None
        try:
            upgrade.sock.settimeout(self._idle_timeout)
            upgrade.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER_BYTES)
            connection.accept()
            writer = threading.Thread(target=connection.write_loop, args=(replay,), daemon=True)
            writer.start()
            connection.read_loop()
        except OSError:
            pass
        finally:
            self._unregister(connection)
            connection.abort()
            if writer is not None:
                writer.join(timeout=self._idle_timeout)
            connection.finished.set()


# -- where and how it is served ----------------------------------------------------------------

BASE_PATH = "/im"
"""Where ``served_under_a_base_path`` lives (as behind a reverse proxy)."""


class UnderBasePath(RequestHandler):
    """Answers only under BASE_PATH; every other path is an unknown route."""

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.path.startswith(BASE_PATH + "/"):
            self.path = self.path[len(BASE_PATH) :]
        else:
            self.path = "/outside-the-base-path" + self.path
        return True


class _HandshakesInItsThread(RequestHandler):
    """The TLS handshake runs in the connection's own thread (under the idle timeout), so a
    slow client never holds up the listener's accept loop."""

    def setup(self) -> None:
        connection: Any = self.request
        connection.settimeout(self.server.timeouts.idle)
        connection.do_handshake()
        super().setup()


class PlumbedServer(RunningServer):
    """A running plumbing alternative: its URL as served (scheme, host, base path) and the
    CA file a client must trust, if it speaks TLS."""

    def __init__(
        self,
        running: tuple[ReceiptHTTPServer, PushHub, Any, str],
        *,
        scheme: str,
        base_path: str,
        ca_cert: str | None,
        scratch: tempfile.TemporaryDirectory[str] | None,
    ) -> None:
        super().__init__(*running)
        self.url = f"{scheme}{self.url.removeprefix('http')}{base_path}"
        self.ca_cert = ca_cert
        self._scratch = scratch

    def stop(self) -> None:
        """Stop the server, then delete its certificates."""
        super().stop()
        if self._scratch is not None:
            self._scratch.cleanup()


@dataclass(frozen=True)
class PlumbedVariant(Variant):
    """A server served on ``host``, under ``base_path``, over TLS when ``tls``."""

    host: str = "127.0.0.1"
    base_path: str = ""
    tls: bool = False

    def start(self, db: str = ":memory:") -> RunningServer:
        """Start it as ``Variant.start`` does, on ``host``, with TLS if asked."""
        tuning = Tuning()
        admin_key = secrets.token_hex(24)
        storage = self.storage(db, event_retention=tuning.event_retention)
        hub = self.hub(tuning.push_queue_size, tuning.ping_interval, tuning.idle_timeout)
        service = self.service(storage, admin_key, sink=hub, presence=hub)
        scratch = tempfile.TemporaryDirectory(prefix="seenby-tls-") if self.tls else None
        try:
            httpd = ReceiptHTTPServer(
                (self.host, 0),
                service,
                hub,
                Timeouts(idle=tuning.idle_timeout, request=tuning.request_timeout),
                tuning.max_connections,
            )
            httpd.RequestHandlerClass = self.handler
            ca_cert = None
            if scratch is not None:
                ca_cert, context = make_test_ca(Path(scratch.name))
                httpd.socket = context.wrap_socket(
                    httpd.socket, server_side=True, do_handshake_on_connect=False
                )
        except BaseException:
            storage.close()
            if scratch is not None:
                scratch.cleanup()
            raise
        return PlumbedServer(
            (httpd, hub, storage, admin_key),
            scheme="https" if self.tls else "http",
            base_path=self.base_path,
            ca_cert=ca_cert,
            scratch=scratch,
        )


def make_test_ca(folder: Path) -> tuple[str, ssl.SSLContext]:
    """A throw-away CA and a server certificate it signed for 127.0.0.1, ::1 and localhost
    (made by the ``openssl`` command in ``folder``): the CA file, and the server's context."""
    ca_key, ca_cert = folder / "ca.key", folder / "ca.pem"
    key, request, cert = folder / "server.key", folder / "server.csr", folder / "server.pem"
    extensions = folder / "server.ext"
    extensions.write_text(
        "subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost\n"
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature\n"
        "extendedKeyUsage = serverAuth\n"
        "authorityKeyIdentifier = keyid\n"
    )

    def openssl(*arguments: str) -> None:
        subprocess.run(["openssl", *arguments], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(ca_key), "-out", str(ca_cert), "-days", "2",
            "-subj", "/CN=seenby test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(request), "-subj", "/CN=localhost")  # fmt: skip
    openssl("x509", "-req", "-in", str(request), "-CA", str(ca_cert), "-CAkey", str(ca_key),
            "-CAcreateserial", "-out", str(cert), "-days", "2",
            "-extfile", str(extensions))  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return str(ca_cert), context


@dataclass(frozen=True)
class PlumbingAlternative(Alternative):
    """A plumbing alternative: its layers include how it is served."""

    served_as: str = ""
    """How it is served differently (``"ipv6"``, ``"tls"``, ``"base path"``), if it is."""

    @property
    def layers(self) -> list[str]:
        """The pieces it replaces, and ``wire`` for one served differently."""
        return [*super().layers, *(["wire"] if self.served_as else [])]


def _served(name: str, choice: str, served_as: str, **how: Any) -> None:
    """Register the reference served differently (``how``: PlumbedVariant's fields)."""
    PLUMBING.append(name)
    server = PlumbedVariant(name, (), " ".join(choice.split()), **how)
    ALTERNATIVES.append(PlumbingAlternative(server, (), served_as))


_served(
    "served_under_a_base_path",
    f"""Served under a base path ({BASE_PATH}), as behind a reverse proxy: every method,
    discovery and the push channel live below it, and nothing answers outside it.""",
    "base path",
    base_path=BASE_PATH,
    handler=UnderBasePath,
)
_served(
    "served_over_tls_with_its_own_ca",
    """Served over HTTPS and WSS with a certificate from its own CA, which the suite is told
    to trust (--ca-cert): the spec leaves the transport's security to the deployment.""",
    "tls",
    tls=True,
    handler=_HandshakesInItsThread,
)
_served(
    "served_over_ipv6",
    """Served on the IPv6 loopback ([::1]) only: an address family the spec does not
    name.""",
    "ipv6",
    host="::1",
)
