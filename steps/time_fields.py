"""Steps for plausible time fields: milliseconds since the epoch, inside the run's own time
window, and in the order of the calls that made them [V-1, P-2, Q-2, C-1].

docs/protocol.md §1: "Timestamps are integer milliseconds since the Unix epoch". A schema cannot
tell seconds (10 digits) or a frozen clock from milliseconds; the suite's own clock can. The
window is the suite's time when the scenario noted it to the time of the check, widened by
``CLOCK_SKEW_MS`` each way for a target whose clock is not the suite's; a time in seconds or
microseconds is off by a factor of a thousand, a frozen clock by far more than the allowance.
Order needs no allowance: the times come from one target. Equal times are in order (two calls
may fall in one millisecond).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import pytest

from seenby.harness import Message
from seenby.steps.phrases import then, when
from seenby.steps.world import MARK_EVENT, NEW_MESSAGE_EVENT, World

CLOCK_SKEW_MS = 300_000
"""How far a target's clock may be from the suite's (five minutes) before its times are taken
for wrong ones."""


PAUSE_SECONDS = 0.005
"""The pause between calls whose times must differ."""


def now_ms() -> int:
    """The suite's clock, in milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


@dataclass
class MessageTimes:
    """Every time field the scenario read about one message, by where it was read."""

    label: str
    sent: int | None = None
    delivered: int | None = None
    in_history: int | None = None
    read_pushed: int | None = None
    read_pulled: int | None = None

    def fields(self) -> dict[str, int | None]:
        """Each time, named for a person."""
        return {
            f'"{self.label}" as sent': self.sent,
            f'"{self.label}" as delivered': self.delivered,
            f'"{self.label}" in its sender\'s history': self.in_history,
            f'the read time of "{self.label}" as pushed': self.read_pushed,
            f'the read time of "{self.label}" as pulled': self.read_pulled,
        }


@dataclass
class TimeWindow:
    """When the scenario noted the time, and the time fields it read since."""

    start_ms: int | None = None
    messages: list[MessageTimes] = field(default_factory=list)
    mark: int | None = None

    def fields(self) -> dict[str, int | None]:
        """Every time read, named for a person."""
        named = {name: value for times in self.messages for name, value in times.fields().items()}
        return {**named, "the chat's read mark as pushed": self.mark}


@pytest.fixture
def time_window() -> TimeWindow:
    """The scenario's noted time and the time fields it read."""
    return TimeWindow()


@when("the suite notes the time")
def note_the_time(time_window: TimeWindow) -> None:
    time_window.start_ms = now_ms()


@when("a few milliseconds pass")
def a_few_milliseconds_pass() -> None:
    """Long enough that calls before and after fall in different milliseconds, so a time
    taken from the wrong call shows as out of order."""
    time.sleep(PAUSE_SECONDS)


def _times_of(world: World, message: Message, label: str, reader: str) -> MessageTimes:
    """Every time of ``message``: as sent, as pushed to ``reader``, in the sender's history,
    and its read time by ``reader`` as pushed to and pulled by the sender."""
    sender, reader_id = world.name_of(message.sender), world.user(reader).user_id
    delivered = world.stream(reader).wait_for(
        lambda e: e.message is not None and e.message.msg_id == message.msg_id,
        description=f"{NEW_MESSAGE_EVENT} of {message.msg_id}",
        event=NEW_MESSAGE_EVENT,
    )
    pushed = world.wait_for_receipts(
        sender,
        lambda r: r.msg_id == message.msg_id and r.user_id == reader_id,
        f"the receipt of {message.msg_id} by {reader_id}",
    )
    return MessageTimes(
        label,
        sent=message.timestamp,
        delivered=delivered.message.timestamp if delivered.message is not None else None,
        in_history=world.as_seen_in_history(sender, message).timestamp,
        read_pushed=pushed.timestamp,
        read_pulled=world.receipt_of(sender, message).timestamp,
    )


@then(
    "every time {sender:name} and {reader:name} were given is in milliseconds since the epoch, "
    "between the noted time and now"
)
def times_in_window(world: World, time_window: TimeWindow, sender: str, reader: str) -> None:
    start = time_window.start_ms
    assert start is not None, "the scenario must say 'the suite notes the time' first"
    time_window.messages = [
        _times_of(world, message, label, reader) for label, message in world.labelled.items()
    ]
    reader_id = world.user(reader).user_id
    mark = world.stream(sender).wait_for(
        lambda e: e.name == MARK_EVENT and e.receipts[0].user_id == reader_id,
        description=f"{MARK_EVENT} from {reader_id}",
        event=MARK_EVENT,
    )
    time_window.mark = mark.receipts[0].timestamp
    low, high = start - CLOCK_SKEW_MS, now_ms() + CLOCK_SKEW_MS
    wrong = [
        f"{what}: {value!r}"
        for what, value in time_window.fields().items()
        if not isinstance(value, int) or not low <= value <= high
    ]
    assert not wrong, (
        f"time fields outside {low}..{high} (the scenario's time in ms since the epoch, "
        f"±{CLOCK_SKEW_MS // 1000} s for clock skew):\n" + "\n".join(wrong)
    )


@then(
    "the times follow the order of the calls: each message is read after it was sent, the "
    "messages in the order sent and read, the chat marked last"
)
def times_in_order(time_window: TimeWindow) -> None:
    messages = time_window.messages
    assert messages, "the times must be read first"
    pairs: list[tuple[str, int | None, str, int | None]] = []
    for times in messages:
        for read in (times.read_pushed, times.read_pulled):
            pairs.append((f'"{times.label}" as sent', times.sent, "its read time", read))
        pairs.append(("its read time", times.read_pushed, "the chat's mark", time_window.mark))
    for earlier, later in itertools.pairwise(messages):
        pairs.append((f'"{earlier.label}" as sent', earlier.sent, "the next one", later.sent))
        pairs.append(
            (f'"{earlier.label}" read', earlier.read_pushed, "the next one", later.read_pushed)
        )
    backwards = [
        f"{first} ({first_time}) is later than {then_what} ({then_time})"
        for first, first_time, then_what, then_time in pairs
        if (first_time or 0) > (then_time or 0)
    ]
    assert not backwards, "times out of the order of the calls:\n" + "\n".join(backwards)
