"""Steps about messages: sending them (with or without a read receipt request), receiving
them, history and the conversation list [S-1, S-2, S-4, R-6]."""

from __future__ import annotations

from seenby.steps.phrases import given, then, when
from seenby.steps.world import NEW_MESSAGE_EVENT, Probe, World

# -- sending --------------------------------------------------------------------------------


@given("{sender:name} has sent a message that needs a read receipt")
@when("{sender:name} sends a message that needs a read receipt")
def send_with_receipt(world: World, sender: str) -> None:
    world.send(sender, need_receipt=True)


@given("{sender:name} has sent a plain message")
@when("{sender:name} sends a plain message")
def send_plain(world: World, sender: str) -> None:
    world.send(sender, need_receipt=False)


@given("{sender:name} has sent a message {label:label} that needs a read receipt")
@when("{sender:name} sends a message {label:label} that needs a read receipt")
def send_labelled_with_receipt(world: World, sender: str, label: str) -> None:
    world.send(sender, need_receipt=True, label=label)


@given("{sender:name} has sent a plain message {label:label}")
@when("{sender:name} sends a plain message {label:label}")
def send_labelled_plain(world: World, sender: str, label: str) -> None:
    world.send(sender, need_receipt=False, label=label)


@given("{sender:name} has sent {count:int} messages that need read receipts")
def send_several_with_receipt(world: World, sender: str, count: int) -> None:
    world.send_batch(sender, count)


@given("{sender:name} has sent {count:int} plain messages")
def send_several_plain(world: World, sender: str, count: int) -> None:
    world.send_batch(sender, count, need_receipt=False)


@given("{sender:name} has sent messages {labels:labels} that need read receipts")
def send_labelled_batch(world: World, sender: str, labels: list[str]) -> None:
    world.batch = [world.send(sender, need_receipt=True, label=label) for label in labels]


@given(
    "{sender:name} has sent as many messages as the receipt batch limit, each needing a read "
    "receipt"
)
@when(
    "{sender:name} sends as many messages as the receipt batch limit, each needing a read receipt"
)
def send_batch_limit(world: World, sender: str) -> None:
    world.send_batch(sender, world.limit("receiptBatchMax"))


@given(
    "{sender:name} has sent one message more than the receipt batch limit, each needing a read "
    "receipt"
)
def send_over_batch_limit(world: World, sender: str) -> None:
    world.send_batch(sender, world.limit("receiptBatchMax") + 1)


@when("{sender:name} sends one more message that needs a read receipt")
def send_one_more(world: World, sender: str) -> None:
    world.batch.append(world.send(sender, need_receipt=True))


@when("{sender:name} sends a {kind:elem_kind} message that needs a read receipt")
def send_kind_with_receipt(world: World, sender: str, kind: str) -> None:
    world.send(sender, need_receipt=True, kind=kind)


@when("{sender:name} sends an online-only message that needs a read receipt")
def send_online_only(world: World, sender: str) -> None:
    world.send(sender, need_receipt=True, online_only=True)


@given(
    "{sender:name} has sent {peer:name} a message {label:label} that needs a read receipt "
    "in a {conversation:conversation} of their own"
)
@when(
    "{sender:name} sends {peer:name} a message {label:label} that needs a read receipt "
    "in a {conversation:conversation} of their own"
)
def send_in_own_chat(world: World, sender: str, peer: str, label: str, conversation: str) -> None:
    own = world.start_chat(conversation, [sender, peer], current=False)
    world.send(sender, need_receipt=True, label=label, chat=own)


@when("{sender:name} tries to send a message that needs a read receipt")
def try_send_with_receipt(world: World, sender: str) -> None:
    world.attempt("sendMessage", lambda: world.send(sender, need_receipt=True))


@when("{sender:name} tries to send a message to the group")
def try_send_to_group(world: World, sender: str) -> None:
    def send_to(group_id: str) -> object:
        return world.user(sender).send_text("hello", group=group_id)

    group_id = world.group_chat().group_id()
    world.attempt("sendMessage", lambda: send_to(group_id), Probe(group_id, send_to))


@when("{sender:name} sends a message with the field needReadReciept misspelt")
def send_misspelt_flag(world: World, sender: str) -> None:
    peer = world.user(world.chat_of(sender).peer_of(sender))
    body = {"receiver": peer.user_id, "elem": {"elemType": "text", "text": "hi"}}
    world.record(world.user(sender).call("sendMessage", {**body, "needReadReciept": True}))


@when("{sender:name} sends {peer:name} a message naming {other:name} as its sender")
def send_as_another(world: World, sender: str, peer: str, other: str) -> None:
    body = {"receiver": world.user(peer).user_id, "elem": {"elemType": "text", "text": "hi"}}
    world.record(
        world.user(sender).call("sendMessage", {**body, "sender": world.user(other).user_id})
    )


# -- receiving ------------------------------------------------------------------------------


@then("the message {sender:name} gets back needs a read receipt")
def sent_flag_set(world: World, sender: str) -> None:
    message = world.message("the message")
    assert message.sender == world.user(sender).user_id and message.is_self, message
    assert message.need_read_receipt is True, f"expected needReadReceipt true: {message.raw}"


