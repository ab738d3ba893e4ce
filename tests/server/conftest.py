"""Fixtures for the reference server's tests.

Two worlds, Complement style: ``world`` drives ``ReceiptService`` directly over in-memory
storage (no sockets; pushed events are recorded), and ``deployment`` drives a real server over
HTTP and WebSocket, checking every answer and every pushed frame against ``contract/schemas``.
Helpers fail loudly, saying what was expected and what arrived; waiting is a predicate with a
deadline, never a sleep.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import websocket

from seenby import reference_server
from seenby.contract.vocabulary import Level
from seenby.harness.api.target import CAPABILITIES_SCHEMA
from seenby.harness.wire.transport import DATA_SCHEMAS as TRANSPORT_DATA_SCHEMAS
from seenby.harness.wire.validation import PayloadContext, SchemaViolation, validate
from seenby.reference_server.domain import Caller, ReceiptService
from seenby.reference_server.storage import SqliteStorage
from seenby.reference_server.values import (
    Chat,
    Event,
    GroupChat,
    MessageView,
    PeerChat,
    ReceiptError,
    TextElem,
    now_ms,
)

WAIT_SECONDS = 10.0

DATA_SCHEMAS = {**TRANSPORT_DATA_SCHEMAS, "capabilities": CAPABILITIES_SCHEMA}
"""The schema of each method's ``data`` on success (the harness's own table)."""


# -- schemas -----------------------------------------------------------------------------------


class Schemas:
    """The published JSON Schemas at the strict level: the reference server makes every
    choice docs/protocol.md records, so it must pass what a correct target only should."""

    def check(self, name: str, instance: Any) -> None:
        """Fail unless ``instance`` is valid against schema ``name`` (``file.json#/pointer``)."""
        try:
            validate(name, instance, context=_CONTEXT, level=Level.STRICT)
        except SchemaViolation as violation:
            raise AssertionError(f"{violation}\npayload: {json.dumps(instance)[:2000]}") from None


_CONTEXT = PayloadContext("a reference server payload", "the server under test")


@pytest.fixture(scope="session")
def schemas() -> Schemas:
    """``contract/schemas``, ready to validate."""
    return Schemas()


# -- the domain, without sockets ---------------------------------------------------------------


class RecordingSink:
    """An event sink that keeps what the domain published, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, events: Sequence[Event]) -> None:
        self.events.extend(events)

    def of(self, user_id: str, name: str | None = None) -> list[Event]:
        """The events of one user (of one name), in publication order."""
        return [e for e in self.events if e.user_id == user_id and name in (None, e.name)]


class Clock:
    """Wall-clock milliseconds, unless a test freezes it at ``frozen_at``."""

    def __init__(self) -> None:
        self.frozen_at: int | None = None

    def __call__(self) -> int:
        return now_ms() if self.frozen_at is None else self.frozen_at


class FakePresence:
    """Presence as a test sets it."""

    def __init__(self) -> None:
        self.online: set[str] = set()

    def is_online(self, user_id: str) -> bool:
        return user_id in self.online


@dataclass
class ServiceScene:
    """A ``ReceiptService`` over ``:memory:`` storage with helpers to set a scene up."""

    service: ReceiptService
    sink: RecordingSink
    presence: FakePresence
    clock: Clock
    storage: SqliteStorage
    profiles: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def users(self, *user_ids: str) -> list[Caller]:
        """Create users; return them as callers."""
        for user_id in user_ids:
            self.service.create_user(user_id, *self.profiles.get(user_id, (None, None)))
        return [Caller(user_id) for user_id in user_ids]

    def group(
        self, owner: Caller, *members: Caller, group_type: str = "Work", group_id: str = "g1"
    ) -> GroupChat:
        """Create a group (owner first in join order)."""
        self.service.create_group(group_id, group_type, owner.user_id, [m.user_id for m in members])
        return GroupChat(group_id)

    def send(
        self,
        sender: Caller,
        to: Caller | Chat,
        text: str = "hello",
        *,
        need_read_receipt: bool = True,
        online_user_only: bool = False,
    ) -> str:
        """Send a text message; return its msgID."""
        chat = PeerChat(to.user_id) if isinstance(to, Caller) else to
        view = self.service.send_message(
            sender,
            chat,
            TextElem(text),
            need_read_receipt=need_read_receipt,
            online_user_only=online_user_only,
        )
        return view.message.msg_id

    def read(self, reader: Caller, *msg_ids: str) -> None:
        """Send receipts for ``msg_ids``."""
        self.service.send_message_read_receipts(reader, list(msg_ids))

    def counts(self, sender: Caller, msg_id: str) -> tuple[int, int]:
        """(readCount, unreadCount) of one group message, as its sender pulls them."""
        (receipt,) = self.service.get_message_read_receipts(sender, [msg_id])
        data = receipt.to_json()
        return data["readCount"], data["unreadCount"]  # type: ignore[return-value]

    def walk(self, sender: Caller, msg_id: str, member_filter: int, count: int = 2) -> list[str]:
        """Every member of one list, page by page."""
        seen: list[str] = []
        next_seq, finished = 0, False
        while not finished:
            page = self.service.get_group_message_read_member_list(
                sender, msg_id, 0 if member_filter == 0 else 1, next_seq, count
            )
            seen.extend(member.user_id for member in page.members)
            next_seq, finished = page.next_seq, page.is_finished
        return seen

    def history(self, viewer: Caller, chat: Caller | Chat, count: int = 100) -> list[MessageView]:
        """The viewer's history of one conversation (a peer or a chat), newest first."""
        if isinstance(chat, Caller):
            chat = PeerChat(chat.user_id)
        return self.service.get_history_message_list(viewer, chat, count)

    @staticmethod
    def refused(code: int, call: Callable[[], object]) -> str:
        """Run ``call``; fail unless it raises ``ReceiptError`` with ``code``. Returns the desc."""
        try:
            result = call()
        except ReceiptError as error:
            assert error.code == code, f"expected code {code}, got {error.code}: {error.desc}"
            return error.desc
        raise AssertionError(f"expected code {code}, but the call succeeded with {result!r}")

    @staticmethod
    def masked(desc: str, echoed_id: str) -> str:
        """An error desc with the ID it echoes masked, to compare two refusals' wording."""
        return desc.replace(repr(echoed_id), "<id>")

    def unread(self, user: Caller) -> dict[str, int]:
        """The user's unread count per conversationID."""
        return {
            str(c.to_json()["conversationID"]): c.unread_count
            for c in self.service.get_conversation_list(user)
        }


@pytest.fixture
def world() -> Iterator[ServiceScene]:
    """A fresh service over in-memory storage, a recording sink and a settable presence."""
    storage = SqliteStorage(":memory:")
    sink = RecordingSink()
    presence = FakePresence()
    clock = Clock()
    service = ReceiptService(storage, "admin-key", sink=sink, presence=presence, clock=clock)
    yield ServiceScene(service, sink, presence, clock, storage)
    storage.close()


# -- the wire ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status and the (schema-checked) envelope."""

    status: int
    code: int
    desc: str
    data: Any
    headers: dict[str, str]


class Api:
    """One credential against one server; every answer is checked against the schemas."""

    def __init__(self, url: str, token: str | None, schemas: Schemas, user_id: str = "") -> None:
        self.url = url
        self.token = token
        self.user_id = user_id
        self._schemas = schemas
        self._session = requests.Session()

    def headers(self) -> dict[str, str]:
        """The Authorization header of this credential."""
        return {} if self.token is None else {"Authorization": f"Bearer {self.token}"}

    def check(self, method: str, response: requests.Response) -> Answer:
        """Validate an HTTP answer: envelope, status agreement, and data on success."""
        envelope = response.json()
        self._schemas.check("envelope.json", envelope)
        code = envelope["code"]
        if code == 0:
            assert response.status_code == 200, f"{method}: code 0 with HTTP {response.status_code}"
            if method in DATA_SCHEMAS:
                self._schemas.check(DATA_SCHEMAS[method], envelope["data"])
        else:
            assert 400 <= response.status_code < 500 or code == 90500, (
                f"{method}: code {code} came with HTTP {response.status_code}"
            )
        return Answer(
            response.status_code, code, envelope["desc"], envelope["data"], dict(response.headers)
        )

    def call(self, method: str, body: Any = None) -> Answer:
        """``POST /v1/<method>`` with a JSON body (``{}`` by default)."""
        response = self._session.post(
            f"{self.url}/v1/{method}",
            json={} if body is None else body,
            headers=self.headers(),
            timeout=WAIT_SECONDS,
        )
        return self.check(method, response)

    def must(self, method: str, body: Any = None) -> Any:
        """Call; fail unless it succeeds. Returns ``data``."""
        answer = self.call(method, body)
        assert answer.code == 0, f"{method} {body!r} failed: {answer.code} {answer.desc}"
        return answer.data

    def fails(self, method: str, body: Any, code: int) -> Answer:
        """Call; fail unless it answers ``code``."""
        answer = self.call(method, body)
        assert answer.code == code, (
            f"{method} {body!r}: expected {code}, got {answer.code} {answer.desc}"
        )
        return answer

    def send(self, to: dict[str, str], text: str = "hello", **flags: bool) -> Any:
        """sendMessage with a text elem; ``to`` is ``{"receiver": id}`` or ``{"groupID": id}``."""
        return self.must("sendMessage", {**to, "elem": {"elemType": "text", "text": text}, **flags})

    def close(self) -> None:
        """Close the keep-alive connection."""
        self._session.close()


class EventStream:
    """A push connection (websocket-client) whose frames are schema-checked as they arrive."""

    def __init__(self, ws: websocket.WebSocket, schemas: Schemas) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self._schemas = schemas

    def next(self, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        """The next event frame."""
        self.ws.settimeout(timeout)
        text = self.ws.recv()
        frame = json.loads(text)
        self._schemas.check("event.json", frame)
        self.received.append(frame)
        return frame  # type: ignore[no-any-return]

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = WAIT_SECONDS
    ) -> dict[str, Any]:
        """Read frames until one matches ``predicate`` (deadline ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching event; received: {self.received[-10:]}")
            try:
                frame = self.next(remaining)
            except websocket.WebSocketTimeoutException:
                continue
            if predicate(frame):
                return frame

    def close(self) -> None:
        """Close cleanly (ignoring a connection the server already ended)."""
        with contextlib.suppress(OSError, websocket.WebSocketException):
            self.ws.close(timeout=2)


class Deployment:
    """A running reference server with helpers: users, groups, push connections."""

    def __init__(self, server: reference_server.RunningServer, schemas: Schemas) -> None:
        self.server = server
        self.url = server.url
        self.schemas = schemas
        self.admin = Api(server.url, server.admin_key, schemas)
        self._closables: list[Api | EventStream] = [self.admin]

    def api(self, token: str | None, user_id: str = "") -> Api:
        """A client with an arbitrary credential."""
        api = Api(self.url, token, self.schemas, user_id)
        self._closables.append(api)
        return api

    def user(self, user_id: str, **profile: str) -> Api:
        """Create a user; return its client."""
        data = self.admin.must("admin/createUser", {"userID": user_id, **profile})
        return self.api(data["token"], user_id)

    def users(self, *user_ids: str) -> list[Api]:
        """Create several users."""
        return [self.user(user_id) for user_id in user_ids]

    def group(
        self, owner: Api, *members: Api, group_type: str = "Work", group_id: str = "g1"
    ) -> str:
        """Create a group; return its ID."""
        self.admin.must(
            "admin/createGroup",
            {
                "groupID": group_id,
                "groupType": group_type,
                "ownerID": owner.user_id,
                "memberIDs": [m.user_id for m in members],
            },
        )
        return group_id

    def ws_url(self, query: str = "") -> str:
        """The push channel's URL."""
        return self.url.replace("http://", "ws://", 1) + "/v1/events" + query

    def events(self, user: Api, since: int | None = None, **options: Any) -> EventStream:
        """Open a push connection for ``user`` (with ``?since=``)."""
        query = "" if since is None else f"?since={since}"
        ws = websocket.create_connection(
            self.ws_url(query),
            header=[f"Authorization: Bearer {user.token}"],
            timeout=WAIT_SECONDS,
            # websocket-client's pure-Python UTF-8 check is slow; decoding still checks it.
            skip_utf8_validation=True,
            **options,
        )
        stream = EventStream(ws, self.schemas)
        self._closables.append(stream)
        return stream

    def close(self) -> None:
        """Close every client, then stop the server."""
        for closable in self._closables:
            closable.close()
        self.server.stop()


@pytest.fixture
def start_deployment(schemas: Schemas) -> Iterator[Callable[..., Deployment]]:
    """``start_deployment(db=..., tuning=...)``: servers that are stopped after the test."""
    started: list[Deployment] = []

    def start(**options: Any) -> Deployment:
        deployment = Deployment(reference_server.start(**options), schemas)
        started.append(deployment)
        return deployment

    yield start
    for deployment in started:
        deployment.close()


@pytest.fixture(scope="module")
def shared_deployment(schemas: Schemas) -> Iterator[Deployment]:
    """One in-memory server shared by a module's tests (for cases that change nothing)."""
    deployment = Deployment(reference_server.start(), schemas)
    yield deployment
    deployment.close()


@pytest.fixture
def deployment(start_deployment: Callable[..., Deployment]) -> Deployment:
    """A fresh reference server on an in-memory database."""
    return start_deployment()
