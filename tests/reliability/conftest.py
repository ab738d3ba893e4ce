"""Fixtures of the reliability tests: a bundled server on a database file, and fresh users."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seenby import reference_server

from .wire import Wire
from .workload import User


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker ``test_bad_clients`` uses to lower the server's limits."""
    config.addinivalue_line("markers", "tuning(**limits): reference_server.Tuning for `tuned`")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Any]:
    """A bundled reference server on a fresh SQLite file (durable, as deployed)."""
    running = reference_server.start(port=0, db=str(tmp_path / "seenby.sqlite3"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def wire(server: Any) -> Iterator[Wire]:
    """A keep-alive HTTP connection to ``server``."""
    connection = Wire(server.url)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def tuned(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A bundled server on ``:memory:`` with the limits given by ``@pytest.mark.tuning(...)``."""
    marker = request.node.get_closest_marker("tuning")
    tuning = reference_server.Tuning(**(marker.kwargs if marker else {}))
    with reference_server.start(port=0, db=":memory:", tuning=tuning) as running:
        yield running


def create_user(wire: Wire, admin_key: str, name: str, **profile: str) -> User:
    """A new user with a unique ID starting with ``name``."""
    user_id = f"{name}-{uuid.uuid4().hex[:8]}"
    data = wire.must("admin/createUser", {"userID": user_id, **profile}, admin_key)
    return User(user_id, data["token"])
