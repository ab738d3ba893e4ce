"""``seenby serve``: run the reference server as a process until Ctrl-C or SIGTERM.

``--database postgresql://...`` makes the process one node of a cluster on that database;
``--nodes N`` starts N such processes (and, without ``--database``, a throw-away PostgreSQL for
them) and prints every node's URL and the admin key.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from seenby.reference_server import is_postgres_url, start

DEFAULT_DB = "seenby-data/seenby.sqlite3"
_NEEDS_EXTRA = "PostgreSQL needs the postgres extra: pip install 'seenby[postgres]'"


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65_535:
        raise argparse.ArgumentTypeError("a port is 0-65535 (0 picks a free one)")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seenby serve", description="Run the seenby reference server."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, default=8080, help="port (0 picks a free one)")
    parser.add_argument(
        "--db", default=DEFAULT_DB, help=f"SQLite file, or :memory: (default ./{DEFAULT_DB})"
    )
    parser.add_argument(
        "--database",
        metavar="postgresql://USER@HOST:PORT/DB",
        help="serve from PostgreSQL instead of SQLite: every process on one database and admin"
        " key is a node of one service",
    )
    parser.add_argument(
        "--nodes",
        type=int,
        help="start this many nodes (on --database, or on a throw-away PostgreSQL deleted on"
        " exit), on consecutive ports from --port (0: free ones)",
    )
    parser.add_argument("--admin-key", help="the admin key (default: a random one, printed)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; exit 0 after a clean shutdown, 1 if the server cannot start."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    if args.database is not None and not is_postgres_url(args.database):
        print("seenby serve: --database takes a postgresql:// URL", file=sys.stderr)
        return 2
    if args.nodes is not None:
        return _serve_nodes(args, stop_requested)
    db = args.database if args.database is not None else args.db
    try:
        if not is_postgres_url(db) and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        server = start(args.host, args.port, db, args.admin_key)
    except ModuleNotFoundError as error:
        print(f"seenby serve: {_NEEDS_EXTRA} ({error})", file=sys.stderr)
        return 1
    except (OSError, RuntimeError, ValueError) as error:
        print(f"seenby serve: cannot start: {error}", file=sys.stderr)
        return 1
    with server:
        if args.admin_key is None:
            print(f"admin key: {server.admin_key}")
        print(f"listening on {server.url}", flush=True)
        # A timed wait keeps the main thread responsive to signals on every platform.
        while not stop_requested.wait(0.5):
            pass
    return 0


def _serve_nodes(args: argparse.Namespace, stop_requested: threading.Event) -> int:
    """``--nodes N``: a local cluster until interrupted (see ``local_cluster.py``)."""
    try:
        from seenby.reference_server.local_cluster import LocalCluster
    except ModuleNotFoundError as error:
        print(f"seenby serve: {_NEEDS_EXTRA} ({error})", file=sys.stderr)
        return 1
    if args.nodes < 1:
        print("seenby serve: --nodes must be at least 1", file=sys.stderr)
        return 2
    try:
        cluster = LocalCluster(args.nodes, args.database, args.admin_key, args.port)
    except (OSError, RuntimeError, ValueError) as error:
        print(f"seenby serve: cannot start the cluster: {error}", file=sys.stderr)
        return 1
    with cluster:
        print(f"admin key: {cluster.admin_key}")
        if cluster.postgres is not None:
            print(
                f"database: {cluster.database} (throw-away: {cluster.postgres.data_dir},"
                " deleted on exit)"
            )
        else:
            print(f"database: {cluster.database}")
        for url in cluster.urls:
            print(f"node listening on {url}")
        print(f"target: {','.join(cluster.urls)}", flush=True)
        while not stop_requested.wait(0.5):
            pass
    return 0
