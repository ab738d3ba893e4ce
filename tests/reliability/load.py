"""Load without loss: hundreds of users, thousands of receipts, connections dropped and resumed.

Every user holds a push connection for the whole run; some hold two. While workers send messages
and receipts concurrently, push connections are closed or dropped and reopened with
``since`` = last seq seen. Afterwards every count must equal the ledger's ground truth, every
sender must have been pushed each receipt exactly once (live or replayed), no frame may repeat,
and each user's seq must run 1..n without a gap — also when replayed from the stored log.

Run alone, full size: ``.venv/bin/python -m tests.reliability.load --full``.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sizes import LOAD_CI, LOAD_FULL, LoadSize
from .wire import EventStream, Wire
from .workload import (
    Feed,
    Plan,
    PlanLedger,
    Population,
    Workers,
    check_against_truth,
    make_plan,
    send_sentinels,
    wait_for_message,
)

MARKS = 60
"""C2C conversations marked read after the receipts (each pushes one onRecvC2CReadReceipt)."""
RUN_TIMEOUT_S = 900.0


@dataclass
class LoadResult:
    """The figures of one load run, and every discrepancy found."""

    users: int = 0
    groups: int = 0
    messages: int = 0
    receipts: int = 0
    receipt_calls: int = 0
    calls: int = 0
    reconnects: int = 0
    twin_connections: int = 0
    marks: int = 0
    events: int = 0
    workload_s: float = 0.0
    total_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One paragraph with the figures, for the test log and docs/reliability.md."""
        verdict = "no discrepancy" if not self.problems else f"{len(self.problems)} problems"
        return (
            f"load: {self.users} users, {self.groups} groups, {self.messages} messages, "
            f"{self.receipts} receipts in {self.receipt_calls} receipt calls "
            f"({self.calls} calls in all), {self.reconnects} reconnects with since, "
            f"{self.twin_connections} users with two connections, {self.marks} conversation "
            f"marks, {self.events} events pushed; workload {self.workload_s:.1f} s, "
            f"whole run with checks {self.total_s:.1f} s; {verdict}"
        )


def run_load(base_url: str, admin_key: str, size: LoadSize, seed: int) -> LoadResult:
    """Drive ``size`` into the server at ``base_url`` and check it against the ground truth."""
    started = time.monotonic()
    rng = random.Random(seed)
    wire = Wire(base_url)
    result = LoadResult()
    population = Population.create(wire, admin_key, size, rng)
    plan = make_plan(population, size, rng)
    ledger = PlanLedger(population, plan)
    feeds = {user_id: Feed(base_url, user) for user_id, user in population.users.items()}
    twins = {
        user_id: EventStream(base_url, population.users[user_id].token, since=0)
        for user_id in rng.sample(sorted(population.users), size.twin_connections)
    }

    workers = Workers(base_url, population, ledger, size.workers)
    workload_started = time.monotonic()
    workers.start(plan.tasks)
    _reconnect_while_busy(feeds, ledger, len(plan.tasks), size.reconnects, rng)
    workers.join(RUN_TIMEOUT_S)
    result.workload_s = time.monotonic() - workload_started
    result.problems.extend(ledger.errors)

    marks = _mark_conversations(wire, population, plan, ledger, rng)
    sentinels = send_sentinels(wire, admin_key, ledger)

    logs: dict[str, list[dict[str, Any]]] = {}
    for user_id, feed in feeds.items():
        wait_for_message(feed.current, sentinels[user_id])
        logs[user_id] = feed.finish()
        result.problems.extend(feed.problems)
    for user_id, twin in twins.items():
        frames = wait_for_message(twin, sentinels[user_id])
        twin.close()
        if frames != logs[user_id]:
            result.problems.append(f"{user_id}: second connection saw a different feed")
    for user_id, log in logs.items():
        with EventStream(base_url, population.users[user_id].token, since=0) as replay:
            if wait_for_message(replay, sentinels[user_id]) != log:
                result.problems.append(f"{user_id}: replay from since=0 differs from live feed")
    feeds_seen = {user_id: feed.connections for user_id, feed in feeds.items()}
    result.problems.extend(check_against_truth(base_url, ledger, feeds_seen))
    result.problems.extend(_check_conversations(wire, population, plan, ledger, marks))

    result.users = len(population.users)
    result.groups = len(population.groups)
    result.messages = len(ledger.msg_ids)
    result.receipts = ledger.truth.receipts()
    result.receipt_calls = ledger.read_calls
    result.calls = ledger.acked_calls + len(marks) + len(sentinels)
    result.reconnects = sum(feed.reconnects for feed in feeds.values())
    result.twin_connections = len(twins)
    result.marks = len(marks)
    result.events = sum(len(log) for log in logs.values())
    result.total_s = time.monotonic() - started
    wire.close()
    return result


