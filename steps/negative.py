"""Steps for generated bad request bodies [E-3]: every field of a method broken in every way
its request schema forbids, each sent once, each refused, none changing anything.

The bodies come from ``harness.wire.negative`` (one change away from a valid body of the scenario,
kept only when the contract's schema rejects them). A body a target must refuse (core) that it
accepts, answers with a 5xx, or leaves unanswered fails the scenario, listed with the request
that did it; one that only the reference refuses (a strict limit) is a deviation. The exact
code (6017 for a user method, 10004 for an admin one, 10015 for a new group's ID; 90006 for a
body that is not an object) and HTTP status are strict.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from seenby.harness import (
    Code,
    Level,
    NoAnswer,
    ProtocolViolation,
    WireResponse,
    is_refusal_status,
    strict_check,
)
from seenby.harness.wire.negative import BrokenRequest, broken_requests
from seenby.steps.outcomes import JSON
from seenby.steps.phrases import then, when
from seenby.steps.security import admin_key, bearer
from seenby.steps.world import World

INVALID_PARAMETERS = Code.INVALID_PARAMETERS
ADMIN_INVALID_PARAMETER = Code.ADMIN_INVALID_PARAMETER
INVALID_GROUP_ID = Code.INVALID_GROUP_ID
MALFORMED_REQUEST = Code.MALFORMED_BODY

BODY_OUTSIDE_LIMITS_REFUSED = strict_check(
    "body-outside-limits-refused", "§1.3", "a body outside the protocol's limits is refused"
)
REFUSED_BODY_CODE = strict_check("refused-body-code", "§1.2", "the code of a refused body")


def _group_message(world: World) -> str:
    return world.message("the message").msg_id


def _group_id(world: World) -> str:
    return world.group_chat().group_id()


VALID_BODIES: dict[str, Callable[[World], dict[str, Any]]] = {
    "sendMessage": lambda world: {
        "groupID": _group_id(world),
        "elem": {"elemType": "text", "text": "hello"},
        "needReadReceipt": True,
        "onlineUserOnly": False,
    },
    "getHistoryMessageList": lambda world: {
        "groupID": _group_id(world),
        "count": 1,
        "lastMsgID": _group_message(world),
    },
    "getConversationList": lambda world: {},
    "sendMessageReadReceipts": lambda world: {"msgIDs": [_group_message(world)]},
    "getMessageReadReceipts": lambda world: {"msgIDs": [_group_message(world)]},
    "getGroupMessageReadMemberList": lambda world: {
        "msgID": _group_message(world),
        "filter": 1,
        "nextSeq": 0,
        "count": 1,
    },
    "markC2CMessageAsRead": lambda world: {"userID": world.message("the message").sender},
}
"""A valid body of each user method about the scenario's group and its message; the broken
bodies are one change away from it."""

ADMIN_BODIES: dict[str, Callable[[World], dict[str, Any]]] = {
    "admin/getSettings": lambda world: {},
    "admin/setSettings": lambda world: {
        "edition": "ultimate",
        "groupReceiptTypes": ["Work", "Public", "Meeting"],
        "groupReceiptMaxMembers": 200,
        "receiptBatchMax": 30,
    },
    "admin/createUser": lambda world: {
        "userID": world.unknown_user_id(),
        "nickName": "Nobody",
        "faceURL": "https://example.com/nobody.png",
    },
    "admin/createGroup": lambda world: {
        "groupID": world.unknown_group_id(),
        "groupType": "Work",
        "ownerID": world.user("Alice").user_id,
        "memberIDs": [world.user("Bob").user_id],
    },
    "admin/addGroupMembers": lambda world: {
        "groupID": _group_id(world),
        "userIDs": [world.user("Carol").user_id],
    },
    "admin/removeGroupMembers": lambda world: {
        "groupID": _group_id(world),
        "userIDs": [world.user("Carol").user_id],
    },
}
"""A valid body of each admin method about the scenario's group and users."""


