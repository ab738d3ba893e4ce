"""Each plumbing alternative really plumbs differently, on the raw wire, and the suite passes it.

A probe reads one answer (or one push handshake) with the standard library and wsproto, never
through the harness, and returns what the plumbing choice is about; the reference must answer
otherwise. Then ``seenby run`` runs a handful of scenarios against each alternative served in
its own process (the kill run runs them all): calls, refusals, both pushes, a refused upgrade
and a replay, which cover every part of the harness that builds a URL or reads an answer.
"""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Ping, Request
from wsproto.extensions import PerMessageDeflate

from seenby.reference_server import RunningServer

from .alternatives import alternative_named
from .gallery import REFERENCE
from .killrun import KillVerdict, run_variant, served
from .wire_variants import BASE_PATH, PLUMBING, PlumbedServer

SCENARIOS = ("RR-V-001", "RR-R-001", "RR-R-004", "RR-C-002", "RR-Y-002", "RR-Y-005")
"""Discovery, a receipt batch and its push, a refusal, a mark and its push, a replay and a
refused upgrade; the preflight adds the new-message push."""


def _connection(server: RunningServer, timeout: float = 5) -> http.client.HTTPConnection:
    parts = urlsplit(server.url)
    host, port = parts.hostname or "", parts.port or 0
    if parts.scheme == "https":
        assert isinstance(server, PlumbedServer) and server.ca_cert is not None
        context = ssl.create_default_context(cafile=server.ca_cert)
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    return http.client.HTTPConnection(host, port, timeout=timeout)


def _capabilities(
    server: RunningServer, path: str = "/v1/capabilities"
) -> http.client.HTTPResponse:
    connection = _connection(server)
    connection.request("GET", urlsplit(server.url).path + path)
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return answer


def _handshake(
    server: RunningServer, token: str
) -> tuple[socket.socket, WSConnection, list[object]]:
    """Open the push channel of ``token`` offering permessage-deflate; the socket, the
    connection and the events so far (the first is the acceptance)."""
    parts = urlsplit(server.url)
    sock = socket.create_connection((parts.hostname or "", parts.port or 0), timeout=5)
    ws = WSConnection(ConnectionType.CLIENT)
    route = parts.path + "/v1/events"
    sock.sendall(
        ws.send(
            Request(
                host=parts.netloc,
                target=route,
                extensions=[PerMessageDeflate()],
                extra_headers=[(b"authorization", f"Bearer {token}".encode())],
            )
        )
    )
    events: list[object] = []
    while not events:
        ws.receive_data(sock.recv(65_536))
        events = list(ws.events())
    return sock, ws, events


def _user_token(server: RunningServer) -> str:
    connection = _connection(server)
    body = json.dumps({"userID": f"probe-{secrets.token_hex(3)}"})
    connection.request(
        "POST",
        urlsplit(server.url).path + "/v1/admin/createUser",
        body=body,
        headers={"Authorization": f"Bearer {server.admin_key}", "Content-Type": "application/json"},
    )
    answer = connection.getresponse()
    token = json.loads(answer.read())["data"]["token"]
    connection.close()
    return str(token)


def _content_encoding(server: RunningServer) -> object:
    return _capabilities(server).getheader("Content-Encoding")


def _connection_header(server: RunningServer) -> object:
    return _capabilities(server).getheader("Connection")


def _transfer_encoding(server: RunningServer) -> object:
    return _capabilities(server).getheader("Transfer-Encoding")


def _http_version(server: RunningServer) -> object:
    return _capabilities(server).version


def _pinged_within_two_seconds(server: RunningServer) -> object:
    sock, ws, _ = _handshake(server, _user_token(server))
    deadline = time.monotonic() + 2.0
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            sock.settimeout(remaining)
            try:
                data = sock.recv(65_536)
            except TimeoutError:
                break
            ws.receive_data(data)
            if any(isinstance(event, Ping) for event in ws.events()):
                return True
        return False
    finally:
        sock.close()


def _deflate_accepted(server: RunningServer) -> object:
    sock, _, events = _handshake(server, _user_token(server))
    sock.close()
    accepted = events[0]
    assert isinstance(accepted, AcceptConnection)
    return [extension.name for extension in accepted.extensions]


