"""Many nodes, one service: the behaviours that only a cluster can get wrong, on real PostgreSQL.

A receipt taken by one node reaches the sender's push connection on another in seq order,
gap-free, with the latest counts [P-1..P-3]; replay with ``since`` works from any node; counts
stay exact under concurrent receipts on different nodes; presence [S-4], memberships and
settings written on one node hold on the others at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from seenby.reference_server.pg_storage import PG_SCHEMA_VERSION, PgStorage
from tests.cluster.conftest import Client, Cluster

RECEIPTS = "onRecvMessageReadReceipts"


def _send(sender: Client, group_id: str, text: str = "hi", **flags: bool) -> str:
    data = sender.must(
        "sendMessage",
        {"groupID": group_id, "elem": {"elemType": "text", "text": text},
         "needReadReceipt": True, **flags},
    )  # fmt: skip
    return str(data["msgID"])


def _gap_free(frames: list[dict[str, Any]]) -> None:
    seqs = [frame["seq"] for frame in frames]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"seqs not consecutive: {seqs}"


def test_P1_a_receipt_on_one_node_reaches_the_senders_connection_on_another(
    cluster: Callable[[int], Cluster],
) -> None:
    nodes = cluster(3)
    sender = nodes.user("alice", node=0)
    readers = [nodes.user(f"r{i}", node=i % 2) for i in range(3)]
    group = nodes.group(sender, *readers)
    stream = nodes.stream(sender, node=2)  # no call goes to node 2: it learns from the others
    msg_id = _send(sender, group)
    for reader in readers:  # through nodes 0, 1, 0
        reader.must("sendMessageReadReceipts", {"msgIDs": [msg_id]})
    frames = [stream.until(lambda f: f["event"] == RECEIPTS) for _ in readers]
    _gap_free(frames)
    assert [f["data"][0]["readCount"] for f in frames] == [1, 2, 3]
    assert frames[-1]["data"][0]["unreadCount"] == 0


def test_replay_with_since_from_any_node_holds_every_event_once_in_order(
    cluster: Callable[[int], Cluster],
) -> None:
    nodes = cluster(2)
    sender = nodes.user("alice", node=0)
    reader = nodes.user("bob", node=1)
    group = nodes.group(sender, reader)
    msg_ids = [_send(sender, group, f"m{i}") for i in range(4)]
    for msg_id in msg_ids:
        reader.must("sendMessageReadReceipts", {"msgIDs": [msg_id]})
    replays = []
    for node in (0, 1):
        stream = nodes.stream(sender, node=node, since=0)
        replays.append([stream.next() for _ in msg_ids])
        stream.close()
    assert replays[0] == replays[1]
    _gap_free(replays[0])
    assert [f["data"][0]["msgID"] for f in replays[0]] == msg_ids


def test_P3_counts_stay_exact_under_concurrent_receipts_on_different_nodes(
    cluster: Callable[[int], Cluster],
) -> None:
    nodes = cluster(3)
    sender = nodes.user("alice", node=0)
    readers = [nodes.user(f"r{i}", node=i % 3) for i in range(24)]
    group = nodes.group(sender, *readers)
    msg_ids = [_send(sender, group, f"m{i}") for i in range(3)]
    stream = nodes.stream(sender, node=1)
    start = threading.Barrier(len(readers))
    errors: list[BaseException] = []

    def read(reader: Client) -> None:
        try:
            start.wait()
            for msg_id in msg_ids:
                reader.must("sendMessageReadReceipts", {"msgIDs": [msg_id]})
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=read, args=(reader,)) for reader in readers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    pulled = sender.must("getMessageReadReceipts", {"msgIDs": msg_ids})
    assert [r["readCount"] for r in pulled] == [len(readers)] * len(msg_ids)
    frames = [stream.until(lambda f: f["event"] == RECEIPTS) for _ in range(72)]
    _gap_free(frames)
    seen: dict[str, list[int]] = {}
    for frame in frames:
        for receipt in frame["data"]:
            seen.setdefault(receipt["msgID"], []).append(receipt["readCount"])
    # Every count from 1 to 24 once per message, in rising order: no lost or doubled receipt.
    assert seen == {msg_id: list(range(1, 25)) for msg_id in msg_ids}


def test_S4_a_user_online_on_another_node_is_a_recipient_of_an_online_only_message(
    cluster: Callable[[int], Cluster],
) -> None:
    nodes = cluster(2)
    sender = nodes.user("alice", node=0)
    online, offline = nodes.user("bob", node=1), nodes.user("carol", node=1)
    group = nodes.group(sender, online, offline)
    stream = nodes.stream(online, node=1)
    msg_id = _send(sender, group, onlineUserOnly=True)
    frame = stream.until(lambda f: f["event"] == "onRecvNewMessage")
    assert frame["data"]["msgID"] == msg_id
    (receipt,) = sender.must("getMessageReadReceipts", {"msgIDs": [msg_id]})
    assert receipt["readCount"] + receipt["unreadCount"] == 1  # bob only: carol was offline


def test_a_membership_change_on_one_node_holds_on_the_others_at_once(
    cluster: Callable[[int], Cluster],
) -> None:
    nodes = cluster(2)
    sender = nodes.user("alice", node=0)
    leaver = nodes.user("bob", node=1)
    group = nodes.group(sender, leaver)
    msg_id = _send(sender, group)
    # bob's membership is read on node 1 (a cache there would now hold it) ...
    leaver.must("getHistoryMessageList", {"groupID": group, "count": 10})
    nodes.admin.on(nodes.urls[0]).must(
        "admin/removeGroupMembers", {"groupID": group, "userIDs": [leaver.user_id]}
    )
    # ... and is gone there as soon as node 0 removed it.
    refused = leaver.call("sendMessageReadReceipts", {"msgIDs": [msg_id]})
    assert refused["code"] != 0, refused
    (receipt,) = sender.must("getMessageReadReceipts", {"msgIDs": [msg_id]})
    assert receipt["readCount"] == 0


def test_a_settings_change_on_one_node_holds_on_the_others_at_once(
    cluster: Callable[[int], Cluster],
) -> None:
    nodes = cluster(2)
    sender = nodes.user("alice", node=1)
    reader = nodes.user("bob", node=1)
    group = nodes.group(sender, reader)
    _send(sender, group)  # node 1 has read the settings
    nodes.admin.must("admin/setSettings", {"edition": "standard"})
    refused = sender.call(
        "sendMessage",
        {"groupID": group, "elem": {"elemType": "text", "text": "x"}, "needReadReceipt": True},
    )
    assert refused["code"] == 7013, refused


def test_a_node_refuses_a_database_whose_schema_is_newer_than_it_knows(database: str) -> None:
    PgStorage(database, node=1).close()  # creates the schema
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = %s", (PG_SCHEMA_VERSION + 1,))
    with pytest.raises(RuntimeError, match="newer than this server's"):
        PgStorage(database, node=1)


def test_what_one_node_wrote_is_there_for_a_node_started_later(
    cluster: Callable[[int], Cluster],
) -> None:
    first = cluster(1)
    sender = first.user("alice")
    reader = first.user("bob")
    group = first.group(sender, reader)
    msg_id = _send(sender, group)
    reader.must("sendMessageReadReceipts", {"msgIDs": [msg_id]})
    first.stop()
    later = cluster(1)
    (receipt,) = sender.on(later.urls[0]).must("getMessageReadReceipts", {"msgIDs": [msg_id]})
    assert receipt["readCount"] == 1
    stream = later.stream(sender, node=0, since=0)
    frame = stream.next()  # the replay, from the table the first node wrote
    assert (frame["seq"], frame["event"]) == (1, RECEIPTS)
