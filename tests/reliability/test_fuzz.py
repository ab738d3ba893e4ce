"""Bad bytes, fuzzed by hand: the bodies no request schema can describe [E-3].

Schema-shaped bad input (missing, unknown and retyped fields, out-of-range values, oversize IDs
and batches, arbitrary Unicode) is generated from ``contract/openapi.json`` by Schemathesis in
``test_contract_fuzz.py``. What stays here is what a JSON Schema cannot express and a JSON
library will not write: random bytes (invalid UTF-8), texts with duplicate keys, nesting past 32,
number literals outside +/-2^53 or beyond floats, truncated or doubled JSON, and valid bodies
carrying lone surrogates, as JSON escapes or as raw (invalid UTF-8) bytes.

For each example: no 5xx, no hang (every call has a timeout), an envelope whose code is documented
in docs/protocol.md §1.2 and travels with its HTTP status, a code that belongs to the method's
kind, 90006 for every body the protocol calls malformed, and — whenever the answer is an error —
a state exactly as before (``fuzz_world.fingerprint``). CI runs a derandomized profile.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from .fuzz_world import FuzzWorld, fingerprint, populated_server
from .sizes import FUZZ_EXAMPLES
from .wire import Wire

USER_METHODS = (
    "sendMessage",
    "getHistoryMessageList",
    "getConversationList",
    "sendMessageReadReceipts",
    "getMessageReadReceipts",
    "getGroupMessageReadMemberList",
    "markC2CMessageAsRead",
)
ADMIN_METHODS = (
    "admin/getSettings",
    "admin/setSettings",
    "admin/createUser",
    "admin/createGroup",
    "admin/addGroupMembers",
    "admin/removeGroupMembers",
)
USER_CODES = {0, 6017, 7013, 10010, 10062, 90005, 90006, 90101, 90102}
"""What a user method may answer when the credential is right (§1.2, §4)."""
ADMIN_CODES = {0, 10004, 10010, 10015, 10021, 90005, 90006, 90007, 90103}
"""What an admin method may answer when the key is right (§1.2, §3)."""
MAX_SAFE = 2**53
MAX_DEPTH = 32

FUZZ_SETTINGS = settings(
    derandomize=True,
    database=None,
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzWorld]:
    with populated_server(tmp_path_factory.mktemp("fuzz")) as world:
        yield world


def valid_body(method: str, world: FuzzWorld) -> dict[str, Any]:
    """A body ``method`` accepts; mutations start from here so they reach deep validation."""
    text = {"elemType": "text", "text": "hi"}
    bodies: dict[str, dict[str, Any]] = {
        "sendMessage": {"groupID": world.group_id, "elem": text, "needReadReceipt": True},
        "getHistoryMessageList": {"userID": world.bob, "count": 20, "lastMsgID": world.c2c_msg_id},
        "getConversationList": {},
        "sendMessageReadReceipts": {"msgIDs": [world.group_msg_id]},
        "getMessageReadReceipts": {"msgIDs": [world.c2c_msg_id]},
        "getGroupMessageReadMemberList": {"msgID": world.group_msg_id, "filter": 1,
                                          "nextSeq": 0, "count": 10},
        "markC2CMessageAsRead": {"userID": world.bob},
        "admin/getSettings": {},
        "admin/setSettings": {"receiptBatchMax": 30, "edition": "ultimate"},
        "admin/createUser": {"userID": "fuzz-user", "nickName": "n", "faceURL": ""},
        "admin/createGroup": {"groupType": "Work", "ownerID": world.alice,
                              "memberIDs": [world.bob]},
        "admin/addGroupMembers": {"groupID": world.group_id, "userIDs": [world.bob]},
        "admin/removeGroupMembers": {"groupID": world.group_id, "userIDs": ["nobody"]},
    }  # fmt: skip
    return bodies[method]


LONE_SURROGATES = ["\ud800", "\udfff", "\udbff", "\udc00"]
surrogate_text = (
    st.lists(st.sampled_from([*LONE_SURROGATES, "a", "é", "\U0001f600"]), min_size=1, max_size=8)
    .filter(lambda chars: any(c in LONE_SURROGATES for c in chars))
    .map("".join)
)


@st.composite
def with_surrogates(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with one string value (in an empty body, a new field) holding lone surrogates."""
    body = dict(base)
    strings = sorted(key for key, value in body.items() if isinstance(value, str))
    arrays = sorted(key for key, value in body.items() if isinstance(value, list))
    key = draw(st.sampled_from(strings + arrays)) if strings or arrays else draw(surrogate_text)
    value = draw(surrogate_text)
    body[key] = [value] if key in arrays else value
    return body


