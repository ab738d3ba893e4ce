"""Authorization matrix: every method by every kind of caller, against spec X and protocol §1-§4.

Each row reads like the spec: *method* on *subject* by *caller* answers *code*. Callers:

- sender: alice, author of both messages and owner of the group;
- recipient: bob, the C2C receiver and a group member;
- other member: carol, a group member (so a recipient of the group message), outside the C2C;
- late member: dave, who joined the group after the messages were sent;
- former member: frank, a member when they were sent, removed since [R-7];
- non-member: eve, related to nothing;
- impersonator: eve again, naming alice in the body (no field names the acting user) [X-1];
- no token, a bad token, and the admin key on a user method.

Where the protocol says a refusal must look exactly like the answer for something that does not
exist [X-2], the row also asks about an unknown message or group and compares both answers.
Every refused row must leave the state untouched.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from seenby import reference_server

from .conftest import create_user
from .wire import CALL_TIMEOUT_S, Reply, Wire, parse_reply, ws_url
from .workload import User

SENDER, RECIPIENT, OTHER_MEMBER, LATE_MEMBER, FORMER_MEMBER, NON_MEMBER = (
    "sender",
    "recipient",
    "other member",
    "late member",
    "former member",
    "non-member",
)
IMPERSONATOR, NO_TOKEN, BAD_TOKEN, ADMIN_KEY = "impersonator", "no token", "bad token", "admin key"
EVERY_CALLER = (
    SENDER, RECIPIENT, OTHER_MEMBER, LATE_MEMBER, FORMER_MEMBER, NON_MEMBER, IMPERSONATOR,
    NO_TOKEN, BAD_TOKEN, ADMIN_KEY,
)  # fmt: skip
UNKNOWN_MSG_ID = "no-such-message"
UNKNOWN_GROUP_ID = "no-such-group"


@dataclass(frozen=True)
class AuthorizationScene:
    """Who is who, and the two messages every row is about."""

    users: dict[str, User]
    group_id: str
    c2c_msg_id: str
    group_msg_id: str
    admin_key: str


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    db = tmp_path_factory.mktemp("authorization") / "seenby.sqlite3"
    running = reference_server.start(port=0, db=str(db))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def world(module_server: Any) -> Iterator[tuple[AuthorizationScene, Wire]]:
    """A fresh cast (unique IDs) on the shared server: no row sees another row's effects."""
    wire = Wire(module_server.url)
    key = module_server.admin_key
    names = ("alice", "bob", "carol", "dave", "frank", "eve")
    cast = {name: create_user(wire, key, name) for name in names}
    group_id = f"team-{uuid.uuid4().hex[:8]}"
    wire.must(
        "admin/createGroup",
        {
            "groupID": group_id,
            "groupType": "Work",
            "ownerID": cast["alice"].user_id,
            "memberIDs": [cast[n].user_id for n in ("bob", "carol", "frank")],
        },
        key,
    )
    text = {"elemType": "text", "text": "lunch?"}
    c2c = wire.must(
        "sendMessage",
        {"receiver": cast["bob"].user_id, "elem": text, "needReadReceipt": True},
        cast["alice"].token,
    )
    grp = wire.must(
        "sendMessage",
        {"groupID": group_id, "elem": text, "needReadReceipt": True},
        cast["alice"].token,
    )
    wire.must(
        "admin/addGroupMembers", {"groupID": group_id, "userIDs": [cast["dave"].user_id]}, key
    )
    wire.must(
        "admin/removeGroupMembers", {"groupID": group_id, "userIDs": [cast["frank"].user_id]}, key
    )
    roles = {
        SENDER: cast["alice"],
        RECIPIENT: cast["bob"],
        OTHER_MEMBER: cast["carol"],
        LATE_MEMBER: cast["dave"],
        FORMER_MEMBER: cast["frank"],
        NON_MEMBER: cast["eve"],
        IMPERSONATOR: cast["eve"],
    }
    try:
        yield AuthorizationScene(roles, group_id, c2c["msgID"], grp["msgID"], key), wire
    finally:
        wire.close()


