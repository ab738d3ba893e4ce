"""Each correct alternative really makes its choice, on the wire, and the reference does not.

A probe drives a server over raw HTTP and WebSocket (no harness, so that nothing it checks can
hide an answer) and returns the observation the choice is about. Each probe runs against the
reference server, against the alternative that makes the choice, and against ``every_choice``:
the first must give the reference's answer, the other two the alternative's.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import websocket

from seenby.reference_server import RunningServer

from .alternatives import ALTERNATIVES, alternative_named
from .gallery import REFERENCE, Variant
from .wire_variants import PLUMBING

EVERY_CHOICE = alternative_named("every_choice")
JSON_TYPE = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: the envelope and the status."""

    status: int
    envelope: dict[str, Any]

    @property
    def code(self) -> int:
        """The envelope's code."""
        return int(self.envelope["code"])

    @property
    def data(self) -> Any:
        """The envelope's data."""
        return self.envelope["data"]


class Wire:
    """Raw calls to one running server."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self._session = requests.Session()

    def post(self, path: str, body: bytes, token: str | None = None) -> Answer:
        """``POST path`` with ``body`` and, if given, ``token`` as the bearer credential."""
        headers = dict(JSON_TYPE)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = self._session.post(self.server.url + path, data=body, headers=headers)
        return Answer(response.status_code, response.json())

    def call(self, method: str, body: dict[str, Any], token: str) -> Answer:
        """``POST /v1/<method>`` with a JSON ``body``."""
        return self.post(f"/v1/{method}", json.dumps(body).encode(), token)

    def admin(self, method: str, body: dict[str, Any]) -> Answer:
        """An admin method, with the admin key."""
        return self.call(f"admin/{method}", body, self.server.admin_key)

    def capabilities(self) -> dict[str, Any]:
        """``GET /v1/capabilities`` data."""
        return dict(self._session.get(self.server.url + "/v1/capabilities").json()["data"])

    def user(self, name: str) -> tuple[str, str]:
        """A new user: its ID and token."""
        created = self.admin("createUser", {"userID": f"{name}-{secrets.token_hex(3)}"})
        assert created.code == 0, created
        return created.data["userID"], created.data["token"]

    def group(self, owner: str, *members: str) -> str:
        """A new Work group of ``owner`` and ``members``: its ID."""
        body = {"groupType": "Work", "ownerID": owner, "memberIDs": list(members)}
        created = self.admin("createGroup", body)
        assert created.code == 0, created
        return str(created.data["groupID"])

    def send(self, token: str, to: dict[str, str], text: str = "hi", **flags: Any) -> Answer:
        """``sendMessage`` of a text to ``to`` (``{"receiver": ...}`` or ``{"groupID": ...}``)."""
        body = {**to, "elem": {"elemType": "text", "text": text}, **flags}
        return self.call("sendMessage", body, token)

    @contextmanager
    def events(self, token: str, query: str = "") -> Iterator[websocket.WebSocket]:
        """The push channel of ``token``'s user, open for the block."""
        url = self.server.url.replace("http://", "ws://") + "/v1/events" + query
        channel = websocket.create_connection(
            url, header=[f"Authorization: Bearer {token}"], timeout=5
        )
        try:
            yield channel
        finally:
            channel.close()


Probe = Callable[[Wire], object]


def _no_implementation(wire: Wire) -> object:
    return "implementation" in wire.capabilities()


def _member_list_limit(wire: Wire) -> object:
    return "memberListCountMax" in wire.capabilities()["limits"]


def _declared_limits(wire: Wire) -> object:
    """The declared page size and batch limits, and the code of a page of 11 members."""
    (alice, alice_token), (bob, _) = wire.user("alice"), wire.user("bob")
    group_id = wire.group(alice, bob)
    msg_id = wire.send(alice_token, {"groupID": group_id}, needReadReceipt=True).data["msgID"]
    limits = wire.capabilities()["limits"]
    body = {"msgID": msg_id, "filter": 1, "nextSeq": 0, "count": 11}
    page = wire.call("getGroupMessageReadMemberList", body, alice_token)
    return limits.get("memberListCountMax"), limits["receiptBatchMax"], page.code


def _online_user_only(wire: Wire) -> object:
    (_, alice_token), (bob, _) = wire.user("alice"), wire.user("bob")
    sent = wire.send(alice_token, {"receiver": bob}, onlineUserOnly=True)
    return "onlineUserOnly" in wire.capabilities()["features"], sent.code == 0


def _unknown_route(wire: Wire) -> object:
    _, token = wire.user("alice")
    answer = wire.post("/v1/getEverything", b"{}", token)
    return answer.code, answer.status


def _missing_credential(wire: Wire) -> object:
    answer = wire.post("/v1/getConversationList", b"{}")
    return answer.code, answer.status


