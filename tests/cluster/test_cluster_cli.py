"""``seenby serve --nodes N`` and ``--database``: the command a person starts a cluster with."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from seenby.reference_server import pg_cluster

LINE_TIMEOUT_S = 60


def test_nodes_prints_every_url_and_the_key_and_ctrl_c_removes_everything() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "seenby.reference_server", "--nodes", "2", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        lines = []
        while not lines or not lines[-1].startswith("target: "):
            line = process.stdout.readline()
            assert line, f"exited early: {process.stderr.read() if process.stderr else ''}"
            lines.append(line.strip())
        text = "\n".join(lines)
        admin_key = re.search(r"^admin key: (\S+)$", text, re.MULTILINE)
        data_dir = re.search(r"throw-away: (\S+),", text)
        urls = re.findall(r"^node listening on (http://127\.0\.0\.1:\d+)$", text, re.MULTILINE)
        assert admin_key and data_dir and len(urls) == 2, text
        assert lines[-1] == f"target: {','.join(urls)}"
        for url in urls:  # one service: the same admin key works on every node
            answer = requests.post(
                f"{url}/v1/admin/getSettings", json={},
                headers={"Authorization": f"Bearer {admin_key.group(1)}"}, timeout=10,
            ).json()  # fmt: skip
            assert answer["code"] == 0, answer
        assert Path(data_dir.group(1)).is_dir()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=LINE_TIMEOUT_S) == 0
        assert not Path(data_dir.group(1)).exists()
        for url in urls:
            with pytest.raises(requests.ConnectionError):
                requests.get(f"{url}/v1/capabilities", timeout=2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_database_takes_only_a_postgresql_url() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "seenby.reference_server", "--database", "seenby.sqlite3"],
        capture_output=True, text=True, timeout=LINE_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--database takes a postgresql:// URL" in result.stderr


def test_an_unreachable_database_is_a_clear_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "seenby.reference_server", "--port", "0",
         "--database", "postgresql://nobody@127.0.0.1:1/none"],
        capture_output=True, text=True, timeout=LINE_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "cannot connect to PostgreSQL at postgresql://nobody@127.0.0.1:1/none" in result.stderr


def test_without_server_binaries_the_error_says_how_to_get_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SEENBY_PG_BIN", raising=False)
    monkeypatch.setattr(pg_cluster.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(pg_cluster.shutil, "which", lambda name: None)
    with pytest.raises(pg_cluster.PostgresNotInstalled, match="apt-get install postgresql"):
        pg_cluster.find_binaries()
