"""The push channel over a real WebSocket: handshake, ping/pong, close, backpressure, replay.

Every received frame is validated against event.json by the ``EventStream`` helper [V-1].
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import requests
import websocket
from websocket import ABNF

from seenby.reference_server import Tuning

if TYPE_CHECKING:
    from conftest import Api, Deployment, EventStream


def _control_frame(stream: EventStream, timeout: float = 10.0) -> tuple[int, bytes]:
    """The next frame of any kind (websocket-client answers pings and closes by itself)."""
    stream.ws.settimeout(timeout)
    opcode, frame = stream.ws.recv_data_frame(control_frame=True)
    return opcode, frame.data


def _close_code(data: bytes) -> int:
    return int(struct.unpack("!H", data[:2])[0])


def _until_close(stream: EventStream) -> tuple[list[int], int]:
    """Read to the server's Close: the seqs of the event frames before it, and its code."""
    seqs = []
    while True:
        opcode, data = _control_frame(stream)
        if opcode == ABNF.OPCODE_CLOSE:
            return seqs, _close_code(data)
        if opcode == ABNF.OPCODE_TEXT:
            seqs.append(json.loads(data)["seq"])


def _refused_handshake(deployment: Deployment, query: str, headers: list[str]) -> Any:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(deployment.ws_url(query), header=headers, timeout=10)
    error = refused.value
    envelope = json.loads(error.resp_body)
    deployment.schemas.check("envelope.json", envelope)
    return error.status_code, envelope["code"]


def _receipted_message(sender: Api, receiver: str, number: int) -> str:
    message = sender.send({"receiver": receiver}, str(number), needReadReceipt=True)
    return str(message["msgID"])


def _flush_reads(reader: Api, *msg_ids: str) -> None:
    for msg_id in msg_ids:
        reader.must("sendMessageReadReceipts", {"msgIDs": [msg_id]})


# -- handshake ---------------------------------------------------------------------------------


def test_X1_a_handshake_without_a_user_token_is_refused_with_an_envelope(
    shared_deployment: Deployment,
) -> None:
    """X-1: no token, an unknown token or the admin key get 90001/90002 as an ordinary HTTP
    answer; a bad since gets 6017; a plain GET gets 90006. No upgrade happens."""
    deployment = shared_deployment
    user = deployment.user("handshake-user")
    bearer = f"Authorization: Bearer {user.token}"
    assert _refused_handshake(deployment, "", []) == (401, 90001)
    assert _refused_handshake(deployment, "", ["Authorization: Bearer forged"]) == (401, 90001)
    admin = f"Authorization: Bearer {deployment.server.admin_key}"
    assert _refused_handshake(deployment, "", [admin]) == (403, 90002)
    for since in ("-1", "abc", "1.5", "", "99999999999999999999"):
        assert _refused_handshake(deployment, f"?since={since}", [bearer]) == (400, 6017)
    plain = requests.get(
        deployment.ws_url().replace("ws://", "http://"), headers=user.headers(), timeout=10
    )
    assert (plain.status_code, plain.json()["code"]) == (400, 90006)


def test_S1_an_event_caused_right_after_the_upgrade_is_delivered(
    shared_deployment: Deployment,
) -> None:
    """S-1 (§6 ordering): the connection is registered before the 101, so a message sent the
    moment the handshake completes is pushed to it."""
    deployment = shared_deployment
    sender, receiver = deployment.user("race-sender"), deployment.user("race-receiver")
    for i in range(10):
        stream = deployment.events(receiver)
        sent = sender.send({"receiver": receiver.user_id}, f"now {i}")
        frame = stream.next()
        assert frame["event"] == "onRecvNewMessage" and frame["data"]["msgID"] == sent["msgID"]
        stream.close()


# -- frames from the client ------------------------------------------------------------------