@then("the message {sender:name} gets back does not need a read receipt")
def sent_flag_clear(world: World, sender: str) -> None:
    message = world.message("the message")
    assert message.sender == world.user(sender).user_id and message.is_self, message
    assert message.need_read_receipt is False, f"expected needReadReceipt false: {message.raw}"


def delivered_message(world: World, name: str) -> dict[str, object]:
    """Wait until ``name`` is pushed "the message"; note the event and return its data."""
    msg_id = world.message("the message").msg_id
    event = world.stream(name).wait_for(
        lambda e: e.name == NEW_MESSAGE_EVENT and e.data["msgID"] == msg_id,
        description=f"{NEW_MESSAGE_EVENT} for {msg_id}",
        event=NEW_MESSAGE_EVENT,
    )
    world.notice(name, event)
    return dict(event.data)


@then("{name:name} receives the message")
def receives(world: World, name: str) -> None:
    delivered_message(world, name)


@then("{name:name} receives the message, marked as needing a read receipt")
def receives_flag_set(world: World, name: str) -> None:
    delivered = delivered_message(world, name)
    assert delivered["needReadReceipt"] is True, f"expected needReadReceipt true: {delivered}"


@then("{name:name} receives the message, marked as not needing a read receipt")
def receives_flag_clear(world: World, name: str) -> None:
    delivered = delivered_message(world, name)
    assert delivered["needReadReceipt"] is False, f"expected needReadReceipt false: {delivered}"


@then("{name:name} receives the message content exactly as {sender:name} sent it")
def receives_content(world: World, name: str, sender: str) -> None:
    sent = world.elems[world.message("the message").msg_id]
    assert delivered_message(world, name)["elem"] == sent, f"expected the elem {sent} as sent"


@then("{name:name} is not sent any message")
def no_new_message(world: World, name: str) -> None:
    world.expect_no_event(name, lambda e: e.name == NEW_MESSAGE_EVENT, "message")


@then("{name:name} is not sent anything")
def no_event(world: World, name: str) -> None:
    world.expect_no_event(name, lambda _: True, "event at all")


# -- history and conversations --------------------------------------------------------------


@when("{name:name} loads the chat history")
def load_history(world: World, name: str) -> None:
    world.history[name] = world.act("getHistoryMessageList", lambda: world.history_of(name))


@then("{name:name} has no messages in the chat")
def empty_history(world: World, name: str) -> None:
    history = world.history_of(name)
    assert history == [], f"expected no messages in {name}'s history, got {history}"


@then("in {name:name}'s history the message needs a read receipt")
def history_flag_set(world: World, name: str) -> None:
    stored = world.as_seen_in_history(name, world.message("the message"))
    assert stored.need_read_receipt is True, f"expected needReadReceipt true: {stored.raw}"


@then("in {name:name}'s history the message does not need a read receipt")
def history_flag_clear(world: World, name: str) -> None:
    stored = world.as_seen_in_history(name, world.message("the message"))
    assert stored.need_read_receipt is False, f"expected needReadReceipt false: {stored.raw}"


@then("the message is not in {name:name}'s history")
def not_in_history(world: World, name: str) -> None:
    msg_id = world.message("the message").msg_id
    stored = [message.msg_id for message in world.history_of(name)]
    assert msg_id not in stored, f"expected {msg_id} not to be stored, {name}'s history: {stored}"


@then("every message in {name:name}'s history is marked as needing a read receipt")
def loaded_history_flags(world: World, name: str) -> None:
    history = world.history[name]
    assert history, f"{name}'s history is empty"
    assert all(message.need_read_receipt for message in history), history


@given("{name:name} has {count:int} unread messages in the chat")
@then("{name:name} has {count:int} unread messages in the chat")
@then("{name:name} has {count:int} unread message in the chat")
def unread_messages(world: World, name: str, count: int) -> None:
    unread = world.unread_count(name)
    assert unread == count, f"expected {name} to have {count} unread, the target says {unread}"


@when("{name:name} looks at his conversation list")
def look_at_conversations(world: World, name: str) -> None:
    world.act("getConversationList", world.user(name).get_conversation_list)


@then("{name:name}'s conversation list is empty")
def no_conversations(world: World, name: str) -> None:
    conversations = world.conversations(name)
    assert conversations == [], f"expected no conversations for {name}, got {conversations}"


@when("{name:name} tries to load the history of the group")
def try_group_history(world: World, name: str) -> None:
    def history(group_id: str) -> object:
        return world.user(name).get_history_message_list(group=group_id)

    group_id = world.group_chat().group_id()
    world.attempt("getHistoryMessageList", lambda: history(group_id), Probe(group_id, history))


@when("{name:name} tries to load the history of a group that does not exist")
def try_unknown_group_history(world: World, name: str) -> None:
    def history(group_id: str) -> object:
        return world.user(name).get_history_message_list(group=group_id)

    group_id = world.unknown_group_id()
    world.attempt("getHistoryMessageList", lambda: history(group_id), Probe(group_id, history))


@when("{name:name} tries to page her chat with {peer:name} from the message")
def try_history_from_message(world: World, name: str, peer: str) -> None:
    def history(msg_id: str) -> object:
        return world.user(name).get_history_message_list(user=world.user(peer), last_msg=msg_id)

    msg_id = world.message("the message").msg_id
    world.attempt("getHistoryMessageList", lambda: history(msg_id), Probe(msg_id, history))
