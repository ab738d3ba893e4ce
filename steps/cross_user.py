"""Steps for cross-user security [X-1, X-2, R-7] and for resuming the push channel (§6.1).

Security: requests made with the wrong credential (none, one never issued, the administrator's
key on a user method, a user's token on an admin method), and a ``Watch`` that notes what every
user of the scenario can see before a refused call — settings, conversation lists, histories,
receipts and member lists, read through ordinary calls — so a step can say that nothing changed.

Replay: a ``Chatter`` that keeps sending messages on a background thread while a user switches
connections, a connection that drops without a Close frame, ``since`` values the typed client
cannot express, and a restart of the target.

Two requests go past the harness's typed API, each for a reason: the push channel is asked for
with a hand-made WebSocket handshake through ``Target.request_raw`` (a ``since`` that is not an
integer, a credential that is not a user token); and a dropped connection shuts the push stream's
socket directly, because the harness only closes politely (its ``PushStream`` has no ``drop``).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from itertools import pairwise
from typing import Any

import pytest

from harness import (
    AdminClient,
    ApiError,
    PushStream,
    ReadFilter,
    RemoteTarget,
    Settings,
    UserClient,
    WireResponse,
)
from steps.messaging import delivered_message
from steps.outcomes import JSON
from steps.phrases import given, then, when
from steps.push import wait_for_count
from steps.world import (
    HISTORY_COUNT_MAX,
    MEMBER_LIST_COUNT_MAX,
    NEW_MESSAGE_EVENT,
    World,
)

SETTINGS = "the application settings"
"""What the watch calls the settings it notes."""
LARGEST_SINCE = 2**53
"""The largest replay position a client may ask for (docs/protocol.md §6.1)."""
SINCE_FAULTS = {
    "a negative number": "-1",
    "a fraction": "1.5",
    "a word": "latest",
    "nothing": "",
    "a number beyond 2 to the power 53": str(LARGEST_SINCE + 1),
}
"""Named ``since`` values that are not an integer from 0 to 2^53."""
CHATTER_MAX = 2000
"""Most messages a chatter sends if nobody stops it (a bound for a failing scenario)."""


# -- what users can see, before and after a refused call --------------------------------------


def _seen(probe: Callable[[], object]) -> object:
    """What ``probe`` answers, or which code it was refused with."""
    try:
        return probe()
    except ApiError as error:
        return f"refused with code {error.code}"


@dataclass
class Watch:
    """Readings taken before refused calls, each with the probe that takes it again."""

    probes: dict[str, Callable[[], object]] = field(default_factory=dict)
    noted: dict[str, object] = field(default_factory=dict)

    def note(self, what: str, probe: Callable[[], object]) -> None:
        """Read ``probe`` now and keep it to read again later."""
        self.probes[what] = probe
        self.noted[what] = _seen(probe)

    def note_scene(self, world: World) -> None:
        """Note the settings, and what every user of the scenario sees: its conversation list,
        every group of the scenario, its one-to-one chats, and, as their senders see them, the
        receipts and member lists of every message that needs a receipt."""
        self.note(SETTINGS, world.target.admin.get_settings)
        chats = list({id(chat): chat for chat in world.chats.values()}.values())
        for name, client in world.people.items():
            self.note(f"{name}'s conversation list", client.get_conversation_list)
            for chat in chats:
                if chat.is_group:
                    group_id = chat.group_id()
                    history = partial(
                        client.get_history_message_list, group=group_id, count=HISTORY_COUNT_MAX
                    )
                    self.note(f"{name}'s history of group {group_id}", history)
                elif name in chat.members:
                    peer = chat.peer_of(name)
                    history = partial(
                        client.get_history_message_list,
                        user=world.user(peer),
                        count=HISTORY_COUNT_MAX,
                    )
                    self.note(f"{name}'s chat with {peer}", history)
        for message in world.messages.values():
            if not message.need_read_receipt:
                continue
            sender = world.user(world.name_of(message.sender))
            receipts = partial(sender.get_message_read_receipts, [message])
            self.note(f"the receipt of {message.msg_id}", receipts)
            if message.group_id is not None:
                for which in ReadFilter:
                    members = partial(sender.walk_group_message_read_members, message, which)
                    self.note(f"the {which.name} list of {message.msg_id}", members)

    def changes(self) -> list[str]:
        """Every reading that differs now from what was noted."""
        changed = []
        for what, probe in self.probes.items():
            now = _seen(probe)
            if now != self.noted[what]:
                changed.append(f"{what}: noted {self.noted[what]!r}, now {now!r}")
        return changed

    def put_back_settings(self, admin: AdminClient) -> None:
        """Restore noted settings that a call changed although it should have been refused,
        so one wrong answer does not spoil every later scenario on the target."""
        noted = self.noted.get(SETTINGS)
        if isinstance(noted, Settings) and admin.get_settings() != noted:
            admin.set_settings(
                edition=noted.edition,
                group_receipt_types=list(noted.group_receipt_types),
                group_receipt_max_members=noted.group_receipt_max_members,
                receipt_batch_max=noted.receipt_batch_max,
            )


@pytest.fixture
def watch(world: World) -> Iterator[Watch]:
    """The scenario's readings of what users see."""
    watched = Watch()
    yield watched
    watched.put_back_settings(world.target.admin)


