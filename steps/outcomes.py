"""Steps about answers: success and error codes with their HTTP status [E-1, E-2], malformed
and strict request bodies [E-3], credentials [X-1], answers about what one may not see compared
with answers about what does not exist [X-2], and schema validity of every payload [V-1]."""

from __future__ import annotations

from collections.abc import Callable

from steps.phrases import then, when
from steps.world import World

JSON = {"Content-Type": "application/json"}
BODY_LIMIT = 1_048_576
"""The largest request body (docs/protocol.md §1.3)."""
NESTING_LIMIT = 32
"""The deepest JSON nesting a request may have (docs/protocol.md §1.3)."""


# -- outcomes -------------------------------------------------------------------------------


@then("the call succeeds")
def succeeds(world: World) -> None:
    outcome = world.last_outcome()
    assert outcome.code == 0, f"expected success, got {outcome}"


@then("the call fails with code {code:int}")
def fails_with(world: World, code: int) -> None:
    outcome = world.last_outcome()
    assert outcome.code == code, f"expected code {code}, got {outcome}"


@then("the call fails with code {code:int} and HTTP status {status:int}")
def fails_with_status(world: World, code: int, status: int) -> None:
    outcome = world.last_outcome()
    expected = (code, status)
    assert (outcome.code, outcome.http_status) == expected, (
        f"expected code {code} with HTTP {status}, got {outcome}"
    )


@then("the answer carries a description and no data")
def error_shape(world: World) -> None:
    outcome = world.last_outcome()
    assert outcome.desc.strip() and outcome.data is None, f"expected a desc and no data: {outcome}"


@then('the answer has code 0, desc "ok", HTTP status 200 and data')
def success_shape(world: World) -> None:
    outcome = world.last_outcome()
    shape = (outcome.code, outcome.desc, outcome.http_status, outcome.data is not None)
    assert shape == (0, "ok", 200, True), f"expected code 0, desc 'ok', HTTP 200, data: {outcome}"


@then("the answer names GET as the allowed method")
def allows_get(world: World) -> None:
    headers = {key.lower(): value for key, value in world.last_outcome().headers.items()}
    allowed = [method.strip() for method in headers.get("allow", "").split(",")]
    assert "GET" in allowed, f"expected an Allow header naming GET, got {headers.get('allow')!r}"


@then("the answer is the same as for a message that does not exist")
def same_as_unknown_message(world: World) -> None:
    assert_same_as_unknown(world, world.unknown_message_id())


@then("the answer is the same as for a group that does not exist")
def same_as_unknown_group(world: World) -> None:
    assert_same_as_unknown(world, world.unknown_group_id())


def assert_same_as_unknown(world: World, unknown: str) -> None:
    """Repeat the last attempted request about an unknown subject: the code and the
    description must be the same (each with its own subject's ID masked) [X-2]."""
    seen, probe = world.last_outcome(), world.probe
    assert probe is not None, "the last step did not try a request about one message or group"
    world.attempt(seen.method, lambda: probe.repeat(unknown))
    other = world.last_outcome()
    masked = (seen.code, seen.desc.replace(probe.subject, "<ID>"))
    assert masked == (other.code, other.desc.replace(unknown, "<ID>")), (
        f"about something it may not see the caller got\n  {seen}\nbut about something that "
        f"does not exist\n  {other}"
    )


@then("no payload broke its schema during the scenario")
def no_violations(world: World) -> None:
    violations = world.new_violations()
    assert not violations, "\n\n".join(str(violation) for violation in violations)


# -- raw requests: malformed, strict and unauthenticated ------------------------------------


MALFORMED_BODIES = {
    "a body that is not JSON": b"msgIDs: please",
    "a JSON array instead of an object": b'["msgIDs"]',
    "an object with a duplicated key": b'{"msgIDs": [], "msgIDs": []}',
    "bytes that are not UTF-8": b'{"msgIDs": ["\xff\xfe"]}',
    "JSON nested 33 levels deep": b'{"msgIDs": '
    + b"[" * NESTING_LIMIT
    + b"]" * NESTING_LIMIT
    + b"}",
    "a number beyond 2 to the power 53": b'{"msgIDs": [], "n": 9007199254740993}',
    "a body larger than 1 MiB": b'{"msgIDs": ["' + b"x" * BODY_LIMIT + b'"]}',
}
"""Named request bodies that are not acceptable JSON objects [E-3]."""

FAULTY_RECEIPT_BODIES: dict[str, Callable[[str], dict[str, object]]] = {
    "the message IDs given as a string": lambda msg_id: {"msgIDs": msg_id},
    "no message IDs field": lambda msg_id: {},
    "a number among the message IDs": lambda msg_id: {"msgIDs": [msg_id, 7]},
    "an extra field the method does not define": lambda msg_id: {"msgIDs": [msg_id], "x": 1},
}
"""Named bodies for ``sendMessageReadReceipts`` that are JSON objects but invalid [E-3]."""


