"""Storage for the receipt service: the interface the domain uses, and its SQLite implementation.

The domain calls these methods inside :meth:`Storage.transaction`, each protocol call inside a
:meth:`Storage.savepoint` of its own when several calls share one transaction (group commit, see
``group_commit.py``), so a call is applied entirely or not at all. File databases run in WAL
mode with ``synchronous=FULL``: once a transaction commits, it survives a crash or power loss.
Committed pages are copied from the WAL into the database file by a thread of its own
(``_Checkpointer``), never inside a call's COMMIT. What calls read most is kept in memory once
read: the settings, group memberships, and the last event seq of users with recent events
(this connection is their only writer); their writers and every rollback (of a call's
savepoint or of a whole transaction) drop them, so a read never answers from before a change
or from an undone one.

Layout, in the terms of ``domain.py``'s theory of operation:

- ``messages`` holds one row per message in server order (``pos``), with ``recipient_count``
  and ``read_count`` stored on the row, so pulling counts costs the same for any group size.
- ``recipients`` is the recipient snapshot: one row per recipient of a needReadReceipt message,
  numbered in snapshot order (``snapshot_idx``, from 1), with the reader's ``read_seq`` (its place
  in the order of readers, from 1; NULL while unread) and ``read_ms``. Two partial indexes serve
  the member-list pages: read members by ``read_seq``, unread members by ``snapshot_idx``, so a
  page is a keyset range scan whose cost does not depend on where it is in the list.
- ``conversations`` holds, per (user, conversation), the stored unread counter, the position of
  the latest activity and, for C2C, the read mark.
- ``events`` holds each user's newest events for replay, as (user, seq, payload):
  ``users.event_seq`` is the last seq handed out, so numbering continues across pruning and
  restarts. What an event given to several users says is stored once in ``event_payloads`` (a
  group message's ``onRecvNewMessage`` is one payload for all its recipients); a payload counts
  the events that point to it and goes when the last of them is pruned. An event for one user
  (every receipt's) keeps its payload in its own row (``event``, ``data``, ``created_ms``;
  ``payload`` NULL): one row written instead of two. Only a user's newest ``event_retention``
  events are read; older ones are deleted a chunk at a time (see ``append_events``).
- ``pending_sends`` lists the needReadReceipt messages whose send is still in progress (see
  *Big sends* in ``domain.py``): ``visible = 0`` while the recipient snapshot is written (the
  message is hidden from every query), ``1`` while it is delivered, ``delivered`` being the
  snapshot index delivered up to.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

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
    Settings,
    TextElem,
)

log = logging.getLogger("seenby.reference_server")

SCHEMA_VERSION = 3

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
    event_seq INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS groups (
    group_id TEXT PRIMARY KEY,
    group_type TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    member_count INTEGER NOT NULL,
    last_join_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_members (
    group_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    join_seq INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS group_members_by_join ON group_members (group_id, join_seq);
CREATE TABLE IF NOT EXISTS messages (
    pos INTEGER PRIMARY KEY,
    msg_id TEXT NOT NULL UNIQUE,
    conversation TEXT NOT NULL,
    sender TEXT NOT NULL,
    receiver TEXT,
    group_id TEXT,
    timestamp_ms INTEGER NOT NULL,
    elem_type TEXT NOT NULL,
    elem_body TEXT NOT NULL,
    elem_desc TEXT,
    elem_extension TEXT,
    need_read_receipt INTEGER NOT NULL,
    online_user_only INTEGER NOT NULL,
    recipient_count INTEGER NOT NULL,
    read_count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_history ON messages (conversation, pos)
    WHERE online_user_only = 0;
CREATE TABLE IF NOT EXISTS recipients (
    pos INTEGER NOT NULL,
    snapshot_idx INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    read_seq INTEGER,
    read_ms INTEGER,
    PRIMARY KEY (pos, snapshot_idx)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS recipients_by_user ON recipients (pos, user_id);
CREATE INDEX IF NOT EXISTS recipients_read ON recipients (pos, read_seq, user_id)
    WHERE read_seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS recipients_unread ON recipients (pos, snapshot_idx, user_id, read_seq)
    WHERE read_seq IS NULL;
CREATE TABLE IF NOT EXISTS conversations (
    user_id TEXT NOT NULL,
    chat_type INTEGER NOT NULL,
    chat_id TEXT NOT NULL,
    unread_count INTEGER NOT NULL DEFAULT 0,
    last_pos INTEGER,
    mark_pos INTEGER,
    mark_ms INTEGER,
    PRIMARY KEY (user_id, chat_type, chat_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS conversations_by_activity ON conversations (user_id, last_pos)
    WHERE last_pos IS NOT NULL;
CREATE TABLE IF NOT EXISTS event_payloads (
    id INTEGER PRIMARY KEY,
    event TEXT NOT NULL,
    data TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    refs INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    user_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload INTEGER,
    event TEXT,
    data TEXT,
    created_ms INTEGER,
    PRIMARY KEY (user_id, seq),
    CHECK ((payload IS NULL) = (event IS NOT NULL))
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_sends (
    pos INTEGER PRIMARY KEY,
    visible INTEGER NOT NULL,
    delivered INTEGER NOT NULL
);
"""

