"""The receipt rules, behaviour by behaviour, on ReceiptService without sockets.

Each test is named after the behaviour it checks and carries the behaviour ID of
docs/spec/receipts-spec.md (as refined by docs/protocol.md) in its docstring.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

from seenby.reference_server.domain import Admin, Caller
from seenby.reference_server.methods import METHODS, UserMethod
from seenby.reference_server.values import (
    CustomElem,
    Event,
    GroupChat,
    PeerChat,
    SettingsChange,
    TextElem,
)

if TYPE_CHECKING:
    from conftest import ServiceScene

# -- A: application settings -------------------------------------------------------------------


def test_A1_standard_edition_refuses_every_receipt_call_but_plain_messages_work(
    world: ServiceScene,
) -> None:
    """A-1: without the ultimate edition, receipt calls fail with 7013; plain messages work."""
    alice, bob = world.users("alice", "bob")
    group = world.group(alice, bob)
    msg = world.send(alice, group)
    world.service.set_settings(SettingsChange(edition="standard"))

    world.refused(7013, lambda: world.send(alice, bob, need_read_receipt=True))
    world.refused(7013, lambda: world.send(alice, group, need_read_receipt=True))
    world.refused(7013, lambda: world.read(bob, msg))
    world.refused(7013, lambda: world.service.get_message_read_receipts(alice, [msg]))
    world.refused(
        7013, lambda: world.service.get_group_message_read_member_list(alice, msg, 0, 0, 10)
    )
    plain = world.send(alice, bob, need_read_receipt=False)
    assert [view.message.msg_id for view in world.history(bob, PeerChat("alice"))] == [plain]


def test_A2_only_enabled_supported_group_types_carry_receipts(world: ServiceScene) -> None:
    """A-2: Work/Public/Meeting by default; Community and AVChatRoom never, even if listed;
    C2C needs no switch."""
    alice, bob = world.users("alice", "bob")
    for group_type in ("Work", "Public", "Meeting", "Community", "AVChatRoom"):
        world.group(alice, bob, group_type=group_type, group_id=group_type)
    world.service.set_settings(
        SettingsChange(group_receipt_types=("Public", "Meeting", "Community", "AVChatRoom"))
    )

    world.send(alice, GroupChat("Public"))
    world.send(alice, GroupChat("Meeting"))
    for group_id in ("Work", "Community", "AVChatRoom"):
        world.refused(90101, lambda g=group_id: world.send(alice, GroupChat(g)))
        world.send(alice, GroupChat(group_id), need_read_receipt=False)
    world.service.set_settings(SettingsChange(group_receipt_types=()))
    world.send(alice, bob)  # C2C: no switch


def test_A3_a_refused_receipt_message_stores_and_pushes_nothing(world: ServiceScene) -> None:
    """A-3: a needReadReceipt message to a group type without receipts fails; nothing is kept."""
    alice, bob = world.users("alice", "bob")
    group = world.group(alice, bob, group_type="Community")
    desc = world.refused(90101, lambda: world.send(alice, group))
    assert "Community" in desc
    assert world.history(bob, group) == []
    assert world.sink.events == []
    assert world.unread(bob) == {}


def test_A4_receipt_messages_need_a_group_within_the_size_limit(world: ServiceScene) -> None:
    """A-4: groups larger than groupReceiptMaxMembers refuse needReadReceipt messages."""
    alice, bob, carol = world.users("alice", "bob", "carol")
    group = world.group(alice, bob, carol)
    world.service.set_settings(SettingsChange(group_receipt_max_members=3))
    world.send(alice, group)  # 3 members: at the limit
    world.service.set_settings(SettingsChange(group_receipt_max_members=2))
    world.refused(90102, lambda: world.send(alice, group))
    world.send(alice, group, need_read_receipt=False)


def test_A_settings_checks_come_in_the_documented_order(world: ServiceScene) -> None:
    """A-1..A-4 with §1.2 precedence: edition (7013) before membership (10010) before type
    (90101) before size (90102)."""
    alice, bob, mallory = world.users("alice", "bob", "mallory")
    group = world.group(alice, bob, group_type="Community")
    world.service.set_settings(SettingsChange(edition="standard", group_receipt_max_members=1))
    world.refused(7013, lambda: world.send(mallory, group))
    world.service.set_settings(SettingsChange(edition="ultimate"))
    world.refused(10010, lambda: world.send(mallory, group))
    world.refused(90101, lambda: world.send(alice, group))


# -- S: the sender marks a message -------------------------------------------------------------


def test_S1_the_flag_shows_to_the_sender_and_to_recipients(world: ServiceScene) -> None:
    """S-1: needReadReceipt (default false) as sent, in C2C and groups, on every view."""
    alice, bob = world.users("alice", "bob")
    group = world.group(alice, bob)
    for to in (bob, group):
        chat = PeerChat("bob") if to is bob else group
        for flag in (True, False):
            view = world.service.send_message(alice, chat, TextElem("x"), need_read_receipt=flag)
            assert view.to_json()["needReadReceipt"] is flag
            assert view.to_json()["isSelf"] is True
            pushed = world.sink.of("bob", "onRecvNewMessage")[-1].data
            assert isinstance(pushed, dict)
            assert pushed["needReadReceipt"] is flag and pushed["isSelf"] is False
    default = world.service.send_message(alice, PeerChat("bob"), TextElem("x"))
    assert default.to_json()["needReadReceipt"] is False
    history = world.history(bob, PeerChat("alice"))
    assert [v.to_json()["needReadReceipt"] for v in history] == [False, False, True]


def test_S2_custom_messages_carry_receipts_too(world: ServiceScene) -> None:
    """S-2: a custom elem (with desc and extension) supports needReadReceipt like text."""
    alice, bob = world.users("alice", "bob")
    elem = CustomElem('{"kind":"order"}', desc="order", extension="ext")
    view = world.service.send_message(alice, PeerChat("bob"), elem, need_read_receipt=True)
    world.read(bob, view.message.msg_id)
    (receipt,) = world.service.get_message_read_receipts(alice, [view.message.msg_id])
    assert receipt.to_json()["isPeerRead"] is True
    assert world.history(bob, PeerChat("alice"))[0].to_json()["elem"] == {
        "elemType": "custom",
        "data": '{"kind":"order"}',
        "desc": "order",
        "extension": "ext",
    }


def test_S3_a_message_without_the_flag_never_gets_receipts(world: ServiceScene) -> None:
    """S-3: receipts for it are ignored, pulls leave it out, member lists answer 10062."""
    alice, bob = world.users("alice", "bob")
    group = world.group(alice, bob)
    plain = world.send(alice, group, need_read_receipt=False)
    flagged = world.send(alice, group)
    world.read(bob, plain)
    assert world.sink.of("alice") == []
    receipts = world.service.get_message_read_receipts(alice, [plain, flagged])
    assert [r.msg_id for r in receipts] == [flagged]
    world.refused(
        10062, lambda: world.service.get_group_message_read_member_list(alice, plain, 0, 0, 10)
    )


def test_S4_online_only_messages_reach_the_online_and_keep_out_of_history(
    world: ServiceScene,
) -> None:
    """S-4: recipients are the members online at send time; no history, no unread; receipts
    work as for any message."""
    alice, bob, carol = world.users("alice", "bob", "carol")
    group = world.group(alice, bob, carol)
    world.presence.online = {"bob"}
    msg = world.send(alice, group, online_user_only=True)

    assert [e.user_id for e in world.sink.of("bob", "onRecvNewMessage")] == ["bob"]
    assert world.sink.of("carol") == []
    assert world.counts(alice, msg) == (0, 1)
    assert world.history(bob, group) == []
    assert world.unread(bob) == {}
    world.read(bob, msg)
    assert world.counts(alice, msg) == (1, 0)
    world.read(carol, msg)  # not a recipient: skipped
    assert world.counts(alice, msg) == (1, 0)


# -- R: the recipient sends receipts -----------------------------------------------------------


def test_R1_a_batch_must_stay_in_one_conversation(world: ServiceScene) -> None:
    """R-1: messages from two conversations fail with 6017 and nothing is applied."""
    alice, bob, carol = world.users("alice", "bob", "carol")
    group = world.group(alice, bob, carol)
    in_group = world.send(alice, group)
    in_c2c = world.send(alice, bob)
    desc = world.refused(6017, lambda: world.read(bob, in_group, in_c2c))
    assert "one conversation" in desc
    assert world.counts(alice, in_group) == (0, 2)
    assert world.sink.of("alice") == []


def test_R2_empty_and_oversize_batches_are_refused(world: ServiceScene) -> None:
    """R-2: an empty batch and one over receiptBatchMax fail with 6017; repeats count once."""
    alice, bob = world.users("alice", "bob")
    world.service.set_settings(SettingsChange(receipt_batch_max=3))
    msgs = [world.send(alice, bob, str(i)) for i in range(4)]
    world.refused(6017, lambda: world.read(bob))
    world.refused(6017, lambda: world.read(bob, *msgs))
    world.refused(6017, lambda: world.service.get_message_read_receipts(alice, msgs))
    world.read(bob, *msgs[:3], *msgs[:3])
    assert len(world.sink.of("alice", "onRecvMessageReadReceipts")) == 1


def test_R3_an_invisible_message_fails_the_whole_batch(world: ServiceScene) -> None:
    """R-3: an unknown message, or one in a conversation the caller is not in, fails the call
    with 6017 and no receipt in it is applied (atomic)."""
    alice, bob, carol = world.users("alice", "bob", "carol")
    mine = world.send(alice, bob)
    others = world.send(alice, carol)
    world.refused(6017, lambda: world.read(bob, mine, "no-such-message"))
    world.refused(6017, lambda: world.read(bob, mine, others))
    (receipt,) = world.service.get_message_read_receipts(alice, [mine])
    assert receipt.to_json()["isPeerRead"] is False
    assert world.sink.of("alice") == []


def test_R4_ineligible_messages_in_a_valid_batch_are_skipped_silently(world: ServiceScene) -> None:
    """R-4: own messages, messages without the flag, already-receipted messages and messages
    sent before the caller joined are skipped; the call succeeds."""
    alice, bob, carol = world.users("alice", "bob", "carol")
    group = world.group(alice, bob)
    before_carol = world.send(alice, group)
    world.service.add_group_members("g1", ["carol"])
    plain = world.send(alice, group, need_read_receipt=False)
    own = world.send(carol, group)
    fresh = world.send(alice, group)
    world.read(carol, fresh)

    world.read(carol, before_carol, plain, own, fresh)

    assert world.counts(alice, before_carol) == (0, 1)
    assert world.counts(alice, fresh) == (1, 1)
    assert world.counts(carol, own) == (0, 2)
    assert len(world.sink.of("alice", "onRecvMessageReadReceipts")) == 1


def test_R5_second_receipt_changes_nothing_and_pushes_nothing(world: ServiceScene) -> None:
    """R-5: receipts are idempotent."""
    alice, bob = world.users("alice", "bob")
    group = world.group(alice, bob)
    c2c = world.send(alice, bob)
    grouped = world.send(alice, group)
    world.read(bob, c2c)
    world.read(bob, grouped)
    pushes = list(world.sink.events)
    (c2c_receipt,) = world.service.get_message_read_receipts(alice, [c2c])

    world.read(bob, c2c)
    world.read(bob, grouped)

    assert world.sink.events == pushes
    assert world.counts(alice, grouped) == (1, 0)
    assert world.service.get_message_read_receipts(alice, [c2c]) == [c2c_receipt]


def test_R6_receipts_leave_the_readers_unread_count_alone(world: ServiceScene) -> None:
    """R-6: sending receipts does not change the reader's conversation unread count."""
    alice, bob = world.users("alice", "bob")
    group = world.group(alice, bob)
    msgs = [world.send(alice, bob, str(i)) for i in range(3)]
    grouped = world.send(alice, group)
    world.read(bob, *msgs)
    world.read(bob, grouped)
    assert world.unread(bob) == {"c2c_alice": 3, "group_g1": 1}


