"""seenby.contract.vocabulary is the one list of codes, statuses, event names and limits: the
reference server, the harness's schemas and docs/protocol.md's tables are held to it here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seenby.contract import vocabulary
from seenby.contract.vocabulary import CODES, DEFAULT_LIMITS, EVENT_NAMES, LIMITS, Level
from seenby.harness.schemas import SCHEMA_DIR
from seenby.harness.validation import STRICT_KEYWORD
from seenby.reference_server.model import Capabilities, Code, Settings

PROTOCOL_DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
SPEC_NAMED_CODES = {6017, 7013, 10004, 10010, 10015, 10062}
"""The codes docs/spec/receipts-spec.md E-2 names (10007 is named too, but no case uses it)."""


def _schema(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return loaded


def _table(heading: str) -> list[list[str]]:
    """The rows of the first table under ``heading`` in docs/protocol.md, cells stripped."""
    text = PROTOCOL_DOC.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # header and separator


def test_codes_are_unique_and_only_success_is_2xx() -> None:
    assert len({entry.code for entry in CODES}) == len(CODES)
    for entry in CODES:
        assert (entry.code == 0) is (200 <= entry.http_status < 300), entry


def test_the_spec_named_codes_are_core_and_every_other_code_strict() -> None:
    core = {entry.code for entry in CODES if entry.level is Level.CORE}
    assert core == SPEC_NAMED_CODES | {0}


def test_the_servers_code_enum_is_the_vocabulary() -> None:
    assert sorted(int(code) for code in Code) == [entry.code for entry in CODES]


def test_the_protocol_doc_code_table_is_the_vocabulary() -> None:
    rows = _table("### 1.2 Error codes")
    documented = [(int(row[0]), int(row[1]), row[2]) for row in rows]
    assert documented == [(entry.code, entry.http_status, entry.level.value) for entry in CODES]


def test_the_strict_envelope_lists_exactly_the_vocabulary_codes() -> None:
    code_schema = _schema("envelope.json")["properties"]["code"]  # type: ignore[index]
    assert code_schema[STRICT_KEYWORD]["enum"] == [entry.code for entry in CODES]


def test_the_protocol_doc_event_table_and_event_schema_are_the_vocabulary() -> None:
    documented = [row[0].strip("`") for row in _table("## 6. Push channel")]
    assert documented == list(EVENT_NAMES)
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


@pytest.mark.parametrize(
    ("row", "limit", "level"),
    [
        ("request body", vocabulary.BODY_MAX_BYTES, "strict"),
        ("JSON nesting depth", vocabulary.NESTING_MAX, "strict"),
        ("`msgIDs` per call", vocabulary.RECEIPT_BATCH_MAX, "core"),
        ("`getHistoryMessageList.count`", vocabulary.HISTORY_COUNT_MAX, "strict"),
        ("`getGroupMessageReadMemberList.count`", vocabulary.MEMBER_LIST_COUNT_MAX, "core"),
        ("`memberIDs` / `userIDs` per admin call", vocabulary.ADMIN_ID_LIST_MAX, "strict"),
        ("`nickName`", vocabulary.NICK_NAME_MAX_CHARS, "strict"),
        ("`faceURL`", vocabulary.FACE_URL_MAX_CHARS, "strict"),
        ("`elem.text`, `elem.data`", vocabulary.ELEM_TEXT_MAX_BYTES, "strict"),
        ("`elem.desc`, `elem.extension`", vocabulary.ELEM_DESC_MAX_CHARS, "strict"),
        ("`userID`, `groupID`", vocabulary.ID_MAX_CHARS, "strict"),
    ],
)
def test_the_protocol_doc_limit_table_agrees_with_the_vocabulary(
    row: str, limit: vocabulary.Limit, level: str
) -> None:
    rows = {cells[0]: cells for cells in _table("### 1.3 Limits")}
    value, documented_level = rows[row][1], rows[row][2]
    assert documented_level == level == limit.level.value
    number = limit.value if limit.value < 1_048_576 else limit.value // 1_048_576
    assert f"{number:,}" in value or f"{number}" in value, (row, value, limit)


def test_every_limit_is_named_once() -> None:
    assert len({limit.name for limit in LIMITS}) == len(LIMITS)
