"""A throw-away Synapse for the ``matrix`` driver: installed, configured, started, stopped.

``seenby synapse start --dir DIR`` installs ``matrix-synapse`` from PyPI into a virtual
environment of its own (``~/.cache/seenby/synapse-venv`` unless ``--venv`` says otherwise), so
its dependencies never meet seenby's; writes its own config (not ``--generate-config``'s):
SQLite in DIR, one client listener on 127.0.0.1 and a free port, no federation, no trusted key
servers, shared-secret registration, rate limits relaxed, the /sync response cache off, cheap
password hashing; starts it, waits until ``/_matrix/client/versions`` answers, and prints
``url``, ``admin_key`` (the registration shared secret) and ``pid``. ``seenby synapse stop --dir
DIR`` stops it by the PID it wrote. ``ThrowawaySynapse`` is the same from Python.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

__all__ = ["DEFAULT_VENV", "SYNAPSE_REQUIREMENT", "ThrowawaySynapse", "main", "synapse_version"]

SYNAPSE_REQUIREMENT = "matrix-synapse>=1.163,<2"
"""What ``install`` asks pip for (1.163 is the release the driver was proven on)."""
DEFAULT_VENV = Path(
    os.environ.get("SEENBY_SYNAPSE_VENV", Path.home() / ".cache" / "seenby" / "synapse-venv")
)
"""Where Synapse's own virtual environment goes unless told otherwise (env SEENBY_SYNAPSE_VENV)."""
SERVER_NAME = "localhost"
"""The homeserver's name: user IDs are ``@name:localhost``."""

_PID_FILE = "synapse.pid"
_START_TIMEOUT_SECONDS = 60.0
_STOP_TIMEOUT_SECONDS = 30.0
_RELAXED = {"per_second": 100000, "burst_count": 1000000}


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def install(venv: Path = DEFAULT_VENV) -> Path:
    """Synapse's virtual environment at ``venv``, created and filled if it is not there yet;
    returns its Python."""
    python = _venv_python(venv)
    if python.exists() and _has_synapse(python):
        return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            SYNAPSE_REQUIREMENT,
        ],
        check=True,
    )
    return python


def _has_synapse(python: Path) -> bool:
    found = subprocess.run([str(python), "-c", "import synapse"], capture_output=True)
    return found.returncode == 0


def synapse_version(python: Path) -> str:
    """The version of Synapse installed for ``python``."""
    answer = subprocess.run(
        [str(python), "-c", "import synapse; print(synapse.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return answer.stdout.strip()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def write_config(data_dir: Path, port: int, shared_secret: str) -> Path:
    """Write a homeserver config for a throw-away server in ``data_dir``; returns its path.

    JSON is YAML, so no YAML library is needed on this side.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    log_config = data_dir / "log.config"
    log_config.write_text(
        json.dumps(
            {
                "version": 1,
                "formatters": {
                    "plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}
                },
                "handlers": {
                    "file": {
                        "class": "logging.FileHandler",
                        "formatter": "plain",
                        "filename": str(data_dir / "homeserver.log"),
                    }
                },
                "root": {"level": "WARNING", "handlers": ["file"]},
                "disable_existing_loggers": False,
            }
        ),
        encoding="utf-8",
    )
    config = {
        "server_name": SERVER_NAME,
        "pid_file": str(data_dir / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(data_dir / "homeserver.db")}},
        "log_config": str(log_config),
        "media_store_path": str(data_dir / "media_store"),
        "signing_key_path": str(data_dir / "signing.key"),
        "registration_shared_secret": shared_secret,
        "macaroon_secret_key": secrets.token_hex(32),
        "form_secret": secrets.token_hex(32),
        "report_stats": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "enable_registration": False,
        "bcrypt_rounds": 4,
        # Identical /sync requests would otherwise be answered from a two-minute cache.
        "caches": {"sync_response_cache_duration": 0},
        "presence": {"enabled": False},
        "rc_message": _RELAXED,
        "rc_registration": _RELAXED,
        "rc_room_creation": _RELAXED,
        "rc_login": {"address": _RELAXED, "account": _RELAXED, "failed_attempts": _RELAXED},
        "rc_joins": {"local": _RELAXED, "remote": _RELAXED},
        "rc_joins_per_room": _RELAXED,
        "rc_invites": {"per_room": _RELAXED, "per_user": _RELAXED, "per_issuer": _RELAXED},
        "rc_admin_redaction": _RELAXED,
        "rc_presence": {"per_user": _RELAXED},
    }
    path = data_dir / "homeserver.yaml"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


class ThrowawaySynapse:
    """A Synapse started on a fresh ``data_dir`` (SQLite, loopback, free port) and stopped by its
    PID; ``url`` and ``admin_key`` (the registration shared secret) are what the driver needs."""

    def __init__(self, data_dir: Path, *, venv: Path = DEFAULT_VENV) -> None:
        self.data_dir = data_dir
        self.python = install(venv)
        self.version = synapse_version(self.python)
        self.admin_key = secrets.token_hex(24)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = write_config(data_dir, self.port, self.admin_key)
        command = [str(self.python), "-m", "synapse.app.homeserver", "-c", str(config)]
        subprocess.run([*command, "--generate-keys"], check=True, capture_output=True)
        with (data_dir / "stderr.log").open("ab") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
            )
        self.pid = process.pid
        (data_dir / _PID_FILE).write_text(f"{self.pid}\n", encoding="utf-8")
        self._process: subprocess.Popen[bytes] | None = process
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(
                    f"Synapse exited with {self._process.returncode} before answering; see "
                    f"{self.data_dir / 'stderr.log'} and {self.data_dir / 'homeserver.log'}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/_matrix/client/versions", timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"Synapse did not answer at {self.url} within {_START_TIMEOUT_SECONDS}s")

    def detach(self) -> None:
        """Leave the server running past this object; ``stop_by_pid_file`` ends it later."""
        self._process = None

    def stop(self) -> None:
        """Stop the server (SIGTERM to its PID, then wait)."""
        if self._process is None:
            return
        process, self._process = self._process, None
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        (self.data_dir / _PID_FILE).unlink(missing_ok=True)

    def __enter__(self) -> ThrowawaySynapse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def stop_by_pid_file(data_dir: Path) -> bool:
    """Stop the Synapse whose PID ``start`` wrote in ``data_dir``; False if none was running."""
    pid_file = data_dir / _PID_FILE
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text(encoding="utf-8").strip())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink()
        return False
    deadline = time.monotonic() + _STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink()
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """``seenby synapse start|stop --dir DIR [--venv VENV]``."""
    parser = argparse.ArgumentParser(
        prog="seenby synapse", description="Start or stop a throw-away Synapse for --driver matrix."
    )
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--dir", type=Path, required=True, help="the server's data folder")
    parser.add_argument(
        "--venv",
        type=Path,
        default=DEFAULT_VENV,
        help=f"Synapse's own virtual environment (default {DEFAULT_VENV})",
    )
    options = parser.parse_args(argv)
    if options.action == "stop":
        stopped = stop_by_pid_file(options.dir)
        print("stopped" if stopped else f"no Synapse running from {options.dir}")
        return 0
    if (options.dir / _PID_FILE).exists():
        parser.error(f"{options.dir} already has a running Synapse: seenby synapse stop first")
    server = ThrowawaySynapse(options.dir, venv=options.venv)
    server.detach()  # `seenby synapse stop` ends it by the PID file
    print(f"url={server.url}")
    print(f"admin_key={server.admin_key}")
    print(f"pid={server.pid}")
    print(f"version={server.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
