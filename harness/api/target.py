"""Targets: the deployment under test, bundled (started in-process) or remote (by URL).

``Target`` is the interface the suite, the runner and the notebooks program against; each driver
(``seenby.harness.drivers``) implements it for its API. ``WireTarget`` implements it over the
seenby wire (the ``seenby`` driver), for ``BundledTarget`` and ``RemoteTarget``.

Isolation without reset: ``users("alice", "bob")`` and ``group(...)`` create fresh, unique IDs
(``alice-9f3c2a1b``) and nothing assumes an empty server, so runs can share a deployment and run
in parallel (``pytest -n``).
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from seenby.contract.vocabulary import Code
from seenby.harness.api.client import AdminClient, UserClient, UserRef
from seenby.harness.api.models import Capabilities, Group
from seenby.harness.drivers import DEFAULT_DRIVER, get_driver
from seenby.harness.drivers.wire import WireAdminClient
from seenby.harness.wire.deviations import DeviationLog
from seenby.harness.wire.transcript import Transcript
from seenby.harness.wire.transport import (
    DEFAULT_TIMEOUT,
    ApiError,
    HttpTransport,
    ViolationLog,
    WireResponse,
)
from seenby.harness.wire.validation import PayloadContext, SchemaViolation, check

if TYPE_CHECKING:
    from types import TracebackType

    from seenby import reference_server

__all__ = [
    "BundledTarget",
    "RemoteTarget",
    "Target",
    "WireTarget",
    "open_target",
    "open_wire_target",
    "unique_id",
]

# The reference's codes for "that ID is taken" (strict: another target may use others; fresh
# IDs are random, so a clash is only a retry that does not happen).
_CODE_USER_EXISTS = Code.USER_EXISTS
_CODE_GROUP_ID_IN_USE = Code.GROUP_ID_IN_USE
_UNIQUE_ATTEMPTS = 3
_NAME_MAX = 48  # leaves room for "-" + 8 hex digits within the 64-character ID limit

CAPABILITIES_SCHEMA = "capabilities.json"
"""The schema ``WireTarget.capabilities`` checks the discovery payload against."""

_T = TypeVar("_T")


def unique_id(name: str) -> str:
    """A fresh ID for ``name``: ``"alice"`` → ``"alice-9f3c2a1b"`` (1-64 characters)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:_NAME_MAX] or "id"
    return f"{slug}-{secrets.token_hex(4)}"


