"""Steps for cross-user security [X-1, X-2, R-7]: what the wrong credential opens, and that a
refused call changes nothing anyone can see.

Requests are made with the wrong credential (none, one never issued, the administrator's key on
a user method, a user's token on an admin method); a ``Watch`` notes what every user of the
scenario can see before a refused call — settings, conversation lists, histories, receipts and
member lists, read through ordinary calls — so a step can say that nothing changed.

One request goes past the harness's typed API, for a reason: the push channel is asked for with a
hand-made WebSocket handshake through ``Target.request_raw`` (a ``since`` that is not an integer,
a credential that is not a user token).
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest

from seenby.harness import (
    AdminClient,
    ApiError,
    ReadFilter,
    RemoteTarget,
    Settings,
    WireResponse,
    get_driver,
)
from seenby.harness.drivers.capabilities import ADMIN_SETTINGS
from seenby.steps.outcomes import JSON
from seenby.steps.phrases import given, then, when
from seenby.steps.world import HISTORY_COUNT_MAX, World

SETTINGS = "the application settings"
"""What the watch calls the settings it notes."""


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
        if ADMIN_SETTINGS in get_driver(world.target.driver_name).capabilities:
            # Through a driver without settings no user can read them: there is nothing to note.
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
                    members = partial(
                        sender.walk_group_message_read_members,
                        message,
                        which,
                        world.page_size_max(),
                    )
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
    headers: a refusal's checked envelope, or code 0 for an accepted upgrade (HTTP 101). A
    throwaway target connection is used, so an accepted upgrade leaves no upgraded socket in a
    pool other steps share."""
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
            "count": world.page_size_max(),
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
