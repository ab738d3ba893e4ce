"""``cucumber.json``: the run in Cucumber's JSON format, for BDD tools (presentation only).

Written from the result records (``seenby.harness.plugins.results`` gathers each scenario's steps
from
pytest-bdd's public hooks), so it holds every item that reported, skipped ones included, and
needs nothing of pytest-bdd's own writer. One feature entry per feature file, one element per
item (``id``: the pytest item name), each step with its status, duration (ns) and error. What
pytest-bdd does not know goes into an ``after`` hook named ``seenby``, whose ``output`` lines
carry the strict deviations and the known-deviation entry; its status is ``failed`` when the
item makes the run fail beyond its steps (a deviation under ``--strict``, a stale entry). An
item skipped before any step ran gets a ``before`` hook with status ``skipped`` and the reason.
Verdicts are never read back from this file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seenby.harness.reports.summary import ItemResult, RunReport, ScenarioResult

__all__ = ["write_cucumber"]

_NANOSECONDS = 10**9
_HOOK = {"location": "seenby"}


def _tags(names: list[str], line: int) -> list[dict[str, Any]]:
    return [{"name": f"@{name}", "line": max(line - 1, 1)} for name in names]


def _feature(uri: str, run: Mapping[str, Any] | None) -> dict[str, Any]:
    feature = run["feature"] if run is not None else {}
    return {
        "keyword": feature.get("keyword", "Feature"),
        "uri": uri,
        "name": feature.get("name") or uri,
        "id": uri.lower().replace(" ", "-"),
        "line": feature.get("line", 1),
        "description": feature.get("description", ""),
        "language": feature.get("language", "en"),
        "tags": _tags(feature.get("tags", []), feature.get("line", 1)),
        "elements": [],
    }


def _step(step: Mapping[str, Any], uri: str, evidence: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "status": step["status"],
        "duration": int(step["duration_s"] * _NANOSECONDS),
    }
    if step["status"] == "failed":
        result["error_message"] = evidence or step.get("error", "")
    return {
        "keyword": step["keyword"],
        "name": step["name"],
        "line": step["line"],
        "match": {"location": f"{uri}:{step['line']}"},
        "result": result,
    }


def _element(report: RunReport, result: ScenarioResult, item: ItemResult) -> dict[str, Any]:
    scenario = result.scenario
    run = item.bdd
    uri = scenario.feature
    line = run["line"] if run is not None else scenario.line
    element: dict[str, Any] = {
        "keyword": run["keyword"] if run is not None else "Scenario",
        "id": item.name,
        "name": run["name"] if run is not None else scenario.title,
        "line": line,
        "description": run["description"] if run is not None else "",
        "tags": _tags(run["tags"] if run is not None else sorted(scenario.tags), line),
        "type": "scenario",
        "steps": [_step(step, uri, item.evidence) for step in (run or {}).get("steps", [])],
    }
    if run is None:
        status = "skipped" if item.outcome == "skipped" else "failed"
        message = item.reason or item.evidence or item.outcome
        element["before"] = [
            {"match": _HOOK, "result": {"status": status, "duration": 0, "error_message": message}}
        ]
    lines = [str(deviation) for deviation in item.deviations]
    source = report.expectations.source if report.expectations is not None else ""
    stale = [judged for judged in result.stale if judged.expectation == item.expectation]
    if item.expectation is not None:
        judged = [each for each in result.expected if each.expectation == item.expectation]
        if judged:
            lines.append(item.expectation.advice(judged[0].status, source))
    fails_run = bool(stale) or (
        report.strict and item.verdict == "deviate" and not item.deviations_excused
    )
    if lines:
        status = "failed" if fails_run else "passed"
        element["after"] = [
            {"match": _HOOK, "result": {"status": status, "duration": 0}, "output": lines}
        ]
    return element


def write_cucumber(report: RunReport, destination: Path) -> None:
    """Write the run's items as Cucumber JSON to ``destination``."""
    feature_runs = {
        result.scenario.feature: item.bdd
        for result in reversed(report.results)
        for item in result.items
        if item.bdd is not None
    }
    features: dict[str, dict[str, Any]] = {}
    for result in report.results:
        uri = result.scenario.feature
        for item in result.items:
            feature = features.setdefault(uri, _feature(uri, feature_runs.get(uri)))
            feature["elements"].append(_element(report, result, item))
    destination.write_text(
        json.dumps(list(features.values()), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
