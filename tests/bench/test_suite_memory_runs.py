"""`python -m bench.suite_memory --tiny`: the memory benchmark runs end to end, against the 300 MB
server and the correct one, and its figures are well formed (no figure is judged here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_memory_benchmark_runs_at_its_smoke_size(tmp_path: Path) -> None:
    figures = tmp_path / "memory.json"
    finished = subprocess.run(
        [sys.executable, "-m", "bench.suite_memory", "--tiny", "--json", str(figures)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "## 9. Peak memory against a 300 MB answer" in finished.stdout
    runs = json.loads(figures.read_text(encoding="utf-8"))
    assert [run["server"] for run in runs] == ["C1_conversation_list_of_300_MB", "reference"]
    assert [run["verdict"] for run in runs] == ["not-conformant", "conformant"]
    assert all(run["reports_present"] and run["peak_mb"] > 0 for run in runs)
