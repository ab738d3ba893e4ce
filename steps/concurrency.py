"""Steps for races [P-3, R-5]: many callers released together by a barrier, in rounds, until a
count is wrong or the bound is reached (``harness.api.races``).

Each round is a new message of the sender's, read at one moment by every other member (a lost
update shows as a read count below the number of readers), or by one reader from several
devices at once (a racy duplicate check shows as a count above one). The count is pulled after
the round; the push is P-3's own scenarios'. The bound is in rounds and in time budgets.
"""

from __future__ import annotations

from functools import partial

import pytest

from seenby.harness.api.races import RaceOutcome, release_together, repeat_until_wrong
from seenby.steps.phrases import then, when
from seenby.steps.world import World

RACE_BUDGETS = 3
"""A repetition may take this many time budgets in all."""


@pytest.fixture
def race() -> list[RaceOutcome]:
    """The scenario's repetitions, in order."""
    return []


def _read_together(
    world: World, sender: str, readers: list[str], expected: int, messages: int = 1
) -> str | None:
    """One round: ``messages`` new messages of ``sender``'s, each receipted by every one of
    ``readers`` at one moment (a reader named twice reads from two devices); what was wrong
    with a read count, if anything."""
    sent = [world.send(sender, need_receipt=True) for _ in range(messages)]
    clients = [world.user(name) for name in readers]
    calls = [
        partial(client.send_message_read_receipts, [message.msg_id])
        for message in sent
        for client in clients
    ]
    release_together(calls, world.burst_timeout)
    released = f"{len(readers)} receipts released together by {', '.join(dict.fromkeys(readers))}"
    try:
        receipts = world.pull(sender, [message.msg_id for message in sent])
    except AssertionError as error:  # counts so wrong the receipt breaks its schema
        return f"after {released} for each message, the pull failed: {error}"
    wrong = [receipt for receipt in receipts if receipt.read_count != expected]
    if not wrong:
        return None
    return "; ".join(
        f"{receipt.msg_id}: readCount {receipt.read_count} (unreadCount {receipt.unread_count}) "
        f"after {released}, expected {expected}"
        for receipt in wrong
    )


@when(
    "the other members each read a new message of {sender:name}'s at the same moment, round "
    "after round, until a count is wrong or {rounds:int} rounds have passed"
)
def members_race(world: World, race: list[RaceOutcome], sender: str, rounds: int) -> None:
    readers = world.others_in_group()
    race.append(
        repeat_until_wrong(
            lambda _: _read_together(world, sender, readers, len(readers)),
            max_rounds=rounds,
            max_seconds=RACE_BUDGETS * world.timeout,
        )
    )


@when(
    "{reader:name} reads {messages:int} new messages of {sender:name}'s, each from {devices:int} "
    "devices at the same moment, round after round, until a count is wrong or {rounds:int} "
    "rounds have passed"
)
def devices_race(
    world: World,
    race: list[RaceOutcome],
    reader: str,
    messages: int,
    sender: str,
    devices: int,
    rounds: int,
) -> None:
    race.append(
        repeat_until_wrong(
            lambda _: _read_together(world, sender, [reader] * devices, 1, messages),
            max_rounds=rounds,
            max_seconds=RACE_BUDGETS * world.timeout,
        )
    )


@then("every round's read count was exact")
def every_round_exact(race: list[RaceOutcome]) -> None:
    (outcome,) = race
    assert outcome.wrong is None, (
        f"round {outcome.rounds} of the race ({outcome.seconds:.1f} s in): {outcome.wrong}"
    )