def credential(world: AuthorizationScene, caller: str) -> str | None:
    """The Authorization credential ``caller`` presents."""
    if caller == NO_TOKEN:
        return None
    if caller == BAD_TOKEN:
        return "not-a-token-" + uuid.uuid4().hex
    if caller == ADMIN_KEY:
        return world.admin_key
    return world.users[caller].token


# ---- user methods ------------------------------------------------------------------------------

SUBJECTS = ("c2c message", "group message", "group", "c2c peer: sender", "c2c peer: recipient")


def user_body(
    method: str, subject: str, world: AuthorizationScene, *, unknown: bool = False
) -> dict[str, Any]:
    """The body asking ``method`` about ``subject`` (or about an unknown one of its kind)."""
    msg_id = {
        "c2c message": world.c2c_msg_id,
        "group message": world.group_msg_id,
    }.get(subject, "")
    msg_id = UNKNOWN_MSG_ID if unknown else msg_id
    group_id = UNKNOWN_GROUP_ID if unknown else world.group_id
    peer = world.users[SENDER if subject == "c2c peer: sender" else RECIPIENT].user_id
    text = {"elemType": "text", "text": "hi"}
    bodies: dict[str, dict[str, Any]] = {
        "sendMessage": {"groupID": group_id, "elem": text}
        if subject == "group"
        else {"receiver": peer, "elem": text},
        "getHistoryMessageList": {"groupID": group_id, "count": 20}
        if subject == "group"
        else {"userID": peer, "count": 20},
        "getConversationList": {},
        "sendMessageReadReceipts": {"msgIDs": [msg_id]},
        "getMessageReadReceipts": {"msgIDs": [msg_id]},
        "getGroupMessageReadMemberList": {"msgID": msg_id, "filter": 0, "nextSeq": 0, "count": 10},
        "markC2CMessageAsRead": {"userID": peer},
    }
    return bodies[method]


@dataclass(frozen=True)
class Row:
    """``method`` about ``subject`` by ``caller`` answers ``code``; ``spec`` says why."""

    method: str
    subject: str
    caller: str
    code: int
    spec: str
    same_as_unknown: bool = False
    read_count_delta: int = 0

    @property
    def id(self) -> str:
        return f"{self.method}|{self.subject}|{self.caller}|{self.code}"


def _credential_rows(method: str, subject: str) -> list[Row]:
    return [
        Row(method, subject, NO_TOKEN, 90001, "X-1: every user call needs a credential"),
        Row(method, subject, BAD_TOKEN, 90001, "X-1: a token the server does not know"),
        Row(method, subject, ADMIN_KEY, 90002, "X-1: the admin key opens no user method"),
    ]


