"""The reports of a ``seenby load`` run: ``load-summary.json``, ``load-report.html`` and
``load-timeline.png`` (receipts per second and receipt-push latency over the run).

The JSON summary holds the run's figures, one row per protocol method (calls, refusals the spec
allows, failures, calls/s, p50/p95/p99/max; push latencies appear as type ``PUSH``), the
refusals by method and code, the time users spent offline, the load generator's own health and
the invariant verdict. Every percentile is computed from the raw samples with the one rule of
`seenby.harness.load.stats` (Locust's own tables round response times, so they are not used for
figures). A latency figure measured while the generator was saturated is not reported: the
summary, the page and the terminal say why instead. The HTML page shows the same, short, with
the plot inline; every piece of text goes through ``html.escape``. Locust's own full report is
``--html``.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from seenby.contract.vocabulary import (
    ON_RECV_MESSAGE_READ_RECEIPTS,
    ON_RECV_NEW_MESSAGE,
)

from .stats import percentile
from .timeline import (
    LOOP_LAG,
    MESSAGE_PUSH,
    MESSAGE_PUSH_AFTER_RECONNECT,
    OFFLINE,
    RECEIPT_PUSH,
    RECEIPT_PUSH_AFTER_RECONNECT,
    Timeline,
    call_series,
)
from .verdict import Verdict

__all__ = ["RunFigures", "latency_figure", "method_rows", "summary", "write_reports"]

SUMMARY_FILE = "load-summary.json"
HTML_FILE = "load-report.html"
PLOT_FILE = "load-timeline.png"


@dataclass(frozen=True)
class RunFigures:
    """The shape of one run (Unix times) and what it did."""

    started: float
    ramped: float
    """When every user had been spawned (start of the sustained window)."""
    stopped: float
    users: int
    workers: int
    ledgers: int
    """Ledgers merged for the verdict (one per worker, or the local one)."""
    messages: int
    receipts: int
    connections: int
    in_doubt: int
    calls: dict[str, int] = field(default_factory=dict)
    """Calls made by the workload, by method."""
    refusals: Counter[tuple[str, int]] = field(default_factory=Counter)
    """(method, code) → refusals the spec allows (the workload's and the verdict's pulls)."""
    faults: int = 0


METHODS = (
    "sendMessage",
    "sendMessageReadReceipts",
    "getMessageReadReceipts",
    "getGroupMessageReadMemberList",
    "markC2CMessageAsRead",
)
PUSHES = (
    (ON_RECV_MESSAGE_READ_RECEIPTS, RECEIPT_PUSH),
    (f"{ON_RECV_MESSAGE_READ_RECEIPTS} after a reconnect", RECEIPT_PUSH_AFTER_RECONNECT),
    (ON_RECV_NEW_MESSAGE, MESSAGE_PUSH),
    (f"{ON_RECV_NEW_MESSAGE} after a reconnect", MESSAGE_PUSH_AFTER_RECONNECT),
)


def _ms(value: float) -> float:
    return round(value, 2 if value < 10 else 1)


def latency_figure(samples: list[float], refused_because: str | None = None) -> dict[str, Any]:
    """p50 / p95 / p99 / max of ``samples`` (ms), or why they are not reported."""
    figure: dict[str, Any] = {"samples": len(samples)}
    if refused_because is not None:
        figure["notReported"] = refused_because
    elif samples:
        figure.update(
            {f"p{round(q * 100)}": _ms(percentile(samples, q)) for q in (0.50, 0.95, 0.99)}
        )
        figure["max"] = _ms(max(samples))
    return figure


def method_rows(
    stats: Any, timeline: Timeline, figures: RunFigures, saturated: str | None
) -> list[dict[str, Any]]:
    """One row per protocol method and push series: calls (or pushes), refusals, failures
    (Locust's count), calls/s and percentiles of the raw samples, busiest first."""
    seconds = max(figures.stopped - figures.started, 1e-9)
    refused: Counter[str] = Counter()
    for (method, _code), count in figures.refusals.items():
        refused[method] += count
    rows = []
    for method in METHODS:
        entry = stats.entries.get((method, "POST")) if stats is not None else None
        samples = timeline.values(call_series(method))
        calls = figures.calls.get(method, len(samples))
        rows.append(
            _row("POST", method, calls, refused[method], entry, samples, seconds, saturated)
        )
    for name, series in PUSHES:
        samples = timeline.values(series)
        rows.append(_row("PUSH", name, len(samples), 0, None, samples, seconds, saturated))
    return sorted((row for row in rows if row["requests"]), key=lambda row: -int(row["requests"]))


def _row(
    kind: str,
    name: str,
    count: int,
    refused: int,
    entry: Any,
    samples: list[float],
    seconds: float,
    saturated: str | None,
) -> dict[str, Any]:
    figure = latency_figure(samples, saturated)
    return {
        "type": kind,
        "name": name,
        "requests": count,
        "refused": refused,
        "failures": entry.num_failures if entry is not None else 0,
        "requestsPerS": round(count / seconds, 1),
        **{f"{key}Ms": figure.get(key) for key in ("p50", "p95", "p99", "max")},
    }


def summary(
    stats: Any, verdict: Verdict, timeline: Timeline, figures: RunFigures, target: str
) -> dict[str, Any]:
    """The JSON summary of one run."""
    window = max(figures.stopped - figures.ramped, 0.0)
    saturated = timeline.saturation(figures.ramped, figures.stopped)
    lags = timeline.values(LOOP_LAG, figures.ramped, figures.stopped)
    offline = timeline.values(OFFLINE)
    cpu = [
        share
        for second, share in timeline.cpu_share.items()
        if figures.ramped <= second <= figures.stopped
    ]
    return {
        "target": target,
        "users": figures.users,
        "workers": figures.workers,
        "ledgersMerged": figures.ledgers,
        "durationS": round(figures.stopped - figures.started, 1),
        "sustainedWindowS": round(window, 1),
        "messages": figures.messages,
        "receipts": figures.receipts,
        "pushConnections": figures.connections,
        "callsInDoubt": figures.in_doubt,
        "sustainedReceiptsPerS": timeline.sustained_receipts_per_s(figures.ramped, figures.stopped),
        "receiptPushLatencyMs": latency_figure(timeline.values(RECEIPT_PUSH), saturated),
        "receiptPushAfterReconnectMs": latency_figure(
            timeline.values(RECEIPT_PUSH_AFTER_RECONNECT), saturated
        ),
        "offline": {
            "reconnects": len(offline),
            "totalS": round(sum(offline) / 1000, 1),
            **latency_figure(offline),
        },
        "generator": {
            "saturated": saturated,
            "eventLoopLagMs": latency_figure(lags),
            "cpuShareMax": round(max(cpu), 2) if cpu else None,
        },
        "methods": method_rows(stats, timeline, figures, saturated),
        "refusals": [
            {"method": method, "code": code, "count": count}
            for (method, code), count in sorted(figures.refusals.items())
        ],
        "faults": figures.faults,
        "verdict": verdict.to_json(),
    }


def write_reports(
    folder: Path,
    stats: Any,
    verdict: Verdict,
    timeline: Timeline,
    figures: RunFigures,
    target: str,
) -> tuple[list[Path], dict[str, Any]]:
    """Write the summary, the plot and the HTML page into ``folder``; the paths written and
    the summary."""
    folder.mkdir(parents=True, exist_ok=True)
    data = summary(stats, verdict, timeline, figures, target)
    summary_path = folder / SUMMARY_FILE
    summary_path.write_text(json.dumps(data, indent=2) + "\n")
    plot_path = folder / PLOT_FILE
    plot_timeline(timeline, figures, plot_path)
    html_path = folder / HTML_FILE
    html_path.write_text(render_html(data, plot_path.read_bytes()))
    return [summary_path, html_path, plot_path], data


def terminal_lines(data: dict[str, Any]) -> list[str]:
    """The figures for the terminal: per-method percentiles, latencies, refusals, and the
    generator's saturation as a warning."""
    lines = [
        f"{'type':<5} {'name':<45} {'calls':>7} {'refused':>7} {'fail':>5} "
        f"{'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}  (ms)"
    ]
    for m in data["methods"]:
        cells = ("-" if m[k] is None else f"{m[k]:g}" for k in ("p50Ms", "p95Ms", "p99Ms", "maxMs"))
        lines.append(
            f"{m['type']:<5} {m['name']:<45} {m['requests']:>7} {m['refused']:>7} "
            f"{m['failures']:>5} " + " ".join(f"{c:>8}" for c in cells)
        )
    lines.append("receipt push latency, live: " + latency_text(data["receiptPushLatencyMs"]))
    lines.append(
        "receipt push after the sender reconnected: "
        + latency_text(data["receiptPushAfterReconnectMs"])
    )
    offline = data["offline"]
    lines.append(f"time offline: {offline['reconnects']} reconnects, {offline['totalS']} s in all")
    lag = data["generator"]["eventLoopLagMs"]
    lines.append(
        "load generator: event-loop lag "
        + latency_text(lag)
        + f", busiest CPU share {data['generator']['cpuShareMax']}"
    )
    for refusal in data["refusals"]:
        lines.append(
            f"refused as the spec allows: {refusal['method']} code {refusal['code']} "
            f"x {refusal['count']}"
        )
    warning = saturation_warning(data)
    if warning is not None:
        lines.append(f"WARNING: {warning}")
    return lines


def plot_timeline(timeline: Timeline, figures: RunFigures, path: Path) -> None:
    """Receipts per second (top) and push latency p50/p99 per second (bottom), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds = list(range(int(figures.started), int(figures.stopped) + 1))
    x = [s - figures.started for s in seconds]
    receipts = [timeline.receipts.get(s, 0) for s in seconds]
    per_second = timeline.samples.get(RECEIPT_PUSH, {})
    latencies = [per_second.get(s, []) for s in seconds]
    p50 = [percentile(v, 0.50) if v else float("nan") for v in latencies]
    p99 = [percentile(v, 0.99) if v else float("nan") for v in latencies]
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(9, 5.5))
    top.plot(x, receipts, color="#1f77b4")
    top.set_ylabel("receipts / s")
    top.axvline(figures.ramped - figures.started, color="#999", linestyle=":", label="all spawned")
    top.legend(loc="lower right")
    bottom.plot(x, p50, label="p50", color="#2ca02c")
    bottom.plot(x, p99, label="p99", color="#d62728")
    bottom.set_ylabel("live receipt push latency (ms)")
    bottom.set_xlabel("seconds since start")
    bottom.legend(loc="upper right")
    figure.suptitle(f"seenby load: {figures.users} users, {max(figures.workers, 1)} process(es)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 64rem;
       padding: 0 1rem; color: #1f2328; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { text-align: left; padding: .2rem .6rem; border-bottom: 1px solid #eaeef2; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #2e7d32; font-weight: 700; } .fail { color: #c62828; font-weight: 700; }
code { font-family: ui-monospace, monospace; font-size: .9em; }
"""


def latency_text(figure: dict[str, Any]) -> str:
    """``p50 / p95 / p99 / max ms (n samples)``, or why it is not reported."""
    if "notReported" in figure:
        return f"not reported: the load generator was saturated ({figure['notReported']})"
    if not figure["samples"]:
        return "no samples"
    return "{p50} / {p95} / {p99} / {max} ms ({samples} samples)".format(**figure)


def saturation_warning(data: dict[str, Any]) -> str | None:
    """The warning to show when the generator was saturated, else None."""
    reason = data["generator"]["saturated"]
    if reason is None:
        return None
    return (
        f"the load generator was saturated ({reason}): its latencies would be its own, so no "
        "latency figure is reported; run fewer users per process or more workers"
    )


_METHOD_COLUMNS = (
    "requests", "refused", "failures", "requestsPerS", "p50Ms", "p95Ms", "p99Ms", "maxMs"
)  # fmt: skip


def render_html(data: dict[str, Any], png: bytes) -> str:
    """A short self-contained page: verdict, figures, methods, refusals, invariants, plot."""
    verdict = data["verdict"]
    head = (
        f'<span class="fail">broken: {escape(", ".join(verdict["broken"]))}</span>'
        if verdict["broken"]
        else '<span class="ok">every invariant checked holds</span>'
    )
    if verdict["notChecked"]:
        head += escape(f" (not checked: {', '.join(verdict['notChecked'])})")
    warning = saturation_warning(data)
    if warning is not None:
        head += f'</p><p class="fail">WARNING: {escape(warning)}'
    generator = data["generator"]
    lag = generator["eventLoopLagMs"]
    offline = data["offline"]
    facts = [
        ("target", data["target"]),
        ("users / workers", f"{data['users']} / {data['workers'] or 'local'}"),
        ("duration", f"{data['durationS']} s (sustained window {data['sustainedWindowS']} s)"),
        ("messages / receipts", f"{data['messages']} / {data['receipts']}"),
        ("sustained receipts/s (median)", str(data["sustainedReceiptsPerS"])),
        (
            "receipt push latency, live, p50 / p95 / p99 / max",
            latency_text(data["receiptPushLatencyMs"]),
        ),
        (
            "receipt push after the sender reconnected (includes time offline)",
            latency_text(data["receiptPushAfterReconnectMs"]),
        ),
        (
            "time offline per reconnect p50 / p95 / p99 / max",
            latency_text(offline) + f", {offline['reconnects']} reconnects",
        ),
        (
            "load generator: event-loop lag p50 / p95 / p99 / max; busiest CPU share",
            latency_text(lag) + f"; {generator['cpuShareMax']}",
        ),
        (
            "push connections / calls in doubt / server faults",
            f"{data['pushConnections']} / {data['callsInDoubt']} / {data['faults']}",
        ),
    ]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts)
    methods = "".join(
        "<tr>"
        + f"<td>{escape(m['type'])}</td><td><code>{escape(m['name'])}</code></td>"
        + "".join(
            f'<td class="n">{escape(str("-" if m[key] is None else m[key]))}</td>'
            for key in _METHOD_COLUMNS
        )
        + "</tr>"
        for m in data["methods"]
    )
    refusals = (
        "".join(
            f"<tr><td><code>{escape(r['method'])}</code></td>"
            f'<td class="n">{r["code"]}</td><td class="n">{r["count"]}</td></tr>'
            for r in data["refusals"]
        )
        or '<tr><td colspan="3">none</td></tr>'
    )
    marks = {"holds": ("ok", "ok"), "broken": ("fail", "FAIL"), "not checked": ("", "not checked")}
    invariants = "".join(
        f'<tr><td class="{marks[i["state"]][0]}">{marks[i["state"]][1]}</td>'
        f"<td><code>{escape(i['name'])}</code></td><td>{escape(', '.join(i['behaviours']))}</td>"
        f"<td>{escape(i['description'])}</td>"
        f'<td class="n">{i["checked"]}</td><td class="n">{i["broken"]}</td><td>'
        + "<br>".join(
            escape(
                f"{e['message'] or '-'} / {e['user'] or '-'}: expected {e['expected']}, "
                f"saw {e['seen']}"
            )
            for e in i["examples"]
        )
        + "</td></tr>"
        for i in verdict["invariants"]
    )
    image = base64.b64encode(png).decode("ascii")
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>seenby load</title>"
        f"<style>{_STYLE}</style><h1>seenby load</h1><p>{head}</p>"
        f"<table>{rows}</table>"
        f'<img alt="receipts per second and push latency" src="data:image/png;base64,{image}">'
        "<h2>Methods</h2><table><tr><th>type</th><th>name</th><th>calls</th><th>refused</th>"
        "<th>failures</th><th>per s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th>"
        f"<th>max ms</th></tr>{methods}</table>"
        "<h2>Refusals the spec allows</h2><p>Whole calls refused, changing nothing, where the "
        "spec lets the target refuse instead of answering item by item: not server faults."
        f"</p><table><tr><th>method</th><th>code</th><th>count</th></tr>{refusals}</table>"
        "<h2>Invariants</h2><table><tr><th></th><th>name</th><th>behaviours</th><th>rule</th>"
        f"<th>checked</th><th>broken</th><th>examples</th></tr>{invariants}</table></html>\n"
    )