def _empty_receipt_batch(wire: Wire) -> object:
    _, token = wire.user("alice")
    answer = wire.call("sendMessageReadReceipts", {"msgIDs": []}, token)
    return answer.code, answer.status


def _misspelt_flag(wire: Wire) -> object:
    (_, alice_token), (bob, _) = wire.user("alice"), wire.user("bob")
    sent = wire.send(alice_token, {"receiver": bob}, needReadReciept=True)
    return sent.code, sent.data and sent.data["needReadReceipt"]


def _reader_named_in_body(wire: Wire) -> object:
    """Bob sends a receipt naming Carol: refused, or applied as Bob's (never as Carol's)."""
    (alice, alice_token), (bob, bob_token), (carol, _) = (
        wire.user("alice"),
        wire.user("bob"),
        wire.user("carol"),
    )
    group = {"groupID": wire.group(alice, bob, carol)}
    msg_id = wire.send(alice_token, group, needReadReceipt=True).data["msgID"]
    receipt = wire.call("sendMessageReadReceipts", {"msgIDs": [msg_id], "userID": carol}, bob_token)
    readers = wire.call(
        "getGroupMessageReadMemberList",
        {"msgID": msg_id, "filter": 0, "nextSeq": 0, "count": 10},
        alice_token,
    )
    return receipt.code, [member["userID"] == bob for member in readers.data["memberInfoList"]]


def _vendor_fields(wire: Wire) -> object:
    (_, alice_token), (bob, _) = wire.user("alice"), wire.user("bob")
    sent = wire.send(alice_token, {"receiver": bob})
    return sorted(set(sent.envelope) - {"code", "desc", "data"}), "vendorTrace" in sent.data


def _vendor_fields_in_events(wire: Wire) -> object:
    (_, alice_token), (bob, bob_token) = wire.user("alice"), wire.user("bob")
    with wire.events(bob_token) as bob_events:
        wire.send(alice_token, {"receiver": bob})
        frame = json.loads(bob_events.recv())
    return frame["event"], "vendorTrace" in frame["data"]


def _replay_beyond_2_53(wire: Wire) -> object:
    _, token = wire.user("alice")
    try:
        with wire.events(token, f"?since={2**60}"):
            return "open"
    except websocket.WebSocketBadStatusException as refused:
        return refused.status_code


def _long_text(wire: Wire) -> object:
    (_, alice_token), (bob, _) = wire.user("alice"), wire.user("bob")
    return wire.send(alice_token, {"receiver": bob}, text="x" * 4_001).code


def _create_user_twice(wire: Wire) -> object:
    user_id = f"dana-{secrets.token_hex(3)}"
    first = wire.admin("createUser", {"userID": user_id})
    again = wire.admin("createUser", {"userID": user_id})
    return again.code == 0, again.data == first.data


def _remove_owner(wire: Wire) -> object:
    (alice, alice_token), (bob, bob_token) = wire.user("alice"), wire.user("bob")
    group = wire.group(alice, bob)
    removal = wire.admin("removeGroupMembers", {"groupID": group, "userIDs": [alice, bob]})
    owner_still_in = wire.send(alice_token, {"groupID": group}).code == 0
    bob_still_in = wire.send(bob_token, {"groupID": group}).code == 0
    return removal.code == 0, owner_still_in, bob_still_in


def _edition_or_batch_first(wire: Wire) -> object:
    _, token = wire.user("alice")
    assert wire.admin("setSettings", {"edition": "standard"}).code == 0
    try:
        return wire.call("sendMessageReadReceipts", {"msgIDs": []}, token).code
    finally:
        wire.admin("setSettings", {"edition": "ultimate"})


def _mark_push(wire: Wire) -> object:
    (alice, alice_token), (bob, bob_token) = wire.user("alice"), wire.user("bob")
    wire.send(alice_token, {"receiver": bob})
    with wire.events(alice_token) as alice_events:
        assert wire.call("markC2CMessageAsRead", {"userID": alice}, bob_token).code == 0
        frame = json.loads(alice_events.recv())
    (mark,) = frame["data"]
    return frame["event"], mark["msgID"], mark["userID"] == bob, "isPeerRead" in mark


def _recipient_pull(wire: Wire) -> object:
    """Bob pulls the receipts of Alice's message: same desc as for an unknown message or not;
    Mallory, an outsider, always gets the unknown message's answer [X-2]."""
    (_, alice_token), (bob, bob_token) = wire.user("alice"), wire.user("bob")
    _, mallory_token = wire.user("mallory")
    msg_id = wire.send(alice_token, {"receiver": bob}, needReadReceipt=True).data["msgID"]
    unknown = secrets.token_hex(16)

    def desc(token: str, about: str) -> tuple[int, str]:
        answer = wire.call("getMessageReadReceipts", {"msgIDs": [about]}, token)
        return answer.code, answer.envelope["desc"].replace(about, "<ID>")

    outsider_like_unknown = desc(mallory_token, msg_id) == desc(mallory_token, unknown)
    recipient = desc(bob_token, msg_id)
    return recipient[0], recipient == desc(bob_token, unknown), outsider_like_unknown


