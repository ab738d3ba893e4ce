"""Catch-up after disconnect: ``GET /v1/events?since=N`` (docs/protocol.md §6.1).

Replay sends every retained event after N exactly once and in order, then continues live with no
gap and no repeat, also while events are being produced during the switch; ``since`` older than
retention starts with ``onReplayGap``.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

import pytest
import requests

from .conftest import create_user
from .sizes import FULL
from .wire import CALL_TIMEOUT_S, EventStream, Wire, parse_reply, ws_url
from .workload import Feed, User


def send_texts(wire: Wire, sender: User, receiver: User, count: int) -> list[str]:
    """``count`` C2C texts from ``sender`` to ``receiver``; their msgIDs in send order."""
    return [
        wire.must(
            "sendMessage",
            {"receiver": receiver.user_id, "elem": {"elemType": "text", "text": f"t{n}"}},
            sender.token,
        )["msgID"]
        for n in range(count)
    ]


def new_message_ids(frames: list[dict[str, Any]]) -> list[str]:
    """The msgIDs of the ``onRecvNewMessage`` frames, in order."""
    return [f["data"]["msgID"] for f in frames if f["event"] == "onRecvNewMessage"]


def test_replay_after_a_disconnect_sends_each_missed_event_once_in_order_then_goes_live(
    server: Any, wire: Wire
) -> None:
    alice, bob = (create_user(wire, server.admin_key, n) for n in ("alice", "bob"))
    with EventStream(server.url, alice.token) as first:
        early = send_texts(wire, bob, alice, 3)
        first.wait_for_seq(3)
    missed = send_texts(wire, bob, alice, 5)
    with EventStream(server.url, alice.token, since=3) as resumed:
        replayed = resumed.wait_for_seq(8)
        late = send_texts(wire, bob, alice, 2)
        frames = resumed.wait_for_seq(10)
    assert new_message_ids(first.snapshot()) == early
    assert [f["seq"] for f in replayed] == [4, 5, 6, 7, 8]
    assert [f["seq"] for f in frames] == list(range(4, 11))
    assert new_message_ids(frames) == missed + late


def test_since_zero_replays_the_whole_retained_log_and_no_since_only_live(
    server: Any, wire: Wire
) -> None:
    alice, bob = (create_user(wire, server.admin_key, n) for n in ("alice", "bob"))
    earlier = send_texts(wire, bob, alice, 4)
    with (
        EventStream(server.url, alice.token, since=0) as replay,
        EventStream(server.url, alice.token) as live_only,
    ):
        assert new_message_ids(replay.wait_for_seq(4)) == earlier
        later = send_texts(wire, bob, alice, 1)
        replay.wait_for_seq(5)
        frames = live_only.wait_for_seq(5)
    assert [f["seq"] for f in frames] == [5]
    assert new_message_ids(frames) == later


def test_since_at_the_latest_seq_replays_nothing_and_continues_live(
    server: Any, wire: Wire
) -> None:
    alice, bob = (create_user(wire, server.admin_key, n) for n in ("alice", "bob"))
    send_texts(wire, bob, alice, 2)
    with EventStream(server.url, alice.token, since=2) as stream:
        later = send_texts(wire, bob, alice, 1)
        frames = stream.wait_for_seq(3)
    assert [(f["seq"], f["data"]["msgID"]) for f in frames] == [(3, later[0])]


def test_since_beyond_the_latest_seq_replays_nothing_and_live_events_still_arrive(
    server: Any, wire: Wire
) -> None:
    # §6.1 "a since beyond the user's latest seq replays nothing"; live delivery is not filtered.
    alice, bob = (create_user(wire, server.admin_key, n) for n in ("alice", "bob"))
    send_texts(wire, bob, alice, 2)
    with EventStream(server.url, alice.token, since=50) as stream:
        later = send_texts(wire, bob, alice, 1)
        frames = stream.wait_for_seq(3)
    assert [(f["seq"], f["data"]["msgID"]) for f in frames] == [(3, later[0])]


def test_switch_from_replay_to_live_has_no_gap_or_repeat_while_events_keep_coming(
    server: Any, wire: Wire
) -> None:
    # Three senders write to alice non-stop while she reconnects again and again with `since`;
    # a second connection stays open throughout. Both must end with the same feed, 1..n.
    per_sender = 400 if FULL else 120
    reconnects = 60 if FULL else 20
    alice = create_user(wire, server.admin_key, "alice")
    senders = [create_user(wire, server.admin_key, f"sender{n}") for n in range(3)]
    feed = Feed(server.url, alice)
    sent: list[list[str]] = [[] for _ in senders]
    failures: list[BaseException] = []
    reconnected = threading.Condition()

    def may_send(index: int) -> bool:
        return feed.reconnects >= index * reconnects // per_sender

    def produce(number: int) -> None:
        # Message i waits for reconnect i * reconnects / per_sender, so sends and reconnects
        # interleave on any machine instead of one finishing before the other starts.
        own = Wire(server.url)
        try:
            for index in range(per_sender):
                with reconnected:
                    reconnected.wait_for(partial(may_send, index), CALL_TIMEOUT_S)
                sent[number] += send_texts(own, senders[number], alice, 1)
        except BaseException as exc:
            failures.append(exc)
        finally:
            own.close()

    with EventStream(server.url, alice.token, since=0) as steady:
        producers = [threading.Thread(target=produce, args=(n,)) for n in range(len(senders))]
        for producer in producers:
            producer.start()
        for number in range(reconnects):
            feed.current.wait_until(
                bool, timeout=CALL_TIMEOUT_S, what="a frame on the new connection"
            )
            feed.reconnect(abrupt=number % 2 == 1)
            with reconnected:
                reconnected.notify_all()
        for producer in producers:
            producer.join(timeout=120)
        assert not failures, failures
        total = per_sender * len(senders)
        feed.current.wait_for_seq(total)
        steady_frames = steady.wait_for_seq(total)
    log = feed.finish()
    assert feed.problems == []
    assert [f["seq"] for f in log] == list(range(1, total + 1))
    assert log == steady_frames
    received = new_message_ids(log)
    assert sorted(received) == sorted(msg_id for batch in sent for msg_id in batch)
    for batch in sent:
        assert [m for m in received if m in set(batch)] == batch, "one sender's order changed"


@pytest.mark.parametrize("since", ["-1", "abc", "1.5", "", "0x10", "%201"])
def test_a_since_that_is_not_a_non_negative_integer_is_refused_with_6017(
    server: Any, wire: Wire, since: str
) -> None:
    alice = create_user(wire, server.admin_key, "alice")
    answer = requests.get(
        ws_url(server.url).replace("ws://", "http://", 1) + f"?since={since}",
        headers={
            "Authorization": f"Bearer {alice.token}",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
        timeout=CALL_TIMEOUT_S,
    )
    reply = parse_reply("GET /v1/events", answer.status_code, answer.content, server.url)
    assert (reply.status, reply.code) == (400, 6017)


GAP_RETENTION = 10_000 if FULL else 25
"""Events kept per user: the production value in full size, a lowered one in CI."""


@pytest.mark.tuning(**({} if FULL else {"event_retention": GAP_RETENTION}))
def test_since_older_than_retention_starts_with_replay_gap_then_continues(tuned: Any) -> None:
    # §6.1: the gap frame's seq is the last discarded one, so numbering stays continuous.
    wire = Wire(tuned.url)
    try:
        alice, bob = (create_user(wire, tuned.admin_key, n) for n in ("alice", "bob"))
        total = GAP_RETENTION + 15
        sent = send_texts(wire, bob, alice, total)
        first_kept = total - GAP_RETENTION + 1
        with EventStream(tuned.url, alice.token, since=0) as from_zero:
            frames = from_zero.wait_for_seq(total, timeout=60)
            later = send_texts(wire, bob, alice, 1)
            live = from_zero.wait_for_seq(total + 1)
        # One more event since: retention now starts one later.
        first_kept_now = first_kept + 1
        with EventStream(tuned.url, alice.token, since=first_kept_now - 2) as just_too_old:
            too_old = just_too_old.wait_for_seq(total + 1, timeout=60)
        with EventStream(tuned.url, alice.token, since=first_kept_now - 1) as just_in_time:
            in_time = just_in_time.wait_for_seq(total + 1, timeout=60)
    finally:
        wire.close()
    assert frames[0] == {
        "event": "onReplayGap",
        "seq": first_kept - 1,
        "data": {"since": 0, "firstAvailableSeq": first_kept},
    }
    assert [f["seq"] for f in frames] == list(range(first_kept - 1, total + 1))
    assert new_message_ids(frames) == sent[first_kept - 1 :]
    assert new_message_ids(live[len(frames) :]) == later
    assert too_old[0] == {
        "event": "onReplayGap",
        "seq": first_kept_now - 1,
        "data": {"since": first_kept_now - 2, "firstAvailableSeq": first_kept_now},
    }
    assert [f["seq"] for f in in_time] == list(range(first_kept_now, total + 2))
