"""`python -m bench.cluster`: the reference server across nodes on PostgreSQL, beside SQLite.

Writes the section "The cluster on PostgreSQL" to `bench/cluster.md`, which `python -m bench`
copies into docs/performance.md (like the Locust section: a separate command, since it starts
a database and up to four server processes). In one run, on one throw-away PostgreSQL:

- **Receipts/s**, closed loop: one Work group of a sender and `readers` readers, `messages`
  needReadReceipt messages; every reader receipts every message, one `sendMessageReadReceipts`
  call per message, each reader on its own keep-alive connection, reader *j* calling node
  *j mod N*. Measured for a single SQLite server process (the embedded default) and for 1, 2
  and 3 node processes on PostgreSQL (a fresh database each), in interleaved rounds; the figure
  is the median over rounds. Afterwards each message's readCount is checked to be `readers`.
- **Cross-node push latency**: the sender's push connection on the last node, a reader calling
  the first; from the start of the reader's call to the sender's frame, sequentially, p50/p99;
  the same with both on one node beside it.
- **Database work per receipt**, from `pg_stat_statements` over the 1-node receipt run (set-up
  calls included): statements executed, each one round trip (psycopg sends one statement per
  round trip here), besides BEGIN, COMMIT and a SAVEPOINT/RELEASE pair per call in a shared
  transaction; and write transactions (each takes the cluster lock once), which group commit
  shares among the calls queued meanwhile.

The load generator is threads in this process; the nodes, the database and it share the
machine's cores, so the figures are of the whole setup on this machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import websocket

from bench.report import Machine
from seenby.harness.api.server_process import ServerProcess
from seenby.reference_server.local_cluster import LocalCluster
from seenby.reference_server.pg_cluster import ThrowAwayPostgres

SECTION = Path(__file__).with_name("cluster.md")
NODE_COUNTS = (1, 2, 3)
RECEIPTS_EVENT = "onRecvMessageReadReceipts"


@dataclass(frozen=True)
class ClusterSizes:
    """How big the run is."""

    rounds: int
    readers: int
    messages: int
    push_samples: int


FULL = ClusterSizes(rounds=3, readers=16, messages=40, push_samples=200)
TINY = ClusterSizes(rounds=1, readers=4, messages=5, push_samples=10)


class Caller:
    """One credential's calls over one keep-alive connection."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self._connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def must(self, method: str, body: dict[str, Any]) -> Any:
        """Call; raise unless it succeeds; ``data``."""
        self._connection.request("POST", f"/v1/{method}", json.dumps(body), self._headers)
        envelope = json.loads(self._connection.getresponse().read())
        if envelope["code"] != 0:
            raise RuntimeError(f"{method}: {envelope}")
        return envelope["data"]

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()


@dataclass
class Scene:
    """A sender, its readers (each on a node) and a group."""

    sender: tuple[str, str]
    readers: list[tuple[str, str]]
    group_id: str


def _scene(urls: list[str], admin_key: str, readers: int, tag: str) -> Scene:
    admin = Caller(urls[0], admin_key)
    users = []
    for index in range(readers + 1):
        user_id = f"{tag}-{index}"
        users.append((user_id, admin.must("admin/createUser", {"userID": user_id})["token"]))
    group_id = f"{tag}-group"
    admin.must(
        "admin/createGroup",
        {"groupID": group_id, "groupType": "Work", "ownerID": users[0][0],
         "memberIDs": [user_id for user_id, _ in users[1:]]},
    )  # fmt: skip
    admin.close()
    return Scene(users[0], users[1:], group_id)


def _send_messages(url: str, scene: Scene, count: int) -> list[str]:
    sender = Caller(url, scene.sender[1])
    msg_ids = [
        sender.must(
            "sendMessage",
            {"groupID": scene.group_id, "elem": {"elemType": "text", "text": f"m{i}"},
             "needReadReceipt": True},
        )["msgID"]
        for i in range(count)
    ]  # fmt: skip
    sender.close()
    return msg_ids


