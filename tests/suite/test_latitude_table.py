"""docs/protocol.md's latitude tables are held to the suite and to the load verdict.

Every scenario with a latitude step (one that passes an item-by-item answer and a whole-call
refusal alike at the core level: its text says ", or ... refused ... (strict: ...)") is listed in
a row of the "Latitude" table that names the docs/protocol.md section its strict check reports,
and is tagged ``@latitude`` (a focused kill run puts those to every correct alternative); every
scenario the table names exists; the load table lists exactly the load verdict's
invariants.
"""

from __future__ import annotations

import re
from pathlib import Path

from gherkin.parser import Parser

from seenby.harness.load.verdict import INVARIANTS
from seenby.steps.plugin import FEATURES_DIR

PROTOCOL_DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
HEADING = "### Latitude: item by item, or the whole call refused"
LATITUDE_STEP = re.compile(r", or .*refused.*\(strict: ")
SCENARIO_ID = re.compile(r"RR-[A-Z]-\d{3}")
ID_RANGE = re.compile(r"(RR-[A-Z]-)(\d{3}) to RR-[A-Z]-(\d{3})")
SECTION = re.compile(r"§\d+(?:\.\d+)*")


def _tables() -> list[list[list[str]]]:
    """The tables under the latitude heading (until the next heading), header rows dropped."""
    text = PROTOCOL_DOC.read_text(encoding="utf-8").split(HEADING, 1)[1].split("\n#", 1)[0]
    tables: list[list[list[str]]] = []
    rows: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            tables.append(rows[2:])
            rows = []
    return tables


def _ids(cell: str) -> set[str]:
    """The scenario IDs a cell names, ranges ("RR-R-004 to RR-R-007") spelt out."""
    ids = set(SCENARIO_ID.findall(cell))
    for prefix, first, last in ID_RANGE.findall(cell):
        ids |= {f"{prefix}{number:03d}" for number in range(int(first), int(last) + 1)}
    return ids


def _scenarios() -> dict[str, tuple[set[str], list[str]]]:
    """Each scenario's ID with its tags and its step texts, across the feature files."""
    found: dict[str, tuple[set[str], list[str]]] = {}
    for path in sorted(FEATURES_DIR.glob("*.feature")):
        document = Parser().parse(path.read_text(encoding="utf-8"))
        for child in document["feature"]["children"]:
            scenario = child.get("scenario")
            if scenario is None:
                continue
            tags = {tag["name"][1:] for tag in scenario["tags"]}
            (scenario_id,) = [tag for tag in tags if SCENARIO_ID.fullmatch(tag)]
            found[scenario_id] = (tags, [step["text"] for step in scenario["steps"]])
    return found


def _with_latitude_steps() -> set[str]:
    return {
        scenario_id
        for scenario_id, (_, steps) in _scenarios().items()
        if any(LATITUDE_STEP.search(step) for step in steps)
    }


def test_every_scenario_with_a_latitude_step_has_a_row_naming_its_section() -> None:
    latitude, _ = _tables()
    sections_of: dict[str, set[str]] = {}
    for row in latitude:
        for scenario_id in _ids(row[0]):
            sections_of.setdefault(scenario_id, set()).update(SECTION.findall(row[3]))
    with_latitude = _with_latitude_steps()
    assert with_latitude, "no scenario has a latitude step: the pattern is out of date"
    unlisted = sorted(s for s in with_latitude if not sections_of.get(s))
    assert not unlisted, f"latitude scenarios without a row naming a section: {unlisted}"


def test_every_scenario_with_a_latitude_step_is_tagged_so_focused_kill_runs_meet_it() -> None:
    tagged = {scenario_id for scenario_id, (tags, _) in _scenarios().items() if "latitude" in tags}
    assert tagged == _with_latitude_steps()


def test_every_scenario_the_table_names_exists() -> None:
    latitude, _ = _tables()
    named = set().union(*(_ids(row[0]) for row in latitude))
    assert named and not named - set(_scenarios()), sorted(named - set(_scenarios()))


def test_the_load_table_lists_exactly_the_verdicts_invariants() -> None:
    _, load = _tables()
    assert [row[0].strip("`") for row in load] == list(INVARIANTS)