def test_R7_a_member_who_left_can_no_longer_send_receipts(world: ServiceScene) -> None:
    """R-7: after removal, receipts in the group fail like for an unknown message."""
    alice, bob, carol = world.users("alice", "bob", "carol")
    group = world.group(alice, bob, carol)
    msg = world.send(alice, group)
    world.service.remove_group_members("g1", ["bob"])
    world.refused(6017, lambda: world.read(bob, msg))
    assert world.counts(alice, msg) == (0, 2)
    assert "group_g1" not in world.unread(bob)


# -- P: the sender is notified -----------------------------------------------------------------


def test_P1_the_sender_gets_one_event_with_one_receipt_per_new_receipt(world: ServiceScene) -> None:
    """P-1: one onRecvMessageReadReceipts per call and sender, one receipt per message."""
    alice, bob, carol = world.users("alice", "bob", "carol")
    group = world.group(alice, bob, carol)
    from_alice = [world.send(alice, group, str(i)) for i in range(2)]
    from_carol = world.send(carol, group)
    world.read(bob, *from_alice, from_carol)

    (to_alice,) = world.sink.of("alice", "onRecvMessageReadReceipts")
    (to_carol,) = world.sink.of("carol", "onRecvMessageReadReceipts")
    assert isinstance(to_alice.data, list) and isinstance(to_carol.data, list)
    assert [r["msgID"] for r in to_alice.data] == from_alice  # type: ignore[index]
    assert [r["msgID"] for r in to_carol.data] == [from_carol]  # type: ignore[index]


