"""Steps for resuming the push channel (docs/protocol.md §6.1): a ``Chatter`` that keeps sending
messages on a background thread while a user switches connections, a connection that drops
without a Close frame, ``since`` values the typed client cannot express, and a restart of the
target.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import pytest

from seenby.harness import (
    PushStream,
    UserClient,
)
from seenby.steps.messaging import delivered_message
from seenby.steps.phrases import given, then, when
from seenby.steps.push import wait_for_count
from seenby.steps.security import bearer, open_push_channel
from seenby.steps.world import (
    NEW_MESSAGE_EVENT,
    World,
)

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
