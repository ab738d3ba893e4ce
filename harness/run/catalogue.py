"""The scenario catalogue: every scenario of the Gherkin suite, read from the feature files.

The suite's tags follow fixed conventions (one ``@RR-<AREA>-<NNN>`` ID, ``@spec-<ID>`` behaviours,
one ``@doc-<section>``, ``@needs-<capability>``, ``@optional``, ``@serial``, and a feature-level
``@area-<AREA>``). ``decode_tags`` turns a scenario's tags into what they mean; ``load_catalogue``
reads the feature files with gherkin-official, the parser pytest-bdd itself builds on, through its
public API (``Parser`` and the pickles ``Compiler``), without running pytest, so ``seenby run
--list`` and the reports see exactly the scenarios pytest will collect: one pickle per Scenario and
per Examples row of an outline, as pytest-bdd makes one test item of each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from gherkin.errors import CompositeParserException, ParserException
from gherkin.parser import Parser
from gherkin.pickles.compiler import Compiler

from seenby.harness.drivers.capabilities import CAPABILITIES

if TYPE_CHECKING:  # gherkin-official's types, present in its newer releases only
    from gherkin.parser_types import RuleEnvelope, Scenario, ScenarioEnvelope
    from gherkin.pickles.compiler import Pickle

__all__ = [
    "AREA_NAMES",
    "DOC_SECTIONS",
    "CatalogueError",
    "CatalogueScenario",
    "ScenarioTags",
    "Selection",
    "area_order",
    "decode_tags",
    "default_features_dir",
    "load_catalogue",
    "select",
    "spec_sort_key",
]

# The spec areas in the order of the behaviour spec (docs/spec/receipts-spec.md), plus Y for
# event replay. Restated here because the spec document is not shipped with the package.
AREA_NAMES: dict[str, str] = {
    "A": "Application settings",
    "S": "Sender marks a message",
    "R": "Recipient sends receipts",
    "P": "Sender is notified",
    "Q": "Sender pulls receipts",
    "L": "Sender pages read / unread members",
    "M": "Membership over time",
    "C": "C2C conversation read mark",
    "E": "Errors and envelopes",
    "X": "Security",
    "V": "Payload validity",
    "Y": "Event replay",
}

# `@doc-<key>` → the section of the seed document (Tencent Cloud IM's read-receipt guide).
DOC_SECTIONS: dict[str, str] = {
    "feature-description": "功能描述 (feature description)",
    "group-types": "设置支持已读回执的群类型 (group types that support receipts)",
    "sender-marks": "发送端设置消息需要已读回执 (sender marks a message as needing receipts)",
    "receiver-sends": "接收端发送消息已读回执 (receiver sends read receipts)",
    "sender-listens": "发送端监听消息已读回执通知 (sender listens for receipt notifications)",
    "sender-pulls": "发送端主动拉取消息已读回执信息 (sender pulls receipt information)",
    "member-list": "发送端主动拉取群消息已读或未读成员列表 (sender pulls read / unread members)",
    "protocol": "seenby protocol and behaviour spec (no seed-document section)",
}

_SCENARIO_ID = re.compile(r"RR-(?P<area>[A-Z])-\d{3}")
_SPEC_ID = re.compile(r"(?P<area>[A-Z])-(?P<number>\d+)")


class CatalogueError(Exception):
    """The feature files break the tag conventions (no ID, two IDs, an ID used twice, ...) or the
    Gherkin syntax; the message names each problem's file and line."""


@dataclass(frozen=True)
class ScenarioTags:
    """What a scenario's tags (its own, its rule's and its feature's) say about it."""

    id: str | None
    spec: tuple[str, ...]
    doc: str | None
    area: str | None
    required: bool
    serial: bool
    needs: tuple[str, ...]


def area_order(area: str) -> int:
    """An area's position in the spec (A first); unknown areas sort last."""
    areas = list(AREA_NAMES)
    return areas.index(area) if area in areas else len(areas)


