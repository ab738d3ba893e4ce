"""Verdicts and report files of a conformance run.

A scenario's verdict comes from the results of its pytest items (one, or one per Examples row):
``fail`` if any failed, ``not-run`` if any did not run, ``skip`` if any was skipped, else
``pass``. The run's verdict is ``conformant`` only when nothing failed, nothing was left unrun
and no required scenario was skipped; ``not-conformant`` when anything failed; ``incomplete``
otherwise (an empty selection is incomplete too: it proves nothing).

``write_reports`` writes the four files of ``--report-dir``: ``junit.xml`` (pytest's, one
``<testsuite>`` per pytest pass, with the run's facts as suite properties),
``cucumber.json`` (pytest-bdd's, merged by feature; presentation only),
``conformance-summary.json`` (shape: ``harness/schemas/conformance-summary.json``) and
``report.html``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.catalogue import AREA_NAMES, CatalogueScenario, area_order
from harness.report_html import render_report

__all__ = [
    "SUMMARY_SCHEMA",
    "VERDICTS",
    "ItemResult",
    "RunReport",
    "ScenarioResult",
    "write_reports",
]

SUMMARY_SCHEMA = "https://seenby.dev/schemas/v1/conformance-summary.json"
VERDICTS = ("pass", "fail", "skip", "not-run")
_OUTCOME_VERDICTS = {"passed": "pass", "failed": "fail", "skipped": "skip"}


@dataclass(frozen=True)
class ItemResult:
    """One pytest item's result: a scenario, or one Examples row of a Scenario Outline."""

    scenario_id: str
    example: str | None
    outcome: str
    """``passed``, ``failed`` or ``skipped``."""
    reason: str | None
    evidence: str | None
    duration_s: float

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ItemResult:
        """Build from a ``harness.reporting`` result record."""
        return cls(
            scenario_id=record["scenario_id"],
            example=record["example"],
            outcome=record["outcome"],
            reason=record["reason"],
            evidence=record["evidence"],
            duration_s=float(record["duration_s"]),
        )

    @property
    def verdict(self) -> str:
        """``pass``, ``fail`` or ``skip``."""
        return _OUTCOME_VERDICTS[self.outcome]


@dataclass(frozen=True)
class ScenarioResult:
    """A selected scenario with its verdict, skip reason and failure evidence."""

    scenario: CatalogueScenario
    verdict: str
    reason: str | None
    evidence: str | None
    duration_s: float

    @classmethod
    def from_items(cls, scenario: CatalogueScenario, items: Sequence[ItemResult]) -> ScenarioResult:
        """Combine the results of the scenario's items (see the module docstring)."""

        def labelled(item: ItemResult, text: str) -> str:
            return f"[{item.example}] {text}" if item.example is not None else text

        failed = [item for item in items if item.outcome == "failed"]
        skipped = [item for item in items if item.outcome == "skipped"]
        reason: str | None = None
        evidence: str | None = None
        if failed:
            verdict = "fail"
            evidence = "\n\n".join(labelled(item, item.evidence or "failed") for item in failed)
        elif len(items) < scenario.example_count:
            verdict = "not-run"
            reason = (
                "not run"
                if not items
                else f"only {len(items)} of {scenario.example_count} examples ran"
            )
        elif skipped:
            verdict = "skip"
            reasons = dict.fromkeys(item.reason or "skipped" for item in skipped)
            reason = "; ".join(reasons)
        else:
            verdict = "pass"
        return cls(
            scenario=scenario,
            verdict=verdict,
            reason=reason,
            evidence=evidence,
            duration_s=round(sum(item.duration_s for item in items), 6),
        )

    def to_json(self) -> dict[str, Any]:
        """The scenario's entry in ``conformance-summary.json``."""
        scenario = self.scenario
        return {
            "id": scenario.id,
            "title": scenario.title,
            "feature": scenario.feature,
            "area": scenario.area,
            "spec": list(scenario.spec),
            "doc": scenario.doc,
            "required": scenario.required,
            "verdict": self.verdict,
            "reason": self.reason,
            "evidence": self.evidence,
            "duration_s": self.duration_s,
        }


def _count(verdicts: Sequence[str]) -> dict[str, int]:
    counts = {verdict: verdicts.count(verdict) for verdict in VERDICTS}
    counts["total"] = len(verdicts)
    return counts


