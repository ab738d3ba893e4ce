"""Turning measurements into the terminal table, `docs/performance.md` and JSON.

`docs/performance.md` is generated whole by `python -m bench`; its closing section, the
investigations behind the figures (profiles, causes, fixes, before and after), is kept by hand
in `bench/findings.md` and copied in, so a new run never loses it. Each written run also leaves
its figures in `docs/performance.json`, and the next run shows them beside its own
(`Previous`), so every target is read against the figure it had before.

A table is a `Section`; a benchmark adds its tables in `_sections` and its targets in
`target_checks`.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.big_send import P99_TARGET_SECONDS as BIG_SEND_P99_TARGET_SECONDS
from bench.big_send import BigSendResults
from bench.push_latency import P99_TARGET_SECONDS, PushRow
from bench.scale import BYTES_PER_RECIPIENT_TARGET, FLATNESS_TARGET, PAGE_SIZE, ScaleResults
from bench.sizes import Sizes
from bench.stats import Figure
from bench.suite_time import PARALLEL_TARGET_SECONDS, SERIAL_TARGET_SECONDS, SuiteTime
from bench.throughput import ThroughputRow

FINDINGS = Path(__file__).with_name("findings.md")
COPIED_SECTIONS = tuple(
    Path(__file__).with_name(name)
    for name in (
        "locust.md",
        "load_latency.md",
        "flakiness.md",
        "suite-memory.md",
        "cluster.md",
        "matrix_load.md",
    )
)
"""Sections that longer runs of their own write (`python -m bench.locust_run`,
`bench.load_latency`, `bench.flakiness`, `bench.suite_memory`, `bench.cluster`,
`bench.matrix_load`), copied in as they are."""


@dataclass(frozen=True)
class Machine:
    """Where the figures were measured."""

    cpu: str
    cores: int
    memory_gib: float
    system: str
    python: str
    sqlite: str
    date: str

    @classmethod
    def this_one(cls) -> Machine:
        """Describe the running machine (Linux `/proc` for the CPU model and memory)."""
        return cls(
            cpu=_cpu_model(),
            cores=os.cpu_count() or 0,
            memory_gib=round(int(_proc_field("/proc/meminfo", "MemTotal").split()[0]) / 2**20, 1),
            system=f"{platform.system()} {platform.release()}",
            python=platform.python_version(),
            sqlite=sqlite3.sqlite_version,
            date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )


def _cpu_model() -> str:
    """The model name, with family/model/stepping (VMs often show only a generic name)."""
    name = _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown"
    numbers = [
        f"{field} {value}"
        for field in ("cpu family", "model", "stepping")
        if (value := _proc_field("/proc/cpuinfo", field))
    ]
    virtual = "hypervisor" in _proc_field("/proc/cpuinfo", "flags").split()
    details = ", ".join(numbers + (["virtual machine"] if virtual else []))
    return f"{name} ({details})" if details else name


def _proc_field(path: str, name: str) -> str:
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            key, _, value = line.partition(":")
            if key.strip() == name:
                return value.strip()
    return ""


@dataclass(frozen=True)
class Results:
    """One benchmark run: what was measured where, and how long the whole run took."""

    sizes: Sizes
    machine: Machine
    throughput: tuple[ThroughputRow, ...]
    push: tuple[PushRow, ...]
    scale: ScaleResults | None
    big_send: BigSendResults | None
    suite: SuiteTime | None
    wall_seconds: float

    def to_json(self) -> dict[str, Any]:
        """Plain data, for `--json`."""
        data = dataclasses.asdict(self)
        data["targets"] = [dataclasses.asdict(check) for check in target_checks(self)]
        return data


@dataclass(frozen=True)
class TargetCheck:
    """One target of the brief and whether the median figure meets it (``None``: a figure
    reported against a bound, not a target)."""

    name: str
    target: str
    measured: str
    met: bool | None


@dataclass(frozen=True)
class Previous:
    """The target figures of the last written run, to show beside this run's."""

    date: str
    measured: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> Previous | None:
        """The figures in a `--json` file (`docs/performance.json`), if there is one."""
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            date=data["machine"]["date"],
            measured={check["name"]: check["measured"] for check in data["targets"]},
        )


# -- formatting ----------------------------------------------------------------------------------


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _figure(figure: Figure, unit: str = "", scale: float = 1.0) -> str:
    """`median unit (low..high)`: the range shows how noisy the runs were."""
    shown = figure.scaled(scale)
    return f"{_number(shown.median)}{unit} ({_number(shown.low)}..{_number(shown.high)})"


