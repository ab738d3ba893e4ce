"""The JSON Schemas themselves: well-formed, open at the core level and closed at the strict
level, and agreeing with docs/protocol.md samples."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from seenby.contract.schemas import SCHEMA_BASE_URI, SCHEMA_DIR
from seenby.contract.vocabulary import Level
from seenby.harness.wire.validation import (
    STRICT_KEYWORD,
    PayloadContext,
    SchemaViolation,
    compiled_validator,
    schema_names,
    strict_layer,
    validate,
    validator,
)

PROTOCOL_SCHEMAS = [
    "envelope.json",
    "capabilities.json",
    "settings.json",
    "user.json",
    "group.json",
    "message.json",
    "message-list.json",
    "conversation-list.json",
    "receipt.json",
    "receipt-list.json",
    "read-member-list.json",
    "event.json",
    "common.json",
]

C2C_MESSAGE = {
    "msgID": "m-1",
    "sender": "alice-1",
    "receiver": "bob-1",
    "timestamp": 1_700_000_000_000,
    "elem": {"elemType": "text", "text": "lunch?"},
    "needReadReceipt": True,
    "onlineUserOnly": False,
    "isSelf": True,
    "isPeerRead": False,
}
GROUP_MESSAGE = {
    "msgID": "m-2",
    "sender": "alice-1",
    "groupID": "@TGS#1",
    "timestamp": 1_700_000_000_001,
    "elem": {"elemType": "custom", "data": "{}", "desc": "card", "extension": ""},
    "needReadReceipt": True,
    "onlineUserOnly": True,
    "isSelf": False,
    "isPeerRead": False,
}
GROUP_RECEIPT = {"msgID": "m-2", "groupID": "@TGS#1", "readCount": 1, "unreadCount": 2}
C2C_RECEIPT = {"msgID": "m-1", "userID": "bob-1", "isPeerRead": True, "timestamp": 5}
UNREAD_C2C_RECEIPT = {"msgID": "m-1", "userID": "bob-1", "isPeerRead": False, "timestamp": 0}
MARK = {"msgID": "", "userID": "bob-1", "isPeerRead": True, "timestamp": 6}

VALID: dict[str, list[Any]] = {
    "envelope.json": [
        {"code": 0, "desc": "ok", "data": None},
        {"code": 0, "desc": "ok", "data": [1, 2]},
        {"code": 6017, "desc": "msgIDs must not be empty", "data": None},
    ],
    "capabilities.json": [
        {
            "protocol": "seenby/1",
            "implementation": {"name": "seenby-reference", "version": "0.1.0"},
            "features": ["adminSettings", "onlineUserOnly", "eventReplay"],
            "limits": {
                "receiptBatchMax": 30,
                "memberListCountMax": 100,
                "groupReceiptMaxMembers": 200,
            },
        }
    ],
    "settings.json": [
        {
            "edition": "ultimate",
            "groupReceiptTypes": ["Work", "Public", "Meeting"],
            "groupReceiptMaxMembers": 200,
            "receiptBatchMax": 30,
        },
        {
            "edition": "standard",
            "groupReceiptTypes": [],
            "groupReceiptMaxMembers": 1_000_000,
            "receiptBatchMax": 1,
        },
    ],
    "user.json": [{"userID": "alice-1", "token": "t0k3n"}],
    "group.json": [
        {"groupID": "@TGS#1", "groupType": "Work", "ownerID": "alice-1", "memberCount": 3}
    ],
    "message.json": [C2C_MESSAGE, GROUP_MESSAGE],
    "message-list.json": [[], [C2C_MESSAGE, C2C_MESSAGE]],
    "conversation-list.json": [
        [
            {"conversationID": "c2c_bob-1", "type": 1, "userID": "bob-1", "unreadCount": 0},
            {"conversationID": "group_@TGS#1", "type": 2, "groupID": "@TGS#1", "unreadCount": 4},
        ]
    ],
    "receipt.json": [GROUP_RECEIPT, C2C_RECEIPT, UNREAD_C2C_RECEIPT, MARK],
    "receipt-list.json": [[], [GROUP_RECEIPT], [C2C_RECEIPT, UNREAD_C2C_RECEIPT]],
    "read-member-list.json": [
        {"memberInfoList": [], "nextSeq": 0, "isFinished": True},
        {
            "memberInfoList": [
                {"userID": "bob-1"},
                {"userID": "carol-1", "nickName": "carol", "faceURL": "https://x.test/c.png"},
            ],
            "nextSeq": 2,
            "isFinished": False,
        },
    ],
    "event.json": [
        {"event": "onRecvNewMessage", "seq": 1, "data": C2C_MESSAGE},
        {"event": "onRecvMessageReadReceipts", "seq": 2, "data": [GROUP_RECEIPT, C2C_RECEIPT]},
        {"event": "onRecvC2CReadReceipt", "seq": 3, "data": [MARK]},
        {"event": "onReplayGap", "seq": 9, "data": {"since": 0, "firstAvailableSeq": 10}},
    ],
    "common.json#/$defs/userID": ["a", "x" * 64, "名前"],
    "common.json#/$defs/empty": [None],
}

# Valid at the core level, deviating at the strict level: choices a correct server may make.
# (schema, instance, JSON path of the strict layer's headline error, its rule)
STRICT_ONLY_INVALID: list[tuple[str, Any, str, str]] = [
    ("envelope.json", {"code": 6017, "desc": "bad", "data": {}}, "$.data", "type"),
    ("envelope.json", {"code": 6017, "desc": "bad"}, "$", "required"),
    ("envelope.json", {"code": 0, "desc": "done", "data": None}, "$.desc", "const"),
    ("envelope.json", {"code": 1234, "desc": "?", "data": None}, "$.code", "enum"),
    ("envelope.json", {"code": 0, "desc": "ok", "data": None, "x": 1}, "$", "additionalProperties"),
    ("user.json", {"userID": "x" * 65, "token": "t"}, "$.userID", "maxLength"),
    ("user.json", {"userID": "a\x07b", "token": "t"}, "$.userID", "pattern"),
    (
        "capabilities.json",
        {"protocol": "seenby/1", "features": [], "limits": {}},
        "$",
        "required",
    ),
    ("message.json", {**C2C_MESSAGE, "priority": 2}, "$", "additionalProperties"),
    ("receipt.json", {**UNREAD_C2C_RECEIPT, "timestamp": 5}, "$.timestamp", "const"),
    (
        "receipt.json#/$defs/conversationMark",
        {"msgID": "", "userID": "b", "timestamp": 6},
        "$",
        "required",
    ),
]

# (schema, instance, JSON path of the headline error, rule that fails)
INVALID: list[tuple[str, Any, str, str]] = [
    ("envelope.json", {"code": 0, "desc": "ok"}, "$", "required"),
    ("envelope.json", {"code": 6017, "desc": "", "data": None}, "$.desc", "minLength"),
    ("envelope.json", {"code": "6017", "desc": "bad", "data": None}, "$.code", "type"),
    (
        "capabilities.json",
        {"protocol": "seenby/2", "features": [], "limits": {}},
        "$.protocol",
        "const",
    ),
    ("user.json", {"userID": "", "token": "t"}, "$.userID", "minLength"),
    (
        "settings.json",
        {**VALID["settings.json"][0], "receiptBatchMax": 0},
        "$.receiptBatchMax",
        "minimum",
    ),
    ("settings.json", {**VALID["settings.json"][0], "edition": "pro"}, "$.edition", "enum"),
    ("group.json", {**VALID["group.json"][0], "memberCount": 0}, "$.memberCount", "minimum"),
    ("message.json", {**C2C_MESSAGE, "groupID": "@TGS#1"}, "$", "oneOf"),
    ("message.json", {**C2C_MESSAGE, "timestamp": -1}, "$.timestamp", "minimum"),
    ("message.json", {**C2C_MESSAGE, "timestamp": 1.5}, "$.timestamp", "type"),
    ("message.json", {**GROUP_MESSAGE, "isPeerRead": True}, "$.isPeerRead", "const"),
    ("message.json", {**C2C_MESSAGE, "elem": {"elemType": "text"}}, "$.elem", "required"),
    ("receipt.json", {**GROUP_RECEIPT, "readCount": -1}, "$.readCount", "minimum"),
    ("receipt.json", {**MARK, "isPeerRead": False}, "$.isPeerRead", "const"),
    ("receipt-list.json", [MARK], "$[0].msgID", "minLength"),
    (
        "read-member-list.json",
        {"memberInfoList": [], "nextSeq": -1, "isFinished": True},
        "$.nextSeq",
        "minimum",
    ),
    (
        "event.json",
        {"event": "onRecvNewMessage", "seq": -1, "data": C2C_MESSAGE},
        "$.seq",
        "minimum",
    ),
    (
        "event.json",
        {"event": "onRecvMessageReadReceipts", "seq": 1, "data": []},
        "$.data",
        "minItems",
    ),
    (
        "event.json",
        {"event": "onRecvC2CReadReceipt", "seq": 1, "data": [MARK, MARK]},
        "$.data",
        "maxItems",
    ),
    ("event.json", {"event": "onTyping", "seq": 1, "data": None}, "$.event", "const"),
]


def _objects(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema that declares ``properties``, with its location."""
    if isinstance(node, dict):
        if "properties" in node:
            yield path, node
        for key, value in node.items():
            yield from _objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, f"{path}/{index}")