@dataclass(frozen=True)
class RunReport:
    """Everything one ``seenby run`` found out."""

    target: str
    """The target's URL, or ``"bundled reference server"``."""
    capabilities: Mapping[str, Any] | None
    """``GET /v1/capabilities`` data; ``None`` when the target did not answer it."""
    settings: Mapping[str, Any]
    versions: Mapping[str, str]
    started_at: datetime
    finished_at: datetime
    results: Sequence[ScenarioResult]
    errors: Sequence[str]
    """Problems of the run itself (collection errors, pytest stopping early, ...)."""

    @property
    def counts(self) -> dict[str, int]:
        """Scenarios per verdict, and ``total``."""
        return _count([result.verdict for result in self.results])

    @property
    def verdict(self) -> str:
        """``conformant``, ``not-conformant`` or ``incomplete``."""
        if any(result.verdict == "fail" for result in self.results):
            return "not-conformant"
        unproven = any(
            result.verdict == "not-run" or (result.verdict == "skip" and result.scenario.required)
            for result in self.results
        )
        return "incomplete" if unproven or not self.results else "conformant"

    def by_area(self) -> list[dict[str, Any]]:
        """Per spec area (in spec order): its letter, name and counts."""
        areas = sorted({result.scenario.area for result in self.results}, key=area_order)
        return [
            {
                "area": area,
                "name": AREA_NAMES.get(area, area),
                "counts": _count(
                    [result.verdict for result in self.results if result.scenario.area == area]
                ),
            }
            for area in areas
        ]

    def to_json(self) -> dict[str, Any]:
        """The content of ``conformance-summary.json``."""
        return {
            "$schema": SUMMARY_SCHEMA,
            "verdict": self.verdict,
            "target": self.target,
            "capabilities": dict(self.capabilities) if self.capabilities is not None else None,
            "settings": dict(self.settings),
            "versions": dict(self.versions),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "counts": self.counts,
            "areas": self.by_area(),
            "errors": list(self.errors),
            "scenarios": [result.to_json() for result in self.results],
        }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def write_reports(
    report: RunReport,
    report_dir: Path,
    junit_parts: Sequence[Path],
    cucumber_parts: Sequence[Path],
) -> None:
    """Write junit.xml, cucumber.json, conformance-summary.json and report.html to
    ``report_dir`` (created if needed) from the run and the files of its pytest passes."""
    report_dir.mkdir(parents=True, exist_ok=True)
    summary = report.to_json()
    _write_junit(report, junit_parts, report_dir / "junit.xml")
    _write_cucumber(cucumber_parts, report_dir / "cucumber.json")
    (report_dir / "conformance-summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (report_dir / "report.html").write_text(render_report(summary), encoding="utf-8")


def _suite_properties(report: RunReport) -> list[tuple[str, str]]:
    properties = [("target", report.target), ("verdict", report.verdict)]
    if report.capabilities is not None:
        implementation = report.capabilities["implementation"]
        properties += [
            ("target_implementation", f"{implementation['name']} {implementation['version']}"),
            ("target_protocol", report.capabilities["protocol"]),
            ("target_features", " ".join(sorted(report.capabilities["features"]))),
        ]
    properties.append(("started_at", _iso(report.started_at)))
    properties += [
        (f"{name.replace('-', '_')}_version", version) for name, version in report.versions.items()
    ]
    return properties


def _write_junit(report: RunReport, parts: Sequence[Path], destination: Path) -> None:
    """One ``<testsuites>`` holding each pass's ``<testsuite>``, each carrying the run's facts
    as ``<properties>`` (which the JUnit schema wants before the test cases)."""
    root = ET.Element("testsuites", {"name": "seenby conformance"})
    suites = [
        suite
        for part in parts
        if part.exists()
        for suite in ET.parse(part).getroot().iter("testsuite")
    ]
    if not suites:
        suites = [
            ET.Element(
                "testsuite",
                {
                    "name": "seenby",
                    "errors": "0",
                    "failures": "0",
                    "skipped": "0",
                    "tests": "0",
                    "time": "0",
                    "timestamp": report.started_at.isoformat(),
                },
            )
        ]
    for suite in suites:
        properties = suite.find("properties")
        if properties is None:
            properties = ET.Element("properties")
            suite.insert(0, properties)
        for name, value in _suite_properties(report):
            ET.SubElement(properties, "property", {"name": name, "value": value})
        root.append(suite)
    for attribute in ("tests", "failures", "errors"):
        root.set(attribute, str(sum(int(suite.get(attribute, "0")) for suite in suites)))
    root.set("time", f"{sum(float(suite.get('time', '0')) for suite in suites):.3f}")
    ET.indent(root)
    ET.ElementTree(root).write(destination, encoding="utf-8", xml_declaration=True)


def _write_cucumber(parts: Sequence[Path], destination: Path) -> None:
    """Concatenate the passes' Cucumber JSON, one entry per feature file."""
    features: dict[str, dict[str, Any]] = {}
    for part in parts:
        if not part.exists():
            continue
        for feature in json.loads(part.read_text(encoding="utf-8")):
            if feature["uri"] in features:
                features[feature["uri"]]["elements"].extend(feature["elements"])
            else:
                features[feature["uri"]] = feature
    destination.write_text(
        json.dumps(list(features.values()), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
