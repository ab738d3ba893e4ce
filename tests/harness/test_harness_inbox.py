"""seenby.harness.wire.push.EventInbox: waiting on pushed events without sleeps, and what failures
say."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from seenby.harness.api.models import Event
from seenby.harness.wire.push import EventInbox, UnexpectedEvent, WaitTimeout
from seenby.harness.wire.transport import ProtocolViolation, ViolationLog
from seenby.harness.wire.validation import SchemaViolation

TARGET = "http://127.0.0.1:9"


def _receipt_frame(seq: int, read: int, unread: int, msg_id: str = "m-1") -> str:
    receipt = {"msgID": msg_id, "groupID": "g-1", "readCount": read, "unreadCount": unread}
    return json.dumps({"event": "onRecvMessageReadReceipts", "seq": seq, "data": [receipt]})


def _inbox(since: int | None = None) -> tuple[EventInbox, ViolationLog]:
    log = ViolationLog()
    return EventInbox(owner="alice-1", target=TARGET, violations=log, since=since), log


def _read_count(event: Event) -> Any:
    return event.receipts[0].read_count if event.receipts else None


def test_wait_for_returns_an_event_already_received() -> None:
    inbox, _ = _inbox()
    inbox.receive(_receipt_frame(1, 1, 1))
    event = inbox.wait_for(lambda e: _read_count(e) == 1, timeout=0)
    assert (event.name, event.seq, event.receipts[0].unread_count) == (
        "onRecvMessageReadReceipts",
        1,
        1,
    )


def test_wait_for_wakes_when_the_event_arrives_from_another_thread() -> None:
    inbox, _ = _inbox()
    ready = threading.Event()

    def deliver() -> None:
        ready.wait()
        inbox.receive(_receipt_frame(1, 1, 1))
        inbox.receive(_receipt_frame(2, 2, 0))

    sender = threading.Thread(target=deliver)
    sender.start()
    ready.set()
    event = inbox.wait_for(lambda e: _read_count(e) == 2, timeout=10)
    sender.join()
    assert event.seq == 2


def test_wait_for_timeout_says_what_was_expected_what_arrived_and_where() -> None:
    inbox, _ = _inbox()
    inbox.receive(_receipt_frame(4, 1, 2))
    inbox.receive(_receipt_frame(5, 2, 1))

    with pytest.raises(WaitTimeout) as caught:
        inbox.wait_for(
            lambda e: _read_count(e) == 3, timeout=0.05, description="m-1 read by 3 members"
        )

    assert str(caught.value).splitlines() == [
        "push stream of alice-1: expected m-1 read by 3 members, but 0.05 s passed "
        "[target http://127.0.0.1:9]",
        "  2 event(s) arrived:",
        "    #4 onRecvMessageReadReceipts [m-1 read 1 unread 2]",
        "    #5 onRecvMessageReadReceipts [m-1 read 2 unread 1]",
    ]
    assert isinstance(caught.value, AssertionError)


def test_wait_for_timeout_with_nothing_received_says_so() -> None:
    inbox, _ = _inbox()
    with pytest.raises(WaitTimeout, match="no events arrived"):
        inbox.wait_for(lambda e: True, timeout=0)


def test_wait_for_stops_waiting_when_the_connection_ends() -> None:
    inbox, _ = _inbox()
    inbox.finish(close_code=1008)
    with pytest.raises(WaitTimeout, match="but the connection closed"):
        inbox.wait_for(lambda e: True, timeout=30)
    assert inbox.closed and inbox.close_code == 1008


def test_long_histories_are_summarised_with_the_latest_events() -> None:
    inbox, _ = _inbox()
    for seq in range(1, 26):
        inbox.receive(_receipt_frame(seq, 1, 1, msg_id=f"m-{seq}"))
    with pytest.raises(WaitTimeout) as caught:
        inbox.wait_for(lambda e: False, timeout=0)
    lines = str(caught.value).splitlines()
    assert lines[1:3] == ["  25 event(s) arrived:", "    ... 5 earlier event(s)"]
    assert lines[3].startswith("    #6 ") and lines[-1].startswith("    #25 ")


def _message_frame(seq: int, msg_id: str) -> str:
    message = {
        "msgID": msg_id,
        "sender": "fence-1",
        "receiver": "alice-1",
        "timestamp": 1,
        "elem": {"elemType": "text", "text": "fence"},
        "needReadReceipt": False,
        "onlineUserOnly": False,
        "isSelf": False,
        "isPeerRead": False,
    }
    return json.dumps({"event": "onRecvNewMessage", "seq": seq, "data": message})


def _fence(inbox: EventInbox, seq: int, *, delay: float = 0.0) -> str:
    """Deliver the fence message as frame ``seq`` (after ``delay`` seconds, from a thread, as a
    socket reader would); its msgID, as ``expect_none``'s fence returns it."""
    frame = _message_frame(seq, f"fence-{seq}")
    threading.Timer(delay, inbox.receive, [frame]).start()
    return f"fence-{seq}"


def test_expect_none_passes_when_nothing_matching_came_before_the_fence() -> None:
    inbox, _ = _inbox()
    inbox.receive(_receipt_frame(1, 1, 0, msg_id="other"))
    inbox.expect_none(lambda e: e.receipts[0].msg_id == "m-1", fence=lambda: _fence(inbox, 2))


