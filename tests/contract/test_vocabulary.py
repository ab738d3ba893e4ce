"""seenby.contract.vocabulary is the one list of codes, statuses, event names and limits: the
harness's schemas and the server's announced limits are held to it here, and docs/protocol.md's
tables are generated from it (``seenby.contract.protocol_tables``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from seenby.contract import protocol_tables
from seenby.contract.protocol_tables import TABLES
from seenby.contract.schemas import SCHEMA_DIR
from seenby.contract.vocabulary import CODES, DEFAULT_LIMITS, EVENT_NAMES, LIMITS, Level
from seenby.harness.wire.validation import STRICT_KEYWORD
from seenby.reference_server.values import Capabilities, Settings

PROTOCOL_DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
SPEC_NAMED_CODES = {6017, 7013, 10004, 10010, 10015, 10062}
"""The codes docs/spec/receipts-spec.md E-2 names (10007 is named too, but no case uses it)."""


def _schema(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return loaded


def test_codes_are_unique_and_only_success_is_2xx() -> None:
    assert len({entry.code for entry in CODES}) == len(CODES)
    for entry in CODES:
        assert (entry.code == 0) is (200 <= entry.http_status < 300), entry


def test_the_spec_named_codes_are_core_and_every_other_code_strict() -> None:
    core = {entry.code for entry in CODES if entry.level is Level.CORE}
    assert core == SPEC_NAMED_CODES | {0}


def test_the_protocol_doc_tables_are_generated_from_the_vocabulary() -> None:
    committed = PROTOCOL_DOC.read_text(encoding="utf-8")
    assert set(re.findall(r"<!-- generated: ([a-z]+) -->", committed)) == set(TABLES)
    assert protocol_tables.rewrite(committed) == committed, (
        "docs/protocol.md's generated tables are stale: "
        "python -m seenby.contract.protocol_tables docs/protocol.md"
    )


def test_a_generated_table_without_its_end_marker_is_an_error() -> None:
    with pytest.raises(ValueError, match="no end marker"):
        protocol_tables.rewrite("<!-- generated: codes -->\n| stale |\n")


def test_every_limit_with_a_row_names_its_rule_and_every_placeholder_is_a_limit() -> None:
    printed = {limit.name: limit.printed() for limit in LIMITS}
    for limit in LIMITS:
        assert bool(limit.row) == bool(limit.rule), limit
        limit.rule.format(**printed)
    for entry in CODES:
        entry.when.format(**printed)


def test_the_strict_envelope_lists_exactly_the_vocabulary_codes() -> None:
    code_schema = _schema("envelope.json")["properties"]["code"]  # type: ignore[index]
    assert code_schema[STRICT_KEYWORD]["enum"] == [entry.code for entry in CODES]


def test_the_event_schema_is_the_vocabulary() -> None:
    branches = _schema("event.json")["$defs"]  # type: ignore[index]
    assert [branch["properties"]["event"]["const"] for branch in branches.values()] == list(
        EVENT_NAMES
    )


def test_the_announced_limits_are_the_core_limits_with_the_spec_defaults() -> None:
    announced = _schema("capabilities.json")["properties"]["limits"]["properties"]  # type: ignore[index]
    assert list(announced) == list(DEFAULT_LIMITS)
    assert DEFAULT_LIMITS == {
        "receiptBatchMax": 30,
        "memberListCountMax": 100,
        "groupReceiptMaxMembers": 200,
    }
    served = Capabilities(Settings()).to_json()["limits"]
    assert served == DEFAULT_LIMITS


def test_every_limit_is_named_once() -> None:
    assert len({limit.name for limit in LIMITS}) == len(LIMITS)
