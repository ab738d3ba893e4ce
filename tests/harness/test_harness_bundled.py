"""The harness client against the real bundled reference server: the API steps and notebooks use.

Every answer and pushed event here has been validated by the transport; tests that want a
violation seed one by tampering with the bytes between the wire and the validator.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
import urllib3

from seenby.harness import (
    ApiError,
    Event,
    Message,
    ProtocolViolation,
    ReadFilter,
    ReadMemberPage,
    Receipt,
    SchemaViolation,
    Target,
    WaitTimeout,
    open_target,
)
from seenby.harness.api.target import RemoteTarget
from seenby.harness.drivers.wire import WireUserClient
from seenby.harness.wire.transport import ViolationLog


def _receipts_for(message: Message, **counts: int) -> Any:
    """Predicate: a receipt push for ``message`` whose receipt has exactly ``counts``."""

    def matches(event: Event) -> bool:
        return event.name == "onRecvMessageReadReceipts" and any(
            receipt.msg_id == message.msg_id
            and all(getattr(receipt, name) == value for name, value in counts.items())
            for receipt in event.receipts
        )

    return matches


def _new_message(message: Message) -> Any:
    return lambda event: event.message is not None and event.message.msg_id == message.msg_id


@pytest.fixture(autouse=True)
def _no_violations(target: Target) -> Any:
    """The shared server must cause no contract violation; seeding tests use their own."""
    before = len(target.violations)
    yield
    assert target.violations[before:] == []


@pytest.fixture
def fresh_target() -> Any:
    """A bundled server of one's own, for tests that seed violations."""
    with open_target() as bundled:
        yield bundled


# -- discovery and users -----------------------------------------------------------------------


def test_capabilities_describe_the_bundled_server(target: Target) -> None:
    capabilities = target.capabilities
    assert capabilities.protocol == "seenby/1"
    assert capabilities.has("adminSettings") and capabilities.has("eventReplay")
    assert capabilities.limits["receiptBatchMax"] >= 1
    assert target.restartable and target.name == "bundled reference server"


def test_users_get_fresh_unique_ids_and_their_names_as_nicknames(target: Target) -> None:
    alice, bob = target.users("alice", "bob")
    again = target.user("alice")
    assert re.fullmatch(r"alice-[0-9a-f]{8}", alice.user_id)
    assert bob.user_id.startswith("bob-") and again.user_id != alice.user_id
    long_name = target.user("x" * 64)
    assert len(long_name.user_id) <= 64

    group = target.group("Work", alice, [bob])
    message = alice.send_text("hi", group=group, need_read_receipt=True)
    unread = alice.get_group_message_read_member_list(message, ReadFilter.UNREAD)
    assert [(member.user_id, member.nick_name) for member in unread.members] == [
        (bob.user_id, "bob")
    ]


def test_groups_get_fresh_unique_ids(target: Target) -> None:
    alice, bob, carol = target.users("alice", "bob", "carol")
    team = target.group("Work", alice, [bob, carol], name="team")
    other = target.group("Public", alice)
    assert team.group_id.startswith("team-") and other.group_id.startswith("group-")
    assert (team.group_type, team.owner_id, team.member_count) == ("Work", alice.user_id, 3)
    assert other.member_count == 1


# -- C2C -------------------------------------------------------------------------------------------


def test_c2c_message_receipt_and_push(target: Target) -> None:
    alice, bob = target.users("alice", "bob")
    alice_push, bob_push = alice.connect(), bob.connect()

    sent = alice.send_text("lunch?", to=bob, need_read_receipt=True)
    assert (sent.sender, sent.receiver, sent.group_id) == (alice.user_id, bob.user_id, None)
    assert (
        sent.is_self
        and sent.need_read_receipt
        and sent.elem
        == {
            "elemType": "text",
            "text": "lunch?",
        }
    )
    delivered = bob_push.wait_for(_new_message(sent), description="Alice's message").message
    assert delivered is not None and not delivered.is_self

    [before] = alice.get_message_read_receipts([sent])
    assert (before.user_id, before.is_peer_read, before.timestamp) == (bob.user_id, False, 0)

    bob.send_message_read_receipts([sent])
    pushed = alice_push.wait_for(_receipts_for(sent, is_peer_read=True), description="receipt")
    [after] = alice.get_message_read_receipts([sent.msg_id])
    assert pushed.receipts[0] == after
    assert after.user_id == bob.user_id and after.timestamp is not None and after.timestamp > 0
    assert alice_push.seq_gaps == [] and bob_push.seq_gaps == []


