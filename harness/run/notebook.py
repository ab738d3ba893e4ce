"""Jupyter notebooks from code: the results notebook of `seenby run --notebook`, and the helpers
`notebooks/build.py` uses for the analyst notebooks.

Notebooks are built with nbformat rather than edited as JSON, with stable cell IDs so that a
rebuild of unchanged sources is byte-for-byte identical. The cells that chart a
`conformance-summary.json` are defined once here and shared by the results notebook and
`notebooks/conformance_run.ipynb`. nbformat comes with the `notebooks` extra; the command line
imports this module only when `--notebook` is given.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import nbformat
import nbformat.v4
from nbformat import NotebookNode

__all__ = [
    "code",
    "markdown",
    "notebook_from_cells",
    "summary_analysis_cells",
    "write_notebook",
    "write_results_notebook",
]

_PYTHON3_KERNELSPEC = {
    "name": "python3",
    "display_name": "Python 3 (ipykernel)",
    "language": "python",
}

# nbformat ships py.typed but leaves these unannotated; typed aliases keep strict mypy useful.
_new_code_cell: Callable[..., NotebookNode] = nbformat.v4.new_code_cell
_new_markdown_cell: Callable[..., NotebookNode] = nbformat.v4.new_markdown_cell
_new_notebook: Callable[..., NotebookNode] = nbformat.v4.new_notebook
_write_nbformat: Callable[[NotebookNode, Path], None] = nbformat.write


def markdown(text: str) -> NotebookNode:
    """A markdown cell; surrounding blank lines are dropped so sources stay tidy."""
    return _new_markdown_cell(text.strip("\n"))


def code(source: str, *, parameters: bool = False) -> NotebookNode:
    """A code cell; `parameters=True` tags it `parameters`, where papermill injects values."""
    metadata = {"tags": ["parameters"]} if parameters else {}
    return _new_code_cell(source.strip("\n"), metadata=metadata)


def notebook_from_cells(cells: Iterable[NotebookNode], *, name: str) -> NotebookNode:
    """A validated notebook for the `python3` kernel whose cell IDs are `<name>-<index>`.

    nbformat gives new cells random IDs; numbering them keeps generated notebooks reproducible.
    """
    notebook = _new_notebook(
        cells=list(cells),
        metadata={"kernelspec": dict(_PYTHON3_KERNELSPEC), "language_info": {"name": "python"}},
    )
    for index, cell in enumerate(notebook.cells):
        cell.id = f"{name}-{index:02d}"
    nbformat.validate(notebook)
    return notebook


def write_notebook(notebook: NotebookNode, path: str | os.PathLike[str]) -> Path:
    """Write `notebook` to `path` (parent folders created) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_nbformat(notebook, out)
    return out


