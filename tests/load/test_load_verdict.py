"""The load verdict on hand-made ledgers: each invariant holds on a true story and names the
case that breaks it, an invariant with nothing to check says so, refusals are not faults;
ledgers survive the trip to the master and merge.

No server: ``judge`` is pure, so each test writes the ledger and the pulled state it needs.
"""

from __future__ import annotations

import json

from seenby.harness.load.ledger import Connection, Frame, Ledger, Send
from seenby.harness.load.verdict import PulledState, judge

SENDER, READER_A, READER_B = "sam", "ann", "bob"


def group_story(
    pushed: list[int], *, pulled: int = 2, readers: int = 2
) -> tuple[Ledger, PulledState]:
    """Sam sends m1 to a group of Ann and Bob; ``readers`` of them read it; Sam's one
    connection saw the message pushes ``pushed`` (readCounts) and settled."""
    ledger = Ledger()
    for user in (SENDER, READER_A, READER_B):
        ledger.add_user(user, f"token-{user}")
    ledger.begin_send(Send("r1", SENDER, (READER_A, READER_B), "g1", True))
    ledger.acknowledge_send("r1", "m1")
    for reader in (READER_A, READER_B)[:readers]:
        ledger.begin_read(reader, ["m1"])
        ledger.acknowledge_read(reader, ["m1"])
    frames = [
        Frame(seq, "onRecvMessageReadReceipts", (("m1", count, 2 - count),))
        for seq, count in enumerate(pushed, start=1)
    ]
    ledger.connections.append(Connection(SENDER, 0, frames, settled=True))
    for reader in (READER_A, READER_B):
        delivered = Frame(1, "onRecvNewMessage", (("m1", "r1"),))
        ledger.connections.append(Connection(reader, 0, [delivered], settled=True))
    state = PulledState(
        receipts={
            "m1": {"msgID": "m1", "groupID": "g1", "readCount": pulled, "unreadCount": 2 - pulled}
        },
        member_lists={"m1": ([READER_A, READER_B][:pulled], [READER_A, READER_B][pulled:])},
        pulled={"m1"},
    )
    return ledger, state


def test_a_true_story_holds_every_invariant() -> None:
    verdict = judge(*group_story([1, 2]))
    assert verdict.holds, verdict.lines()
    assert verdict.invariants["read-count"].checked == 1
    assert verdict.invariants["message-once"].checked >= 2


def test_an_invariant_with_nothing_to_check_reads_not_checked_never_ok() -> None:
    verdict = judge(*group_story([1, 2]))  # nobody marked a conversation read
    marks = verdict.invariants["conversation-marks"]
    assert (marks.state, marks.holds, marks.checked) == ("not checked", False, 0)
    assert verdict.holds and [i.name for i in verdict.not_checked] == ["conversation-marks"]
    assert "--   conversation-marks   not checked" in verdict.lines()
    assert "ok   read-count" in "\n".join(verdict.lines())
    assert verdict.headline() == "every invariant checked holds (not checked: conversation-marks)"
    entry = next(i for i in verdict.to_json()["invariants"] if i["name"] == "conversation-marks")
    assert entry["state"] == "not checked" and entry["behaviours"] == ["C-1"]
    assert verdict.to_json()["notChecked"] == ["conversation-marks"]


def test_a_run_that_checked_nothing_does_not_hold() -> None:
    verdict = judge(Ledger(), PulledState())
    assert not verdict.broken and not verdict.holds
    assert verdict.headline().startswith("NOTHING CHECKED")


def test_no_server_fault_counts_every_call_and_frame_it_checked() -> None:
    ledger, state = group_story([1, 2])
    ledger.count_call("sendMessage")
    ledger.count_call("sendMessageReadReceipts")
    state.calls = 3
    frames = sum(len(c.frames) for c in ledger.connections)
    assert judge(ledger, state).invariants["no-server-fault"].checked == 2 + 3 + frames


def test_a_plain_message_whose_pull_was_refused_has_no_receipt_and_holds() -> None:
    ledger, state = group_story([1, 2])
    ledger.begin_send(Send("r2", SENDER, (READER_A, READER_B), "g1", False))
    ledger.acknowledge_send("r2", "m2")
    for connection in ledger.connections[1:]:  # the readers' feeds
        connection.frames.append(Frame(2, "onRecvNewMessage", (("m2", "r2"),)))
    state.pulled.add("m2")  # asked for; the pull naming it was refused (10062): no receipt
    state.refusals[("getMessageReadReceipts", 10062)] += 1
    verdict = judge(ledger, state)
    assert verdict.holds, verdict.lines()
    assert verdict.invariants["read-count"].checked == 2
    state.receipts["m2"] = {"msgID": "m2", "groupID": "g1", "readCount": 0, "unreadCount": 2}
    assert "read-count" in [i.name for i in judge(ledger, state).broken]