USER_ROWS: list[Row] = [
    # sendMessage to the group: members only; a former member is a non-member.
    *(Row("sendMessage", "group", c, 0, "S-1: any current member may send")
      for c in (SENDER, RECIPIENT, OTHER_MEMBER, LATE_MEMBER)),
    Row("sendMessage", "group", FORMER_MEMBER, 10010, "X-2: a left member is a non-member", True),
    Row("sendMessage", "group", NON_MEMBER, 10010, "X-2: non-member == unknown group", True),
    Row("sendMessage", "c2c peer: recipient", SENDER, 0, "S-1: C2C to any other user"),
    Row("sendMessage", "c2c peer: recipient", NON_MEMBER, 0, "S-1: C2C to any other user"),
    Row("sendMessage", "c2c peer: recipient", RECIPIENT, 6017, "§4: not to oneself"),
    Row("sendMessage", "c2c peer: recipient", IMPERSONATOR, 6017, "X-1: no body field names the "
        "acting user (unknown field)"),
    *_credential_rows("sendMessage", "group"),
    # getHistoryMessageList
    *(Row("getHistoryMessageList", "group", c, 0, "members read the group's history")
      for c in (SENDER, RECIPIENT, OTHER_MEMBER, LATE_MEMBER)),
    Row("getHistoryMessageList", "group", FORMER_MEMBER, 10010, "R-7/X-2: left == not member",
        True),
    Row("getHistoryMessageList", "group", NON_MEMBER, 10010, "X-2: non-member == unknown group",
        True),
    Row("getHistoryMessageList", "c2c peer: recipient", SENDER, 0, "a party reads its C2C"),
    Row("getHistoryMessageList", "c2c peer: recipient", IMPERSONATOR, 6017,
        "X-1: no body field names the acting user (unknown field)"),
    *_credential_rows("getHistoryMessageList", "group"),
    # getConversationList
    *(Row("getConversationList", "group", c, 0, "everyone lists its own conversations")
      for c in (SENDER, RECIPIENT, NON_MEMBER)),
    Row("getConversationList", "group", IMPERSONATOR, 6017, "X-1: unknown field naming a user"),
    *_credential_rows("getConversationList", "group"),
    # sendMessageReadReceipts on the group message
    Row("sendMessageReadReceipts", "group message", SENDER, 0, "R-4: own message skipped"),
    Row("sendMessageReadReceipts", "group message", RECIPIENT, 0, "R-1: a recipient reads",
        read_count_delta=1),
    Row("sendMessageReadReceipts", "group message", OTHER_MEMBER, 0, "R-1: a recipient reads",
        read_count_delta=1),
    Row("sendMessageReadReceipts", "group message", LATE_MEMBER, 0,
        "R-4: not a recipient (joined later): skipped"),
    Row("sendMessageReadReceipts", "group message", FORMER_MEMBER, 6017,
        "R-7/X-2: a left member may not see it", True),
    Row("sendMessageReadReceipts", "group message", NON_MEMBER, 6017,
        "X-2: invisible == unknown message", True),
    Row("sendMessageReadReceipts", "group message", IMPERSONATOR, 6017,
        "X-1: no body field names the acting user"),
    *_credential_rows("sendMessageReadReceipts", "group message"),
    # sendMessageReadReceipts on the C2C message
    Row("sendMessageReadReceipts", "c2c message", SENDER, 0, "R-4: own message skipped"),
    Row("sendMessageReadReceipts", "c2c message", RECIPIENT, 0, "R-1: the receiver reads",
        read_count_delta=1),
    *(Row("sendMessageReadReceipts", "c2c message", c, 6017, "X-2: invisible == unknown", True)
      for c in (OTHER_MEMBER, LATE_MEMBER, FORMER_MEMBER, NON_MEMBER)),
    *_credential_rows("sendMessageReadReceipts", "c2c message"),
    # getMessageReadReceipts: the sender only
    *(Row("getMessageReadReceipts", s, SENDER, 0, "Q-1: the sender pulls")
      for s in ("group message", "c2c message")),
    *(Row("getMessageReadReceipts", s, c, 6017, "Q-3/X-2: not the sender == unknown", True)
      for s in ("group message", "c2c message")
      for c in (RECIPIENT, OTHER_MEMBER, LATE_MEMBER, FORMER_MEMBER, NON_MEMBER)),
    Row("getMessageReadReceipts", "group message", IMPERSONATOR, 6017,
        "X-1: no body field names the acting user"),
    *_credential_rows("getMessageReadReceipts", "group message"),
    # getGroupMessageReadMemberList: the sender of a group message only [L-2]
    Row("getGroupMessageReadMemberList", "group message", SENDER, 0, "L-1: the sender pages"),
    Row("getGroupMessageReadMemberList", "c2c message", SENDER, 6017, "L-2: not a group message"),
    *(Row("getGroupMessageReadMemberList", "group message", c, 6017,
          "L-2/X-2: not the sender == unknown", True)
      for c in (RECIPIENT, OTHER_MEMBER, LATE_MEMBER, FORMER_MEMBER, NON_MEMBER)),
    Row("getGroupMessageReadMemberList", "group message", IMPERSONATOR, 6017,
        "X-1: no body field names the acting user"),
    *_credential_rows("getGroupMessageReadMemberList", "group message"),
    # markC2CMessageAsRead
    Row("markC2CMessageAsRead", "c2c peer: sender", RECIPIENT, 0, "C-1: the receiver marks"),
    Row("markC2CMessageAsRead", "c2c peer: sender", NON_MEMBER, 0,
        "C-1: any user may mark its (empty) conversation with another"),
    Row("markC2CMessageAsRead", "c2c peer: sender", SENDER, 6017, "§4: not with oneself"),
    Row("markC2CMessageAsRead", "c2c peer: sender", IMPERSONATOR, 6017,
        "X-1: no body field names the acting user"),
    *_credential_rows("markC2CMessageAsRead", "c2c peer: sender"),
]  # fmt: skip


