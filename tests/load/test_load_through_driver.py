"""``seenby load --driver``: the receipt workload through a driver's clients, small.

Through the ``seenby`` driver against the bundled server every invariant the workload can check
holds and the ones it cannot are "not checked" with their reason; against the gallery's lost
update the same command fails, naming ``read-count``. The Synapse run through the ``matrix``
driver is in tests/drivers/test_matrix_synapse.py. Nothing here times anything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from mutants.killrun import served
from mutants.load_variants import variant_named

from seenby.harness import open_target
from seenby.harness.drivers import get_driver
from seenby.harness.load.through_driver import DriverLoadSettings, run_through_driver

SEENBY = str(Path(sys.executable).parent / "seenby")
RUN_TIMEOUT_S = 120
HELD_THROUGH_SEENBY = (
    "read-count", "read-plus-unread", "member-lists", "push-monotonic", "push-final",
    "push-to-sender-only", "seq-gap-free", "message-once", "no-server-fault",
)  # fmt: skip
SMALL = ["--users", "12", "--group-size", "6", "--rounds", "3"]


def load_through(*args: str, report_dir: Path) -> tuple[subprocess.CompletedProcess[str], Any]:
    finished = subprocess.run(
        [SEENBY, "load", *args, "--report-dir", str(report_dir)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    summary = report_dir / "driver-load-summary.json"
    return finished, json.loads(summary.read_text()) if summary.exists() else None


def test_through_the_seenby_driver_every_checkable_invariant_holds(tmp_path: Path) -> None:
    finished, summary = load_through("--driver", "seenby", *SMALL, report_dir=tmp_path)

    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert summary["driver"] == "seenby" and summary["users"] == 12
    assert summary["receipts"] == 12 * 5 * 3  # every member reads its 5 peers' messages, 3 rounds
    assert summary["receiptPushMs"]["timed"] == summary["receipts"]
    states = {i["name"]: i for i in summary["verdict"]["invariants"]}
    for code in HELD_THROUGH_SEENBY:
        assert states[code]["state"] == "holds", states[code]
    assert states["conversation-marks"]["state"] == "not checked"
    assert states["conversation-marks"]["notCheckedBecause"]
    assert "not checked: the workload through a driver sends group messages only" in (
        finished.stdout
    )


def test_through_a_driver_the_lost_update_breaks_read_count(tmp_path: Path) -> None:
    variant = variant_named("P3_concurrent_receipts_lose_updates")
    with (tmp_path / "server.log").open("w") as log, served(variant, log) as (url, key, _):
        finished, summary = load_through(
            "--driver", "seenby", "--target", url, "--admin-key", key,
            "--users", "24", "--group-size", "12", "--rounds", "3",
            report_dir=tmp_path / "report",
        )  # fmt: skip

    assert finished.returncode == 1, finished.stdout + finished.stderr
    assert "read-count" in summary["verdict"]["broken"], finished.stdout
    assert "FAIL read-count" in finished.stdout


def test_an_unknown_driver_is_a_usage_error(tmp_path: Path) -> None:
    finished, summary = load_through("--driver", "no-such-driver", report_dir=tmp_path)

    assert finished.returncode == 2 and "no-such-driver" in finished.stderr, finished.stderr
    assert summary is None


def test_the_workload_runs_on_an_open_target_from_python() -> None:
    with open_target(None, driver="seenby", timeout=10) as target:
        result = run_through_driver(
            target, get_driver("seenby"), DriverLoadSettings(users=4, group_size=2, rounds=2)
        )

    assert result.receipts == 4 * 1 * 2 and result.receipts_per_s > 0
    assert result.verdict.holds, result.lines()
    assert result.to_json()["verdict"]["notChecked"] == ["push-settled", "conversation-marks"]
