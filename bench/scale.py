"""Benchmarks 3 and 4: group size against call cost, and what recipients cost in disk and memory.

Setup (unmeasured, in-process, see `population.populate_large_groups`): one group per size with
a needReadReceipt probe message half of whose recipients have read it. Then a reference server
*process* opens the database file, and every measured call goes over HTTP from this process.

In each round every operation is called `calls_per_point` times per size, the sizes taking
turns call by call (their order rotates between rounds); a round's value is the median of its
calls, and a flatness figure is the median over rounds of that round's ratio between sizes.
Operations: `getMessageReadReceipts` of the probe, and the first, middle and last page (100
members) of its READ and UNREAD lists, with cursors found by walking each list once beforehand.
Each round also sends one needReadReceipt message to every group, timing the call: that is the
recipient snapshot, reported per recipient.

Disk: around each send to the largest group, the WAL is checkpointed into the database file and
the file's growth divided by the recipients is the cost per recipient row (with `dbstat`'s
per-table split). Memory: the server process's VmRSS / VmHWM at the end, with the largest
group's messages served.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.population import LargeGroup, LargePopulation, populate_large_groups
from bench.sizes import Sizes
from bench.stats import Figure
from bench.wire import KeepAliveConnection
from seenby.harness.api.server_process import ServerProcess

FLATNESS_TARGET = 1.5
BYTES_PER_RECIPIENT_TARGET = 200
PAGE_SIZE = 100
_READ, _UNREAD = 0, 1


@dataclass(frozen=True)
class ScaleRow:
    """One operation's cost at each group size, and how the largest size compares.

    `largest_over_smallest` is the ratio the brief names. A member page of a 10-recipient
    message holds 5 members, not 100, so for pages it also mixes in the cost of 95 more
    entries; `largest_over_comparable` compares with the smallest group whose list fills a
    page as the largest's does (for the receipts pull, the smallest group), so it isolates
    the effect of group size. The target is judged on the latter.
    """

    operation: str
    seconds_by_recipients: dict[int, Figure]
    largest_over_smallest: Figure
    comparable_recipients: int
    largest_over_comparable: Figure

    @property
    def meets_target(self) -> bool:
        """Whether the median ratio to the comparable size is at most `FLATNESS_TARGET`."""
        return self.largest_over_comparable.median <= FLATNESS_TARGET


@dataclass(frozen=True)
class SendCost:
    """Sending one needReadReceipt message to a group (its recipient snapshot)."""

    recipients: int
    seconds: Figure
    seconds_per_recipient: Figure


@dataclass(frozen=True)
class Footprint:
    """Disk per recipient and the server's memory with the largest group."""

    recipients: int
    bytes_per_recipient: Figure
    bytes_per_recipient_by_table: dict[str, float]
    rss_start_kib: int
    rss_kib: int
    peak_rss_kib: int
    setup_seconds: float

    @property
    def meets_target(self) -> bool:
        """Whether the median growth per recipient is at most `BYTES_PER_RECIPIENT_TARGET`."""
        return self.bytes_per_recipient.median <= BYTES_PER_RECIPIENT_TARGET


@dataclass(frozen=True)
class ScaleResults:
    """Everything benchmarks 3 and 4 measured."""

    rows: tuple[ScaleRow, ...]
    sends: tuple[SendCost, ...]
    footprint: Footprint


@dataclass(frozen=True)
class _Operation:
    """A measured call: the receipts pull (no list) or one page of a list at chosen cursors."""

    name: str
    member_filter: int | None = None
    cursor_by_recipients: dict[int, int] = dataclasses.field(default_factory=dict)

    def page_fill(self, group: LargeGroup) -> int:
        """Members a full page of this list holds for `group` (0 for the receipts pull)."""
        if self.member_filter is None:
            return 0
        listed = group.read if self.member_filter == _READ else group.unread
        return min(PAGE_SIZE, listed)

    def request(self, group: LargeGroup) -> tuple[str, dict[str, Any]]:
        """(method, body) of this call for `group`'s probe message."""
        if self.member_filter is None:
            return "getMessageReadReceipts", {"msgIDs": [group.probe_msg_id]}
        return "getGroupMessageReadMemberList", {
            "msgID": group.probe_msg_id,
            "filter": self.member_filter,
            "nextSeq": self.cursor_by_recipients[group.recipients],
            "count": PAGE_SIZE,
        }


def _walk_cursors(
    connection: KeepAliveConnection, token: str, msg_id: str, member_filter: int
) -> list[int]:
    """The `nextSeq` that starts each page of one list, first to last."""
    cursors = [0]
    while True:
        page = connection.call(
            "getGroupMessageReadMemberList",
            {"msgID": msg_id, "filter": member_filter, "nextSeq": cursors[-1], "count": PAGE_SIZE},
            token,
        )
        if page["isFinished"]:
            return cursors
        cursors.append(page["nextSeq"])


