"""`bench.locust_run.render_section`: the performance section says what the run measured.

Only the rendering is tested here (from a hand-written summary); the run itself is the path
`tests/load/test_load_command.py` drives with one master and two workers.
"""

from __future__ import annotations

from typing import Any

from bench.locust_run import render_section


def summary(holds: bool) -> dict[str, Any]:
    row = {"requests": 10, "failures": 0, "requestsPerS": 2.5, "p50Ms": 5, "p95Ms": 9, "p99Ms": 12}
    return {
        "workers": 2, "users": 300, "durationS": 60.2, "messages": 1234, "receipts": 5678,
        "pushConnections": 400, "callsInDoubt": 3, "sustainedReceiptsPerS": 95.0,
        "receiptPushLatencyMs": {"p50": 40.0, "p95": 80.0, "p99": 120.0},
        "methods": [
            {"type": "POST", "name": "sendMessageReadReceipts", **row},
            {"type": "PUSH", "name": "onRecvMessageReadReceipts", **row, "p99Ms": 130},
        ],
        "verdict": {"holds": holds, "broken": [] if holds else ["push-monotonic"]},
    }  # fmt: skip


def test_the_section_gives_the_figures_the_verdict_and_the_cpu_shares() -> None:
    text = render_section(
        summary(True), "a CPU, 2 cores", "2026-12-01", (1.0, 2.0), {"server": 0.5}
    )
    assert text.startswith("## 7. Receipts under load")
    assert "**every invariant held** over 1,234 messages and 5,678 receipts" in text
    assert "| sustained receipts/s (median per second, after ramp-up) | 95 |" in text
    assert "40 / 80 / 120 ms" in text and "server 50%" in text
    assert "| POST sendMessageReadReceipts | 10 | 0 | 2.5 | 5 | 9 | 12 |" in text
    assert "| PUSH onRecvMessageReadReceipts | 10 | 0 | 2.5 | 5 | 9 | 130 |" in text


def test_a_broken_verdict_is_named_in_the_section() -> None:
    text = render_section(summary(False), "a CPU", "2026-12-01", (1.0, 2.0), {})
    assert "**BROKEN: push-monotonic**" in text
