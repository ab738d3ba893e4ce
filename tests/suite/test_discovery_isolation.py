"""Fault isolation of discovery: one bad or missing field of ``GET /v1/capabilities``
fails the discovery scenario alone, is reported once at the top of the run, and every other
scenario still runs, on the spec's defaults for a missing limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from suite_runs import load_summary, seenby

from seenby.reference_server.domain import ReceiptService
from seenby.reference_server.values import Capabilities, JsonObject
from tests.mutants.gallery import Variant

SCENARIOS = ("RR-V-001", "RR-R-001", "RR-R-002", "RR-L-001")
"""Discovery, then scenarios that read the batch and page limits from the capabilities."""


class _Broken(Capabilities):
    def to_json(self) -> JsonObject:
        payload = dict(super().to_json())
        payload["features"] = "everything"  # a core break: features is a list of names
        del payload["implementation"]
        limits = dict(payload["limits"])  # type: ignore[arg-type]
        del limits["receiptBatchMax"]
        payload["limits"] = limits
        return payload


class BrokenDiscovery(ReceiptService):
    """Answers a capabilities payload whose features are not a list, without implementation
    and without receiptBatchMax."""

    def capabilities(self) -> Capabilities:
        return _Broken(super().capabilities().settings)


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    reports = tmp_path_factory.mktemp("reports")
    variant = Variant("broken-discovery", (), "bad capabilities", service=BrokenDiscovery)
    with variant.start() as server:
        finished = seenby(
            f"run --quiet --target={server.url} --admin-key={server.admin_key} "
            f"--report-dir {reports}",
            *SCENARIOS,
            cwd=reports,
        )
        assert finished.returncode == 1, finished.stdout + finished.stderr
        assert finished.stdout.count("discovery problem:") == 1, finished.stdout
        yield load_summary(reports)


def test_only_the_discovery_scenario_fails(summary: dict[str, Any]) -> None:
    verdicts = {scenario["id"]: scenario["verdict"] for scenario in summary["scenarios"]}
    assert verdicts == {"RR-V-001": "fail", "RR-R-001": "pass", "RR-R-002": "pass",
                        "RR-L-001": "pass"}  # fmt: skip


def test_the_problem_is_reported_once_at_the_top(summary: dict[str, Any]) -> None:
    (problem,) = summary["discovery_problems"]
    assert "features" in problem