def receipts_per_second(urls: list[str], admin_key: str, sizes: ClusterSizes, tag: str) -> float:
    """Every reader receipts every message (reader j on node j mod N): receipts per second."""
    scene = _scene(urls, admin_key, sizes.readers, tag)
    msg_ids = _send_messages(urls[0], scene, sizes.messages)
    callers = [Caller(urls[j % len(urls)], token) for j, (_, token) in enumerate(scene.readers)]
    start = threading.Barrier(len(callers) + 1)
    errors: list[BaseException] = []

    def read(j: int, caller: Caller) -> None:
        start.wait()
        try:
            # Readers start at different messages so they do not all queue on one row.
            for k in range(len(msg_ids)):
                msg_id = msg_ids[(j + k) % len(msg_ids)]
                caller.must("sendMessageReadReceipts", {"msgIDs": [msg_id]})
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=read, args=(j, c)) for j, c in enumerate(callers)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    for caller in callers:
        caller.close()
    if errors:
        raise errors[0]
    sender = Caller(urls[-1], scene.sender[1])
    for first in range(0, len(msg_ids), 30):
        for receipt in sender.must(
            "getMessageReadReceipts", {"msgIDs": msg_ids[first : first + 30]}
        ):
            assert receipt["readCount"] == sizes.readers, receipt  # receipts applied, none lost
    sender.close()
    return sizes.readers * sizes.messages / elapsed


