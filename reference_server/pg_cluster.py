"""A throw-away PostgreSQL server: ``initdb`` and ``postgres`` in a temporary directory.

For ``seenby serve --nodes N``, the tests and the benchmarks: ``ThrowAwayPostgres`` finds the
server binaries already on the machine (``SEENBY_PG_BIN``, Debian's
``/usr/lib/postgresql/*/bin``, or ``initdb`` on ``PATH``), initialises a cluster in a new
temporary directory, starts ``postgres`` on 127.0.0.1 and a free port with trust
authentication for loopback only, creates the ``seenby`` database, and on ``stop()`` shuts the
server down and deletes the directory. ``initdb`` and ``postgres`` refuse to run as root, so as
root they run as the ``postgres`` system user (Debian's packages create it), via ``runuser``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psycopg

__all__ = ["PostgresNotInstalled", "ThrowAwayPostgres", "find_binaries"]

DATABASE = "seenby"
SUPERUSER = "seenby"
_START_TIMEOUT_SECONDS = 60.0
_UNPRIVILEGED_USER = "postgres"

INSTALL_HINT = (
    "no PostgreSQL server binaries (initdb, postgres) were found: install Debian's"
    " 'postgresql' package (apt-get install postgresql), or point SEENBY_PG_BIN at the"
    " directory that holds initdb and postgres"
)


class PostgresNotInstalled(RuntimeError):
    """No ``initdb``/``postgres`` on this machine; the message says how to get them."""


def find_binaries() -> Path:
    """The directory holding ``initdb`` and ``postgres`` (the newest Debian version first)."""
    candidates: list[Path] = []
    if os.environ.get("SEENBY_PG_BIN"):
        candidates.append(Path(os.environ["SEENBY_PG_BIN"]))
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: int(Path(path).parent.name) if Path(path).parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(Path(path) for path in debian)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            return directory
    raise PostgresNotInstalled(INSTALL_HINT)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowAwayPostgres:
    """A PostgreSQL server of its own, started at construction; ``url`` names its database.

    ``port=None`` picks a free port; ``settings`` are more server settings (``-c name=value``,
    e.g. ``shared_preload_libraries``). ``stop()`` (or leaving the ``with`` block) shuts it
    down and removes its data; ``restart()`` stops and starts the same server (same data,
    same port), for the tests of nodes that outlive their database.
    """

    def __init__(
        self,
        port: int | None = None,
        log: Path | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self._bin = find_binaries()
        self._settings = dict(settings or {})
        self._root = Path(tempfile.mkdtemp(prefix="seenby-pg-"))
        self._data = self._root / "data"
        self._log_path = log if log is not None else self._root / "postgres.log"
        self._user = self._unprivileged_user()
        self.port = port if port is not None else _free_port()
        self.url = f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"
        """``postgresql://seenby@127.0.0.1:PORT/seenby``."""
        self._process: subprocess.Popen[bytes] | None = None
        try:
            self._root.chmod(0o755)
            if self._user is not None:
                entry = pwd.getpwnam(self._user)
                os.chown(self._root, entry.pw_uid, entry.pw_gid)
            self._run_as(
                [str(self._bin / "initdb"), "-D", str(self._data), "-U", SUPERUSER,
                 "--auth=trust", "-E", "UTF8", "--no-sync"],
            )  # fmt: skip
            self.start()
            with psycopg.connect(self._admin_url, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {DATABASE}")
        except BaseException:
            self.stop()
            raise

    @property
    def data_dir(self) -> Path:
        """The directory that holds the server's data (deleted by ``stop()``)."""
        return self._root

    @property
    def _admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    @staticmethod
    def _unprivileged_user() -> str | None:
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(_UNPRIVILEGED_USER)
        except KeyError:
            raise RuntimeError(
                "initdb and postgres refuse to run as root, and there is no 'postgres' user"
                " to run them as: create one (useradd --system postgres) or run as another user"
            ) from None
        return _UNPRIVILEGED_USER

    def _command(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", self._user, "--", *argv] if self._user else argv

    def _run_as(self, argv: list[str]) -> None:
        result = subprocess.run(self._command(argv), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed: {result.stderr.strip()}")

    def start(self) -> None:
        """Start the server (after ``__init__`` or a ``stop_server``) and wait until it answers."""
        log = self._log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                self._command(
                    [str(self._bin / "postgres"), "-D", str(self._data),
                     "-c", "listen_addresses=127.0.0.1", "-c", f"port={self.port}",
                     "-c", f"unix_socket_directories={self._root}",
                     "-c", "max_connections=200", "-c", "fsync=on",
                     *[f"-c{name}={value}" for name, value in self._settings.items()]]
                ),
                stdout=log,
                stderr=log,
            )  # fmt: skip
        finally:
            log.close()
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"postgres exited with {self._process.returncode}; see {self._log_path}:"
                    f" {self._log_tail()}"
                )
            try:
                psycopg.connect(self._admin_url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not start: {self._log_tail()}") from None
                time.sleep(0.1)

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self._log_path.read_text(errors="replace")[-2000:]
        return ""

    def stop_server(self, fast: bool = True) -> None:
        """Shut the server down (fast: active sessions are ended), keeping its data."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        # The signal goes to postgres itself (its pid file's first line), not to runuser.
        # SIGINT is its fast shutdown, SIGTERM its smart one.
        with contextlib.suppress(OSError, ValueError):
            pid = int((self._data / "postmaster.pid").read_text().split("\n", 1)[0])
            os.kill(pid, signal.SIGINT if fast else signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        """Stop the server and start it again on the same port and data."""
        self.stop_server()
        self.start()

    def stop(self) -> None:
        """Shut the server down and delete its data; idempotent."""
        self.stop_server()
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> ThrowAwayPostgres:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
