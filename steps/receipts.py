"""Steps about read receipts: sending them [R], pulling them [Q], paging the read and unread
member lists [L, M] and the one-to-one conversation read mark [C]."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from seenby.harness import Message, ReadFilter, Receipt, strict_check
from seenby.steps.outcomes import refused_as_a_whole
from seenby.steps.phrases import given, then, when
from seenby.steps.world import World

PULL_OF_PLAIN_ANSWERS_NONE = strict_check(
    "pull-of-plain-answers-none", "§4",
    "a pull of a message sent without needReadReceipt answers no receipt",
)  # fmt: skip
PULL_ANSWERS_EACH_MESSAGE = strict_check(
    "pull-answers-each-message", "§4",
    "a pull answers one receipt per distinct message with receipt information",
)  # fmt: skip
UNSENT_RECEIPT_TIME_ZERO = strict_check(
    "unsent-receipt-time-zero", "§5.2", "the time of a receipt not yet sent"
)

# -- sending receipts -----------------------------------------------------------------------


@given("{reader:name} has sent a read receipt for {messages:refs}")
@when("{reader:name} sends a read receipt for {messages:refs}")
@when("{reader:name} sends read receipts for {messages:refs}")
@when("{reader:name} sends a read receipt for the message again")
def send_receipts(world: World, reader: str, messages: Sequence[str] = ("the message",)) -> None:
    world.send_receipts(reader, world.message_ids(messages))


@when("{reader:name} sends read receipts for all of them")
def send_receipts_for_batch(world: World, reader: str) -> None:
    world.send_receipts(reader, [message.msg_id for message in world.batch])


@when("{reader:name} tries to send a read receipt for the message twice in one call")
def try_send_receipt_twice(world: World, reader: str) -> None:
    msg_id = world.message("the message").msg_id
    world.attempt("sendMessageReadReceipts", lambda: world.send_receipts(reader, [msg_id, msg_id]))


@when("{reader:name} sends read receipts for all of them, one call per message")
def send_receipts_one_by_one(world: World, reader: str) -> None:
    for message in world.batch:
        world.send_receipts(reader, [message.msg_id])


@when("{reader:name} sends read receipts for {messages:refs}, one call per message")
def send_listed_receipts_one_by_one(world: World, reader: str, messages: list[str]) -> None:
    for msg_id in world.message_ids(messages):
        world.send_receipts(reader, [msg_id])


@given("{readers:names} have sent a read receipt for the message")
def several_read(world: World, readers: list[str]) -> None:
    for reader in readers:
        world.send_receipts(reader, [world.message("the message").msg_id])


@given("{count:int} of the other members have sent a read receipt for the message")
def some_others_read(world: World, count: int) -> None:
    several_read(world, world.others_in_group()[:count])


@when("each of the {count:int} other members sends a read receipt for the message in turn")
def others_read_in_turn(world: World, count: int) -> None:
    several_read(world, world.others_in_group()[:count])


@when("all {count:int} other members send a read receipt for the message at the same time")
def others_read_at_once(world: World, count: int) -> None:
    world.read_concurrently(world.others_in_group()[:count], [world.message("the message").msg_id])


@when(
    "all {count:int} other members send read receipts for each of them at the same time, one "
    "call per message"
)
def others_read_batch_at_once(world: World, count: int) -> None:
    world.read_concurrently(world.others_in_group()[:count], [m.msg_id for m in world.batch])


@when("{reader:name} tries to send a read receipt for {messages:refs}")
@when("{reader:name} tries to send read receipts for {messages:refs}")
def try_send_receipts(world: World, reader: str, messages: list[str]) -> None:
    try_receipts_for(world, reader, world.message_ids(messages))


@when("{reader:name} tries to send read receipts for all of them")
def try_send_receipts_for_batch(world: World, reader: str) -> None:
    try_receipts_for(world, reader, [message.msg_id for message in world.batch])


@when("{reader:name} tries to send read receipts for all of them and a message that does not exist")
def try_send_receipts_with_unknown(world: World, reader: str) -> None:
    msg_ids = [message.msg_id for message in world.batch]
    try_receipts_for(world, reader, [*msg_ids, world.unknown_message_id()])


@when("{reader:name} tries to send read receipts for no messages")
def try_send_no_receipts(world: World, reader: str) -> None:
    try_receipts_for(world, reader, [])


def try_receipts_for(world: World, reader: str, msg_ids: list[str]) -> None:
    """Attempt one receipt call; a one-message call can be repeated about an unknown one."""
    world.attempt(
        "sendMessageReadReceipts",
        lambda: world.send_receipts(reader, msg_ids),
        world.probe_messages(msg_ids, lambda ids: world.send_receipts(reader, ids)),
    )


# -- pulling receipts -----------------------------------------------------------------------


@when("{name:name} pulls the read receipts of {messages:refs}")
def pull(world: World, name: str, messages: list[str]) -> None:
    pull_ids(world, name, world.message_ids(messages))


@when("{name:name} pulls the read receipts of all of them")
def pull_batch(world: World, name: str) -> None:
    pull_ids(world, name, [message.msg_id for message in world.batch])


@when("{name:name} pulls the read receipts of the messages in her history")
def pull_history(world: World, name: str) -> None:
    pull_ids(world, name, [message.msg_id for message in world.history[name]])


def pull_ids(world: World, name: str, msg_ids: list[str]) -> None:
    """Pull receipts in one call and keep what was asked and answered."""
    world.pulled_ids = msg_ids
    world.pulled = world.act(
        "getMessageReadReceipts", lambda: world.user(name).get_message_read_receipts(msg_ids)
    )


@when("{name:name} tries to pull the read receipts of {messages:refs}")
def try_pull(world: World, name: str, messages: list[str]) -> None:
    try_pull_ids(world, name, world.message_ids(messages))


@when("{name:name} tries to pull the read receipts of all of them")
def try_pull_batch(world: World, name: str) -> None:
    try_pull_ids(world, name, [message.msg_id for message in world.batch])


@when("{name:name} tries to pull the read receipts of no messages")
def try_pull_nothing(world: World, name: str) -> None:
    try_pull_ids(world, name, [])


def try_pull_ids(world: World, name: str, msg_ids: list[str]) -> None:
    """Attempt one pull, keeping what was asked and, on success, answered; a one-message pull
    can be repeated about an unknown message."""

    def pull_for(ids: list[str]) -> list[Receipt]:
        return world.user(name).get_message_read_receipts(ids)

    world.pulled_ids, world.pulled = msg_ids, []
    world.attempt(
        "getMessageReadReceipts", lambda: pull_for(msg_ids), world.probe_messages(msg_ids, pull_for)
    )
    if world.last_outcome().code == 0:
        world.pulled = world.last_outcome().data


@then(
    "pulling the read receipts of the message gives {name:name} no receipt information, or is "
    "refused (strict: an empty answer)"
)
def pull_gives_nothing(world: World, name: str) -> None:
    """S-3 says such a message has no receipt information, not whether a pull naming it
    answers nothing or is refused: both are core, the reference's empty answer strict."""
    try_pull_ids(world, name, [world.message("the message").msg_id])
    if refused_as_a_whole(world, PULL_OF_PLAIN_ANSWERS_NONE, "code 0 with an empty array"):
        return
    assert world.pulled == [], f"expected no receipt information, got {world.pulled}"