def _expected_code(broken: BrokenRequest) -> int:
    """The code the reference refuses ``broken`` with (docs/protocol.md §1.2)."""
    if broken.malformed:
        return MALFORMED_REQUEST
    if not broken.method.startswith("admin/"):
        return INVALID_PARAMETERS
    if (
        broken.method == "admin/createGroup"
        and broken.field == "groupID"
        and (isinstance(broken.body, dict) and isinstance(broken.body.get("groupID"), str))
    ):
        return INVALID_GROUP_ID
    return ADMIN_INVALID_PARAMETER


@dataclass
class BrokenBodies:
    """What the broken bodies of the scenario did: how many were sent, which failed and why."""

    sent: int = 0
    failures: list[str] = field(default_factory=list)


@pytest.fixture
def broken_bodies() -> BrokenBodies:
    """The scenario's record of its broken bodies."""
    return BrokenBodies()


def _answer(world: World, name: str | None, broken: BrokenRequest) -> WireResponse | str:
    """The checked answer to ``name``'s request (the administrator's for ``None``), or why
    there was none a client could use (a 5xx, no answer, an answer the protocol forbids)."""
    payload = json.dumps(broken.body).encode("utf-8")
    path = f"/v1/{broken.method}"
    try:
        if name is None:
            return world.target.post_raw(path, payload, {**JSON, **bearer(admin_key(world))})
        return world.user(name).post_raw(path, payload, JSON)
    except NoAnswer as error:
        return f"no answer: {error}"
    except ProtocolViolation as error:  # a ServerFault (5xx) among them
        return f"a forbidden answer: {error}"


def _judge(world: World, broken: BrokenRequest, answer: WireResponse | str) -> str | None:
    """Why the answer fails the scenario, or ``None``; strict differences become deviations."""
    if isinstance(answer, str):
        return answer
    if answer.code == 0 or not is_refusal_status(answer.http_status) or not answer.desc.strip():
        seen = f"code {answer.code}, HTTP {answer.http_status}, desc {answer.desc!r}"
        if broken.level is Level.CORE:
            return f"not refused with a 4xx and a description: {seen}"
        world.deviate(
            BODY_OUTSIDE_LIMITS_REFUSED, f"code {_expected_code(broken)}", seen,
            f"{broken.method} response",
        )  # fmt: skip
        return None
    expected = _expected_code(broken)
    if answer.code != expected:
        world.deviate(
            REFUSED_BODY_CODE, f"code {expected}", f"code {answer.code}",
            f"{broken.method} response",
        )  # fmt: skip
    return None


def _send_each(
    world: World, broken_bodies: BrokenBodies, name: str | None, method: str, valid: dict[str, Any]
) -> None:
    for broken in broken_requests(method, valid):
        broken_bodies.sent += 1
        problem = _judge(world, broken, _answer(world, name, broken))
        if problem is not None:
            broken_bodies.failures.append(f"{broken}\n    → {problem}")


@when("{name:name} sends {method:text} with each field broken in every way the contract forbids")
def send_broken_bodies(world: World, broken_bodies: BrokenBodies, name: str, method: str) -> None:
    assert method in VALID_BODIES, f"no valid body of {method} to break"
    _send_each(world, broken_bodies, name, method, VALID_BODIES[method](world))


@when(
    "the administrator sends {method:text} with each field broken in every way the contract forbids"
)
def send_broken_admin_bodies(world: World, broken_bodies: BrokenBodies, method: str) -> None:
    assert method in ADMIN_BODIES, f"no valid body of {method} to break"
    _send_each(world, broken_bodies, None, method, ADMIN_BODIES[method](world))


@then("every broken body was refused with a 4xx, none with a 5xx or no answer")
def every_broken_body_refused(broken_bodies: BrokenBodies) -> None:
    failures = broken_bodies.failures
    assert broken_bodies.sent > 0, "the contract gave no broken body for this method"
    assert not failures, (
        f"{len(failures)} of {broken_bodies.sent} broken bodies were not refused as they must "
        "be (each request is in the transcript):\n" + "\n".join(failures)
    )
