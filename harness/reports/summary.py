"""Verdicts and report files of a conformance run.

A pytest item (a scenario, or one Examples row) is ``fail`` if it failed, ``not-applicable`` if
it needs a capability the driver lacks (``seenby.harness.drivers.capabilities``), ``skip`` if it
was otherwise skipped, ``deviate`` if it passed with at least one strict deviation
(``seenby.harness.wire.deviations``: core held, a reference choice did not), else ``pass``. A
scenario's verdict comes from its items: ``fail`` if any failed, ``not-run`` if any did not run,
``not-applicable`` if every skipped item was not applicable, ``skip`` if any was skipped,
``deviate`` if any deviated, else ``pass``. Not applicable is never a pass: a required scenario
that is not applicable leaves the run ``incomplete``, as a skipped one does.

The run's verdict counts only what a known-deviation file (``seenby.harness.run.known_deviations``)
does not
excuse: a failure is excused by a ``fail`` entry covering its item, a deviation by any entry
covering its item. Then: ``not-conformant`` when an unexcused failure remains (or, with
``--strict``, an unexcused deviation); else ``incomplete`` when a scenario did not run, a
required one was skipped or nothing was selected; else ``conformant-with-deviations`` when an
unexcused deviation remains; else ``conformant``. Deviations are counted *distinct*: two are the
same when check, protocol section, reference answer and target answer are all equal, wherever
(in whichever scenario or call) they were seen, so "N strict deviations" is the number of
different choices the target made, not how often the suite ran into them.

``write_reports`` writes the four files of ``--report-dir``: ``junit.xml``
(``seenby.harness.reports.junit``), ``cucumber.json`` (``seenby.harness.reports.cucumber``),
``conformance-summary.json`` (shape: ``contract/schemas/conformance-summary.json``) and
``report.html`` (``seenby.harness.reports.html``), each replaced whole (never left half
written). ``seenby run`` writes them again as each scenario finishes, so a run stopped from
outside still leaves the reports of what had finished; ``write_junit_part`` stands in for the
JUnit file of a pytest pass that has not ended.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from seenby.harness.drivers.capabilities import NOT_APPLICABLE_PREFIX
from seenby.harness.reports.cucumber import write_cucumber
from seenby.harness.reports.html import render_report
from seenby.harness.reports.junit import write_junit
from seenby.harness.run.catalogue import AREA_NAMES, CatalogueScenario, area_order
from seenby.harness.run.known_deviations import EntryStatus, KnownDeviation, KnownDeviationFile
from seenby.harness.wire.deviations import Deviation

TRANSCRIPTS_DIR = "transcripts"
"""The report folder's subfolder holding one wire transcript per scenario item."""

__all__ = [
    "RUN_VERDICTS",
    "RUN_VERDICT_RULES",
    "SCENARIO_PRECEDENCE",
    "SUMMARY_SCHEMA",
    "VERDICTS",
    "DistinctDeviation",
    "ExpectedResult",
    "ItemResult",
    "RunReport",
    "ScenarioResult",
    "write_junit_part",
    "write_reports",
]

SUMMARY_SCHEMA = "https://seenby.dev/schemas/v1/conformance-summary.json"
VERDICTS = ("pass", "deviate", "fail", "skip", "not-applicable", "not-run")
"""Scenario verdicts, in the order reports list them."""
RUN_VERDICTS = ("conformant", "conformant-with-deviations", "not-conformant", "incomplete")

