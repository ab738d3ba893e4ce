"""The analyst notebooks in `notebooks/`: committed exactly as `build.py` writes them, without
outputs, parameterisable by papermill, and each runs top to bottom against a live target."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from notebook_execution import NOTEBOOKS_DIR, error_outputs, execute, rich_outputs, stream_text

from seenby import harness, reference_server

NOTEBOOK_FILES = ["quickstart.ipynb", "conformance_run.ipynb", "group_read_dynamics.ipynb"]


@pytest.mark.parametrize("filename", NOTEBOOK_FILES)
def test_committed_notebook_is_what_build_py_writes(
    filename: str, build_script: ModuleType, tmp_path: Path
) -> None:
    committed = nbformat.read(NOTEBOOKS_DIR / filename, as_version=4)
    assert not [cell.id for cell in committed.cells if cell.get("outputs")], (
        f"{filename} was committed with outputs: run `python notebooks/build.py`"
    )
    fresh = build_script.write_notebook(build_script.NOTEBOOKS[filename](), tmp_path / filename)
    assert (NOTEBOOKS_DIR / filename).read_text(encoding="utf-8") == fresh.read_text(
        encoding="utf-8"
    ), f"{filename} differs from what notebooks/build.py builds: rebuild it"


@pytest.mark.parametrize("filename", NOTEBOOK_FILES)
def test_notebook_takes_target_parameters_first(filename: str) -> None:
    notebook = nbformat.read(NOTEBOOKS_DIR / filename, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    tagged = [cell for cell in code_cells if "parameters" in cell.metadata.get("tags", [])]
    assert tagged == code_cells[:1], "the first code cell, and only it, is tagged `parameters`"
    assert "target_url = None" in tagged[0].source
    assert "admin_key = None" in tagged[0].source


def test_quickstart_shows_live_counts_and_tables() -> None:
    notebook = execute(NOTEBOOKS_DIR / "quickstart.ipynb")

    assert error_outputs(notebook) == []
    printed = stream_text(notebook)
    assert "1 read / 4 unread" in printed
    assert "2 read / 3 unread" in printed
    unread_pages = [line for line in printed.splitlines() if line.startswith("unread page")]
    assert len(unread_pages) >= 2, printed  # three unread members, two per page
    assert unread_pages[-1].endswith("is_finished=True")
    tables = [html for html in rich_outputs(notebook, "text/html") if "<table" in html]
    assert len(tables) >= 5  # capabilities, group, message, history, receipts, read members


def test_conformance_run_charts_a_selection(tmp_path: Path) -> None:
    report_dir = tmp_path / "report"
    notebook = execute(
        NOTEBOOKS_DIR / "conformance_run.ipynb",
        {"selection": ["RR-R-001", "RR-R-002"], "report_dir": str(report_dir)},
        append='print(json.dumps({"rows": len(scenarios), "verdict": summary["verdict"]}))',
    )

    assert error_outputs(notebook) == []
    probe = json.loads(stream_text(notebook, -1))
    assert probe == {"rows": 2, "verdict": "conformant"}
    assert "no failures" in stream_text(notebook)
    assert rich_outputs(notebook, "image/png"), "the verdict chart"
    assert (report_dir / "conformance-summary.json").is_file()
    assert (report_dir / "report.html").is_file()


def test_group_read_dynamics_against_a_deployment_by_url(tmp_path: Path) -> None:
    # A separate server whose receipt group limit is below the group size: the notebook must
    # raise the limit through the admin API, and put it back when done.
    with (
        reference_server.start(port=0, db=str(tmp_path / "seenby.sqlite3")) as server,
        harness.open_target(server.url, server.admin_key) as target,
    ):
        target.admin.set_settings(group_receipt_max_members=20)

        notebook = execute(
            NOTEBOOKS_DIR / "group_read_dynamics.ipynb",
            {
                "target_url": server.url,
                "admin_key": server.admin_key,
                "members": 40,
                "read_window_s": 1.0,
                "pull_every_s": 0.1,
                "reader_threads": 8,
            },
            append='print(checks["ok"].all(), len(schedule), members)',
        )

        assert target.admin.get_settings().group_receipt_max_members == 20
    assert error_outputs(notebook) == []
    all_ok, readers, members = stream_text(notebook, -1).split()
    assert all_ok == "True"
    assert 0 < int(readers) < int(members) == 40
    assert len(rich_outputs(notebook, "image/png")) >= 2, "the read curve and the latency histogram"
