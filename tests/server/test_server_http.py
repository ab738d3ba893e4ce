"""The reference server over real HTTP: envelopes, schemas, bad input, concurrency, restarts.

Every answer goes through the ``Api`` helper, which validates the envelope and, on success, the
method's data against contract/schemas [V-1].
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from seenby.reference_server import Tuning
from seenby.reference_server.domain import ReceiptService

if TYPE_CHECKING:
    from conftest import Api, Deployment


def _raw_exchange(
    deployment: Deployment, request: bytes, *, timeout: float = 10.0
) -> tuple[int, dict[str, Any] | None, bytes]:
    """Send raw bytes on a fresh connection; read until the server closes or answers once.

    Returns (status, envelope, raw answer); status 0 and no envelope if it sent nothing.
    """
    host, port = deployment.server.host, deployment.server.port
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                return 0, None, received
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            chunk = sock.recv(65536)
            assert chunk, "the server closed mid-answer"
            body += chunk
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body), received


def _post(path: str, body: bytes, headers: str = "", token: str = "") -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\n{auth}{headers}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


# -- E, V: envelopes and schemas ---------------------------------------------------------------


def test_E1_capabilities_are_an_envelope_with_schema_valid_data(deployment: Deployment) -> None:
    """E-1, V-1: GET /v1/capabilities needs no credential and is valid."""
    response = requests.get(deployment.url + "/v1/capabilities", timeout=10)
    answer = deployment.admin.check("capabilities", response)
    assert answer.code == 0 and answer.desc == "ok"
    assert set(answer.data["features"]) == {"adminSettings", "onlineUserOnly", "eventReplay"}
    assert answer.data["limits"]["receiptBatchMax"] == 30
    assert response.headers["Content-Type"].startswith("application/json")


def test_V1_a_whole_conversation_validates_against_the_schemas(deployment: Deployment) -> None:
    """V-1: every method's answer and every pushed event of a full C2C and group flow is
    valid against contract/schemas (the helpers check each one)."""
    admin = deployment.admin
    alice = deployment.user("alice", nickName="Alice", faceURL="https://example.test/a.png")
    bob, carol = deployment.users("bob", "carol")
    group_id = deployment.group(alice, bob, carol)
    auto = admin.must(
        "admin/createGroup", {"groupType": "Public", "ownerID": "alice", "memberIDs": []}
    )
    assert auto["groupID"].startswith("@TGS#")
    alice_events, bob_events = deployment.events(alice), deployment.events(bob)

    c2c = alice.send({"receiver": "bob"}, "hi bob", needReadReceipt=True)
    grouped = alice.must(
        "sendMessage",
        {
            "groupID": group_id,
            "elem": {"elemType": "custom", "data": "{}", "desc": "d", "extension": "e"},
            "needReadReceipt": True,
        },
    )
    bob_events.wait_for(
        lambda f: f["event"] == "onRecvNewMessage" and f["data"] == {**c2c, "isSelf": False}
    )
    bob.must("sendMessageReadReceipts", {"msgIDs": [c2c["msgID"]]})
    bob.must("sendMessageReadReceipts", {"msgIDs": [grouped["msgID"]]})
    bob.must("markC2CMessageAsRead", {"userID": "alice"})
    alice_events.wait_for(lambda f: f["event"] == "onRecvC2CReadReceipt")
    assert [f["event"] for f in alice_events.received] == [
        "onRecvMessageReadReceipts",
        "onRecvMessageReadReceipts",
        "onRecvC2CReadReceipt",
    ]
    assert [f["seq"] for f in alice_events.received] == [1, 2, 3]

    receipts = alice.must("getMessageReadReceipts", {"msgIDs": [grouped["msgID"]]})
    assert receipts == [
        {"msgID": grouped["msgID"], "groupID": group_id, "readCount": 1, "unreadCount": 1}
    ]
    alice.must("getMessageReadReceipts", {"msgIDs": [c2c["msgID"]]})
    page = alice.must(
        "getGroupMessageReadMemberList",
        {"msgID": grouped["msgID"], "filter": 1, "nextSeq": 0, "count": 100},
    )
    assert page == {"memberInfoList": [{"userID": "carol"}], "nextSeq": 2, "isFinished": True}
    history = alice.must("getHistoryMessageList", {"userID": "bob", "count": 10})
    assert history[0]["isPeerRead"] is True
    alice.must("getHistoryMessageList", {"groupID": group_id, "count": 1})
    conversations = bob.must("getConversationList")
    assert {c["conversationID"]: c["unreadCount"] for c in conversations} == {
        f"group_{group_id}": 1,
        "c2c_alice": 0,
    }
    admin.must("admin/addGroupMembers", {"groupID": group_id, "userIDs": []})
    admin.must("admin/removeGroupMembers", {"groupID": group_id, "userIDs": ["carol"]})
    assert admin.must("admin/getSettings")["edition"] == "ultimate"
    assert admin.must("admin/setSettings", {"receiptBatchMax": 5})["receiptBatchMax"] == 5
    capabilities = deployment.admin.check(
        "capabilities", requests.get(deployment.url + "/v1/capabilities", timeout=10)
    )
    assert capabilities.data["limits"]["receiptBatchMax"] == 5


def test_E2_a_server_fault_is_a_90500_without_a_traceback(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E-2: an unexpected exception answers 90500 with a generic desc; details stay in the
    server log; the server keeps serving."""

    def explode(self: ReceiptService) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(ReceiptService, "capabilities", explode)
    response = requests.get(deployment.url + "/v1/capabilities", timeout=10)
    assert response.status_code == 500
    assert response.json() == {"code": 90500, "desc": "internal server error", "data": None}
    assert "secret" not in response.text and "Traceback" not in response.text
    monkeypatch.undo()
    assert requests.get(deployment.url + "/v1/capabilities", timeout=10).status_code == 200


