"""seenby.harness.wire.transport on the wire: the environment's proxy, and an answer taken as the
target gave it (no redirect followed, nothing sent twice)."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
import urllib3

from seenby.harness.wire.transport import (
    HttpTransport,
    NoAnswer,
    ProtocolViolation,
    ViolationLog,
    WireOptions,
    _pool_for,
)


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every POST with ``answer`` and counts them."""

    answer: ClassVar[tuple[int, dict[str, str], bytes]] = (200, {}, b"")
    posts: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).posts.append(self.path)
        status, headers, body = self.answer
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Handler", (_Recorder,), {"posts": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", handler
    server.shutdown()
    server.server_close()


def test_the_environments_proxy_is_used_unless_the_host_is_exempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert type(_pool_for("https://im.example.com", WireOptions())) is urllib3.PoolManager
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    assert isinstance(_pool_for("https://im.example.com", WireOptions()), urllib3.ProxyManager)
    monkeypatch.setenv("NO_PROXY", "im.example.com")
    assert type(_pool_for("https://im.example.com", WireOptions())) is urllib3.PoolManager


def test_a_redirect_is_the_targets_answer_not_followed(
    recorder: tuple[str, type[_Recorder]],
) -> None:
    url, handler = recorder
    handler.answer = (307, {"Location": "/v1/elsewhere"}, b"")
    transport = HttpTransport(url, "token", violations=ViolationLog())
    with pytest.raises(ProtocolViolation, match="HTTP 307"):
        transport.call("sendMessage", {})
    assert handler.posts == ["/v1/sendMessage"]


def test_a_failed_call_is_never_sent_again(recorder: tuple[str, type[_Recorder]]) -> None:
    url, handler = recorder
    handler.answer = (503, {"Retry-After": "1"}, b'{"code": 1, "desc": "busy", "data": null}')
    transport = HttpTransport(url, "token", violations=ViolationLog())
    with pytest.raises(ProtocolViolation, match="HTTP 503"):
        transport.call("sendMessageReadReceipts", {"msgIDs": ["m-1"]})
    assert handler.posts == ["/v1/sendMessageReadReceipts"]


def test_no_answer_at_all_is_a_no_answer_error_naming_the_target() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}"
    transport = HttpTransport(url, None, violations=ViolationLog(), timeout=2)
    with pytest.raises(NoAnswer, match=f"POST /v1/sendMessage: no answer from {url}"):
        transport.call("sendMessage", {})
