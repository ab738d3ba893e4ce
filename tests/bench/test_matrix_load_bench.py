"""`python -m bench.matrix_load --smoke`: the side-by-side load benchmark (reference server
through the `seenby` driver, a throw-away Synapse through `matrix`) runs end to end and its
section shows both targets. Nothing here compares a figure with a target."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_matrix_load_benchmark_runs_on_both_targets_and_renders_them(tmp_path: Path) -> None:
    figures_path = tmp_path / "matrix_load.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.matrix_load", "--smoke", "--no-write", "--json",
         str(figures_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(figures_path.read_text())
    reference, synapse = figures["targets"]
    assert (reference["driver"], synapse["driver"]) == ("seenby", "matrix")
    assert synapse["implementation"].startswith("Synapse ")
    for target in (reference, synapse):
        assert target["receipts"] > 0 and all(r > 0 for r in target["receiptsPerSecond"])
        assert target["pushesTimed"] > 0
    assert reference["broken"] == []
    text = result.stdout
    assert text.startswith("## 11. The same workload on Synapse")
    assert "| seenby-reference" in text and "| Synapse " in text
    assert "(driver `matrix`)" in text