def test_P2_payloads_carry_the_latest_counts_and_the_c2c_reader(world: ServiceScene) -> None:
    """P-2: group receipts carry groupID/msgID/readCount/unreadCount after the call; C2C
    receipts carry userID (the reader), isPeerRead and the receipt time."""
    alice, bob, carol = world.users("alice", "bob", "carol")
    group = world.group(alice, bob, carol)
    grouped = world.send(alice, group)
    c2c = world.send(alice, bob)
    world.read(bob, grouped)
    world.read(carol, grouped)
    world.read(bob, c2c)

    group_events = world.sink.of("alice", "onRecvMessageReadReceipts")[:2]
    assert [e.data for e in group_events] == [
        [{"msgID": grouped, "groupID": "g1", "readCount": 1, "unreadCount": 1}],
        [{"msgID": grouped, "groupID": "g1", "readCount": 2, "unreadCount": 0}],
    ]
    c2c_event = world.sink.of("alice", "onRecvMessageReadReceipts")[2]
    assert isinstance(c2c_event.data, list)
    (receipt,) = c2c_event.data
    assert isinstance(receipt, dict)
    assert receipt["msgID"] == c2c and receipt["userID"] == "bob"
    assert receipt["isPeerRead"] is True and isinstance(receipt["timestamp"], int)
    assert receipt["timestamp"] > 0