@then("she gets one receipt per message, in the order she asked")
def one_receipt_each(world: World) -> None:
    assert_pulled(world, list(dict.fromkeys(world.pulled_ids)))


@then(
    "she gets receipts for {messages:refs} only, or the whole pull is refused "
    "(strict: the receipts)"
)
@then(
    "she gets receipts for {messages:refs}, in that order, or the whole pull is refused "
    "(strict: the receipts)"
)
def receipts_for_or_refused(world: World, messages: list[str]) -> None:
    """The pull named more than ``messages`` (one sent without needReadReceipt [S-3], or one
    of them twice): answering ``messages`` alone is the reference's choice (strict), refusing
    the whole pull core, provided a pull of exactly ``messages`` then answers them."""
    expected = world.message_ids(messages)
    if not refused_as_a_whole(
        world, PULL_ANSWERS_EACH_MESSAGE, f"code 0 with receipts for {', '.join(messages)}"
    ):
        assert_pulled(world, expected)
        return
    sender = world.name_of(world.message(messages[0]).sender)
    answered = [receipt.msg_id for receipt in world.pull(sender, expected)]
    assert answered == expected, (
        f"the pull was refused as a whole, yet a pull of exactly {expected} answers {answered}"
    )


def assert_pulled(world: World, expected: list[str]) -> None:
    """The last pull answered exactly one receipt for each of ``expected``, in that order."""
    answered = [receipt.msg_id for receipt in world.pulled]
    assert answered == expected, f"expected receipts for {expected}, got them for {answered}"


