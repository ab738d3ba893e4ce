"""seenby.harness.wire.transport.check_envelope: what the transport accepts from an HTTP answer, at
the
core level (a failure) and the strict level (a recorded deviation) [E-1, V-1]."""

from __future__ import annotations

import json

import pytest

from seenby.contract.vocabulary import CODES
from seenby.harness.wire.deviations import Deviation
from seenby.harness.wire.transport import (
    ProtocolViolation,
    ServerFault,
    ViolationLog,
    check_envelope,
)
from seenby.harness.wire.validation import SchemaViolation

TARGET = "http://127.0.0.1:9"
JSON = "application/json"


def _check(
    method: str,
    status: int,
    body: object,
    content_type: str = JSON,
    log: ViolationLog | None = None,
) -> dict[str, object]:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return check_envelope(
        method, status, content, content_type, target=TARGET, violations=log or ViolationLog()
    )


def _deviations(
    method: str, status: int, body: object, content_type: str = JSON
) -> list[Deviation]:
    log = ViolationLog()
    _check(method, status, body, content_type, log)
    assert log.snapshot() == []
    return log.deviations.snapshot()


def test_success_envelope_with_valid_data_is_returned_without_deviation() -> None:
    body = {"code": 0, "desc": "ok", "data": None}
    assert _deviations("sendMessageReadReceipts", 200, body) == []


def test_error_envelope_with_its_documented_status_is_returned_without_deviation() -> None:
    body = {"code": 10010, "desc": "group not found", "data": None}
    assert _deviations("sendMessage", 404, body) == []


def test_only_success_is_2xx_in_the_code_table() -> None:
    assert {entry.http_status for entry in CODES if entry.code == 0} == {200}
    assert all(400 <= entry.http_status < 600 for entry in CODES if entry.code != 0)


def test_a_refusal_without_a_4xx_status_is_a_core_violation() -> None:
    log = ViolationLog()
    body = json.dumps({"code": 6017, "desc": "msgIDs must not be empty", "data": None}).encode()
    with pytest.raises(ProtocolViolation, match=r"code 6017 \(a refusal\) with HTTP 200"):
        check_envelope("sendMessageReadReceipts", 200, body, JSON, target=TARGET, violations=log)
    assert len(log.snapshot()) == 1


def test_success_without_a_2xx_status_is_a_core_violation() -> None:
    with pytest.raises(ProtocolViolation, match=r"code 0 \(success\) with HTTP 400"):
        _check("markC2CMessageAsRead", 400, {"code": 0, "desc": "ok", "data": None})


def test_another_4xx_than_the_table_pairs_is_a_strict_deviation() -> None:
    body = {"code": 6017, "desc": "msgIDs must not be empty", "data": None}
    (deviation,) = _deviations("sendMessageReadReceipts", 422, body)
    assert (deviation.check_id, deviation.section, deviation.reference, deviation.observed) == (
        "status-of-code",
        "§1.2",
        "HTTP 400 for code 6017",
        "HTTP 422 for code 6017",
    )


def test_a_code_outside_the_table_is_a_strict_deviation() -> None:
    body = {"code": 4001, "desc": "token unknown", "data": None}
    (deviation,) = _deviations("getConversationList", 401, body)
    assert deviation.section == "§1.1"
    assert "4001 is not one of" in deviation.observed


def test_any_5xx_is_a_server_fault() -> None:
    with pytest.raises(ServerFault, match=r"sendMessage → HTTP 502: server fault: Bad Gateway"):
        _check("sendMessage", 502, b"Bad Gateway", "text/plain")
    with pytest.raises(ServerFault, match="HTTP 500"):
        _check("sendMessage", 500, {"code": 90500, "desc": "internal error", "data": None})


def test_body_that_is_not_a_json_object_is_a_protocol_violation() -> None:
    with pytest.raises(ProtocolViolation, match="not a JSON object"):
        _check("sendMessage", 400, b"<html>bad request</html>", "text/html")
    with pytest.raises(ProtocolViolation, match="not a JSON object"):
        _check("sendMessage", 200, [1, 2])


def test_another_content_type_is_a_strict_deviation() -> None:
    body = {"code": 10010, "desc": "no", "data": None}
    (deviation,) = _deviations("sendMessage", 404, body, "text/plain")
    assert (deviation.reference, deviation.observed) == ("application/json", "'text/plain'")


def test_success_data_is_validated_against_the_method_schema() -> None:
    with pytest.raises(SchemaViolation) as caught:
        _check("admin/createUser", 200, {"code": 0, "desc": "ok", "data": {"userID": "a"}})
    assert caught.value.context.payload == "admin/createUser response data"
    assert (caught.value.json_path, caught.value.rule) == ("$", "required")


def test_an_error_without_a_desc_is_a_core_violation() -> None:
    with pytest.raises(SchemaViolation) as caught:
        _check("sendMessage", 400, {"code": 6017, "desc": ""})
    assert caught.value.json_path == "$.desc"


def test_error_data_that_is_not_null_and_extra_fields_are_strict_deviations() -> None:
    body = {"code": 6017, "desc": "bad", "data": {"why": "?"}, "requestId": "r-1"}
    (deviation,) = _deviations("sendMessage", 400, body)
    assert deviation.section == "§1.1"
    assert deviation.where == "sendMessage response"


def test_vendor_fields_in_success_data_are_strict_deviations_not_failures() -> None:
    body = {"code": 0, "desc": "ok", "data": {"userID": "a", "token": "t", "createdAt": 1}}
    (deviation,) = _deviations("admin/createUser", 200, body)
    assert "createdAt" in deviation.observed
