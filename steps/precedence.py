"""Steps for calls with two errors at once [E-2, E-3, X-1, X-2]: which one a target reports.

Where the spec decides (an outsider's request fails as for something unknown [X-2]), the code is
core. Elsewhere the spec is silent: any refusal that changes nothing passes the core level, and
the reference's precedence (docs/protocol.md §1.2: transport, route, credential, JSON, body,
edition, visibility, group settings, receipt existence) is checked at the strict level.

Each request is named for its two errors; it is built so that each error alone would refuse it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from seenby.harness import WireResponse, strict_check
from seenby.steps.outcomes import BODY_LIMIT, JSON, assert_refused
from seenby.steps.phrases import then, when
from seenby.steps.security import admin_key, bearer
from seenby.steps.world import World

FIRST_ERROR_REPORTED = strict_check(
    "first-error-reported", "§1.2", "the error reported when two apply"
)

TwoErrors = Callable[[World], WireResponse]


def _the_message(world: World) -> str:
    return world.message("the message").msg_id


def _post(world: World, method: str, body: bytes, credential: str | None) -> WireResponse:
    headers = {**JSON, **(bearer(credential) if credential is not None else {})}
    return world.target.post_raw(f"/v1/{method}", body, headers)


def _as(world: World, name: str, method: str, body: object) -> WireResponse:
    return world.user(name).post_raw(f"/v1/{method}", json.dumps(body).encode("utf-8"), JSON)


TWO_ERRORS: dict[str, TwoErrors] = {
    "a body over the size limit, from a token the service never issued": lambda world: _post(
        world,
        "sendMessageReadReceipts",
        b'{"msgIDs": ["' + b"x" * BODY_LIMIT + b'"]}',
        world.unknown_user_id(),
    ),
    "a method that does not exist, without any credential": lambda world: _post(
        world, "getEverything", b"{}", None
    ),
    "a body that is not JSON, from a token the service never issued": lambda world: _post(
        world, "sendMessageReadReceipts", b'{"msgIDs": [', world.unknown_user_id()
    ),
    "a body without message IDs, with the administrator's key": lambda world: _post(
        world, "sendMessageReadReceipts", b"{}", admin_key(world)
    ),
    "Bob's receipt without message IDs, on the standard edition": lambda world: _as(
        world, "Bob", "sendMessageReadReceipts", {}
    ),
    "Bob's receipt for no messages, on the standard edition": lambda world: _as(
        world, "Bob", "sendMessageReadReceipts", {"msgIDs": []}
    ),
    "a group creation with the Work group's ID and a user who does not exist": lambda world: _post(
        world,
        "admin/createGroup",
        json.dumps(
            {
                "groupID": world.group_chat().group_id(),
                "groupType": "Work",
                "ownerID": world.user("Alice").user_id,
                "memberIDs": [world.unknown_user_id()],
            }
        ).encode("utf-8"),
        admin_key(world),
    ),
    "Alice's member list of page size 0, on the standard edition": lambda world: _as(
        world,
        "Alice",
        "getGroupMessageReadMemberList",
        {"msgID": _the_message(world), "filter": 1, "nextSeq": 0, "count": 0},
    ),
    "Mallory's pull of Alice's message, on the standard edition": lambda world: _as(
        world, "Mallory", "getMessageReadReceipts", {"msgIDs": [_the_message(world)]}
    ),
    "Mallory's receipt for Alice's message and one that does not exist": lambda world: _as(
        world,
        "Mallory",
        "sendMessageReadReceipts",
        {"msgIDs": [_the_message(world), f"no-such-message-{world.unknown_user_id()}"]},
    ),
    "Bob's receipt for no message IDs and an unknown field": lambda world: _as(
        world, "Bob", "sendMessageReadReceipts", {"msgIDs": [], "readerID": "x"}
    ),
}
"""Requests with two errors, named for them."""


@when("someone sends {request:text}")
def send_two_errors(world: World, request: str) -> None:
    world.record(TWO_ERRORS[request](world))


@then("the call is refused (strict: with code {code:int}, the error that comes first)")
def refused_first_error_strict(world: World, code: int) -> None:
    """Core: a refusal; the code follows §1.2's precedence at the strict level (the transport
    checks the status that goes with the code)."""
    outcome = world.last_outcome()
    assert_refused(outcome)
    if outcome.code != code:
        world.deviate(
            FIRST_ERROR_REPORTED, f"code {code}", f"code {outcome.code}",
            f"{outcome.method} response",
        )  # fmt: skip
