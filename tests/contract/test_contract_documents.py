"""The machine-readable contract: ``contract/openapi.json`` and ``contract/asyncapi.json``.

Both documents validate (openapi-spec-validator for OpenAPI 3.1; the official AsyncAPI 3.0.0 JSON
Schema for AsyncAPI), every ``$ref`` in them resolves, and they agree with what is written once
elsewhere: the request schemas with the server's method table (``seenby.reference_server.methods``),
the refusal codes and their statuses with ``seenby.contract.vocabulary.CODES``, the push events with
``EVENT_NAMES`` and ``event.json``, the limits with ``seenby.contract.vocabulary``. Neither document
restates a field list: every data type is a reference into ``contract/schemas/``.

``asyncapi-3.0.0-schema.json`` is ``schemas/3.0.0-without-$id.json`` of the npm package
``@asyncapi/specs`` 6.11.1 (Apache-2.0), the JSON Schema AsyncAPI publishes for validating
documents; refresh it with ``npm pack @asyncapi/specs`` and copy that file over.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag

import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from seenby.contract import ASYNCAPI_PATH, CONTRACT_DIR, OPENAPI_PATH
from seenby.contract.schemas import SCHEMA_BASE_URI, SCHEMA_DIR
from seenby.contract.vocabulary import (
    ADMIN_ID_LIST_MAX,
    CODES,
    EVENT_NAMES,
    HISTORY_COUNT_MAX,
    MEMBER_LIST_COUNT_MAX,
    SAFE_INTEGER_MAX,
    SUCCESS,
    Level,
    http_status,
)
from seenby.harness.api.target import CAPABILITIES_SCHEMA
from seenby.harness.wire.transport import DATA_SCHEMAS
from seenby.harness.wire.validation import validator
from seenby.reference_server.http_api import CAPABILITIES_PATH, EVENTS_PATH
from seenby.reference_server.methods import METHODS, AdminMethod

REPO = Path(__file__).resolve().parents[2]
ASYNCAPI_SCHEMA = Path(__file__).with_name("asyncapi-3.0.0-schema.json")
REQUESTS_DIR = SCHEMA_DIR / "requests"
ROUTE_CODES = {90003, 90004}
"""Codes a path or HTTP method that is no operation gets, so no operation lists them."""


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


OPENAPI = load(OPENAPI_PATH)
ASYNCAPI = load(ASYNCAPI_PATH)


def request_schema_path(method: str) -> Path:
    """``contract/schemas/requests/<method>.json`` (admin methods under ``requests/admin/``)."""
    return REQUESTS_DIR / f"{method}.json"


def schema_registry() -> Registry[Any]:
    """Every schema file under ``contract/schemas/`` (requests included), by its ``$id``."""
    resources = [
        Resource.from_contents(load(path), default_specification=DRAFT202012)
        for path in sorted(SCHEMA_DIR.rglob("*.json"))
    ]
    return Registry().with_resources((resource.id() or "", resource) for resource in resources)


def references(node: Any) -> Iterator[str]:
    """Every ``$ref`` value in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def resolve(document_path: Path, ref: str) -> Any:
    """What ``ref``, written in ``document_path``, points to: a file, then a JSON pointer."""
    target, fragment = urldefrag(ref)
    node = load((document_path.parent / target).resolve()) if target else load(document_path)
    for part in [p for p in fragment.split("/") if p]:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(path, http method, operation)`` for every operation of the OpenAPI document."""
    for path, item in OPENAPI["paths"].items():
        for verb, operation in item.items():
            yield path, verb, operation


def response_codes(response: dict[str, Any]) -> set[int]:
    """The envelope codes a documented response allows."""
    [envelope_ref, refinement] = response["content"]["application/json"]["schema"]["allOf"]
    assert envelope_ref == {"$ref": "schemas/envelope.json"}
    code = refinement["properties"]["code"]
    return {code["const"]} if "const" in code else set(code["enum"])


# -- the documents are valid -------------------------------------------------------------------


def test_the_openapi_document_is_valid_openapi_3_1() -> None:
    assert OPENAPI["openapi"].startswith("3.1.")
    validate(OPENAPI, base_uri=OPENAPI_PATH.as_uri(), cls=OpenAPIV31SpecValidator)


def test_the_asyncapi_document_is_valid_against_the_official_asyncapi_3_schema() -> None:
    official = load(ASYNCAPI_SCHEMA)
    assert official["title"] == "AsyncAPI 3.0.0 schema."
    Draft7Validator.check_schema(official)
    errors = sorted(Draft7Validator(official).iter_errors(ASYNCAPI), key=lambda e: e.json_path)
    assert not errors, "\n".join(f"{e.json_path}: {e.message[:200]}" for e in errors)


def test_the_official_asyncapi_schema_catches_a_broken_document() -> None:
    broken = {**ASYNCAPI, "operations": {"x": {"action": "listen", "channel": {}}}}
    assert not Draft7Validator(load(ASYNCAPI_SCHEMA)).is_valid(broken)


@pytest.mark.parametrize("document", [OPENAPI_PATH, ASYNCAPI_PATH], ids=lambda p: p.name)
def test_every_reference_of_a_document_resolves(document: Path) -> None:
    unresolved = []
    for ref in sorted(set(references(load(document)))):
        try:
            resolve(document, ref)
        except (OSError, KeyError, IndexError) as error:
            unresolved.append(f"{ref}: {error!r}")
    assert not unresolved, "\n".join(unresolved)


def test_data_types_are_referenced_into_harness_schemas_never_restated() -> None:
    for document in (OPENAPI, ASYNCAPI):
        text = json.dumps(document)
        for field in ('"msgID"', '"readCount"', '"groupType"', '"needReadReceipt"'):
            assert field not in text, f"{field} is restated in a contract document"
    external = {urldefrag(ref)[0] for d in (OPENAPI, ASYNCAPI) for ref in references(d)} - {""}
    assert external and all(ref.startswith("schemas/") for ref in external), external


# -- request schemas and the server's method table ---------------------------------------------


def test_every_method_of_the_server_has_a_request_schema_and_no_other_exists() -> None:
    written = {
        path.relative_to(REQUESTS_DIR).with_suffix("").as_posix()
        for path in REQUESTS_DIR.rglob("*.json")
    }
    assert written == set(METHODS)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_request_schema_is_strict_draft_2020_12_with_exactly_the_methods_fields(
    method: str,
) -> None:
    schema = load(request_schema_path(method))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"{SCHEMA_BASE_URI}requests/{method}.json"
    assert schema["title"] and schema["description"]
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(METHODS[method].fields)
    assert set(schema.get("required", [])) <= set(schema["properties"])


SAMPLE_BODIES: dict[str, list[dict[str, Any]]] = {
    "admin/getSettings": [{}],
    "admin/setSettings": [{}, {"edition": "standard", "groupReceiptTypes": ["Work"]}],
    "admin/createUser": [{"userID": "bob-1"}, {"userID": "b", "nickName": "", "faceURL": "x"}],
    "admin/createGroup": [
        {"groupType": "Work", "ownerID": "alice-1", "memberIDs": []},
        {"groupID": "@TGS#1", "groupType": "Meeting", "ownerID": "a", "memberIDs": ["b", "b"]},
    ],
    "admin/addGroupMembers": [{"groupID": "g", "userIDs": ["b"]}],
    "admin/removeGroupMembers": [{"groupID": "g", "userIDs": []}],
    "sendMessage": [
        {"receiver": "bob-1", "elem": {"elemType": "text", "text": "lunch?"}},
        {
            "groupID": "g",
            "elem": {"elemType": "custom", "data": "{}", "desc": "card"},
            "needReadReceipt": True,
            "onlineUserOnly": False,
        },
    ],
    "getHistoryMessageList": [{"userID": "bob-1", "count": 20, "lastMsgID": "m-1"}],
    "getConversationList": [{}],
    "sendMessageReadReceipts": [{"msgIDs": ["m-1", "m-1"]}],
    "getMessageReadReceipts": [{"msgIDs": ["m-1"]}],
    "getGroupMessageReadMemberList": [{"msgID": "m-2", "filter": 1, "nextSeq": 0, "count": 100}],
    "markC2CMessageAsRead": [{"userID": "bob-1"}],
}
"""Bodies docs/protocol.md §3-§4 allows, at least one per method."""

REFUSED_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("sendMessage", {"elem": {"elemType": "text", "text": "x"}}, "oneOf"),
    (
        "sendMessage",
        {"receiver": "b", "groupID": "g", "elem": {"elemType": "text", "text": ""}},
        "oneOf",
    ),
    ("sendMessage", {"receiver": "b", "elem": {"elemType": "text"}}, "oneOf"),
    (
        "sendMessage",
        {"receiver": "b", "elem": {"elemType": "text", "text": ""}, "needReadReciept": True},
        "additionalProperties",
    ),
    ("getHistoryMessageList", {"groupID": "g", "count": 0}, "minimum"),
    ("getHistoryMessageList", {"groupID": "g", "count": HISTORY_COUNT_MAX.value + 1}, "maximum"),
    (
        "getGroupMessageReadMemberList",
        {"msgID": "m", "filter": 2, "nextSeq": 0, "count": 1},
        "enum",
    ),
    (
        "getGroupMessageReadMemberList",
        {"msgID": "m", "filter": 0, "nextSeq": SAFE_INTEGER_MAX.value + 1, "count": 1},
        "maximum",
    ),
    ("sendMessageReadReceipts", {"msgIDs": []}, "minItems"),
    ("getMessageReadReceipts", {"msgIDs": ["m\x00"]}, "pattern"),
    ("markC2CMessageAsRead", {"userID": "x" * 65}, "maxLength"),
    ("admin/createUser", {"userID": ""}, "minLength"),
    ("admin/createGroup", {"groupType": "Club", "ownerID": "a", "memberIDs": []}, "enum"),
    (
        "admin/addGroupMembers",
        {"groupID": "g", "userIDs": ["u"] * (ADMIN_ID_LIST_MAX.value + 1)},
        "maxItems",
    ),
    ("admin/setSettings", {"receiptBatchMax": 0}, "minimum"),
    ("admin/setSettings", {"groupReceiptTypes": ["Work", "Work"]}, "uniqueItems"),
    ("admin/getSettings", {"x": 1}, "additionalProperties"),
]
"""Bodies docs/protocol.md refuses, and the schema rule that says so."""


def request_validator(method: str) -> Draft202012Validator:
    """The request schema of ``method`` at the strict level: what the reference accepts (a
    correct server may accept more where the protocol decides, not the spec)."""
    return validator(f"requests/{method}.json", Level.STRICT)


def test_every_method_has_a_sample_body() -> None:
    assert set(SAMPLE_BODIES) == set(METHODS)


@pytest.mark.parametrize(
    ("method", "body"),
    [(method, body) for method, bodies in SAMPLE_BODIES.items() for body in bodies],
)
def test_a_body_the_protocol_allows_is_valid(method: str, body: dict[str, Any]) -> None:
    errors = [error.message for error in request_validator(method).iter_errors(body)]
    assert not errors, errors


@pytest.mark.parametrize(("method", "body", "rule"), REFUSED_BODIES)
def test_a_body_the_protocol_refuses_is_invalid(
    method: str, body: dict[str, Any], rule: str
) -> None:
    errors = list(request_validator(method).iter_errors(body))
    rules = {error.validator for error in errors} | {
        sub.validator for error in errors for sub in error.context or []
    }
    assert rule in rules, [error.message for error in errors]


def test_request_limits_are_the_vocabulary_limits() -> None:
    def schema(method: str) -> Any:
        return load(request_schema_path(method))["properties"]

    assert schema("getHistoryMessageList")["count"]["maximum"] == HISTORY_COUNT_MAX.value
    member_list = schema("getGroupMessageReadMemberList")
    assert member_list["count"]["maximum"] == MEMBER_LIST_COUNT_MAX.value
    assert member_list["nextSeq"]["maximum"] == SAFE_INTEGER_MAX.value
    for method, field in [
        ("admin/createGroup", "memberIDs"),
        ("admin/addGroupMembers", "userIDs"),
        ("admin/removeGroupMembers", "userIDs"),
    ]:
        assert schema(method)[field]["maxItems"] == ADMIN_ID_LIST_MAX.value, method


# -- the OpenAPI document and the server -------------------------------------------------------


def test_the_openapi_document_has_exactly_the_servers_routes() -> None:
    routes = {(path, verb) for path, verb, _ in operations()}
    assert routes == {("/v1/" + name, "post") for name in METHODS} | {
        (CAPABILITIES_PATH, "get"),
        (EVENTS_PATH, "get"),
    }


@pytest.mark.parametrize("method", sorted(METHODS))
def test_an_operation_takes_its_request_schema_and_the_credential_of_its_kind(
    method: str,
) -> None:
    operation = OPENAPI["paths"]["/v1/" + method]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {
        "$ref": f"schemas/requests/{method}.json"
    }
    admin = isinstance(METHODS[method], AdminMethod)
    assert operation["security"] == [{"adminKey": []} if admin else {"userToken": []}]
    assert operation["tags"] == ["admin" if admin else "user"]
    # The code an invalid body gets (§1, "Request bodies are strict") is documented.
    assert (10004 if admin else 6017) in response_codes(operation["responses"]["400"])


def test_success_data_is_the_schema_the_harness_validates_it_with() -> None:
    documented = {}
    for path, _, operation in operations():
        if path == EVENTS_PATH:
            continue
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        data_ref = schema["allOf"][1]["properties"]["data"]["$ref"]
        documented[path.removeprefix("/v1/")] = data_ref.removeprefix("schemas/")
    # The target checks the capabilities itself (tolerantly), the transport every other method.
    assert documented == {**DATA_SCHEMAS, "capabilities": CAPABILITIES_SCHEMA}


def test_every_refusal_is_documented_with_the_status_its_code_travels_with() -> None:
    for path, verb, operation in operations():
        for status, response in operation["responses"].items():
            if status == "101":
                continue
            codes = response_codes(response)
            where = f"{verb.upper()} {path} {status}"
            if status == "200":
                assert codes == {SUCCESS}, where
            else:
                assert codes and all(http_status(code) == int(status) for code in codes), where
                assert all(str(code) in response["description"] for code in codes), where


def test_every_code_of_the_vocabulary_is_documented_by_some_operation() -> None:
    documented = {
        code
        for _, _, operation in operations()
        for status, response in operation["responses"].items()
        if status != "101"
        for code in response_codes(response)
    }
    assert documented == {entry.code for entry in CODES} - ROUTE_CODES


def test_credentials_are_bearer_tokens_and_only_discovery_needs_none() -> None:
    schemes = OPENAPI["components"]["securitySchemes"]
    assert {scheme["scheme"] for scheme in schemes.values()} == {"bearer"}
    anonymous = [path for path, _, operation in operations() if operation["security"] == []]
    assert anonymous == [CAPABILITIES_PATH]


# -- the AsyncAPI document, the events and the OpenAPI document ------------------------------


def test_the_push_channel_carries_exactly_the_protocols_events_in_order() -> None:
    event_schema = load(SCHEMA_DIR / "event.json")
    assert tuple(event_schema["$defs"]) == EVENT_NAMES
    messages = ASYNCAPI["components"]["messages"]
    assert tuple(messages) == EVENT_NAMES
    for name, message in messages.items():
        assert message["name"] == name
        assert message["payload"] == {"$ref": f"schemas/event.json#/$defs/{name}"}
    [channel] = ASYNCAPI["channels"].values()
    assert channel["address"] == EVENTS_PATH
    assert tuple(channel["messages"]) == EVENT_NAMES
    [operation] = ASYNCAPI["operations"].values()
    assert operation["action"] == "receive"
    assert len(operation["messages"]) == len(EVENT_NAMES)


def test_both_documents_give_since_the_same_bounds() -> None:
    [channel] = ASYNCAPI["channels"].values()
    pushed = channel["bindings"]["ws"]["query"]["properties"]["since"]
    [since] = OPENAPI["paths"][EVENTS_PATH]["get"]["parameters"]
    assert since["name"] == "since" and since["in"] == "query"
    for schema in (pushed, since["schema"]):
        assert (schema["type"], schema["minimum"], schema["maximum"]) == (
            "integer",
            0,
            SAFE_INTEGER_MAX.value,
        )


def test_the_protocol_page_links_both_documents() -> None:
    page = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
    for document in sorted(CONTRACT_DIR.glob("*.json")):
        assert f"(../contract/{document.name})" in page, document.name
