"""Running notebooks in tests: parameters injected the way papermill does, cells executed by
nbclient in a `python3` kernel (ipykernel from this virtualenv), outputs inspected afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nbclient import NotebookClient
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"


def execute(
    path: Path,
    parameters: dict[str, Any] | None = None,
    *,
    append: str | None = None,
    cwd: Path | None = None,
) -> NotebookNode:
    """Run the notebook at `path` top to bottom and return it with its outputs.

    `parameters` are injected after the `parameters` cell, as `papermill -p` does; `append` is
    a probe cell added at the end to report kernel state. The kernel runs in `cwd` (default: the
    notebook's folder, as in Jupyter). A cell that raises fails the test with its traceback.
    """
    notebook = load_notebook_node(str(path))
    if parameters:
        notebook = parameterize_notebook(notebook, parameters)
    if append is not None:
        notebook.cells.append(new_code_cell(append))
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd or path.parent)}},
    )
    client.execute()
    return notebook


def outputs(notebook: NotebookNode) -> Iterator[NotebookNode]:
    """Every output of every code cell, in order."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            yield from cell.outputs


def error_outputs(notebook: NotebookNode) -> list[NotebookNode]:
    """Outputs that record an exception (nbclient raises on the first; this double-checks)."""
    return [output for output in outputs(notebook) if output.output_type == "error"]


def rich_outputs(notebook: NotebookNode, mime_type: str) -> list[str]:
    """The `mime_type` payloads of display and result outputs (e.g. `text/html`, `image/png`)."""
    return [
        output.data[mime_type]
        for output in outputs(notebook)
        if output.output_type in ("display_data", "execute_result") and mime_type in output.data
    ]


def stream_text(notebook: NotebookNode, cell_index: int | None = None) -> str:
    """Everything printed, by the whole notebook or by the cell at `cell_index`."""
    cells = notebook.cells if cell_index is None else [notebook.cells[cell_index]]
    return "".join(
        output.text
        for cell in cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream"
    )