def encode(value: Any, *, escape: bool) -> bytes:
    """JSON text; with ``escape`` lone surrogates travel as \\uD800 escapes, else as raw
    (invalid UTF-8) bytes."""
    if escape:
        return json.dumps(value, ensure_ascii=True).encode()
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def crafted(draw: st.DrawFn, base: dict[str, Any]) -> bytes:
    """Texts a JSON library will not write: each must be refused as malformed (90006)."""
    text = json.dumps(base)
    first_key = next(iter(base), "k")
    depth = draw(st.sampled_from([MAX_DEPTH + 2, 100, 5_000]))
    number = draw(st.sampled_from(["1e400", "-1e400", "NaN", "Infinity", str(MAX_SAFE + 1),
                                   str(-MAX_SAFE - 1), "9" * 400]))  # fmt: skip
    options = [
        "{" + f'"{first_key}": 1, ' + text[1:] if base else '{"k": 1, "k": 2}',
        '{"a":' * depth + "1" + "}" * depth,
        "[" * depth + "]" * depth,
        text[:-1] + f', "n": {number}' + "}" if base else '{"n": ' + number + "}",
        text[: draw(st.integers(0, max(0, len(text) - 1)))],
        text + text,
        "[]", '"text"', "1", "null",
    ]  # fmt: skip
    raw = draw(st.sampled_from(options)).encode()
    return raw if raw else b" "


@st.composite
def request_body(draw: st.DrawFn, method: str, world: FuzzWorld) -> tuple[bytes, bool]:
    """A body, and whether the protocol says it is malformed (so 90006 is the only answer)."""
    base = valid_body(method, world)
    family = draw(st.sampled_from(["bytes", "crafted", "surrogates"]))
    if family == "bytes":
        raw = draw(st.binary(min_size=1, max_size=300))
        try:
            json.loads(raw)
        except ValueError:
            return raw, True
        return raw, False
    if family == "crafted":
        return draw(crafted(base)), True
    # Escaped, a lone surrogate is valid JSON the server must refuse or store safely; raw, it
    # is invalid UTF-8, so malformed.
    escape = draw(st.booleans())
    return encode(draw(with_surrogates(base)), escape=escape), not escape


def check_answer(world: FuzzWorld, wire: Wire, method: str, raw: bytes, malformed: bool) -> None:
    """Send ``raw``; the answer must be in the contract and an error must change nothing."""
    credential = world.admin_key if method.startswith("admin/") else world.alice_token
    before = fingerprint(world.db)
    reply = wire.post_bytes(method, raw, credential, {"Content-Type": "application/json"})
    event(f"code {reply.code}")
    allowed = ADMIN_CODES if method.startswith("admin/") else USER_CODES
    assert reply.code in allowed, f"{method} {raw[:200]!r} -> {reply.code} {reply.desc}"
    if malformed:
        assert reply.code == 90006, f"{method} {raw[:200]!r} -> {reply.code}, expected 90006"
    if reply.code != 0:
        assert fingerprint(world.db) == before, f"{method} {raw[:200]!r}: error changed state"


@pytest.mark.parametrize("method", USER_METHODS + ADMIN_METHODS)
@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzzed_bodies_get_a_documented_error_and_change_nothing(
    fuzz_world: FuzzWorld, method: str, data: st.DataObject
) -> None:
    raw, malformed = data.draw(request_body(method, fuzz_world), label="body")
    wire = Wire(fuzz_world.url)
    try:
        check_answer(fuzz_world, wire, method, raw, malformed)
    finally:
        wire.close()


def test_the_server_still_answers_correctly_after_the_fuzzing(fuzz_world: FuzzWorld) -> None:
    wire = Wire(fuzz_world.url)
    try:
        receipts = wire.must(
            "getMessageReadReceipts", {"msgIDs": [fuzz_world.c2c_msg_id]}, fuzz_world.alice_token
        )
    finally:
        wire.close()
    assert [r["msgID"] for r in receipts] == [fuzz_world.c2c_msg_id]