SCENARIO_PRECEDENCE = ("fail", "not-run", "skip", "not-applicable", "deviate", "pass")
"""A scenario's verdict is the first of these that one of its items has (a missing item is
``not-run``): one failing row fails the scenario, a skipped row outranks a not-applicable one."""
"""Run verdicts; ``seenby run`` exits 0 on the first two."""
_OUTCOME_VERDICTS = {"passed": "pass", "failed": "fail", "skipped": "skip"}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


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
    name: str = ""
    """The pytest item's name (``test_..._title[row]``)."""
    deviations: tuple[Deviation, ...] = ()
    bdd: Mapping[str, Any] | None = None
    """The scenario as pytest-bdd ran it, with its steps (``seenby.harness.plugins.results``);
    ``None``
    when no step ran (skipped in setup)."""
    expectation: KnownDeviation | None = None
    """The known-deviation entry covering this item, if any."""
    transcript: str | None = None
    """The file holding the item's wire transcript (``--seenby-transcripts``), if written."""

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ItemResult:
        """Build from a ``seenby.harness.plugins.results`` result record."""
        return cls(
            scenario_id=record["scenario_id"],
            example=record["example"],
            outcome=record["outcome"],
            reason=record["reason"],
            evidence=record["evidence"],
            duration_s=float(record["duration_s"]),
            name=record["name"],
            deviations=tuple(Deviation(**fields) for fields in record["deviations"]),
            bdd=record["bdd"],
            transcript=record.get("transcript"),
        )

    def transcript_text(self) -> str | None:
        """The item's rendered transcript, if one was written and is still there."""
        if self.transcript is None:
            return None
        try:
            return Path(self.transcript).read_text(encoding="utf-8")
        except OSError:
            return None

    @property
    def verdict(self) -> str:
        """``pass``, ``deviate``, ``fail``, ``skip`` or ``not-applicable``."""
        verdict = _OUTCOME_VERDICTS[self.outcome]
        if verdict == "skip" and (self.reason or "").startswith(NOT_APPLICABLE_PREFIX):
            return "not-applicable"
        return "deviate" if verdict == "pass" and self.deviations else verdict

    @property
    def label(self) -> str:
        """``RR-R-001`` or ``RR-R-001 [group chat]``."""
        return self.scenario_id if self.example is None else f"{self.scenario_id} [{self.example}]"

    @property
    def failure_excused(self) -> bool:
        """Whether it failed and an entry expects that."""
        return (
            self.verdict == "fail"
            and self.expectation is not None
            and (self.expectation.excuses_failure())
        )

    @property
    def deviations_excused(self) -> bool:
        """Whether an entry covers its deviations (any entry does)."""
        return self.expectation is not None


@dataclass(frozen=True)
class ExpectedResult:
    """A known-deviation entry of a scenario, judged against what its items did."""

    expectation: KnownDeviation
    status: EntryStatus

    def to_json(self, source: str) -> dict[str, Any]:
        """The entry in ``conformance-summary.json`` (``source``: the file, for the advice)."""
        entry = self.expectation
        return {
            "id": entry.scenario_id,
            "row": entry.row,
            "result": entry.result,
            "reason": entry.reason,
            "status": str(self.status),
            "advice": entry.advice(self.status, source),
        }