@when("{name:name} posts {body:text} as his read receipts")
def post_malformed(world: World, name: str, body: str) -> None:
    world.record(
        world.user(name).post_raw("/v1/sendMessageReadReceipts", MALFORMED_BODIES[body], JSON)
    )


@when("{name:name} sends read receipts with {fault:text}")
def send_faulty_receipts(world: World, name: str, fault: str) -> None:
    body = FAULTY_RECEIPT_BODIES[fault](world.message("the message").msg_id)
    world.record(world.user(name).call("sendMessageReadReceipts", body))


@when("{name:name} sends a read receipt for the message naming {other:name} as the reader")
def receipt_as_another(world: World, name: str, other: str) -> None:
    body = {"msgIDs": [world.message("the message").msg_id], "userID": world.user(other).user_id}
    world.record(world.user(name).call("sendMessageReadReceipts", body))


@when("{name:name} asks for her conversation list through a raw call")
def raw_conversation_list(world: World, name: str) -> None:
    world.record(world.user(name).call("getConversationList", {}))


@when("{name:name} posts to a method that does not exist")
def post_unknown_route(world: World, name: str) -> None:
    world.record(world.user(name).post_raw("/v1/getEverything", b"{}", JSON))


@when("{name:name} posts to the capabilities, which only answer GET")
def post_capabilities(world: World, name: str) -> None:
    world.record(world.user(name).post_raw("/v1/capabilities", b"{}", JSON))


@when("someone asks for a conversation list without any credential")
def no_credential(world: World) -> None:
    world.record(world.target.post_raw("/v1/getConversationList", b"{}", JSON))


@when("someone asks for a conversation list with a token the service never issued")
def unknown_credential(world: World) -> None:
    headers = {**JSON, "Authorization": f"Bearer {world.unknown_user_id()}"}
    world.record(world.target.post_raw("/v1/getConversationList", b"{}", headers))


@when("someone asks for a conversation list with the administrator's key")
def admin_credential_on_user_method(world: World) -> None:
    headers = {**JSON, "Authorization": f"Bearer {world.target.admin_key}"}
    world.record(world.target.post_raw("/v1/getConversationList", b"{}", headers))


@when("{name:name} tries to read the application settings with her own token")
def user_credential_on_admin_method(world: World, name: str) -> None:
    world.record(world.user(name).post_raw("/v1/admin/getSettings", b"{}", JSON))


# -- the administrator ----------------------------------------------------------------------


GROUP_ID_FAULTS = {
    "an empty ID": "",
    "an ID of 65 characters": "g" * 65,
    "an ID holding a control character": "team\u0007bell",
}
"""Named group IDs ``admin/createGroup`` must refuse with 10015."""


@when("the administrator tries to create a group with a user who does not exist")
def create_group_unknown_user(world: World) -> None:
    owner = world.unknown_user_id()
    world.attempt("admin/createGroup", lambda: world.target.admin.create_group("Work", owner, []))


@when("the administrator tries to create a group with the ID of the Work group")
def create_group_taken_id(world: World) -> None:
    group = world.group_chat().group
    assert group is not None
    world.attempt(
        "admin/createGroup",
        lambda: world.target.admin.create_group("Work", group.owner_id, [], group.group_id),
    )


@when("the administrator tries to create a group owned by {owner:name} with {fault:text}")
def create_group_bad_id(world: World, owner: str, fault: str) -> None:
    world.attempt(
        "admin/createGroup",
        lambda: world.target.admin.create_group(
            "Work", world.user(owner), [], GROUP_ID_FAULTS[fault]
        ),
    )


@when("the administrator tries to create {name:name} again")
def create_user_again(world: World, name: str) -> None:
    user_id = world.user(name).user_id
    world.attempt("admin/createUser", lambda: world.target.admin.create_user(user_id))


@when("the administrator tries to remove {name:name}, the owner, from the group")
def remove_owner(world: World, name: str) -> None:
    group_id = world.group_chat().group_id()
    world.attempt(
        "admin/removeGroupMembers",
        lambda: world.target.admin.remove_group_members(group_id, [world.user(name)]),
    )


@when("the administrator tries to create a user with an extra field the method does not define")
def create_user_extra_field(world: World) -> None:
    body = {"userID": world.unknown_user_id(), "role": "administrator"}
    world.record(world.target.admin.call("createUser", body))


@when("the administrator reads the capabilities and the application settings")
def read_discovery(world: World) -> None:
    world.act("capabilities", lambda: world.target.capabilities)
    world.act("admin/getSettings", world.target.admin.get_settings)


@when("the administrator creates a Work group with {name:name} and a new member")
def create_group(world: World, name: str) -> None:
    world.start_group("Work", [name, "Newcomer"])


@when("the administrator adds and removes a member of that group")
def add_and_remove(world: World) -> None:
    world.join(["Visitor"])
    world.leave(["Visitor"])
