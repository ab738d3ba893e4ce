"""`bench.locust_run.render_section`: the performance section says what the run measured.

Only the rendering is tested here (from a hand-written summary); the run itself is the path
`tests/load/test_load_command.py` drives with one master and two workers.
"""

from __future__ import annotations

from typing import Any

from bench.locust_run import render_section


def summary(holds: bool, saturated: str | None = None) -> dict[str, Any]:
    row = {
        "requests": 10,
        "refused": 0,
        "failures": 0,
        "requestsPerS": 2.5,
        "p50Ms": 5,
        "p95Ms": 9,
        "p99Ms": 12,
        "maxMs": 14,
    }
    latency: dict[str, Any] = {"samples": 900, "p50": 4.0, "p95": 8.0, "p99": 12.0, "max": 30.0}
    if saturated:
        latency = {"samples": 900, "notReported": saturated}
    return {
        "workers": 2, "users": 300, "durationS": 60.2, "messages": 1234, "receipts": 5678,
        "pushConnections": 400, "callsInDoubt": 3, "faults": 0, "sustainedReceiptsPerS": 95.0,
        "receiptPushLatencyMs": latency,
        "receiptPushAfterReconnectMs": {"samples": 20, "p50": 600.0, "p95": 900.0,
                                        "p99": 990.0, "max": 1000.0},
        "offline": {"reconnects": 25, "totalS": 14.0, "samples": 25, "p50": 550.0,
                    "p95": 950.0, "p99": 990.0, "max": 1000.0},
        "generator": {"saturated": saturated, "cpuShareMax": 0.3,
                      "eventLoopLagMs": {"samples": 600, "p50": 0.5, "p95": 2.0, "p99": 4.0,
                                         "max": 9.0}},
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
    assert "4 / 8 / 12 / 30 ms (900 pushes)" in text and "server 50%" in text
    assert "600 / 900 / 990 / 1000 ms (20 pushes)" in text and "25 reconnects" in text
    assert "| POST | sendMessageReadReceipts | 10 | 0 | 0 | 2.5 | 5 | 9 | 12 | 14 |" in text
    assert "| PUSH | onRecvMessageReadReceipts | 10 | 0 | 0 | 2.5 | 5 | 9 | 130 | 14 |" in text
    assert "saturated" not in text


def test_a_saturated_generator_gives_no_latency_and_says_why() -> None:
    text = render_section(
        summary(True, "its event loop lagged 40 ms at p99"), "a CPU", "2026-12-01", (1.0, 2.0), {}
    )
    assert "not reported: its event loop lagged 40 ms at p99" in text
    assert "**The load generator reported itself saturated" in text


def test_a_broken_verdict_is_named_in_the_section() -> None:
    text = render_section(summary(False), "a CPU", "2026-12-01", (1.0, 2.0), {})
    assert "**BROKEN: push-monotonic**" in text