class Target(ABC):
    """A deployment under test: discovery, administration, users and raw access."""

    driver_name: str = DEFAULT_DRIVER
    """The driver that reaches this target (``seenby.harness.drivers``)."""

    @property
    @abstractmethod
    def name(self) -> str:
        """A short human name for reports (``"bundled reference server"``, a URL, ...)."""

    @property
    @abstractmethod
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:PORT``)."""

    @property
    @abstractmethod
    def admin_key(self) -> str | None:
        """The admin credential in use, if any (e.g. to hand a bundled server to ``seenby run``)."""

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities:
        """``GET /v1/capabilities``, fetched on each access (limits follow settings)."""

    @property
    @abstractmethod
    def admin(self) -> AdminClient:
        """The administrator's client."""

    @property
    @abstractmethod
    def timeout(self) -> float:
        """The time budget: seconds any single wait on this target may take."""

    @property
    @abstractmethod
    def restartable(self) -> bool:
        """Whether ``restart()`` works (the bundled server: yes; a remote one: no)."""

    @property
    @abstractmethod
    def violations(self) -> list[AssertionError]:
        """Every contract violation (schema, status, fault) seen through this target so far."""

    @property
    @abstractmethod
    def deviation_log(self) -> DeviationLog:
        """Every strict deviation seen through this target so far (steps add their own)."""

    @property
    @abstractmethod
    def transcript(self) -> Transcript:
        """Every HTTP exchange and push frame through this target's clients so far."""

    @abstractmethod
    def users(
        self, *names: str, nick_name: str | None = None, face_url: str | None = None
    ) -> list[UserClient]:
        """Create one fresh user per name (unique ID, nickName = the name unless given)."""

    @abstractmethod
    def group(
        self,
        group_type: str,
        owner: UserRef,
        members: Iterable[UserRef] = (),
        *,
        name: str = "group",
    ) -> Group:
        """Create a group with a fresh unique ID (``name`` is its readable prefix)."""

    @abstractmethod
    def restart(self) -> None:
        """Stop and start the server on the same data and URL (only if ``restartable``)."""

    @abstractmethod
    def request_raw(
        self,
        http_method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> WireResponse:
        """Send exactly this request (no credential added); the answer is still checked."""

    @abstractmethod
    def close(self) -> None:
        """Close every client and release the target."""

    def user(
        self, name: str, *, nick_name: str | None = None, face_url: str | None = None
    ) -> UserClient:
        """Create one fresh user (see ``users``)."""
        return self.users(name, nick_name=nick_name, face_url=face_url)[0]

    def post_raw(
        self, path: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> WireResponse:
        """POST exactly ``body`` and ``headers`` to ``path``, for malformed-input checks."""
        return self.request_raw("POST", path, body, headers)

    def __enter__(self) -> Target:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} at {self.url}>"


class WireTarget(Target):
    """A ``Target`` reached over the seenby wire at ``url`` with an optional admin key."""

    def __init__(
        self, url: str, admin_key: str | None, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self._url = url.rstrip("/")
        self._admin_key = admin_key
        self._timeout = timeout
        self._violation_log = ViolationLog()
        self._violation_log.transcript.add_secret(admin_key)
        self._lock = threading.Lock()
        self._anonymous = HttpTransport(
            self._url, None, violations=self._violation_log, timeout=timeout
        )
        self._admin: AdminClient | None = None

    @property
    def url(self) -> str:
        return self._url

    @property
    def timeout(self) -> float:
        return self._timeout

    @property
    def admin_key(self) -> str | None:
        return self._admin_key

    @property
    def capabilities(self) -> Capabilities:
        data = self._anonymous.invoke_get("capabilities")
        # Checked here rather than by the transport, and never raised: a bad discovery payload
        # fails the discovery scenario alone (which asserts no problems), not every scenario.
        context = PayloadContext("capabilities response data", self._url)
        deviations = DeviationLog()
        try:
            check(CAPABILITIES_SCHEMA, data, context=context, deviations=deviations)
        except SchemaViolation as violation:
            problems: tuple[str, ...] = (str(violation),)
        else:
            problems = ()
        return Capabilities.from_wire(
            data if isinstance(data, dict) else {},
            problems=problems,
            deviations=tuple(deviations.snapshot()),
        )

    @property
    def admin(self) -> AdminClient:
        if self._admin_key is None:
            raise RuntimeError(
                f"no admin key for {self._url}: pass admin_key= to open_target "
                "(the suite takes --seenby-admin-key or SEENBY_ADMIN_KEY)"
            )
        with self._lock:
            if self._admin is None:
                self._admin = WireAdminClient(
                    self._url,
                    self._admin_key,
                    violations=self._violation_log,
                    timeout=self._timeout,
                )
            return self._admin

    @property
    def violations(self) -> list[AssertionError]:
        return self._violation_log.snapshot()

    @property
    def deviation_log(self) -> DeviationLog:
        return self._violation_log.deviations

    @property
    def transcript(self) -> Transcript:
        return self._violation_log.transcript

    def users(
        self, *names: str, nick_name: str | None = None, face_url: str | None = None
    ) -> list[UserClient]:
        admin = self.admin
        return [
            _with_fresh_id(
                name,
                _CODE_USER_EXISTS,
                functools.partial(
                    admin.create_user,
                    nick_name=name if nick_name is None else nick_name,
                    face_url=face_url,
                ),
            )
            for name in names
        ]

    def group(
        self,
        group_type: str,
        owner: UserRef,
        members: Iterable[UserRef] = (),
        *,
        name: str = "group",
    ) -> Group:
        member_list = list(members)
        return _with_fresh_id(
            name,
            _CODE_GROUP_ID_IN_USE,
            lambda group_id: self.admin.create_group(group_type, owner, member_list, group_id),
        )

    def request_raw(
        self,
        http_method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> WireResponse:
        return self._anonymous.request_raw(http_method, path, body, headers or {})

    def close(self) -> None:
        with self._lock:
            admin, self._admin = self._admin, None
        if admin is not None:
            admin.close()
        self._anonymous.close()


def _with_fresh_id(name: str, code_in_use: int, create: Callable[[str], _T]) -> _T:
    """``create(unique_id(name))``, drawing a new ID if the target says it is taken."""
    for _ in range(_UNIQUE_ATTEMPTS - 1):
        try:
            return create(unique_id(name))
        except ApiError as error:
            if error.code != code_in_use:
                raise
    return create(unique_id(name))


_RAM_FILESYSTEM = Path("/dev/shm")


def _scratch_folder() -> str | None:
    """Where a bundled server's throw-away database goes: the RAM filesystem when the machine
    has one (Linux's ``/dev/shm``), else the default temporary folder.

    The server keeps its durable settings (WAL, ``synchronous=FULL``), but the file is deleted
    when the target closes, so no run can observe what a sync to disk buys; on disk the syncs
    cost a tenth of the suite's time. A restart keeps the file, as on disk.
    """
    if _RAM_FILESYSTEM.is_dir() and os.access(_RAM_FILESYSTEM, os.W_OK | os.X_OK):
        return str(_RAM_FILESYSTEM)
    return None


class BundledTarget(WireTarget):
    """The bundled reference server, started in-process on a fresh SQLite file (in RAM where
    the machine has a RAM filesystem, see ``_scratch_folder``).

    ``restart()`` stops it and starts it again on the same file, port and admin key, so
    existing clients keep working (their push connections are closed and may reconnect).
    """

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        from seenby import reference_server  # the harness imports the server only to start it

        self._data_dir = tempfile.TemporaryDirectory(
            prefix="seenby-bundled-", dir=_scratch_folder()
        )
        self._db = str(Path(self._data_dir.name) / "seenby.sqlite3")
        try:
            self._server: reference_server.RunningServer | None = reference_server.start(
                port=0, db=self._db
            )
        except BaseException:
            self._data_dir.cleanup()
            raise
        super().__init__(self._server.url, self._server.admin_key, timeout=timeout)

    @property
    def name(self) -> str:
        return "bundled reference server"

    @property
    def restartable(self) -> bool:
        return True

    def restart(self) -> None:
        from seenby import reference_server

        server = self._running()
        server.stop()
        self._server = reference_server.start(
            port=server.port, db=self._db, admin_key=server.admin_key
        )

    def close(self) -> None:
        super().close()
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._data_dir.cleanup()

    def _running(self) -> reference_server.RunningServer:
        if self._server is None:
            raise RuntimeError("the bundled server was closed")
        return self._server


class RemoteTarget(WireTarget):
    """A deployment reached by URL; it cannot be restarted from here."""

    @property
    def name(self) -> str:
        return self.url

    @property
    def restartable(self) -> bool:
        return False

    def restart(self) -> None:
        raise RuntimeError(f"{self.url} is a remote target: the harness cannot restart it")


def open_target(
    url: str | None = None,
    admin_key: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    driver: str = DEFAULT_DRIVER,
) -> Target:
    """The target at ``url`` (with ``admin_key``) through ``driver``; ``url`` None is a
    throw-away target the driver starts (the ``seenby`` driver: the bundled reference server).
    ``timeout`` is the time budget of every wait."""
    return get_driver(driver).open(url, admin_key, timeout=timeout)


def open_wire_target(url: str | None, admin_key: str | None, *, timeout: float) -> Target:
    """The ``seenby`` driver's targets: the bundled server when ``url`` is None, else remote;
    several URLs separated by commas are the nodes of one deployment."""
    if url is None:
        return BundledTarget(timeout=timeout)
    if "," in url:  # the nodes of one deployment (harness/api/cluster_target.py)
        from seenby.harness.api.cluster_target import ClusterTarget, split_target_urls

        return ClusterTarget(split_target_urls(url), admin_key, timeout=timeout)
    return RemoteTarget(url, admin_key, timeout=timeout)
