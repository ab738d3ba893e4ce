"""Crash without loss: SIGKILL mid-load, restart on the same file (see `crash.py`)."""

from __future__ import annotations

from pathlib import Path

from .crash import run_crash
from .sizes import crash_size


def test_sigkill_mid_load_loses_nothing_acknowledged_and_reuses_no_seq(tmp_path: Path) -> None:
    # E-1 "code 0 means committed and durable"; R-3 atomic batches; §6 seq across restarts.
    result = run_crash(tmp_path, crash_size(), seed=11)
    print(result.summary())
    assert not result.problems, "\n".join(result.problems[:40])
    assert result.acked_before_kill > 0
    assert result.integrity == "ok"
