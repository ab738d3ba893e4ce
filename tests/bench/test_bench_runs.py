"""`python -m bench --tiny`: every benchmark runs end to end and its results are well formed.

Nothing here times anything or compares a figure with a target: speed belongs in the benchmark
itself. The benchmark runs as a subprocess from the repository root, exactly as documented, so
the test sees the command line, the printed tables and the `--json` figures a person would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.report import Previous

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "performance.md"
BENCH_TIMEOUT_S = 120
TINY_READERS = [1, 4]
TINY_PUSH_USERS = [3, 5]
TINY_RECIPIENTS = ["3", "400"]
TINY_BIG_SEND = 2_000
OPERATIONS = [
    "getMessageReadReceipts",
    *[
        f"{member_list} list, {place} page"
        for member_list in ("READ", "UNREAD")
        for place in ("first", "middle", "last")
    ],
]


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=BENCH_TIMEOUT_S,
        check=False,
    )


def assert_figure(figure: dict[str, Any], runs: int, *, positive: bool = True) -> None:
    """A median with its range over `runs` runs (latencies may be negative, see push_latency)."""
    assert figure["runs"] == runs, figure
    assert figure["low"] <= figure["median"] <= figure["high"], figure
    if positive:
        assert figure["low"] > 0, figure


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """One tiny run of every benchmark: its JSON figures and its printed tables."""
    doc_before = DOC.read_bytes() if DOC.exists() else None
    out = tmp_path_factory.mktemp("bench") / "figures.json"
    finished = run_bench("--tiny", "--no-write", "--json", str(out))
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert (DOC.read_bytes() if DOC.exists() else None) == doc_before, "--no-write wrote the doc"
    return json.loads(out.read_text(encoding="utf-8")), finished.stdout


def test_throughput_pairs_every_run_with_a_baseline(tiny: tuple[dict[str, Any], str]) -> None:
    figures, _ = tiny
    runs = figures["sizes"]["runs"]
    assert [row["readers"] for row in figures["throughput"]] == TINY_READERS
    for row in figures["throughput"]:
        assert row["receipts_per_run"] >= row["readers"]
        for name in ("receipts_per_second", "baseline_per_second", "ratio"):
            assert_figure(row[name], runs)


def test_push_latency_has_percentiles_per_user_count(tiny: tuple[dict[str, Any], str]) -> None:
    figures, _ = tiny
    runs = figures["sizes"]["runs"]
    assert [row["users"] for row in figures["push"]] == TINY_PUSH_USERS
    for row in figures["push"]:
        for name in ("p50", "p99"):
            assert_figure(row[name], runs, positive=False)
        for name in ("sent_p50", "sent_p99"):
            assert_figure(row[name], runs)
        assert row["sent_p50"]["median"] <= row["sent_p99"]["median"]


def test_group_scale_measures_every_operation_at_every_size(
    tiny: tuple[dict[str, Any], str],
) -> None:
    figures, _ = tiny
    runs = figures["sizes"]["runs"]
    scale = figures["scale"]
    assert [row["operation"] for row in scale["rows"]] == OPERATIONS
    for row in scale["rows"]:
        assert list(row["seconds_by_recipients"]) == TINY_RECIPIENTS
        for figure in row["seconds_by_recipients"].values():
            assert_figure(figure, runs)
        assert_figure(row["largest_over_smallest"], runs)
        assert_figure(row["largest_over_comparable"], runs)
        assert str(row["comparable_recipients"]) in TINY_RECIPIENTS
    assert [send["recipients"] for send in scale["sends"]] == [int(n) for n in TINY_RECIPIENTS]
    for send in scale["sends"]:
        assert_figure(send["seconds_per_recipient"], runs)


def test_footprint_reads_disk_and_memory_of_the_server_process(
    tiny: tuple[dict[str, Any], str],
) -> None:
    figures, _ = tiny
    footprint = figures["scale"]["footprint"]
    assert footprint["recipients"] == int(TINY_RECIPIENTS[-1])
    assert_figure(footprint["bytes_per_recipient"], figures["sizes"]["runs"])
    assert footprint["bytes_per_recipient_by_table"], "dbstat found no growth"
    assert 0 < footprint["rss_start_kib"] <= footprint["peak_rss_kib"]
    assert 0 < footprint["rss_kib"] <= footprint["peak_rss_kib"]


def test_every_concurrency_reports_the_fsync_bound_beside_its_ratio(
    tiny: tuple[dict[str, Any], str],
) -> None:
    figures, _ = tiny
    runs = figures["sizes"]["runs"]
    for row in figures["throughput"]:
        assert_figure(row["commit_seconds"], runs)
        assert_figure(row["fsync_bound"], runs)
        assert row["fsync_bound"]["high"] <= 1.0
    (check,) = [c for c in figures["targets"] if c["name"].endswith(", 1 reader(s)")]
    assert check["met"] is None and "fsync bounds it at" in check["target"]


def test_big_send_times_bystanders_with_and_without_the_send(
    tiny: tuple[dict[str, Any], str],
) -> None:
    figures, _ = tiny
    runs = figures["sizes"]["runs"]
    big = figures["big_send"]
    assert big["recipients"] == TINY_BIG_SEND
    for name in ("busy_p50", "busy_p99", "busy_max", "quiet_p50", "quiet_p99", "quiet_max"):
        assert_figure(big[name], runs)
    assert big["busy_p50"]["median"] <= big["busy_p99"]["median"] <= big["busy_max"]["median"]
    assert_figure(big["send_seconds"], runs)
    assert big["calls_per_window"]["low"] >= 1


def test_targets_and_tables_are_reported(tiny: tuple[dict[str, Any], str]) -> None:
    figures, printed = tiny
    names = [check["name"] for check in figures["targets"]]
    # throughput rows, push, scale rows, bytes per recipient, calls during a big send
    assert len(names) == len(TINY_READERS) + 1 + len(OPERATIONS) + 2, names
    assert all(check["met"] in (True, False, None) for check in figures["targets"])
    for title in (
        "Targets",
        "1. Receipt throughput",
        "2. Push latency",
        "3. Group scale",
        "4. Memory and disk",
        "5. Other users' calls during a big send",
    ):
        assert f"\n{title}\n" in printed, printed


def test_only_without_no_write_is_refused() -> None:
    finished = run_bench("--tiny", "--only", "push")
    assert finished.returncode == 2
    assert "--no-write" in finished.stderr


def test_a_written_run_is_read_back_as_the_previous_figures(
    tiny: tuple[dict[str, Any], str], tmp_path: Path
) -> None:
    figures, _ = tiny
    path = tmp_path / "performance.json"
    assert Previous.load(path) is None
    path.write_text(json.dumps(figures), encoding="utf-8")
    previous = Previous.load(path)
    assert previous is not None and previous.date == figures["machine"]["date"]
    assert previous.measured == {c["name"]: c["measured"] for c in figures["targets"]}