@given("everyone has taken note of what they can see")
def take_note(world: World, watch: Watch) -> None:
    watch.note_scene(world)


@then("everyone still sees exactly what they noted")
def nothing_changed(watch: Watch) -> None:
    changes = watch.changes()
    assert not changes, "a refused call changed what users see:\n" + "\n".join(changes)


# -- requests with the wrong credential -------------------------------------------------------


def bearer(credential: str) -> dict[str, str]:
    """The ``Authorization`` header carrying ``credential``."""
    return {"Authorization": f"Bearer {credential}"}


def admin_key(world: World) -> str:
    """The target's admin key (the suite cannot create users without it)."""
    key = world.target.admin_key
    assert key is not None, f"no admin key for {world.target.url} (--seenby-admin-key)"
    return key


def open_push_channel(world: World, query: str, headers: Mapping[str, str]) -> WireResponse:
    """Ask for ``GET /v1/events<query>`` with a well-formed WebSocket handshake and the given
    headers, expecting a refusal: its checked envelope. A throwaway target connection is used, so
    an upgrade that is wrongly accepted (an answer that is no envelope, which fails the step)
    leaves no upgraded socket in a pool other steps share."""
    handshake = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(secrets.token_bytes(16)).decode("ascii"),
        "Sec-WebSocket-Version": "13",
    }
    with RemoteTarget(world.target.url, None) as bare:
        return bare.request_raw("GET", f"/v1/events{query}", b"", {**handshake, **headers})


Request = Callable[[World, Mapping[str, str]], WireResponse]
"""A request about the scenario, made with the given credential headers."""


def _post(method: str, body: Callable[[World], dict[str, Any]]) -> Request:
    def send(world: World, headers: Mapping[str, str]) -> WireResponse:
        payload = json.dumps(body(world)).encode("utf-8")
        return world.target.post_raw(f"/v1/{method}", payload, {**JSON, **headers})

    return send


def _the_message(world: World) -> str:
    return world.message("the message").msg_id


REQUESTS: dict[str, Request] = {
    "send a message to the group": _post(
        "sendMessage",
        lambda world: {
            "groupID": world.group_chat().group_id(),
            "elem": {"elemType": "text", "text": "hello"},
        },
    ),
    "load the history of the group": _post(
        "getHistoryMessageList",
        lambda world: {"groupID": world.group_chat().group_id(), "count": HISTORY_COUNT_MAX},
    ),
    "list the conversations": _post("getConversationList", lambda world: {}),
    "send a read receipt for the message": _post(
        "sendMessageReadReceipts", lambda world: {"msgIDs": [_the_message(world)]}
    ),
    "pull the read receipts of the message": _post(
        "getMessageReadReceipts", lambda world: {"msgIDs": [_the_message(world)]}
    ),
    "list the members who have read the message": _post(
        "getGroupMessageReadMemberList",
        lambda world: {
            "msgID": _the_message(world),
            "filter": int(ReadFilter.READ),
            "nextSeq": 0,
            "count": MEMBER_LIST_COUNT_MAX,
        },
    ),
    "mark the chat with the message's sender as read": _post(
        "markC2CMessageAsRead", lambda world: {"userID": world.message("the message").sender}
    ),
    "read the application settings": _post("admin/getSettings", lambda world: {}),
    "open the push channel": lambda world, headers: open_push_channel(world, "", headers),
}
"""Named requests, each well-formed but for its credential, so only that can fail them."""


@when("someone tries to {request:text} without any credential")
def without_credential(world: World, request: str) -> None:
    world.record(REQUESTS[request](world, {}))


@when("someone tries to {request:text} with a token the service never issued")
def with_unknown_token(world: World, request: str) -> None:
    world.record(REQUESTS[request](world, bearer(world.unknown_user_id())))


@when("someone tries to {request:text} with the administrator's key")
def with_admin_key(world: World, request: str) -> None:
    world.record(REQUESTS[request](world, bearer(admin_key(world))))


@when("{name:name} tries to switch the application to the standard edition with her own token")
def user_switches_edition(world: World, name: str) -> None:
    world.record(world.user(name).call("admin/setSettings", {"edition": "standard"}))