def test_a_refused_batch_changed_nothing_so_a_count_it_moved_breaks_read_count() -> None:
    ledger, state = group_story([1], pulled=1, readers=1)
    ledger.begin_read(READER_B, ["m1"])
    ledger.forget_read(READER_B, ["m1"])  # refused as a whole: it must have changed nothing
    ledger.refusal("sendMessageReadReceipts", 6017)
    assert judge(ledger, state).holds
    state.receipts["m1"]["readCount"], state.receipts["m1"]["unreadCount"] = 2, 0
    assert "read-count" in [i.name for i in judge(ledger, state).broken]


def test_a_lost_update_breaks_read_count_and_names_the_message() -> None:
    # Both readers were acknowledged, the target counts one.
    verdict = judge(*group_story([1, 1], pulled=1))
    assert "read-count" in [i.name for i in verdict.broken]
    example = verdict.invariants["read-count"].examples[0]
    assert (example.message, example.expected, example.seen) == ("m1", "readCount 2", "readCount 1")


def test_an_older_count_after_a_newer_one_breaks_push_monotonic() -> None:
    verdict = judge(*group_story([2, 1]))
    assert [i.name for i in verdict.broken] == ["push-monotonic", "push-final"]
    assert verdict.invariants["push-monotonic"].examples[0].seen == "[2, 1]"


def test_an_in_doubt_reader_brackets_the_count() -> None:
    ledger, state = group_story([1], pulled=1, readers=1)
    ledger.begin_read(READER_B, ["m1"])  # the answer never came
    assert judge(ledger, state).holds
    state.receipts["m1"]["readCount"], state.receipts["m1"]["unreadCount"] = 2, 0
    state.member_lists["m1"] = ([READER_A, READER_B], [])
    assert judge(ledger, state).invariants["read-count"].holds
    ledger.forget_read(READER_B, ["m1"])  # refused after all: 2 is now too many
    assert not judge(ledger, state).invariants["read-count"].holds


def test_a_push_lost_across_a_reconnect_breaks_seq_and_delivery() -> None:
    ledger, state = group_story([1, 2])
    ledger.connections = [c for c in ledger.connections if c.user_id != READER_A]
    ledger.connections.append(Connection(READER_A, 0, [], settled=False))
    # Reconnected with since=0 but the replay began at seq 2: m1 (seq 1) never arrived.
    ledger.connections.append(
        Connection(READER_A, 0, [Frame(2, "onRecvNewMessage", (("m9", "r9"),))], settled=True)
    )
    verdict = judge(ledger, state)
    broken = [i.name for i in verdict.broken]
    assert "seq-gap-free" in broken and "message-once" in broken
    assert verdict.invariants["seq-gap-free"].examples[0].user == READER_A


def test_member_lists_that_do_not_partition_the_recipients_are_named() -> None:
    ledger, state = group_story([1, 2])
    state.member_lists["m1"] = ([READER_A, READER_A], [])
    assert [i.name for i in judge(ledger, state).broken] == ["member-lists"]


def test_an_unsettled_connection_is_named_and_its_feed_not_judged() -> None:
    ledger, state = group_story([1])  # the second push never came ...
    ledger.connections[0].settled = False  # ... because Sam's connection never settled
    assert [i.name for i in judge(ledger, state).broken] == ["push-settled"]


def test_server_faults_break_no_server_fault() -> None:
    ledger, state = group_story([1, 2])
    ledger.fault("sendMessage → HTTP 500: server fault")
    assert [i.name for i in judge(ledger, state).broken] == ["no-server-fault"]


def test_allowed_refusals_are_counted_apart_and_break_nothing() -> None:
    ledger, state = group_story([1, 2])
    ledger.refusal("sendMessage", 90101)
    ledger.refusal("sendMessage", 90101)
    assert judge(ledger, state).holds
    assert ledger.refusals == {("sendMessage", 90101): 2}


def test_ledgers_survive_json_and_merge_into_one_truth() -> None:
    first, _state = group_story([1, 2])
    second = Ledger()
    second.begin_send(Send("r2", READER_A, (SENDER,), None, True))  # in doubt
    second.begin_mark(READER_B, SENDER)
    second.acknowledge_mark(READER_B, SENDER)
    second.count_call("markC2CMessageAsRead")
    second.refusal("getMessageReadReceipts", 10062)
    shipped = [
        Ledger.from_json(json.loads(json.dumps(ledger.to_json()))) for ledger in (first, second)
    ]
    merged = Ledger.merge(shipped)
    assert merged.to_json()["sends"] == [*first.to_json()["sends"], *second.to_json()["sends"]]
    assert merged.marks == {(READER_B, SENDER): 1}
    assert merged.calls == {"markC2CMessageAsRead": 1}
    assert merged.refusals == {("getMessageReadReceipts", 10062): 1}
    assert merged.receipts() == 2
    assert len(merged.connections) == 3
