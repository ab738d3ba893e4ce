"""Setting up what a benchmark measures: users, groups and messages.

Two ways, both unmeasured:

- over the wire (`Admin`, `send_group_messages`): what any client could do, used for the small
  populations of the throughput and push benchmarks;
- in-process (`populate_large_groups`): the reference server's own `ReceiptService` and
  `SqliteStorage` on the database file, before a server process opens it. Creating 100,000
  users and half a million receipts over HTTP would take longer than everything measured, so
  users are inserted in one storage transaction and the READ half of each list is recorded the
  same way; groups and messages still go through the domain's rules.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from bench.wire import KeepAliveConnection
from seenby.reference_server.domain import Caller, ReceiptService
from seenby.reference_server.storage import SqliteStorage
from seenby.reference_server.values import (
    Event,
    GroupChat,
    Profile,
    SettingsChange,
    TextElem,
    now_ms,
)

ADMIN_ID_LIST_MAX = 1_000
"""Most user IDs one admin call may name (docs/protocol.md §1.3)."""


class Admin:
    """Admin calls over one keep-alive connection."""

    def __init__(self, connection: KeepAliveConnection, admin_key: str) -> None:
        self._connection = connection
        self._key = admin_key

    def set_settings(self, **settings: object) -> None:
        """`admin/setSettings` with wire field names (`groupReceiptMaxMembers=...`)."""
        self._connection.call("admin/setSettings", settings, self._key)

    def create_users(self, prefix: str, count: int) -> dict[str, str]:
        """Create `count` users named `<prefix>-<n>`; return their tokens by user ID."""
        tokens = {}
        for index in range(count):
            user_id = f"{prefix}-{index}"
            created = self._connection.call(
                "admin/createUser", {"userID": user_id, "nickName": f"user {index}"}, self._key
            )
            tokens[user_id] = created["token"]
        return tokens

    def create_group(self, owner_id: str, member_ids: Sequence[str]) -> str:
        """Create a Work group (adding members in batches the protocol allows); return its ID."""
        first, rest = member_ids[:ADMIN_ID_LIST_MAX], member_ids[ADMIN_ID_LIST_MAX:]
        group = self._connection.call(
            "admin/createGroup",
            {"groupType": "Work", "ownerID": owner_id, "memberIDs": list(first)},
            self._key,
        )
        group_id: str = group["groupID"]
        for start in range(0, len(rest), ADMIN_ID_LIST_MAX):
            self._connection.call(
                "admin/addGroupMembers",
                {"groupID": group_id, "userIDs": list(rest[start : start + ADMIN_ID_LIST_MAX])},
                self._key,
            )
        return group_id


def send_group_messages(
    connection: KeepAliveConnection, token: str, group_id: str, count: int
) -> list[str]:
    """Send `count` needReadReceipt text messages to a group; return their IDs in order."""
    return [
        connection.call(
            "sendMessage",
            {
                "groupID": group_id,
                "elem": {"elemType": "text", "text": f"bench message {index}"},
                "needReadReceipt": True,
            },
            token,
        )["msgID"]
        for index in range(count)
    ]


class _NobodyListens:
    """Event sink and presence for a service with no push connections (setup only)."""

    def publish(self, events: Sequence[Event]) -> None:
        """Nobody is connected while the database is being populated."""

    def is_online(self, user_id: str) -> bool:
        """Nobody is online while the database is being populated."""
        return False


@dataclass(frozen=True)
class LargeGroup:
    """A group of `recipients` + 1 members and its probe message, half of whose list has read."""

    recipients: int
    group_id: str
    probe_msg_id: str

    @property
    def read(self) -> int:
        """Length of the probe's READ list: every other recipient, from the first."""
        return (self.recipients + 1) // 2

    @property
    def unread(self) -> int:
        """Length of the probe's UNREAD list."""
        return self.recipients // 2


@dataclass(frozen=True)
class LargePopulation:
    """What `populate_large_groups` made: the sender's credentials and one group per size."""

    admin_key: str
    sender_id: str
    sender_token: str
    groups: tuple[LargeGroup, ...]


def populate_large_groups(db_path: str, sizes: Sequence[int]) -> LargePopulation:
    """Create, in the database file, one group per size with that many recipients.

    Members are `member-<n>` with a nickname (so member pages carry profiles). Their tokens are
    never used, so they are stored as random digests. Each group gets one needReadReceipt probe
    message from the owner, and every other recipient in snapshot order has receipted it, so
    the READ and UNREAD lists each hold half of the recipients.
    """
    admin_key = secrets.token_urlsafe(24)
    storage = SqliteStorage(db_path)
    try:
        service = ReceiptService(
            storage, admin_key, sink=_NobodyListens(), presence=_NobodyListens()
        )
        service.set_settings(SettingsChange(group_receipt_max_members=max(sizes) + 1))
        sender = service.create_user("bench-sender", "bench sender")
        member_ids = [f"member-{index}" for index in range(max(sizes))]
        with storage.transaction():
            for index, member_id in enumerate(member_ids):
                storage.insert_user(Profile(member_id, f"member {index}"), secrets.token_hex(32))
        groups = []
        for size in sizes:
            group = service.create_group(f"scale-{size}", "Work", sender.user_id, member_ids[:size])
            probe = service.send_message(
                Caller(sender.user_id),
                GroupChat(group.group_id),
                TextElem(f"probe for {size} recipients"),
                need_read_receipt=True,
            )
            with storage.transaction():
                message = storage.messages([probe.message.msg_id])[probe.message.msg_id]
                read_ms = now_ms()
                for reader in member_ids[:size:2]:
                    counted = storage.record_receipt(message, reader, read_ms)
                    assert counted is not None, f"{reader} is an unread recipient of the probe"
                    message = counted
            groups.append(LargeGroup(size, group.group_id, probe.message.msg_id))
        return LargePopulation(admin_key, sender.user_id, sender.token, tuple(groups))
    finally:
        storage.close()
