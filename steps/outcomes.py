"""Steps about answers: success and error codes with their HTTP status [E-1, E-2], malformed
and strict request bodies [E-3], credentials [X-1], answers about what one may not see compared
with answers about what does not exist [X-2], and schema validity of every payload [V-1]."""

from __future__ import annotations

from collections.abc import Callable

from seenby.harness import (
    BODY_MAX_BYTES,
    NESTING_MAX,
    Level,
    StrictCheck,
    code_named,
    http_status,
    is_refusal_status,
    status_deviation,
    strict_check,
)
from seenby.steps.phrases import then, when
from seenby.steps.world import Outcome, World

JSON = {"Content-Type": "application/json"}

# The strict checks of these steps (``seenby.harness.wire.deviations``): each once, by ID.
REFUSAL_CODE = strict_check("refusal-code", "§1.2", "the code of this refusal")
REQUEST_REFUSED = strict_check("request-refused", "§1.2", "this request is refused")
UNKNOWN_FIELD_REFUSED = strict_check(
    "unknown-field-refused", "§1", "a body field the method does not define is refused"
)
ERROR_DATA_NULL = strict_check("error-data-null", "§1.1", "an error carries data null")
SUCCESS_DESC_OK = strict_check("success-desc-ok", "§1.1", "desc of a success")
SUCCESS_STATUS_200 = strict_check("success-status-200", "§1.2", "HTTP status of code 0")
ALLOW_HEADER = strict_check(
    "allow-header", "§1.2", "a wrong-method answer names the allowed methods"
)
SAME_DESC_AS_UNKNOWN = strict_check(
    "same-desc-as-unknown", "§4", "the description matches that for an unknown message"
)
ADD_SKIPS_MEMBER = strict_check(
    "add-skips-member", "§3", "admin/addGroupMembers skips a member already in the group"
)
REMOVE_SKIPS_OUTSIDER = strict_check(
    "remove-skips-outsider", "§3", "admin/removeGroupMembers skips a user who is not a member"
)
CREATE_COUNTS_ONCE = strict_check(
    "create-counts-once", "§3", "admin/createGroup counts a repeated member and the owner once"
)
BODY_LIMIT = BODY_MAX_BYTES.value
"""The largest request body (docs/protocol.md §1.3)."""
NESTING_LIMIT = NESTING_MAX.value
"""The deepest JSON nesting a request may have (docs/protocol.md §1.3)."""


# -- outcomes -------------------------------------------------------------------------------
#
# Levels (docs/protocol.md "Conformance levels"): a refusal is core — a non-zero code, a 4xx
# status and a desc [E-1]. A code the spec names for the case (6017, 7013, 10004, 10010, 10015,
# 10062: ``Level.CORE`` in the vocabulary) is core too; any other code, and every exact HTTP
# status, is strict: a target that answers otherwise deviates, it does not fail.


def assert_refused(outcome: Outcome) -> None:
    """Core [E-1]: the call failed with a non-zero code, a 4xx status and a description."""
    assert outcome.code != 0, f"expected the call to fail, but it succeeded: {outcome}"
    assert is_refusal_status(outcome.http_status), (
        f"expected a 4xx status with the refusal, got {outcome}"
    )
    assert outcome.desc.strip(), f"expected a description a person can act on: {outcome}"


def refused_as_a_whole(world: World, check: StrictCheck, reference: str) -> bool:
    """Where the spec lets a call be refused as a whole instead of answered item by item
    (docs/protocol.md "Conformance levels", latitude), whether the last call was refused.

    A success returns ``False``: the caller checks the items, at the core level. A refusal is
    core when it is one [E-1] (any code: the spec names none for the case); that the reference
    answers item by item is strict (``check``), so the refusal is recorded as a deviation and
    ``True`` returned: the caller then proves that the refusal changed nothing.
    """
    outcome = world.last_outcome()
    if outcome.code == 0:
        return False
    assert_refused(outcome)
    world.deviate(
        check,
        reference,
        f"the whole call refused with code {outcome.code}",
        f"{outcome.method} response",
    )
    return True


def expect_code(world: World, outcome: Outcome, code: int) -> None:
    """``code`` is required when the spec names it (core), expected when only docs/protocol.md
    chose it (strict)."""
    entry = code_named(code)
    assert entry is not None, f"the feature names code {code}, which docs/protocol.md lacks"
    if entry.level is Level.CORE:
        assert outcome.code == code, f"expected code {code}, got {outcome}"
    elif outcome.code != code:
        world.deviate(
            REFUSAL_CODE,
            f"code {code}",
            f"code {outcome.code}",
            f"{outcome.method} response",
        )


