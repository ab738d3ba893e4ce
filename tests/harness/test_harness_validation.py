"""seenby.harness.wire.validation: violations say which payload, where, which rule, what value,
which
target."""

from __future__ import annotations

import jsonschema_rs
import pytest
from referencing.exceptions import NoSuchResource

from seenby.contract.vocabulary import Level
from seenby.harness.wire.validation import (
    PayloadContext,
    SchemaViolation,
    compiled_validator,
    registry,
    validate,
    validator,
)

CONTEXT = PayloadContext("sendMessage response data", "http://127.0.0.1:9")


def _message(**changes: object) -> dict[str, object]:
    message: dict[str, object] = {
        "msgID": "m-1",
        "sender": "alice-1",
        "receiver": "bob-1",
        "timestamp": 1,
        "elem": {"elemType": "text", "text": "hi"},
        "needReadReceipt": False,
        "onlineUserOnly": False,
        "isSelf": True,
        "isPeerRead": False,
    }
    message.update(changes)
    return message


def test_violation_message_names_payload_path_rule_value_and_target() -> None:
    with pytest.raises(SchemaViolation) as caught:
        validate("message.json", _message(elem={"elemType": "text", "text": 42}), context=CONTEXT)

    message = str(caught.value)
    assert message.splitlines()[0] == (
        "sendMessage response data violates message.json [target http://127.0.0.1:9]"
    )
    assert "at $.elem.text: 42 is not of type 'string'" in message
    assert (
        "rule: type (schema path #/oneOf/0/properties/elem/oneOf/0/properties/text/type)" in message
    )
    assert "offending value: 42" in message
    assert (caught.value.json_path, caught.value.rule) == ("$.elem.text", "type")


def test_every_error_is_listed_sorted_by_path_after_the_headline() -> None:
    with pytest.raises(SchemaViolation) as caught:
        validate(
            "user.json",
            {"userID": "", "token": 7, "extra": True},
            context=CONTEXT,
            level=Level.STRICT,
        )

    violation = caught.value
    assert [error.json_path for error in violation.errors] == ["$", "$.token", "$.userID"]
    listing = str(violation).split("all 3 errors:\n", 1)[1].splitlines()
    assert [line.split()[:2] for line in listing] == [
        ["$", "additionalProperties"],
        ["$.token", "type"],
        ["$.userID", "minLength"],
    ]


def test_long_offending_values_are_shortened() -> None:
    with pytest.raises(SchemaViolation) as caught:
        validate(
            "user.json", {"userID": "x" * 500, "token": "t"}, context=CONTEXT, level=Level.STRICT
        )

    assert "... (502 chars)" in str(caught.value)


def test_a_violation_is_an_assertion_error_so_pytest_reports_it_as_a_failure() -> None:
    assert issubclass(SchemaViolation, AssertionError)


def test_validators_are_built_once_per_schema() -> None:
    assert validator("receipt.json") is validator("receipt.json")
    assert validator("receipt.json#/$defs/groupReceipt") is not validator("receipt.json")


def test_schemas_are_never_fetched_from_the_network() -> None:
    with pytest.raises(NoSuchResource):
        registry().get_or_retrieve("https://seenby.dev/schemas/v1/not-a-schema.json")
    with pytest.raises(NoSuchResource):
        validator("not-a-schema.json")


def test_the_compiled_validator_fetches_nothing_either() -> None:
    with pytest.raises(jsonschema_rs.ValidationError, match="nothing is fetched"):
        compiled_validator("not-a-schema.json")


def test_format_checking_is_on() -> None:
    assert validator("message.json").format_checker is not None
    started_at = "conformance-summary.json#/properties/started_at"
    for judge in (validator(started_at), compiled_validator(started_at)):
        assert judge.is_valid("2026-12-02T01:36:34Z")
        assert not judge.is_valid("yesterday")
