"""harness.wire.check_envelope: what the transport accepts from an HTTP answer [E-1, V-1]."""

from __future__ import annotations

import json

import pytest

from harness.validation import SchemaViolation
from harness.wire import CODE_STATUS, ProtocolViolation, ServerFault, ViolationLog, check_envelope

TARGET = "http://127.0.0.1:9"
JSON = "application/json"


def _check(method: str, status: int, body: object, content_type: str = JSON) -> dict[str, object]:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return check_envelope(
        method, status, content, content_type, target=TARGET, violations=ViolationLog()
    )


def test_success_envelope_with_valid_data_is_returned() -> None:
    envelope = _check("sendMessageReadReceipts", 200, {"code": 0, "desc": "ok", "data": None})
    assert envelope == {"code": 0, "desc": "ok", "data": None}


def test_error_envelope_with_its_documented_status_is_returned() -> None:
    body = {"code": 10010, "desc": "group not found", "data": None}
    assert _check("sendMessage", 404, body) == body


def test_every_documented_code_has_a_status_and_only_success_is_200() -> None:
    assert CODE_STATUS[0] == 200
    assert all(status >= 400 for code, status in CODE_STATUS.items() if code != 0)


def test_status_that_disagrees_with_the_code_is_a_protocol_violation() -> None:
    log = ViolationLog()
    body = json.dumps({"code": 6017, "desc": "msgIDs must not be empty", "data": None}).encode()
    with pytest.raises(ProtocolViolation, match=r"code 6017 with HTTP 200; .* HTTP 400"):
        check_envelope("sendMessageReadReceipts", 200, body, JSON, target=TARGET, violations=log)
    assert len(log.snapshot()) == 1


def test_undocumented_5xx_is_a_server_fault() -> None:
    with pytest.raises(ServerFault, match=r"sendMessage → HTTP 502: server fault: Bad Gateway"):
        _check("sendMessage", 502, b"Bad Gateway", "text/plain")
    with pytest.raises(ServerFault, match="HTTP 500"):
        _check("sendMessage", 500, {"code": 90500, "desc": "internal error", "data": None})


def test_feature_not_offered_is_a_documented_501_not_a_fault() -> None:
    body = {"code": 90103, "desc": "admin/setSettings is not offered", "data": None}
    assert _check("admin/setSettings", 501, body) == body


def test_body_that_is_not_a_json_object_is_a_protocol_violation() -> None:
    with pytest.raises(ProtocolViolation, match="not a JSON object"):
        _check("sendMessage", 400, b"<html>bad request</html>", "text/html")
    with pytest.raises(ProtocolViolation, match="not a JSON object"):
        _check("sendMessage", 200, [1, 2])


def test_wrong_content_type_is_a_protocol_violation() -> None:
    with pytest.raises(ProtocolViolation, match="Content-Type is 'text/plain'"):
        _check("sendMessage", 404, {"code": 10010, "desc": "no", "data": None}, "text/plain")


def test_success_data_is_validated_against_the_method_schema() -> None:
    with pytest.raises(SchemaViolation) as caught:
        _check("admin/createUser", 200, {"code": 0, "desc": "ok", "data": {"userID": "a"}})
    assert caught.value.context.payload == "admin/createUser response data"
    assert (caught.value.json_path, caught.value.rule) == ("$", "required")


def test_error_envelope_must_carry_null_data() -> None:
    with pytest.raises(SchemaViolation) as caught:
        _check("sendMessage", 400, {"code": 6017, "desc": "bad", "data": {"why": "?"}})
    assert caught.value.context.payload == "sendMessage response"
    assert caught.value.json_path == "$.data"