def test_history_and_conversations(target: Target) -> None:
    alice, bob = target.users("alice", "bob")
    first = alice.send_text("one", to=bob)
    second = alice.send_custom("{}", desc="card", extension="x", to=bob)

    history = bob.get_history_message_list(user=alice, count=10)
    assert [message.msg_id for message in history] == [second.msg_id, first.msg_id]
    assert history[0].elem == {"elemType": "custom", "data": "{}", "desc": "card", "extension": "x"}
    assert not history[0].is_self
    older = bob.get_history_message_list(user=alice.user_id, count=10, last_msg=second)
    assert [message.msg_id for message in older] == [first.msg_id]
    assert len(history.to_records()) == 2 and "<table>" in history._repr_html_()

    [conversation] = bob.get_conversation_list()
    assert (conversation.conversation_id, conversation.type) == (f"c2c_{alice.user_id}", 1)
    assert (conversation.user_id, conversation.unread_count) == (alice.user_id, 2)


def test_conversation_mark_reaches_the_peer_through_listener_and_stream(target: Target) -> None:
    alice, bob = target.users("alice", "bob")
    marks: list[list[Receipt]] = []
    stream = alice.on_recv_c2c_read_receipt(marks.append)
    sent = alice.send_text("seen?", to=bob)

    bob.mark_c2c_message_as_read(alice)

    event = stream.wait_for(lambda e: e.name == "onRecvC2CReadReceipt", description="read mark")
    [mark] = event.receipts
    assert mark.is_conversation_mark and (mark.user_id, mark.is_peer_read) == (bob.user_id, True)
    assert marks == [event.receipts]  # listeners run before wait_for can see the event
    [own] = alice.get_history_message_list(user=bob)
    assert own.msg_id == sent.msg_id and own.is_peer_read


def test_new_message_listener(target: Target) -> None:
    alice, bob = target.users("alice", "bob")
    received: list[Message] = []
    stream = bob.on_recv_new_message(received.append)
    sent = alice.send_text("ping", to=bob)
    stream.wait_for(_new_message(sent))
    assert [message.msg_id for message in received] == [sent.msg_id]
    assert bob.push is stream


# -- groups ------------------------------------------------------------------------------------


def test_group_receipts_notify_only_the_sender(target: Target) -> None:
    alice, bob, carol = target.users("alice", "bob", "carol")
    group = target.group("Work", alice, [bob, carol])
    receipts: list[list[Receipt]] = []
    alice_push = alice.on_recv_message_read_receipts(receipts.append)
    carol_push = carol.connect()

    sent = alice.send_text("standup?", group=group, need_read_receipt=True)
    assert (sent.group_id, sent.receiver) == (group.group_id, None)
    bob.send_message_read_receipts([sent])

    alice_push.wait_for(_receipts_for(sent, read_count=1, unread_count=1), description="1 read")
    carol_push.expect_none(
        lambda e: e.name == "onRecvMessageReadReceipts",
        fence=lambda: alice.send_text("fence", to=carol).msg_id,
    )
    [pulled] = alice.get_message_read_receipts([sent])
    assert (pulled.group_id, pulled.read_count, pulled.unread_count) == (group.group_id, 1, 1)
    assert receipts == [[pulled]]


def test_member_list_pages_and_walks(target: Target) -> None:
    owner, *members = target.users("owner", "m1", "m2", "m3", "m4", "m5")
    group = target.group("Meeting", owner, members)
    sent = owner.send_text("agenda", group=group, need_read_receipt=True)
    for reader in members[:2]:
        reader.send_message_read_receipts([sent])

    first = owner.get_group_message_read_member_list(sent, ReadFilter.UNREAD, count=2)
    assert isinstance(first, ReadMemberPage) and len(first.members) == 2
    assert not first.is_finished

    read = owner.walk_group_message_read_members(sent, ReadFilter.READ, count=1)
    unread = owner.walk_group_message_read_members(sent, ReadFilter.UNREAD, count=2)
    assert [member.user_id for member in read] == [reader.user_id for reader in members[:2]]
    assert sorted(member.user_id for member in unread) == sorted(m.user_id for m in members[2:])
    assert len(unread.to_records()) == 3


