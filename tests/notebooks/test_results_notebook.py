"""`seenby run --notebook` and `seenby.harness.run.notebook.write_results_notebook`: the notebook
built
from a real run's summary executes, and shows the verdict, the chart by area and the failures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from notebook_execution import error_outputs, execute, rich_outputs, stream_text

from seenby.harness.run.notebook import write_results_notebook

SELECTION = ["RR-R-001", "RR-Q-001"]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report folder of a small real run against the bundled server, with `--notebook`."""
    report_dir = tmp_path_factory.mktemp("run") / "report"
    command = [sys.executable, "-m", "seenby.harness.cli", "run", "--report-dir", str(report_dir)]
    for scenario_id in SELECTION:
        command += ["--id", scenario_id]
    command += ["--notebook", str(report_dir / "results.ipynb")]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return report_dir


def test_seenby_run_writes_a_results_notebook_that_runs(report_dir: Path) -> None:
    path = report_dir / "results.ipynb"
    written = nbformat.read(path, as_version=4)
    assert written.cells[0].source.startswith("# Conformance results: conformant")

    notebook = execute(path)

    assert error_outputs(notebook) == []
    printed = stream_text(notebook)
    assert "verdict: conformant" in printed
    assert "no failures" in printed
    assert rich_outputs(notebook, "image/png"), "the chart by spec area"
    tables = "".join(rich_outputs(notebook, "text/html"))
    for scenario_id in SELECTION:
        assert scenario_id in tables


def test_results_notebook_shows_failures_with_their_evidence(
    report_dir: Path, tmp_path: Path
) -> None:
    summary = json.loads((report_dir / "conformance-summary.json").read_text(encoding="utf-8"))
    evidence = "Then alice is pushed <2 read>\nWaitTimeout: no onRecvMessageReadReceipts in 5 s"
    summary["scenarios"][0] |= {"verdict": "fail", "evidence": evidence}
    summary["verdict"] = "not-conformant"
    summary["verdict_text"] = "not conformant"
    summary["deviations"] = [
        {"check": "HTTP status of code 6017", "section": "§1.2", "reference": "400",
         "observed": "422", "seen_in": ["RR-Q-001"], "expected": False}
    ]  # fmt: skip
    summary_path = tmp_path / "edited-summary.json"
    summary_path.write_text(json.dumps(summary), encoding="utf-8")

    out = write_results_notebook(summary_path, tmp_path / "notebooks" / "results.ipynb")
    written = nbformat.read(out, as_version=4)
    assert written.cells[0].source.startswith("# Conformance results: not conformant")
    assert written.cells[1].source == "summary_path = '../edited-summary.json'"

    notebook = execute(out)

    assert error_outputs(notebook) == []
    assert "no failures" not in stream_text(notebook)
    tables = "".join(rich_outputs(notebook, "text/html"))
    assert "Then alice is pushed &lt;2 read&gt;" in tables, "evidence, HTML-escaped"
    assert "HTTP status of code 6017" in tables and "422" in tables, "the strict deviations"