@when("{name:name} tries to create a user with her own token")
def user_creates_user(world: World, watch: Watch, name: str) -> None:
    client, user_id = world.user(name), world.unknown_user_id()
    # A chat with a user who does not exist is refused (6017); with one who does, it is empty.
    watch.note(
        f"{name}'s chat with {user_id}", partial(client.get_history_message_list, user=user_id)
    )
    world.record(client.call("admin/createUser", {"userID": user_id}))


@when("{name:name} tries to create a group with her own token")
def user_creates_group(world: World, watch: Watch, name: str) -> None:
    client, group_id = world.user(name), world.unknown_group_id()
    watch.note(
        f"{name}'s history of group {group_id}",
        partial(client.get_history_message_list, group=group_id),
    )
    body = {"groupID": group_id, "groupType": "Work", "ownerID": client.user_id, "memberIDs": []}
    world.record(client.call("admin/createGroup", body))


@when("{name:name} tries to add {other:name} to the group with her own token")
def user_adds_member(world: World, name: str, other: str) -> None:
    body = {"groupID": world.group_chat().group_id(), "userIDs": [world.user(other).user_id]}
    world.record(world.user(name).call("admin/addGroupMembers", body))


@when("{name:name} tries to remove {other:name} from the group with her own token")
def user_removes_member(world: World, name: str, other: str) -> None:
    body = {"groupID": world.group_chat().group_id(), "userIDs": [world.user(other).user_id]}
    world.record(world.user(name).call("admin/removeGroupMembers", body))


@when("someone reads the capabilities without any credential")
def read_capabilities(world: World) -> None:
    world.record(world.target.request_raw("GET", "/v1/capabilities"))


@then("the answer names the protocol {protocol:label}")
def names_protocol(world: World, protocol: str) -> None:
    data = world.last_outcome().data
    assert data["protocol"] == protocol, f"expected protocol {protocol!r}: {data}"


# -- messages that keep arriving --------------------------------------------------------------


class Chatter:
    """Plain messages from one user to one chat, sent one after another on a background thread
    until ``stop``: traffic that keeps arriving while the scenario does something else."""

    def __init__(self, client: UserClient, address: Mapping[str, Any], timeout: float) -> None:
        self._client = client
        self._timeout = timeout
        self._address = dict(address)
        self._lock = threading.Lock()
        self._sent: list[str] = []
        self._stopping = threading.Event()
        self._failure: Exception | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"seenby-chatter-{client.user_id}", daemon=True
        )
        self._thread.start()

    @property
    def sent(self) -> list[str]:
        """The IDs of the messages sent so far, in order."""
        with self._lock:
            return list(self._sent)

    def stop(self) -> list[str]:
        """Stop sending; the IDs of every message sent, in order."""
        self._stopping.set()
        self._thread.join(self._timeout)
        assert not self._thread.is_alive(), (
            f"{self._client.user_id} did not stop sending within {self._timeout:g} s"
        )
        if self._failure is not None:
            raise self._failure
        return self.sent

    def _run(self) -> None:
        try:
            for number in range(1, CHATTER_MAX + 1):
                if self._stopping.is_set():
                    return
                message = self._client.send_text(f"chatter {number}", **self._address)
                with self._lock:
                    self._sent.append(message.msg_id)
        except Exception as error:  # raised again by stop(), on the scenario's thread
            self._failure = error


@dataclass
class Switch:
    """A user's move from one push connection to the next while a chatter keeps sending."""

    chatter: Chatter | None = None
    old: list[PushStream] = field(default_factory=list)
    """The connections the user left."""
    new: PushStream | None = None
    """The connection the user moved to."""
    sent_before: int = 0
    """How many messages the chatter knew it had sent once the new connection was open."""

    def running(self) -> Chatter:
        """The chatter the scenario started."""
        assert self.chatter is not None, "the scenario started no one sending"
        return self.chatter

    def reconnect(self, world: World, name: str) -> None:
        """Close ``name``'s connections, then open a new one asking for the events after the
        last one they delivered."""
        self.old = world.devices.pop(name)
        for stream in self.old:
            stream.close()
        world.seq_when_offline[name] = max(e.seq for s in self.old for e in s.events)
        self.new = world.come_online(name, since=world.seq_when_offline[name])
        self.sent_before = len(self.running().sent)

    def sent_after(self) -> list[str]:
        """Messages certainly accepted after the new connection was open: message k may have
        been accepted before it (its answer still on the way), but k + 1 was sent only after
        the answer to k."""
        return self.running().sent[self.sent_before + 1 :]

    def streams(self) -> list[PushStream]:
        """The connections the user left, then the one it moved to."""
        assert self.new is not None, "the user has not switched connections"
        return [*self.old, self.new]


@pytest.fixture
def switch() -> Iterator[Switch]:
    """The scenario's connection switch; a chatter still running at the end is stopped."""
    moving = Switch()
    yield moving
    if moving.chatter is not None:
        moving.chatter.stop()


