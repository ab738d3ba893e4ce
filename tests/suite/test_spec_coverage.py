"""The Gherkin suite covers the behaviour spec and follows the suite's tag conventions.

Every behaviour ID of docs/spec/receipts-spec.md is encoded by at least one scenario; every
``@spec-*`` tag names a real behaviour; every scenario has exactly one stable ``@RR-<AREA>-<NNN>``
ID (unique across the suite, its area that of its feature), exactly one ``@doc-*`` seed-document
section, and capability tags from the known set. The vendored spec documents
(docs/spec/) must not drift from the reference copies they were taken from, where those exist.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from gherkin.parser import Parser

from seenby.harness.drivers.capabilities import CAPABILITIES as DRIVER_CAPABILITIES
from seenby.steps.plugin import FEATURES_DIR

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "docs" / "spec" / "receipts-spec.md"
SHARED_REFERENCE = REPO.parent / "shared" / "reference"
VENDORED = ("receipts-spec.md", "protocol-v1.md", "tencent-facts.md")

SCENARIO_ID = re.compile(r"RR-(?P<area>[A-Z])-\d{3}")
BEHAVIOUR_ID = re.compile(r"^- (?P<id>[A-Z]-\d+) ", re.MULTILINE)
DOC_SECTIONS = {
    "doc-feature-description",
    "doc-group-types",
    "doc-sender-marks",
    "doc-receiver-sends",
    "doc-sender-listens",
    "doc-sender-pulls",
    "doc-member-list",
    "doc-protocol",
}
CAPABILITIES = set(DRIVER_CAPABILITIES)
OPTIONAL_CAPABILITIES = {"onlineUserOnly", "eventReplay"}
AREAS = set("ASRPQLMCEXV") | {"Y"}


@dataclass(frozen=True)
class TaggedScenario:
    """A scenario's own tags, its feature's area and where it is written."""

    where: str
    tags: frozenset[str]
    area: str | None

    def with_prefix(self, prefix: str) -> list[str]:
        """Its tags that start with ``prefix``, sorted."""
        return sorted(tag for tag in self.tags if tag.startswith(prefix))


def spec_ids() -> list[str]:
    """The behaviour IDs the spec defines (``A-1``, ``S-4``, ...), in order."""
    return BEHAVIOUR_ID.findall(SPEC.read_text(encoding="utf-8"))


def tagged_scenarios() -> list[TaggedScenario]:
    """Every scenario of the suite with its own tags, parsed by gherkin-official (pytest-bdd's
    parser) through its public API."""
    found = []
    for path in sorted(FEATURES_DIR.rglob("*.feature")):
        relative = path.relative_to(FEATURES_DIR).as_posix()
        feature = Parser().parse(path.read_text(encoding="utf-8"))["feature"]
        assert feature is not None, f"{relative} has no Feature"
        feature_tags = [tag["name"].lstrip("@") for tag in feature["tags"]]
        areas = [tag.removeprefix("area-") for tag in feature_tags if tag.startswith("area-")]
        area = areas[0] if len(areas) == 1 else None
        for child in feature["children"]:
            for member in child["rule"]["children"] if "rule" in child else [child]:
                if "scenario" not in member:
                    continue
                scenario = member["scenario"]
                where = f"{relative}:{scenario['location']['line']} {scenario['name']!r}"
                tags = frozenset(tag["name"].lstrip("@") for tag in scenario["tags"])
                found.append(TaggedScenario(where, tags, area))
    return found


SCENARIOS = tagged_scenarios()


def test_the_spec_defines_behaviours() -> None:
    ids = spec_ids()
    assert len(ids) == len(set(ids)) and {"A-1", "R-4", "V-1"} <= set(ids), ids


def test_every_behaviour_has_a_scenario() -> None:
    covered = {tag.removeprefix("spec-") for s in SCENARIOS for tag in s.with_prefix("spec-")}
    missing = [behaviour for behaviour in spec_ids() if behaviour not in covered]
    assert not missing, f"behaviours no scenario encodes: {missing}"


def test_every_spec_tag_names_a_behaviour() -> None:
    known = set(spec_ids())
    unknown = [
        f"{s.where}: @{tag}"
        for s in SCENARIOS
        for tag in s.with_prefix("spec-")
        if tag.removeprefix("spec-") not in known
    ]
    assert not unknown, "spec tags naming no behaviour:\n" + "\n".join(unknown)


def test_every_scenario_encodes_a_behaviour() -> None:
    untagged = [s.where for s in SCENARIOS if not s.with_prefix("spec-")]
    assert not untagged, "scenarios without a @spec-* tag:\n" + "\n".join(untagged)


def test_every_scenario_has_exactly_one_id_of_its_features_area() -> None:
    problems = []
    for scenario in SCENARIOS:
        ids = [tag for tag in scenario.tags if tag.startswith("RR-")]
        match = SCENARIO_ID.fullmatch(ids[0]) if len(ids) == 1 else None
        if match is None:
            problems.append(f"{scenario.where}: IDs {ids}, expected one @RR-<AREA>-<NNN>")
        elif match["area"] != scenario.area:
            problems.append(f"{scenario.where}: {ids[0]} in a feature of area {scenario.area}")
    assert not problems, "\n".join(problems)


def test_scenario_ids_are_unique() -> None:
    counts = Counter(tag for s in SCENARIOS for tag in s.tags if tag.startswith("RR-"))
    repeated = sorted(tag for tag, times in counts.items() if times > 1)
    assert not repeated, f"scenario IDs used more than once: {repeated}"


def test_every_scenario_names_one_seed_doc_section() -> None:
    problems = [
        f"{s.where}: {s.with_prefix('doc-')}"
        for s in SCENARIOS
        if len(s.with_prefix("doc-")) != 1 or s.with_prefix("doc-")[0] not in DOC_SECTIONS
    ]
    assert not problems, "scenarios without exactly one known @doc-* tag:\n" + "\n".join(problems)


def test_every_feature_has_one_known_area() -> None:
    problems = sorted({s.where.split(":")[0] for s in SCENARIOS if s.area not in AREAS})
    assert not problems, f"features without exactly one known @area-* tag: {problems}"


def test_capability_tags_are_known_and_optional_ones_say_so() -> None:
    problems = []
    for scenario in SCENARIOS:
        needs = {tag.removeprefix("needs-") for tag in scenario.with_prefix("needs-")}
        if needs - CAPABILITIES:
            problems.append(
                f"{scenario.where}: unknown capabilities {sorted(needs - CAPABILITIES)}"
            )
        if bool(needs & OPTIONAL_CAPABILITIES) != ("optional" in scenario.tags):
            problems.append(
                f"{scenario.where}: @optional exactly when it needs {OPTIONAL_CAPABILITIES}"
            )
        if ("adminSettings" in needs) != ("serial" in scenario.tags):
            problems.append(f"{scenario.where}: @serial exactly when it changes settings")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", VENDORED)
def test_the_vendored_documents_match_the_reference_copies(name: str) -> None:
    shared = SHARED_REFERENCE / name
    if not shared.exists():
        pytest.skip(f"no reference copy at {shared} (a checkout on its own)")
    vendored = REPO / "docs" / "spec" / name
    assert vendored.read_bytes() == shared.read_bytes(), (
        f"{vendored} has drifted from {shared}: copy the reference one over"
    )
