"""A small populated reference server on a SQLite file, and a fingerprint of its whole state.

Shared by the hand-written fuzz cases (``test_fuzz.py``) and the contract fuzzing driven by the
OpenAPI document (``test_contract_fuzz.py``): both check that a refused call changes nothing, by
comparing a digest of every row of the server's database, read over a separate read-only
connection, before and after the call. It catches any partial write, a stray event included.
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from seenby import reference_server

from .conftest import create_user
from .wire import Wire


@dataclass(frozen=True)
class FuzzWorld:
    """A small populated server: users, a group, one C2C and one group message."""

    url: str
    db: Path
    admin_key: str
    alice: str
    alice_token: str
    bob: str
    group_id: str
    c2c_msg_id: str
    group_msg_id: str
    """Bob's message to the group."""
    own_group_msg_id: str
    """Alice's message to the group."""
    carol: str


@contextmanager
def populated_server(folder: Path) -> Iterator[FuzzWorld]:
    """Start a reference server on ``folder/seenby.sqlite3`` holding alice, bob and carol, a
    Work group of the three, a C2C message alice -> bob and a group message from bob and one
    from alice, all needing read receipts; stop it on exit."""
    db = folder / "seenby.sqlite3"
    server = reference_server.start(port=0, db=str(db))
    wire = Wire(server.url)
    try:
        alice, bob, carol = (
            create_user(wire, server.admin_key, n) for n in ("alice", "bob", "carol")
        )
        group_id = f"team-{uuid.uuid4().hex[:6]}"
        wire.must(
            "admin/createGroup",
            {"groupID": group_id, "groupType": "Work", "ownerID": alice.user_id,
             "memberIDs": [bob.user_id, carol.user_id]},
            server.admin_key,
        )  # fmt: skip
        text = {"elemType": "text", "text": "hi"}
        c2c = wire.must(
            "sendMessage", {"receiver": bob.user_id, "elem": text, "needReadReceipt": True},
            alice.token,
        )  # fmt: skip
        grp, own = (
            wire.must(
                "sendMessage", {"groupID": group_id, "elem": text, "needReadReceipt": True},
                sender.token,
            )
            for sender in (bob, alice)
        )  # fmt: skip
        yield FuzzWorld(
            server.url, db, server.admin_key, alice.user_id, alice.token, bob.user_id, group_id,
            c2c["msgID"], grp["msgID"], own["msgID"], carol.user_id,
        )  # fmt: skip
    finally:
        wire.close()
        server.stop()


def fingerprint(db: Path) -> str:
    """A digest of every row of every table, read over a read-only connection."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        digest = hashlib.sha256()
        for line in connection.iterdump():
            digest.update(line.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()
    finally:
        connection.close()
