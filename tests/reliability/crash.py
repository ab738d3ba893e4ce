"""Crash without loss: SIGKILL the server mid-load, restart it on the same file, lose nothing.

``python -m seenby.reference_server --db FILE`` runs as a child process. Workers drive the receipt
workload into it while every user holds a push connection; once a share of the calls has been
acknowledged the process is killed with SIGKILL, mid-call. After a restart on the same file:

- every call that had answered code 0 is there (messages in history, receipts counted), and each
  call whose answer was lost is there entirely or not at all;
- counts agree with the stored receipts (the member lists partition the recipient snapshot and
  have ``readCount`` / ``unreadCount`` members);
- every event pushed before the crash is in the replayed log with the same seq, the log runs
  1..n, and new events continue at n+1 (no seq is reused);
- after a clean stop, ``PRAGMA integrity_check`` on the file says ``ok``.

Run alone, full size: ``.venv/bin/python -m tests.reliability.crash --full``.
"""

from __future__ import annotations

import argparse
import random
import secrets
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seenby.harness.api.server_process import ServerProcess

from .sizes import CRASH_CI, CRASH_FULL, LoadSize
from .wire import EventStream, Wire
from .workload import (
    Plan,
    PlanLedger,
    PlannedMessage,
    Population,
    Workers,
    check_against_truth,
    make_plan,
    send_sentinels,
    wait_for_message,
)

CRASH_AT = 0.55
"""Kill the server once this share of the planned calls has been acknowledged."""
START_TIMEOUT_S = 30.0
RUN_TIMEOUT_S = 600.0


@dataclass
class CrashResult:
    """The figures of one crash run, and every discrepancy found."""

    users: int = 0
    planned_calls: int = 0
    acked_before_kill: int = 0
    in_flight_at_kill: int = 0
    in_flight_applied: int = 0
    messages: int = 0
    receipts: int = 0
    events_before_kill: int = 0
    events_after_restart: int = 0
    workload_s: float = 0.0
    total_s: float = 0.0
    integrity: str = ""
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One paragraph with the figures, for the test log and docs/reliability.md."""
        verdict = "no discrepancy" if not self.problems else f"{len(self.problems)} problems"
        return (
            f"crash: {self.users} users; SIGKILL after {self.acked_before_kill} of "
            f"{self.planned_calls} planned calls had been acknowledged "
            f"({self.workload_s:.1f} s into the load), {self.in_flight_at_kill} calls in flight"
            f" ({self.in_flight_applied} of them found applied, all atomically); after restart "
            f"{self.messages} acknowledged messages and {self.receipts} acknowledged receipts "
            f"all present; {self.events_before_kill} events pushed before the kill all replayed"
            f" with the same seq, {self.events_after_restart} events in the replayed logs; "
            f"integrity_check {self.integrity!r}; whole run {self.total_s:.1f} s; {verdict}"
        )


def run_crash(folder: Path, size: LoadSize, seed: int) -> CrashResult:
    """Load, SIGKILL, restart, check. ``folder`` receives the database and the server's log."""
    started = time.monotonic()
    rng = random.Random(seed)
    db, log, admin_key = folder / "crash.sqlite3", folder / "server.log", secrets.token_hex(16)
    result = CrashResult()
    server = ServerProcess(db, admin_key, log)
    wire = Wire(server.url)
    population = Population.create(wire, admin_key, size, rng)
    plan = make_plan(population, size, rng)
    ledger = PlanLedger(population, plan)
    streams = {
        user_id: EventStream(server.url, user.token, since=0)
        for user_id, user in population.users.items()
    }
    workers = Workers(server.url, population, ledger, size.workers, tolerate_breaks=True)
    workload_started = time.monotonic()
    workers.start(plan.tasks)
    if not ledger.wait_progress(int(len(plan.tasks) * CRASH_AT), RUN_TIMEOUT_S):
        result.problems.append("the load stalled before the crash point")
    server.kill()
    result.workload_s = time.monotonic() - workload_started
    workers.stop.set()
    workers.join(RUN_TIMEOUT_S)
    wire.close()
    result.problems.extend(ledger.errors)
    before = {user_id: stream.snapshot() for user_id, stream in streams.items()}
    for stream in streams.values():
        stream.close()

    server = ServerProcess(db, admin_key, log)
    wire = Wire(server.url)
    found_sends = _find_unacknowledged_sends(wire, population, plan, ledger, result.problems)
    for index, msg_id in found_sends.items():  # stored, so the send happened after all
        ledger.truth.acknowledge_send(plan.messages[index].text, msg_id)
    applied_reads = _check_in_flight_reads(wire, population, ledger, result.problems)
    sentinels = send_sentinels(wire, admin_key, ledger)
    feeds: dict[str, list[tuple[int, list[dict[str, Any]]]]] = {}
    for user_id, user in population.users.items():
        with EventStream(server.url, user.token, since=0) as replay:
            after = wait_for_message(replay, sentinels[user_id])
        result.events_after_restart += len(after)
        for frame in before[user_id]:
            if frame["seq"] > len(after) or after[frame["seq"] - 1] != frame:
                result.problems.append(
                    f"{user_id}: event seq {frame['seq']} pushed before the crash is not the "
                    f"same after the restart"
                )
        feeds[user_id] = [(0, after)]
    result.problems.extend(check_against_truth(server.url, ledger, feeds))
    wire.close()
    status = server.stop()
    if status != 0:
        result.problems.append(f"the restarted server exited {status} on SIGTERM")
    result.integrity = _integrity_check(db)
    if result.integrity != "ok":
        result.problems.append(f"PRAGMA integrity_check: {result.integrity}")

    result.users = len(population.users)
    result.planned_calls = len(plan.tasks)
    result.acked_before_kill = ledger.acked_calls
    result.in_flight_at_kill = len(ledger.unknown_sends) + len(ledger.unknown_reads)
    result.in_flight_applied = len(found_sends) + applied_reads
    result.messages = len(ledger.msg_ids)
    result.receipts = ledger.truth.receipts()
    result.events_before_kill = sum(len(frames) for frames in before.values())
    result.total_s = time.monotonic() - started
    return result