@then("the receipts say that {reader:name} has read {read:refs} but not {unread:refs}")
def receipts_say(world: World, reader: str, read: list[str], unread: list[str]) -> None:
    by_id = {receipt.msg_id: receipt for receipt in world.pulled}
    for ref, expected in [*((r, True) for r in read), *((r, False) for r in unread)]:
        receipt = by_id[world.message(ref).msg_id]
        assert shows_read(receipt) is expected, f"{ref}: expected read={expected}, got {receipt}"


def shows_read(receipt: Receipt) -> bool:
    """Whether a receipt, pulled or pushed, says its message has been read (by at least one
    member of a group)."""
    if receipt.group_id is not None:
        return (receipt.read_count or 0) > 0
    return receipt.is_peer_read is True


@then("the receipt names the group and the message")
def receipt_names_group(world: World) -> None:
    message = world.message("the message")
    (receipt,) = world.pulled
    assert (receipt.msg_id, receipt.group_id) == (message.msg_id, message.group_id), receipt


@then("it says {read:int} members have read the message and {unread:int} have not")
def receipt_counts(world: World, read: int, unread: int) -> None:
    (receipt,) = world.pulled
    counts = (receipt.read_count, receipt.unread_count)
    assert counts == (read, unread), f"expected read {read} / unread {unread}, got {receipt}"


@then(
    "the receipt names {peer:name} as the peer and says he has not read the message, with no time"
)
def c2c_receipt_unread(world: World, peer: str) -> None:
    (receipt,) = world.pulled
    expected = (world.message("the message").msg_id, world.user(peer).user_id, False)
    actual = (receipt.msg_id, receipt.user_id, receipt.is_peer_read)
    assert actual == expected, f"expected (msgID, userID, isPeerRead) {expected}, got {actual}"
    expect_no_receipt_time(world, receipt)


def expect_no_receipt_time(world: World, receipt: Receipt) -> None:
    """An unread C2C receipt's ``timestamp`` is 0 (strict, §5.2: the spec gives no value)."""
    if receipt.timestamp != 0:
        world.deviate(
            UNSENT_RECEIPT_TIME_ZERO,
            "timestamp 0",
            f"timestamp {receipt.timestamp}",
            "getMessageReadReceipts response",
        )


@then(
    "the receipt names {peer:name} as the peer and says he read the message, no earlier than it "
    "was sent"
)
def c2c_receipt_read(world: World, peer: str) -> None:
    (receipt,) = world.pulled
    assert_c2c_read(receipt, world.message("the message"), world.user(peer).user_id)


def assert_c2c_read(receipt: Receipt, message: Message, peer_id: str) -> None:
    """A C2C receipt saying ``peer_id`` read ``message``, at or after it was sent."""
    expected = (message.msg_id, peer_id, True)
    assert (receipt.msg_id, receipt.user_id, receipt.is_peer_read) == expected, (
        f"expected (msgID, userID, isPeerRead) {expected}, got {receipt}"
    )
    assert (receipt.timestamp or 0) >= message.timestamp, (
        f"receipt time {receipt.timestamp} is before the message was sent ({message.timestamp})"
    )


@then("a pull of the message's receipts agrees with {name:name}'s latest notification")
def pull_agrees_with_push(world: World, name: str) -> None:
    pushed = world.last_notified[name]
    pulled = world.receipt_of(name, world.message("the message"))
    # The documented fields (the dataclass compares those alone): a vendor may add its own.
    assert pulled == pushed, f"pushed {pushed.raw}, then pulled {pulled.raw}"


# -- what the sender sees when it pulls ---------------------------------------------------


@then("{name:name} sees that {read:int} {:members} read {message:ref} and {unread:int} {:has} not")
def sees_counts(world: World, name: str, read: int, message: str, unread: int) -> None:
    receipt = world.receipt_of(name, world.message(message))
    counts = (receipt.read_count, receipt.unread_count)
    assert counts == (read, unread), f"expected read {read} / unread {unread}, got {receipt}"


