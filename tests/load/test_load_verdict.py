"""The load verdict on hand-made ledgers: each invariant holds on a true story and names the
case that breaks it; ledgers survive the trip to the master and merge.

No server: ``judge`` is pure, so each test writes the ledger and the pulled state it needs.
"""

from __future__ import annotations

import json

from seenby.harness.load.ledger import Connection, Frame, Ledger, Send
from seenby.harness.load.verdict import INVARIANTS, PulledState, judge

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
    assert set(verdict.invariants) == set(INVARIANTS)
    assert verdict.invariants["read-count"].checked == 1
    assert verdict.invariants["message-once"].checked >= 2


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


def test_ledgers_survive_json_and_merge_into_one_truth() -> None:
    first, _state = group_story([1, 2])
    second = Ledger()
    second.begin_send(Send("r2", READER_A, (SENDER,), None, True))  # in doubt
    second.begin_mark(READER_B, SENDER)
    second.acknowledge_mark(READER_B, SENDER)
    shipped = [
        Ledger.from_json(json.loads(json.dumps(ledger.to_json()))) for ledger in (first, second)
    ]
    merged = Ledger.merge(shipped)
    assert merged.to_json()["sends"] == [*first.to_json()["sends"], *second.to_json()["sends"]]
    assert merged.marks == {(READER_B, SENDER): 1}
    assert merged.receipts() == 2
    assert len(merged.connections) == 3