def _only_under_the_base_path(server: RunningServer) -> object:
    outside = _connection(server)
    outside.request("GET", "/v1/capabilities")
    status_outside = outside.getresponse().status
    outside.close()
    return urlsplit(server.url).path, _capabilities(server).status, status_outside


def _tls(server: RunningServer) -> object:
    parts = urlsplit(server.url)
    if parts.scheme != "https":
        return parts.scheme
    unverified = http.client.HTTPSConnection(parts.hostname or "", parts.port or 0, timeout=5)
    try:
        unverified.request("GET", "/v1/capabilities")
        unverified.getresponse()
    except ssl.SSLCertVerificationError:
        return parts.scheme, _capabilities(server).status, "refused without its CA"
    return parts.scheme, "accepted without its CA"


def _address_family(server: RunningServer) -> object:
    return server.host, _capabilities(server).status


PROBES: dict[str, tuple[Callable[[RunningServer], object], object, object]] = {
    "compressed_answers": (_content_encoding, None, {"gzip", "deflate"}),
    "connection_closed_after_every_answer": (_connection_header, None, "close"),
    "chunked_answers": (_transfer_encoding, None, "chunked"),
    "http_1_0_answers": (_http_version, 11, 10),
    "pings_every_second": (_pinged_within_two_seconds, False, True),
    "permessage_deflate": (_deflate_accepted, [], ["permessage-deflate"]),
    "served_under_a_base_path": (_only_under_the_base_path, ("", 200, 200), (BASE_PATH, 200, 404)),
    "served_over_tls_with_its_own_ca": (_tls, "http", ("https", 200, "refused without its CA")),
    "served_over_ipv6": (_address_family, ("127.0.0.1", 200), ("::1", 200)),
}
"""Each plumbing alternative's probe, what the reference answers and what it answers (a set:
any of its members, over two answers)."""


@pytest.fixture(scope="module")
def reference() -> Iterator[RunningServer]:
    with REFERENCE.start() as server:
        yield server


def test_every_plumbing_alternative_is_probed() -> None:
    assert set(PROBES) == set(PLUMBING)
    assert all(alternative_named(name).layers for name in PLUMBING)


@pytest.mark.parametrize("name", PLUMBING)
def test_the_alternative_plumbs_its_way_and_the_reference_does_not(
    name: str, reference: RunningServer
) -> None:
    probe, from_reference, from_alternative = PROBES[name]
    assert probe(reference) == from_reference
    with alternative_named(name).server.start() as server:
        if isinstance(from_alternative, set):
            assert {probe(server), probe(server)} == from_alternative
        else:
            assert probe(server) == from_alternative


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, KillVerdict]:
    """The suite's verdict on each plumbing alternative, two at a time (two cores)."""
    work_dir = tmp_path_factory.mktemp("plumbing")
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {
            name: pool.submit(run_variant, alternative_named(name).server, work_dir, ids=SCENARIOS)
            for name in PLUMBING
        }
        return {name: run.result() for name, run in runs.items()}


@pytest.mark.parametrize("name", PLUMBING)
def test_the_suite_passes_the_alternative_at_the_core_level(
    name: str, verdicts: dict[str, KillVerdict]
) -> None:
    verdict = verdicts[name]
    assert verdict.problems == ()
    assert verdict.failed == (), [failure.evidence for failure in verdict.failed]
    assert verdict.passed_core and verdict.scenarios == len(SCENARIOS)


@pytest.mark.parametrize("name", ["served_under_a_base_path", "served_over_tls_with_its_own_ca"])
def test_seenby_load_honours_the_url_and_the_ca(name: str, tmp_path: Path) -> None:
    server = alternative_named(name).server
    with open(tmp_path / "server.log", "w") as log, served(server, log) as s:
        command = [
            sys.executable, "-m", "seenby.harness.cli", "load",
            f"--target={s.url}", f"--admin-key={s.admin_key}",
            "--users", "6", "--run-time", "3s", "--think", "0.3", "--reading-delay", "0.5",
            "--report-dir", str(tmp_path / "load"),
        ]  # fmt: skip
        if s.ca_cert is not None:
            command.append(f"--ca-cert={s.ca_cert}")
        finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-2000:]
    assert "verdict: every invariant checked holds" in finished.stdout
