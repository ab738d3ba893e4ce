"""Steps about what the push channel tells a user: read receipt notifications [P], the
conversation read mark [C-1], event numbering and replay after a reconnect (protocol §6)."""

from __future__ import annotations

from seenby.harness import PushStream, strict_check
from seenby.steps.outcomes import refused_as_a_whole
from seenby.steps.phrases import given, then
from seenby.steps.receipts import assert_c2c_read, sees_counts, shows_read
from seenby.steps.world import MARK_EVENT, NEW_MESSAGE_EVENT, RECEIPTS_EVENT, World

REPEAT_IN_BATCH_COUNTED_ONCE = strict_check(
    "repeat-in-batch-counted-once", "§4", "a receipt call naming a message twice counts it once"
)
MARK_IS_PEER_READ = strict_check(
    "mark-is-peer-read", "§5.2", "a conversation read mark carries isPeerRead true"
)

# -- read receipt notifications -------------------------------------------------------------


@then(
    "{name:name} is notified that {read:int} {:members} read {message:ref} and {unread:int} "
    "{:has} not"
)
def notified_counts(world: World, name: str, read: int, message: str, unread: int) -> None:
    target = world.message(message)
    world.wait_for_receipts(
        name,
        lambda r: (
            (r.msg_id, r.group_id, r.read_count, r.unread_count)
            == (target.msg_id, target.group_id, read, unread)
        ),
        f"a receipt for {target.msg_id} with readCount {read} and unreadCount {unread}",
        timeout=world.burst_timeout,
    )


@then("{name:name} is notified that {reader:name} has read the message")
def notified_c2c_reader(world: World, name: str, reader: str) -> None:
    message, reader_id = world.message("the message"), world.user(reader).user_id
    receipt = world.wait_for_receipts(
        name,
        lambda r: r.msg_id == message.msg_id and r.user_id == reader_id,
        f"a receipt for {message.msg_id} from {reader_id}",
    )
    assert_c2c_read(receipt, message, reader_id)


@given("{name:name} has been notified that the message has been read")
@then("{name:name} is notified that the message has been read")
def notified_read(world: World, name: str) -> None:
    msg_id = world.message("the message").msg_id
    world.wait_for_receipts(name, lambda r: r.msg_id == msg_id and shows_read(r), f"{msg_id} read")


@then("each of {name:name}'s devices is notified that the message has been read")
def every_device_notified(world: World, name: str) -> None:
    msg_id = world.message("the message").msg_id
    for device in world.devices[name]:
        world.wait_for_receipts(
            name, lambda r: r.msg_id == msg_id and shows_read(r), f"{msg_id} read", stream=device
        )


@given("{name:name} has been notified of read receipts for {messages:refs} only")
@then("{name:name} is notified of read receipts for {messages:refs} only")
def notified_exactly(world: World, name: str, messages: list[str]) -> None:
    expected = world.message_ids(messages)
    after = world.noted_seq.get(name, -1)
    event = world.stream(name).wait_for(
        lambda e: (
            e.name == RECEIPTS_EVENT
            and e.seq > after
            and any(r.msg_id in expected for r in e.receipts)
        ),
        description=f"{RECEIPTS_EVENT} for {expected}",
        event=RECEIPTS_EVENT,
    )
    world.notice(name, event)
    pushed = [receipt.msg_id for receipt in event.receipts]
    assert sorted(pushed) == sorted(expected), (
        f"expected one notification holding receipts for exactly {expected}, got {event.summary()}"
    )


@then("{name:name} is not notified of any read receipt")
def never_notified(world: World, name: str) -> None:
    world.expect_no_event(name, lambda e: e.name == RECEIPTS_EVENT, RECEIPTS_EVENT)


@then("{name:name} is not notified again")
def not_notified_again(world: World, name: str) -> None:
    after = world.noted_seq.get(name, -1)
    world.expect_no_event(
        name,
        lambda e: e.name == RECEIPTS_EVENT and e.seq > after,
        f"{RECEIPTS_EVENT} after #{after}",
    )


@then(
    "the call counts {reader:name}'s receipt once, or is refused and changes nothing "
    "(strict: counts it once)"
)
def counted_once_or_refused(world: World, reader: str) -> None:
    """A receipt call naming one group message twice: R-5 makes a repeat change nothing, and
    the spec does not say whether a batch may repeat a message. Counting it once is the
    reference's choice (strict); refusing the call is core if the refusal applied nothing: no
    notification behind a fence, no count."""
    message = world.message("the message")
    sender = world.name_of(message.sender)
    recipients = len(world.recipients[message.msg_id])
    if refused_as_a_whole(world, REPEAT_IN_BATCH_COUNTED_ONCE, "code 0, the receipt counted once"):
        never_notified(world, sender)
        sees_counts(world, sender, 0, "the message", recipients)
        return
    notified_counts(world, sender, 1, "the message", recipients - 1)
    sees_counts(world, sender, 1, "the message", recipients - 1)


@then("the notification carries the time of {reader:name}'s receipt, no earlier than the message")
def notification_time(world: World, reader: str) -> None:
    message = world.message("the message")
    (receipt,) = [r for r in world.last_notified.values() if r.msg_id == message.msg_id]
    assert_c2c_read(receipt, message, world.user(reader).user_id)