def _ms(figure: Figure) -> str:
    return _figure(figure, " ms", 1e3)


def _ratio(figure: Figure) -> str:
    return f"{figure.median:.2f} ({figure.low:.2f}..{figure.high:.2f})"


def _markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    )


# -- the tables ----------------------------------------------------------------------------------


def _verdict(met: bool | None) -> str:
    return "—" if met is None else "met" if met else "MISSED"


def _throughput_goal(row: ThroughputRow) -> str:
    bound = f"fsync bounds it at {row.fsync_bound.median:.2f}"
    return f">= {row.target} ({bound})" if row.target is not None else f"none: {bound}"


def target_checks(results: Results) -> list[TargetCheck]:
    """Every target of the brief that this run measured."""
    checks = [
        TargetCheck(
            f"receipt throughput / no-op baseline, {row.readers} reader(s)",
            _throughput_goal(row),
            _ratio(row.ratio),
            row.meets_target if row.target is not None else None,
        )
        for row in results.throughput
    ]
    checks += [
        TargetCheck(
            f"push latency p99, {row.users:,} users connected",
            f"< {P99_TARGET_SECONDS * 1e3:.0f} ms",
            _ms(row.p99),
            row.meets_target,
        )
        for row in results.push
        if row.users == max(r.users for r in results.push)
    ]
    if results.scale is not None:
        largest = max(results.scale.rows[0].seconds_by_recipients)
        checks += [
            TargetCheck(
                f"{row.operation}: {largest:,} / {row.comparable_recipients:,} recipients",
                f"<= {FLATNESS_TARGET}",
                _ratio(row.largest_over_comparable),
                row.meets_target,
            )
            for row in results.scale.rows
        ]
        footprint = results.scale.footprint
        checks.append(
            TargetCheck(
                f"database bytes per recipient at {footprint.recipients:,} recipients",
                f"<= {BYTES_PER_RECIPIENT_TARGET} B",
                _figure(footprint.bytes_per_recipient, " B"),
                footprint.meets_target,
            )
        )
    if results.big_send is not None:
        big = results.big_send
        checks.append(
            TargetCheck(
                f"others' calls p99 during a send to {big.recipients:,} recipients",
                f"<= {BIG_SEND_P99_TARGET_SECONDS * 1e3:.0f} ms",
                _ms(big.busy_p99),
                big.meets_target,
            )
        )
    return checks


Section = tuple[str, str, list[str], list[list[str]]]
"""(title, explanation, headers, rows) of one table."""


def _targets_section(results: Results, previous: Previous | None) -> Section:
    checks = target_checks(results)
    explanation = (
        "Each target of the brief against the median of this run (range over runs). Member"
        " pages are compared with the smallest group whose list fills a page (section 3)."
    )
    if previous is None:
        return (
            "Targets",
            explanation,
            ["target", "goal", "measured", ""],
            [[c.name, c.target, c.measured, _verdict(c.met)] for c in checks],
        )
    return (
        "Targets",
        explanation + f" *Before* is the previous written run ({previous.date}).",
        ["target", "goal", "before", "measured", ""],
        [
            [c.name, c.target, previous.measured.get(c.name, "—"), c.measured, _verdict(c.met)]
            for c in checks
        ],
    )