@dataclass(frozen=True)
class ScenarioResult:
    """A selected scenario with its verdict, skip reason, failure evidence, deviations and
    known-deviation entries."""

    scenario: CatalogueScenario
    verdict: str
    reason: str | None
    evidence: str | None
    duration_s: float
    items: tuple[ItemResult, ...] = ()
    expected: tuple[ExpectedResult, ...] = ()

    @classmethod
    def from_items(
        cls,
        scenario: CatalogueScenario,
        items: Sequence[ItemResult],
        expectations: KnownDeviationFile | None = None,
    ) -> ScenarioResult:
        """Combine the results of the scenario's items (see the module docstring), each matched
        with the entry of ``expectations`` that covers it."""

        def labelled(item: ItemResult, text: str) -> str:
            return f"[{item.example}] {text}" if item.example is not None else text

        failed = [item for item in items if item.outcome == "failed"]
        skipped = [item for item in items if item.outcome == "skipped"]
        verdicts = {item.verdict for item in items}
        if len(items) < scenario.example_count:
            verdicts.add("not-run")
        verdict = next((each for each in SCENARIO_PRECEDENCE if each in verdicts), "not-run")
        reason: str | None = None
        evidence: str | None = None
        if verdict == "fail":
            evidence = "\n\n".join(labelled(item, item.evidence or "failed") for item in failed)
        elif verdict == "not-run":
            reason = (
                "not run"
                if not items
                else f"only {len(items)} of {scenario.example_count} examples ran"
            )
        elif verdict in ("skip", "not-applicable"):
            reasons = dict.fromkeys(item.reason or "skipped" for item in skipped)
            reason = "; ".join(reasons)
        expected: tuple[ExpectedResult, ...] = ()
        if expectations is not None:
            items = [
                replace(item, expectation=expectations.for_item(item.scenario_id, item.example))
                for item in items
            ]
            item_verdicts = {item.example: item.verdict for item in items}
            expected = tuple(
                ExpectedResult(
                    entry,
                    entry.assess(
                        expectations.covered_verdicts(entry, item_verdicts, scenario.example_count)
                    ),
                )
                for entry in expectations.for_scenario(scenario.id)
            )
        return cls(
            scenario=scenario,
            verdict=verdict,
            reason=reason,
            evidence=evidence,
            duration_s=round(sum(item.duration_s for item in items), 6),
            items=tuple(items),
            expected=expected,
        )

    @property
    def unexpected_failure(self) -> bool:
        """Whether it failed and not every failing item is expected to fail."""
        failing = [item for item in self.items if item.verdict == "fail"]
        excused = bool(failing) and all(item.failure_excused for item in failing)
        return self.verdict == "fail" and not excused

    @property
    def stale(self) -> tuple[ExpectedResult, ...]:
        """Its entries that the target now does better than."""
        return tuple(judged for judged in self.expected if judged.status is EntryStatus.STALE)

    def to_json(self, expectations_source: str = "") -> dict[str, Any]:
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
            "deviations": [
                {"example": item.example, "expected": item.deviations_excused, **asdict(deviation)}
                for item in self.items
                for deviation in item.deviations
            ],
            "expected": [judged.to_json(expectations_source) for judged in self.expected],
            "transcripts": [
                {"example": item.example, "path": _relative_to_reports(item.transcript)}
                for item in self.items
                if item.transcript is not None
            ],
        }


@dataclass(frozen=True)
class DistinctDeviation:
    """One strict deviation as the run counts it, with every item it was seen in."""

    check: str
    section: str
    reference: str
    observed: str
    seen_in: tuple[str, ...]
    check_id: str
    """The strict check's ID (``seenby.harness.wire.deviations.STRICT_CHECKS``): deviations are
    the same when check ID, section and both answers are, however the check was worded."""
    """Item labels (``RR-E-004``, ``RR-R-001 [group chat]``), in report order."""
    expected: bool
    """Whether a known-deviation entry covers every item it was seen in."""

    def describe(self) -> str:
        """One line for people: section, check, both answers and where."""
        return (
            f"docs/protocol.md {self.section}: {self.check}: the reference answers "
            f"{self.reference}, the target answered {self.observed} "
            f"(in {', '.join(self.seen_in)})"
        )

    def to_json(self) -> dict[str, Any]:
        """The deviation in ``conformance-summary.json``."""
        return asdict(self) | {"seen_in": list(self.seen_in)}


