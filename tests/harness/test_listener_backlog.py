"""Push listeners added from the start of a connection miss none of its frames, however the
frames and the listener race."""

from __future__ import annotations

import json
import threading

from seenby.harness.api.models import Event
from seenby.harness.wire.push import EventInbox
from seenby.harness.wire.transport import ViolationLog

FRAMES = 2_000
"""Frames the racing sender delivers (a few milliseconds of work)."""


def _frame(seq: int) -> str:
    receipt = {"msgID": f"m-{seq}", "groupID": "g-1", "readCount": 1, "unreadCount": 0}
    return json.dumps({"event": "onRecvMessageReadReceipts", "seq": seq, "data": [receipt]})


def _inbox() -> EventInbox:
    return EventInbox(owner="alice-1", target="http://127.0.0.1:9", violations=ViolationLog())


def test_a_listener_from_the_start_gets_the_frames_received_before_it_then_the_rest() -> None:
    inbox = _inbox()
    inbox.receive(_frame(1))
    inbox.receive(_frame(2))
    from_start: list[int] = []
    later_only: list[int] = []
    inbox.add_listener(lambda event: from_start.append(event.seq), from_start=True)
    inbox.add_listener(lambda event: later_only.append(event.seq))
    inbox.receive(_frame(3))
    assert from_start == [1, 2, 3]
    assert later_only == [3]


def test_a_listener_added_while_frames_arrive_sees_each_exactly_once_in_order() -> None:
    inbox = _inbox()
    seen: list[int] = []
    start = threading.Barrier(2)

    def deliver() -> None:
        start.wait(10)
        for seq in range(1, FRAMES + 1):
            inbox.receive(_frame(seq))

    sender = threading.Thread(target=deliver)
    sender.start()
    start.wait(10)
    inbox.add_listener(lambda event: seen.append(event.seq), from_start=True)
    sender.join(30)
    assert not sender.is_alive()
    assert seen == list(range(1, FRAMES + 1))


def test_a_listener_added_while_a_frame_is_with_the_earlier_listeners_still_gets_it() -> None:
    # The narrowest window: frame 2 has been handed to the listeners but is not yet kept.
    inbox = _inbox()
    inside, proceed = threading.Event(), threading.Event()

    def slow(event: Event) -> None:
        if event.seq == 2:
            inside.set()
            proceed.wait(5)

    inbox.add_listener(slow)
    inbox.receive(_frame(1))
    sender = threading.Thread(target=inbox.receive, args=(_frame(2),))
    sender.start()
    assert inside.wait(5)
    seen: list[int] = []
    adder = threading.Thread(
        target=inbox.add_listener, args=(lambda event: seen.append(event.seq),),
        kwargs={"from_start": True},
    )  # fmt: skip
    adder.start()
    adder.join(0.1)  # it waits for frame 2 to be kept (or, unordered, would finish at once)
    proceed.set()
    sender.join(5)
    adder.join(5)
    inbox.receive(_frame(3))
    assert seen == [1, 2, 3]


def test_a_failing_listener_from_the_start_fails_the_next_wait_on_a_backlog_event() -> None:
    inbox = _inbox()
    inbox.receive(_frame(1))

    def broken(event: Event) -> None:
        raise ZeroDivisionError("listener bug")

    inbox.add_listener(broken, from_start=True)
    assert len(inbox.failures) == 1 and "ZeroDivisionError" in str(inbox.failures[0])
