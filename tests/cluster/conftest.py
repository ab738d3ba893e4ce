"""Fixtures for the cluster tests: a real PostgreSQL, and nodes of one service on it.

One throw-away PostgreSQL serves the session (``pg_cluster.ThrowAwayPostgres``: ``initdb`` and
``postgres`` in a temporary directory, as ``seenby serve --nodes`` starts them); each test gets
a database of its own on it, and ``cluster(n)`` starts n nodes on that database in this process
(each with its own database sessions, listener and push hub, so they share nothing but the
database, as separate processes do).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import requests
import websocket

from seenby import reference_server
from seenby.reference_server.pg_cluster import ThrowAwayPostgres

WAIT_SECONDS = 10.0
ADMIN_KEY = "cluster-admin-key"
_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowAwayPostgres]:
    """The session's PostgreSQL server (its data is deleted at the end)."""
    with ThrowAwayPostgres() as server:
        yield server


@pytest.fixture
def database(postgres: ThrowAwayPostgres) -> str:
    """A new, empty database on the session's server: its URL."""
    name = f"test{next(_database_numbers)}"
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres.url.rsplit("/", 1)[0] + f"/{name}"


class Client:
    """One user's (or the admin's) calls to one node."""

    def __init__(self, url: str, token: str, user_id: str = "") -> None:
        self.url = url
        self.token = token
        self.user_id = user_id
        self._session = requests.Session()

    def on(self, url: str) -> Client:
        """The same credential against another node."""
        return Client(url, self.token, self.user_id)

    def call(self, method: str, body: Any = None) -> dict[str, Any]:
        """``POST /v1/<method>``: the envelope."""
        response = self._session.post(
            f"{self.url}/v1/{method}",
            json={} if body is None else body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=WAIT_SECONDS,
        )
        return response.json()  # type: ignore[no-any-return]

    def must(self, method: str, body: Any = None) -> Any:
        """Call; fail unless it succeeds. Returns ``data``."""
        envelope = self.call(method, body)
        assert envelope["code"] == 0, f"{method} {body!r} on {self.url}: {envelope}"
        return envelope["data"]


class Stream:
    """A push connection to one node."""

    def __init__(self, url: str, token: str, since: int | None = None) -> None:
        query = "" if since is None else f"?since={since}"
        self.ws = websocket.create_connection(
            url.replace("http://", "ws://", 1) + "/v1/events" + query,
            header=[f"Authorization: Bearer {token}"],
            timeout=WAIT_SECONDS,
        )
        self.received: list[dict[str, Any]] = []

    def next(self, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        """The next event frame."""
        self.ws.settimeout(timeout)
        frame: dict[str, Any] = json.loads(self.ws.recv())
        self.received.append(frame)
        return frame

    def until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = WAIT_SECONDS
    ) -> dict[str, Any]:
        """Read frames until one matches (deadline ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching event; received {self.received[-10:]}")
            try:
                frame = self.next(remaining)
            except websocket.WebSocketTimeoutException:
                continue
            if predicate(frame):
                return frame

    def close(self) -> None:
        """Close the connection."""
        self.ws.close(timeout=2)


class Cluster:
    """Nodes of one service on one database, with helpers to set a scene up."""

    def __init__(self, database: str, nodes: int) -> None:
        self.database = database
        self.servers: list[reference_server.RunningServer] = []
        self.streams: list[Stream] = []
        for _ in range(nodes):
            self.servers.append(reference_server.start(db=database, admin_key=ADMIN_KEY))
        self.urls = [server.url for server in self.servers]
        self.admin = Client(self.urls[0], ADMIN_KEY)

    def user(self, user_id: str, node: int = 0) -> Client:
        """Create a user; its client calls node ``node``."""
        data = self.admin.must("admin/createUser", {"userID": user_id})
        return Client(self.urls[node], data["token"], user_id)

    def group(self, owner: Client, *members: Client, group_id: str = "g1") -> str:
        """Create a Work group; return its ID."""
        self.admin.must(
            "admin/createGroup",
            {
                "groupID": group_id,
                "groupType": "Work",
                "ownerID": owner.user_id,
                "memberIDs": [m.user_id for m in members],
            },
        )
        return group_id

    def stream(self, user: Client, node: int, since: int | None = None) -> Stream:
        """Open a push connection for ``user`` on node ``node``."""
        stream = Stream(self.urls[node], user.token, since)
        self.streams.append(stream)
        return stream

    def stop(self) -> None:
        """Close every push connection and stop every node."""
        for stream in self.streams:
            with contextlib.suppress(OSError, websocket.WebSocketException):
                stream.close()
        for server in self.servers:
            server.stop()


@pytest.fixture
def cluster(database: str) -> Iterator[Callable[[int], Cluster]]:
    """``cluster(n)``: n nodes on this test's database, stopped after the test."""
    started: list[Cluster] = []

    def start(nodes: int) -> Cluster:
        started.append(Cluster(database, nodes))
        return started[-1]

    yield start
    for each in started:
        each.stop()
