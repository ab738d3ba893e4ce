"""The bundled reference server in a process of its own: ``python -m seenby.reference_server``.

For what needs the server outside the caller's process — a load run whose server must not share
the load generator's GIL, a crash test that kills it, a benchmark that reads its memory, a test
of ``seenby run --target`` against a served URL. ``ServerProcess`` starts it on 127.0.0.1, a
free port and a given database file, waits for its ``listening on URL`` line, and stops it with
SIGTERM (or kills it). Its standard error goes to a log file, never to an undrained pipe.
"""

from __future__ import annotations

import queue
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["ServerProcess"]

_LISTENING = "listening on "
_START_TIMEOUT_SECONDS = 60.0
_STOP_TIMEOUT_SECONDS = 30.0


class ServerProcess:
    """A reference server process serving ``db``, with ``admin_key`` (random if not given)."""

    def __init__(
        self, db: Path | str, admin_key: str | None = None, log: Path | str | None = None
    ) -> None:
        self.admin_key = admin_key if admin_key is not None else secrets.token_hex(24)
        self.log_path = Path(log if log is not None else f"{db}.server.log")
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "seenby.reference_server", "--host", "127.0.0.1",
             "--port", "0", "--db", str(db), f"--admin-key={self.admin_key}"],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )  # fmt: skip
        self.pid = self._process.pid
        self.url = self._wait_until_listening()
        """``http://127.0.0.1:PORT``."""

    def _wait_until_listening(self) -> str:
        lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        assert self._process.stdout is not None
        threading.Thread(
            target=_forward_lines, args=(self._process.stdout, lines), daemon=True
        ).start()
        while True:
            try:
                line = lines.get(timeout=_START_TIMEOUT_SECONDS)
            except queue.Empty:
                break
            if line.startswith(_LISTENING):
                return line.removeprefix(_LISTENING).strip()
        self.kill()
        raise RuntimeError(
            f"the reference server did not start:\n{self.log_path.read_text(errors='replace')}"
        )

    @property
    def host(self) -> str:
        """The address it listens on."""
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.url.rsplit(":", 1)[1])

    def memory_kib(self) -> dict[str, int]:
        """``VmRSS`` (resident now) and ``VmHWM`` (peak resident) of the process, in KiB
        (Linux ``/proc``)."""
        with open(f"/proc/{self.pid}/status", encoding="ascii") as status:
            fields = dict(line.split(":", 1) for line in status if line.startswith("Vm"))
        return {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")}

    def stop(self) -> int:
        """SIGTERM, wait for the clean shutdown, and its exit status (killed if it hangs)."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._close()
        return self._process.returncode

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, whatever was mid-write stays mid-write."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=_STOP_TIMEOUT_SECONDS)
        self._close()

    def _close(self) -> None:
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._log.close()

    def __enter__(self) -> ServerProcess:
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
