"""Bad input, fuzzed: random and adversarial bodies to every user and admin method [E-3].

For each example: no 5xx, no hang (every call has a timeout), an envelope whose code is documented
in docs/protocol.md §1.2 and travels with its HTTP status, a code that belongs to the method's
kind, and — whenever the answer is an error — a state exactly as before. The state fingerprint is
a digest of every row of the server's SQLite file, read over a separate read-only connection: it
catches any partial write, including a stray event or a bumped counter.

Bodies come from four families: valid bodies with one to three mutations (dropped, unknown or
retyped fields, odd Unicode IDs, huge numbers, oversize batches), arbitrary JSON values, random
bytes, and hand-made texts JSON libraries will not produce (duplicate keys, deep nesting,
out-of-range number literals, lone surrogates, truncation, a BOM). CI runs a derandomized profile.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import reference_server

from .conftest import create_user
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


@dataclass(frozen=True)
class FuzzWorld:
    """A small populated server: users, a group, one C2C and one group message."""

    url: str
    db: Path
    admin_key: str
    alice: str
    alice_token: str
    bob: str
    group_id: str
    c2c_msg_id: str
    group_msg_id: str


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzWorld]:
    db = tmp_path_factory.mktemp("fuzz") / "seenby.sqlite3"
    server = reference_server.start(port=0, db=str(db))
    wire = Wire(server.url)
    try:
        alice, bob, carol = (
            create_user(wire, server.admin_key, n) for n in ("alice", "bob", "carol")
        )
        group_id = f"team-{uuid.uuid4().hex[:6]}"
        wire.must(
            "admin/createGroup",
            {"groupID": group_id, "groupType": "Work", "ownerID": alice.user_id,
             "memberIDs": [bob.user_id, carol.user_id]},
            server.admin_key,
        )  # fmt: skip
        text = {"elemType": "text", "text": "hi"}
        c2c = wire.must(
            "sendMessage", {"receiver": bob.user_id, "elem": text, "needReadReceipt": True},
            alice.token,
        )  # fmt: skip
        grp = wire.must(
            "sendMessage", {"groupID": group_id, "elem": text, "needReadReceipt": True},
            bob.token,
        )  # fmt: skip
        yield FuzzWorld(
            server.url, db, server.admin_key, alice.user_id, alice.token, bob.user_id, group_id,
            c2c["msgID"], grp["msgID"],
        )  # fmt: skip
    finally:
        wire.close()
        server.stop()


def fingerprint(db: Path) -> str:
    """A digest of every row of every table, read over a read-only connection."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        digest = hashlib.sha256()
        for line in connection.iterdump():
            digest.update(line.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()
    finally:
        connection.close()


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


ODD_CHARACTERS = [
    "\x00", "\x1f", "\x7f", "\u0085", "\u2028", "\u202e", "\u200f", "\u200b", "\ufeff",
    "\u0301", "\U0001f600", "\ud800", "\udfff", "\uffff", "\n", "\t", " ", "%", "/", "\\",
    '"', "'", "a", "Z", "9", "-", "_", "@", "#", "é",
]  # fmt: skip
odd_text = st.one_of(
    st.lists(st.sampled_from(ODD_CHARACTERS), max_size=70).map("".join),
    st.text(max_size=70),
    st.builds(
        lambda c, n: c * n,
        st.sampled_from(["a", "\U0001f600", "é", "\u202e"]),
        st.sampled_from([63, 64, 65, 1_024, 1_025, 12_001]),
    ),
)
edge_numbers = st.sampled_from(
    [0, 1, -1, 30, 31, 100, 101, 1_000, 1_001, MAX_SAFE - 1, MAX_SAFE, MAX_SAFE + 1, -MAX_SAFE,
     -MAX_SAFE - 1, 2**63, 2**64 + 1, 10**30, 0.5, -0.0, 1e300, 1.0]
)  # fmt: skip
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), edge_numbers,
    st.floats(allow_nan=False, allow_infinity=False), odd_text,
)  # fmt: skip
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=12,
)
id_lists = st.one_of(
    st.lists(odd_text, max_size=5),
    st.builds(lambda n: [f"x{i}" for i in range(n)], st.sampled_from([0, 30, 31, 1_000, 1_001])),
    st.builds(lambda v, n: [v] * n, odd_text, st.integers(1, 40)),
)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with one to three mutations."""
    body = dict(base)
    for _ in range(draw(st.integers(1, 3))):
        keys = sorted(body)
        kind = draw(st.sampled_from(["drop", "add", "retype", "odd id", "id list", "number"]))
        if kind == "add" or not keys:
            body[draw(odd_text | st.sampled_from(["userID", "sender", "needReadReciept"]))] = draw(
                json_value
            )
            continue
        key = draw(st.sampled_from(keys))
        if kind == "drop":
            del body[key]
        elif kind == "retype":
            body[key] = draw(json_value)
        elif kind == "odd id":
            body[key] = draw(odd_text)
        elif kind == "id list":
            body[key] = draw(id_lists)
        else:
            body[key] = draw(edge_numbers)
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


def deepest(value: Any) -> int:
    """Nesting depth: 1 for a flat object or array."""
    if isinstance(value, dict):
        return 1 + max((deepest(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((deepest(v) for v in value), default=0)
    return 0


def out_of_range(value: Any) -> bool:
    """Whether a number anywhere in ``value`` lies outside ±2^53."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return abs(value) > MAX_SAFE
    if isinstance(value, dict):
        return any(out_of_range(v) for v in value.values())
    if isinstance(value, list):
        return any(out_of_range(v) for v in value)
    return False


@st.composite
def request_body(draw: st.DrawFn, method: str, world: FuzzWorld) -> tuple[bytes, bool]:
    """A body, and whether the protocol says it is malformed (so 90006 is the only answer)."""
    base = valid_body(method, world)
    # Mostly mutated valid bodies: they get past parsing and reach the method's own checks.
    family = draw(st.sampled_from(["mutated"] * 5 + ["json", "bytes", "crafted"]))
    if family == "bytes":
        raw = draw(st.binary(min_size=1, max_size=300))
        try:
            json.loads(raw)
        except ValueError:
            return raw, True
        return raw, False
    if family == "crafted":
        return draw(crafted(base)), True
    value = draw(mutated(base)) if family == "mutated" else draw(json_value)
    raw = encode(value, escape=draw(st.booleans()))
    malformed = not isinstance(value, dict) or out_of_range(value) or deepest(value) > MAX_DEPTH + 1
    return raw, malformed


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
