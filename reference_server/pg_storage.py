"""The receipt service's storage on PostgreSQL, for one node or many on one database.

``PgStorage`` implements ``storage.Storage`` with the same layout as ``SqliteStorage`` (see
that module for what each table holds), so the domain's rules run unchanged. What differs is
what many processes on one database need:

- *One writer at a time, cluster-wide.* Every transaction first takes one transaction-level
  advisory lock (``CLUSTER_LOCK``), so the works of all nodes run one at a time as on SQLite,
  where ``BEGIN IMMEDIATE`` does the same: the domain's check-then-write rules (a group ID is
  free, a recipient is unread, a user's next ``seq``) hold across nodes without a retry loop.
  The counters are still written as increments in SQL and a receipt's recipient row is marked
  by a conditional UPDATE, so they stay exact if the lock is ever narrowed.
- *No caches.* Settings, memberships and last seqs are read from the database each time: any
  node may have changed them.
- *Events reach other nodes through the table.* ``append_events`` numbers each user's events in
  the writing transaction (``users.event_seq``, row-locked), and the transaction sends a
  ``NOTIFY`` naming the users just before it commits; PostgreSQL delivers it only once the
  transaction has committed, so it is only a hint to read those users' events by seq
  (``cluster_push.py``), never the events themselves.
- *A node's liveness is a session advisory lock* held by its listening connection
  (``NODE_LOCK_CLASS``, the node's number): a big send in progress belongs to the node that
  started it and is finished by another node only once that node is gone (``pending_sends``).

The schema is created, and migrated by version, on start under a lock of its own, so nodes that
start together do not race.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any, LiteralString

import psycopg

from seenby.contract.vocabulary import Code
from seenby.reference_server.storage import PendingSend
from seenby.reference_server.values import (
    READ,
    REPLAY_RETAINED_EVENTS,
    Chat,
    Conversation,
    CustomElem,
    Elem,
    Event,
    Group,
    GroupChat,
    JsonValue,
    MemberFilter,
    Message,
    NewMessage,
    PeerChat,
    Profile,
    ReadMark,
    ReceiptError,
    Settings,
    TextElem,
)

log = logging.getLogger("seenby.reference_server")

PG_SCHEMA_VERSION = 1
"""The PostgreSQL schema's version (numbered apart from SQLite's: the layouts evolve apart)."""

CLUSTER_LOCK = 0x5EE_B1
"""The transaction-level advisory lock every write transaction of every node takes first."""

SCHEMA_LOCK = 0x5EE_B2
"""The advisory lock held while the schema is created or migrated."""

NODE_LOCK_CLASS = 0x5EE_B3
"""Advisory locks (this class, node number) mark the nodes that are alive."""

EVENTS_CHANNEL = "seenby_events"
"""The NOTIFY channel: payload ``node`` then the users that got events, one per line."""

_NOTIFY_PAYLOAD_MAX = 7_900
"""NOTIFY payloads are limited to 8,000 bytes; past this the payload says ``*`` (every user)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    edition TEXT NOT NULL,
    group_receipt_types TEXT NOT NULL,
    group_receipt_max_members INTEGER NOT NULL,
    receipt_batch_max INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    nick_name TEXT,
    face_url TEXT,
    token_sha256 TEXT NOT NULL UNIQUE,
    event_seq BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS groups (
    group_id TEXT PRIMARY KEY,
    group_type TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    member_count INTEGER NOT NULL,
    last_join_seq BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS group_members (
    group_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    join_seq BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX IF NOT EXISTS group_members_by_join ON group_members (group_id, join_seq);
CREATE TABLE IF NOT EXISTS messages (
    pos BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    msg_id TEXT NOT NULL UNIQUE,
    conversation TEXT NOT NULL,
    sender TEXT NOT NULL,
    receiver TEXT,
    group_id TEXT,
    timestamp_ms BIGINT NOT NULL,
    elem_type TEXT NOT NULL,
    elem_body TEXT NOT NULL,
    elem_desc TEXT,
    elem_extension TEXT,
    need_read_receipt BOOLEAN NOT NULL,
    online_user_only BOOLEAN NOT NULL,
    recipient_count INTEGER NOT NULL,
    read_count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_history ON messages (conversation, pos)
    WHERE NOT online_user_only;
CREATE TABLE IF NOT EXISTS recipients (
    pos BIGINT NOT NULL,
    snapshot_idx INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    read_seq INTEGER,
    read_ms BIGINT,
    PRIMARY KEY (pos, snapshot_idx)
);
CREATE UNIQUE INDEX IF NOT EXISTS recipients_by_user ON recipients (pos, user_id);
CREATE INDEX IF NOT EXISTS recipients_read ON recipients (pos, read_seq, user_id)
    WHERE read_seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS recipients_unread ON recipients (pos, snapshot_idx, user_id)
    WHERE read_seq IS NULL;
CREATE TABLE IF NOT EXISTS conversations (
    user_id TEXT NOT NULL,
    chat_type SMALLINT NOT NULL,
    chat_id TEXT NOT NULL,
    unread_count INTEGER NOT NULL DEFAULT 0,
    last_pos BIGINT,
    mark_pos BIGINT,
    mark_ms BIGINT,
    PRIMARY KEY (user_id, chat_type, chat_id)
);
CREATE INDEX IF NOT EXISTS conversations_by_activity ON conversations (user_id, last_pos)
    WHERE last_pos IS NOT NULL;
CREATE TABLE IF NOT EXISTS event_payloads (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event TEXT NOT NULL,
    data TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    refs INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    user_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    payload BIGINT,
    event TEXT,
    data TEXT,
    created_ms BIGINT,
    PRIMARY KEY (user_id, seq),
    CHECK ((payload IS NULL) = (event IS NOT NULL))
);
CREATE TABLE IF NOT EXISTS pending_sends (
    pos BIGINT PRIMARY KEY,
    visible BOOLEAN NOT NULL,
    delivered INTEGER NOT NULL,
    node BIGINT NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS node_numbers;
CREATE TABLE IF NOT EXISTS push_presence (
    node BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    connections INTEGER NOT NULL,
    PRIMARY KEY (user_id, node)
);
"""

# Each version's step to the next; empty while there is only the first.
_MIGRATIONS: dict[int, LiteralString] = {}

_VISIBLE = (
    "NOT EXISTS (SELECT 1 FROM pending_sends AS p WHERE p.pos = messages.pos AND NOT p.visible)"
)

# Built from constants only, so as safe to send as a literal.
LIVE_NODES_SQL: LiteralString = (  # pyright: ignore[reportAssignmentType]
    "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted"
    f" AND classid = {NODE_LOCK_CLASS} AND objsubid = 2"
)
"""The numbers of the nodes that are alive (holding their node lock)."""

_READ_PAGE_SQL = """
SELECT r.read_seq, r.user_id, u.nick_name, u.face_url
FROM recipients AS r JOIN users AS u ON u.user_id = r.user_id
WHERE r.pos = %s AND r.read_seq IS NOT NULL AND r.read_seq > %s
ORDER BY r.read_seq
LIMIT %s
"""

_UNREAD_PAGE_SQL = """
SELECT r.snapshot_idx, r.user_id, u.nick_name, u.face_url
FROM recipients AS r JOIN users AS u ON u.user_id = r.user_id
WHERE r.pos = %s AND r.read_seq IS NULL AND r.snapshot_idx > %s
ORDER BY r.snapshot_idx
LIMIT %s
"""

_EVENTS_AFTER_SQL = (
    "SELECT e.seq, coalesce(e.event, p.event), coalesce(e.data, p.data) FROM events AS e"
    " LEFT JOIN event_payloads AS p ON p.id = e.payload"
    " WHERE e.user_id = %s AND e.seq > %s AND e.seq <= %s ORDER BY e.seq"
)

_MESSAGE_COLUMNS = (
    "pos, msg_id, sender, receiver, group_id, timestamp_ms, elem_type, elem_body, elem_desc,"
    " elem_extension, need_read_receipt, online_user_only, recipient_count, read_count"
)

_C2C, _GROUP = 1, 2
_PRUNE_CHUNK = 64
_NO_LIMIT = 2**63 - 1


def connect(conninfo: str) -> psycopg.Connection[Any]:
    """An autocommit connection (transactions are begun explicitly), or a ``RuntimeError``
    naming the database that could not be reached."""
    try:
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
    except psycopg.Error as error:
        raise RuntimeError(
            f"cannot connect to PostgreSQL at {_redacted(conninfo)}: {error}"
        ) from error


def _redacted(conninfo: str) -> str:
    """The connection string without a password (``user:password@`` becomes ``user@``)."""
    head, at, tail = conninfo.rpartition("@")
    if not at or "://" not in head:
        return conninfo
    scheme, _, credentials = head.partition("://")
    return f"{scheme}://{credentials.split(':', 1)[0]}@{tail}"


def create_schema(conn: psycopg.Connection[Any]) -> None:
    """Create or migrate the schema to ``PG_SCHEMA_VERSION`` (one node at a time)."""
    defaults = Settings()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        version = 0 if row is None else int(row[0])
        if version > PG_SCHEMA_VERSION:
            raise RuntimeError(
                f"database schema version {version} is newer than this server's"
                f" ({PG_SCHEMA_VERSION}); upgrade the server"
            )
        if version == 0:
            conn.execute(_SCHEMA)
            conn.execute("INSERT INTO schema_version VALUES (%s)", (PG_SCHEMA_VERSION,))
        else:
            for step in range(version, PG_SCHEMA_VERSION):
                conn.execute(_MIGRATIONS[step])
            conn.execute("UPDATE schema_version SET version = %s", (PG_SCHEMA_VERSION,))
        conn.execute(
            "INSERT INTO settings VALUES (1, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (
                defaults.edition,
                json.dumps(list(defaults.group_receipt_types)),
                defaults.group_receipt_max_members,
                defaults.receipt_batch_max,
            ),
        )


def database_unavailable(error: psycopg.Error, *, committing: bool = False) -> ReceiptError:
    """The error a call gets when the database failed it: never a success, always a reason.

    Only a connection lost during COMMIT leaves the outcome unknown; the desc says which.
    """
    log.warning("a call failed in the database: %s", error)
    outcome = (
        "the connection was lost while committing, so it may or may not have been applied"
        if committing
        else "it was not applied"
    )
    return ReceiptError(
        Code.INTERNAL_ERROR,
        f"the database failed this call ({type(error).__name__}); {outcome}; retry it",
    )


class _Savepoint:
    """``PgStorage.savepoint``: one per storage (savepoints do not nest here). A database error
    inside it reaches the call as ``database_unavailable``, like one of the transaction's."""

    __slots__ = ("_storage",)

    def __init__(self, storage: PgStorage) -> None:
        self._storage = storage

    def __enter__(self) -> None:
        try:
            self._storage._execute("SAVEPOINT call")
        except psycopg.Error as error:
            raise database_unavailable(error) from error

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        conn = self._storage._conn
        try:
            if exc_type is None:
                conn.execute("RELEASE call")
            elif not conn.broken:
                conn.execute("ROLLBACK TO call")
                conn.execute("RELEASE call")
        except psycopg.Error as error:
            raise database_unavailable(error) from error
        if isinstance(exc, psycopg.Error):
            raise database_unavailable(exc) from exc


class PgStorage:
    """:class:`~seenby.reference_server.storage.Storage` on PostgreSQL (see the module doc).

    ``conninfo`` is a ``postgresql://`` URL or libpq string; ``node`` is this node's number
    (its liveness lock is held elsewhere, by the node's listener). One connection serves the
    storage: group commit runs one transaction at a time per node. A connection the database
    broke (a restart) is replaced at the next transaction.
    """

    def __init__(
        self, conninfo: str, node: int, event_retention: int = REPLAY_RETAINED_EVENTS
    ) -> None:
        if event_retention < 1:
            raise ValueError("event_retention must be at least 1")
        self._conninfo = conninfo
        self._node = node
        self._retention = event_retention
        self._prune_every = max(1, min(_PRUNE_CHUNK, event_retention // 100))
        self._lock = threading.Lock()
        self._closed = False
        self._notified: set[str] = set()
        self._savepoint = _Savepoint(self)
        self._conn = connect(conninfo)
        create_schema(self._conn)

    @property
    def retention(self) -> int:
        """How many events per user are kept for replay."""
        return self._retention

    def _execute(
        self, sql: LiteralString, params: Sequence[Any] | None = None
    ) -> psycopg.Cursor[Any]:
        return self._conn.execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run a block as one transaction, after every other node's (see the module doc).

        A database error (it restarted, the connection broke) becomes a ``ReceiptError`` that
        says the call was not applied; the next transaction opens a new connection.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("the database is closed")
            try:
                if self._conn.broken or self._conn.closed:
                    self._conn = connect(self._conninfo)
                self._notified.clear()
                self._execute("BEGIN")
                self._execute("SELECT pg_advisory_xact_lock(%s)", (CLUSTER_LOCK,))
            except (psycopg.Error, RuntimeError) as error:
                self._rollback()
                log.warning("the database is unavailable: %s", error)
                raise ReceiptError(
                    Code.INTERNAL_ERROR,
                    "the database is unavailable, so the call was not applied; retry it",
                ) from error
            committing = False
            try:
                yield
                if self._notified:
                    self._execute(
                        "SELECT pg_notify(%s, %s)", (EVENTS_CHANNEL, self._notify_payload())
                    )
                committing = True
                self._execute("COMMIT")
            except psycopg.Error as error:
                self._rollback()
                raise database_unavailable(error, committing=committing) from error
            except BaseException:
                self._rollback()
                raise

    def _notify_payload(self) -> str:
        payload = "\n".join([str(self._node), *sorted(self._notified)])
        return payload if len(payload.encode()) <= _NOTIFY_PAYLOAD_MAX else f"{self._node}\n*"

    def _rollback(self) -> None:
        if not self._conn.broken and not self._conn.closed:
            try:
                self._execute("ROLLBACK")
            except psycopg.Error:
                self._conn.close()

    def savepoint(self) -> AbstractContextManager[None]:
        """Inside ``transaction``: if the block raises, undo its changes alone, then re-raise."""
        return self._savepoint

    def close(self) -> None:
        """Release the database; idempotent. Waits for a running transaction to finish."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    # -- settings ------------------------------------------------------------------------------

    def settings(self) -> Settings:
        """The current settings."""
        row = self._execute(
            "SELECT edition, group_receipt_types, group_receipt_max_members,"
            " receipt_batch_max FROM settings WHERE id = 1"
        ).fetchone()
        assert row is not None
        return Settings(row[0], tuple(json.loads(row[1])), row[2], row[3])

    def save_settings(self, settings: Settings) -> None:
        """Replace the settings."""
        self._execute(
            "UPDATE settings SET edition = %s, group_receipt_types = %s,"
            " group_receipt_max_members = %s, receipt_batch_max = %s WHERE id = 1",
            (
                settings.edition,
                json.dumps(list(settings.group_receipt_types)),
                settings.group_receipt_max_members,
                settings.receipt_batch_max,
            ),
        )

    # -- users ---------------------------------------------------------------------------------

    def insert_user(self, profile: Profile, token_sha256: str) -> None:
        """Add a user (the caller checked that the ID is free)."""
        self._execute(
            "INSERT INTO users (user_id, nick_name, face_url, token_sha256)"
            " VALUES (%s, %s, %s, %s)",
            (profile.user_id, profile.nick_name, profile.face_url, token_sha256),
        )

    def profile(self, user_id: str) -> Profile | None:
        """A user's profile, or ``None`` for an unknown user."""
        row = self._execute(
            "SELECT user_id, nick_name, face_url FROM users WHERE user_id = %s", (user_id,)
        ).fetchone()
        return None if row is None else Profile(*row)

    def unknown_users(self, user_ids: Sequence[str]) -> list[str]:
        """Those of ``user_ids`` that are not users, in the given order."""
        rows = self._execute("SELECT user_id FROM users WHERE user_id = ANY(%s)", (list(user_ids),))
        known = {row[0] for row in rows}
        return [user_id for user_id in user_ids if user_id not in known]

    def user_for_token(self, token_sha256: str) -> str | None:
        """The user whose token hashes to ``token_sha256``."""
        row = self._execute(
            "SELECT user_id FROM users WHERE token_sha256 = %s", (token_sha256,)
        ).fetchone()
        return None if row is None else str(row[0])

    # -- groups --------------------------------------------------------------------------------

    def group(self, group_id: str) -> Group | None:
        """A group, or ``None``."""
        row = self._execute(
            "SELECT group_id, group_type, owner_id, member_count FROM groups WHERE group_id = %s",
            (group_id,),
        ).fetchone()
        return None if row is None else Group(*row)

    def insert_group(self, group: Group, member_ids: Sequence[str]) -> None:
        """Add a group with its members in join order (owner first)."""
        self._execute(
            "INSERT INTO groups VALUES (%s, %s, %s, %s, %s)",
            (group.group_id, group.group_type, group.owner_id, len(member_ids), len(member_ids)),
        )
        self._insert_members(group.group_id, 1, member_ids)

    def _insert_members(self, group_id: str, first_seq: int, user_ids: Sequence[str]) -> None:
        self._execute(
            "INSERT INTO group_members SELECT %s, u.user_id, %s + u.n - 1"
            " FROM unnest(%s::text[]) WITH ORDINALITY AS u(user_id, n)",
            (group_id, first_seq, list(user_ids)),
        )

    def is_member(self, group_id: str, user_id: str) -> bool:
        """Whether ``user_id`` is a current member of the group."""
        row = self._execute(
            "SELECT 1 FROM group_members WHERE group_id = %s AND user_id = %s",
            (group_id, user_id),
        ).fetchone()
        return row is not None

    def member_ids(self, group_id: str) -> list[str]:
        """The group's current members in join order."""
        rows = self._execute(
            "SELECT user_id FROM group_members WHERE group_id = %s ORDER BY join_seq",
            (group_id,),
        )
        return [row[0] for row in rows]

    def members_among(self, group_id: str, user_ids: Sequence[str]) -> list[str]:
        """Those of ``user_ids`` that are current members of the group, in the given order."""
        rows = self._execute(
            "SELECT user_id FROM group_members WHERE group_id = %s AND user_id = ANY(%s)",
            (group_id, list(user_ids)),
        )
        members = {row[0] for row in rows}
        return [user_id for user_id in user_ids if user_id in members]

    def add_members(self, group_id: str, user_ids: Sequence[str]) -> list[str]:
        """Add the users that are not members yet (at the end of the join order); return them."""
        candidates = list(dict.fromkeys(user_ids))
        present = set(self.members_among(group_id, candidates))
        added = [user_id for user_id in candidates if user_id not in present]
        if added:
            row = self._execute(
                "UPDATE groups SET member_count = member_count + %s,"
                " last_join_seq = last_join_seq + %s WHERE group_id = %s"
                " RETURNING last_join_seq",
                (len(added), len(added), group_id),
            ).fetchone()
            assert row is not None
            self._insert_members(group_id, int(row[0]) - len(added) + 1, added)
        return added

    def remove_members(self, group_id: str, user_ids: Sequence[str]) -> list[str]:
        """Remove the users that are members; return them."""
        candidates = list(dict.fromkeys(user_ids))
        gone = {
            row[0]
            for row in self._execute(
                "DELETE FROM group_members WHERE group_id = %s AND user_id = ANY(%s)"
                " RETURNING user_id",
                (group_id, candidates),
            )
        }
        removed = [user_id for user_id in candidates if user_id in gone]
        if removed:
            self._execute(
                "UPDATE groups SET member_count = member_count - %s WHERE group_id = %s",
                (len(removed), group_id),
            )
        return removed

    # -- messages and receipts -----------------------------------------------------------------

    def insert_message(self, message: NewMessage, recipients: Sequence[str]) -> Message:
        """Store a message in server order, with its recipient snapshot (snapshot order)."""
        elem = message.elem
        if isinstance(elem, TextElem):
            elem_columns: tuple[str, str, str | None, str | None] = ("text", elem.text, None, None)
        else:
            elem_columns = ("custom", elem.data, elem.desc, elem.extension)
        row = self._execute(
            "INSERT INTO messages (msg_id, conversation, sender, receiver, group_id,"
            " timestamp_ms, elem_type, elem_body, elem_desc, elem_extension, need_read_receipt,"
            " online_user_only, recipient_count, read_count)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0) RETURNING pos",
            (
                message.msg_id,
                message.conversation,
                message.sender,
                message.receiver,
                message.group_id,
                message.timestamp,
                *elem_columns,
                message.need_read_receipt,
                message.online_user_only,
                message.recipient_count,
            ),
        ).fetchone()
        assert row is not None
        pos = int(row[0])
        self._insert_recipients(pos, 1, recipients)
        return Message(
            pos=pos,
            msg_id=message.msg_id,
            sender=message.sender,
            receiver=message.receiver,
            group_id=message.group_id,
            timestamp=message.timestamp,
            elem=message.elem,
            need_read_receipt=message.need_read_receipt,
            online_user_only=message.online_user_only,
            recipient_count=message.recipient_count,
            read_count=0,
        )

    def _insert_recipients(self, pos: int, first_idx: int, user_ids: Sequence[str]) -> None:
        if user_ids:
            self._execute(
                "INSERT INTO recipients (pos, snapshot_idx, user_id)"
                " SELECT %s, %s + u.n - 1, u.user_id"
                " FROM unnest(%s::text[]) WITH ORDINALITY AS u(user_id, n)",
                (pos, first_idx, list(user_ids)),
            )

    def hide_message(self, message: Message) -> None:
        """Keep a just-inserted message out of every query until ``show_message``."""
        self._execute(
            "INSERT INTO pending_sends VALUES (%s, false, 0, %s)", (message.pos, self._node)
        )

    def add_recipients(self, message: Message, first_idx: int, user_ids: Sequence[str]) -> None:
        """Append to a hidden message's snapshot, numbering from ``first_idx``."""
        self._insert_recipients(message.pos, first_idx, user_ids)

    def show_message(self, message: Message) -> None:
        """Make a hidden message visible; its delivery is pending from snapshot index 0."""
        self._execute("UPDATE pending_sends SET visible = true WHERE pos = %s", (message.pos,))

    def recipients(self, message: Message, after_idx: int, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` (snapshot index, user) of the snapshot, after ``after_idx``."""
        rows = self._execute(
            "SELECT snapshot_idx, user_id FROM recipients WHERE pos = %s AND snapshot_idx > %s"
            " ORDER BY snapshot_idx LIMIT %s",
            (message.pos, after_idx, limit),
        )
        return [(idx, user_id) for idx, user_id in rows]

    def set_delivered(self, message: Message, idx: int | None) -> None:
        """Record delivery up to snapshot index ``idx``; ``None``: the send is complete."""
        if idx is None:
            self._execute("DELETE FROM pending_sends WHERE pos = %s", (message.pos,))
        else:
            self._execute(
                "UPDATE pending_sends SET delivered = %s WHERE pos = %s", (idx, message.pos)
            )

    def pending_sends(self) -> list[PendingSend]:
        """The sends in progress of nodes that are gone (and of this one), oldest first.

        A send of a node that is alive is that node's to finish: another node that starts
        meanwhile must not discard or deliver it.
        """
        rows = self._execute(
            f"SELECT p.visible, p.delivered, {_MESSAGE_COLUMNS} FROM pending_sends AS p"
            f" JOIN messages USING (pos) WHERE p.node = %s OR p.node NOT IN ({LIVE_NODES_SQL})"
            " ORDER BY pos",
            (self._node,),
        )
        return [PendingSend(_message_from_row(row[2:]), bool(row[0]), row[1]) for row in rows]

    def discard_message(self, message: Message) -> None:
        """Delete a hidden message and its snapshot, as if it had never been sent."""
        for table in ("recipients", "pending_sends", "messages"):
            self._execute(f"DELETE FROM {table} WHERE pos = %s", (message.pos,))

    def messages(self, msg_ids: Sequence[str]) -> dict[str, Message]:
        """The stored messages among ``msg_ids``, by ID."""
        rows = self._execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE msg_id = ANY(%s) AND {_VISIBLE}",
            (list(msg_ids),),
        )
        found = (_message_from_row(row) for row in rows)
        return {message.msg_id: message for message in found}

    def last_pos(self) -> int:
        """The server-order position of the newest message (0 when there is none)."""
        row = self._execute("SELECT coalesce(max(pos), 0) FROM messages").fetchone()
        assert row is not None
        return int(row[0])

    def recipient_has_read(self, message: Message, user_id: str) -> bool | None:
        """Whether ``user_id`` receipted the message; ``None`` if it is not a recipient."""
        row = self._execute(
            "SELECT read_seq IS NOT NULL FROM recipients WHERE pos = %s AND user_id = %s",
            (message.pos, user_id),
        ).fetchone()
        return None if row is None else bool(row[0])

    def record_receipt(self, message: Message, user_id: str, read_ms: int) -> Message | None:
        """If ``user_id`` is a recipient that has not receipted ``message`` yet, give its
        receipt its place after every earlier reader, bump ``read_count`` and return the
        message with its new counts; otherwise change nothing and return ``None``.

        One statement marks the reader's row if it is unread (row-locked: a second receipt
        of the same reader finds it read) and increments the stored count in SQL, not from
        the count this node read, so no receipt is lost or counted twice.
        """
        row = self._execute(
            "WITH marked AS (UPDATE recipients SET read_ms = %s"
            "   WHERE pos = %s AND user_id = %s AND read_seq IS NULL RETURNING pos)"
            " UPDATE messages SET read_count = read_count + 1"
            " WHERE pos = (SELECT pos FROM marked) RETURNING read_count",
            (read_ms, message.pos, user_id),
        ).fetchone()
        if row is None:
            return None
        read_count = int(row[0])
        self._execute(
            "UPDATE recipients SET read_seq = %s WHERE pos = %s AND user_id = %s",
            (read_count, message.pos, user_id),
        )
        return _with_read_count(message, read_count)

    def receipt_time(self, message: Message) -> int | None:
        """When the (single) recipient of a C2C message receipted it, or ``None``."""
        row = self._execute(
            "SELECT read_ms FROM recipients WHERE pos = %s AND snapshot_idx = 1",
            (message.pos,),
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def history(self, conversation: str, before_pos: int | None, limit: int) -> list[Message]:
        """Up to ``limit`` stored-in-history messages before ``before_pos``, newest first."""
        rows = self._execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages"
            f" WHERE conversation = %s AND NOT online_user_only AND pos < %s AND {_VISIBLE}"
            " ORDER BY pos DESC LIMIT %s",
            (conversation, before_pos if before_pos is not None else _NO_LIMIT, limit),
        )
        return [_message_from_row(row) for row in rows]

    def member_page(
        self, message: Message, member_filter: MemberFilter, after: int, limit: int
    ) -> list[tuple[int, Profile]]:
        """Up to ``limit`` (position, member) pairs of one list, after position ``after``."""
        sql = _READ_PAGE_SQL if member_filter == READ else _UNREAD_PAGE_SQL
        rows = self._execute(sql, (message.pos, after, limit))
        return [(position, Profile(*profile)) for position, *profile in rows]

    # -- conversations -------------------------------------------------------------------------

    def record_activity(
        self, entries: Sequence[tuple[str, Chat]], pos: int, unread_increment: int
    ) -> None:
        """Move each (user, conversation) to activity ``pos``; add to its unread counter.

        Activity never moves back: a big send is delivered after messages sent later.
        """
        if not entries:
            return
        keys = [(user_id, *_chat_key(chat)) for user_id, chat in entries]
        self._execute(
            "INSERT INTO conversations (user_id, chat_type, chat_id, unread_count, last_pos)"
            " SELECT u, t, c, %s, %s FROM unnest(%s::text[], %s::smallint[], %s::text[])"
            "   AS k(u, t, c)"
            " ON CONFLICT (user_id, chat_type, chat_id) DO UPDATE SET"
            " unread_count = conversations.unread_count + excluded.unread_count,"
            " last_pos = greatest(coalesce(conversations.last_pos, 0), excluded.last_pos)",
            (
                unread_increment,
                pos,
                [key[0] for key in keys],
                [key[1] for key in keys],
                [key[2] for key in keys],
            ),
        )

    def drop_conversations(self, user_ids: Sequence[str], chat: Chat) -> None:
        """Forget the users' state for one conversation."""
        chat_type, chat_id = _chat_key(chat)
        self._execute(
            "DELETE FROM conversations WHERE user_id = ANY(%s) AND chat_type = %s AND chat_id = %s",
            (list(user_ids), chat_type, chat_id),
        )

    def conversations(self, user_id: str) -> list[Conversation]:
        """The user's conversations that had activity, most recent first."""
        rows = self._execute(
            "SELECT chat_type, chat_id, unread_count FROM conversations"
            " WHERE user_id = %s AND last_pos IS NOT NULL ORDER BY last_pos DESC",
            (user_id,),
        )
        return [
            Conversation(PeerChat(chat_id) if chat_type == _C2C else GroupChat(chat_id), unread)
            for chat_type, chat_id, unread in rows
        ]

    def read_mark(self, user_id: str, peer_id: str) -> ReadMark | None:
        """``user_id``'s read mark on its C2C conversation with ``peer_id``."""
        row = self._execute(
            "SELECT mark_pos, mark_ms FROM conversations WHERE user_id = %s AND chat_type = %s"
            " AND chat_id = %s AND mark_pos IS NOT NULL",
            (user_id, _C2C, peer_id),
        ).fetchone()
        return None if row is None else ReadMark(*row)

    def set_read_mark(self, user_id: str, peer_id: str, mark: ReadMark) -> None:
        """Set the read mark and zero the unread counter of that C2C conversation."""
        self._execute(
            "INSERT INTO conversations (user_id, chat_type, chat_id, mark_pos, mark_ms)"
            " VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (user_id, chat_type, chat_id) DO UPDATE SET unread_count = 0,"
            " mark_pos = excluded.mark_pos, mark_ms = excluded.mark_ms",
            (user_id, _C2C, peer_id, mark.pos, mark.timestamp),
        )

    # -- events --------------------------------------------------------------------------------

    def append_events(
        self, user_ids: Sequence[str], name: str, data: JsonValue, created_ms: int
    ) -> list[Event]:
        """Give each user the event under its next seq; prune beyond the retention.

        The seq comes from ``users.event_seq`` incremented in this transaction, so another
        node's event for the same user waits for this commit and takes the next number.
        """
        encoded = _encode_json(data)
        payload: int | None = None
        if len(user_ids) > 1:
            row = self._execute(
                "INSERT INTO event_payloads (event, data, created_ms, refs)"
                " VALUES (%s, %s, %s, %s) RETURNING id",
                (name, encoded, created_ms, len(user_ids)),
            ).fetchone()
            assert row is not None
            payload = int(row[0])
        events = []
        pruned: Counter[int] = Counter()
        for user_id in user_ids:
            row = self._execute(
                "UPDATE users SET event_seq = event_seq + 1 WHERE user_id = %s RETURNING event_seq",
                (user_id,),
            ).fetchone()
            assert row is not None
            seq = int(row[0])
            if payload is None:
                self._execute(
                    "INSERT INTO events (user_id, seq, event, data, created_ms)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (user_id, seq, name, encoded, created_ms),
                )
            else:
                self._execute(
                    "INSERT INTO events (user_id, seq, payload) VALUES (%s, %s, %s)",
                    (user_id, seq, payload),
                )
            if seq > self._retention and seq % self._prune_every == 0:
                shared = self._execute(
                    "DELETE FROM events WHERE user_id = %s AND seq <= %s RETURNING payload",
                    (user_id, seq - self._retention),
                ).fetchall()
                pruned.update(row[0] for row in shared if row[0] is not None)
            self._notified.add(user_id)
            events.append(Event(user_id, seq, name, data))
        for payload_id, count in pruned.items():
            if not self._execute(
                "DELETE FROM event_payloads WHERE id = %s AND refs = %s", (payload_id, count)
            ).rowcount:
                self._execute(
                    "UPDATE event_payloads SET refs = refs - %s WHERE id = %s",
                    (count, payload_id),
                )
        return events

    def event_bounds(self, user_id: str) -> tuple[int, int]:
        """(oldest retained seq, latest seq) of a user; oldest is latest + 1 if none is kept."""
        latest = self._latest_seq(user_id)
        row = self._execute(
            "SELECT min(seq) FROM events WHERE user_id = %s AND seq > %s",
            (user_id, latest - self._retention),
        ).fetchone()
        oldest = None if row is None else row[0]
        return (latest + 1 if oldest is None else int(oldest)), latest

    def _latest_seq(self, user_id: str) -> int:
        row = self._execute("SELECT event_seq FROM users WHERE user_id = %s", (user_id,)).fetchone()
        assert row is not None
        return int(row[0])

    def events_after(self, user_id: str, since: int) -> list[Event]:
        """The user's retained events with seq > ``since``, in order."""
        after = max(since, self._latest_seq(user_id) - self._retention)
        rows = self._execute(_EVENTS_AFTER_SQL, (user_id, after, _NO_LIMIT))
        return [Event(user_id, seq, name, json.loads(data)) for seq, name, data in rows]


def committed_events(
    conn: psycopg.Connection[Any], user_id: str, after: int, upto: int | None
) -> list[Event]:
    """A user's committed events with ``after`` < seq <= ``upto`` (no bound: ``None``), read
    outside any write transaction: what another node's push connections catch up with."""
    rows = conn.execute(_EVENTS_AFTER_SQL, (user_id, after, _NO_LIMIT if upto is None else upto))
    return [Event(user_id, seq, name, json.loads(data)) for seq, name, data in rows]


def latest_seq(conn: psycopg.Connection[Any], user_id: str) -> int:
    """A user's latest committed event seq (0 for none, or an unknown user)."""
    row = conn.execute("SELECT event_seq FROM users WHERE user_id = %s", (user_id,)).fetchone()
    return 0 if row is None else int(row[0])


_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _chat_key(chat: Chat) -> tuple[int, str]:
    if isinstance(chat, PeerChat):
        return _C2C, chat.user_id
    return _GROUP, chat.group_id


def _with_read_count(message: Message, read_count: int) -> Message:
    m = message
    return Message(
        m.pos,
        m.msg_id,
        m.sender,
        m.receiver,
        m.group_id,
        m.timestamp,
        m.elem,
        m.need_read_receipt,
        m.online_user_only,
        m.recipient_count,
        read_count,
    )


def _message_from_row(row: tuple[Any, ...]) -> Message:
    (
        pos,
        msg_id,
        sender,
        receiver,
        group_id,
        timestamp,
        elem_type,
        body,
        desc,
        extension,
        need_read_receipt,
        online_user_only,
        recipient_count,
        read_count,
    ) = row
    elem: Elem = TextElem(body) if elem_type == "text" else CustomElem(body, desc, extension)
    return Message(
        pos=pos,
        msg_id=msg_id,
        sender=sender,
        receiver=receiver,
        group_id=group_id,
        timestamp=timestamp,
        elem=elem,
        need_read_receipt=bool(need_read_receipt),
        online_user_only=bool(online_user_only),
        recipient_count=recipient_count,
        read_count=read_count,
    )