# -- E-3: bad input, one case at a time --------------------------------------------------------

NESTED = ('{"userID": ' + "[" * 40 + "]" * 40 + "}").encode()

BAD_BODIES: list[tuple[str, str, bytes, int]] = [
    ("malformed JSON", "markC2CMessageAsRead", b'{"userID": "bob"', 90006),
    ("not JSON at all", "markC2CMessageAsRead", b"userID=bob", 90006),
    ("an empty body", "markC2CMessageAsRead", b"", 90006),
    ("an array, not an object", "markC2CMessageAsRead", b'["bob"]', 90006),
    ("not UTF-8", "markC2CMessageAsRead", b'{"userID": "b\xffb"}', 90006),
    ("a lone surrogate", "markC2CMessageAsRead", b'{"userID": "\\ud800"}', 90006),
    ("a duplicate key", "markC2CMessageAsRead", b'{"userID": "bob", "userID": "carol"}', 90006),
    ("nesting deeper than 32", "markC2CMessageAsRead", NESTED, 90006),
    (
        "an int beyond 2^53",
        "getHistoryMessageList",
        b'{"userID": "bob", "count": 9007199254740993}',
        90006,
    ),
    ("a float beyond 2^53", "getHistoryMessageList", b'{"userID": "bob", "count": 1e300}', 90006),
    ("NaN", "getHistoryMessageList", b'{"userID": "bob", "count": NaN}', 90006),
    ("a string count", "getHistoryMessageList", b'{"userID": "bob", "count": "10"}', 6017),
    ("a boolean count", "getHistoryMessageList", b'{"userID": "bob", "count": true}', 6017),
    ("a float count", "getHistoryMessageList", b'{"userID": "bob", "count": 10.0}', 6017),
    ("count out of range", "getHistoryMessageList", b'{"userID": "bob", "count": 101}', 6017),
    ("a missing field", "getHistoryMessageList", b'{"userID": "bob"}', 6017),
    (
        "both userID and groupID",
        "getHistoryMessageList",
        b'{"userID": "bob", "groupID": "g1", "count": 1}',
        6017,
    ),
    ("an unknown field", "markC2CMessageAsRead", b'{"userID": "bob", "force": true}', 6017),
    (
        "a misspelt flag",
        "sendMessage",
        b'{"receiver": "bob", "elem": {"elemType": "text", "text": "x"}, "needReadReciept": true}',
        6017,
    ),
    (
        "an unknown elem field",
        "sendMessage",
        b'{"receiver": "bob", "elem": {"elemType": "text", "text": "x", "data": "y"}}',
        6017,
    ),
    (
        "an unknown elemType",
        "sendMessage",
        b'{"receiver": "bob", "elem": {"elemType": "image", "url": "x"}}',
        6017,
    ),
    (
        "a string flag",
        "sendMessage",
        b'{"receiver": "bob", "elem": {"elemType": "text", "text": "x"}, "needReadReceipt": "yes"}',
        6017,
    ),
    (
        "a null flag",
        "sendMessage",
        b'{"receiver": "bob", "elem": {"elemType": "text", "text": "x"}, "onlineUserOnly": null}',
        6017,
    ),
    (
        "text over 12,000 bytes",
        "sendMessage",
        json.dumps(
            {"receiver": "bob", "elem": {"elemType": "text", "text": "\u00e9" * 6001}}
        ).encode(),
        6017,
    ),
    ("msgIDs not an array", "sendMessageReadReceipts", b'{"msgIDs": "m1"}', 6017),
    ("an empty msgIDs", "sendMessageReadReceipts", b'{"msgIDs": []}', 6017),
    (
        "msgIDs over the batch limit",
        "getMessageReadReceipts",
        json.dumps({"msgIDs": [f"m{i}" for i in range(31)]}).encode(),
        6017,
    ),
    (
        "a 65-character userID",
        "markC2CMessageAsRead",
        json.dumps({"userID": "u" * 65}).encode(),
        6017,
    ),
    ("a control character in an ID", "markC2CMessageAsRead", b'{"userID": "b\\nob"}', 6017),
    (
        "a filter of 2",
        "getGroupMessageReadMemberList",
        b'{"msgID": "m", "filter": 2, "nextSeq": 0, "count": 1}',
        6017,
    ),
    (
        "a negative nextSeq",
        "getGroupMessageReadMemberList",
        b'{"msgID": "m", "filter": 0, "nextSeq": -1, "count": 1}',
        6017,
    ),
    ("an unknown message", "sendMessageReadReceipts", b'{"msgIDs": ["nope"]}', 6017),
    ("an unknown peer", "markC2CMessageAsRead", b'{"userID": "ghost"}', 6017),
    (
        "a group the caller is not in",
        "getHistoryMessageList",
        b'{"groupID": "nope", "count": 1}',
        10010,
    ),
]