def expect_status(world: World, outcome: Outcome, code: int, status: int) -> None:
    """The exact HTTP status of the answer (strict; the transport records the same deviation,
    and the scenario reports it once)."""
    assert status == http_status(code), (
        f"the feature pairs code {code} with HTTP {status}, unlike docs/protocol.md §1.2"
    )
    deviation = status_deviation(outcome.method, outcome.code, outcome.http_status)
    if deviation is not None:
        world.target.deviation_log.record(deviation)


@then("the call succeeds")
def succeeds(world: World) -> None:
    outcome = world.last_outcome()
    assert outcome.code == 0, f"expected success, got {outcome}"


@then("the call fails with code {code:int}")
def fails_with(world: World, code: int) -> None:
    outcome = world.last_outcome()
    assert_refused(outcome)
    expect_code(world, outcome, code)


@then("the call fails with code {code:int} (strict: HTTP status {status:int})")
def fails_with_status(world: World, code: int, status: int) -> None:
    outcome = world.last_outcome()
    assert_refused(outcome)
    expect_code(world, outcome, code)
    expect_status(world, outcome, code, status)


@then("at the strict level the call fails with code {code:int} and HTTP status {status:int}")
def strictly_fails(world: World, code: int, status: int) -> None:
    """Where the spec leaves the case open (an admin convenience, a limit it gives no number):
    core asks nothing but a well-formed answer, which the transport checks; strict asks for the
    reference server's refusal."""
    outcome = world.last_outcome()
    if outcome.code == 0:
        world.deviate(
            REQUEST_REFUSED,
            f"code {code} with HTTP {status}",
            "code 0 (accepted)",
            f"{outcome.method} response",
        )
        return
    assert_refused(outcome)
    expect_code(world, outcome, code)
    expect_status(world, outcome, code, status)


@then("the call either ignores the unknown field or fails (strict: fails with code {code:int})")
def ignores_or_refuses_unknown_field(world: World, code: int) -> None:
    """Unknown body fields are never obeyed (core; the steps after this one check that);
    refusing them is the reference's choice (§1, strict)."""
    outcome = world.last_outcome()
    if outcome.code == 0:
        world.deviate(
            UNKNOWN_FIELD_REFUSED,
            f"code {code}",
            "the field was ignored (code 0)",
            f"{outcome.method} response",
        )
        return
    assert_refused(outcome)
    expect_code(world, outcome, code)


@then("the answer carries a description and no data")
def error_shape(world: World) -> None:
    outcome = world.last_outcome()
    assert outcome.desc.strip(), f"expected a description a person can act on: {outcome}"
    if outcome.data is not None:
        world.deviate(
            ERROR_DATA_NULL,
            "data null",
            repr(outcome.data),
            f"{outcome.method} response",
        )


@then('the answer has code 0, desc "ok", HTTP status 200 and data')
def success_shape(world: World) -> None:
    outcome = world.last_outcome()
    assert outcome.code == 0 and 200 <= outcome.http_status < 300, (
        f"expected code 0 with a 2xx status: {outcome}"
    )
    assert outcome.data is not None, f"expected the method's data: {outcome}"
    if outcome.desc != "ok":
        world.deviate(SUCCESS_DESC_OK, '"ok"', repr(outcome.desc), f"{outcome.method} response")
    if outcome.http_status != http_status(0):
        world.deviate(
            SUCCESS_STATUS_200,
            "HTTP 200",
            f"HTTP {outcome.http_status}",
            f"{outcome.method} response",
        )


@then("the answer names GET as the allowed method")
def allows_get(world: World) -> None:
    """Strict (§1.2, 90004): the wrong-method answer carries ``Allow``."""
    headers = {key.lower(): value for key, value in world.last_outcome().headers.items()}
    allowed = [method.strip() for method in headers.get("allow", "").split(",")]
    if "GET" not in allowed:
        world.deviate(
            ALLOW_HEADER,
            "Allow: GET",
            repr(headers.get("allow")),
            "POST /v1/capabilities response",
        )


@then("the answer is the same as for a message that does not exist")
def same_as_unknown_message(world: World) -> None:
    assert_same_as_unknown(world, world.unknown_message_id())


@then("the answer is the same as for a group that does not exist")
def same_as_unknown_group(world: World) -> None:
    assert_same_as_unknown(world, world.unknown_group_id())


