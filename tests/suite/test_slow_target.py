"""One time budget governs every wait: a target that adds 100 ms to every request
passes the push, absence and replay scenarios unchanged once ``--seenby-timeout`` is raised, and
fails them when the budget is smaller than its delay (so the waits really derive from it)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from seenby.reference_server import RunningServer
from seenby.reference_server.http_api import RequestHandler
from tests.mutants.gallery import Variant

DELAY_SECONDS = 0.1
SCENARIOS = "RR-P-001 or RR-P-004 or RR-X-003 or RR-Y-053 or RR-C-001"
"""Pushes awaited, absences proved behind fences, a replay: every kind of wait."""


class SlowHandler(RequestHandler):
    """The reference handler, 100 ms slower on every request (a distant deployment)."""

    def handle_one_request(self) -> None:
        time.sleep(DELAY_SECONDS)
        super().handle_one_request()


@pytest.fixture(scope="module")
def slow_server() -> Iterator[RunningServer]:
    with Variant("slow", (), "100 ms per request", handler=SlowHandler).start() as server:
        yield server


def _suite(server: RunningServer, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "seenby.steps",
            "-q",
            "-p",
            "no:randomly",
            "-m",
            SCENARIOS,
            f"--seenby-target={server.url}",
            f"--seenby-admin-key={server.admin_key}",
            f"--seenby-timeout={timeout}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_slow_target_passes_with_a_raised_budget(slow_server: RunningServer) -> None:
    run = _suite(slow_server, timeout=30)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


def test_a_budget_below_the_targets_delay_fails_its_waits(slow_server: RunningServer) -> None:
    run = _suite(slow_server, timeout=DELAY_SECONDS / 4)
    assert run.returncode == 1, run.stdout[-3000:]
    assert " passed" not in run.stdout.splitlines()[-1], run.stdout[-3000:]
    assert "ReadTimeout" in run.stdout or "preflight" in run.stdout, run.stdout[-3000:]