def _error_data(wire: Wire) -> object:
    _, token = wire.user("alice")
    answer = wire.call("sendMessageReadReceipts", {"msgIDs": []}, token)
    return answer.code, answer.data if answer.data is None else sorted(answer.data)


def _oversize_body(wire: Wire) -> object:
    _, token = wire.user("alice")
    answer = wire.post(
        "/v1/sendMessageReadReceipts", b'{"msgIDs": ["' + b"x" * 2**20 + b'"]}', token
    )
    return answer.code, answer.status


def _taken_group_id(wire: Wire) -> object:
    alice, _ = wire.user("alice")
    group_id = wire.group(alice)
    again = {"groupID": group_id, "groupType": "Work", "ownerID": alice, "memberIDs": []}
    return wire.admin("createGroup", again).code


def _pull_with_plain_message(wire: Wire) -> object:
    """Alice pulls a plain message with one that needs receipts: the plain one left out, or the
    whole pull refused; either way a pull of the other alone still answers it."""
    (_, alice_token), (bob, _) = wire.user("alice"), wire.user("bob")
    plain = wire.send(alice_token, {"receiver": bob}).data["msgID"]
    needs = wire.send(alice_token, {"receiver": bob}, needReadReceipt=True).data["msgID"]
    both = wire.call("getMessageReadReceipts", {"msgIDs": [plain, needs]}, alice_token)
    alone = wire.call("getMessageReadReceipts", {"msgIDs": [needs]}, alice_token)
    answered = [receipt["msgID"] == needs for receipt in both.data] if both.code == 0 else None
    return both.code, answered, [receipt["msgID"] == needs for receipt in alone.data]


def _pull_with_repeat(wire: Wire) -> object:
    (_, alice_token), (bob, _) = wire.user("alice"), wire.user("bob")
    msg_id = wire.send(alice_token, {"receiver": bob}, needReadReceipt=True).data["msgID"]
    pulled = wire.call("getMessageReadReceipts", {"msgIDs": [msg_id, msg_id]}, alice_token)
    return pulled.code, len(pulled.data) if pulled.code == 0 else None


def _receipt_batch_with_repeat(wire: Wire) -> object:
    """Bob receipts one message twice in a call: counted once, or refused with nothing applied
    (Alice's pull still says unread)."""
    (_, alice_token), (bob, bob_token) = wire.user("alice"), wire.user("bob")
    msg_id = wire.send(alice_token, {"receiver": bob}, needReadReceipt=True).data["msgID"]
    sent = wire.call("sendMessageReadReceipts", {"msgIDs": [msg_id, msg_id]}, bob_token)
    (receipt,) = wire.call("getMessageReadReceipts", {"msgIDs": [msg_id]}, alice_token).data
    return sent.code, receipt["isPeerRead"]


def _admin_member_no_ops(wire: Wire) -> object:
    """Add a member again with a newcomer, remove a non-member with a member: each user skipped
    or the whole call refused; who can then post to the group says which."""
    (alice, _), (bob, bob_token), (carol, carol_token) = (
        wire.user("alice"),
        wire.user("bob"),
        wire.user("carol"),
    )
    (dave, dave_token), (erin, _) = wire.user("dave"), wire.user("erin")
    group = wire.group(alice, bob, carol)
    added = wire.admin("addGroupMembers", {"groupID": group, "userIDs": [bob, dave]})
    removed = wire.admin("removeGroupMembers", {"groupID": group, "userIDs": [carol, erin]})
    members = [
        wire.send(token, {"groupID": group}).code == 0
        for token in (bob_token, dave_token, carol_token)
    ]
    body = {"groupType": "Work", "ownerID": alice, "memberIDs": [bob, bob, alice]}
    created = wire.admin("createGroup", body)
    size = created.data["memberCount"] if created.code == 0 else None
    return added.code, removed.code, members, created.code, size


@dataclass(frozen=True)
class Case:
    """A probe, the alternative whose choice it observes, and what each side answers."""

    alternative: str
    probe: Probe
    reference: object
    chosen: object


