"""``seenby serve`` as a process: ``python -m seenby.reference_server``."""

from __future__ import annotations

import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

LINE_WAIT_SECONDS = 20.0


class Served:
    """A ``python -m seenby.reference_server`` process whose stdout lines arrive on a queue."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)

    def line(self) -> str:
        """The next stdout line (fails after a deadline instead of hanging)."""
        try:
            return self._lines.get(timeout=LINE_WAIT_SECONDS).rstrip("\n")
        except queue.Empty:
            raise AssertionError("the server printed nothing in time") from None

    def url(self) -> str:
        """Wait for ``listening on URL`` and return the URL."""
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))", self.line())
        assert match is not None and int(match.group(2)) > 0
        return match.group(1)

    def stop(self, signum: int) -> int:
        """Send ``signum``; the exit code."""
        self.process.send_signal(signum)
        return self.process.wait(timeout=LINE_WAIT_SECONDS)


@contextmanager
def serve(*args: str) -> Iterator[Served]:
    """Run ``python -m seenby.reference_server ARGS``; kill it if the test left it running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "seenby.reference_server", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield Served(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            assert stream is not None
            stream.close()


def test_serve_prints_its_url_serves_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    """Port 0 picks a port, the random admin key and the URL are printed, a call is served,
    SIGTERM shuts down cleanly with exit 0, and the database folder is created."""
    db = tmp_path / "data" / "seenby.sqlite3"
    with serve("--port", "0", "--db", str(db)) as served:
        key_line = served.line()
        assert key_line.startswith("admin key: ")
        key = key_line.removeprefix("admin key: ")
        url = served.url()
        created = requests.post(
            f"{url}/v1/admin/createUser",
            json={"userID": "alice"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        ).json()
        assert created["code"] == 0
        assert served.stop(signal.SIGTERM) == 0
    assert db.exists()

    with serve("--port", "0", "--db", str(db), "--admin-key", "k") as served:
        url = served.url()  # a given key is not printed
        again = requests.post(
            f"{url}/v1/admin/createUser",
            json={"userID": "alice"},
            headers={"Authorization": "Bearer k"},
            timeout=10,
        ).json()
        assert again["code"] == 90007  # alice survived the restart
        assert served.stop(signal.SIGINT) == 0


def test_serve_exits_1_when_the_port_is_taken() -> None:
    """A port in use is reported, with exit code 1, instead of a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with serve("--port", str(port), "--db", ":memory:") as served:
            assert served.process.wait(timeout=LINE_WAIT_SECONDS) == 1
            assert served.process.stderr is not None
            assert "cannot start" in served.process.stderr.read()
