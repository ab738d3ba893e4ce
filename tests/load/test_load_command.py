"""``seenby load`` end to end, small: one master and two worker processes against the bundled
server hold every invariant; each faulty load variant makes the verdict fail, naming the
invariant it breaks; a correct server that refuses whole calls where the spec allows passes,
its refusals counted as refusals.

The runs are short (a few seconds) and contended on purpose: quick readers in large groups, so
that concurrent receipts of one message actually meet. Nothing here times anything; the
figures of a full run live in docs/performance.md. Processes are started exactly as a person
would start them (the ``seenby`` console script), each on its own ports.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from mutants.killrun import served
from mutants.load_variants import EXPECTED, LOAD_ALTERNATIVES, LOAD_VARIANTS

SEENBY = str(Path(sys.executable).parent / "seenby")
CONTENDED = ["--think", "0.3", "--reading-delay", "0.5", "--group-size", "30", "--spawn-rate", "60"]
RUN_TIMEOUT_S = 150


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def load(*args: str, report_dir: Path) -> tuple[subprocess.Popen[str], Path]:
    process = subprocess.Popen(
        [SEENBY, "load", *args, "--report-dir", str(report_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, report_dir / "load-summary.json"


def finish(process: subprocess.Popen[str]) -> str:
    output, _ = process.communicate(timeout=RUN_TIMEOUT_S)
    return output


@pytest.fixture(scope="module")
def distributed_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One master (with the bundled server) and two workers: 60 users for 3 s."""
    folder = tmp_path_factory.mktemp("distributed")
    port = str(free_port())
    master, summary = load(
        "--master", "--expect-workers", "2", "--master-port", port,
        "--users", "60", "--run-time", "6s", *CONTENDED,
        "--csv", str(folder / "locust"), "--html", str(folder / "locust.html"),
        report_dir=folder,
    )  # fmt: skip
    workers = [
        subprocess.Popen(
            [SEENBY, "load", "--worker", "--master-port", port],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    output = finish(master)
    worker_output = [finish(worker) for worker in workers]
    yield {
        "status": master.returncode,
        "output": output,
        "workers": [w.returncode for w in workers],
        "worker_output": worker_output,
        "summary": json.loads(summary.read_text()) if summary.exists() else None,
        "folder": folder,
    }


def test_master_and_two_workers_hold_every_invariant(distributed_run: dict[str, Any]) -> None:
    assert distributed_run["status"] == 0, distributed_run["output"][-4000:]
    assert distributed_run["workers"] == [0, 0], distributed_run["worker_output"]
    summary = distributed_run["summary"]
    assert summary["verdict"]["holds"] and summary["verdict"]["broken"] == []
    assert (summary["workers"], summary["ledgersMerged"]) == (2, 2)
    assert summary["receipts"] > 0 and summary["pushConnections"] >= 60
    assert summary["faults"] == 0 and summary["refusals"] == []
    assert "verdict: every invariant checked holds" in distributed_run["output"]


def test_the_summary_has_locust_statistics_per_method_and_push_latency(
    distributed_run: dict[str, Any],
) -> None:
    summary = distributed_run["summary"]
    names = {(row["type"], row["name"]) for row in summary["methods"]}
    for method in ("sendMessage", "sendMessageReadReceipts", "getMessageReadReceipts"):
        assert ("POST", method) in names
    assert ("PUSH", "onRecvMessageReadReceipts") in names
    latency = summary["receiptPushLatencyMs"]
    if summary["generator"]["saturated"]:  # a busy machine: the figure is refused, and said so
        assert "notReported" in latency and "p99" not in latency
        assert "WARNING: the load generator was saturated" in distributed_run["output"]
    else:
        assert latency["max"] >= latency["p99"] >= latency["p50"] > 0
    assert summary["generator"]["eventLoopLagMs"]["samples"] > 0
    states = {i["name"]: i["state"] for i in summary["verdict"]["invariants"]}
    # Marking a conversation read is a rare task: a short run may have none to check.
    assert all(s == "holds" for name, s in states.items() if name != "conversation-marks"), states


def test_locust_csv_and_html_and_our_reports_are_written(distributed_run: dict[str, Any]) -> None:
    folder: Path = distributed_run["folder"]
    for name in ("locust_stats.csv", "locust.html", "load-report.html", "load-timeline.png"):
        assert (folder / name).stat().st_size > 0, name
    assert "sendMessageReadReceipts" in (folder / "locust_stats.csv").read_text()


@pytest.fixture(scope="module")
def variant_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every load variant, each in its own server process and driven by its own local
    ``seenby load``, all at once."""
    folder = tmp_path_factory.mktemp("variants")

    def drive(name: str) -> dict[str, Any]:
        variant = next(v for v in LOAD_VARIANTS if v.name == name)
        with (folder / f"{name}.log").open("w") as log, served(variant, log) as (url, key, _):
            process, summary = load(
                "--target", url, "--admin-key", key,
                "--users", "60", "--run-time", "6s", *CONTENDED,
                report_dir=folder / name,
            )  # fmt: skip
            output = finish(process)
        data = json.loads(summary.read_text()) if summary.exists() else None
        return {"status": process.returncode, "output": output, "summary": data}

    names = [variant.name for variant in LOAD_VARIANTS]
    with ThreadPoolExecutor(len(names)) as pool:
        return dict(zip(names, pool.map(drive, names), strict=True))


@pytest.mark.parametrize("name", [variant.name for variant in LOAD_VARIANTS])
def test_the_verdict_names_the_invariant_a_faulty_server_breaks(
    variant_runs: dict[str, Any], name: str
) -> None:
    run = variant_runs[name]
    assert run["status"] == 1, run["output"][-4000:]
    broken = run["summary"]["verdict"]["broken"]
    assert EXPECTED[name] in broken, run["output"][-3000:]
    rule = next(i for i in run["summary"]["verdict"]["invariants"] if i["name"] == EXPECTED[name])
    assert rule["examples"] and rule["examples"][0]["expected"]
    assert f"FAIL {EXPECTED[name]}" in run["output"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--target", "http://127.0.0.1:9"], "--target needs --admin-key"),
        (["--run-time", "soon"], "not a time span"),
    ],
)
def test_usage_errors_exit_2_and_say_why(args: list[str], says: str) -> None:
    answer = subprocess.run(
        [SEENBY, "load", *args], capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    assert answer.returncode == 2 and says in answer.stderr, answer.stderr


def test_a_target_that_cannot_be_used_is_named_and_exits_1() -> None:
    answer = subprocess.run(
        [SEENBY, "load", "--target", f"http://127.0.0.1:{free_port()}", "--admin-key", "key"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert answer.returncode == 1, answer.stdout + answer.stderr
    assert "cannot use the target http://127.0.0.1:" in answer.stdout


@pytest.fixture(scope="module")
def alternative_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every correct load alternative, one after the other, each driven by a local
    ``seenby load``."""
    folder = tmp_path_factory.mktemp("alternatives")
    runs = {}
    for alternative in LOAD_ALTERNATIVES:
        name = alternative.name
        with (folder / f"{name}.log").open("w") as log, served(alternative, log) as (url, key, _):
            process, summary = load(
                "--target", url, "--admin-key", key,
                "--users", "30", "--run-time", "5s", *CONTENDED,
                report_dir=folder / name,
            )  # fmt: skip
            output = finish(process)
        data = json.loads(summary.read_text()) if summary.exists() else None
        runs[name] = {"status": process.returncode, "output": output, "summary": data}
    return runs


@pytest.mark.parametrize("name", [alternative.name for alternative in LOAD_ALTERNATIVES])
def test_a_correct_server_refusing_whole_calls_passes_its_refusals_counted_apart(
    alternative_runs: dict[str, Any], name: str
) -> None:
    run = alternative_runs[name]
    assert run["status"] == 0, run["output"][-4000:]
    summary = run["summary"]
    assert summary["verdict"]["broken"] == [] and summary["faults"] == 0
    refusals = {(r["method"], r["code"]): r["count"] for r in summary["refusals"]}
    assert refusals.get(("getMessageReadReceipts", 10062), 0) > 0, summary["refusals"]
    assert "refused as the spec allows: getMessageReadReceipts code 10062" in run["output"]
    read_count = next(i for i in summary["verdict"]["invariants"] if i["name"] == "read-count")
    assert read_count["state"] == "holds" and read_count["checked"] >= summary["messages"] // 2
