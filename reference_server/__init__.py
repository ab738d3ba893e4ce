"""seenby reference server: the correct read-receipt service (stdlib HTTP + WebSocket + SQLite).

``start()`` runs it in background threads, for the harness, notebooks and tests::

    with reference_server.start(port=0, db=":memory:") as server:
        print(server.url, server.admin_key)

``seenby serve`` (``seenby.reference_server.cli``) runs the same server as a process. With a
``postgresql://`` URL as ``db`` the server is one node of a cluster on that database
(``pg_storage.py``, ``cluster_push.py``): any number of nodes on one database and admin key are
one service.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from types import TracebackType

from seenby.contract import vocabulary
from seenby.reference_server.domain import ReceiptService
from seenby.reference_server.http_api import ReceiptHTTPServer, Timeouts
from seenby.reference_server.push import IDLE_TIMEOUT, PING_INTERVAL, QUEUE_SIZE, PushHub
from seenby.reference_server.storage import SqliteStorage, Storage
from seenby.reference_server.values import REPLAY_RETAINED_EVENTS

__all__ = ["RunningServer", "Tuning", "is_postgres_url", "start"]

_SHUTDOWN_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class Tuning:
    """Operational limits; the defaults are the production values of docs/protocol.md §1.3.

    Tests lower some of them to reach a limit quickly.
    """

    idle_timeout: float = IDLE_TIMEOUT
    """Seconds before an idle keep-alive connection or a silent push peer is closed."""
    request_timeout: float = float(vocabulary.REQUEST_SECONDS.value)
    """Seconds from a request's first byte to its last (or a WebSocket handshake's)."""
    max_connections: int = vocabulary.CONNECTIONS_MAX.value
    """Open connections; past that a new connection is closed at once."""
    push_queue_size: int = QUEUE_SIZE
    """Events waiting per push connection before it is closed with 1008."""
    ping_interval: float = PING_INTERVAL
    """Seconds between server pings on a push connection."""
    event_retention: int = REPLAY_RETAINED_EVENTS
    """Events kept per user for replay."""


class RunningServer:
    """A server started by :func:`start`: its ``url``, its ``admin_key`` and ``stop()``."""

    def __init__(
        self, httpd: ReceiptHTTPServer, hub: PushHub, storage: Storage, admin_key: str
    ) -> None:
        self._httpd = httpd
        self._hub = hub
        self._storage = storage
        self.admin_key = admin_key
        host, port = httpd.server_address[:2]
        self.host: str = str(host)
        self.port: int = int(port)
        shown_host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown_host}:{self.port}"
        self._stop_lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.1,), name="seenby-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Close WebSockets, stop the listener, close the database; idempotent."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
            self._httpd.shutdown()
            self._thread.join()
            self._hub.close_all(_SHUTDOWN_GRACE_SECONDS)
            self._httpd.close_connections(_SHUTDOWN_GRACE_SECONDS)
            self._httpd.server_close()
            self._storage.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RunningServer {self.url}{' stopped' if self._stopped else ''}>"


def is_postgres_url(db: str) -> bool:
    """Whether ``db`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return db.startswith(("postgresql://", "postgres://"))


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    db: str = ":memory:",
    admin_key: str | None = None,
    *,
    tuning: Tuning | None = None,
) -> RunningServer:
    """Start the reference server in background threads and return once it accepts requests.

    ``port=0`` picks a free port; ``db`` is a SQLite file (created if missing),
    ``":memory:"``, or a ``postgresql://`` URL (this server is then one node of a cluster on
    that database); without ``admin_key`` a random one is made (see
    ``RunningServer.admin_key``).
    """
    if admin_key == "":
        raise ValueError("admin_key must not be empty")
    tuning = tuning or Tuning()
    key = admin_key if admin_key is not None else secrets.token_urlsafe(24)
    storage: Storage
    if is_postgres_url(db):
        # Imported here: psycopg is the optional `postgres` extra.
        from seenby.reference_server.cluster_push import ClusterHub
        from seenby.reference_server.pg_storage import PgStorage

        cluster_hub = ClusterHub(
            db, tuning.push_queue_size, tuning.ping_interval, tuning.idle_timeout
        )
        try:
            storage = PgStorage(db, cluster_hub.node, event_retention=tuning.event_retention)
        except BaseException:
            cluster_hub.close_all(0)
            raise
        hub: PushHub = cluster_hub
    else:
        storage = SqliteStorage(db, event_retention=tuning.event_retention)
        hub = PushHub(tuning.push_queue_size, tuning.ping_interval, tuning.idle_timeout)
    try:
        service = ReceiptService(storage, key, sink=hub, presence=hub)
        httpd = ReceiptHTTPServer(
            (host, port),
            service,
            hub,
            Timeouts(idle=tuning.idle_timeout, request=tuning.request_timeout),
            tuning.max_connections,
        )
    except BaseException:
        hub.close_all(0)
        storage.close()
        raise
    return RunningServer(httpd, hub, storage, key)
