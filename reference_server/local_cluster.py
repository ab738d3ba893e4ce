"""``seenby serve --nodes N``: a throw-away PostgreSQL and N server processes on it, as one service.

``LocalCluster`` starts the database (``pg_cluster.ThrowAwayPostgres``, unless a database URL is
given), then N ``python -m seenby.reference_server --database URL`` processes with one admin
key, each on 127.0.0.1 and its own port, and waits for each one's ``listening on URL`` line.
``stop()`` stops the nodes (SIGTERM, then SIGKILL if one hangs) and then the database, whose
data it deletes. ``kill(i)`` SIGKILLs one node and ``start_node()`` adds one, for the
reliability tests.
"""

from __future__ import annotations

import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import IO

from seenby.reference_server.pg_cluster import ThrowAwayPostgres

__all__ = ["LocalCluster", "NodeProcess"]

_LISTENING = "listening on "
_START_TIMEOUT_SECONDS = 60.0
_STOP_TIMEOUT_SECONDS = 30.0


class NodeProcess:
    """One ``seenby serve --database URL`` process; its ``url`` once it listens."""

    def __init__(self, database: str, admin_key: str, port: int, log: Path) -> None:
        self.log_path = log
        self._log = log.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "seenby.reference_server", "--host", "127.0.0.1",
             "--port", str(port), "--database", database, f"--admin-key={admin_key}"],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )  # fmt: skip
        self.pid = self._process.pid
        lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        assert self._process.stdout is not None
        threading.Thread(
            target=_forward_lines, args=(self._process.stdout, lines), daemon=True
        ).start()
        self.url = self._wait_until_listening(lines)
        """``http://127.0.0.1:PORT``."""

    def _wait_until_listening(self, lines: queue.SimpleQueue[str]) -> str:
        while True:
            try:
                line = lines.get(timeout=_START_TIMEOUT_SECONDS)
            except queue.Empty:
                break
            if line.startswith(_LISTENING):
                return line.removeprefix(_LISTENING).strip()
        self.kill()
        raise RuntimeError(f"a node did not start:\n{self.log_path.read_text(errors='replace')}")

    @property
    def alive(self) -> bool:
        """Whether the process is still running."""
        return self._process.poll() is None

    def stop(self) -> int:
        """SIGTERM, wait for the clean shutdown, and its exit status (killed if it hangs)."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
        return self._process.returncode

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=_STOP_TIMEOUT_SECONDS)
        self._log.close()


class LocalCluster:
    """A database and ``nodes`` server processes on it (see the module doc).

    ``database=None`` starts a throw-away PostgreSQL; ``first_port=0`` gives every node a free
    port, otherwise node i listens on ``first_port + i``.
    """

    def __init__(
        self,
        nodes: int,
        database: str | None = None,
        admin_key: str | None = None,
        first_port: int = 0,
    ) -> None:
        if nodes < 1:
            raise ValueError("a cluster has at least one node")
        self.admin_key = admin_key if admin_key is not None else secrets.token_urlsafe(24)
        self._logs = Path(tempfile.mkdtemp(prefix="seenby-nodes-"))
        self._first_port = first_port
        self.postgres = ThrowAwayPostgres() if database is None else None
        self.database = database if database is not None else self._own_database()
        self.nodes: list[NodeProcess] = []
        try:
            for _ in range(nodes):
                self.start_node()
        except BaseException:
            self.stop()
            raise

    def _own_database(self) -> str:
        assert self.postgres is not None
        return self.postgres.url

    @property
    def urls(self) -> list[str]:
        """Every running node's URL."""
        return [node.url for node in self.nodes if node.alive]

    def start_node(self) -> NodeProcess:
        """Start one more node on the database."""
        index = len(self.nodes)
        port = self._first_port + index if self._first_port else 0
        node = NodeProcess(self.database, self.admin_key, port, self._logs / f"node{index}.log")
        self.nodes.append(node)
        return node

    def kill(self, index: int) -> None:
        """SIGKILL node ``index``."""
        self.nodes[index].kill()

    def stop(self) -> None:
        """Stop every node, then the throw-away database (its data deleted); idempotent. The
        nodes' logs go with them."""
        for node in self.nodes:
            node.stop()
        if self.postgres is not None:
            self.postgres.stop()
        shutil.rmtree(self._logs, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _forward_lines(stream: IO[str], lines: queue.SimpleQueue[str]) -> None:
    for line in stream:
        lines.put(line)