@then("the read counts {name:name} was notified of never went backwards")
def counts_never_backwards(world: World, name: str) -> None:
    pushed = world.receipt_events(name, world.message("the message").msg_id)
    reads = [receipt.read_count or 0 for receipt in pushed]
    unreads = [receipt.unread_count or 0 for receipt in pushed]
    assert reads == sorted(reads) and unreads == sorted(unreads, reverse=True), (
        f"counts went backwards: readCount {reads}, unreadCount {unreads}"
    )


@then("the read counts {name:name} was notified of were {counts:ints}")
def counts_were(world: World, name: str, counts: list[int]) -> None:
    pushed = world.receipt_events(name, world.message("the message").msg_id)
    reads = [receipt.read_count for receipt in pushed]
    assert reads == counts, f"expected readCount {counts} in turn, got {reads}"


# -- the conversation read mark -------------------------------------------------------------


@given("{name:name} has been notified that {reader:name} marked the chat as read")
@then(
    "{name:name} is notified that {reader:name} marked the chat as read, no earlier than her last "
    "message"
)
def notified_of_mark(world: World, name: str, reader: str) -> None:
    reader_id, after = world.user(reader).user_id, world.noted_seq.get(name, -1)
    event = world.stream(name).wait_for(
        lambda e: e.name == MARK_EVENT and e.seq > after and e.receipts[0].user_id == reader_id,
        description=f"{MARK_EVENT} from {reader_id}",
        event=MARK_EVENT,
    )
    world.notice(name, event)
    (mark,) = event.receipts
    sent = world.message("the message").timestamp
    assert mark.msg_id == "" and (mark.timestamp or 0) >= sent, (
        f"expected a mark with msgID '' and timestamp ≥ {sent}: {mark.raw}"
    )
    # The SDK's callback carries only the peer and the time [T §1]: isPeerRead is strict (§5.2).
    if mark.is_peer_read is not True:
        world.deviate(
            MARK_IS_PEER_READ, "isPeerRead: true",
            f"isPeerRead: {mark.raw.get('isPeerRead', '(absent)')}", f"{MARK_EVENT} event",
        )  # fmt: skip


@then("{name:name} is not told of any chat marked as read")
def never_told_of_mark(world: World, name: str) -> None:
    world.expect_no_event(name, lambda e: e.name == MARK_EVENT, MARK_EVENT)


# -- numbering and replay -------------------------------------------------------------------


@then("each of {name:name}'s devices is notified of {count:int} read receipt events")
def every_device_counts(world: World, name: str, count: int) -> None:
    for device in world.devices[name]:
        wait_for_count(device, RECEIPTS_EVENT, count)


def wait_for_count(stream: PushStream, name: str, count: int) -> None:
    """Wait until ``stream`` has delivered ``count`` events called ``name``."""
    stream.wait_for(
        lambda _: sum(event.name == name for event in stream.events) >= count,
        description=f"{count} {name} events",
        event=name,
    )


@then("{name:name}'s devices saw the same events with the same sequence numbers, rising by one")
def devices_agree(world: World, name: str) -> None:
    first, *others = [[event.raw for event in device.events] for device in world.devices[name]]
    seqs = [event["seq"] for event in first]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"seq not consecutive: {seqs}"
    for other in others:
        assert other == first, f"devices disagree:\n{first}\n{other}"


@then(
    "{name:name} receives the {count:int} missed notifications in order, numbered right after the "
    "last one she saw"
)
def replayed_missed(world: World, name: str, count: int) -> None:
    stream, last = world.stream(name), world.seq_when_offline[name]
    stream.wait_for(lambda _: len(stream.events) >= count, description=f"{count} replayed events")
    replayed = stream.events[:count]
    assert [e.seq for e in replayed] == list(range(last + 1, last + 1 + count)), replayed
    assert all(e.name == RECEIPTS_EVENT for e in replayed), replayed
    world.notice(name, replayed[-1])


@then("{name:name}'s stream shows every event exactly once with no gap in the numbering")
def stream_without_gaps(world: World, name: str) -> None:
    stream = world.stream(name)
    seqs = [event.seq for event in stream.events]
    assert not stream.seq_gaps and len(seqs) == len(set(seqs)), (
        f"seq gaps {stream.seq_gaps} or repeats in {seqs}"
    )


@then(
    "{name:name} receives the {count:int} messages {sender:name} sent, in order, with consecutive "
    "numbers"
)
def replayed_from_start(world: World, name: str, count: int, sender: str) -> None:
    stream = world.stream(name)
    stream.wait_for(lambda _: len(stream.events) >= count, description=f"{count} replayed events")
    events = stream.events
    sent = [message.msg_id for message in world.batch]
    got = [(e.name, e.data.get("msgID") if isinstance(e.data, dict) else None) for e in events]
    assert got == [(NEW_MESSAGE_EVENT, i) for i in sent], (
        f"expected {NEW_MESSAGE_EVENT} for {sent}, got {[e.summary() for e in events]}"
    )
    assert not stream.seq_gaps and [e.seq for e in events] == list(
        range(events[0].seq, events[0].seq + count)
    ), [e.seq for e in events]


@then("{name:name} receives no event")
def receives_nothing(world: World, name: str) -> None:
    world.expect_no_event(name, lambda _: True, "event at all")