@then(
    "the answer has the same code as for a message that does not exist "
    "(strict: and the same description)"
)
def same_code_as_unknown_message(world: World) -> None:
    """The caller can see the message (it received it), so X-2 does not apply: the spec's code
    is core, an identical description the reference's choice."""
    assert_same_as_unknown(world, world.unknown_message_id(), description=Level.STRICT)


def assert_same_as_unknown(world: World, unknown: str, *, description: Level = Level.CORE) -> None:
    """Repeat the last attempted request about an unknown subject: the code must be the same,
    and the description (each with its own subject's ID masked) too, at ``description``'s
    level [X-2]."""
    seen, probe = world.last_outcome(), world.probe
    assert probe is not None, "the last step did not try a request about one message or group"
    world.attempt(seen.method, lambda: probe.repeat(unknown))
    other = world.last_outcome()
    comparison = (
        f"about something it may not see the caller got\n  {seen}\nbut about something that "
        f"does not exist\n  {other}"
    )
    assert seen.code == other.code, comparison
    masked = seen.desc.replace(probe.subject, "<ID>")
    masked_unknown = other.desc.replace(unknown, "<ID>")
    if masked == masked_unknown:
        return
    if description is Level.CORE:
        raise AssertionError(comparison)
    world.deviate(
        SAME_DESC_AS_UNKNOWN,
        repr(masked_unknown),
        repr(masked),
        f"{seen.method} response",
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
    "a body of 8 MiB": b'{"msgIDs": ["' + b"x" * (8 * BODY_LIMIT) + b'"]}',
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


# -- unknown body fields are never obeyed [X-1, E-3] ----------------------------------------


@then(
    "if the message was sent, it does not need a read receipt, for {sender:name} or for {peer:name}"
)
def misspelt_flag_not_obeyed(world: World, sender: str, peer: str) -> None:
    outcome = world.last_outcome()
    if outcome.code != 0:
        return
    assert outcome.data["needReadReceipt"] is False, (
        f"a misspelt needReadReciept turned read receipts on: {outcome.data}"
    )
    delivered = [message.raw for message in world.history_of(peer) if message.need_read_receipt]
    assert not delivered, f"{peer} got a message that needs a read receipt: {delivered}"


@then("if the user was created, its token does not open administrator methods")
def created_user_is_no_administrator(world: World) -> None:
    outcome = world.last_outcome()
    if outcome.code != 0:
        return
    headers = {**JSON, "Authorization": f"Bearer {outcome.data['token']}"}
    answer = world.target.post_raw("/v1/admin/getSettings", b"{}", headers)
    assert answer.code != 0, (
        "a user created with role 'administrator' in an unknown field can read the settings"
    )


@then("the message counts {reader:name}'s receipt exactly when the call succeeded")
def receipt_counted_when_accepted(world: World, reader: str) -> None:
    accepted = world.last_outcome().code == 0
    message = world.message("the message")
    sender = world.name_of(message.sender)
    receipt = world.receipt_of(sender, message)
    counted = receipt.read_count == 1 if receipt.group_id is not None else receipt.is_peer_read
    assert counted is accepted, (
        f"the call {'succeeded' if accepted else 'failed'}, yet {sender} pulls {receipt}"
    )


@then("{name:name} is not among the members who have read the message")
def not_among_readers(world: World, name: str) -> None:
    message = world.message("the message")
    readers = world.walk_list(world.name_of(message.sender), message, read=True)
    assert world.user(name).user_id not in readers, (
        f"{name} is listed as a reader, though only another user's call named her: {readers}"
    )


@then("if the message was sent, {peer:name} received it from {sender:name}")
def sent_as_the_caller(world: World, peer: str, sender: str) -> None:
    outcome = world.last_outcome()
    if outcome.code != 0:
        return
    assert outcome.data["sender"] == world.user(sender).user_id, (
        f"a body field made the message come from someone else: {outcome.data}"
    )
    history = world.user(peer).get_history_message_list(user=world.user(sender), count=1)
    assert [m.sender for m in history] == [world.user(sender).user_id], (
        f"{peer}'s chat with {sender} does not show the message from {sender}: {history}"
    )


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


@when(
    "the administrator tries to add {name:name}, already a member, and {newcomer:name} to the group"
)
def add_member_again(world: World, name: str, newcomer: str) -> None:
    chat = world.group_chat()
    users = [world.user(name), world.user(newcomer)]
    world.attempt(
        "admin/addGroupMembers",
        lambda: world.target.admin.add_group_members(chat.group_id(), users),
    )
    if world.last_outcome().code == 0:
        chat.members.append(newcomer)
        world.chats[newcomer] = chat


@when(
    "the administrator tries to remove {name:name} and {outsider:name}, who is not a member, "
    "from the group"
)
def remove_with_outsider(world: World, name: str, outsider: str) -> None:
    chat = world.group_chat()
    users = [world.user(name), world.user(outsider)]
    world.attempt(
        "admin/removeGroupMembers",
        lambda: world.target.admin.remove_group_members(chat.group_id(), users),
    )
    if world.last_outcome().code == 0:
        chat.members.remove(name)


@then(
    "the call adds {newcomer:name} and skips {member:name}, or is refused and changes nothing "
    "(strict: skips {:name})"
)
def added_or_refused(world: World, newcomer: str, member: str) -> None:
    """The spec gives the admin methods no rule for a user already in the group: skipping it
    is the reference's choice (§3), refusing the whole call core if nothing changed."""
    refused = refused_as_a_whole(world, ADD_SKIPS_MEMBER, f"code 0, {newcomer} added")
    assert is_member(world, member), f"{member} is no longer a member of the group"
    assert is_member(world, newcomer) is not refused, (
        f"the call {'was refused' if refused else 'succeeded'}, yet {newcomer} is "
        f"{'a' if refused else 'not a'} member of the group"
    )


@then(
    "the call removes {name:name} and skips {outsider:name}, or is refused and changes nothing "
    "(strict: skips {:name})"
)
def removed_or_refused(world: World, name: str, outsider: str) -> None:
    """As for adding: skipping a user who is not a member is the reference's choice (§3)."""
    refused = refused_as_a_whole(world, REMOVE_SKIPS_OUTSIDER, f"code 0, {name} removed")
    assert not is_member(world, outsider), f"{outsider} became a member of the group"
    assert is_member(world, name) is refused, (
        f"the call {'was refused' if refused else 'succeeded'}, yet {name} is "
        f"{'not a' if refused else 'still a'} member of the group"
    )


@when(
    "the administrator tries to create a group owned by {owner:name} whose member list names "
    "{member:name} twice and the owner"
)
def create_group_with_repeats(world: World, owner: str, member: str) -> None:
    world.asked_group_id = group_id = world.unknown_group_id()
    members = [world.user(member), world.user(member), world.user(owner)]
    world.attempt(
        "admin/createGroup",
        lambda: world.target.admin.create_group("Work", world.user(owner), members, group_id),
    )


@then(
    "the group has {owner:name} and {member:name} as its only members, or the call is refused "
    "and creates nothing (strict: each counted once)"
)
def created_once_or_refused(world: World, owner: str, member: str) -> None:
    """The spec gives createGroup no rule for a repeated member or the owner among the
    members: counting each once is the reference's choice (§3), refusing the call core if no
    group was made."""
    group_id = world.asked_group_id
    assert group_id is not None, "the scenario tried to create no group"
    if refused_as_a_whole(world, CREATE_COUNTS_ONCE, "code 0, a group of 2 members"):
        assert not is_member(world, owner, group_id), f"the refused call created {group_id}"
        return
    count = world.last_outcome().data.member_count
    assert count == 2, f"expected a group of {owner} and {member}, got memberCount {count}"
    assert is_member(world, owner, group_id) and is_member(world, member, group_id), (
        f"{owner} and {member} are not both members of the group just created"
    )


def is_member(world: World, name: str, group_id: str | None = None) -> bool:
    """Whether ``name`` may read the history of ``group_id`` (default: the scenario's group):
    members may, others get a refusal."""
    group_id = group_id or world.group_chat().group_id()
    world.attempt(
        "getHistoryMessageList",
        lambda: world.user(name).get_history_message_list(group=group_id, count=1),
    )
    return world.last_outcome().code == 0


@when("the administrator reads the capabilities and the application settings")
def read_discovery(world: World) -> None:
    capabilities = world.act("capabilities", lambda: world.target.capabilities)
    # The one scenario a bad discovery payload fails; every other one runs on its defaults.
    assert not capabilities.problems, "\n".join(capabilities.problems)
    for deviation in capabilities.deviations:
        world.target.deviation_log.record(deviation)
    world.act("admin/getSettings", world.target.admin.get_settings)


@when("the administrator creates a Work group with {name:name} and a new member")
def create_group(world: World, name: str) -> None:
    world.start_group("Work", [name, "Newcomer"])


@when("the administrator adds and removes a member of that group")
def add_and_remove(world: World) -> None:
    world.join(["Visitor"])
    world.leave(["Visitor"])