CASES = (
    Case("capabilities_without_implementation", _no_implementation, True, False),
    Case("capabilities_leave_member_list_limit_to_default", _member_list_limit, True, False),
    Case("without_online_user_only", _online_user_only, (True, True), (False, False)),
    Case("own_codes_for_unnamed_cases", _unknown_route, (90003, 404), (40401, 404)),
    Case("own_codes_for_unnamed_cases", _missing_credential, (90001, 401), (40101, 401)),
    Case("own_statuses_for_spec_codes", _empty_receipt_batch, (6017, 400), (6017, 422)),
    Case("one_status_for_every_refusal", _unknown_route, (90003, 404), (90003, 400)),
    Case("unknown_fields_ignored", _misspelt_flag, (6017, None), (0, False)),
    Case("unknown_fields_ignored", _reader_named_in_body, (6017, []), (0, [True])),
    Case("vendor_fields_in_payloads", _vendor_fields, ([], False), (["requestID"], True)),
    Case(
        "vendor_fields_in_events",
        _vendor_fields_in_events,
        ("onRecvNewMessage", False),
        ("onRecvNewMessage", True),
    ),
    Case("replay_positions_up_to_2_64", _replay_beyond_2_53, 400, "open"),
    Case("smaller_limits", _long_text, 0, 6017),
    Case("smaller_declared_limits", _declared_limits, (100, 30, 0), (10, 10, 6017)),
    Case("create_user_is_idempotent", _create_user_twice, (False, False), (True, True)),
    Case("owner_removal_skipped", _remove_owner, (False, True, True), (True, True, False)),
    Case("other_error_precedence", _edition_or_batch_first, 6017, 7013),
    Case(
        "mark_push_without_is_peer_read",
        _mark_push,
        ("onRecvC2CReadReceipt", "", True, True),
        ("onRecvC2CReadReceipt", "", True, False),
    ),
    Case("recipient_pull_told_why", _recipient_pull, (6017, True, True), (6017, False, True)),
    Case("error_envelopes_carry_details", _error_data, (6017, None), (6017, ["error"])),
    Case("oversize_body_refused_as_malformed", _oversize_body, (90005, 413), (90006, 400)),
    Case("group_id_in_use_is_invalid_parameter", _taken_group_id, 10021, 10004),
    Case(
        "pull_refuses_unreceipted_message",
        _pull_with_plain_message,
        (0, [True], [True]),
        (10062, None, [True]),
    ),
    Case(
        "admin_member_calls_refuse_no_ops",
        _admin_member_no_ops,
        (0, 0, [True, True, False], 0, 2),
        (10004, 10004, [True, False, True], 10004, None),
    ),
    Case("pull_refuses_repeated_message", _pull_with_repeat, (0, 1), (6017, None)),
    Case(
        "receipt_batch_refuses_repeated_message",
        _receipt_batch_with_repeat,
        (0, True),
        (6017, False),
    ),
)

EVERY_CHOICE_ANSWERS = {
    # one_status_for_every_refusal is left out of it, and own_codes_for_unnamed_cases renumbers
    # the unknown route (with HTTP 404) and the malformed body (with HTTP 400).
    ("one_status_for_every_refusal", "_unknown_route"): (40401, 404),
    ("oversize_body_refused_as_malformed", "_oversize_body"): (40001, 400),
    # smaller_declared_limits is left out of it, and another choice announces no page limit.
    ("smaller_declared_limits", "_declared_limits"): (None, 30, 0),
}
"""What ``every_choice`` answers where another of its choices changes the observation."""


def _case_id(case: Case) -> str:
    return f"{case.alternative}:{case.probe.__name__.lstrip('_')}"


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Wire]]:
    """Every alternative and the reference, running for the module's tests."""
    chosen: list[Variant] = [REFERENCE, *(each.server for each in ALTERNATIVES)]
    running = {each.name: each.start() for each in chosen}
    try:
        yield {name: Wire(server) for name, server in running.items()}
    finally:
        for server in running.values():
            server.stop()


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_the_alternative_makes_its_choice_and_the_reference_does_not(
    case: Case, servers: dict[str, Wire]
) -> None:
    assert case.probe(servers[REFERENCE.name]) == case.reference, "the reference"
    assert case.probe(servers[case.alternative]) == case.chosen, case.alternative


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_the_combined_alternative_makes_every_choice(case: Case, servers: dict[str, Wire]) -> None:
    expected = EVERY_CHOICE_ANSWERS.get((case.alternative, case.probe.__name__), case.chosen)
    assert case.probe(servers[EVERY_CHOICE.name]) == expected


def test_every_alternative_is_probed_and_declares_well_formed_sections() -> None:
    probed = {case.alternative for case in CASES}
    # The plumbing alternatives are probed in test_wire_variants, and are not in every_choice.
    singles = [
        each for each in ALTERNATIVES if each is not EVERY_CHOICE and each.name not in PLUMBING
    ]
    assert {each.name for each in singles} == probed
    assert len({each.name for each in ALTERNATIVES}) == len(ALTERNATIVES)
    combined = {section for each in singles for section in each.deviates}
    assert set(EVERY_CHOICE.deviates) == combined
    assert all(each.choice and each.layers for each in ALTERNATIVES)