def summary_analysis_cells() -> list[NotebookNode]:
    """Cells that load the summary at `summary_path` (a variable set by an earlier cell) into
    pandas and show the verdict, a table and a stacked bar chart by spec area, the failures with
    their evidence, the strict deviations, the known-deviation entries and the skipped scenarios
    with their reasons."""
    return [
        markdown("""
## Load the summary

`conformance-summary.json` lists every selected scenario with its verdict (`pass`, `deviate`,
`fail`, `skip` or `not-run`), its spec area and behaviour IDs, and the evidence of a failure.
`deviate` means the core checks held but a strict one did not: the target answered correctly,
not as the reference server does. The overall verdict is `conformant` (or `conformant with N
strict deviations`) only when nothing failed, nothing was left unrun and no required scenario
was skipped; a known-deviation file (`--expect`) excuses what it lists.
"""),
        code("""
import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator

%matplotlib inline

summary = json.loads(Path(summary_path).read_text(encoding="utf-8"))
scenarios = pd.DataFrame(summary["scenarios"])
print(f"verdict: {summary['verdict_text']}")
print(f"target:  {summary['target']}")
for problem in summary["discovery_problems"]:
    print(f"discovery problem: {problem}")
print(f"run:     {summary['started_at']} → {summary['finished_at']}")
print("counts: ", ", ".join(f"{n} {verdict}" for verdict, n in summary["counts"].items()))
for problem in summary["errors"]:
    print(f"problem with the run itself: {problem}")
scenarios[["id", "area", "verdict", "required", "title"]]
"""),
        markdown("""
## Verdicts by spec area

One row per area of the behaviour spec (A settings, S sender marks, R receipts, P pushes,
Q pulls, L member lists, M membership, C conversation mark, E errors, X security, V payloads,
Y event replay), in the spec's order.
"""),
        code("""
VERDICTS = ["pass", "deviate", "fail", "skip", "not-run"]
by_area = (
    scenarios.groupby(["area", "verdict"]).size().unstack(fill_value=0)
    .reindex(index=scenarios["area"].unique(), columns=VERDICTS, fill_value=0)  # spec order
)
by_area["total"] = by_area[VERDICTS].sum(axis=1)
by_area.insert(0, "name", by_area.index.map({a["area"]: a["name"] for a in summary["areas"]}))
by_area
"""),
        code("""
VERDICT_COLOURS = {
    "pass": "#2e7d32", "deviate": "#0277bd", "fail": "#c62828", "skip": "#f9a825",
    "not-run": "#9e9e9e",
}
ax = by_area[VERDICTS].plot.bar(
    stacked=True, color=[VERDICT_COLOURS[v] for v in VERDICTS], figsize=(9, 4), rot=0
)
ax.set(xlabel="spec area", ylabel="scenarios", title=f"Verdicts by spec area: {summary['verdict']}")
ax.yaxis.set_major_locator(MaxNLocator(integer=True))
ax.legend(title="verdict", loc="upper left", bbox_to_anchor=(1, 1))
plt.show()
"""),
        markdown("""
## Failures and their evidence

The evidence is the failing step and its assertion message: for a schema violation, an error
code or a push that never came, it says what was expected, what arrived and from which target.
"""),
        code("""
failures = scenarios[scenarios["verdict"] == "fail"]
if failures.empty:
    print("no failures")
else:
    display(
        failures.assign(spec=failures["spec"].str.join(", "))[["id", "title", "spec", "evidence"]]
        .style.format(escape="html", na_rep="")
        .hide(axis="index")
        .set_properties(subset=["evidence"], **{"white-space": "pre-wrap", "text-align": "left"})
    )
"""),
        markdown("""
## Strict deviations and known deviations

Each distinct deviation once: what docs/protocol.md (the section) has the reference server
answer, what the target answered, and the scenarios it was seen in. Then the entries of the
known-deviation file, if the run had one: `stale` ones can be removed.
"""),
        code("""
if not summary["deviations"]:
    print("no strict deviations")
else:
    display(
        pd.DataFrame(summary["deviations"])
        .assign(seen_in=lambda table: table["seen_in"].str.join(", "))
        [["section", "check", "reference", "observed", "seen_in", "expected"]]
        .style.format(escape="html").hide(axis="index")
    )
if summary["expectations"] is not None:
    display(
        pd.DataFrame(summary["expectations"]["entries"], columns=["id", "row", "status", "advice"])
        .style.format(escape="html", na_rep="").hide(axis="index")
    )
"""),
        code("""
skipped = scenarios[scenarios["verdict"].isin(["skip", "not-run"])]
if skipped.empty:
    print("nothing skipped")
else:
    display(
        skipped[["id", "title", "required", "verdict", "reason"]]
        .style.format(escape="html", na_rep="")
        .hide(axis="index")
    )
"""),
    ]


def write_results_notebook(
    summary_path: str | os.PathLike[str], out_path: str | os.PathLike[str]
) -> Path:
    """Write a notebook, ready to execute, that presents the run recorded in `summary_path`.

    The title carries the verdict and the target. The summary is referred to relative to the
    notebook's folder (Jupyter runs a notebook from its own folder), so the report folder can be
    moved or published as a whole.
    """
    summary_file = Path(summary_path).resolve()
    out = Path(out_path).resolve()
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    relative = Path(os.path.relpath(summary_file, out.parent)).as_posix()
    cells = [
        markdown(f"""
# Conformance results: {summary["verdict_text"]}

Target: {summary["target"]}, run {summary["started_at"]} → {summary["finished_at"]}.
Written by `seenby run --notebook`; run all cells to see the charts. To look at another run,
change `summary_path` below (or pass it with `papermill -p summary_path ...`).
"""),
        code(f"summary_path = {relative!r}", parameters=True),
        *summary_analysis_cells(),
    ]
    return write_notebook(notebook_from_cells(cells, name="results"), out)
