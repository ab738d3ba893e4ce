"""Faulty clusters: bugs that only show when several nodes serve one database.

Each variant is the PostgreSQL reference node with one piece replaced, the storage
(``PgStorage``) or the push hub (``ClusterHub``), or with a push hub and the receipt rules
(``ReceiptService``) that together make one mistake, overriding as little as it can to reproduce
a mistake that passes every single-node test: the node's own sockets get the push, the settings
and a group's members are dropped only by the node that wrote them, a sequence number is drawn
from the node's memory, a wake-up is sent before the commit it announces, a push is published
before the receipt it tells of commits (and stays out when it rolls back), a count is rewritten
from what the node read. They are kept in a list of their own, ``CLUSTER_VARIANTS``, and started
as several nodes by ``start_nodes``; ``tests/cluster/test_cluster_variants.py`` runs the suite's
scenarios of each variant's behaviours (``breaks``) across three nodes and requires a failure
there.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from seenby.contract.vocabulary import Code
from seenby.reference_server import RunningServer, Tuning
from seenby.reference_server.cluster_push import ClusterHub
from seenby.reference_server.domain import (
    ON_RECV_MESSAGE_READ_RECEIPTS,
    Caller,
    Presence,
    ReceiptService,
    _receipt,
)
from seenby.reference_server.group_commit import EventSink
from seenby.reference_server.http_api import ReceiptHTTPServer, Timeouts
from seenby.reference_server.pg_storage import (
    EVENTS_CHANNEL,
    PgStorage,
    _with_read_count,
)
from seenby.reference_server.push import PushConnection, frame_text
from seenby.reference_server.storage import Storage
from seenby.reference_server.values import Event, JsonValue, Message, ReceiptError, Settings

from .gallery import DATABASE_ROUND_TRIP_SECONDS

__all__ = ["CLUSTER_VARIANTS", "REFERENCE_NODES", "ClusterVariant", "start_nodes"]


@dataclass(frozen=True)
class ClusterVariant:
    """A node assembled from the PostgreSQL pieces, with at most one of them replaced."""

    name: str
    breaks: tuple[str, ...]
    """The spec behaviours (``P-1``) the bug breaks."""
    bug: str
    storage: type[PgStorage] = PgStorage
    hub: type[ClusterHub] = ClusterHub
    service: type[ReceiptService] = ReceiptService

    def start(self, database: str, admin_key: str) -> RunningServer:
        """Start one node of this variant on 127.0.0.1 and a free port."""
        tuning = Tuning()
        hub = self.hub(database, tuning.push_queue_size, tuning.ping_interval, tuning.idle_timeout)
        storage = self.storage(database, hub.node, event_retention=tuning.event_retention)
        service = self.service(storage, admin_key, sink=hub, presence=hub)
        httpd = ReceiptHTTPServer(
            ("127.0.0.1", 0),
            service,
            hub,
            Timeouts(idle=tuning.idle_timeout, request=tuning.request_timeout),
            tuning.max_connections,
        )
        return RunningServer(httpd, hub, storage, admin_key)


REFERENCE_NODES = ClusterVariant("reference", (), "None: the PostgreSQL reference node.")

CLUSTER_VARIANTS: list[ClusterVariant] = []
"""Every faulty cluster variant."""


def cluster_variant(name: str, *breaks: str) -> type:
    """Register the decorated ``PgStorage`` or ``ClusterHub`` subclass as variant ``name``."""

    def register(piece: type) -> type:
        assert piece.__doc__, f"variant {name} needs a docstring saying what went wrong"
        field = "storage" if issubclass(piece, PgStorage) else "hub"
        bug = " ".join(piece.__doc__.split())
        CLUSTER_VARIANTS.append(ClusterVariant(name, breaks, bug, **{field: piece}))
        return piece

    return register  # type: ignore[return-value]


@contextmanager
def start_nodes(
    variant: ClusterVariant, database: str, nodes: int
) -> Iterator[tuple[list[str], str]]:
    """``nodes`` nodes of ``variant`` on ``database``: yields their URLs and admin key."""
    admin_key = secrets.token_hex(24)
    servers: list[RunningServer] = []
    try:
        for _ in range(nodes):
            servers.append(variant.start(database, admin_key))
        yield [server.url for server in servers], admin_key
    finally:
        for server in servers:
            server.stop()


# -- the variants ------------------------------------------------------------------------------


@cluster_variant("P1_push_only_to_the_writing_nodes_sockets", "P-1")
class LocalFanOut(ClusterHub):
    """Each node pushes what it commits to its own sockets and ignores the other nodes'
    notifications, as a single-process server's in-memory fan-out does: a sender whose push
    connection is on another node than the reader's never hears of the receipt."""

    def _on_notify(self, payload: str) -> None:
        return

    def _offer_through(self, connection: PushConnection, event: Event) -> None:
        connection.offer(frame_text(event))