def _history(wire: Wire, token: str, conversation: dict[str, str]) -> list[dict[str, Any]]:
    """A whole conversation history, newest first, page by page."""
    messages: list[dict[str, Any]] = []
    body: dict[str, Any] = {**conversation, "count": 100}
    while True:
        page = wire.must("getHistoryMessageList", body, token)
        messages.extend(page)
        if len(page) < 100:
            return messages
        body["lastMsgID"] = page[-1]["msgID"]


def _find_unacknowledged_sends(
    wire: Wire, population: Population, plan: Plan, ledger: PlanLedger, problems: list[str]
) -> dict[int, str]:
    """Check every acknowledged message is in its history, and nothing but planned ones are.

    Returns the messages whose send was in flight and that the server had stored.
    """
    by_text = {m.text: m for m in plan.messages}
    conversations: dict[tuple[str, ...], PlannedMessage] = {}
    for message in plan.messages:
        members = (message.sender, *message.recipients)
        key = (message.group_id,) if message.group_id else tuple(sorted(members))
        conversations.setdefault(key, message)
    found: dict[int, str] = {}
    seen: set[str] = set()
    for message in conversations.values():
        viewer = message.sender
        where = (
            {"groupID": message.group_id}
            if message.group_id is not None
            else {"userID": message.receiver or ""}
        )
        for stored in _history(wire, population.users[viewer].token, where):
            planned = by_text.get(stored["elem"].get("text", ""))
            if planned is None:
                problems.append(f"history holds an unplanned message {stored['msgID']}")
            elif ledger.msg_ids.get(planned.index, stored["msgID"]) != stored["msgID"]:
                problems.append(
                    f"{planned.text} stored as {stored['msgID']}, acknowledged as "
                    f"{ledger.msg_ids[planned.index]}"
                )
            elif planned.index not in ledger.msg_ids:
                if planned.index in ledger.unknown_sends:
                    found[planned.index] = stored["msgID"]
                else:
                    problems.append(f"{planned.text} stored but never sent")
            seen.add(stored["msgID"])
    missing = [msg_id for msg_id in ledger.msg_ids.values() if msg_id not in seen]
    if missing:
        problems.append(f"{len(missing)} acknowledged messages missing, e.g. {missing[:3]}")
    return found


def _check_in_flight_reads(
    wire: Wire, population: Population, ledger: PlanLedger, problems: list[str]
) -> int:
    """Each receipt batch whose answer was lost is stored entirely or not at all [R-3].

    Returns how many of them were stored.
    """
    applied = 0
    for task in ledger.unknown_reads:
        stored: set[bool] = set()
        for message in task.messages:
            if (
                not message.need_read_receipt
                or task.reader not in message.recipients
                or task.reader in ledger.readers_of(message)
            ):
                continue
            stored.add(
                _has_read(wire, population, ledger.msg_ids[message.index], message, task.reader)
            )
        if len(stored) > 1:
            problems.append(f"in-flight receipt batch of {task.reader} was applied in part")
        applied += stored == {True}
    return applied


def _has_read(
    wire: Wire, population: Population, msg_id: str, message: PlannedMessage, reader: str
) -> bool:
    token = population.users[message.sender].token
    if message.group_id is None:
        (receipt,) = wire.must("getMessageReadReceipts", {"msgIDs": [msg_id]}, token)
        return bool(receipt["isPeerRead"])
    body = {"msgID": msg_id, "filter": 0, "nextSeq": 0, "count": 100}
    page = wire.must("getGroupMessageReadMemberList", body, token)
    return reader in {member["userID"] for member in page["memberInfoList"]}


def _integrity_check(db: Path) -> str:
    connection = sqlite3.connect(db)
    try:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
    finally:
        connection.close()
    return "; ".join(str(row[0]) for row in rows)


def main(argv: list[str] | None = None) -> int:
    """Run the crash scenario in a temporary folder and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.crash")
    parser.add_argument("--full", action="store_true", help="full size (default: CI size)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        result = run_crash(Path(folder), CRASH_FULL if args.full else CRASH_CI, args.seed)
    print(result.summary())
    for problem in result.problems[:50]:
        print("  " + problem)
    return 1 if result.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
