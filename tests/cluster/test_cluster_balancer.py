"""Three nodes behind a TCP balancer that sends each connection to a random node.

The suite sees one URL, the balancer's; every HTTP connection and every push connection lands
on a node chosen at random, so a user's calls and its push connection, and consecutive
connections of one user, meet different nodes without the suite arranging it (as behind a real
balancer). The whole suite must be conformant there, and still after one node is SIGKILLed (the
balancer, like any with health checks, then sends connections only to nodes that accept them).
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from seenby.reference_server.local_cluster import LocalCluster
from tests.reliability.sizes import FULL

from .test_cluster_suite import _seenby

_CHUNK = 65_536


class RandomBalancer:
    """A TCP proxy on loopback: each accepted connection is piped to a random live node."""

    def __init__(self, nodes: list[tuple[str, int]], seed: int = 7) -> None:
        self.nodes = nodes
        self._rng = random.Random(seed)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.connections_per_node: dict[tuple[str, int], int] = dict.fromkeys(nodes, 0)
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        for node in self._rng.sample(self.nodes, len(self.nodes)):
            try:
                upstream = socket.create_connection(node, timeout=2)
            except OSError:
                continue  # a dead node: the next one, as a health-checking balancer would
            upstream.settimeout(None)
            self.connections_per_node[node] += 1
            threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
            _pipe(client, upstream)
            return
        client.close()

    def stop(self) -> None:
        """Stop accepting (connections in flight end with their peers)."""
        self._stopped.set()
        self._listener.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy ``source`` to ``sink`` until either side closes; then close both."""
    try:
        while data := source.recv(_CHUNK):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for each in (source, sink):
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)
            each.close()


def _address(url: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("http://").rpartition(":")
    return host, int(port)


@pytest.fixture(scope="module")
def balanced() -> Iterator[tuple[LocalCluster, RandomBalancer]]:
    """Three node processes on a throw-away PostgreSQL behind one random balancer."""
    with LocalCluster(3) as cluster:
        balancer = RandomBalancer([_address(url) for url in cluster.urls])
        try:
            yield cluster, balancer
        finally:
            balancer.stop()


def _conformant(cluster: LocalCluster, url: str, report: Path, *selection: str) -> None:
    result = _seenby(
        "run", "--target", url, "--admin-key", cluster.admin_key,
        "--report-dir", str(report), "-q", *selection,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = json.loads((report / "conformance-summary.json").read_text())
    assert summary["verdict"] == "conformant", summary["verdict_text"]


def test_the_whole_suite_is_conformant_behind_a_random_balancer(
    balanced: tuple[LocalCluster, RandomBalancer], tmp_path: Path
) -> None:
    cluster, balancer = balanced
    _conformant(cluster, balancer.url, tmp_path)
    # Every node took a fair share of the connections, so the suite met all three.
    counts = list(balancer.connections_per_node.values())
    assert min(counts) > sum(counts) / 6, counts


def test_it_is_still_conformant_behind_the_balancer_after_a_node_is_killed(
    balanced: tuple[LocalCluster, RandomBalancer], tmp_path: Path
) -> None:
    cluster, balancer = balanced
    cluster.kill(1)
    selection = [] if FULL else ["--tag", "area-P", "--tag", "area-Y", "--tag", "area-R"]
    _conformant(cluster, balancer.url, tmp_path, *selection)