# Version 1 stored every event's payload in its own row.
_MIGRATE_FROM_V1 = """
ALTER TABLE events RENAME TO events_v1;
{schema}
INSERT INTO event_payloads (id, event, data, created_ms, refs)
    SELECT row_number() OVER (ORDER BY user_id, seq), event, data, created_ms, 1 FROM events_v1;
INSERT INTO events (user_id, seq, payload)
    SELECT user_id, seq, row_number() OVER (ORDER BY user_id, seq) FROM events_v1;
DROP TABLE events_v1;
"""

# Version 2 kept every payload in event_payloads, one-user events' too; they stay there.
_MIGRATE_FROM_V2 = """
ALTER TABLE events RENAME TO events_v2;
{schema}
INSERT INTO events (user_id, seq, payload) SELECT user_id, seq, payload FROM events_v2;
DROP TABLE events_v2;
"""
_MIGRATIONS = {1: _MIGRATE_FROM_V1, 2: _MIGRATE_FROM_V2}

# A message is hidden while its recipient snapshot is being written.
# A correlated NOT EXISTS probes pending_sends' primary key; NOT IN built a set per query.
_VISIBLE = (
    "NOT EXISTS (SELECT 1 FROM pending_sends AS p WHERE p.pos = messages.pos AND p.visible = 0)"
)

# INDEXED BY makes the plan part of the contract: SQLite refuses the query rather than scan.
READ_PAGE_SQL = """
SELECT r.read_seq, r.user_id, u.nick_name, u.face_url
FROM recipients AS r INDEXED BY recipients_read JOIN users AS u ON u.user_id = r.user_id
WHERE r.pos = ? AND r.read_seq IS NOT NULL AND r.read_seq > ?
ORDER BY r.read_seq
LIMIT ?
"""
"""One page of a message's READ list: keyset on ``read_seq`` over ``recipients_read``."""

UNREAD_PAGE_SQL = """
SELECT r.snapshot_idx, r.user_id, u.nick_name, u.face_url
FROM recipients AS r INDEXED BY recipients_unread JOIN users AS u ON u.user_id = r.user_id
WHERE r.pos = ? AND r.read_seq IS NULL AND r.snapshot_idx > ?
ORDER BY r.snapshot_idx
LIMIT ?
"""
"""One page of a message's UNREAD list: keyset on ``snapshot_idx`` over ``recipients_unread``."""

_MESSAGE_COLUMNS = (
    "pos, msg_id, sender, receiver, group_id, timestamp_ms, elem_type, elem_body, elem_desc,"
    " elem_extension, need_read_receipt, online_user_only, recipient_count, read_count"
)

_C2C, _GROUP = 1, 2

_PRUNE_CHUNK = 64
"""At most this many of a user's events are pruned at once (1 % of the retention, at least 1)."""

_EVENT_SEQS_KEPT = 10_000
"""Users whose last event seq is kept in memory; past that the map starts again."""

_MEMBERSHIPS_KEPT = 100_000
"""Memberships kept in memory; past that the map starts again (it is only a cache)."""


