"""Push across nodes: one node's push connections get every node's events, by seq, from the table.

``ClusterHub`` is the ``PushHub`` of a node on PostgreSQL (``pg_storage.py``). It keeps, for each
of its connections, the last seq it has offered, and offers only the next one: an event this
node committed goes out directly when it is next; otherwise the missing ones are read from the
``events`` table first (a user's seqs commit in order, so when seq n is committed all before it
are). Another node's commit reaches it as a ``NOTIFY`` naming the users (sent by the committing
transaction, delivered by PostgreSQL only after the commit): a hint to read those users' events
after their connections' last seqs. Ordering and gap-freedom come from the seqs in the table,
never from when a notification arrives; a lost notification (the database restarted) is made
good by reading every connection's events once the listener is back.

Presence [S-4] is cluster-wide: each node counts its connections per user in ``push_presence``,
and a node's rows count only while the node holds its liveness lock (see ``pg_storage.py``), so
a killed node's users stop being online when its database session ends.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from seenby.reference_server.pg_storage import (
    EVENTS_CHANNEL,
    LIVE_NODES_SQL,
    NODE_LOCK_CLASS,
    committed_events,
    connect,
    create_schema,
    latest_seq,
)
from seenby.reference_server.push import (
    CLOSE_POLICY_VIOLATION,
    IDLE_TIMEOUT,
    PING_INTERVAL,
    QUEUE_SIZE,
    PushConnection,
    PushHub,
    frame_text,
)
from seenby.reference_server.values import Event, Replay

log = logging.getLogger("seenby.reference_server")

_RECONNECT_PAUSE_SECONDS = 0.5


class ClusterHub(PushHub):
    """A node's push hub: every node's events for this node's connections (see the module doc).

    Constructing it creates or migrates the schema, draws this node's number (``node``) and
    takes the node's liveness lock on the listening connection.
    """

    def __init__(
        self,
        conninfo: str,
        queue_size: int = QUEUE_SIZE,
        ping_interval: float = PING_INTERVAL,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        super().__init__(queue_size, ping_interval, idle_timeout)
        self._conninfo = conninfo
        self._delivery = threading.Lock()
        self._last: dict[PushConnection, int | None] = {}
        self._stop = threading.Event()
        listener = connect(conninfo)
        try:
            create_schema(listener)
            row = listener.execute("SELECT nextval('node_numbers')::int").fetchone()
            assert row is not None
            self.node: int = int(row[0])
            """This node's number, unique among every node that ever used the database."""
            self._listen(listener)
            listener.execute(f"DELETE FROM push_presence WHERE node NOT IN ({LIVE_NODES_SQL})")
        except BaseException:
            listener.close()
            raise
        self._listener = listener
        self._pool: ConnectionPool[Any] = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=4,
            kwargs={"autocommit": True},
            check=ConnectionPool.check_connection,
            name=f"seenby-node-{self.node}",
            open=True,
        )
        self._thread = threading.Thread(
            target=self._listen_loop, name=f"seenby-listen-{self.node}", daemon=True
        )
        self._thread.start()

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT pg_advisory_lock(%s, %s)", (NODE_LOCK_CLASS, self.node))
        conn.execute(f"LISTEN {EVENTS_CHANNEL}")

    # -- delivery ------------------------------------------------------------------------------

    def publish(self, events: Sequence[Event]) -> None:
        """Offer this node's committed events to its connections, each after all before it."""
        with self._delivery:
            for event in events:
                for connection in self._connections_of(event.user_id):
                    self._offer_through(connection, event)

    def _connections_of(self, user_id: str) -> list[PushConnection]:
        with self._lock:
            return list(self._by_user.get(user_id, ()))

    def _offer_through(self, connection: PushConnection, event: Event) -> None:
        """Offer ``event`` after the connection's last seq, reading what lies between."""
        last = self._last.get(connection)
        if last is None or event.seq <= last:
            return  # still opening (it starts from the table), or offered already
        if event.seq == last + 1:
            connection.offer(frame_text(event))
            self._last[connection] = event.seq
        else:
            self._catch_up(connection, event.seq)

    def _catch_up(self, connection: PushConnection, upto: int | None = None) -> None:
        """Offer the connection's committed events after its last seq (up to ``upto``)."""
        last = self._last.get(connection)
        if last is None:
            return
        try:
            with self._pool.connection() as conn:
                events = committed_events(conn, connection.user_id, last, upto)
        except psycopg.Error:
            log.warning("reading events for %s failed", connection.user_id, exc_info=True)
            connection.close(CLOSE_POLICY_VIOLATION, "events unavailable; reconnect with since")
            return
        if events and events[0].seq != last + 1:
            # Pruned past the retention: the client's replay says where the gap is.
            connection.close(CLOSE_POLICY_VIOLATION, "events were pruned; reconnect with since")
            return
        for event in events:
            connection.offer(frame_text(event))
        if events:
            self._last[connection] = events[-1].seq

    def _catch_up_users(self, user_ids: Iterable[str] | None) -> None:
        """Catch up the connections of ``user_ids`` (every connection: ``None``)."""
        with self._delivery:
            with self._lock:
                if user_ids is None:
                    connections = [c for group in self._by_user.values() for c in group]
                else:
                    connections = [c for u in user_ids for c in self._by_user.get(u, ())]
            for connection in connections:
                self._catch_up(connection)

    # -- the listener --------------------------------------------------------------------------

    def _listen_loop(self) -> None:
        conn = self._listener
        while not self._stop.is_set():
            try:
                for notify in conn.notifies(timeout=0.5):
                    self._on_notify(notify.payload)
            except psycopg.Error:
                if self._stop.is_set():
                    return
                log.warning("node %s lost its listening connection; reconnecting", self.node)
                reconnected = self._reconnect()
                if reconnected is None:
                    return
                self._listener = conn = reconnected
                self._write_presence()
                self._catch_up_users(None)  # what was committed while nobody listened

    def _reconnect(self) -> psycopg.Connection[Any] | None:
        while not self._stop.wait(_RECONNECT_PAUSE_SECONDS):
            try:
                conn = connect(self._conninfo)
                self._listen(conn)
                return conn
            except (psycopg.Error, RuntimeError):
                continue
        return None

    def _on_notify(self, payload: str) -> None:
        node, _, rest = payload.partition("\n")
        if node == str(self.node):
            return  # this node published its own events after commit
        self._catch_up_users(None if rest == "*" else rest.split("\n"))

    # -- presence ------------------------------------------------------------------------------

    def is_online(self, user_id: str) -> bool:
        """Whether the user has an open push connection on any live node."""
        if super().is_online(user_id):
            return True
        try:
            with self._pool.connection() as conn:
                row = conn.execute(
                    "SELECT 1 FROM push_presence WHERE user_id = %s AND connections > 0"
                    f" AND node IN ({LIVE_NODES_SQL}) LIMIT 1",
                    (user_id,),
                ).fetchone()
        except psycopg.Error:
            log.warning("presence of %s unknown: the database failed", user_id, exc_info=True)
            return False
        return row is not None

    def _change_presence(self, user_id: str, delta: int) -> None:
        try:
            with self._pool.connection() as conn:
                conn.execute(
                    "INSERT INTO push_presence VALUES (%s, %s, %s)"
                    " ON CONFLICT (user_id, node)"
                    " DO UPDATE SET connections = push_presence.connections + excluded.connections",
                    (self.node, user_id, delta),
                )
        except psycopg.Error:  # rewritten whole when the listener reconnects
            log.warning("presence of %s not recorded", user_id, exc_info=True)

    def _write_presence(self) -> None:
        with self._lock:
            counts = {user: len(group) for user, group in self._by_user.items()}
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("DELETE FROM push_presence WHERE node = %s", (self.node,))
                for user_id, count in counts.items():
                    conn.execute(
                        "INSERT INTO push_presence VALUES (%s, %s, %s)",
                        (self.node, user_id, count),
                    )
        except psycopg.Error:
            log.warning("presence of node %s not rewritten", self.node, exc_info=True)

    # -- connections ---------------------------------------------------------------------------

    def _opened(self, connection: PushConnection, replay: Replay) -> None:
        """Feed a registered connection from the table: from its replay's latest seq, or from
        the user's latest for a connection without ``since`` (live events only)."""
        with self._delivery:
            if connection not in self._last:
                return  # already gone
            if replay.latest is not None:
                start = replay.latest
            else:
                with self._pool.connection() as conn:
                    start = latest_seq(conn, connection.user_id)
            self._last[connection] = start
            self._catch_up(connection)

    def _register(self, connection: PushConnection) -> None:
        super()._register(connection)
        self._last[connection] = None
        self._change_presence(connection.user_id, 1)

    def _unregister(self, connection: PushConnection) -> None:
        super()._unregister(connection)
        with self._delivery:
            was_registered = connection in self._last
            self._last.pop(connection, None)
        if was_registered:
            self._change_presence(connection.user_id, -1)

    def close_all(self, timeout: float) -> None:
        """Close every connection (``PushHub.close_all``), then the node's database sessions;
        closing the listener releases the node's liveness lock."""
        super().close_all(timeout)
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(psycopg.Error):
            self._listener.close()
        self._pool.close()