@then("{name:name} sees that {read:int} members have read each of them and {unread:int} have not")
def sees_counts_of_each(world: World, name: str, read: int, unread: int) -> None:
    receipts = world.pull(name, [message.msg_id for message in world.batch])
    counts = [(receipt.read_count, receipt.unread_count) for receipt in receipts]
    assert counts == [(read, unread)] * len(world.batch), (
        f"expected read {read} / unread {unread} for each message, got {counts}"
    )


@then("{name:name} sees that nobody has read {message:ref}")
def sees_nobody_read(world: World, name: str, message: str) -> None:
    receipt = world.receipt_of(name, world.message(message))
    if receipt.group_id is not None:
        assert receipt.read_count == 0, f"expected nobody to have read it, got {receipt}"
    else:
        assert receipt.is_peer_read is False, f"expected isPeerRead false, got {receipt}"
        expect_no_receipt_time(world, receipt)


@then("{name:name} sees that nobody has read the message and every other member has not")
def sees_all_unread(world: World, name: str) -> None:
    message = world.message("the message")
    recipients = len(world.recipients[message.msg_id])
    sees_counts(world, name, 0, "the message", recipients)


@then("{name:name} sees that exactly 1 recipient has read the message")
def sees_one_reader(world: World, name: str) -> None:
    receipt = world.receipt_of(name, world.message("the message"))
    assert (receipt.read_count == 1) if receipt.group_id else receipt.is_peer_read, receipt


@then("{name:name} sees that {reader:name} has read {messages:refs}")
def sees_reader(world: World, name: str, reader: str, messages: list[str]) -> None:
    assert_read_by(world, name, reader, [world.message(ref) for ref in messages], True)


@then("{name:name} sees that {reader:name} has read every one of them")
def sees_reader_of_all(world: World, name: str, reader: str) -> None:
    assert_read_by(world, name, reader, world.batch, True)


@then("{name:name} sees that {reader:name} has read none of them")
def sees_reader_of_none(world: World, name: str, reader: str) -> None:
    assert_read_by(world, name, reader, world.batch, False)


def assert_read_by(
    world: World, name: str, reader: str, messages: Sequence[Message], expected: bool
) -> None:
    """As the sender ``name`` sees it, ``reader`` has (or has not) read each message: the C2C
    receipt's ``isPeerRead``, or membership of the group message's read list."""
    reader_id = world.user(reader).user_id
    c2c = [message for message in messages if message.group_id is None]
    for receipt in world.pull(name, [message.msg_id for message in c2c]):
        assert receipt.user_id == reader_id and receipt.is_peer_read is expected, (
            f"expected {reader} ({reader_id}) isPeerRead={expected}: {receipt}"
        )
    for message in messages:
        if message.group_id is not None:
            listed = reader_id in world.walk_list(name, message, read=True)
            assert listed is expected, (
                f"expected {reader} {'in' if expected else 'not in'} the read list of "
                f"{message.msg_id}"
            )


# -- member lists ---------------------------------------------------------------------------


@when("{name:name} lists the members who {which:list} the message")
def list_members(world: World, name: str, which: str) -> None:
    message = world.message("the message")
    walk = world.start_walk(name, message, which == "have read", world.page_size_max())
    world.act("getGroupMessageReadMemberList", lambda: world.finish_walk(walk))


@when("{name:name} tries to list the members who {which:list} the message")
def try_list_members(world: World, name: str, which: str) -> None:
    def walk(msg_ids: list[str]) -> object:
        return world.walk_list(name, msg_ids[0], read=which == "have read")

    msg_ids = [world.message("the message").msg_id]
    world.attempt(
        "getGroupMessageReadMemberList",
        lambda: walk(msg_ids),
        world.probe_messages(msg_ids, walk),
    )


@when("{name:name} pages through the members who {which:list} the message, {count:int} at a time")
def page_through(world: World, name: str, which: str, count: int) -> None:
    world.finish_walk(
        world.start_walk(name, world.message("the message"), which == "have read", count)
    )


@when(
    "{name:name} asks for the first page of members who have not read the message, {count:int} at "
    "a time"
)
def first_unread_page(world: World, name: str, count: int) -> None:
    walk = world.start_walk(name, world.message("the message"), False, count)
    world.act("getGroupMessageReadMemberList", lambda: world.next_page(walk))