def _reconnect_while_busy(
    feeds: dict[str, Feed], ledger: PlanLedger, tasks: int, reconnects: int, rng: random.Random
) -> None:
    """Spread ``reconnects`` evenly over the run, half of them without a Close frame."""
    users = sorted(feeds)
    for number in range(1, reconnects + 1):
        if not ledger.wait_progress(number * tasks // (reconnects + 1), RUN_TIMEOUT_S):
            return
        feeds[rng.choice(users)].reconnect(abrupt=number % 2 == 0)


def _mark_conversations(
    wire: Wire, population: Population, plan: Plan, ledger: PlanLedger, rng: random.Random
) -> list[tuple[str, str]]:
    """Mark some C2C conversations read; every send is done, so each mark covers them all."""
    pairs = sorted(
        {
            (m.receiver, m.sender)
            for m in plan.messages
            if m.receiver is not None and m.index in ledger.msg_ids
        }
    )
    marks = rng.sample(pairs, min(MARKS, len(pairs)))
    for reader, peer in marks:
        ledger.truth.begin_mark(reader, peer)
        wire.must("markC2CMessageAsRead", {"userID": peer}, population.users[reader].token)
        ledger.truth.acknowledge_mark(reader, peer)
    return marks


def _check_conversations(
    wire: Wire,
    population: Population,
    plan: Plan,
    ledger: PlanLedger,
    marks: list[tuple[str, str]],
) -> list[str]:
    """Unread counts: messages received per conversation; 0 where marked; receipts change none."""
    expected: dict[str, Counter[str]] = defaultdict(Counter)
    for message in plan.messages:
        if message.index in ledger.msg_ids:
            for recipient in message.recipients:
                expected[recipient][message.conversation_of(recipient)] += 1
    for reader, peer in marks:
        expected[reader][f"c2c_{peer}"] = 0
    problems = []
    for user_id, user in population.users.items():
        listed = {
            entry["conversationID"]: entry["unreadCount"]
            for entry in wire.must("getConversationList", {}, user.token)
        }
        sentinel = [cid for cid in listed if cid.startswith("c2c_closer-")]
        if [listed.pop(cid) for cid in sentinel] != [1]:
            problems.append(f"{user_id}: sentinel conversation missing or not unread once")
        for conversation, count in expected[user_id].items():
            if listed.get(conversation) != count:
                problems.append(
                    f"{user_id}: {conversation} unread {listed.get(conversation)}, expected {count}"
                )
        surplus = {c: n for c, n in listed.items() if n and c not in expected[user_id]}
        if surplus:
            problems.append(f"{user_id}: unexpected unread conversations {surplus}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Run the load against a fresh bundled server (file database) and print the figures."""
    from seenby import reference_server

    parser = argparse.ArgumentParser(prog="python -m tests.reliability.load")
    parser.add_argument("--full", action="store_true", help="full size (default: CI size)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    size = LOAD_FULL if args.full else LOAD_CI
    with tempfile.TemporaryDirectory() as folder:
        server = reference_server.start(port=0, db=str(Path(folder) / "load.sqlite3"))
        try:
            result = run_load(server.url, server.admin_key, size, args.seed)
        finally:
            server.stop()
    print(result.summary())
    for problem in result.problems[:50]:
        print("  " + problem)
    return 1 if result.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