def _distinct(items: Iterable[ItemResult]) -> list[DistinctDeviation]:
    seen: dict[tuple[str, str, str, str], tuple[Deviation, list[str], list[bool]]] = {}
    for item in items:
        for deviation in item.deviations:
            check = deviation.check_id or deviation.check
            key = (check, deviation.section, deviation.reference, deviation.observed)
            _, labels, excused = seen.setdefault(key, (deviation, [], []))
            if item.label not in labels:
                labels.append(item.label)
            excused.append(item.deviations_excused)
    return [
        DistinctDeviation(
            first.check,
            first.section,
            first.reference,
            first.observed,
            seen_in=tuple(labels),
            check_id=first.check_id,
            expected=all(excused),
        )
        for first, labels, excused in seen.values()
    ]


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
    """``GET /v1/capabilities`` data as the target sent it (it may lack fields); ``None`` when
    the target did not answer it."""
    settings: Mapping[str, Any]
    versions: Mapping[str, str]
    started_at: datetime
    finished_at: datetime
    results: Sequence[ScenarioResult]
    errors: Sequence[str]
    """Problems of the run itself (collection errors, pytest stopping early, ...)."""
    discovery_problems: Sequence[str] = ()
    """What is wrong with ``GET /v1/capabilities`` (or that it failed), one sentence each."""
    strict: bool = False
    """``--strict``: an unexcused deviation makes the target not conformant."""
    expectations: KnownDeviationFile | None = None
    """The known-deviation file of ``--expect``."""
    deviations: tuple[DistinctDeviation, ...] = field(init=False)

    def __post_init__(self) -> None:
        items = [item for result in self.results for item in result.items]
        object.__setattr__(self, "deviations", tuple(_distinct(items)))

    @property
    def counts(self) -> dict[str, int]:
        """Scenarios per verdict, and ``total``."""
        return _count([result.verdict for result in self.results])

    @property
    def unexpected_deviations(self) -> tuple[DistinctDeviation, ...]:
        """The distinct deviations no entry excuses (what "N strict deviations" counts)."""
        return tuple(deviation for deviation in self.deviations if not deviation.expected)

    @property
    def failed(self) -> list[str]:
        """IDs of the scenarios with a failure no entry expects."""
        return [result.scenario.id for result in self.results if result.unexpected_failure]

    @property
    def unproven(self) -> list[str]:
        """IDs of the scenarios that did not run, or are required and were skipped or not
        applicable."""
        return [
            result.scenario.id
            for result in self.results
            if result.verdict == "not-run"
            or (result.verdict in ("skip", "not-applicable") and result.scenario.required)
        ]

    @property
    def stale(self) -> list[ExpectedResult]:
        """Known-deviation entries the target now does better than (the file can shrink)."""
        return [judged for result in self.results for judged in result.stale]

    @property
    def verdict(self) -> str:
        """One of ``RUN_VERDICTS``: the first rule of ``RUN_VERDICT_RULES`` that holds."""
        return next(verdict for verdict, holds in RUN_VERDICT_RULES if holds(self))

    @property
    def verdict_text(self) -> str:
        """The verdict for people: ``conformant with 2 strict deviations``, ``not conformant
        under --strict: 1 strict deviation``, ..."""
        deviations = _plural(len(self.unexpected_deviations), "strict deviation")
        if self.verdict == "conformant-with-deviations":
            return f"conformant with {deviations}"
        if self.verdict == "not-conformant" and not self.failed:
            return f"not conformant under --strict: {deviations}"
        return self.verdict.replace("-", " ")

    @property
    def succeeded(self) -> bool:
        """What ``seenby run``'s exit status 0 means: the target is conformant (with or
        without strict deviations) and no known-deviation entry is stale. A stale entry fails
        the run though the target is no worse: like a strict xfail that passes, it makes the
        file shrink as the target improves."""
        return self.verdict in RUN_VERDICTS[:2] and not self.stale

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
        source = self.expectations.source if self.expectations is not None else ""
        return {
            "$schema": SUMMARY_SCHEMA,
            "verdict": self.verdict,
            "verdict_text": self.verdict_text,
            "succeeded": self.succeeded,
            "target": self.target,
            "capabilities": dict(self.capabilities) if self.capabilities is not None else None,
            "discovery_problems": list(self.discovery_problems),
            "settings": dict(self.settings),
            "versions": dict(self.versions),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "counts": self.counts,
            "deviation_count": len(self.unexpected_deviations),
            "deviations": [deviation.to_json() for deviation in self.deviations],
            "expectations": (
                {
                    "file": source,
                    "entries": [
                        judged.to_json(source)
                        for result in self.results
                        for judged in result.expected
                    ],
                }
                if self.expectations is not None
                else None
            ),
            "areas": self.by_area(),
            "errors": list(self.errors),
            "scenarios": [result.to_json(source) for result in self.results],
        }