@when(
    "{name:name} tries to ask for the first page of members who have not read the message, "
    "{count:int} at a time"
)
def try_first_unread_page(world: World, name: str, count: int) -> None:
    walk = world.start_walk(name, world.message("the message"), False, count)
    world.attempt("getGroupMessageReadMemberList", lambda: world.next_page(walk))


@when(
    "{name:name} tries to ask for a page of members with filter {list_filter:int} from position "
    "{position:int}"
)
def try_raw_page(world: World, name: str, list_filter: int, position: int) -> None:
    message = world.message("the message")
    world.attempt(
        "getGroupMessageReadMemberList",
        lambda: world.user(name).get_group_message_read_member_list(message, list_filter, position),
    )


@when(
    "{name:name} takes the first page of the members who {which:list} the message, {count:int} at "
    "a time"
)
def take_first_page(world: World, name: str, which: str, count: int) -> None:
    world.next_page(
        world.start_walk(name, world.message("the message"), which == "have read", count)
    )


@when(
    "meanwhile {listed:int} member already listed and {unlisted:int} members not yet listed read "
    "the message"
)
@when("meanwhile {unlisted:int} members not yet listed read the message")
def read_during_walk(world: World, unlisted: int, listed: int = 0) -> None:
    world.read_during_walk(listed, unlisted)


@when("{name:name} continues the walk to the end")
def continue_walk(world: World, name: str) -> None:
    world.finish_walk(world.current_walk())


@then("the pages hold {count:int} members")
@then("the pages hold {count:int} members, then {rest:int} member")
def page_sizes(world: World, count: int, rest: int | None = None) -> None:
    expected = [count] if rest is None else [count, rest]
    sizes = world.current_walk().page_sizes()
    assert sizes == expected, f"expected pages of {expected} members, got {sizes}"


@then("the walk lists each of those members exactly once")
def walk_lists_each_once(world: World) -> None:
    walk = world.current_walk()
    expected = sorted(world.user(name).user_id for name in walk.list_at_start)
    assert sorted(walk.listed_ids) == expected, (
        f"expected exactly {sorted(walk.list_at_start)}, the walk gave "
        f"{[world.name_of(i) for i in walk.listed_ids]}"
    )


@then("the two walks together list every other member exactly once")
def walks_cover_everyone(world: World) -> None:
    message = world.message("the message")
    listed = sorted(i for walk in world.walks.values() for i in walk.listed_ids)
    expected = sorted(world.user(name).user_id for name in world.recipients[message.msg_id])
    assert listed == expected, f"expected every recipient once: {expected}, got {listed}"


@then("the read walk lists exactly the {count:int} members who sent a receipt")
def read_walk_is_readers(world: World, count: int) -> None:
    readers = world.readers[world.message("the message").msg_id]
    listed = world.walks[ReadFilter.READ].listed_ids
    assert len(readers) == count and sorted(listed) == sorted(
        world.user(n).user_id for n in readers
    ), f"expected the readers {readers}, the read walk gave {[world.name_of(i) for i in listed]}"


@then("the walk lists no member twice")
def walk_has_no_duplicates(world: World) -> None:
    repeated = [i for i, times in Counter(world.current_walk().listed_ids).items() if times > 1]
    assert not repeated, f"the walk listed {[world.name_of(i) for i in repeated]} more than once"


@then("the walk lists every member who stayed unread throughout")
@then("the walk lists every member who had read before the walk began")
def walk_misses_nobody(world: World) -> None:
    walk = world.current_walk()
    stayed = [name for name in walk.list_at_start if name not in walk.read_meanwhile]
    missed = [n for n in stayed if world.user(n).user_id not in walk.listed_ids]
    assert not missed, f"the walk skipped {missed}, who stayed in the list throughout"


@then("the members who have read the message are {names:names}, in that order")
def read_list_in_order(world: World, names: list[str]) -> None:
    listed = world.names_listed(world.sender_name(), world.message("the message"), read=True)
    assert listed == names, f"expected the read list {names}, got {listed}"


@then("the members who have read the message are {names:names}")
def read_list_is(world: World, names: list[str]) -> None:
    listed = world.names_listed(world.sender_name(), world.message("the message"), read=True)
    assert sorted(listed) == sorted(names), f"expected the read list {names}, got {listed}"