@cluster_variant("A1_settings_cache_not_invalidated_across_nodes", "A-1")
class NodeSettingsCache(PgStorage):
    """The settings are read once per node and dropped only when that node saves them: after
    the edition is switched through one node, the others go on with the old edition."""

    _cached: Settings | None = None

    def settings(self) -> Settings:
        if self._cached is None:
            self._cached = super().settings()
        return self._cached

    def save_settings(self, settings: Settings) -> None:
        self._cached = None
        super().save_settings(settings)


@cluster_variant("R7_membership_cache_not_invalidated_across_nodes", "R-7")
class NodeMembershipCache(PgStorage):
    """Each node keeps a group's members in memory from the first time it reads them and drops
    them only when it changes that group itself: a member the administrator removed through
    another node can still read, receipt and send through this one, and a member added there
    is still refused here."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._members: dict[str, list[str]] = {}

    def member_ids(self, group_id: str) -> list[str]:
        if group_id not in self._members:
            self._members[group_id] = super().member_ids(group_id)
        return list(self._members[group_id])

    def is_member(self, group_id: str, user_id: str) -> bool:
        return user_id in self.member_ids(group_id)

    def members_among(self, group_id: str, user_ids: Sequence[str]) -> list[str]:
        members = set(self.member_ids(group_id))
        return [user_id for user_id in user_ids if user_id in members]

    def add_members(self, group_id: str, user_ids: Sequence[str]) -> list[str]:
        self._members.pop(group_id, None)
        added = super().add_members(group_id, user_ids)
        self._members.pop(group_id, None)
        return added

    def remove_members(self, group_id: str, user_ids: Sequence[str]) -> list[str]:
        self._members.pop(group_id, None)
        removed = super().remove_members(group_id, user_ids)
        self._members.pop(group_id, None)
        return removed


@cluster_variant("P1_seq_assigned_per_node", "P-1")
class NodeSequence(PgStorage):
    """Each node numbers a user's events from its own memory of the last seq it handed out
    (right for one process, the only writer), and a seq another node already used is simply
    written over: two nodes hand out the same seq, and a connection sees a number twice or
    never."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._seqs: dict[str, int] = {}

    def append_events(
        self, user_ids: Sequence[str], name: str, data: JsonValue, created_ms: int
    ) -> list[Event]:
        events = []
        for user_id in user_ids:
            seq = self._seqs.get(user_id)
            if seq is None:
                seq = self._latest_seq(user_id)
            seq += 1
            self._seqs[user_id] = seq
            self._execute(
                "UPDATE users SET event_seq = greatest(event_seq, %s) WHERE user_id = %s",
                (seq, user_id),
            )
            self._execute(
                "INSERT INTO events (user_id, seq, event, data, created_ms)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (user_id, seq) DO UPDATE"
                " SET event = excluded.event, data = excluded.data, payload = NULL",
                (user_id, seq, name, _encode(data), created_ms),
            )
            self._notified.add(user_id)
            events.append(Event(user_id, seq, name, data))
        return events