def _normalised(reply: Reply, world: AuthorizationScene) -> tuple[int, int, str]:
    desc = reply.desc
    for secret in (
        world.c2c_msg_id,
        world.group_msg_id,
        world.group_id,
        UNKNOWN_MSG_ID,
        UNKNOWN_GROUP_ID,
    ):
        desc = desc.replace(secret, "<id>")
    return reply.status, reply.code, re.sub(r"\s+", " ", desc)


def _observable_state(world: AuthorizationScene, wire: Wire) -> dict[str, Any]:
    """Counts, histories and conversation lists: what a refused call must not change."""
    sender = world.users[SENDER].token
    state: dict[str, Any] = {
        "receipts": wire.must("getMessageReadReceipts", {"msgIDs": [world.group_msg_id]}, sender)
        + wire.must("getMessageReadReceipts", {"msgIDs": [world.c2c_msg_id]}, sender),
        "group history": wire.must(
            "getHistoryMessageList", {"groupID": world.group_id, "count": 100}, sender
        ),
    }
    for role in (SENDER, RECIPIENT, OTHER_MEMBER, NON_MEMBER):
        state[role] = wire.must("getConversationList", {}, world.users[role].token)
    return state


@pytest.mark.parametrize("row", USER_ROWS, ids=lambda row: row.id)
def test_user_method_answers_each_caller_as_the_spec_says(
    row: Row, world: tuple[AuthorizationScene, Wire]
) -> None:
    cast, wire = world
    body = user_body(row.method, row.subject, cast)
    if row.caller == IMPERSONATOR:
        body = {**body, "sender": cast.users[SENDER].user_id}
    before = _observable_state(cast, wire)
    reply = wire.call(row.method, body, credential(cast, row.caller))
    assert reply.code == row.code, f"{row.spec}: got {reply.code} ({reply.desc})"
    if row.code != 0:
        assert _observable_state(cast, wire) == before, "a refused call changed the state"
    if row.same_as_unknown:
        unknown = wire.call(
            row.method,
            user_body(row.method, row.subject, cast, unknown=True),
            credential(cast, row.caller),
        )
        assert _normalised(reply, cast) == _normalised(unknown, cast), (
            "X-2: the refusal differs from the answer for an unknown one"
        )
    if row.method == "sendMessageReadReceipts" and row.code == 0:
        msg_id = body["msgIDs"][0]
        (receipt,) = wire.must(
            "getMessageReadReceipts", {"msgIDs": [msg_id]}, cast.users[SENDER].token
        )
        read = receipt.get("readCount", int(receipt.get("isPeerRead", False)))
        assert read == row.read_count_delta, f"{row.spec}: read count is {read}"


def test_a_non_member_learns_nothing_from_history_or_conversation_lists(
    world: tuple[AuthorizationScene, Wire],
) -> None:
    # eve's view of her own C2C with bob holds none of alice's messages; her list no group.
    cast, wire = world
    eve = cast.users[NON_MEMBER]
    history = wire.must(
        "getHistoryMessageList",
        {"userID": cast.users[RECIPIENT].user_id, "count": 100},
        eve.token,
    )
    listed = wire.must("getConversationList", {}, eve.token)
    assert history == []
    assert all(entry["conversationID"] != f"group_{cast.group_id}" for entry in listed)