def test_P3_concurrent_readers_are_counted_exactly_and_counts_never_go_back(
    world: ServiceScene,
) -> None:
    """P-3: N distinct readers reading at once give readCount N; the sender's pushes, in seq
    order, never show a smaller count after a larger one."""
    readers = [f"reader{i}" for i in range(20)]
    alice, *callers = world.users("alice", *readers)
    group = world.group(alice, *callers)
    msg = world.send(alice, group)
    barrier = threading.Barrier(len(callers))

    def read(caller: Caller) -> None:
        barrier.wait()
        world.read(caller, msg)

    threads = [threading.Thread(target=read, args=(c,)) for c in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    pushes = world.sink.of("alice", "onRecvMessageReadReceipts")
    assert [e.seq for e in pushes] == list(range(1, 21))
    counts = [e.data[0]["readCount"] for e in pushes]  # type: ignore[index]
    assert counts == sorted(counts) and counts[-1] == 20
    assert world.counts(alice, msg) == (20, 0)


def test_P3_a_later_call_cannot_overtake_an_earlier_calls_events(world: ServiceScene) -> None:
    """P-3 (ordering): events are handed over before the next call can commit, so even a slow
    publisher delivers one sender's events in seq order with counts that never go back."""
    alice, bob, carol = world.users("alice", "bob", "carol")
    msg = world.send(alice, world.group(alice, bob, carol))
    publishing, release = threading.Event(), threading.Event()
    record = world.sink.publish

    def slow_publish(events: Sequence[Event]) -> None:
        if not publishing.is_set():
            publishing.set()
            release.wait(10)
        record(events)

    world.sink.publish = slow_publish  # type: ignore[method-assign]
    first = threading.Thread(target=world.read, args=(bob, msg))
    first.start()
    assert publishing.wait(10)
    second = threading.Thread(target=world.read, args=(carol, msg))
    second.start()
    second.join(timeout=0.2)  # room for a wrongly unlocked second call to overtake
    release.set()
    first.join()
    second.join()
    pushes = world.sink.of("alice", "onRecvMessageReadReceipts")
    assert [(e.seq, e.data[0]["readCount"]) for e in pushes] == [(1, 1), (2, 2)]  # type: ignore[index]


def test_P4_nobody_but_the_sender_hears_of_receipts(world: ServiceScene) -> None:
    """P-4: the reader and other members get no receipt events."""
    alice, bob, carol = world.users("alice", "bob", "carol")
    group = world.group(alice, bob, carol)
    msg = world.send(alice, group)
    world.read(bob, msg)
    assert {e.user_id for e in world.sink.events if e.name == "onRecvMessageReadReceipts"} == {
        "alice"
    }


# -- Q: the sender pulls receipts --------------------------------------------------------------


def test_Q1_the_sender_pulls_one_receipt_per_message_in_request_order(world: ServiceScene) -> None:
    """Q-1: history shows the flag; a pull returns one receipt per message, in msgIDs order."""
    alice, bob = world.users("alice", "bob")
    group = world.group(alice, bob)
    msgs = [world.send(alice, group, str(i)) for i in range(3)]
    history = world.history(alice, group)
    assert all(v.message.need_read_receipt for v in history)
    order = [msgs[2], msgs[0], msgs[1], msgs[0]]
    receipts = world.service.get_message_read_receipts(alice, order)
    assert [r.msg_id for r in receipts] == [msgs[2], msgs[0], msgs[1]]


def test_Q2_counts_add_up_to_the_recipients_and_c2c_receipts_name_the_peer(
    world: ServiceScene,
) -> None:
    """Q-2: readCount + unreadCount = recipients; C2C: userID is the peer, timestamp 0 until
    it reads."""
    alice, bob, carol, dave = world.users("alice", "bob", "carol", "dave")
    group = world.group(alice, bob, carol, dave)
    grouped = world.send(alice, group)
    c2c = world.send(alice, bob)
    world.read(carol, grouped)
    assert world.counts(alice, grouped) == (1, 2)
    (before,) = world.service.get_message_read_receipts(alice, [c2c])
    assert before.to_json() == {"msgID": c2c, "userID": "bob", "isPeerRead": False, "timestamp": 0}
    world.read(bob, c2c)
    (after,) = world.service.get_message_read_receipts(alice, [c2c])
    assert after.to_json()["isPeerRead"] is True and after.to_json()["timestamp"] > 0


def test_Q3_nobody_pulls_receipts_of_messages_it_did_not_send(world: ServiceScene) -> None:
    """Q-3: others' messages fail with 6017, worded as for an unknown message; the batch and
    one-conversation rules apply."""
    alice, bob, carol = world.users("alice", "bob", "carol")
    group = world.group(alice, bob, carol)
    theirs = world.send(bob, group)
    mine = world.send(alice, group)
    mine_c2c = world.send(alice, carol)
    pull = world.service.get_message_read_receipts
    assert world.masked(world.refused(6017, lambda: pull(alice, [theirs])), theirs) == (
        world.masked(world.refused(6017, lambda: pull(alice, ["nope"])), "nope")
    )
    world.refused(6017, lambda: world.service.get_message_read_receipts(alice, [mine, mine_c2c]))
    world.refused(6017, lambda: world.service.get_message_read_receipts(alice, []))


def test_Q4_a_pull_after_a_push_agrees_with_it(world: ServiceScene) -> None:
    """Q-4: the counts pulled right after a push are the pushed counts."""
    alice, bob, carol = world.users("alice", "bob", "carol")
    group = world.group(alice, bob, carol)
    msg = world.send(alice, group)
    world.read(bob, msg)
    pushed = world.sink.of("alice", "onRecvMessageReadReceipts")[-1].data
    pulled = [r.to_json() for r in world.service.get_message_read_receipts(alice, [msg])]
    assert pulled == pushed


# -- L: the sender pages read and unread members -----------------------------------------------


def test_L1_the_sender_pages_read_and_unread_members(world: ServiceScene) -> None:
    """L-1: filter 0 lists readers in read order, 1 the others in snapshot order; nextSeq
    starts at 0 and isFinished marks the last page."""
    alice, *members = world.users("alice", "m1", "m2", "m3", "m4", "m5")
    group = world.group(alice, *members)
    msg = world.send(alice, group)
    world.read(members[3], msg)
    world.read(members[1], msg)

    first = world.service.get_group_message_read_member_list(alice, msg, 1, 0, 2)
    assert [m.user_id for m in first.members] == ["m1", "m3"] and not first.is_finished
    second = world.service.get_group_message_read_member_list(alice, msg, 1, first.next_seq, 2)
    assert [m.user_id for m in second.members] == ["m5"] and second.is_finished
    assert world.walk(alice, msg, 0) == ["m4", "m2"]


def test_L2_bad_member_list_requests_are_refused(world: ServiceScene) -> None:
    """L-2: count outside 1..100 fails 6017; a C2C, foreign or unknown message 6017; a message
    without the flag 10062."""
    alice, bob = world.users("alice", "bob")
    group = world.group(alice, bob)
    msg = world.send(alice, group)
    c2c = world.send(alice, bob)
    theirs = world.send(bob, group)
    plain = world.send(alice, group, need_read_receipt=False)
    method = METHODS["getGroupMessageReadMemberList"]
    assert isinstance(method, UserMethod)
    for count in (0, 101):
        body = {"msgID": msg, "filter": 0, "nextSeq": 0, "count": count}
        world.refused(6017, lambda b=body: method.call(world.service, alice, b))
    member_list = world.service.get_group_message_read_member_list
    for bad in (c2c, theirs, "nope"):
        world.refused(6017, lambda m=bad: member_list(alice, m, 0, 0, 10))
    world.refused(10062, lambda: member_list(alice, plain, 0, 0, 10))
    assert member_list(alice, msg, 1, 0, 100).is_finished


def test_L3_both_walks_together_yield_every_recipient_exactly_once(world: ServiceScene) -> None:
    """L-3: all READ pages plus all UNREAD pages give each recipient once."""
    names = [f"m{i:02}" for i in range(11)]
    alice, *members = world.users("alice", *names)
    group = world.group(alice, *members)
    msg = world.send(alice, group)
    for member in members[::3]:
        world.read(member, msg)
    read, unread = world.walk(alice, msg, 0, count=3), world.walk(alice, msg, 1, count=3)
    assert sorted(read + unread) == names
    assert len(read + unread) == len(set(read + unread))


def test_L4_cursors_stay_stable_while_members_read(world: ServiceScene) -> None:
    """L-4: members reading during walks never make a walk repeat a member or skip one that
    stayed in its list."""
    names = [f"m{i:02}" for i in range(10)]
    alice, *members = world.users("alice", *names)
    group = world.group(alice, *members)
    msg = world.send(alice, group)
    world.read(members[0], msg)
    world.read(members[1], msg)

    unread_seen: list[str] = []
    read_seen: list[str] = []
    unread_cursor = read_cursor = 0
    for step in range(4):
        page = world.service.get_group_message_read_member_list(alice, msg, 1, unread_cursor, 2)
        unread_seen += [m.user_id for m in page.members]
        unread_cursor = page.next_seq
        page = world.service.get_group_message_read_member_list(alice, msg, 0, read_cursor, 1)
        read_seen += [m.user_id for m in page.members]
        read_cursor = page.next_seq
        # Someone still unread at the end of the snapshot reads between pages.
        world.read(members[-1 - step], msg)
    read_seen += world.walk(alice, msg, 0)[len(read_seen) :]

    assert len(unread_seen) == len(set(unread_seen))
    assert len(read_seen) == len(set(read_seen))
    stayed_unread = ["m02", "m03", "m04", "m05"]
    assert [u for u in unread_seen if u in stayed_unread] == stayed_unread
    assert read_seen == ["m00", "m01", "m09", "m08", "m07", "m06"]


def test_L5_member_entries_carry_profile_fields_when_set(world: ServiceScene) -> None:
    """L-5: each entry has userID, and nickName/faceURL when the user has them."""
    world.profiles["bob"] = ("Bob", "https://example.test/bob.png")
    alice, bob, carol = world.users("alice", "bob", "carol")
    group = world.group(alice, bob, carol)
    msg = world.send(alice, group)
    page = world.service.get_group_message_read_member_list(alice, msg, 1, 0, 10)
    assert page.to_json()["memberInfoList"] == [
        {"userID": "bob", "nickName": "Bob", "faceURL": "https://example.test/bob.png"},
        {"userID": "carol"},
    ]


# -- M: membership over time -------------------------------------------------------------------


def test_M1_recipients_are_fixed_when_the_message_is_sent(world: ServiceScene) -> None:
    """M-1: later joins do not raise unreadCount, later leaves do not lower it; setting
    changes do not touch sent messages."""
    alice, bob, carol, _ = world.users("alice", "bob", "carol", "dave")
    group = world.group(alice, bob, carol)
    msg = world.send(alice, group)
    world.service.add_group_members("g1", ["dave"])
    world.service.remove_group_members("g1", ["carol"])
    world.service.set_settings(SettingsChange(group_receipt_max_members=1))
    assert world.counts(alice, msg) == (0, 2)
    assert world.walk(alice, msg, 1) == ["bob", "carol"]


def test_M2_a_member_who_left_keeps_its_place_in_the_lists(world: ServiceScene) -> None:
    """M-2: leaving after the message keeps the member in READ or UNREAD."""
    alice, bob, carol, dave = world.users("alice", "bob", "carol", "dave")
    group = world.group(alice, bob, carol, dave)
    msg = world.send(alice, group)
    world.read(bob, msg)
    world.service.remove_group_members("g1", ["bob", "carol"])
    assert world.walk(alice, msg, 0) == ["bob"]
    assert world.walk(alice, msg, 1) == ["carol", "dave"]


# -- C: the C2C conversation read mark ---------------------------------------------------------


def test_C1_marking_a_conversation_read_zeroes_unread_and_tells_the_peer(
    world: ServiceScene,
) -> None:
    """C-1: the reader's unread count becomes 0; the peer gets onRecvC2CReadReceipt with the
    reader's userID, an empty msgID and the mark time."""
    alice, bob = world.users("alice", "bob")
    for i in range(3):
        world.send(alice, bob, str(i))
    assert world.unread(bob) == {"c2c_alice": 3}
    world.service.mark_c2c_message_as_read(bob, "alice")
    assert world.unread(bob) == {"c2c_alice": 0}
    (event,) = world.sink.of("alice", "onRecvC2CReadReceipt")
    assert isinstance(event.data, list)
    (mark,) = event.data
    assert isinstance(mark, dict)
    assert mark["msgID"] == "" and mark["userID"] == "bob" and mark["isPeerRead"] is True
    assert isinstance(mark["timestamp"], int) and mark["timestamp"] > 0
    world.send(alice, bob, "later")
    assert world.unread(bob) == {"c2c_alice": 1}


def test_C2_the_mark_covers_exactly_the_messages_accepted_before_it(world: ServiceScene) -> None:
    """C-2: in the sender's history, covered messages read isPeerRead, later ones do not,
    whatever their timestamps."""
    world.clock.frozen_at = 1_000
    alice, bob = world.users("alice", "bob")
    covered = [world.send(alice, bob, str(i)) for i in range(2)]
    from_bob = world.send(bob, alice)
    world.service.mark_c2c_message_as_read(bob, "alice")
    later = world.send(alice, bob, "same millisecond, after the mark")

    seen = {v.message.msg_id: v.to_json()["isPeerRead"] for v in world.history(alice, bob)}
    assert seen == {covered[0]: True, covered[1]: True, from_bob: False, later: False}
    assert all(not v.to_json()["isPeerRead"] for v in world.history(bob, PeerChat("alice")))


def test_C3_the_mark_and_message_receipts_are_separate(world: ServiceScene) -> None:
    """C-3: marking creates no message receipts; receipts do not move the mark."""
    alice, bob = world.users("alice", "bob")
    first = world.send(alice, bob)
    world.service.mark_c2c_message_as_read(bob, "alice")
    (receipt,) = world.service.get_message_read_receipts(alice, [first])
    assert receipt.to_json()["isPeerRead"] is False
    second = world.send(alice, bob)
    world.read(bob, second)
    views = {v.message.msg_id: v.to_json()["isPeerRead"] for v in world.history(alice, bob)}
    assert views == {first: True, second: False}
    assert world.unread(bob) == {"c2c_alice": 1}


# -- E, X: errors and security -----------------------------------------------------------------


def test_E2_every_refusal_uses_a_documented_code(world: ServiceScene) -> None:
    """E-2: the domain's codes are the table's (checked where they arise across this file);
    here: the admin-side codes 90007, 10004, 10010, 10021 and the peer rules."""
    alice, bob = world.users("alice", "bob")
    world.refused(90007, lambda: world.users("alice"))
    world.refused(10004, lambda: world.service.create_group("g", "Work", "alice", ["ghost"]))
    world.refused(10004, lambda: world.service.create_group("g", "Club", "alice", []))
    world.group(alice, bob)
    world.refused(10021, lambda: world.group(alice, bob))
    world.refused(10010, lambda: world.service.add_group_members("nope", ["bob"]))
    world.refused(10004, lambda: world.service.add_group_members("g1", ["ghost"]))
    world.refused(10004, lambda: world.service.remove_group_members("g1", ["alice"]))
    world.refused(6017, lambda: world.send(alice, alice))
    world.refused(6017, lambda: world.service.mark_c2c_message_as_read(alice, "ghost"))
    world.refused(6017, lambda: world.history(alice, PeerChat("ghost")))


def test_E3_a_refused_call_changes_nothing(world: ServiceScene) -> None:
    """E-3: after refused calls of every kind, state and events are as before."""
    alice, bob, carol = world.users("alice", "bob", "carol")
    group = world.group(alice, bob, carol)
    msg = world.send(alice, group)
    before = (list(world.sink.events), world.unread(bob), world.counts(alice, msg))
    world.refused(6017, lambda: world.read(bob, msg, "ghost"))
    world.refused(10004, lambda: world.service.create_group("g2", "Work", "alice", ["ghost"]))
    world.refused(10004, lambda: world.service.remove_group_members("g1", ["bob", "alice"]))
    assert world.service.get_group_message_read_member_list(alice, msg, 1, 0, 10).members
    assert (list(world.sink.events), world.unread(bob), world.counts(alice, msg)) == before
    assert world.service.get_conversation_list(carol)[0].unread_count == 1


def test_X1_tokens_identify_users_and_the_admin_key_is_no_user(world: ServiceScene) -> None:
    """X-1: a token names its user; the admin key is the admin; anything else is nobody."""
    alice = world.service.create_user("alice")
    assert world.service.identify(alice.token) == Caller("alice")
    assert world.service.identify("admin-key") == Admin()
    assert world.service.identify("forged") is None
    assert world.service.identify(alice.token + "x") is None


def test_X2_outsiders_learn_nothing_about_a_conversation(world: ServiceScene) -> None:
    """X-2: a non-member gets the same 10010 as for an unknown group, and a message it may not
    see fails exactly like an unknown message (the answers differ only in the ID echoed)."""
    alice, bob, mallory = world.users("alice", "bob", "mallory")
    group = world.group(alice, bob)
    msg = world.send(alice, group)
    c2c = world.send(alice, bob)

    masked, refused = world.masked, world.refused
    unknown_group = masked(refused(10010, lambda: world.history(mallory, GroupChat("x"))), "x")
    assert masked(refused(10010, lambda: world.history(mallory, group)), "g1") == unknown_group
    assert (
        masked(refused(10010, lambda: world.send(mallory, group, need_read_receipt=False)), "g1")
        == unknown_group
    )
    unknown_msg = masked(refused(6017, lambda: world.read(mallory, "nope")), "nope")
    for hidden in (msg, c2c):
        assert masked(refused(6017, lambda h=hidden: world.read(mallory, h)), hidden) == (
            unknown_msg
        )
    member_list = world.service.get_group_message_read_member_list
    assert masked(refused(6017, lambda: member_list(bob, msg, 0, 0, 10)), msg) == masked(
        refused(6017, lambda: member_list(bob, "nope", 0, 0, 10)), "nope"
    )
    assert world.sink.of("alice", "onRecvMessageReadReceipts") == []


@pytest.mark.parametrize("method", sorted(METHODS))
def test_E1_every_method_refuses_unknown_fields(world: ServiceScene, method: str) -> None:
    """E-1 (strict bodies): a field the method does not define is refused, 6017 for user
    methods and 10004 for admin methods."""
    world.users("alice")
    handler = METHODS[method]
    body = {"needReadReciept": True}
    if isinstance(handler, UserMethod):
        desc = world.refused(6017, lambda: handler.call(world.service, Caller("alice"), body))
    else:
        desc = world.refused(10004, lambda: handler.call(world.service, body))
    assert desc == "unknown field 'needReadReciept'"
