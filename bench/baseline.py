"""The baseline: a no-op JSON server on the same `http.server` stack as the reference server.

It reads the request body exactly as a real handler must (by `Content-Length`) and answers every
POST with one fixed success envelope. Throughput against it is what the stack itself allows on
this machine with this load generator, so the reference server's throughput divided by it is
the share the receipt logic and SQLite leave over.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

_ENVELOPE = b'{"code":0,"desc":"ok","data":null}'


class _NoopHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(_ENVELOPE)))
        self.end_headers()
        self.wfile.write(_ENVELOPE)

    def log_message(self, format: str, *args: object) -> None:
        """Stay silent: a log line per request would be part of what is measured."""


class NoopServer:
    """A running no-op server on 127.0.0.1; use as a context manager or call `stop()`."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _NoopHandler)
        self._server.daemon_threads = True
        self.host = "127.0.0.1"
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close the listener."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> NoopServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