# ---- admin methods -----------------------------------------------------------------------------

ADMIN_METHODS = (
    "admin/getSettings",
    "admin/setSettings",
    "admin/createUser",
    "admin/createGroup",
    "admin/addGroupMembers",
    "admin/removeGroupMembers",
)


def admin_body(method: str, world: AuthorizationScene) -> dict[str, Any]:
    """A valid body for ``method`` that the admin key may send."""
    fresh = f"new-{uuid.uuid4().hex[:8]}"
    alice, eve = world.users[SENDER].user_id, world.users[NON_MEMBER].user_id
    bodies: dict[str, dict[str, Any]] = {
        "admin/getSettings": {},
        "admin/setSettings": {"receiptBatchMax": 30},
        "admin/createUser": {"userID": fresh},
        "admin/createGroup": {
            "groupID": fresh,
            "groupType": "Work",
            "ownerID": alice,
            "memberIDs": [eve],
        },
        "admin/addGroupMembers": {"groupID": world.group_id, "userIDs": [eve]},
        "admin/removeGroupMembers": {"groupID": world.group_id, "userIDs": [eve]},
    }
    return bodies[method]


ADMIN_CALLERS = {
    ADMIN_KEY: (0, "X-1: the admin key opens settings, users and groups"),
    RECIPIENT: (90002, "X-1: a user token opens no admin method"),
    NO_TOKEN: (90001, "X-1: every admin call needs the key"),
    BAD_TOKEN: (90001, "X-1: a key the server does not know"),
}


@pytest.mark.parametrize("caller", list(ADMIN_CALLERS))
@pytest.mark.parametrize("method", ADMIN_METHODS)
def test_admin_method_answers_each_caller_as_the_spec_says(
    method: str, caller: str, world: tuple[AuthorizationScene, Wire]
) -> None:
    cast, wire = world
    code, spec = ADMIN_CALLERS[caller]
    before = wire.must("admin/getSettings", {}, cast.admin_key)
    members_before = _observable_state(cast, wire)
    reply = wire.call(method, admin_body(method, cast), credential(cast, caller))
    assert reply.code == code, f"{spec}: got {reply.code} ({reply.desc})"
    if code != 0:
        assert wire.must("admin/getSettings", {}, cast.admin_key) == before
        assert _observable_state(cast, wire) == members_before


@pytest.mark.parametrize(
    ("caller", "status", "code"),
    [(RECIPIENT, 101, 0), (ADMIN_KEY, 403, 90002), (NO_TOKEN, 401, 90001), (BAD_TOKEN, 401, 90001)],
)
def test_push_channel_upgrade_answers_each_caller_as_the_spec_says(
    caller: str, status: int, code: int, world: tuple[AuthorizationScene, Wire]
) -> None:
    # §6: user tokens only; a failed upgrade answers with the ordinary envelope.
    cast, _ = world
    headers = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    token = credential(cast, caller)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    url = ws_url(world[1].base_url).replace("ws://", "http://", 1)
    with requests.get(url, headers=headers, timeout=CALL_TIMEOUT_S, stream=True) as answer:
        assert answer.status_code == status
        if status != 101:
            reply = parse_reply("GET /v1/events", answer.status_code, answer.content, url)
            assert reply.code == code


@pytest.mark.parametrize("caller", [NO_TOKEN, RECIPIENT, ADMIN_KEY])
def test_capabilities_need_no_credential(
    caller: str, world: tuple[AuthorizationScene, Wire]
) -> None:
    cast, wire = world
    token = credential(cast, caller)
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    answer = requests.get(
        f"{wire.base_url}/v1/capabilities", headers=headers, timeout=CALL_TIMEOUT_S
    )
    reply = parse_reply("capabilities", answer.status_code, answer.content, wire.base_url)
    assert reply.code == 0
    assert reply.data["protocol"] == "seenby/1"