@given("{sender:name} keeps sending plain messages to the chat")
def keeps_sending(world: World, switch: Switch, sender: str) -> None:
    address = world.address(world.chat_of(sender), sender)
    switch.chatter = Chatter(world.user(sender), address, world.burst_timeout)


@given("{name:name} has received at least {count:int} of them")
def received_some(world: World, name: str, count: int) -> None:
    wait_for_count(world.stream(name), NEW_MESSAGE_EVENT, count)


@when("{name:name} switches to a new connection from the last event she saw")
def switch_connection(world: World, switch: Switch, name: str) -> None:
    switch.reconnect(world, name)


@when("{name:name} receives a message {sender:name} sent after the switch")
def receives_after_switch(world: World, switch: Switch, name: str, sender: str) -> None:
    world.stream(name).wait_for(
        lambda e: e.name == NEW_MESSAGE_EVENT and e.data["msgID"] in switch.sent_after(),
            description=f"a message {sender} sent after the switch",
    )


@when("{:name} stops sending")
def stops_sending(switch: Switch) -> None:
    switch.running().stop()


@then(
    "between her two connections {name:name} received every message {sender:name} sent exactly "
    "once, in order"
)
def received_each_once(switch: Switch, name: str, sender: str) -> None:
    sent, streams = switch.running().sent, switch.streams()
    streams[-1].wait_for(
        lambda e: e.name == NEW_MESSAGE_EVENT and e.data["msgID"] == sent[-1],
            description=f"the last message {sender} sent ({sent[-1]})",
    )
    received = [e.data["msgID"] for s in streams for e in s.events if e.name == NEW_MESSAGE_EVENT]
    missing = [msg_id for msg_id in sent if msg_id not in received]
    repeated = [msg_id for msg_id, times in Counter(received).items() if times > 1]
    assert received == sent, (
        f"{sender} sent {len(sent)} messages, {name} received {len(received)}: missing "
        f"{missing}, repeated {repeated}, or out of order"
    )


@then("the numbering ran on across the switch without a gap or a repeat")
def numbering_ran_on(switch: Switch) -> None:
    seqs = [event.seq for stream in switch.streams() for event in stream.events]
    breaks = [(before, after) for before, after in pairwise(seqs) if after != before + 1]
    assert not breaks, f"seq did not rise by one at {breaks} (first {seqs[0]}, last {seqs[-1]})"


# -- losing and resuming the push channel -----------------------------------------------------


@when("{name:name}'s connection drops without a Close frame")
def connection_drops(world: World, name: str) -> None:
    streams = world.devices.pop(name)
    for stream in streams:
        stream.drop()
    world.seq_when_offline[name] = max(e.seq for s in streams for e in s.events)


@when("{sender:name} sends {count:int} plain messages")
def send_plain_messages(world: World, sender: str, count: int) -> None:
    world.send_batch(sender, count, need_receipt=False)


@given("{name:name} has received the message")
def has_received(world: World, name: str) -> None:
    delivered_message(world, name)


@when("{name:name} comes back online from just past the last event she saw")
def back_online_just_past(world: World, name: str) -> None:
    world.come_online(name, since=world.seq_when_offline[name] + 1)


@when("{name:name} comes back online from the largest event number there is")
def back_online_from_the_largest(world: World, name: str) -> None:
    world.come_online(name, since=LARGEST_SINCE)


@then("it reached {name:name} numbered right after the last event she saw")
def numbered_after_last_seen(world: World, name: str) -> None:
    """Right after the last event before it: the one seen before going offline, or one this
    connection delivered since (such as the fence of an absence proof)."""
    msg_id, events = world.message("the message").msg_id, world.stream(name).events
    positions = [
        i for i, e in enumerate(events) if e.name == NEW_MESSAGE_EVENT and e.data["msgID"] == msg_id
    ]
    assert len(positions) == 1, f"expected {msg_id} once on the connection: {events}"
    (position,) = positions
    last_seen = events[position - 1].seq if position else world.seq_when_offline[name]
    seq = events[position].seq
    assert seq == last_seen + 1, f"expected {msg_id} numbered {last_seen + 1}; got seq {seq}"


@when("{name:name} tries to come online asking for the events after {position:text}")
def try_since(world: World, name: str, position: str) -> None:
    query = f"?since={SINCE_FAULTS[position]}"
    world.record(open_push_channel(world, query, bearer(world.user(name).token)))


@given("the service can be restarted by the suite")
def restartable(world: World) -> None:
    if not world.target.restartable:
        pytest.skip(
            f"{world.target.name} cannot be restarted from the suite, so event numbering across "
            "a restart is not checked"
        )


@when("the service restarts")
def restart(world: World) -> None:
    online = [name for name in world.devices if world.is_online(name)]
    world.target.restart()
    for name in online:
        world.go_offline(name)