BAD_ADMIN_BODIES: list[tuple[str, str, bytes, int]] = [
    ("an unknown admin field", "admin/createUser", b'{"userID": "x", "role": "root"}', 10004),
    (
        "a 65-character new userID",
        "admin/createUser",
        json.dumps({"userID": "u" * 65}).encode(),
        10004,
    ),
    (
        "a nickName over 64 characters",
        "admin/createUser",
        json.dumps({"userID": "x", "nickName": "n" * 65}).encode(),
        10004,
    ),
    ("an existing user", "admin/createUser", b'{"userID": "bob"}', 90007),
    (
        "a 65-character groupID",
        "admin/createGroup",
        json.dumps(
            {"groupID": "g" * 65, "groupType": "Work", "ownerID": "bob", "memberIDs": []}
        ).encode(),
        10015,
    ),
    (
        "an empty groupID",
        "admin/createGroup",
        b'{"groupID": "", "groupType": "Work", "ownerID": "bob", "memberIDs": []}',
        10015,
    ),
    (
        "a groupID in use",
        "admin/createGroup",
        b'{"groupID": "g1", "groupType": "Work", "ownerID": "bob", "memberIDs": []}',
        10021,
    ),
    (
        "a bad group type",
        "admin/createGroup",
        b'{"groupType": "Club", "ownerID": "bob", "memberIDs": []}',
        10004,
    ),
    (
        "an unknown member",
        "admin/createGroup",
        b'{"groupType": "Work", "ownerID": "bob", "memberIDs": ["ghost"]}',
        10004,
    ),
    (
        "over 1,000 member IDs",
        "admin/addGroupMembers",
        json.dumps({"groupID": "g1", "userIDs": ["bob"] * 1001}).encode(),
        10004,
    ),
    (
        "removing the owner",
        "admin/removeGroupMembers",
        b'{"groupID": "g1", "userIDs": ["alice"]}',
        10004,
    ),
    ("an unknown group", "admin/addGroupMembers", b'{"groupID": "nope", "userIDs": []}', 10010),
    ("a bad edition", "admin/setSettings", b'{"edition": "gold"}', 10004),
    (
        "a repeated group type",
        "admin/setSettings",
        b'{"groupReceiptTypes": ["Work", "Work"]}',
        10004,
    ),
    ("a batch limit of 0", "admin/setSettings", b'{"receiptBatchMax": 0}', 10004),
    (
        "a member limit over 1,000,000",
        "admin/setSettings",
        b'{"groupReceiptMaxMembers": 1000001}',
        10004,
    ),
]