RUN_VERDICT_RULES: tuple[tuple[str, Callable[[RunReport], bool]], ...] = (
    ("not-conformant", lambda run: bool(run.failed or (run.strict and run.unexpected_deviations))),
    ("incomplete", lambda run: bool(run.unproven or not run.results)),
    ("conformant-with-deviations", lambda run: bool(run.unexpected_deviations)),
    ("conformant", lambda run: True),
)
"""The run's verdict, rule by rule in order (the module docstring says why each comes where)."""


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def write_reports(
    report: RunReport,
    report_dir: Path,
    junit_parts: Sequence[Path],
) -> None:
    """Write junit.xml, cucumber.json, conformance-summary.json and report.html to
    ``report_dir`` (created if needed) from the run and the JUnit files of its pytest passes.

    Each file is written whole to a temporary name and then renamed over the old one, so a
    run stopped at any moment (even by SIGKILL) leaves each report complete: the previous
    version or the new one, never a truncated file."""
    report_dir.mkdir(parents=True, exist_ok=True)
    summary = report.to_json()
    _replace(report_dir / "junit.xml", lambda path: write_junit(report, junit_parts, path))
    _replace(report_dir / "cucumber.json", lambda path: write_cucumber(report, path))
    summary_text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
    _replace(
        report_dir / "conformance-summary.json",
        lambda path: path.write_text(summary_text, encoding="utf-8"),
    )
    shown = {
        _relative_to_reports(item.transcript): text
        for result in report.results
        for item in result.items
        if item.transcript is not None and item.verdict in ("fail", "deviate")
        for text in [item.transcript_text()]
        if text is not None
    }
    html = render_report(summary, shown)
    _replace(report_dir / "report.html", lambda path: path.write_text(html, encoding="utf-8"))


def _replace(destination: Path, write: Callable[[Path], object]) -> None:
    """``write`` the file to a temporary name beside ``destination``, then rename it over."""
    temporary = destination.with_name(f".{destination.name}.partial")
    write(temporary)
    os.replace(temporary, destination)


def write_junit_part(
    items: Sequence[ItemResult], destination: Path, suite_name: str, started_at: datetime
) -> None:
    """Write ``items`` as pytest's junitxml would (xunit2: a ``scenario_id`` property per
    case, a ``<failure>`` or ``<skipped>`` for those outcomes), for a pass whose pytest has
    not written its own file yet (the reports of a run still going)."""
    suite = ET.Element(
        "testsuite",
        {
            "name": suite_name,
            "errors": "0",
            "failures": str(sum(item.outcome == "failed" for item in items)),
            "skipped": str(sum(item.outcome == "skipped" for item in items)),
            "tests": str(len(items)),
            "time": f"{sum(item.duration_s for item in items):.3f}",
            "timestamp": started_at.isoformat(),
        },
    )
    for item in items:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": "seenby", "name": item.name, "time": f"{item.duration_s:.3f}"},
        )
        properties = ET.SubElement(case, "properties")
        ET.SubElement(properties, "property", {"name": "scenario_id", "value": item.scenario_id})
        if item.outcome == "failed":
            failure = ET.SubElement(case, "failure", {"message": (item.evidence or "")[:500]})
            failure.text = item.evidence or ""
        elif item.outcome == "skipped":
            ET.SubElement(case, "skipped", {"message": item.reason or ""})
    root = ET.Element("testsuites")
    root.append(suite)
    ET.ElementTree(root).write(destination, encoding="utf-8", xml_declaration=True)


def _relative_to_reports(path: str) -> str:
    """A transcript's path as the summary names it: relative to the report folder (the
    runner writes them to its ``transcripts/`` subfolder)."""
    transcript = Path(path)
    return (
        f"{TRANSCRIPTS_DIR}/{transcript.name}"
        if transcript.parent.name == TRANSCRIPTS_DIR
        else path
    )