def _operations(connection: KeepAliveConnection, population: LargePopulation) -> list[_Operation]:
    operations = [_Operation("getMessageReadReceipts")]
    for member_filter, list_name in ((_READ, "READ"), (_UNREAD, "UNREAD")):
        walks = {
            group.recipients: _walk_cursors(
                connection, population.sender_token, group.probe_msg_id, member_filter
            )
            for group in population.groups
        }
        for place in ("first", "middle", "last"):
            operations.append(
                _Operation(
                    f"{list_name} list, {place} page",
                    member_filter,
                    {size: _page_cursor(walk, place) for size, walk in walks.items()},
                )
            )
    return operations


def _page_cursor(walk: list[int], place: str) -> int:
    return {"first": walk[0], "middle": walk[len(walk) // 2], "last": walk[-1]}[place]


def _timed_call(connection: KeepAliveConnection, method: str, body: Any, token: str) -> float:
    started = time.perf_counter()
    connection.call(method, body, token)
    return time.perf_counter() - started


def _send_snapshot(connection: KeepAliveConnection, group: LargeGroup, token: str) -> float:
    return _timed_call(
        connection,
        "sendMessage",
        {
            "groupID": group.group_id,
            "elem": {"elemType": "text", "text": "snapshot probe"},
            "needReadReceipt": True,
        },
        token,
    )


def _median(values: list[float]) -> float:
    return Figure.of(values).median


def _table_bytes(db_path: Path) -> tuple[int, dict[str, int]]:
    """Checkpoint the WAL into the file; return the file size and bytes used per table/index."""
    with closing(sqlite3.connect(db_path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        by_table = dict(db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
    return db_path.stat().st_size, by_table


def _scale_row(
    operation: _Operation,
    groups: tuple[LargeGroup, ...],
    per_round: dict[tuple[str, int], list[float]],
) -> ScaleRow:
    largest = groups[-1]
    comparable = next(g for g in groups if operation.page_fill(g) >= operation.page_fill(largest))

    def ratio_to(group: LargeGroup) -> Figure:
        return Figure.of(
            [
                big / small
                for big, small in zip(
                    per_round[(operation.name, largest.recipients)],
                    per_round[(operation.name, group.recipients)],
                    strict=True,
                )
            ]
        )

    return ScaleRow(
        operation=operation.name,
        seconds_by_recipients={
            group.recipients: Figure.of(per_round[(operation.name, group.recipients)])
            for group in groups
        },
        largest_over_smallest=ratio_to(groups[0]),
        comparable_recipients=comparable.recipients,
        largest_over_comparable=ratio_to(comparable),
    )


def measure_scale(sizes: Sizes, workdir: Path) -> ScaleResults:
    """Run benchmarks 3 and 4 over `sizes.group_recipients`."""
    db_path = workdir / "scale.sqlite3"
    started = time.perf_counter()
    population = populate_large_groups(str(db_path), sizes.group_recipients)
    setup_seconds = time.perf_counter() - started
    largest = population.groups[-1]
    token = population.sender_token
    per_round: dict[tuple[str, int], list[float]] = {}
    send_seconds: dict[int, list[float]] = {group.recipients: [] for group in population.groups}
    disk_per_recipient: list[float] = []
    table_growth: dict[str, int] = {}
    with (
        ServerProcess(str(db_path), population.admin_key) as server,
        KeepAliveConnection(server.host, server.port) as connection,
    ):
        rss_start = server.memory_kib()["VmRSS"]
        operations = _operations(connection, population)
        for round_index in range(sizes.runs):
            shift = round_index % len(population.groups)
            groups = population.groups[shift:] + population.groups[:shift]
            for operation in operations:
                # Sizes alternate call by call, so a burst of noise hits them all alike.
                calls: dict[int, list[float]] = {group.recipients: [] for group in groups}
                for _ in range(sizes.calls_per_point):
                    for group in groups:
                        calls[group.recipients].append(
                            _timed_call(connection, *operation.request(group), token)
                        )
                for recipients, seconds in calls.items():
                    per_round.setdefault((operation.name, recipients), []).append(_median(seconds))
            for group in groups:
                before = _table_bytes(db_path) if group is largest else None
                send_seconds[group.recipients].append(_send_snapshot(connection, group, token))
                if before is not None:
                    after = _table_bytes(db_path)
                    disk_per_recipient.append((after[0] - before[0]) / group.recipients)
                    for name, used in after[1].items():
                        growth = used - before[1].get(name, 0)
                        table_growth[name] = table_growth.get(name, 0) + growth
        memory = server.memory_kib()
    rows = tuple(_scale_row(operation, population.groups, per_round) for operation in operations)
    sends = tuple(
        SendCost(
            recipients=size,
            seconds=Figure.of(seconds),
            seconds_per_recipient=Figure.of([s / size for s in seconds]),
        )
        for size, seconds in send_seconds.items()
    )
    sends_to_largest = len(disk_per_recipient)
    footprint = Footprint(
        recipients=largest.recipients,
        bytes_per_recipient=Figure.of(disk_per_recipient),
        bytes_per_recipient_by_table={
            name: growth / (sends_to_largest * largest.recipients)
            for name, growth in sorted(table_growth.items(), key=lambda item: -item[1])
            if growth > 0
        },
        rss_start_kib=rss_start,
        rss_kib=memory["VmRSS"],
        peak_rss_kib=memory["VmHWM"],
        setup_seconds=setup_seconds,
    )
    return ScaleResults(rows, sends, footprint)
