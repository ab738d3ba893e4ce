"""The SQLite storage: schema on open, durability settings, keyset pages on indexes, pruning."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from seenby.reference_server.storage import (
    READ_PAGE_SQL,
    SCHEMA_VERSION,
    UNREAD_PAGE_SQL,
    SqliteStorage,
)
from seenby.reference_server.values import (
    READ,
    UNREAD,
    Group,
    Message,
    NewMessage,
    Profile,
    Settings,
    TextElem,
)

RECIPIENTS = 100_000


def _message(msg_id: str, recipient_count: int) -> NewMessage:
    return NewMessage(
        msg_id=msg_id,
        sender="sender",
        receiver=None,
        group_id="big",
        timestamp=1,
        elem=TextElem("hi"),
        need_read_receipt=True,
        online_user_only=False,
        recipient_count=recipient_count,
    )


def _counted(message: Message | None) -> Message:
    assert message is not None, "the receipt was not recorded"
    return message


@pytest.fixture(scope="module")
def big_message_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A database file with one message to 100,000 recipients, the first half of them read."""
    path = tmp_path_factory.mktemp("storage") / "big.sqlite3"
    storage = SqliteStorage(str(path))
    members = [f"member{i:06}" for i in range(RECIPIENTS)]
    with storage.transaction():
        for user_id in ["sender", *members]:
            storage.insert_user(Profile(user_id), f"hash-{user_id}")
        message = storage.insert_message(_message("m1", RECIPIENTS), members)
        for user_id in members[: RECIPIENTS // 2]:
            message = _counted(storage.record_receipt(message, user_id, 5))
    storage.close()
    yield path


def _plan(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> str:
    return " | ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def _vm_steps(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> int:
    """How many SQLite VM instructions a query takes (a cost that is not a clock)."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    conn.set_progress_handler(count, 1)
    try:
        conn.execute(sql, params).fetchall()
    finally:
        conn.set_progress_handler(None, 1)
    return steps


@pytest.mark.parametrize(
    ("sql", "index"), [(READ_PAGE_SQL, "recipients_read"), (UNREAD_PAGE_SQL, "recipients_unread")]
)
def test_L4_member_pages_are_keyset_searches_on_an_index(
    big_message_db: Path, sql: str, index: str
) -> None:
    """L-4 (cost): a page query searches its partial index by (message, position); it never
    scans the message's recipients."""
    with sqlite3.connect(big_message_db) as conn:
        plan = _plan(conn, sql, (1, 0, 101))
    assert f"USING COVERING INDEX {index}" in plan, plan
    assert "SCAN r" not in plan and "SCAN recipients" not in plan, plan


@pytest.mark.parametrize(
    ("sql", "first", "last"),
    [
        (READ_PAGE_SQL, 0, RECIPIENTS // 2 - 101),
        (UNREAD_PAGE_SQL, 0, RECIPIENTS - 101),
    ],
)
def test_L4_a_page_costs_the_same_anywhere_in_a_100000_recipient_list(
    big_message_db: Path, sql: str, first: int, last: int
) -> None:
    """L-4 (cost): the first and the last page of a 100,000-recipient list cost the same
    number of VM steps (within a small factor), so paging is O(page), not O(position). The
    first UNREAD page starts behind 50,000 read members, which a scan would have to skip."""
    with sqlite3.connect(big_message_db) as conn:
        start = _vm_steps(conn, sql, (1, first, 101))
        end = _vm_steps(conn, sql, (1, last, 101))
        rows = conn.execute(sql, (1, last, 101)).fetchall()
    assert len(rows) == 101
    assert end < 2 * start and start < 2 * end, (start, end)


def test_page_queries_see_members_in_read_and_snapshot_order(tmp_path: Path) -> None:
    """The READ list follows read order, the UNREAD list snapshot order, from the cursor."""
    storage = SqliteStorage(":memory:")
    with storage.transaction():
        for user_id in ("s", "a", "b", "c", "d"):
            storage.insert_user(Profile(user_id), user_id)
        message = storage.insert_message(_message("m", 4), ["a", "b", "c", "d"])
        message = _counted(storage.record_receipt(message, "c", 10))
        message = _counted(storage.record_receipt(message, "a", 11))
        assert storage.record_receipt(message, "a", 12) is None  # read already: no change
        assert storage.record_receipt(message, "s", 12) is None  # not a recipient
        assert storage.messages(["m"])["m"].read_count == 2
        read = storage.member_page(message, READ, 0, 10)
        unread = storage.member_page(message, UNREAD, 0, 10)
        after_b = storage.member_page(message, UNREAD, 2, 10)
    storage.close()
    assert [(seq, p.user_id) for seq, p in read] == [(1, "c"), (2, "a")]
    assert [(idx, p.user_id) for idx, p in unread] == [(2, "b"), (4, "d")]
    assert [p.user_id for _, p in after_b] == ["d"]


def test_file_databases_are_durable_wal_and_reopen_idempotently(tmp_path: Path) -> None:
    """A file database runs WAL with synchronous=FULL; reopening keeps data and the schema
    version; settings persist."""
    path = str(tmp_path / "db.sqlite3")
    storage = SqliteStorage(path)
    with storage.transaction():
        storage.insert_user(Profile("alice", "Alice"), "h")
        storage.save_settings(Settings(edition="standard"))
    storage.close()
    storage.close()  # idempotent

    reopened = SqliteStorage(path)
    with reopened.transaction():
        assert reopened.profile("alice") == Profile("alice", "Alice")
        assert reopened.settings().edition == "standard"
    reopened.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_database_from_a_newer_server_is_refused(tmp_path: Path) -> None:
    """A schema version newer than this server's is not opened (nor changed)."""
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        SqliteStorage(str(path))


def test_a_failed_transaction_leaves_nothing_behind() -> None:
    """All or nothing: an exception inside the transaction rolls every write back."""
    storage = SqliteStorage(":memory:")
    with pytest.raises(ZeroDivisionError), storage.transaction():
        storage.insert_user(Profile("alice"), "h")
        _ = 1 / 0
    with storage.transaction():
        assert storage.profile("alice") is None
    storage.close()


def test_events_are_numbered_per_user_and_pruned_beyond_the_retention() -> None:
    """Each user's seq rises by one per event; only the newest ``retention`` are kept."""
    storage = SqliteStorage(":memory:", event_retention=5)
    with storage.transaction():
        storage.insert_user(Profile("a"), "ha")
        storage.insert_user(Profile("b"), "hb")
        for i in range(12):
            storage.append_events(["a"], "e", {"i": i}, 100 + i)
        both = storage.append_events(["a", "b"], "e", None, 200)
        assert [(e.user_id, e.seq) for e in both] == [("a", 13), ("b", 1)]
        assert storage.event_bounds("a") == (9, 13)
        assert [e.seq for e in storage.events_after("a", 10)] == [11, 12, 13]
        assert storage.events_after("a", 11)[0].data == {"i": 11}
        assert storage.event_bounds("b") == (1, 1)
    storage.close()


def _payload_rows(storage: SqliteStorage) -> list[tuple[int, int]]:
    """(id, refs) of every stored event payload."""
    return list(storage._conn.execute("SELECT id, refs FROM event_payloads ORDER BY id"))


def test_an_event_for_many_users_stores_its_payload_once_and_frees_it_with_the_last_event() -> None:
    """One payload row per append to several users; an event for one user keeps its payload
    in its own row; pruning drops unused payloads."""
    storage = SqliteStorage(":memory:", event_retention=2)
    users = ["a", "b", "c"]
    with storage.transaction():
        for user_id in users:
            storage.insert_user(Profile(user_id), f"h{user_id}")
        storage.append_events(users, "shared", {"big": "x" * 500}, 1)
        assert _payload_rows(storage) == [(1, 3)]
        storage.append_events(["a", "b"], "e", 2, 2)
        storage.append_events(["a"], "e", 3, 3)  # in a's row; a's first event is pruned
        assert _payload_rows(storage) == [(1, 2), (2, 2)]
        storage.append_events(["b"], "e", 4, 4)  # b's too
        assert _payload_rows(storage) == [(1, 1), (2, 2)]
        storage.append_events(["c", "c"], "e", 5, 5)  # and c's: nobody points to it any more
        assert _payload_rows(storage) == [(2, 2), (3, 2)]
        assert [e.data for e in storage.events_after("c", 0)] == [5, 5]
        assert [(e.name, e.data) for e in storage.events_after("a", 0)] == [("e", 2), ("e", 3)]
        inline = storage._conn.execute(
            "SELECT seq, payload, event, data, created_ms FROM events WHERE user_id = 'b'"
            " ORDER BY seq"
        ).fetchall()
        assert inline == [(2, 2, None, None, None), (3, None, "e", "4", 4)]
    storage.close()


def _database_with_users_a_and_b(path: str) -> None:
    storage = SqliteStorage(path)
    with storage.transaction():
        for user_id in ("a", "b"):
            storage.insert_user(Profile(user_id), f"h{user_id}")
    storage.close()


def test_a_version_1_database_keeps_its_events_when_opened(tmp_path: Path) -> None:
    """Version 1 stored each event's payload in the event row; opening it moves them out."""
    path = str(tmp_path / "v1.sqlite3")
    _database_with_users_a_and_b(path)
    with sqlite3.connect(path) as conn:  # the version 1 layout, with events of two users
        conn.executescript(
            """
            DROP TABLE events; DROP TABLE event_payloads; DROP TABLE pending_sends;
            CREATE TABLE events (user_id TEXT NOT NULL, seq INTEGER NOT NULL,
                event TEXT NOT NULL, data TEXT NOT NULL, created_ms INTEGER NOT NULL,
                PRIMARY KEY (user_id, seq)) WITHOUT ROWID;
            INSERT INTO events VALUES ('b', 1, 'e', '"b1"', 1), ('a', 1, 'e', '{"a":1}', 2),
                ('a', 2, 'f', '[2]', 3);
            UPDATE users SET event_seq = 2 WHERE user_id = 'a';
            UPDATE users SET event_seq = 1 WHERE user_id = 'b';
            PRAGMA user_version = 1;
            """
        )
    conn.close()
    reopened = SqliteStorage(path)
    with reopened.transaction():
        assert [(e.seq, e.name, e.data) for e in reopened.events_after("a", 0)] == [
            (1, "e", {"a": 1}),
            (2, "f", [2]),
        ]
        assert [(e.seq, e.data) for e in reopened.events_after("b", 0)] == [(1, "b1")]
        (next_event,) = reopened.append_events(["a"], "g", None, 4)
        assert next_event.seq == 3
    reopened.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()


def test_membership_reads_follow_member_writes_and_rollbacks() -> None:
    """is_member is kept in memory once read; every member write and every rollback drops
    what was kept, so a read never answers from before a change or from an undone one."""
    storage = SqliteStorage(":memory:")
    with storage.transaction():
        for user_id in ("a", "b"):
            storage.insert_user(Profile(user_id), user_id)
        assert not storage.is_member("g", "a")  # no such group yet
        storage.insert_group(Group("g", "Work", "a", 1), ["a"])
        assert storage.is_member("g", "a")
    with storage.transaction():
        assert not storage.is_member("g", "b")
        with pytest.raises(RuntimeError), storage.savepoint():
            storage.add_members("g", ["b"])
            assert storage.is_member("g", "b")
            raise RuntimeError("undo the join")
        assert not storage.is_member("g", "b")
        storage.add_members("g", ["b"])
        assert storage.is_member("g", "b")
    with pytest.raises(RuntimeError), storage.transaction():
        storage.remove_members("g", ["b"])
        assert not storage.is_member("g", "b")
        raise RuntimeError("undo the leave")
    with storage.transaction():
        assert storage.is_member("g", "b")
    storage.close()


def test_a_version_2_database_keeps_its_events_when_opened(tmp_path: Path) -> None:
    """Version 2 kept every event's payload in event_payloads; opening it keeps them there
    and appends one-user events in the new layout."""
    path = str(tmp_path / "v2.sqlite3")
    _database_with_users_a_and_b(path)
    with sqlite3.connect(path) as conn:  # the version 2 layout, with events of two users
        conn.executescript(
            """
            DROP TABLE events; DELETE FROM event_payloads;
            CREATE TABLE events (user_id TEXT NOT NULL, seq INTEGER NOT NULL,
                payload INTEGER NOT NULL, PRIMARY KEY (user_id, seq)) WITHOUT ROWID;
            INSERT INTO event_payloads VALUES (1, 'e', '{"a":1}', 2, 2), (2, 'f', '[2]', 3, 1);
            INSERT INTO events VALUES ('a', 1, 1), ('b', 1, 1), ('a', 2, 2);
            UPDATE users SET event_seq = 2 WHERE user_id = 'a';
            UPDATE users SET event_seq = 1 WHERE user_id = 'b';
            PRAGMA user_version = 2;
            """
        )
    conn.close()
    reopened = SqliteStorage(path, event_retention=2)
    with reopened.transaction():
        assert [(e.seq, e.name, e.data) for e in reopened.events_after("a", 0)] == [
            (1, "e", {"a": 1}),
            (2, "f", [2]),
        ]
        assert [(e.seq, e.data) for e in reopened.events_after("b", 0)] == [(1, {"a": 1})]
        (next_event,) = reopened.append_events(["a"], "g", None, 4)  # prunes a's first
        assert next_event.seq == 3
        assert [(e.seq, e.name) for e in reopened.events_after("a", 0)] == [(2, "f"), (3, "g")]
        assert _payload_rows(reopened) == [(1, 1), (2, 1)]
    reopened.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()


def test_events_past_the_retention_are_never_read_and_are_pruned_a_chunk_at_a_time() -> None:
    """With a retention of 1,000 the old events go ten at a time (every 10th seq); reads never
    show more than the newest 1,000, whether or not their chunk is pruned yet."""
    storage = SqliteStorage(":memory:", event_retention=1000)
    with storage.transaction():
        for user_id in ("a", "b"):
            storage.insert_user(Profile(user_id), f"h{user_id}")
        storage.append_events(["a", "b"], "shared", 0, 0)  # a's seq 1, in a shared payload
        for i in range(2, 1010):
            storage.append_events(["a"], "e", i, i)
        # seq 1,009: seq 9 is past the retention, its chunk is not pruned yet
        assert storage.event_bounds("a") == (10, 1009)
        assert [e.seq for e in storage.events_after("a", 0)][:2] == [10, 11]
        assert len(storage.events_after("a", 0)) == 1000
        assert _payload_rows(storage) == [(1, 2)]
        storage.append_events(["a"], "e", 1010, 1010)  # seq 1,010: seqs up to 10 are pruned
        stored = storage._conn.execute("SELECT min(seq), count(*) FROM events WHERE user_id = 'a'")
        assert stored.fetchone() == (11, 1000)
        assert _payload_rows(storage) == [(1, 1)]  # b still has it
        assert storage.event_bounds("a") == (11, 1010)
        assert [(e.seq, e.data) for e in storage.events_after("b", 0)] == [(1, 0)]
    storage.close()


def test_event_seqs_stay_gap_free_when_appends_are_rolled_back() -> None:
    """A user's last seq is kept in memory after an append; a rollback of the call or of the
    whole transaction drops it, so the next event takes the seq the undone one had."""
    storage = SqliteStorage(":memory:")
    with storage.transaction():
        storage.insert_user(Profile("a"), "ha")
        assert [e.seq for e in storage.append_events(["a"], "e", 1, 1)] == [1]
        assert [e.seq for e in storage.append_events(["a"], "e", 2, 2)] == [2]
    with storage.transaction():
        with pytest.raises(RuntimeError), storage.savepoint():
            assert [e.seq for e in storage.append_events(["a"], "e", 3, 3)] == [3]
            raise RuntimeError("undo the call")
        assert [e.seq for e in storage.append_events(["a"], "e", 3, 3)] == [3]
    with pytest.raises(RuntimeError), storage.transaction():
        assert [e.seq for e in storage.append_events(["a"], "e", 4, 4)] == [4]
        raise RuntimeError("undo the transaction")
    with storage.transaction():
        assert storage.event_bounds("a") == (1, 3)
        assert [e.seq for e in storage.append_events(["a"], "e", 4, 4)] == [4]
        assert [e.data for e in storage.events_after("a", 0)] == [1, 2, 3, 4]
    storage.close()