def test_walk_gives_up_on_a_cursor_that_never_finishes(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = target.users("alice", "bob")
    stuck = ReadMemberPage.from_wire({"memberInfoList": [], "nextSeq": 0, "isFinished": False})
    monkeypatch.setattr(alice, "get_group_message_read_member_list", lambda *args: stuck)
    with pytest.raises(ProtocolViolation, match="kept nextSeq at 0"):
        alice.walk_group_message_read_members("m-1", ReadFilter.READ)

    looping = ReadMemberPage.from_wire(
        {"memberInfoList": [{"userID": bob.user_id}], "nextSeq": 1, "isFinished": False}
    )
    monkeypatch.setattr(alice, "get_group_message_read_member_list", lambda *args: looping)
    with pytest.raises(ProtocolViolation, match="not finished after 5 pages"):
        alice.walk_group_message_read_members("m-1", ReadFilter.READ, max_pages=5)


# -- push channel ----------------------------------------------------------------------------


def test_replay_since_a_seq_repeats_nothing_and_misses_nothing(target: Target) -> None:
    alice, bob = target.users("alice", "bob")
    live = bob.connect()
    sent = [alice.send_text(f"#{index}", to=bob) for index in range(3)]
    last = live.wait_for(_new_message(sent[-1]))
    first_seq = live.events[0].seq

    replay = bob.connect(since=first_seq - 1)
    replay.wait_for(lambda event: event.seq == last.seq, description="replay up to the last")
    later = alice.send_text("live", to=bob)
    replay.wait_for(_new_message(later), description="the live message after replay")
    assert [event.seq for event in replay.events] == list(range(first_seq, last.seq + 2))
    assert replay.seq_gaps == []


def test_push_upgrade_with_a_bad_token_is_an_api_error(target: Target) -> None:
    stranger = WireUserClient(
        "nobody", "not-a-token", base_url=target.url, violations=ViolationLog()
    )
    with pytest.raises(ApiError) as caught:
        stranger.connect()
    assert (caught.value.method, caught.value.code, caught.value.http_status) == (
        "events",
        90001,
        401,
    )


def test_closing_the_target_closes_user_streams() -> None:
    with open_target() as bundled:
        alice = bundled.user("alice")
        stream = alice.connect()
    assert stream.closed


# -- errors ------------------------------------------------------------------------------------


def test_non_zero_code_raises_api_error_with_method_code_status_and_target(target: Target) -> None:
    alice = target.user("alice")
    with pytest.raises(ApiError) as caught:
        alice.send_message_read_receipts([])
    error = caught.value
    assert (error.method, error.code, error.http_status) == ("sendMessageReadReceipts", 6017, 400)
    assert str(error).startswith("sendMessageReadReceipts → 6017 (HTTP 400): ")
    assert str(error).endswith(f"[target {target.url}]")


def test_unknown_group_and_non_member_get_the_same_answer(target: Target) -> None:
    alice, bob = target.users("alice", "bob")
    group = target.group("Work", bob)
    with pytest.raises(ApiError) as not_member:
        alice.send_text("hi", group=group)
    unknown_id = "no-such-group-" + alice.user_id
    with pytest.raises(ApiError) as unknown:
        alice.send_text("hi", group=unknown_id)
    assert (not_member.value.code, not_member.value.http_status) == (10010, 404)
    # Same answer: the descs differ only by the group ID the caller itself named.
    assert (unknown.value.code, unknown.value.desc.replace(unknown_id, "<group>")) == (
        10010,
        not_member.value.desc.replace(group.group_id, "<group>"),
    )


def test_call_returns_error_answers_without_raising(target: Target) -> None:
    alice = target.user("alice")
    response = alice.call("sendMessageReadReceipts", {"msgIDs": [], "needReadReciept": True})
    assert (response.ok, response.code, response.http_status, response.data) == (
        False,
        6017,
        400,
        None,
    )
    assert response.desc


def test_raw_requests_for_malformed_input(target: Target) -> None:
    alice = target.user("alice")
    malformed = alice.post_raw(
        "/v1/sendMessage", b'{"receiver": ', {"Content-Type": "application/json"}
    )
    assert (malformed.code, malformed.http_status) == (90006, 400)
    anonymous = target.post_raw("/v1/getConversationList", b"{}")
    assert (anonymous.code, anonymous.http_status) == (90001, 401)
    unknown = target.post_raw("/v1/noSuchMethod", b"{}")
    assert (unknown.code, unknown.http_status) == (90003, 404)
    wrong_method = target.request_raw("GET", "/v1/sendMessage")
    assert (wrong_method.code, wrong_method.http_status) == (90004, 405)
    assert "POST" in wrong_method.headers["Allow"]


def test_admin_settings_round_trip(target: Target) -> None:
    settings = target.admin.get_settings()
    try:
        changed = target.admin.set_settings(receipt_batch_max=5, group_receipt_types=("Work",))
        assert (changed.receipt_batch_max, changed.group_receipt_types) == (5, ("Work",))
        assert target.capabilities.limits["receiptBatchMax"] == 5
    finally:
        restored = target.admin.set_settings(
            receipt_batch_max=settings.receipt_batch_max,
            group_receipt_types=settings.group_receipt_types,
        )
    assert restored == settings
    with pytest.raises(TypeError, match="unknown settings"):
        target.admin.set_settings(batch=3)
    rejected = target.admin.call("setSettings", {"receiptBatchMax": 0})
    assert (rejected.code, rejected.http_status) == (10004, 400)


def test_admin_membership_changes(target: Target) -> None:
    alice, bob, carol = target.users("alice", "bob", "carol")
    group = target.group("Work", alice, [bob])
    target.admin.add_group_members(group, [carol])
    assert carol.send_text("joined", group=group).group_id == group.group_id
    target.admin.remove_group_members(group.group_id, [carol.user_id])
    with pytest.raises(ApiError, match="10010"):
        carol.send_text("left", group=group)


# -- schema violations are caught on the way in -------------------------------------------------


def test_seeded_response_violation_is_reported_with_path_and_rule(
    fresh_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = fresh_target
    alice, bob, carol = target.users("alice", "bob", "carol")
    group = target.group("Work", alice, [bob, carol])
    sent = alice.send_text("count me", group=group, need_read_receipt=True)
    pool: urllib3.PoolManager = alice._http._pool
    send = pool.request

    def tamper(*args: Any, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        response = send(*args, **kwargs)
        envelope = json.loads(response.data)
        envelope["data"][0]["readCount"] = -1
        headers = {"Content-Type": response.headers["Content-Type"]}
        body = io.BytesIO(json.dumps(envelope).encode())
        return urllib3.HTTPResponse(body, headers, response.status, preload_content=False)

    monkeypatch.setattr(pool, "request", tamper)
    before = len(target.violations)
    with pytest.raises(SchemaViolation) as caught:
        alice.get_message_read_receipts([sent])

    violation = caught.value
    assert (violation.json_path, violation.rule) == ("$[0].readCount", "minimum")
    assert violation.context.payload == "getMessageReadReceipts response data"
    assert f"[target {target.url}]" in str(violation)
    assert target.violations[before:] == [violation]


def test_seeded_push_violation_fails_the_wait(
    fresh_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = fresh_target.users("alice", "bob")
    stream = bob.connect()
    receive = stream.receive

    def tamper(text: str) -> None:
        frame = json.loads(text)
        frame["data"]["isSelf"] = "no"
        receive(json.dumps(frame))

    monkeypatch.setattr(stream, "receive", tamper)
    alice.send_text("hello", to=bob)
    with pytest.raises(SchemaViolation) as caught:
        stream.wait_for(lambda event: True, description="any event")
    assert (caught.value.json_path, caught.value.rule) == ("$.data.isSelf", "type")
    assert caught.value.context.payload == f"onRecvNewMessage event to {bob.user_id}"
    assert fresh_target.violations == [caught.value]


# -- targets -----------------------------------------------------------------------------------


def test_restart_keeps_data_url_and_event_numbering() -> None:
    with open_target() as bundled:
        alice, bob = bundled.users("alice", "bob")
        stream = bob.connect()
        sent = alice.send_text("before", to=bob, need_read_receipt=True)
        before = stream.wait_for(_new_message(sent))
        url = bundled.url

        bundled.restart()

        assert bundled.url == url
        with pytest.raises(WaitTimeout, match="the connection closed"):
            stream.wait_for(lambda event: False, timeout=5)
        resumed = bob.connect(since=before.seq)
        bob.send_message_read_receipts([sent])
        after = alice.send_text("after", to=bob)
        event = resumed.wait_for(_new_message(after))
        assert event.seq == before.seq + 1 and resumed.seq_gaps == []
        [receipt] = alice.get_message_read_receipts([sent])
        assert receipt.is_peer_read


def test_remote_target_by_url(target: Target) -> None:
    assert target.admin_key is not None
    with open_target(target.url, target.admin_key) as remote:
        assert isinstance(remote, RemoteTarget) and remote.name == target.url
        assert not remote.restartable
        assert remote.user("dana").user_id.startswith("dana-")
        with pytest.raises(RuntimeError, match="remote target"):
            remote.restart()
    with open_target(target.url) as keyless:
        assert keyless.capabilities.protocol == "seenby/1"
        with pytest.raises(RuntimeError, match="no admin key"):
            keyless.users("erin")


def test_an_accepted_upgrade_through_a_raw_request_is_a_success_without_envelope(
    target: Target,
) -> None:
    (alice,) = target.users("alice")
    handshake = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        "Authorization": f"Bearer {alice.token}",
    }
    with RemoteTarget(target.url, None) as bare:
        answer = bare.request_raw("GET", "/v1/events", b"", handshake)
    assert (answer.http_status, answer.code, answer.data) == (101, 0, None)
    assert target.violations == []