def test_pings_are_answered_and_client_messages_ignored(shared_deployment: Deployment) -> None:
    """A client ping gets a pong with the same data; text from the client is ignored."""
    deployment = shared_deployment
    alice, bob = deployment.user("pinger"), deployment.user("pinger-peer")
    stream = deployment.events(alice)
    stream.ws.ping("are you there")
    assert _control_frame(stream) == (ABNF.OPCODE_PONG, b"are you there")
    stream.ws.send("hello server")
    stream.ws.send("x" * (64 * 1024))  # at the cap: still fine
    sent = bob.send({"receiver": alice.user_id})
    assert stream.next()["data"]["msgID"] == sent["msgID"]


def test_a_message_over_64KiB_closes_the_connection_with_1009(
    shared_deployment: Deployment,
) -> None:
    """Incoming messages are capped at 64 KiB: a larger one closes with 1009."""
    stream = shared_deployment.events(shared_deployment.user("chatty"))
    stream.ws.send("x" * (64 * 1024 + 1))
    assert _until_close(stream) == ([], 1009)


def test_a_protocol_error_fails_the_connection_with_its_close_code(
    shared_deployment: Deployment,
) -> None:
    """A text frame that is not UTF-8 closes the connection with 1007, as RFC 6455 says."""
    stream = shared_deployment.events(shared_deployment.user("garbler"))
    stream.ws.send(b"\xff\xfe", opcode=ABNF.OPCODE_TEXT)
    assert _until_close(stream) == ([], 1007)


def test_a_clean_close_is_answered_and_the_user_goes_offline(
    shared_deployment: Deployment,
) -> None:
    """S-4 (presence): the server answers Close with Close, then forgets the connection, so
    onlineUserOnly messages stop reaching the user."""
    deployment = shared_deployment
    alice, bob = deployment.user("closer-alice"), deployment.user("closer-bob")
    group_id = deployment.group(alice, bob, group_id="closers")
    stream = deployment.events(bob)

    def online_recipients() -> int:
        sent = alice.send({"groupID": group_id}, needReadReceipt=True, onlineUserOnly=True)
        (receipt,) = alice.must("getMessageReadReceipts", {"msgIDs": [sent["msgID"]]})
        return int(receipt["unreadCount"])

    assert online_recipients() == 1
    stream.ws.send_close(1000, b"bye")
    assert _until_close(stream)[1] == 1000
    stream.ws.sock.settimeout(10)
    assert stream.ws.sock.recv(65536) == b""  # the server's FIN, once it forgot the connection
    assert online_recipients() == 0


# -- server-side liveness ----------------------------------------------------------------------


def test_the_server_pings_and_drops_a_silent_peer(
    start_deployment: Callable[..., Deployment],
) -> None:
    """The server pings on its interval; a peer silent past the idle timeout is dropped."""
    pinging = start_deployment(tuning=Tuning(ping_interval=0.2))
    stream = pinging.events(pinging.user("alice"))
    assert _control_frame(stream)[0] == ABNF.OPCODE_PING

    silent = start_deployment(tuning=Tuning(idle_timeout=0.5, ping_interval=30))
    quiet = silent.events(silent.user("quiet"))
    quiet.ws.sock.settimeout(10)
    assert quiet.ws.sock.recv(65536) == b""  # dropped: FIN after 0.5 s of silence


def test_stop_closes_push_connections_with_1001(
    start_deployment: Callable[..., Deployment],
) -> None:
    """stop() closes every WebSocket with Going Away (1001) before the listener goes."""
    deployment = start_deployment()
    stream = deployment.events(deployment.user("alice"))
    stopper = threading.Thread(target=deployment.server.stop)
    stopper.start()
    closed = _until_close(stream)
    stopper.join()
    assert closed == ([], 1001)


# -- delivery ----------------------------------------------------------------------------------