@then("the members who have not read the message are {names:names}")
def unread_list_is(world: World, names: list[str]) -> None:
    listed = world.names_listed(world.sender_name(), world.message("the message"), read=False)
    assert sorted(listed) == sorted(names), f"expected the unread list {names}, got {listed}"


@then("the members who have not read the message are all {count:int} other members")
def unread_is_everyone(world: World, count: int) -> None:
    others = world.others_in_group()
    listed = world.names_listed(world.sender_name(), world.message("the message"), read=False)
    assert len(others) == count and sorted(listed) == sorted(others), (
        f"expected all {count} other members unread, got {listed}"
    )


@then("nobody is listed as having read the message")
def read_list_empty(world: World) -> None:
    listed = world.names_listed(world.sender_name(), world.message("the message"), read=True)
    assert listed == [], f"expected an empty read list, got {listed}"


@then("each listed member carries its user ID and its nickname")
def members_carry_profile(world: World) -> None:
    for member in world.current_walk().members:
        name = world.name_of(member.user_id)
        assert name in world.people and member.nick_name == name.lower(), (
            f"expected a known userID with nickName {name.lower()!r}, got {member.raw}"
        )


@then("{name:name} is listed with the profile picture {url:label}")
def listed_with_picture(world: World, name: str, url: str) -> None:
    user_id = world.user(name).user_id
    (member,) = [m for m in world.current_walk().members if m.user_id == user_id]
    assert member.face_url == url, f"expected faceURL {url!r} for {name}, got {member.raw}"


@then("{name:name} is in neither member list of the message")
def in_neither_list(world: World, name: str) -> None:
    sender, message = world.sender_name(), world.message("the message")
    listed = world.walk_list(sender, message, True) + world.walk_list(sender, message, False)
    assert world.user(name).user_id not in listed, f"{name} is listed, but joined after sending"


@given("{name:name} has noted the members who have not read the message")
def note_unread_list(world: World, name: str) -> None:
    world.noted_list = world.names_listed(name, world.message("the message"), read=False)


@then("the members who have not read the message are the same as before, in the same order")
def unread_list_unchanged(world: World) -> None:
    listed = world.names_listed(world.sender_name(), world.message("the message"), read=False)
    assert listed == world.noted_list, f"the unread list was {world.noted_list}, now {listed}"


# -- the one-to-one conversation read mark ------------------------------------------------


@given("{name:name} has marked the chat as read")
@when("{name:name} marks the chat as read")
def mark_chat_read(world: World, name: str) -> None:
    world.user(name).mark_c2c_message_as_read(world.user(world.chat_of(name).peer_of(name)))


@when("{name:name} marks his chat with {peer:name} as read")
def mark_chat_with_read(world: World, name: str, peer: str) -> None:
    world.user(name).mark_c2c_message_as_read(world.user(peer))


@when("{name:name} tries to mark as read his chat with himself")
def try_mark_self(world: World, name: str) -> None:
    client = world.user(name)
    world.attempt("markC2CMessageAsRead", lambda: client.mark_c2c_message_as_read(client))


@when("{name:name} tries to mark as read his chat with a user who does not exist")
def try_mark_unknown(world: World, name: str) -> None:
    peer_id = world.unknown_user_id()
    world.attempt(
        "markC2CMessageAsRead", lambda: world.user(name).mark_c2c_message_as_read(peer_id)
    )


@then("in {name:name}'s history {messages:refs} are read by {peer:name}")
def peer_read_in_history(world: World, name: str, messages: list[str], peer: str) -> None:
    for ref in messages:
        stored = world.as_seen_in_history(name, world.message(ref))
        assert stored.is_peer_read is True, f"{ref}: expected isPeerRead true, got {stored.raw}"


@then("in {name:name}'s history {messages:refs} is not read by {peer:name}")
def peer_unread_in_history(world: World, name: str, messages: list[str], peer: str) -> None:
    for ref in messages:
        stored = world.as_seen_in_history(name, world.message(ref))
        assert stored.is_peer_read is False, f"{ref}: expected isPeerRead false, got {stored.raw}"


@then("in {name:name}'s history no message shows as read by its peer")
def no_peer_read_in_history(world: World, name: str) -> None:
    marked = [m.raw for m in world.history_of(name) if m.is_peer_read]
    assert not marked, f"expected isPeerRead false on messages {name} did not send: {marked}"