def _load(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return schema


def test_every_payload_of_the_protocol_has_a_schema_file() -> None:
    assert set(PROTOCOL_SCHEMAS) <= set(schema_names())


@pytest.mark.parametrize("name", PROTOCOL_SCHEMAS)
def test_schema_is_valid_draft_2020_12_with_its_own_id_and_title(name: str) -> None:
    schema = _load(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_BASE_URI + name
    assert schema["title"]
    assert schema["description"]


@pytest.mark.parametrize("name", PROTOCOL_SCHEMAS)
def test_every_object_is_open_at_core_and_closed_at_strict_requiring_only_its_fields(
    name: str,
) -> None:
    core = _load(name)
    for location, subschema in _objects(core):
        assert "additionalProperties" not in subschema, location
    for location, subschema in _objects(strict_layer(core)):
        if location.endswith(("/if", "/then", "/else")):
            continue  # conditional refinements of an object defined (and closed) one level up
        assert subschema.get("additionalProperties") is False, location
        assert set(subschema.get("required", [])) <= set(subschema["properties"]), location
    assert STRICT_KEYWORD not in json.dumps(strict_layer(core))


@pytest.mark.parametrize(
    ("name", "instance"),
    [(name, instance) for name, instances in VALID.items() for instance in instances],
)
def test_sample_payload_from_the_protocol_is_valid_at_both_levels(name: str, instance: Any) -> None:
    for level in Level:
        validate(name, instance, context=PayloadContext("sample", "nowhere"), level=level)


@pytest.mark.parametrize(("name", "instance", "path", "rule"), STRICT_ONLY_INVALID)
def test_a_choice_the_spec_leaves_open_is_valid_at_core_and_deviates_at_strict(
    name: str, instance: Any, path: str, rule: str
) -> None:
    validate(name, instance, context=PayloadContext("sample", "nowhere"))
    with pytest.raises(SchemaViolation) as caught:
        validate(name, instance, context=PayloadContext("sample", "nowhere"), level=Level.STRICT)
    assert (caught.value.json_path, caught.value.rule) == (path, rule), str(caught.value)


@pytest.mark.parametrize(("name", "instance", "path", "rule"), INVALID)
def test_payload_breaking_a_rule_is_a_violation_naming_path_and_rule(
    name: str, instance: Any, path: str, rule: str
) -> None:
    with pytest.raises(SchemaViolation) as caught:
        validate(name, instance, context=PayloadContext("sample", "nowhere"))
    assert (caught.value.json_path, caught.value.rule) == (path, rule), str(caught.value)


SAMPLES = [
    *((name, instance) for name, instances in VALID.items() for instance in instances),
    *((name, instance) for name, instance, _, _ in STRICT_ONLY_INVALID),
    *((name, instance) for name, instance, _, _ in INVALID),
]


@pytest.mark.parametrize(("name", "instance"), SAMPLES)
def test_the_compiled_validator_judges_every_sample_as_jsonschema_does(
    name: str, instance: Any
) -> None:
    for level in Level:
        expected = validator(name, level).is_valid(instance)
        assert compiled_validator(name, level).is_valid(instance) is expected, level