def test_P1_every_connection_of_the_sender_gets_every_event_in_seq_order(
    deployment: Deployment,
) -> None:
    """P-1, P-4: both of alice's connections get each receipt event with the same seq, in
    order; bob, the reader, gets none."""
    alice, bob = deployment.users("alice", "bob")
    phone, laptop = deployment.events(alice), deployment.events(bob)
    tablet = deployment.events(alice)
    msgs = [_receipted_message(alice, "bob", i) for i in range(3)]
    _flush_reads(bob, *msgs)
    for stream in (phone, tablet):
        frames = [stream.next() for _ in msgs]
        assert [f["seq"] for f in frames] == [1, 2, 3]
        assert [f["data"][0]["msgID"] for f in frames] == msgs
        assert all(f["data"][0]["userID"] == "bob" for f in frames)
    assert {laptop.next()["event"] for _ in msgs} == {"onRecvNewMessage"}
    bob.must("markC2CMessageAsRead", {"userID": "alice"})
    alice.send({"receiver": "bob"}, "sentinel")
    assert laptop.next()["data"]["elem"]["text"] == "sentinel"  # no receipt event came first


def test_a_slow_reader_is_cut_off_at_a_full_queue_while_others_keep_receiving(
    start_deployment: Callable[..., Deployment],
) -> None:
    """A client that stops reading is closed with 1008 once its queue fills; sends never
    block and a reading client gets everything; the slow one resumes with since."""
    deployment = start_deployment(tuning=Tuning(push_queue_size=16))
    alice, bob, carol = deployment.users("alice", "bob", "carol")
    group_id = deployment.group(alice, bob, carol)
    slow = deployment.events(bob, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    fast = deployment.events(carol)
    total, big = 120, "x" * 8000
    for i in range(total):
        alice.send({"groupID": group_id}, f"{i:03}{big}")
        assert fast.next()["seq"] == i + 1

    received, code = _until_close(slow)
    assert code == 1008
    assert 0 < len(received) < total
    assert received == list(range(1, len(received) + 1))

    resumed = deployment.events(bob, since=received[-1])
    rest = [resumed.next()["seq"] for _ in range(total - len(received))]
    assert rest == list(range(len(received) + 1, total + 1))


def test_replay_since_delivers_each_missed_event_once_then_goes_live(
    deployment: Deployment,
) -> None:
    """§6.1: since=N replays every event after N exactly once, in order, then live events
    follow with no gap or repeat; without since only live events come; a since beyond the
    latest replays nothing."""
    alice, bob = deployment.users("alice", "bob")
    msgs = [_receipted_message(alice, "bob", i) for i in range(3)]
    _flush_reads(bob, *msgs)  # alice's events 1..3, while she is offline

    from_one = deployment.events(alice, since=1)
    from_zero = deployment.events(alice, since=0)
    live_only = deployment.events(alice)
    far_ahead = deployment.events(alice, since=100)
    assert [from_one.next()["seq"] for _ in range(2)] == [2, 3]
    assert [from_zero.next()["data"][0]["msgID"] for _ in range(3)] == msgs

    bob.must("markC2CMessageAsRead", {"userID": "alice"})  # event 4, live
    for stream in (from_one, from_zero, live_only, far_ahead):
        frame = stream.next()
        assert (frame["event"], frame["seq"]) == ("onRecvC2CReadReceipt", 4)


def test_replay_reports_a_gap_when_events_were_pruned(
    start_deployment: Callable[..., Deployment],
) -> None:
    """§6.1: when events after since were discarded, the first frame is onReplayGap whose seq
    is the last discarded one; the retained events follow."""
    deployment = start_deployment(tuning=Tuning(event_retention=3))
    alice, bob = deployment.users("alice", "bob")
    msgs = [_receipted_message(alice, "bob", i) for i in range(6)]
    _flush_reads(bob, *msgs)  # alice's events 1..6; 4..6 are kept

    gapped = deployment.events(alice, since=1)
    gap = gapped.next()
    assert gap == {"event": "onReplayGap", "seq": 3, "data": {"since": 1, "firstAvailableSeq": 4}}
    assert [gapped.next()["seq"] for _ in range(3)] == [4, 5, 6]

    whole = deployment.events(alice, since=3)
    assert [whole.next()["seq"] for _ in range(3)] == [4, 5, 6]
