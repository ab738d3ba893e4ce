"""Faults a cluster survives, under ``seenby load`` across three nodes on PostgreSQL.

The fault comes a third of the run after every user exists (set-up is not what is tested).

- One of three nodes is SIGKILLed mid-run: its users' calls get no answer (in doubt, never
  counted as done), they move to the next node and reconnect their push with ``since``; the
  verdict still holds: nothing acknowledged is lost and no connection misses an event.
- PostgreSQL restarts mid-run (a fast shutdown ends every session): the nodes reconnect by
  themselves, calls that met the outage fail with a clear error (code 90500 with a reason, never
  a success for a write that did not commit), and the verdict still holds.

The node the admin calls go to (the first) is never the one killed. CI runs a short load;
``SEENBY_FULL=1`` runs the full size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import requests

from seenby.reference_server.local_cluster import LocalCluster

from .sizes import FULL

SEENBY = str(Path(sys.executable).parent / "seenby")
USERS, SECONDS = (120, 60) if FULL else (20, 15)
FAULT_AT_S = SECONDS / 3
"""Seconds after the last user was created."""
SPAWN_TIMEOUT_S = 120


def _load_with_fault(
    cluster: LocalCluster, report_dir: Path, fault: Callable[[], None]
) -> tuple[dict[str, Any], str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SEENBY_")}
    process = subprocess.Popen(
        [SEENBY, "load", "--target", ",".join(cluster.urls), "--admin-key", cluster.admin_key,
         "-u", str(USERS), "-r", str(USERS), "-t", f"{SECONDS}s", "--think", "0.3",
         "--reading-delay", "0.5", "--report-dir", str(report_dir)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    _wait_until_every_user_exists(cluster.database)  # the fault meets the run, not its set-up
    time.sleep(FAULT_AT_S)
    fault()
    output, _ = process.communicate(timeout=SECONDS + 240)
    summary_path = report_dir / "load-summary.json"
    assert summary_path.exists(), f"seenby load wrote no summary:\n{output[-4000:]}"
    return json.loads(summary_path.read_text()), output


def _wait_until_every_user_exists(database: str) -> None:
    deadline = time.monotonic() + SPAWN_TIMEOUT_S
    with psycopg.connect(database, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM users WHERE user_id LIKE 'load-%'").fetchone()
            if row is not None and row[0] >= USERS:
                return
            time.sleep(0.2)
    raise AssertionError(f"seenby load did not create its {USERS} users in {SPAWN_TIMEOUT_S} s")


def test_a_node_killed_mid_run_loses_nothing_acknowledged(tmp_path: Path) -> None:
    with LocalCluster(3) as cluster:
        victim = cluster.nodes[2]
        summary, output = _load_with_fault(cluster, tmp_path, victim.kill)
        assert not victim.alive
    invariants = {i["name"]: i for i in summary["verdict"]["invariants"]}
    broken = [name for name, i in invariants.items() if not i["holds"]]
    # Calls and push connections that met the dead node got no answer (in doubt, and no
    # fault of the nodes left); those are the only faults, and everything else holds.
    assert broken in ([], ["no-server-fault"]), f"{broken}\n{output[-3000:]}"
    for example in invariants["no-server-fault"]["examples"]:
        assert victim.url in example["seen"], example
    assert summary["receipts"] > 0, output[-3000:]


def test_nodes_recover_from_a_database_restart_without_a_restart_of_their_own(
    tmp_path: Path,
) -> None:
    with LocalCluster(3) as cluster:
        assert cluster.postgres is not None
        summary, output = _load_with_fault(cluster, tmp_path, cluster.postgres.restart)
        assert all(node.alive for node in cluster.nodes)
        # Every node answers again, from the restarted database.
        for url in cluster.urls:
            requests.get(f"{url}/v1/capabilities", timeout=10).raise_for_status()
    invariants = {i["name"]: i for i in summary["verdict"]["invariants"]}
    broken = [name for name, i in invariants.items() if not i["holds"]]
    # The calls that met the outage are the only faults, each a clear database error.
    assert broken in ([], ["no-server-fault"]), f"{broken}\n{output[-3000:]}"
    for example in invariants["no-server-fault"]["examples"]:
        assert '"code":90500' in example["seen"] and "the database" in example["seen"], example
