"""The ``matrix`` driver against a real, throw-away Synapse (``seenby synapse``'s launcher).

Synapse is installed from PyPI into a virtual environment of its own on first use
(``~/.cache/seenby/synapse-venv``, or ``SEENBY_SYNAPSE_VENV``), started on SQLite and loopback,
and stopped by its PID at the end. The tests hold the driver to the honesty rule (what Matrix
does reaches the scenario, even where V2TIM would do otherwise), run a selection of the suite
through it with ``seenby run --driver matrix``, and check that ``docs/targets/synapse.md`` says
what that fresh run found.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from seenby.harness import NotApplicable, ReadFilter, Target, open_target
from seenby.harness.drivers import get_driver
from seenby.harness.drivers.capabilities import ADMIN_SETTINGS, EVENT_REPLAY, RAW_WIRE
from seenby.harness.drivers.matrix.synapse import DEFAULT_VENV, ThrowawaySynapse
from seenby.harness.drivers.target_page import page_rows

REPOSITORY = Path(__file__).resolve().parents[2]
TARGET_PAGE = REPOSITORY / "docs" / "targets" / "synapse.md"
# A selection that takes about a minute and a half on Synapse: pushes and pulls (behaviours
# Matrix has, some of them differently), the error scenarios (mostly raw wire: not applicable)
# and three batch scenarios. The full run behind docs/targets/synapse.md takes about 8 minutes;
# both use the time budget of 5 s (a burst of 120 concurrent receipts takes Synapse on SQLite
# longer than three budgets of 3 s).
CI_SELECTION = (
    "--tag", "area-P", "--tag", "area-Q", "--tag", "area-E",
    "--id", "RR-R-001", "--id", "RR-R-002", "--id", "RR-R-008",
)  # fmt: skip
RECEIPT = "onRecvMessageReadReceipts"
VARYING = get_driver("matrix").varying_verdicts
"""Scenarios whose verdict on Synapse varies from run to run (the driver says why): the page
says so beside them, and their verdicts are not compared."""


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawaySynapse]:
    with ThrowawaySynapse(tmp_path_factory.mktemp("synapse"), venv=DEFAULT_VENV) as server:
        yield server


@pytest.fixture
def target(synapse: ThrowawaySynapse) -> Iterator[Target]:
    with open_target(synapse.url, synapse.admin_key, driver="matrix", timeout=10) as opened:
        yield opened


def test_the_launcher_serves_loopback_only_and_stops_by_pid(synapse: ThrowawaySynapse) -> None:
    assert synapse.url.startswith("http://127.0.0.1:")
    assert (synapse.data_dir / "synapse.pid").read_text().strip() == str(synapse.pid)
    config = json.loads((synapse.data_dir / "homeserver.yaml").read_text())
    assert config["caches"]["sync_response_cache_duration"] == 0
    assert config["listeners"][0]["bind_addresses"] == ["127.0.0.1"]
    assert config["trusted_key_servers"] == []


def test_discovery_names_synapse_and_its_version(target: Target, synapse: ThrowawaySynapse) -> None:
    implementation = target.capabilities.implementation

    assert implementation == {"name": "Synapse", "version": synapse.version}


def test_other_members_are_told_of_a_read_because_matrix_tells_them(target: Target) -> None:
    """The honesty rule's example: Matrix gives every member every member's m.read, so the
    driver passes it on (the V2TIM scenario "other members are not told" fails on Matrix)."""
    alice, bob, carol = target.users("alice", "bob", "carol")
    group = target.group("Work", alice, [bob, carol])
    carol_stream = carol.connect()
    message = alice.send_text("team lunch?", group=group, need_read_receipt=True)
    bob.send_message_read_receipts([message])

    told = carol_stream.wait_for(
        lambda event: event.name == RECEIPT and event.data[0]["msgID"] == message.msg_id,
        description="bob's read, as Matrix sends it to carol",
    )
    assert told.receipts[0].read_count == 1 and told.receipts[0].unread_count == 1


def test_a_receipt_for_a_message_that_asked_for_none_is_sent_and_counted(target: Target) -> None:
    """The driver never checks needReadReceipt: Synapse takes the receipt, the count shows it."""
    alice, bob, carol = target.users("alice", "bob", "carol")
    group = target.group("Work", alice, [bob, carol])
    message = alice.send_text("fyi", group=group, need_read_receipt=False)
    assert message.need_read_receipt is False

    bob.send_message_read_receipts([message])

    (receipt,) = alice.get_message_read_receipts([message])
    assert (receipt.read_count, receipt.unread_count) == (1, 1)
    readers = alice.get_group_message_read_member_list(message, ReadFilter.READ)
    assert [member.user_id for member in readers.members] == [bob.user_id]


def test_a_read_is_up_to_a_point_as_matrix_receipts_are(target: Target) -> None:
    """Bob reads only the second message; a Matrix receipt acknowledges everything before it,
    and the driver derives "read" exactly so, for both."""
    alice, bob = target.users("alice", "bob")
    first = alice.send_text("one", to=bob, need_read_receipt=True)
    second = alice.send_text("two", to=bob, need_read_receipt=True)

    bob.send_message_read_receipts([second])

    receipts = alice.get_message_read_receipts([first, second])
    assert [receipt.is_peer_read for receipt in receipts] == [True, True]


def test_what_matrix_cannot_express_is_not_applicable(target: Target) -> None:
    (alice,) = target.users("alice")
    with pytest.raises(NotApplicable) as raw:
        alice.call("getConversationList", {})
    with pytest.raises(NotApplicable) as settings:
        target.admin.get_settings()
    with pytest.raises(NotApplicable) as replay:
        alice.connect(since=0)

    assert (raw.value.capability, settings.value.capability, replay.value.capability) == (
        RAW_WIRE,
        ADMIN_SETTINGS,
        EVENT_REPLAY,
    )


def test_the_suite_runs_through_the_driver_and_the_target_page_agrees(
    synapse: ThrowawaySynapse, tmp_path: Path
) -> None:
    report_dir = tmp_path / "report"
    command = [
        sys.executable, "-m", "seenby.harness.cli", "run", "--driver", "matrix",
        "--target", synapse.url, "--admin-key", synapse.admin_key, "--timeout", "5",
        "--report-dir", str(report_dir), "-q",
        *CI_SELECTION,
    ]  # fmt: skip
    environment = {**os.environ, "SEENBY_DRIVER": "matrix"}
    finished = subprocess.run(command, capture_output=True, text=True, env=environment)
    summary = json.loads((report_dir / "conformance-summary.json").read_text(encoding="utf-8"))

    assert finished.returncode == 1, finished.stdout + finished.stderr  # Matrix is not V2TIM
    assert "not applicable through this driver" in finished.stdout
    counts = summary["counts"]
    assert counts["not-applicable"] > 0 and counts["pass"] > 0 and counts["fail"] > 0
    executed = counts["pass"] + counts["fail"] + counts["deviate"]
    assert executed >= 20, counts
    verdicts = {scenario["id"]: scenario["verdict"] for scenario in summary["scenarios"]}
    # What Synapse lacks never passes: receipts hidden from other members, batch atomicity.
    assert verdicts["RR-P-008"] == "fail"
    assert verdicts["RR-R-002"] == verdicts["RR-R-008"] == "fail"
    # The committed page says what this fresh run found, scenario by scenario.
    rows = {
        line.split(" | ")[0].lstrip("| "): line.split(" | ")
        for line in TARGET_PAGE.read_text(encoding="utf-8").splitlines()
        if line.startswith("| RR-")
    }
    fresh = {sid: verdict for sid, _, verdict, _ in page_rows(summary) if sid not in VARYING}
    assert {sid: rows[sid][2] if sid in rows else None for sid in fresh} == fresh
    # The ones that vary are on the page, said to vary, with the driver's reason below.
    page = TARGET_PAGE.read_text(encoding="utf-8")
    for sid, why in VARYING.items():
        assert rows[sid][3].startswith("*varies between runs*"), rows[sid]
        assert f"- **{sid}** {why}." in page


def test_the_load_workload_runs_through_the_driver_and_finds_what_matrix_does(
    synapse: ThrowawaySynapse, tmp_path: Path
) -> None:
    """``seenby load --driver matrix``: counts and member lists derived from m.read agree with
    what was acknowledged; every member is told of every read (Matrix's way), so the
    push-to-sender-only invariant breaks; when push-final breaks too, the sender was told less
    than it pulled, never more; push events carry no seq, so seq-gap-free is not checked, with
    that reason."""
    command = [
        str(Path(sys.executable).parent / "seenby"), "load", "--driver", "matrix",
        "--target", synapse.url, "--admin-key", synapse.admin_key,
        "--users", "6", "--group-size", "3", "--rounds", "2", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    summary = json.loads((tmp_path / "driver-load-summary.json").read_text(encoding="utf-8"))
    states = {rule["name"]: rule for rule in summary["verdict"]["invariants"]}

    assert finished.returncode == 1, finished.stdout + finished.stderr
    assert summary["implementation"].startswith("Synapse ")
    assert summary["receipts"] == 6 * 2 * 2 and summary["receiptPushMs"]["timed"] > 0
    broken = summary["verdict"]["broken"]
    assert "push-to-sender-only" in broken, finished.stdout
    # Sometimes a reader's m.read is overtaken by its next one before the sender's /sync: Matrix
    # then names only the later event, and the earlier message's sender is never told.
    assert set(broken) <= {"push-to-sender-only", "push-final"}, finished.stdout
    for breach in states["push-final"]["examples"]:
        told = [int(n) for n in re.findall(r"\d+", breach["seen"])]
        pulled = re.search(r"readCount (\d+)", breach["expected"])
        assert pulled is not None and max(told, default=0) < int(pulled.group(1)), breach
    for code in ("read-count", "read-plus-unread", "member-lists", "message-once"):
        assert states[code]["state"] == "holds", states[code]
    assert states["seq-gap-free"]["state"] == "not checked"
    assert "lacks capability 'eventReplay'" in states["seq-gap-free"]["notCheckedBecause"]


def test_seenby_synapse_starts_one_and_stops_it_by_its_pid(tmp_path: Path) -> None:
    data_dir = tmp_path / "synapse"
    seenby = [sys.executable, "-m", "seenby.harness.cli", "synapse"]
    started = subprocess.run(
        [*seenby, "start", "--dir", str(data_dir), "--venv", str(DEFAULT_VENV)],
        capture_output=True,
        text=True,
        check=True,
    )
    printed = dict(line.split("=", 1) for line in started.stdout.split())
    pid = int(printed["pid"])
    try:
        with open_target(printed["url"], printed["admin_key"], driver="matrix") as target:
            assert target.capabilities.implementation["version"] == printed["version"]
    finally:
        stopped = subprocess.run(
            [*seenby, "stop", "--dir", str(data_dir)], capture_output=True, text=True, check=True
        )
    assert stopped.stdout.strip() == "stopped"
    assert not (data_dir / "synapse.pid").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