def spec_sort_key(spec_id: str) -> tuple[int, int, str]:
    """Order behaviour IDs as the spec does: by area (A, S, R, ...), then numerically."""
    match = _SPEC_ID.fullmatch(spec_id)
    if match is None:
        return (len(AREA_NAMES), 0, spec_id)
    return (area_order(match["area"]), int(match["number"]), spec_id)


def decode_tags(tags: Iterable[str]) -> ScenarioTags:
    """Decode tag names (without ``@``). A missing or duplicated ID gives ``id=None``;
    ``load_catalogue`` reports that as an error, the pytest plugin simply leaves it out."""
    names = {tag.lstrip("@") for tag in tags}

    def suffixes(prefix: str) -> list[str]:
        return sorted(name.removeprefix(prefix) for name in names if name.startswith(prefix))

    ids = sorted(name for name in names if _SCENARIO_ID.fullmatch(name))
    docs = suffixes("doc-")
    areas = suffixes("area-")
    scenario_id = ids[0] if len(ids) == 1 else None
    area = areas[0] if len(areas) == 1 else None
    if area is None and scenario_id is not None:
        area = scenario_id.split("-")[1]
    return ScenarioTags(
        id=scenario_id,
        spec=tuple(sorted(suffixes("spec-"), key=spec_sort_key)),
        doc=docs[0] if len(docs) == 1 else None,
        area=area,
        required="optional" not in names,
        serial="serial" in names,
        needs=tuple(suffixes("needs-")),
    )


@dataclass(frozen=True)
class CatalogueScenario:
    """One Scenario or Scenario Outline of the suite, as the feature file declares it."""

    id: str
    title: str
    feature: str
    """The feature file, relative to the features folder (``receipts.feature``)."""
    line: int
    area: str
    spec: tuple[str, ...]
    doc: str
    required: bool
    serial: bool
    needs: tuple[str, ...]
    tags: frozenset[str]
    example_count: int
    """How many pytest items the scenario becomes: its Examples rows, or 1."""

    @property
    def area_name(self) -> str:
        """The spec area's name (``"Recipient sends receipts"``)."""
        return AREA_NAMES.get(self.area, self.area)

    @property
    def doc_section(self) -> str:
        """The seed-document section the scenario comes from, for people."""
        return DOC_SECTIONS.get(self.doc, self.doc)


def default_features_dir() -> Path:
    """The features shipped with seenby (the ``features`` package folder)."""
    from seenby import features

    return Path(features.__file__).resolve().parent


@dataclass(frozen=True)
class _ParsedScenario:
    """A Scenario (or Scenario Outline) of one feature file and the pickles compiled from it."""

    scenario: Scenario
    pickles: list[Pickle]


def _parse_feature(path: Path, relative: str) -> list[_ParsedScenario]:
    """Every scenario of one feature file with its pickles, in file order.

    A Gherkin syntax error becomes a ``CatalogueError`` naming the file and line.
    """
    try:
        document = Parser().parse(path.read_text(encoding="utf-8"))
    except CompositeParserException as error:
        raise CatalogueError(
            "\n".join(_located(relative, problem) for problem in error.errors)
        ) from error
    except ParserException as error:
        raise CatalogueError(_located(relative, error)) from error
    feature = document.get("feature")
    if feature is None:
        return []
    scenarios: dict[str, _ParsedScenario] = {}
    for child in feature["children"]:
        members = cast("RuleEnvelope", child)["rule"]["children"] if "rule" in child else [child]
        for member in members:
            if "scenario" in member:
                scenario = cast("ScenarioEnvelope", member)["scenario"]
                scenarios[scenario["id"]] = _ParsedScenario(scenario, [])
    for pickle in Compiler().compile({**document, "uri": relative}):
        # A pickle's first AST node is its scenario; an outline row's second is its row.
        scenarios[pickle["astNodeIds"][0]].pickles.append(pickle)
    return list(scenarios.values())


def _located(relative: str, error: ParserException) -> str:
    """``file:line: message`` for one Gherkin syntax error."""
    message = str(error).split("): ", 1)[-1]
    return f"{relative}:{error.location['line']}: {message}"