@cluster_variant("P1_wake_up_sent_before_commit", "P-1")
class NotifyBeforeCommit(PgStorage):
    """The wake-up for other nodes is sent on a connection of its own as soon as the events are
    written, a database round trip before the transaction commits: the other nodes look, find
    nothing committed yet, and wait for the next wake-up, so the last event of a burst is never
    pushed there (and a rolled-back call's wake-up announces events that never were)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._early = psycopg.connect(self._conninfo, autocommit=True)
        self._early_lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with super().transaction():
            yield
            if self._notified:
                with self._early_lock:
                    self._early.execute(
                        "SELECT pg_notify(%s, %s)", (EVENTS_CHANNEL, self._notify_payload())
                    )
                self._notified.clear()  # so the transaction itself sends none at commit
                time.sleep(DATABASE_ROUND_TRIP_SECONDS)

    def close(self) -> None:
        super().close()
        self._early.close()


@cluster_variant("P3_count_rewritten_from_the_nodes_read", "P-3")
class NodeReadModifyWrite(PgStorage):
    """Each node serialises its own receipts and so writes a message's new count as the count
    it read plus one, with no cluster-wide lock: receipts of one message taken by two nodes at
    once both write the same count, and one of them is lost."""

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._conn.broken or self._conn.closed:
                raise RuntimeError("the database connection is gone")
            self._notified.clear()
            self._execute("BEGIN")
            try:
                yield
                if self._notified:
                    self._execute(
                        "SELECT pg_notify(%s, %s)", (EVENTS_CHANNEL, self._notify_payload())
                    )
                self._execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def record_receipt(self, message: Message, user_id: str, read_ms: int) -> Message | None:
        time.sleep(DATABASE_ROUND_TRIP_SECONDS)  # the node's database is across a network
        read_count = message.read_count + 1
        marked = self._execute(
            "UPDATE recipients SET read_seq = %s, read_ms = %s"
            " WHERE pos = %s AND user_id = %s AND read_seq IS NULL",
            (read_count, read_ms, message.pos, user_id),
        ).rowcount
        if not marked:
            return None
        self._execute(
            "UPDATE messages SET read_count = %s WHERE pos = %s", (read_count, message.pos)
        )
        return _with_read_count(message, read_count)


class WakeUpCarryingTheEvents(ClusterHub):
    """The events a node publishes are sent in a wake-up of their own, at once, and every node
    (this one too) offers what such a wake-up carries in seq order, saving the read of the
    events table for the event a connection expects next."""

    def publish(self, events: Sequence[Event]) -> None:
        payload = json.dumps([event.to_json() | {"userID": event.user_id} for event in events])
        with self._pool.connection() as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (EVENTS_CHANNEL, payload))

    def _on_notify(self, payload: str) -> None:
        if not payload.startswith("["):
            super()._on_notify(payload)  # a commit's own wake-up, naming its users
            return
        with self._delivery:
            for item in json.loads(payload):
                event = Event(item["userID"], item["seq"], item["event"], item["data"])
                for connection in self._connections_of(event.user_id):
                    self._offer_through(connection, event)


class ReceiptsPushedAsCounted(ReceiptService):
    """A receipt batch is applied first and checked after, leaving a refusal to the rollback
    (which keeps the call atomic), and its push is published as soon as it is built, inside the
    transaction: a batch refused for its last message has already told the sender of receipts
    that were rolled back."""

    def __init__(
        self, storage: Storage, admin_key: str, sink: EventSink, presence: Presence
    ) -> None:
        super().__init__(storage, admin_key, sink=sink, presence=presence)
        self._push = sink

    def send_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> None:
        unique_ids = list(dict.fromkeys(msg_ids))

        def work(_: list[Event]) -> None:
            self._check_batch(unique_ids)
            read_ms = self._clock()
            by_sender: dict[str, list[JsonValue]] = {}
            for message in self._storage.messages(unique_ids).values():
                if (
                    message.sender == caller.user_id
                    or not message.need_read_receipt
                    or not self._can_see(caller, message)
                ):
                    continue
                counted = self._storage.record_receipt(message, caller.user_id, read_ms)
                if counted is not None:
                    by_sender.setdefault(message.sender, []).append(
                        _receipt(counted, read_ms).to_json()
                    )
            for sender, receipts in by_sender.items():
                self._push.publish(
                    self._storage.append_events(
                        [sender], ON_RECV_MESSAGE_READ_RECEIPTS, receipts, self._clock()
                    )
                )
            messages = self._batch(caller, unique_ids, own=False)  # refuses as the reference
            if len({message.conversation for message in messages}) > 1:
                raise ReceiptError(
                    Code.INVALID_PARAMETERS, "messages must all be in one conversation"
                )

        self._run(work)


CLUSTER_VARIANTS.append(
    ClusterVariant(
        "P1_push_for_a_receipt_that_was_rolled_back",
        ("P-1",),
        " ".join(f"{ReceiptsPushedAsCounted.__doc__} {WakeUpCarryingTheEvents.__doc__}".split()),
        hub=WakeUpCarryingTheEvents,
        service=ReceiptsPushedAsCounted,
    )
)


def _encode(data: JsonValue) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