@pytest.fixture(scope="module")
def scene(shared_deployment: Deployment) -> tuple[Deployment, Api, Api, Callable[[], Any]]:
    """One server for the module's bad-input cases: alice and bob in group g1 with receipted
    messages, and a snapshot of every observable piece of state."""
    deployment = shared_deployment
    alice, bob = deployment.users("alice", "bob")
    deployment.group(alice, bob)
    grouped = alice.send({"groupID": "g1"}, needReadReceipt=True)["msgID"]
    c2c = alice.send({"receiver": "bob"}, needReadReceipt=True)["msgID"]
    bob.must("sendMessageReadReceipts", {"msgIDs": [grouped]})

    def snapshot() -> Any:
        return (
            alice.must("getMessageReadReceipts", {"msgIDs": [grouped]}),
            alice.must("getMessageReadReceipts", {"msgIDs": [c2c]}),
            alice.must("getConversationList"),
            bob.must("getConversationList"),
            bob.must("getHistoryMessageList", {"userID": "alice", "count": 100}),
            bob.must("getHistoryMessageList", {"groupID": "g1", "count": 100}),
            deployment.admin.must("admin/getSettings"),
        )

    return deployment, alice, bob, snapshot


@pytest.mark.parametrize(
    ("case", "method", "body", "code"),
    BAD_BODIES + BAD_ADMIN_BODIES,
    ids=[case[0] for case in BAD_BODIES + BAD_ADMIN_BODIES],
)
def test_E3_bad_bodies_get_their_code_a_4xx_and_change_nothing(
    scene: tuple[Deployment, Api, Api, Callable[[], Any]],
    case: str,
    method: str,
    body: bytes,
    code: int,
) -> None:
    """E-3, E-2: each bad body answers its documented code with a 4xx status; state is as
    before; the server keeps serving."""
    deployment, _, bob, snapshot = scene
    before = snapshot()
    token = deployment.server.admin_key if method.startswith("admin/") else bob.token
    response = requests.post(
        f"{deployment.url}/v1/{method}",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=10,
    )
    answer = bob.check(method, response)
    assert answer.code == code, f"{case}: {answer.code} {answer.desc}"
    assert 400 <= answer.status < 500
    assert snapshot() == before