def _sections(results: Results, previous: Previous | None = None) -> list[Section]:
    """Every measured table, the targets first."""
    sections = [_targets_section(results, previous)]
    if results.throughput:
        sections.append(
            (
                "1. Receipt throughput",
                "Receipts applied per second over keep-alive HTTP (one message per"
                " `sendMessageReadReceipts`, file database, WAL + `synchronous=FULL`), and the"
                " same requests against a no-op handler on the same `http.server` stack, run"
                " alternately. The ratio is the median of per-pair ratios. N readers share at most"
                " one `fsync` per N receipts, so the ratio cannot pass N x the no-op answer time"
                " over a durable commit's time (one-row WAL transactions timed beside each"
                " pair); with one reader that bound stands instead of a target.",
                [
                    "readers",
                    "receipts/run",
                    "reference server /s",
                    "no-op baseline /s",
                    "ratio",
                    "fsync bound (commit time)",
                ],
                [
                    [
                        str(row.readers),
                        f"{row.receipts_per_run:,}",
                        _figure(row.receipts_per_second),
                        _figure(row.baseline_per_second),
                        _ratio(row.ratio),
                        f"{_ratio(row.fsync_bound)} ({_ms(row.commit_seconds)})",
                    ]
                    for row in results.throughput
                ],
            )
        )
    if results.push:
        sections.append(
            (
                "2. Push latency",
                "From a reader's `sendMessageReadReceipts` returning to the sender's"
                " `onRecvMessageReadReceipts` frame arriving, with every user of one group"
                " holding a WebSocket open (negative: the push overtook the HTTP answer); and"
                " from the call being sent to the frame arriving.",
                ["users", "samples/run", "p50", "p99", "sent→push p50", "sent→push p99"],
                [
                    [
                        f"{row.users:,}",
                        str(row.samples_per_run),
                        _ms(row.p50),
                        _ms(row.p99),
                        _ms(row.sent_p50),
                        _ms(row.sent_p99),
                    ]
                    for row in results.push
                ],
            )
        )
    if results.scale is not None:
        scale = results.scale
        sizes = list(scale.rows[0].seconds_by_recipients)
        largest, smallest = sizes[-1], sizes[0]
        sections.append(
            (
                "3. Group scale",
                f"One call's time by number of recipients (member pages of {PAGE_SIZE}; half of"
                " each message's recipients have read it). Ratios are medians of per-round"
                f" ratios: to the smallest group, and to the smallest group whose list fills a"
                f" page as the {largest:,}-recipient one does (a page of a {smallest:,}-recipient"
                f" list holds at most {(smallest + 1) // 2} members), which isolates group size"
                " from page length; the target is judged on the second.",
                [
                    "operation",
                    *[f"{size:,} recipients" for size in sizes],
                    f"{largest:,} / {smallest:,}",
                    f"{largest:,} / comparable",
                ],
                [
                    [
                        row.operation,
                        *[_ms(row.seconds_by_recipients[size]) for size in sizes],
                        _ratio(row.largest_over_smallest),
                        f"{_ratio(row.largest_over_comparable)} vs {row.comparable_recipients:,}",
                    ]
                    for row in scale.rows
                ],
            )
        )
        sections.append(
            (
                "3b. Sending a needReadReceipt message (the recipient snapshot)",
                "One `sendMessage` call with `needReadReceipt: true` to each group.",
                ["recipients", "call", "per recipient"],
                [
                    [
                        f"{send.recipients:,}",
                        _ms(send.seconds),
                        _figure(send.seconds_per_recipient, " µs", 1e6),
                    ]
                    for send in scale.sends
                ],
            )
        )
        footprint = scale.footprint
        sections.append(
            (
                "4. Memory and disk",
                f"Database growth per recipient when sending to the {footprint.recipients:,}"
                " recipient group (WAL checkpointed into the file before and after), split by"
                " table and index with `dbstat`; resident memory of the server process.",
                ["measure", "value"],
                [
                    ["database bytes per recipient", _figure(footprint.bytes_per_recipient, " B")],
                    *[
                        [f"… of which `{name}`", f"{per_recipient:,.1f} B"]
                        for name, per_recipient in footprint.bytes_per_recipient_by_table.items()
                    ],
                    ["server RSS after start (database open)", f"{footprint.rss_start_kib:,} KiB"],
                    [
                        f"server RSS at {footprint.recipients:,} recipients (end of benchmark 3)",
                        f"{footprint.rss_kib:,} KiB",
                    ],
                    ["server peak RSS (VmHWM)", f"{footprint.peak_rss_kib:,} KiB"],
                    [
                        "in-process setup of the groups (unmeasured)",
                        f"{footprint.setup_seconds:.1f} s",
                    ],
                ],
            )
        )
    if results.big_send is not None:
        big = results.big_send
        sections.append(
            (
                "5. Other users' calls during a big send",
                f"{_READERS_TEXT} While the owner of a {big.recipients:,}-recipient group sends"
                " one needReadReceipt message to it (busy), and in a window of the same length"
                " without it (quiet), taken in turns; per run the percentiles of the calls sent"
                f" in the window ({_figure(big.calls_per_window)} calls during the send).",
                ["window", "p50", "p99", "slowest", "the big send"],
                [
                    [
                        "busy",
                        _ms(big.busy_p50),
                        _ms(big.busy_p99),
                        _ms(big.busy_max),
                        _ms(big.send_seconds),
                    ],
                    ["quiet", _ms(big.quiet_p50), _ms(big.quiet_p99), _ms(big.quiet_max), ""],
                ],
            )
        )
    if results.suite is not None:
        suite = results.suite
        verdicts = ", ".join(sorted(set(suite.verdicts)))
        sections.append(
            (
                "6. Conformance suite time",
                "`seenby run --quiet` against the bundled server, as a subprocess, serially and "
                "on two workers, the runs of the two modes interleaved. Absences are proved "
                "behind fences, not waited out.",
                ["mode", "runs", "wall time", "target", "verdicts"],
                [
                    ["serial", str(suite.seconds.runs), _figure(suite.seconds, " s"),
                     f"≤ {SERIAL_TARGET_SECONDS:g} s", verdicts],
                    ["-n 2", str(suite.parallel_seconds.runs),
                     _figure(suite.parallel_seconds, " s"),
                     f"≤ {PARALLEL_TARGET_SECONDS:g} s", verdicts],
                ],
            )
        )  # fmt: skip
    return sections