def push_latencies_ms(
    urls: list[str], admin_key: str, samples: int, tag: str, push_node: int, call_node: int
) -> list[float]:
    """A reader on ``call_node`` receipts one message at a time; how long until the sender's
    push connection on ``push_node`` has the frame."""
    scene = _scene(urls, admin_key, 1, tag)
    msg_ids = _send_messages(urls[0], scene, samples)
    ws = websocket.create_connection(
        urls[push_node].replace("http://", "ws://") + "/v1/events?since=0",
        header=[f"Authorization: Bearer {scene.sender[1]}"],
        timeout=30,
    )
    reader = Caller(urls[call_node], scene.readers[0][1])
    latencies = []
    for msg_id in msg_ids:
        began = time.perf_counter()
        reader.must("sendMessageReadReceipts", {"msgIDs": [msg_id]})
        while True:
            frame = json.loads(ws.recv())
            if frame["event"] == RECEIPTS_EVENT and frame["data"][0]["msgID"] == msg_id:
                break
        latencies.append((time.perf_counter() - began) * 1000)
    reader.close()
    ws.close()
    return latencies


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _new_database(postgres: ThrowAwayPostgres, name: str) -> str:
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    with psycopg.connect(postgres.url.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    return postgres.url.rsplit("/", 1)[0] + f"/{name}"


def _database_work(database: str) -> tuple[int, int]:
    """(statements executed, write transactions) in ``database`` so far, from
    ``pg_stat_statements``. Transaction control (BEGIN, COMMIT, SAVEPOINT, RELEASE) sent over
    the extended protocol is mostly not counted there, so the statements leave it out, and the
    write transactions are counted by the cluster lock each of them takes once."""
    with psycopg.connect(database, autocommit=True) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(calls) FILTER"
            "   (WHERE query !~* '^(BEGIN|COMMIT|SAVEPOINT|RELEASE)'), 0),"
            " coalesce(sum(calls) FILTER (WHERE query LIKE 'SELECT pg_advisory_xact_lock%'), 0)"
            " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def measure(sizes: ClusterSizes, scratch: Path) -> dict[str, Any]:
    """Every figure of the section."""
    figures: dict[str, Any] = {"receipts_per_s": {}, "sizes": sizes.__dict__}
    runs: dict[str, list[float]] = {"sqlite": [], **{f"pg{n}": [] for n in NODE_COUNTS}}
    with ThrowAwayPostgres(settings={"shared_preload_libraries": "pg_stat_statements"}) as pg:
        for round_number in range(sizes.rounds):
            with ServerProcess(str(scratch / f"sqlite{round_number}.sqlite3")) as server:
                runs["sqlite"].append(
                    receipts_per_second([server.url], server.admin_key, sizes, f"s{round_number}")
                )
            for nodes in NODE_COUNTS:
                database = _new_database(pg, f"r{round_number}n{nodes}")
                with LocalCluster(nodes, database) as cluster:
                    before = _database_work(database) if nodes == 1 else (0, 0)
                    rate = receipts_per_second(
                        cluster.urls, cluster.admin_key, sizes, f"r{round_number}n{nodes}"
                    )
                    runs[f"pg{nodes}"].append(rate)
                    if nodes == 1 and round_number == 0:
                        after = _database_work(database)
                        receipts = sizes.readers * sizes.messages
                        # The scene's set-up calls are in the counts too; they are few.
                        figures["statements_per_receipt"] = (after[0] - before[0]) / receipts
                        figures["commits_per_receipt"] = (after[1] - before[1]) / receipts
        database = _new_database(pg, "push")
        with LocalCluster(3, database) as cluster:
            cross = push_latencies_ms(
                cluster.urls, cluster.admin_key, sizes.push_samples, "x", push_node=2, call_node=0
            )
            same = push_latencies_ms(
                cluster.urls, cluster.admin_key, sizes.push_samples, "y", push_node=0, call_node=0
            )
    figures["receipts_per_s"] = {name: statistics.median(v) for name, v in runs.items()}
    figures["receipts_per_s_runs"] = runs
    figures["push_ms"] = {
        "cross": (_percentile(cross, 0.5), _percentile(cross, 0.99)),
        "same": (_percentile(same, 0.5), _percentile(same, 0.99)),
    }
    return figures


def render_section(figures: dict[str, Any], machine: str, date: str) -> str:
    """The markdown section."""
    sizes = figures["sizes"]
    rates = figures["receipts_per_s"]
    runs = figures["receipts_per_s_runs"]
    rows = [("single SQLite process", "sqlite")] + [
        (f"{n} node{'s' if n > 1 else ''} on PostgreSQL", f"pg{n}") for n in NODE_COUNTS
    ]
    table = [
        "| server | receipts/s (median) | runs | vs SQLite |",
        "|---|---|---|---|",
    ]
    for label, key in rows:
        values = ", ".join(f"{v:.0f}" for v in runs[key])
        table.append(
            f"| {label} | {rates[key]:.0f} | {values} | {rates[key] / rates['sqlite']:.2f} |"
        )
    cross, same = figures["push_ms"]["cross"], figures["push_ms"]["same"]
    return "\n".join(
        [
            "## 10. The cluster on PostgreSQL (many nodes, one service)",
            "",
            f"Measured {date} on {machine} by `.venv/bin/python -m bench.cluster` (one run, a few"
            f" minutes): {sizes['readers']} readers each receipting {sizes['messages']} messages,"
            " one call per receipt, reader *j* calling node *j mod N*, closed loop;"
            f" {sizes['rounds']} interleaved rounds. The nodes, PostgreSQL 15 (fsync on, on the"
            " same disk) and the load generator share the machine's cores.",
            "",
            *table,
            "",
            "| figure | value |",
            "|---|---|",
            f"| receipt push latency across nodes, p50 / p99 (reader's call on node 1 → sender's"
            f" frame on node 3, {sizes['push_samples']} sequential) |"
            f" {cross[0]:.1f} / {cross[1]:.1f} ms |",
            f"| the same with both on one node, p50 / p99 | {same[0]:.1f} / {same[1]:.1f} ms |",
            "| statements (round trips) per receipt, 1 node, besides BEGIN / COMMIT / SAVEPOINT |"
            f" {figures['statements_per_receipt']:.1f} |",
            "| write transactions (commits) per receipt, 1 node (group commit shares them) |"
            f" {figures['commits_per_receipt']:.2f} |",
            "",
            "Why the nodes do not add up, and what bounds the design, is in docs/architecture.md"
            " (*Many nodes on PostgreSQL*).",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run, print the section, write it to bench/cluster.md (unless ``--no-write``)."""
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="smoke-test sizes (seconds)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="seenby-bench-cluster-") as scratch:
        figures = measure(TINY if options.tiny else FULL, Path(scratch))
    machine = Machine.this_one()
    text = render_section(figures, f"{machine.cpu}, {machine.cores} cores", machine.date)
    sys.stdout.write(text)
    if options.json is not None:
        options.json.write_text(json.dumps(figures, indent=2))
    if not options.no_write:
        SECTION.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