@pytest.mark.parametrize(
    ("case", "request_bytes", "code", "status"),
    [
        ("an unknown route", _post("/v1/nope", b"{}"), 90003, 404),
        ("a route outside /v1", _post("/sendMessage", b"{}"), 90003, 404),
        ("a trailing slash", _post("/v1/sendMessage/", b"{}"), 90003, 404),
        ("GET on a POST method", b"GET /v1/sendMessage HTTP/1.1\r\nHost: t\r\n\r\n", 90004, 405),
        ("POST on capabilities", _post("/v1/capabilities", b"{}"), 90004, 405),
        (
            "DELETE on a method",
            b"DELETE /v1/getConversationList HTTP/1.1\r\nHost: t\r\n\r\n",
            90004,
            405,
        ),
        (
            "no Content-Length",
            b"POST /v1/getConversationList HTTP/1.1\r\nHost: t\r\n\r\n{}",
            90006,
            400,
        ),
        (
            "chunked",
            b"POST /v1/getConversationList HTTP/1.1\r\nHost: t\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            90006,
            400,
        ),
        (
            "a bad Content-Length",
            b"POST /v1/getConversationList HTTP/1.1\r\nHost: t\r\nContent-Length: -2\r\n\r\n{}",
            90006,
            400,
        ),
        ("no token", _post("/v1/getConversationList", b"{}"), 90001, 401),
        ("an unknown token", _post("/v1/getConversationList", b"{}", token="forged"), 90001, 401),
        (
            "a Basic credential",
            _post("/v1/getConversationList", b"{}", "Authorization: Basic YTpi\r\n"),
            90001,
            401,
        ),
        ("garbage instead of HTTP", b"HELLO\r\n\r\n", 90006, 400),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_E3_bad_requests_get_their_code_and_a_4xx(
    scene: tuple[Deployment, Api, Api, Callable[[], Any]],
    case: str,
    request_bytes: bytes,
    code: int,
    status: int,
) -> None:
    """E-3: transport problems answer 90001-90006 with their status, never a 5xx, and change
    nothing."""
    deployment, _, _, snapshot = scene
    before = snapshot()
    answered, envelope, raw = _raw_exchange(deployment, request_bytes)
    assert (answered, envelope and envelope["code"]) == (status, code), (case, raw[:300])
    deployment.schemas.check("envelope.json", envelope)
    if code == 90004:
        assert b"\r\nAllow: " in raw
    assert snapshot() == before


def test_X1_credentials_open_only_their_own_doors(deployment: Deployment) -> None:
    """X-1: a user token on an admin method and the admin key on a user method answer 90002;
    the acting user is always the token's."""
    alice, bob = deployment.users("alice", "bob")
    alice.fails("admin/createUser", {"userID": "mallory"}, 90002)
    admin_as_user = deployment.api(deployment.server.admin_key)
    admin_as_user.fails("getConversationList", {}, 90002)
    admin_as_user.fails(
        "sendMessage", {"receiver": "bob", "elem": {"elemType": "text", "text": "x"}}, 90002
    )
    deployment.api(None).fails("getConversationList", {}, 90001)
    sent = alice.send({"receiver": "bob"})
    assert sent["sender"] == "alice"
    assert bob.must("getConversationList")[0]["userID"] == "alice"


def test_E3_a_body_over_1MiB_is_refused_before_it_is_read(deployment: Deployment) -> None:
    """E-3 (limits): the Content-Length is checked before reading, so the 413 arrives while
    most of a huge body was never sent; with a whole oversize body sent, the answer is the
    same."""
    alice = deployment.user("alice")
    head = _post("/v1/getConversationList", b"", token=alice.token or "")
    head = head.replace(b"Content-Length: 0", b"Content-Length: 50000000") + b'{"a": "'
    status, envelope, _ = _raw_exchange(deployment, head)
    assert (status, envelope and envelope["code"]) == (413, 90005)

    response = requests.post(
        deployment.url + "/v1/getConversationList",
        data=b" " * (1_048_576 + 1),
        headers=alice.headers(),
        timeout=10,
    )
    assert alice.check("getConversationList", response).code == 90005
    assert response.status_code == 413


def test_E3_a_stalled_body_is_dropped_after_the_request_timeout(
    start_deployment: Callable[..., Deployment],
) -> None:
    """E-3 (never a hang): a client that sends half a body is disconnected without an
    answer once the request timeout passes."""
    deployment = start_deployment(tuning=Tuning(request_timeout=0.3))
    request = _post("/v1/getConversationList", b"{}").replace(
        b"Content-Length: 2", b"Content-Length: 100"
    )
    status, envelope, raw = _raw_exchange(deployment, request)
    assert (status, envelope, raw) == (0, None, b"")


def test_E3_a_request_trickled_byte_by_byte_is_dropped_at_its_deadline(
    start_deployment: Callable[..., Deployment],
) -> None:
    """E-3 (never a hang): a request must arrive whole within the request timeout, however
    steadily its bytes come (each byte here is well within any per-read timeout)."""
    deployment = start_deployment(tuning=Tuning(request_timeout=0.5))
    request = b"GET /v1/capabilities HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"x" * 200 + b"\r\n\r\n"
    pace = 0.05  # the client's trickle; 250 bytes would take 12 s
    sent, dropped = 0, False
    with socket.create_connection((deployment.server.host, deployment.server.port)) as sock:
        sock.settimeout(pace)
        while sent < len(request) and not dropped:
            try:
                sock.sendall(request[sent : sent + 1])
                sent += 1
                answer = sock.recv(65536)
            except TimeoutError:
                continue  # still open: trickle on
            except OSError:
                break  # reset: dropped
            assert answer == b"", "the trickled request was answered"
            dropped = True
    assert sent < len(request) // 2, f"still open after {sent} bytes"


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(
    start_deployment: Callable[..., Deployment],
) -> None:
    """Keep-alive serves several requests on one connection (an error answer included), and
    an idle one is closed."""
    deployment = start_deployment(tuning=Tuning(idle_timeout=1.0))
    requests_and_ends = [
        (_post("/v1/nope", b'{"x": 1}'), b"/v1/nope"),
        (b"GET /v1/capabilities HTTP/1.1\r\nHost: t\r\n\r\n", b'"eventReplay"'),
        (b"GET /v1/capabilities HTTP/1.1\r\nHost: t\r\n\r\n", b'"eventReplay"'),
    ]
    with socket.create_connection((deployment.server.host, deployment.server.port)) as sock:
        sock.settimeout(10)
        for request, end in requests_and_ends:
            sock.sendall(request)
            received = b""
            while end not in received:
                chunk = sock.recv(65536)
                assert chunk, "closed before answering"
                received += chunk
        assert sock.recv(65536) == b""  # closed by the server after 1 s of silence


def test_connections_past_the_cap_are_closed_at_once(
    start_deployment: Callable[..., Deployment],
) -> None:
    """Past the connection limit, a new connection is closed without being served."""
    deployment = start_deployment(tuning=Tuning(max_connections=2))
    address = (deployment.server.host, deployment.server.port)
    request = b"GET /v1/capabilities HTTP/1.1\r\nHost: t\r\n\r\n"
    held = [socket.create_connection(address, timeout=10) for _ in range(2)]
    try:
        for sock in held:  # served, so surely counted
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        with socket.create_connection(address, timeout=10) as extra:
            assert extra.recv(65536) == b""
    finally:
        for sock in held:
            sock.close()


# -- P-3: concurrency --------------------------------------------------------------------------


def test_P3_twenty_concurrent_readers_count_exactly_and_pushes_never_go_back(
    deployment: Deployment,
) -> None:
    """P-3: 20 readers receipting one group message at once give readCount 20; the sender's
    pushes, in seq order, never show a count lower than an earlier one, and the last is 20."""
    alice = deployment.user("alice")
    readers = deployment.users(*(f"reader{i:02}" for i in range(20)))
    group_id = deployment.group(alice, *readers)
    pushes = deployment.events(alice)
    msg = alice.send({"groupID": group_id}, needReadReceipt=True)["msgID"]
    barrier = threading.Barrier(len(readers))
    failures: list[BaseException] = []

    def read(reader: Api) -> None:
        try:
            barrier.wait()
            reader.must("sendMessageReadReceipts", {"msgIDs": [msg]})
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=read, args=(reader,)) for reader in readers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []

    last = pushes.wait_for(lambda frame: frame["data"][0]["readCount"] == 20)
    counts = [frame["data"][0]["readCount"] for frame in pushes.received]
    assert counts == sorted(counts) and len(counts) == 20 and last["seq"] == 20
    assert [frame["seq"] for frame in pushes.received] == list(range(1, 21))
    (receipt,) = alice.must("getMessageReadReceipts", {"msgIDs": [msg]})
    assert (receipt["readCount"], receipt["unreadCount"]) == (20, 0)


# -- restarts ----------------------------------------------------------------------------------


def test_a_restart_on_the_same_database_keeps_everything(
    start_deployment: Callable[..., Deployment], tmp_path: Path
) -> None:
    """Users (and their tokens), groups, messages, receipts, counts, marks, settings and the
    event numbering survive a restart on the same database file (and the same port)."""
    db = str(tmp_path / "seenby.sqlite3")
    first = start_deployment(db=db, admin_key="key")
    alice = first.user("alice", nickName="Alice")
    bob, carol = first.users("bob", "carol")
    first.group(alice, bob, carol)
    grouped = alice.send({"groupID": "g1"}, needReadReceipt=True)["msgID"]
    c2c = alice.send({"receiver": "bob"}, needReadReceipt=True)["msgID"]
    bob.must("sendMessageReadReceipts", {"msgIDs": [grouped]})
    bob.must("sendMessageReadReceipts", {"msgIDs": [c2c]})
    bob.must("markC2CMessageAsRead", {"userID": "alice"})
    first.admin.must("admin/setSettings", {"receiptBatchMax": 7})
    before = (
        alice.must("getMessageReadReceipts", {"msgIDs": [grouped]}),
        alice.must("getMessageReadReceipts", {"msgIDs": [c2c]}),
        alice.must("getHistoryMessageList", {"userID": "bob", "count": 10}),
        carol.must("getConversationList"),
        alice.must(
            "getGroupMessageReadMemberList",
            {"msgID": grouped, "filter": 0, "nextSeq": 0, "count": 10},
        ),
    )
    port = first.server.port
    first.close()

    second = start_deployment(db=db, admin_key="key", port=port)  # as the harness restarts it
    assert second.server.port == port
    alice2 = second.api(alice.token, "alice")
    carol2 = second.api(carol.token, "carol")
    after = (
        alice2.must("getMessageReadReceipts", {"msgIDs": [grouped]}),
        alice2.must("getMessageReadReceipts", {"msgIDs": [c2c]}),
        alice2.must("getHistoryMessageList", {"userID": "bob", "count": 10}),
        carol2.must("getConversationList"),
        alice2.must(
            "getGroupMessageReadMemberList",
            {"msgID": grouped, "filter": 0, "nextSeq": 0, "count": 10},
        ),
    )
    assert after == before
    assert second.admin.must("admin/getSettings")["receiptBatchMax"] == 7
    second.admin.fails("admin/createUser", {"userID": "alice"}, 90007)

    replay = second.events(alice2, since=0)
    assert [replay.next()["seq"] for _ in range(3)] == [1, 2, 3]
    second.api(carol.token, "carol").must("sendMessageReadReceipts", {"msgIDs": [grouped]})
    live = replay.next()
    assert (live["event"], live["seq"]) == ("onRecvMessageReadReceipts", 4)
    assert live["data"][0]["readCount"] == 2
