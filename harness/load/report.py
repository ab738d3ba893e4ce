"""The reports of a ``seenby load`` run: ``load-summary.json``, ``load-report.html`` and
``load-timeline.png`` (receipts per second and receipt-push latency over the run).

The JSON summary holds the run's figures, Locust's statistics per protocol method (requests/s,
p50/p95/p99, failures; push latencies appear as type ``PUSH``) and the invariant verdict. The
HTML page shows the same, short, with the plot inline; every piece of text goes through
``html.escape``. Locust's own full report is ``--html``.
"""

from __future__ import annotations

import base64
import json
import statistics
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from .timeline import Timeline
from .verdict import Verdict

__all__ = ["RunFigures", "method_rows", "summary", "write_reports"]

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


def method_rows(stats: Any) -> list[dict[str, Any]]:
    """One row per Locust statistics entry (``locust.stats.RequestStats``), busiest first."""
    rows = []
    for entry in sorted(stats.entries.values(), key=lambda e: -e.num_requests):
        rows.append(
            {
                "type": entry.method,
                "name": entry.name,
                "requests": entry.num_requests,
                "failures": entry.num_failures,
                "requestsPerS": round(entry.total_rps, 1),
                "p50Ms": entry.get_response_time_percentile(0.50),
                "p95Ms": entry.get_response_time_percentile(0.95),
                "p99Ms": entry.get_response_time_percentile(0.99),
                "maxMs": round(entry.max_response_time or 0, 1),
            }
        )
    return rows


def summary(
    stats: Any, verdict: Verdict, timeline: Timeline, figures: RunFigures, target: str
) -> dict[str, Any]:
    """The JSON summary of one run."""
    window = max(figures.stopped - figures.ramped, 0.0)
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
        "receiptPushLatencyMs": {
            "p50": round(timeline.latency_percentile(0.50), 1),
            "p95": round(timeline.latency_percentile(0.95), 1),
            "p99": round(timeline.latency_percentile(0.99), 1),
        },
        "methods": method_rows(stats),
        "verdict": verdict.to_json(),
    }


def write_reports(
    folder: Path,
    stats: Any,
    verdict: Verdict,
    timeline: Timeline,
    figures: RunFigures,
    target: str,
) -> list[Path]:
    """Write the summary, the plot and the HTML page into ``folder``; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    data = summary(stats, verdict, timeline, figures, target)
    summary_path = folder / SUMMARY_FILE
    summary_path.write_text(json.dumps(data, indent=2) + "\n")
    plot_path = folder / PLOT_FILE
    plot_timeline(timeline, figures, plot_path)
    html_path = folder / HTML_FILE
    html_path.write_text(render_html(data, plot_path.read_bytes()))
    return [summary_path, html_path, plot_path]


def plot_timeline(timeline: Timeline, figures: RunFigures, path: Path) -> None:
    """Receipts per second (top) and push latency p50/p99 per second (bottom), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds = list(range(int(figures.started), int(figures.stopped) + 1))
    x = [s - figures.started for s in seconds]
    receipts = [timeline.receipts.get(s, 0) for s in seconds]
    latencies = [timeline.push_latency_ms.get(s, []) for s in seconds]
    p50 = [statistics.median(v) if v else float("nan") for v in latencies]
    p99 = [sorted(v)[min(len(v) - 1, int(0.99 * len(v)))] if v else float("nan") for v in latencies]
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(9, 5.5))
    top.plot(x, receipts, color="#1f77b4")
    top.set_ylabel("receipts / s")
    top.axvline(figures.ramped - figures.started, color="#999", linestyle=":", label="all spawned")
    top.legend(loc="lower right")
    bottom.plot(x, p50, label="p50", color="#2ca02c")
    bottom.plot(x, p99, label="p99", color="#d62728")
    bottom.set_ylabel("receipt push latency (ms)")
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


def render_html(data: dict[str, Any], png: bytes) -> str:
    """A short self-contained page: verdict, figures, methods, invariants, plot."""
    verdict = data["verdict"]
    head = (
        '<span class="ok">every invariant holds</span>'
        if verdict["holds"]
        else f'<span class="fail">broken: {escape(", ".join(verdict["broken"]))}</span>'
    )
    facts = [
        ("target", data["target"]),
        ("users / workers", f"{data['users']} / {data['workers'] or 'local'}"),
        ("duration", f"{data['durationS']} s (sustained window {data['sustainedWindowS']} s)"),
        ("messages / receipts", f"{data['messages']} / {data['receipts']}"),
        ("sustained receipts/s (median)", str(data["sustainedReceiptsPerS"])),
        (
            "receipt push latency p50 / p95 / p99",
            "{p50} / {p95} / {p99} ms".format(**data["receiptPushLatencyMs"]),
        ),
        (
            "push connections / calls in doubt",
            f"{data['pushConnections']} / {data['callsInDoubt']}",
        ),
    ]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts)
    methods = "".join(
        "<tr>"
        + f"<td>{escape(m['type'])}</td><td><code>{escape(m['name'])}</code></td>"
        + "".join(
            f'<td class="n">{m[key]}</td>'
            for key in ("requests", "failures", "requestsPerS", "p50Ms", "p95Ms", "p99Ms")
        )
        + "</tr>"
        for m in data["methods"]
    )
    invariants = "".join(
        f'<tr><td class="{"ok" if i["holds"] else "fail"}">{"ok" if i["holds"] else "FAIL"}</td>'
        f"<td><code>{escape(i['name'])}</code></td><td>{escape(i['description'])}</td>"
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
        "<h2>Methods</h2><table><tr><th>type</th><th>name</th><th>requests</th><th>failures</th>"
        f"<th>req/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr>{methods}</table>"
        "<h2>Invariants</h2><table><tr><th></th><th>name</th><th>rule</th><th>checked</th>"
        f"<th>broken</th><th>examples</th></tr>{invariants}</table></html>\n"
    )
