"""``seenby load``'s figures: one percentile rule, latencies split from time offline, and no
latency figure while the load generator itself was saturated.

No server and no Locust: the timeline, the monitor and the report are plain code, fed here with
hand-made samples.
"""

from __future__ import annotations

import statistics
import time
from types import SimpleNamespace

import pytest

from bench import stats as bench_stats
from seenby.harness.load.monitor import TICK_S, GeneratorMonitor
from seenby.harness.load.report import (
    RunFigures,
    render_html,
    summary,
    terminal_lines,
)
from seenby.harness.load.stats import percentile
from seenby.harness.load.timeline import (
    CPU_LIMIT,
    LAG_LIMIT_MS,
    LOOP_LAG,
    OFFLINE,
    RECEIPT_PUSH,
    RECEIPT_PUSH_AFTER_RECONNECT,
    Timeline,
    call_series,
)
from seenby.harness.load.verdict import RULES, Invariant, Verdict

START = 1_800_000_000.0


def test_one_percentile_rule_interpolates_between_ranks_for_load_and_bench_alike() -> None:
    assert bench_stats.percentile is percentile
    samples = [4.0, 1.0, 3.0, 2.0]
    values = [percentile(samples, q) for q in (0.0, 0.5, 0.99, 1.0)]
    assert values == pytest.approx([1.0, 2.5, 3.97, 4.0])
    assert values[1] == statistics.quantiles(samples, n=4, method="inclusive")[1]
    with pytest.raises(ValueError, match="at least one sample"):
        percentile([], 0.5)


def healthy_timeline() -> Timeline:
    timeline = Timeline()
    for second in range(10):
        at = START + second
        timeline.add_receipts(at, 7)
        timeline.add_cpu_share(at, 0.1)
        for lag in (0.2, 0.4, 1.0):
            timeline.add(LOOP_LAG, at, lag)
        timeline.add(RECEIPT_PUSH, at, 1.0 + second / 10)
        timeline.add(call_series("sendMessageReadReceipts"), at, 2.0)
    timeline.add(RECEIPT_PUSH_AFTER_RECONNECT, START + 5, 700.0)
    timeline.add(OFFLINE, START + 5, 650.0)
    return timeline


def figures() -> RunFigures:
    return RunFigures(
        started=START, ramped=START + 1, stopped=START + 10, users=20, workers=0, ledgers=1,
        messages=30, receipts=70, connections=22, in_doubt=0,
        calls={"sendMessageReadReceipts": 10}, faults=0,
    )  # fmt: skip


def verdict() -> Verdict:
    invariants = {rule.code: Invariant(rule.code) for rule in RULES}
    invariants["read-count"].passed(3)
    return Verdict(invariants)


NO_LOCUST = SimpleNamespace(entries={})


def test_live_latency_is_reported_apart_from_pushes_that_waited_for_a_reconnect() -> None:
    data = summary(NO_LOCUST, verdict(), healthy_timeline(), figures(), "http://t")
    live = data["receiptPushLatencyMs"]
    assert live["samples"] == 10 and live["max"] == 1.9
    assert live["p50"] == pytest.approx(percentile([1.0 + s / 10 for s in range(10)], 0.5))
    assert data["receiptPushAfterReconnectMs"]["p50"] == 700.0
    assert data["offline"]["reconnects"] == 1 and data["offline"]["totalS"] == 0.7
    assert data["generator"]["saturated"] is None
    row = next(m for m in data["methods"] if m["name"] == "sendMessageReadReceipts")
    assert (row["requests"], row["p99Ms"]) == (10, 2.0)
    assert not any("WARNING" in line for line in terminal_lines(data))


def test_a_lagging_event_loop_refuses_every_latency_figure_and_says_so_everywhere() -> None:
    timeline = healthy_timeline()
    for second in range(2, 6):
        timeline.add(LOOP_LAG, START + second, LAG_LIMIT_MS * 4)
    reason = timeline.saturation(START + 1, START + 10)
    assert reason is not None and "event loop lagged" in reason
    data = summary(NO_LOCUST, verdict(), timeline, figures(), "http://t")
    assert data["generator"]["saturated"] == reason
    assert data["receiptPushLatencyMs"] == {"samples": 10, "notReported": reason}
    assert all(m["p99Ms"] is None for m in data["methods"])
    assert any(line.startswith("WARNING: the load generator was saturated") for line in
               terminal_lines(data))  # fmt: skip
    assert "WARNING: the load generator was saturated" in render_html(data, b"png")


def test_a_process_out_of_cpu_is_saturated_and_one_busy_second_is_not() -> None:
    timeline = healthy_timeline()
    timeline.add_cpu_share(START + 3, CPU_LIMIT + 0.05)
    assert timeline.saturation(START + 1, START + 10) is None
    timeline.add_cpu_share(START + 4, 1.0)
    assert "over 90% of a core for 2 s" in str(timeline.saturation(START + 1, START + 10))


def test_timelines_survive_json_and_merge_with_the_busiest_cpu_share() -> None:
    first, second = healthy_timeline(), Timeline()
    second.add_cpu_share(START + 2, 0.6)
    second.add(RECEIPT_PUSH, START + 2, 3.0)
    merged = Timeline.merge([Timeline.from_json(t.to_json()) for t in (first, second)])
    assert merged.cpu_share[int(START + 2)] == 0.6
    assert len(merged.values(RECEIPT_PUSH)) == 11
    assert merged.receipts == first.receipts


def test_refusals_are_listed_by_method_and_code_on_every_report() -> None:
    run = figures()
    run.refusals[("getMessageReadReceipts", 10062)] += 3
    data = summary(NO_LOCUST, verdict(), healthy_timeline(), run, "http://t")
    assert data["refusals"] == [{"method": "getMessageReadReceipts", "code": 10062, "count": 3}]
    assert "refused as the spec allows: getMessageReadReceipts code 10062 x 3" in terminal_lines(
        data
    )
    assert '<td><code>getMessageReadReceipts</code></td><td class="n">10062</td>' in render_html(
        data, b"png"
    )


def test_the_monitor_samples_its_event_loop_and_its_cpu() -> None:
    timeline = Timeline()
    monitor = GeneratorMonitor(timeline).start()
    time.sleep(12 * TICK_S)
    monitor.stop()
    lags = timeline.values(LOOP_LAG)
    assert len(lags) >= 5 and min(lags) >= 0.0
    assert timeline.cpu_share and all(0.0 <= s < 2.5 for s in timeline.cpu_share.values())
