"""`python -m bench.cluster --tiny`: the cluster benchmark runs end to end, and its section says
what it measured. Nothing here compares a figure with a target."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_cluster_benchmark_runs_and_renders_every_figure(tmp_path: Path) -> None:
    figures_path = tmp_path / "cluster.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.cluster", "--tiny", "--no-write", "--json",
         str(figures_path)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(figures_path.read_text())
    assert set(figures["receipts_per_s"]) == {"sqlite", "pg1", "pg2", "pg3"}
    assert all(rate > 0 for rate in figures["receipts_per_s"].values())
    assert figures["statements_per_receipt"] > 1 and figures["commits_per_receipt"] > 0
    text = result.stdout
    assert text.startswith("## 10. The cluster on PostgreSQL")
    for row in ("single SQLite process", "1 node on PostgreSQL", "3 nodes on PostgreSQL"):
        assert f"| {row} |" in text
    assert "across nodes, p50 / p99" in text