def load_catalogue(features_dir: Path) -> list[CatalogueScenario]:
    """Every scenario under ``features_dir``, ordered by spec area, then ID.

    Raises ``CatalogueError`` naming the file and line of each scenario whose tags break the
    conventions, of each ID used twice, of each outline without Examples rows, and of a Gherkin
    syntax error.
    """
    scenarios: list[CatalogueScenario] = []
    problems: list[str] = []
    for path in sorted(features_dir.rglob("*.feature")):
        relative = path.relative_to(features_dir).as_posix()
        for parsed in _parse_feature(path, relative):
            template = parsed.scenario
            line = template["location"]["line"]
            if not parsed.pickles:
                problems.append(f"{relative}:{line} ({template['name']!r}): has no Examples rows")
                continue
            # Pickles carry the feature's, the rule's, the scenario's and the Examples' tags.
            tags = frozenset(
                tag["name"].lstrip("@") for pickle in parsed.pickles for tag in pickle["tags"]
            )
            decoded = decode_tags(tags)
            where = f"{relative}:{line} ({template['name']!r})"
            if decoded.id is None:
                problems.append(f"{where}: needs exactly one @RR-<AREA>-<NNN> tag")
                continue
            if decoded.doc is None:
                problems.append(f"{where}: needs exactly one @doc-<section> tag")
                continue
            unknown = sorted(set(decoded.needs) - set(CAPABILITIES))
            if unknown:
                problems.append(
                    f"{where}: @needs- names no known capability: {', '.join(unknown)} "
                    f"(known: {', '.join(CAPABILITIES)})"
                )
                continue
            scenarios.append(
                CatalogueScenario(
                    id=decoded.id,
                    title=template["name"],
                    feature=relative,
                    line=line,
                    area=decoded.area or decoded.id.split("-")[1],
                    spec=decoded.spec,
                    doc=decoded.doc,
                    required=decoded.required,
                    serial=decoded.serial,
                    needs=decoded.needs,
                    tags=tags,
                    example_count=len(parsed.pickles),
                )
            )
    seen: dict[str, CatalogueScenario] = {}
    for scenario in scenarios:
        if scenario.id in seen:
            first = seen[scenario.id]
            problems.append(
                f"{scenario.feature}:{scenario.line}: ID {scenario.id} is already used at "
                f"{first.feature}:{first.line}"
            )
        seen[scenario.id] = scenario
    if problems:
        raise CatalogueError(
            "the feature files break the tag conventions:\n  " + "\n  ".join(problems)
        )
    return sorted(scenarios, key=lambda scenario: (area_order(scenario.area), scenario.id))


@dataclass(frozen=True)
class Selection:
    """The scenarios picked by ``--id`` / ``--tag``, and the values that matched nothing."""

    scenarios: tuple[CatalogueScenario, ...]
    unmatched: tuple[str, ...]


def select(
    catalogue: Sequence[CatalogueScenario], ids: Sequence[str] = (), tags: Sequence[str] = ()
) -> Selection:
    """Pick the scenarios having any of ``ids`` or any of ``tags`` (``@`` optional); no
    ``ids`` and no ``tags`` picks everything. Catalogue order is kept."""
    wanted_ids = [value.lstrip("@") for value in ids]
    wanted_tags = [value.lstrip("@") for value in tags]
    if not wanted_ids and not wanted_tags:
        return Selection(scenarios=tuple(catalogue), unmatched=())
    picked = tuple(
        scenario
        for scenario in catalogue
        if scenario.id in wanted_ids or any(tag in scenario.tags for tag in wanted_tags)
    )
    known_ids = {scenario.id for scenario in catalogue}
    known_tags = {tag for scenario in catalogue for tag in scenario.tags}
    unmatched = tuple(
        [f"--id {value}" for value in wanted_ids if value not in known_ids]
        + [f"--tag {value}" for value in wanted_tags if value not in known_tags]
    )
    return Selection(scenarios=picked, unmatched=unmatched)