def render_text(results: Results) -> str:
    """The tables for the terminal."""
    parts = [
        f"seenby benchmarks, {results.sizes.name} sizes, {results.machine.date},"
        f" {results.wall_seconds:.0f} s"
    ]
    for title, _, headers, rows in _sections(results):
        parts.append(f"\n{title}\n{_text_table(headers, rows)}")
    return "\n".join(parts) + "\n"


_METHOD = """\
- Every figure is the **median over {runs} runs**; the range in brackets is the lowest and
  highest run, so the noise of the machine is visible.
- Every comparison is a **ratio of runs made side by side**: the no-op baseline and the
  reference server alternate (baseline first in even runs, subject first in odd runs), and the
  reported ratio is the median of the per-pair ratios. The baseline replays the same requests
  as many times as it is faster, so both runs of a pair last about as long. Group sizes take
  turns the same way.
- All traffic goes to 127.0.0.1. Load generators and push clients run in a separate Python
  process (`multiprocessing`, spawned), so the server's GIL is not shared with its client.
  HTTP clients are raw keep-alive sockets replaying pre-serialised requests (`bench/wire.py`),
  lighter than `http.client`.
- Throughput and push use an in-process server (`seenby.reference_server.start`) on a file database;
  group scale and memory use a server process (`python -m seenby.reference_server --port 0 --db …`).
  The 100,000-member groups are set up in-process through the server's own `ReceiptService`
  and `SqliteStorage` (users inserted in one transaction, the READ half of each list recorded
  with `record_receipt`); every measured call goes over HTTP.
- Every percentile, in every section (`seenby load`'s included), follows one rule: linear
  interpolation between the closest ranks (`seenby.harness.load.stats.percentile`).
- Nothing here is a pass/fail test; `tests/bench/test_bench_runs.py` only checks that the
  benchmark runs at tiny sizes and produces well-formed results.
"""


_READERS_TEXT = (
    "Four readers of a small group each send a receipt for a fresh message every 10 ms, and"
    " its sender pulls counts as often, from a separate process."
)


def render_markdown(results: Results, previous: Previous | None = None) -> str:
    """The whole of `docs/performance.md`, with the previous run's target figures if given."""
    machine = results.machine
    parts = [
        "# Performance",
        "",
        "<!-- Generated by `python -m bench`; edit bench/findings.md, not this file. -->",
        "",
        f"Measured {machine.date} with the **{results.sizes.name}** sizes; the whole benchmark"
        f" took {results.wall_seconds:.0f} s.",
        "",
        "## How to reproduce",
        "",
        "```sh",
        ".venv/bin/python -m bench           # full sizes (a few minutes); rewrites this file",
        ".venv/bin/python -m bench --quick   # CI sizes: smaller groups, no suite timing",
        ".venv/bin/python -m bench --tiny --no-write   # smoke test: runs everything, tiny",
        ".venv/bin/python -m bench --only scale --no-write   # one benchmark",
        "```",
        "",
        "`--json PATH` also writes the figures as JSON. Run it on an otherwise idle machine;"
        " the ranges show how much the machine disturbed a run.",
        "",
        "## Machine",
        "",
        _markdown_table(
            ["", ""],
            [
                ["CPU", f"{machine.cpu}, {machine.cores} cores"],
                ["memory", f"{machine.memory_gib} GiB"],
                ["system", machine.system],
                ["Python", machine.python],
                ["SQLite", machine.sqlite],
                ["date", machine.date],
            ],
        ),
        "",
        "## Method",
        "",
        _METHOD.format(runs=results.sizes.runs),
    ]
    for title, explanation, headers, rows in _sections(results, previous):
        parts += [f"## {title}", "", explanation, "", _markdown_table(headers, rows), ""]
    for section in COPIED_SECTIONS:
        if section.exists():
            parts += [section.read_text(encoding="utf-8").rstrip(), ""]
    if FINDINGS.exists():
        parts += [FINDINGS.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(parts)


def write_json(results: Results, path: Path) -> None:
    """Write `results.to_json()` to `path`."""
    path.write_text(json.dumps(results.to_json(), indent=2) + "\n", encoding="utf-8")
