"""``junit.xml``: the run as CI tools read it, valid against the JUnit XSD pytest targets.

pytest writes one file per pass (``junit_family=xunit2``); this module merges them into one
``<testsuites>`` and rewrites each ``<testcase>`` so that what CI shows matches what the run
decided:

- its ``name`` is the scenario ID and title, with the Examples row
  (``RR-R-001 A reader sends receipts for several messages in one call [group chat]``); its
  ``classname`` is ``seenby.<feature file>``, which CI tools group by;
- a ``<failure>`` is exactly an item that makes ``seenby run`` exit non-zero: an unexcused
  failure, an unexcused strict deviation under ``--strict`` (``type="seenby.strict-deviation"``)
  or an item of a stale known-deviation entry (``type="seenby.stale-expectation"``);
- an expected failure becomes ``<skipped type="seenby.expected-failure">`` with the entry's
  reason (pytest writes an xfail the same way), its failure text kept in ``<system-out>``;
- a scenario that needs a capability the driver lacks becomes ``<skipped
  type="seenby.not-applicable">`` with the missing capability as its message;
- every strict deviation (expected or not) is written, one readable line each, to the case's
  ``<system-out>``, which Jenkins, GitLab and the GitHub reporters show with the case. A
  deviation is not a skip: the scenario ran and its core checks held.

The JUnit XSD (jenkinsci/xunit-plugin ``junit-10.xsd``, the schema pytest's junitxml follows)
allows ``<properties>`` on a suite only, so the per-testcase properties pytest writes from
``user_properties`` are dropped here; the run's facts are suite properties.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from seenby.harness.plugins.results import example_of

if TYPE_CHECKING:
    from seenby.harness.reports.summary import ItemResult, RunReport, ScenarioResult

__all__ = ["write_junit"]

_OUTCOME_TAGS = ("failure", "error", "skipped")


def _suite_properties(report: RunReport) -> list[tuple[str, str]]:
    properties = [
        ("target", report.target),
        ("verdict", report.verdict),
        ("verdict_text", report.verdict_text),
        ("strict_deviations", str(len(report.unexpected_deviations))),
    ]
    capabilities = report.capabilities or {}
    implementation = capabilities.get("implementation")
    if isinstance(implementation, dict):
        described = " ".join(str(implementation.get(key, "?")) for key in ("name", "version"))
        properties.append(("target_implementation", described))
    if "protocol" in capabilities:
        properties.append(("target_protocol", str(capabilities["protocol"])))
    if isinstance(capabilities.get("features"), list):
        features = " ".join(sorted(str(feature) for feature in capabilities["features"]))
        properties.append(("target_features", features))
    properties += [("discovery_problem", problem) for problem in report.discovery_problems]
    if report.expectations is not None:
        properties.append(("expectations", report.expectations.source))
    properties.append(("started_at", report.started_at.isoformat(timespec="seconds")))
    properties += [
        (f"{name.replace('-', '_')}_version", version) for name, version in report.versions.items()
    ]
    return properties


def _case_item(
    case: ET.Element, results: dict[str, ScenarioResult]
) -> tuple[ScenarioResult, ItemResult] | None:
    """The scenario and item a pytest ``<testcase>`` reports, by its ``scenario_id`` property
    and the row in its name."""
    properties = case.find("properties")
    scenario_ids = [
        prop.get("value", "")
        for prop in (properties if properties is not None else [])
        if prop.get("name") == "scenario_id"
    ]
    result = results.get(scenario_ids[0]) if scenario_ids else None
    if result is None:
        return None
    row = example_of(case.get("name", ""))
    for item in result.items:
        if item.example == row:
            return result, item
    return None


def _append_output(case: ET.Element, lines: Sequence[str]) -> None:
    if not lines:
        return
    output = case.find("system-out")
    if output is None:
        output = ET.SubElement(case, "system-out")
    text = "\n".join(lines)
    output.text = f"{output.text.rstrip()}\n{text}" if output.text else text


def _set_outcome(case: ET.Element, tag: str, kind: str, message: str, text: str) -> None:
    for old in [child for child in case if child.tag in _OUTCOME_TAGS]:
        case.remove(old)
    outcome = ET.Element(tag, {"type": kind, "message": message})
    outcome.text = text
    case.insert(0, outcome)


def _rewrite_case(
    case: ET.Element, report: RunReport, result: ScenarioResult, item: ItemResult
) -> None:
    scenario = result.scenario
    name = f"{scenario.id} {scenario.title}"
    case.set("name", name if item.example is None else f"{name} [{item.example}]")
    feature = PurePosixPath(scenario.feature).with_suffix("").as_posix().replace("/", ".")
    case.set("classname", f"seenby.{feature}")
    properties = case.find("properties")
    if properties is not None:
        case.remove(properties)
    source = report.expectations.source if report.expectations is not None else ""
    lines = []
    for deviation in item.deviations:
        note = f" (expected: {item.expectation.reason})" if item.expectation is not None else ""
        lines.append(f"{deviation}{note}")
    stale = [judged for judged in result.stale if item.expectation == judged.expectation]
    if item.failure_excused and item.expectation is not None:
        lines[:0] = [child.text or "" for child in case if child.tag in ("failure", "error")]
        _set_outcome(
            case,
            "skipped",
            "seenby.expected-failure",
            f"expected failure ({source}): {item.expectation.reason}",
            "",
        )
    elif item.verdict == "not-applicable":
        _set_outcome(case, "skipped", "seenby.not-applicable", item.reason or "", "")
    elif stale and item.verdict in ("pass", "deviate"):
        advice = stale[0].expectation.advice(stale[0].status, source)
        _set_outcome(case, "failure", "seenby.stale-expectation", advice, advice)
    elif report.strict and item.verdict == "deviate" and not item.deviations_excused:
        message = f"{len(item.deviations)} strict deviation(s) under --strict"
        _set_outcome(case, "failure", "seenby.strict-deviation", message, "\n".join(lines))
    transcript = item.transcript_text() if item.verdict in ("fail", "deviate") else None
    if transcript is not None:
        lines += ["", "wire transcript:", transcript]
    _append_output(case, lines)


def _recount(suite: ET.Element) -> None:
    cases = list(suite.iter("testcase"))
    for attribute, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
        suite.set(attribute, str(sum(case.find(tag) is not None for case in cases)))
    suite.set("tests", str(len(cases)))


def write_junit(report: RunReport, parts: Sequence[Path], destination: Path) -> None:
    """Merge the passes' JUnit files into ``destination`` (see the module docstring)."""
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
                    "time": "0.000",
                    "timestamp": report.started_at.isoformat(),
                },
            )
        ]
    results = {result.scenario.id: result for result in report.results}
    for suite in suites:
        for case in suite.iter("testcase"):
            found = _case_item(case, results)
            if found is not None:
                _rewrite_case(case, report, *found)
            else:
                properties = case.find("properties")
                if properties is not None:
                    case.remove(properties)
        _recount(suite)
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
