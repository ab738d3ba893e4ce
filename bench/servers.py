"""The reference server as a separate process, so its memory can be read and its GIL is its own.

`ServerProcess` runs `python -m seenby.reference_server --port 0 --db FILE --admin-key KEY`, waits
for its `listening on http://HOST:PORT` line, and reads the process's resident memory from
`/proc/PID/status` (Linux).
"""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
import threading
from types import TracebackType

_LISTENING = re.compile(r"listening on http://(?P<host>[^\s:]+):(?P<port>\d+)")
_START_TIMEOUT_SECONDS = 60.0


class ServerProcess:
    """A reference server process on 127.0.0.1, for a database file."""

    def __init__(self, db_path: str, admin_key: str | None = None) -> None:
        self.admin_key = admin_key if admin_key is not None else secrets.token_urlsafe(24)
        # A file, not a pipe: nobody drains stderr while the server runs.
        self._log_path = f"{db_path}.server.log"
        with open(self._log_path, "w", encoding="utf-8") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "seenby.reference_server",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--db",
                    db_path,
                    "--admin-key",
                    self.admin_key,
                ],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        self.pid = self._process.pid
        self.host, self.port = self._wait_until_listening()

    def _wait_until_listening(self) -> tuple[str, int]:
        found: list[re.Match[str]] = []

        def read_first_lines() -> None:
            assert self._process.stdout is not None
            for line in self._process.stdout:
                if (match := _LISTENING.search(line)) is not None:
                    found.append(match)
                    return

        reader = threading.Thread(target=read_first_lines, daemon=True)
        reader.start()
        reader.join(_START_TIMEOUT_SECONDS)
        if not found:
            self.stop()
            with open(self._log_path, encoding="utf-8") as log:
                raise RuntimeError(f"the reference server did not start:\n{log.read()}")
        return found[0]["host"], int(found[0]["port"])

    def memory_kib(self) -> dict[str, int]:
        """`VmRSS` (resident now) and `VmHWM` (peak resident) of the process, in KiB."""
        with open(f"/proc/{self.pid}/status", encoding="ascii") as status:
            fields = dict(line.split(":", 1) for line in status if line.startswith("Vm"))
        return {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")}

    def stop(self) -> None:
        """Ask the server to stop (SIGTERM) and wait for it."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
