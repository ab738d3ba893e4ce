"""A hostile target cannot hang or flood the suite: each hostile server of the faulty gallery
gets a verdict within a few time budgets per scenario, the scenario that met its misbehaviour
fails with the reason (in its transcript too), and the reports exist, even of a run killed from
outside with SIGKILL.

Each run uses a one-second budget and only the scenarios that meet the misbehaviour, so that
the whole module stays within CI's means; the kill run puts the whole suite to them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.mutants.gallery import variant_named
from tests.mutants.hostile_variants import HOSTILE
from tests.mutants.killrun import Served, served

BUDGET_SECONDS = 1.0
START_UP_SECONDS = 40.0
"""What a run costs besides its scenarios' waits: starting seenby and pytest, discovery, the
preflight (up to a budget per part) and the reports, on a busy two-core machine."""
BUDGETS_PER_ITEM = 4
"""The bound on one scenario item: a few waits, each cut at the budget."""
REPORTS = ("junit.xml", "cucumber.json", "conformance-summary.json", "report.html")


@dataclass(frozen=True)
class Case:
    """A hostile server, the scenario that meets its misbehaviour, and the reason it fails."""

    variant: str
    scenario: str
    items: int
    """The scenario's items (Examples rows)."""
    reason: str


CASES = (
    Case("Q1_receipt_pull_trickles_a_byte_every_2_s", "RR-Q-010", 1, "within the time budget"),
    Case("Q1_history_answer_never_ends", "RR-Q-001", 2, "within the time budget"),
    Case("L1_member_list_stalls_after_its_headers", "RR-L-001", 1, "within the time budget"),
    Case("C1_conversation_list_of_300_MB", "RR-C-001", 1, "past the cap of 16,777,216 bytes"),
    Case("C1_mark_answer_is_not_utf8", "RR-C-001", 1, "not valid UTF-8"),
    Case("Q1_receipt_pull_reset_midway", "RR-Q-010", 1, "Connection reset by peer"),
    Case("P1_push_channel_accepts_and_never_speaks", "RR-P-001", 1, "receipt push does not work"),
    Case("P2_receipt_push_of_17_MiB", "RR-P-001", 1, "over the cap of 16,777,216 characters"),
)


def _command(server: Served, report_dir: Path, *ids: str) -> list[str]:
    command = [
        sys.executable, "-m", "seenby.harness.cli", "run",
        f"--target={server.url}", f"--admin-key={server.admin_key}",
        f"--timeout={BUDGET_SECONDS}", "--report-dir", str(report_dir), "--quiet",
    ]  # fmt: skip
    for scenario_id in ids:
        command += ["--id", scenario_id]
    return command


@dataclass(frozen=True)
class Outcome:
    """One run against a hostile server."""

    exit_status: int
    seconds: float
    summary: dict[str, Any]
    report_dir: Path


def _run(case: Case, work_dir: Path) -> Outcome:
    report_dir = work_dir / case.variant
    with (
        open(work_dir / f"{case.variant}.log", "w") as log,
        served(variant_named(case.variant), log) as server,
    ):
        started = time.monotonic()
        completed = subprocess.run(
            _command(server, report_dir, case.scenario),
            capture_output=True,
            text=True,
            timeout=START_UP_SECONDS + 60 * BUDGET_SECONDS,
            check=False,
        )
        seconds = time.monotonic() - started
    summary = json.loads((report_dir / "conformance-summary.json").read_text(encoding="utf-8"))
    return Outcome(completed.returncode, seconds, summary, report_dir)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Each case's run, two at a time (two cores)."""
    work_dir = tmp_path_factory.mktemp("hostile")
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {case.variant: pool.submit(_run, case, work_dir) for case in CASES}
        return {name: run.result() for name, run in runs.items()}


def test_every_hostile_server_is_put_to_the_suite() -> None:
    assert {case.variant for case in CASES} == set(HOSTILE)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.variant)
def test_the_hostile_server_fails_its_scenario_in_bounded_time_with_the_reason(
    case: Case, outcomes: dict[str, Outcome]
) -> None:
    outcome = outcomes[case.variant]
    assert outcome.exit_status == 1
    assert outcome.seconds < START_UP_SECONDS + BUDGETS_PER_ITEM * BUDGET_SECONDS * case.items
    assert outcome.summary["verdict"] == "not-conformant"
    (scenario,) = outcome.summary["scenarios"]
    assert scenario["verdict"] == "fail"
    assert case.reason in scenario["evidence"]
    assert all((outcome.report_dir / name).stat().st_size > 0 for name in REPORTS)


@pytest.mark.parametrize(
    "case", [case for case in CASES if case.variant[0] in "QLC"], ids=lambda case: case.variant
)
def test_the_cut_call_is_in_the_transcript(case: Case, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[case.variant]
    (scenario,) = outcome.summary["scenarios"]
    transcripts = [outcome.report_dir / each["path"] for each in scenario["transcripts"]]
    text = "\n".join(path.read_text(encoding="utf-8") for path in transcripts)
    cut = "no complete answer" if "UTF-8" not in case.reason else "markC2CMessageAsRead"
    assert cut in text


@pytest.fixture
def trickling() -> Iterator[Served]:
    with (
        open(os.devnull, "w") as log,
        served(variant_named("Q1_receipt_pull_trickles_a_byte_every_2_s"), log) as server,
    ):
        yield server


def test_a_run_killed_from_outside_leaves_the_reports_of_what_had_finished(
    trickling: Served, tmp_path: Path
) -> None:
    # Quick scenarios first, then ones that each wait out the budget on the trickle.
    ids = ("RR-R-001", "RR-R-004", "RR-Q-010", "RR-Q-009", "RR-Q-001")
    report_dir = tmp_path / "reports"
    summary_path = report_dir / "conformance-summary.json"
    with subprocess.Popen(
        _command(trickling, report_dir, *ids),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ) as run:
        deadline = time.monotonic() + START_UP_SECONDS
        finished: list[str] = []
        while time.monotonic() < deadline and len(finished) < 2:
            time.sleep(0.2)
            if summary_path.exists():
                summary = json.loads(summary_path.read_text(encoding="utf-8"))
                finished = [s["id"] for s in summary["scenarios"] if s["verdict"] != "not-run"]
        os.killpg(run.pid, signal.SIGKILL)  # seenby and the pytest it started
        run.wait()
    assert len(finished) >= 2, "no report of two finished scenarios appeared"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert summary["verdict"] in ("incomplete", "not-conformant")
    assert any("had not finished" in error for error in summary["errors"])
    assert {s["id"] for s in summary["scenarios"] if s["verdict"] != "not-run"} >= set(finished)
    cases = ET.parse(report_dir / "junit.xml").getroot().iter("testcase")
    assert {case.get("name", "").split()[0] for case in cases} >= set(finished)
    assert json.loads((report_dir / "cucumber.json").read_text(encoding="utf-8")) is not None
    assert "</html>" in (report_dir / "report.html").read_text(encoding="utf-8")
