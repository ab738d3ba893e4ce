"""`matrix_side_by_side.ipynb`: committed as `build.py` writes it, and run top to bottom on the
bundled reference server and a throw-away Synapse it starts itself (`open_target(driver=
"matrix")` without a URL)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import nbformat
from notebook_execution import NOTEBOOKS_DIR, error_outputs, execute, rich_outputs, stream_text

NOTEBOOK = "matrix_side_by_side.ipynb"


def test_committed_notebook_is_what_build_py_writes(
    build_script: ModuleType, tmp_path: Path
) -> None:
    fresh = build_script.write_notebook(build_script.NOTEBOOKS[NOTEBOOK](), tmp_path / NOTEBOOK)

    assert (NOTEBOOKS_DIR / NOTEBOOK).read_text("utf-8") == fresh.read_text("utf-8")
    committed = nbformat.read(NOTEBOOKS_DIR / NOTEBOOK, as_version=4)
    code_cells = [cell for cell in committed.cells if cell.cell_type == "code"]
    assert "parameters" in code_cells[0].metadata.get("tags", [])
    assert not any(cell.get("outputs") for cell in code_cells)


def test_the_same_read_on_both_targets_reaches_the_sender() -> None:
    notebook = execute(
        NOTEBOOKS_DIR / NOTEBOOK,
        {"members": 6, "read_window_s": 1.0},
        append="print(sorted(lateness.columns), int(lateness.notna().all().all()))",
    )

    assert error_outputs(notebook) == []
    assert len(rich_outputs(notebook, "image/png")) == 1
    columns, complete = stream_text(notebook, -1).rsplit(" ", 1)
    assert columns == "['matrix (Synapse)', 'seenby (reference server)']"
    assert complete.strip() == "1"  # every member's read reached the sender on both