class Storage(Protocol):
    """What the receipt service needs from storage. Every method runs inside ``transaction``."""

    def transaction(self) -> AbstractContextManager[None]:
        """Run a block as one transaction: committed durably if it returns, rolled back if not."""
        ...

    def savepoint(self) -> AbstractContextManager[None]:
        """Inside ``transaction``: if the block raises, undo its changes alone, then re-raise."""
        ...

    def close(self) -> None:
        """Release the database; idempotent."""

    def settings(self) -> Settings:
        """The current settings."""
        ...

    def save_settings(self, settings: Settings) -> None:
        """Replace the settings."""

    def insert_user(self, profile: Profile, token_sha256: str) -> None:
        """Add a user (the caller checked that the ID is free)."""

    def profile(self, user_id: str) -> Profile | None:
        """A user's profile, or ``None`` for an unknown user."""

    def unknown_users(self, user_ids: Sequence[str]) -> list[str]:
        """Those of ``user_ids`` that are not users, in the given order."""
        ...

    def user_for_token(self, token_sha256: str) -> str | None:
        """The user whose token hashes to ``token_sha256``."""

    def group(self, group_id: str) -> Group | None:
        """A group, or ``None``."""

    def insert_group(self, group: Group, member_ids: Sequence[str]) -> None:
        """Add a group with its members in join order (owner first)."""

    def is_member(self, group_id: str, user_id: str) -> bool:
        """Whether ``user_id`` is a current member of the group."""
        ...

    def member_ids(self, group_id: str) -> list[str]:
        """The group's current members in join order."""
        ...

    def members_among(self, group_id: str, user_ids: Sequence[str]) -> list[str]:
        """Those of ``user_ids`` that are current members of the group, in the given order."""
        ...

    def add_members(self, group_id: str, user_ids: Sequence[str]) -> list[str]:
        """Add the users that are not members yet (at the end of the join order); return them."""
        ...

    def remove_members(self, group_id: str, user_ids: Sequence[str]) -> list[str]:
        """Remove the users that are members; return them."""
        ...

    def insert_message(self, message: NewMessage, recipients: Sequence[str]) -> Message:
        """Store a message in server order, with its recipient snapshot (snapshot order)."""
        ...

    def hide_message(self, message: Message) -> None:
        """Keep a just-inserted message out of every query until ``show_message``."""

    def add_recipients(self, message: Message, first_idx: int, user_ids: Sequence[str]) -> None:
        """Append to a hidden message's snapshot, numbering from ``first_idx``."""

    def show_message(self, message: Message) -> None:
        """Make a hidden message visible; its delivery is pending from snapshot index 0."""

    def recipients(self, message: Message, after_idx: int, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` (snapshot index, user) of the snapshot, after ``after_idx``."""
        ...

    def set_delivered(self, message: Message, idx: int | None) -> None:
        """Record delivery up to snapshot index ``idx``; ``None``: the send is complete."""

    def pending_sends(self) -> list[PendingSend]:
        """The sends in progress (after a crash: the interrupted ones), oldest first."""
        ...

    def discard_message(self, message: Message) -> None:
        """Delete a hidden message and its snapshot, as if it had never been sent."""

    def messages(self, msg_ids: Sequence[str]) -> dict[str, Message]:
        """The stored messages among ``msg_ids``, by ID."""
        ...

    def last_pos(self) -> int:
        """The server-order position of the newest message (0 when there is none)."""
        ...

    def recipient_has_read(self, message: Message, user_id: str) -> bool | None:
        """Whether ``user_id`` receipted the message; ``None`` if it is not a recipient."""

    def record_receipt(self, message: Message, user_id: str, read_ms: int) -> Message | None:
        """If ``user_id`` is a recipient that has not receipted ``message`` yet, give its
        receipt its place after every earlier reader, bump ``read_count`` and return the
        message with its new counts; otherwise change nothing and return ``None``."""

    def receipt_time(self, message: Message) -> int | None:
        """When the (single) recipient of a C2C message receipted it, or ``None``."""

    def history(self, conversation: str, before_pos: int | None, limit: int) -> list[Message]:
        """Up to ``limit`` stored-in-history messages before ``before_pos``, newest first."""
        ...

    def member_page(
        self, message: Message, member_filter: MemberFilter, after: int, limit: int
    ) -> list[tuple[int, Profile]]:
        """Up to ``limit`` (position, member) pairs of one list, after position ``after``."""
        ...

    def record_activity(
        self, entries: Sequence[tuple[str, Chat]], pos: int, unread_increment: int
    ) -> None:
        """Move each (user, conversation) to activity ``pos``; add to its unread counter."""

    def drop_conversations(self, user_ids: Sequence[str], chat: Chat) -> None:
        """Forget the users' state for one conversation."""

    def conversations(self, user_id: str) -> list[Conversation]:
        """The user's conversations that had activity, most recent first."""
        ...

    def read_mark(self, user_id: str, peer_id: str) -> ReadMark | None:
        """``user_id``'s read mark on its C2C conversation with ``peer_id``."""

    def set_read_mark(self, user_id: str, peer_id: str, mark: ReadMark) -> None:
        """Set the read mark and zero the unread counter of that C2C conversation."""

    def append_events(
        self, user_ids: Sequence[str], name: str, data: JsonValue, created_ms: int
    ) -> list[Event]:
        """Give each user the event under its next seq; prune beyond the retention."""
        ...

    def event_bounds(self, user_id: str) -> tuple[int, int]:
        """(oldest retained seq, latest seq) of a user; oldest is latest + 1 if none is kept."""
        ...

    def events_after(self, user_id: str, since: int) -> list[Event]:
        """The user's retained events with seq > ``since``, in order."""
        ...


CHECKPOINT_INTERVAL = 0.2
"""Seconds between two checkpoints of the WAL into the database file."""


class _Checkpointer:
    """Checkpoints a WAL database from a connection and thread of its own.

    SQLite's automatic checkpoint runs inside whichever COMMIT takes the WAL past 1,000 pages:
    that call, and every call queued behind it, waits while pages are copied and the database
    file is synced (tens to hundreds of milliseconds during a big send). A PASSIVE checkpoint
    from another connection takes no write lock, so commits go on meanwhile; durability does
    not depend on it (a commit is durable once its WAL frames are synced).
    """

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA synchronous = FULL")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="seenby-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(CHECKPOINT_INTERVAL):
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:  # e.g. a full disk: the next round tries again
                log.warning("WAL checkpoint failed", exc_info=True)

    def close(self) -> None:
        """Stop checkpointing and close the connection (the last close checkpoints fully)."""
        self._stop.set()
        self._thread.join()
        self._conn.close()


@dataclass(frozen=True)
class PendingSend:
    """A needReadReceipt send in progress: hidden (snapshot being written) or being delivered."""

    message: Message
    visible: bool
    delivered: int
    """Snapshot index delivered up to (0: none yet)."""


class _Savepoint:
    """``SqliteStorage.savepoint``: a plain context manager, one per storage (savepoints do
    not nest here). Every work of a batch enters one, and a generator-based
    ``contextmanager`` cost several times as much per work."""

    __slots__ = ("_storage",)

    def __init__(self, storage: SqliteStorage) -> None:
        self._storage = storage

    def __enter__(self) -> None:
        if not self._storage._conn.in_transaction:
            raise RuntimeError("the transaction was rolled back; its calls are not applied")
        self._storage._conn.execute("SAVEPOINT call")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        conn = self._storage._conn
        if exc_type is None:
            conn.execute("RELEASE call")
            return
        self._storage._forget_cached()
        if conn.in_transaction:
            conn.execute("ROLLBACK TO call")
            conn.execute("RELEASE call")


class SqliteStorage:
    """:class:`Storage` on one SQLite connection, shared by threads behind a lock.

    ``path`` is a file name or ``":memory:"``. ``event_retention`` is how many events are kept
    per user for replay (10,000 in production; tests may lower it).
    """

    def __init__(self, path: str, event_retention: int = REPLAY_RETAINED_EVENTS) -> None:
        if event_retention < 1:
            raise ValueError("event_retention must be at least 1")
        self._retention = event_retention
        self._prune_every = max(1, min(_PRUNE_CHUNK, event_retention // 100))
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._closed = False
        # Every call reads the settings, and every receipt a membership; only save_settings
        # and the member writes change them, and a rollback may undo those, so each cache is
        # dropped by its writers and both by any rollback (_forget_cached).
        self._settings: Settings | None = None
        self._memberships: dict[tuple[str, str], bool] = {}
        self._event_seqs: dict[str, int] = {}  # users.event_seq of users with recent events
        self._savepoint = _Savepoint(self)
        self._open_schema(path)
        self._checkpointer = _Checkpointer(path) if path != ":memory:" else None

    def _open_schema(self, path: str) -> None:
        conn = self._conn
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # see _Checkpointer
        conn.execute("PRAGMA synchronous = FULL")
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            conn.close()
            raise RuntimeError(
                f"database schema version {version} is newer than this server's"
                f" ({SCHEMA_VERSION}); upgrade the server"
            )
        defaults = Settings()
        migration = _MIGRATIONS.get(version)
        schema = migration.format(schema=_SCHEMA) if migration is not None else _SCHEMA
        try:
            conn.executescript(f"BEGIN IMMEDIATE; {schema} PRAGMA user_version = {SCHEMA_VERSION};")
            conn.execute(
                "INSERT OR IGNORE INTO settings VALUES (1, ?, ?, ?, ?)",
                (
                    defaults.edition,
                    json.dumps(list(defaults.group_receipt_types)),
                    defaults.group_receipt_max_members,
                    defaults.receipt_batch_max,
                ),
            )
            conn.execute("COMMIT")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()
            raise

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run a block as one transaction: committed durably if it returns, rolled back if not."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the database is closed")
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._forget_cached()
                self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except BaseException:
                self._forget_cached()
                # A COMMIT that fails (e.g. SQLITE_BUSY) can leave the transaction open; the
                # next BEGIN would then fail for good.
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def savepoint(self) -> AbstractContextManager[None]:
        """Inside ``transaction``: if the block raises, undo its changes alone, then re-raise.

        Raises ``RuntimeError`` without running the block if the transaction is gone: SQLite
        rolls the whole transaction back on some errors (a full disk, an I/O error), and a block
        run after that would commit on its own, outside the all-or-nothing of its batch.
        """
        return self._savepoint

    def close(self) -> None:
        """Release the database; idempotent. Waits for a running transaction to finish."""
        with self._lock:
            if not self._closed:
                self._closed = True
                if self._checkpointer is not None:
                    self._checkpointer.close()
                self._conn.close()

    def _forget_cached(self) -> None:
        """Drop what is kept in memory: a rollback may have undone the writes behind it."""
        self._settings = None
        self._memberships.clear()
        self._event_seqs.clear()

    # -- settings ------------------------------------------------------------------------------

    def settings(self) -> Settings:
        """The current settings (read once, then kept until they change or a rollback)."""
        if self._settings is None:
            row = self._conn.execute(
                "SELECT edition, group_receipt_types, group_receipt_max_members,"
                " receipt_batch_max FROM settings WHERE id = 1"
            ).fetchone()
            self._settings = Settings(row[0], tuple(json.loads(row[1])), row[2], row[3])
        return self._settings

    def save_settings(self, settings: Settings) -> None:
        """Replace the settings."""
        self._settings = None
        self._conn.execute(
            "UPDATE settings SET edition = ?, group_receipt_types = ?,"
            " group_receipt_max_members = ?, receipt_batch_max = ? WHERE id = 1",
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
        self._conn.execute(
            "INSERT INTO users (user_id, nick_name, face_url, token_sha256) VALUES (?, ?, ?, ?)",
            (profile.user_id, profile.nick_name, profile.face_url, token_sha256),
        )

    def profile(self, user_id: str) -> Profile | None:
        """A user's profile, or ``None`` for an unknown user."""
        row = self._conn.execute(
            "SELECT user_id, nick_name, face_url FROM users WHERE user_id = ?", (user_id,)
        ).fetchone()
        return None if row is None else Profile(*row)

    def unknown_users(self, user_ids: Sequence[str]) -> list[str]:
        """Those of ``user_ids`` that are not users, in the given order."""
        known = {
            row[0]
            for row in self._conn.execute(
                "SELECT user_id FROM users WHERE user_id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(user_ids)),),
            )
        }
        return [user_id for user_id in user_ids if user_id not in known]

    def user_for_token(self, token_sha256: str) -> str | None:
        """The user whose token hashes to ``token_sha256``."""
        row = self._conn.execute(
            "SELECT user_id FROM users WHERE token_sha256 = ?", (token_sha256,)
        ).fetchone()
        return None if row is None else str(row[0])

    # -- groups --------------------------------------------------------------------------------

    def group(self, group_id: str) -> Group | None:
        """A group, or ``None``."""
        row = self._conn.execute(
            "SELECT group_id, group_type, owner_id, member_count FROM groups WHERE group_id = ?",
            (group_id,),
        ).fetchone()
        return None if row is None else Group(*row)

    def insert_group(self, group: Group, member_ids: Sequence[str]) -> None:
        """Add a group with its members in join order (owner first)."""
        self._memberships.clear()
        self._conn.execute(
            "INSERT INTO groups VALUES (?, ?, ?, ?, ?)",
            (group.group_id, group.group_type, group.owner_id, len(member_ids), len(member_ids)),
        )
        self._conn.executemany(
            "INSERT INTO group_members VALUES (?, ?, ?)",
            [(group.group_id, user_id, seq) for seq, user_id in enumerate(member_ids, 1)],
        )

    def is_member(self, group_id: str, user_id: str) -> bool:
        """Whether ``user_id`` is a current member of the group (kept once read, until a
        member write or a rollback)."""
        key = (group_id, user_id)
        member = self._memberships.get(key)
        if member is None:
            row = self._conn.execute(
                "SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?", key
            ).fetchone()
            member = row is not None
            if len(self._memberships) >= _MEMBERSHIPS_KEPT:
                self._memberships.clear()
            self._memberships[key] = member
        return member

    def member_ids(self, group_id: str) -> list[str]:
        """The group's current members in join order."""
        return [
            row[0]
            for row in self._conn.execute(
                "SELECT user_id FROM group_members WHERE group_id = ? ORDER BY join_seq",
                (group_id,),
            )
        ]

    def members_among(self, group_id: str, user_ids: Sequence[str]) -> list[str]:
        """Those of ``user_ids`` that are current members of the group, in the given order."""
        members = {
            row[0]
            for row in self._conn.execute(
                "SELECT user_id FROM group_members WHERE group_id = ?"
                " AND user_id IN (SELECT value FROM json_each(?))",
                (group_id, json.dumps(list(user_ids))),
            )
        }
        return [user_id for user_id in user_ids if user_id in members]

    def add_members(self, group_id: str, user_ids: Sequence[str]) -> list[str]:
        """Add the users that are not members yet (at the end of the join order); return them."""
        added = [u for u in dict.fromkeys(user_ids) if not self.is_member(group_id, u)]
        if added:
            self._memberships.clear()
            (last_join_seq,) = self._conn.execute(
                "SELECT last_join_seq FROM groups WHERE group_id = ?", (group_id,)
            ).fetchone()
            self._conn.executemany(
                "INSERT INTO group_members VALUES (?, ?, ?)",
                [(group_id, user_id, last_join_seq + i) for i, user_id in enumerate(added, 1)],
            )
            self._conn.execute(
                "UPDATE groups SET member_count = member_count + ?, last_join_seq = ?"
                " WHERE group_id = ?",
                (len(added), last_join_seq + len(added), group_id),
            )
        return added

    def remove_members(self, group_id: str, user_ids: Sequence[str]) -> list[str]:
        """Remove the users that are members; return them."""
        removed = [u for u in dict.fromkeys(user_ids) if self.is_member(group_id, u)]
        if removed:
            self._memberships.clear()
            self._conn.executemany(
                "DELETE FROM group_members WHERE group_id = ? AND user_id = ?",
                [(group_id, user_id) for user_id in removed],
            )
            self._conn.execute(
                "UPDATE groups SET member_count = member_count - ? WHERE group_id = ?",
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
        cursor = self._conn.execute(
            "INSERT INTO messages (msg_id, conversation, sender, receiver, group_id, timestamp_ms,"
            " elem_type, elem_body, elem_desc, elem_extension, need_read_receipt,"
            " online_user_only, recipient_count, read_count)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
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
        )
        pos = cursor.lastrowid
        assert pos is not None
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
        self._conn.executemany(
            "INSERT INTO recipients (pos, snapshot_idx, user_id) VALUES (?, ?, ?)",
            [(pos, idx, user_id) for idx, user_id in enumerate(user_ids, first_idx)],
        )

    def hide_message(self, message: Message) -> None:
        """Keep a just-inserted message out of every query until ``show_message``."""
        self._conn.execute("INSERT INTO pending_sends VALUES (?, 0, 0)", (message.pos,))

    def add_recipients(self, message: Message, first_idx: int, user_ids: Sequence[str]) -> None:
        """Append to a hidden message's snapshot, numbering from ``first_idx``."""
        self._insert_recipients(message.pos, first_idx, user_ids)

    def show_message(self, message: Message) -> None:
        """Make a hidden message visible; its delivery is pending from snapshot index 0."""
        self._conn.execute("UPDATE pending_sends SET visible = 1 WHERE pos = ?", (message.pos,))

    def recipients(self, message: Message, after_idx: int, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` (snapshot index, user) of the snapshot, after ``after_idx``."""
        rows = self._conn.execute(
            "SELECT snapshot_idx, user_id FROM recipients WHERE pos = ? AND snapshot_idx > ?"
            " ORDER BY snapshot_idx LIMIT ?",
            (message.pos, after_idx, limit),
        )
        return [(idx, user_id) for idx, user_id in rows]

    def set_delivered(self, message: Message, idx: int | None) -> None:
        """Record delivery up to snapshot index ``idx``; ``None``: the send is complete."""
        if idx is None:
            self._conn.execute("DELETE FROM pending_sends WHERE pos = ?", (message.pos,))
        else:
            self._conn.execute(
                "UPDATE pending_sends SET delivered = ? WHERE pos = ?", (idx, message.pos)
            )

    def pending_sends(self) -> list[PendingSend]:
        """The sends in progress (after a crash: the interrupted ones), oldest first."""
        rows = self._conn.execute(
            f"SELECT p.visible, p.delivered, {_MESSAGE_COLUMNS} FROM pending_sends AS p"
            " JOIN messages USING (pos) ORDER BY pos"
        )
        return [PendingSend(_message_from_row(row[2:]), bool(row[0]), row[1]) for row in rows]

    def discard_message(self, message: Message) -> None:
        """Delete a hidden message and its snapshot, as if it had never been sent."""
        for table in ("recipients", "pending_sends", "messages"):
            self._conn.execute(f"DELETE FROM {table} WHERE pos = ?", (message.pos,))

    def messages(self, msg_ids: Sequence[str]) -> dict[str, Message]:
        """The stored messages among ``msg_ids``, by ID."""
        if len(msg_ids) == 1:  # the common case, without encoding a JSON array
            rows = self._conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE msg_id = ? AND {_VISIBLE}",
                (msg_ids[0],),
            )
        else:
            rows = self._conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages"
                f" WHERE msg_id IN (SELECT value FROM json_each(?)) AND {_VISIBLE}",
                (json.dumps(list(msg_ids)),),
            )
        found = (_message_from_row(row) for row in rows)
        return {message.msg_id: message for message in found}

    def last_pos(self) -> int:
        """The server-order position of the newest message (0 when there is none)."""
        (pos,) = self._conn.execute("SELECT coalesce(max(pos), 0) FROM messages").fetchone()
        return int(pos)

    def recipient_has_read(self, message: Message, user_id: str) -> bool | None:
        """Whether ``user_id`` receipted the message; ``None`` if it is not a recipient."""
        row = self._conn.execute(
            "SELECT read_seq IS NOT NULL FROM recipients WHERE pos = ? AND user_id = ?",
            (message.pos, user_id),
        ).fetchone()
        return None if row is None else bool(row[0])

    def record_receipt(self, message: Message, user_id: str, read_ms: int) -> Message | None:
        """If ``user_id`` is a recipient that has not receipted ``message`` yet, give its
        receipt its place after every earlier reader, bump ``read_count`` and return the
        message with its new counts; otherwise change nothing and return ``None``.

        Each recipient reads once, so the n-th reader's ``read_seq`` is n: the new read count.
        One conditional UPDATE both checks the reader's row (it exists and is unread: a late
        joiner has none [R-4], a repeated receipt finds it read [R-5]) and marks it, instead
        of a read and then a write. ``message`` must have been read in this transaction.
        """
        read_count = message.read_count + 1
        marked = self._conn.execute(
            "UPDATE recipients SET read_seq = ?, read_ms = ?"
            " WHERE pos = ? AND user_id = ? AND read_seq IS NULL",
            (read_count, read_ms, message.pos, user_id),
        ).rowcount
        if not marked:
            return None
        self._conn.execute(
            "UPDATE messages SET read_count = ? WHERE pos = ?", (read_count, message.pos)
        )
        return _with_read_count(message, read_count)

    def receipt_time(self, message: Message) -> int | None:
        """When the (single) recipient of a C2C message receipted it, or ``None``."""
        row = self._conn.execute(
            "SELECT read_ms FROM recipients WHERE pos = ? AND snapshot_idx = 1", (message.pos,)
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def history(self, conversation: str, before_pos: int | None, limit: int) -> list[Message]:
        """Up to ``limit`` stored-in-history messages before ``before_pos``, newest first."""
        rows = self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages"
            f" WHERE conversation = ? AND online_user_only = 0 AND pos < ? AND {_VISIBLE}"
            " ORDER BY pos DESC LIMIT ?",
            (conversation, before_pos if before_pos is not None else 2**63 - 1, limit),
        )
        return [_message_from_row(row) for row in rows]

    def member_page(
        self, message: Message, member_filter: MemberFilter, after: int, limit: int
    ) -> list[tuple[int, Profile]]:
        """Up to ``limit`` (position, member) pairs of one list, after position ``after``."""
        sql = READ_PAGE_SQL if member_filter == READ else UNREAD_PAGE_SQL
        rows = self._conn.execute(sql, (message.pos, after, limit))
        return [(position, Profile(*profile)) for position, *profile in rows]

    # -- conversations -------------------------------------------------------------------------

    def record_activity(
        self, entries: Sequence[tuple[str, Chat]], pos: int, unread_increment: int
    ) -> None:
        """Move each (user, conversation) to activity ``pos``; add to its unread counter.

        Activity never moves back: a big send is delivered after messages sent later.
        """
        self._conn.executemany(
            "INSERT INTO conversations (user_id, chat_type, chat_id, unread_count, last_pos)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO UPDATE SET unread_count = unread_count + excluded.unread_count,"
            " last_pos = max(ifnull(last_pos, 0), excluded.last_pos)",
            [(user_id, *_chat_key(chat), unread_increment, pos) for user_id, chat in entries],
        )

    def drop_conversations(self, user_ids: Sequence[str], chat: Chat) -> None:
        """Forget the users' state for one conversation."""
        chat_type, chat_id = _chat_key(chat)
        self._conn.executemany(
            "DELETE FROM conversations WHERE user_id = ? AND chat_type = ? AND chat_id = ?",
            [(user_id, chat_type, chat_id) for user_id in user_ids],
        )

    def conversations(self, user_id: str) -> list[Conversation]:
        """The user's conversations that had activity, most recent first."""
        rows = self._conn.execute(
            "SELECT chat_type, chat_id, unread_count FROM conversations"
            " WHERE user_id = ? AND last_pos IS NOT NULL ORDER BY last_pos DESC",
            (user_id,),
        )
        return [
            Conversation(PeerChat(chat_id) if chat_type == _C2C else GroupChat(chat_id), unread)
            for chat_type, chat_id, unread in rows
        ]

    def read_mark(self, user_id: str, peer_id: str) -> ReadMark | None:
        """``user_id``'s read mark on its C2C conversation with ``peer_id``."""
        row = self._conn.execute(
            "SELECT mark_pos, mark_ms FROM conversations"
            " WHERE user_id = ? AND chat_type = ? AND chat_id = ? AND mark_pos IS NOT NULL",
            (user_id, _C2C, peer_id),
        ).fetchone()
        return None if row is None else ReadMark(*row)

    def set_read_mark(self, user_id: str, peer_id: str, mark: ReadMark) -> None:
        """Set the read mark and zero the unread counter of that C2C conversation."""
        self._conn.execute(
            "INSERT INTO conversations (user_id, chat_type, chat_id, mark_pos, mark_ms)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO UPDATE SET unread_count = 0, mark_pos = excluded.mark_pos,"
            " mark_ms = excluded.mark_ms",
            (user_id, _C2C, peer_id, mark.pos, mark.timestamp),
        )

    # -- events --------------------------------------------------------------------------------

    def append_events(
        self, user_ids: Sequence[str], name: str, data: JsonValue, created_ms: int
    ) -> list[Event]:
        """Give each user the event under its next seq; prune beyond the retention.

        Events older than a user's newest ``event_retention`` are no longer read (see
        ``event_bounds``), and are deleted a chunk at a time: on every ``_prune_every``-th seq
        of the user, by primary-key range in the same transaction. One delete per chunk instead
        of one per event took two statements off every receipt of a busy sender.
        """
        execute = self._conn.execute
        encoded = _encode_json(data)
        payload: int | None = None
        if len(user_ids) > 1:
            payload = execute(
                "INSERT INTO event_payloads (event, data, created_ms, refs) VALUES (?, ?, ?, ?)",
                (name, encoded, created_ms, len(user_ids)),
            ).lastrowid
            assert payload is not None
        events = []
        pruned: Counter[int] | None = None
        retention, prune_every = self._retention, self._prune_every
        seqs = self._event_seqs
        if len(seqs) + len(user_ids) > _EVENT_SEQS_KEPT:
            seqs.clear()
        for user_id in user_ids:
            seq = seqs.get(user_id)
            if seq is None:
                (seq,) = execute(
                    "UPDATE users SET event_seq = event_seq + 1 WHERE user_id = ?"
                    " RETURNING event_seq",
                    (user_id,),
                ).fetchone()
            else:  # known: a plain UPDATE, one statement step instead of two
                seq += 1
                execute("UPDATE users SET event_seq = ? WHERE user_id = ?", (seq, user_id))
            seqs[user_id] = seq
            if payload is None:
                execute(
                    "INSERT INTO events (user_id, seq, event, data, created_ms)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (user_id, seq, name, encoded, created_ms),
                )
            else:
                execute(
                    "INSERT INTO events (user_id, seq, payload) VALUES (?, ?, ?)",
                    (user_id, seq, payload),
                )
            if seq > retention and seq % prune_every == 0:
                gone = (user_id, seq - retention)
                shared = execute(
                    "DELETE FROM events WHERE user_id = ? AND seq <= ? AND payload IS NOT NULL"
                    " RETURNING payload",
                    gone,
                ).fetchall()
                execute("DELETE FROM events WHERE user_id = ? AND seq <= ?", gone)
                if shared:
                    pruned = pruned if pruned is not None else Counter()
                    pruned.update(row[0] for row in shared)
            events.append(Event(user_id, seq, name, data))
        for payload_id, count in (pruned or {}).items():
            # Most payloads belong to one event: then one statement frees them.
            if not execute(
                "DELETE FROM event_payloads WHERE id = ? AND refs = ?", (payload_id, count)
            ).rowcount:
                execute(
                    "UPDATE event_payloads SET refs = refs - ? WHERE id = ?", (count, payload_id)
                )
        return events

    def event_bounds(self, user_id: str) -> tuple[int, int]:
        """(oldest retained seq, latest seq) of a user; oldest is latest + 1 if none is kept."""
        latest = self._latest_seq(user_id)
        (oldest,) = self._conn.execute(
            "SELECT min(seq) FROM events WHERE user_id = ? AND seq > ?",
            (user_id, latest - self._retention),  # older ones may wait for their chunk's prune
        ).fetchone()
        return (latest + 1 if oldest is None else oldest), latest

    def _latest_seq(self, user_id: str) -> int:
        if user_id in self._event_seqs:
            return self._event_seqs[user_id]
        (latest,) = self._conn.execute(
            "SELECT event_seq FROM users WHERE user_id = ?", (user_id,)
        ).fetchone()
        return int(latest)

    def events_after(self, user_id: str, since: int) -> list[Event]:
        """The user's retained events with seq > ``since``, in order."""
        rows = self._conn.execute(
            "SELECT e.seq, coalesce(e.event, p.event), coalesce(e.data, p.data) FROM events AS e"
            " LEFT JOIN event_payloads AS p ON p.id = e.payload"
            " WHERE e.user_id = ? AND e.seq > ? ORDER BY e.seq",
            (user_id, max(since, self._latest_seq(user_id) - self._retention)),
        )
        return [Event(user_id, seq, name, json.loads(data)) for seq, name, data in rows]


# One encoder for every payload: ``json.dumps`` with options builds a new one per call.
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _chat_key(chat: Chat) -> tuple[int, str]:
    if isinstance(chat, PeerChat):
        return _C2C, chat.user_id
    return _GROUP, chat.group_id


def _with_read_count(message: Message, read_count: int) -> Message:
    # dataclasses.replace costs as much as one of the receipt's SQL statements.
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
