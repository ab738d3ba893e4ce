"""The conformance suite and ``seenby load`` against three ``seenby serve --database`` processes.

The cluster is what ``seenby serve --nodes 3`` starts (``local_cluster.LocalCluster``: a
throw-away PostgreSQL and three node processes with one admin key); the suite and the load run
go through the ``seenby`` command line with ``--target URL1,URL2,URL3``, as a person would run
them, and must pass there exactly as against the bundled server; then one node is SIGKILLed and
the push and replay scenarios (the whole suite with ``SEENBY_FULL=1``) must pass on the two
left, on the data the first runs left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from seenby.reference_server.local_cluster import LocalCluster
from tests.reliability.sizes import FULL

SEENBY = str(Path(sys.executable).parent / "seenby")
RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def three_nodes() -> Iterator[LocalCluster]:
    """Three node processes on a throw-away PostgreSQL."""
    with LocalCluster(3) as cluster:
        yield cluster


def _seenby(*arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SEENBY_")}
    return subprocess.run(
        [SEENBY, *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def test_the_whole_suite_is_conformant_across_three_nodes(
    three_nodes: LocalCluster, tmp_path: Path
) -> None:
    target = ",".join(three_nodes.urls)
    result = _seenby(
        "run", "--target", target, "--admin-key", three_nodes.admin_key,
        "--report-dir", str(tmp_path), "-q",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((tmp_path / "conformance-summary.json").read_text())
    assert summary["verdict"] == "conformant", summary["verdict_text"]
    # The transcripts say which node answered: users' calls and pushes on all three.
    transcripts = " ".join(p.read_text() for p in (tmp_path / "transcripts").iterdir())
    assert all(f"@node{n}" in transcripts for n in (1, 2, 3))


def test_a_short_load_run_across_three_nodes_holds_every_invariant(
    three_nodes: LocalCluster, tmp_path: Path
) -> None:
    target = ",".join(three_nodes.urls)
    result = _seenby(
        "load", "--target", target, "--admin-key", three_nodes.admin_key,
        "-u", "20", "-r", "20", "-t", "8s", "--think", "0.3", "--reading-delay", "0.5",
        "--report-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = json.loads((tmp_path / "load-summary.json").read_text())
    assert summary["verdict"]["holds"], summary["verdict"]["broken"]
    assert summary["receipts"] > 0 and summary["pushConnections"] >= 20


def test_the_suite_is_still_conformant_on_the_nodes_left_after_one_is_killed(
    three_nodes: LocalCluster, tmp_path: Path
) -> None:
    three_nodes.kill(2)
    survivors = three_nodes.urls
    assert len(survivors) == 2
    selection = [] if FULL else ["--tag", "area-P", "--tag", "area-Y"]
    result = _seenby(
        "run", "--target", ",".join(survivors), "--admin-key", three_nodes.admin_key,
        "--report-dir", str(tmp_path), "-q", *selection,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