def test_expect_none_fails_with_the_unexpected_event() -> None:
    inbox, _ = _inbox()
    inbox.receive(_receipt_frame(3, 1, 0))
    with pytest.raises(UnexpectedEvent) as caught:
        inbox.expect_none(
            lambda e: True,
            fence=lambda: _fence(inbox, 4),
            description="receipt push to Carol",
        )
    assert str(caught.value).startswith(
        "push stream of alice-1: expected no receipt push to Carol, but got "
        "#3 onRecvMessageReadReceipts [m-1 read 1 unread 0]"
    )


def test_a_forbidden_event_that_arrives_late_but_before_the_fence_is_caught() -> None:
    inbox, _ = _inbox()
    threading.Timer(0.2, inbox.receive, [_receipt_frame(1, 1, 0)]).start()
    with pytest.raises(UnexpectedEvent, match="expected no receipt push"):
        inbox.expect_none(
            lambda e: e.name == "onRecvMessageReadReceipts",
            fence=lambda: _fence(inbox, 2, delay=0.3),
            description="receipt push",
        )


def test_a_seq_skipped_before_the_fence_is_a_failure_naming_the_missing_numbers() -> None:
    inbox, _ = _inbox(since=0)
    inbox.timeout = 0.2
    inbox.receive(_receipt_frame(1, 1, 0))
    with pytest.raises(UnexpectedEvent, match=r"seq skipped 2-3, 5: those events never arrived"):
        inbox.expect_none(lambda e: False, fence=lambda: _fence_after_gaps(inbox))


def _fence_after_gaps(inbox: EventInbox) -> str:
    inbox.receive(_receipt_frame(4, 1, 0))
    return _fence(inbox, 6)


def test_a_wait_for_an_event_the_preflight_found_undeliverable_fails_at_once() -> None:
    inbox, _ = _inbox()
    inbox.unavailable["onRecvMessageReadReceipts"] = "the receipt push does not work"
    with pytest.raises(WaitTimeout, match="the preflight found that the receipt push"):
        inbox.wait_for(lambda e: True, timeout=60, event="onRecvMessageReadReceipts")


def test_invalid_frame_is_logged_and_raised_by_the_next_wait() -> None:
    inbox, log = _inbox()
    inbox.receive(_receipt_frame(1, -1, 1))
    assert inbox.events == []
    with pytest.raises(SchemaViolation) as caught:
        inbox.wait_for(lambda e: True, timeout=5)
    assert caught.value.json_path == "$.data[0].readCount"
    assert caught.value.context.payload == "onRecvMessageReadReceipts event to alice-1"
    assert log.snapshot() == [caught.value]
    with pytest.raises(SchemaViolation):
        inbox.expect_none(lambda e: True, fence=lambda: "never-delivered")


def test_non_json_frame_is_a_protocol_violation() -> None:
    inbox, log = _inbox()
    inbox.receive("hello")
    assert isinstance(inbox.failures[0], ProtocolViolation)
    assert len(log.snapshot()) == 1


def test_seq_must_rise_by_one() -> None:
    inbox, _ = _inbox()
    for seq in (7, 8, 10, 10):
        inbox.receive(_receipt_frame(seq, 1, 1))
    assert [(gap.expected, gap.received) for gap in inbox.seq_gaps] == [(9, 10), (11, 10)]


def test_replay_must_start_right_after_since() -> None:
    inbox, _ = _inbox(since=3)
    inbox.receive(_receipt_frame(5, 1, 1))
    assert [(gap.expected, gap.received) for gap in inbox.seq_gaps] == [(4, 5)]


def test_announced_replay_gap_is_not_a_seq_gap() -> None:
    inbox, _ = _inbox(since=3)
    gap = {"event": "onReplayGap", "seq": 9, "data": {"since": 3, "firstAvailableSeq": 10}}
    inbox.receive(json.dumps(gap))
    inbox.receive(_receipt_frame(10, 1, 1))
    assert inbox.seq_gaps == []
    assert inbox.failures == []


def test_replay_gap_seq_must_be_first_available_minus_one() -> None:
    inbox, _ = _inbox(since=3)
    gap = {"event": "onReplayGap", "seq": 4, "data": {"since": 3, "firstAvailableSeq": 10}}
    inbox.receive(json.dumps(gap))
    with pytest.raises(ProtocolViolation, match="firstAvailableSeq - 1"):
        inbox.wait_for(lambda e: True)


def test_listeners_get_each_event_and_their_errors_fail_the_next_wait() -> None:
    inbox, log = _inbox()
    seen: list[int] = []
    inbox.add_listener(lambda event: seen.append(event.seq))

    def broken(event: Event) -> None:
        if event.seq == 2:
            raise ZeroDivisionError("listener bug")

    inbox.add_listener(broken)
    inbox.receive(_receipt_frame(1, 1, 1))
    inbox.receive(_receipt_frame(2, 2, 0))
    assert seen == [1, 2]
    with pytest.raises(AssertionError, match=r"push listener failed on #2 .*ZeroDivisionError"):
        inbox.wait_for(lambda e: True)
    assert log.snapshot() == []  # a listener bug is not the target's contract violation
