"""Drivers without a homeserver: the registry and `seenby drivers`, the capability list, the
not-applicable verdict in the rules and reports, the catalogue's check of `@needs-` tags, and
the target page rendered from a summary.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from seenby.harness import NotApplicable, open_target
from seenby.harness.api.target import BundledTarget
from seenby.harness.cli import main
from seenby.harness.drivers import DEFAULT_DRIVER, DriverError, get_driver, installed_drivers
from seenby.harness.drivers.capabilities import (
    ADMIN_SETTINGS,
    CAPABILITIES,
    EVENT_REPLAY,
    GROUP_TYPES,
    ONLINE_USER_ONLY,
    RAW_WIRE,
    not_applicable_reason,
)
from seenby.harness.drivers.target_page import page_rows, render_page
from seenby.harness.reports.summary import ItemResult, RunReport, ScenarioResult
from seenby.harness.run.catalogue import CatalogueError, CatalogueScenario, load_catalogue


def test_both_bundled_drivers_are_installed_by_entry_point() -> None:
    drivers = installed_drivers()

    assert {"seenby", "matrix"} <= set(drivers)
    assert drivers["seenby"].capabilities == frozenset(CAPABILITIES)
    # Matrix has none of seenby's wire, settings, replay, group types or online-only messages.
    assert drivers["matrix"].capabilities == frozenset()
    assert DEFAULT_DRIVER == "seenby"


def test_an_unknown_driver_is_a_clear_error() -> None:
    with pytest.raises(DriverError, match=r"no driver 'nope' is installed \(installed: .*matrix"):
        get_driver("nope")


def test_seenby_drivers_lists_each_driver_with_what_it_lacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["drivers"]) == 0
    out = capsys.readouterr().out

    assert "seenby " in out and "matrix " in out
    matrix_block = out[out.index("matrix ") : out.index("seenby ")]
    for capability in (RAW_WIRE, ADMIN_SETTINGS, EVENT_REPLAY, GROUP_TYPES, ONLINE_USER_ONLY):
        assert capability in matrix_block.split("lacks:")[1]


def test_run_refuses_an_unknown_driver_as_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--driver", "nope", "--report-dir", "/nonexistent/never"])
    assert stopped.value.code == 2
    assert "no driver 'nope'" in capsys.readouterr().err


def test_the_default_driver_opens_the_bundled_server_and_keeps_the_raw_wire() -> None:
    with open_target() as target:
        assert isinstance(target, BundledTarget)
        assert target.driver_name == "seenby"
        answer = target.request_raw("GET", "/v1/capabilities")
        assert answer.http_status == 200


def test_the_list_shows_what_each_scenario_needs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert "NEEDS" in lines[0]
    assert any(f" {RAW_WIRE} " in line or f",{RAW_WIRE}" in line for line in lines)


def test_a_needs_tag_must_name_a_known_capability(tmp_path: Path) -> None:
    (tmp_path / "sample.feature").write_text(
        "@area-R\nFeature: sample\n\n  @RR-R-001 @spec-R-1 @doc-protocol @needs-teleport\n"
        "  Scenario: needs what no driver has\n    Given nothing\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogueError, match="teleport"):
        load_catalogue(tmp_path)


def _scenario(required: bool = True, examples: int = 1) -> CatalogueScenario:
    return CatalogueScenario(
        id="RR-X-001",
        title="needs the raw wire",
        feature="sample.feature",
        line=1,
        area="X",
        spec=("X-1",),
        doc="protocol",
        required=required,
        serial=False,
        needs=(RAW_WIRE,),
        tags=frozenset({"RR-X-001", f"needs-{RAW_WIRE}"}),
        example_count=examples,
    )


def _item(outcome: str, reason: str | None = None, example: str | None = None) -> ItemResult:
    return ItemResult("RR-X-001", example, outcome, reason, None, 0.1)


NA = not_applicable_reason("matrix", RAW_WIRE)


def _report(results: list[ScenarioResult]) -> RunReport:
    moment = datetime.now(UTC)
    return RunReport("t", None, {}, {}, moment, moment, results, [])


def test_not_applicable_is_its_own_verdict_and_never_a_pass() -> None:
    item = _item("skipped", NA)
    result = ScenarioResult.from_items(_scenario(), [item])

    assert item.verdict == "not-applicable"
    assert (result.verdict, result.reason) == ("not-applicable", NA)
    report = _report([result])
    assert report.counts["not-applicable"] == 1 and report.counts["pass"] == 0
    # A required scenario that could not be expressed leaves the run unproven.
    assert report.verdict == "incomplete"
    assert report.unproven == ["RR-X-001"]


def test_an_ordinary_skip_among_not_applicable_rows_is_a_skip() -> None:
    items = [_item("skipped", NA, "a"), _item("skipped", "target lacks it", "b")]
    result = ScenarioResult.from_items(_scenario(examples=2), items)

    assert result.verdict == "skip"


def test_an_optional_not_applicable_scenario_leaves_a_clean_run_conformant() -> None:
    passed = ScenarioResult.from_items(_scenario(), [_item("passed")])
    na = ScenarioResult.from_items(_scenario(required=False), [_item("skipped", NA)])

    assert _report([passed, na]).verdict == "conformant"


def test_a_call_the_driver_cannot_express_says_which_tag_it_needs() -> None:
    error = NotApplicable(RAW_WIRE, "MatrixUser.call")

    assert error.capability == RAW_WIRE
    assert f"@needs-{RAW_WIRE}" in str(error)


def _summary() -> dict[str, object]:
    def scenario(sid: str, verdict: str, reason: str | None, evidence: str | None) -> dict:
        return {"id": sid, "title": f"title {sid}", "verdict": verdict, "reason": reason,
                "evidence": evidence}  # fmt: skip

    return {
        "capabilities": {"implementation": {"name": "Synapse", "version": "1.2.3"}},
        "versions": {"seenby": "0.1.0", "driver": "0.1.0"},
        "settings": {"driver": "matrix"},
        "verdict_text": "not conformant",
        "counts": {
            "pass": 1,
            "deviate": 0,
            "fail": 1,
            "skip": 0,
            "not-applicable": 1,
            "not-run": 0,
            "total": 3,
        },
        "scenarios": [
            scenario("RR-R-001", "pass", None, None),
            scenario(
                "RR-R-009",
                "fail",
                None,
                "403 on POST /rooms/%21j15t4rXBGv6ASxidlZdxP6B/receipt/m.read/"
                "%24o38ZnWTqyJlaDKmCIWTA_w6pSpJaEr5 for no-such-message-746597be869d844c",
            ),
            scenario(
                "RR-P-003",
                "fail",
                None,
                "step: Then Carol is not sent any receipt\nCarol got a receipt from "
                "@bob-9f3c2a1b:localhost for $AbCdEfGhIjKlMnOpQrStUvWxYz012 in 0.52 s",
            ),
            scenario("RR-E-001", "not-applicable", NA, None),
            scenario("RR-P-007", "fail", None, "step: Then the counts rise\ngot [2, 3]"),
        ],
    }


def test_the_target_page_names_versions_reasons_and_missing_capabilities() -> None:
    page = render_page(_summary(), "Synapse through seenby")

    assert "| target | Synapse 1.2.3 |" in page and "| driver | matrix 0.1.0 |" in page
    rows = {row[0]: row for row in page_rows(_summary())}
    # The reason is the evidence's first line, without what changes from run to run.
    assert rows["RR-P-003"][3] == "Carol got a receipt from @bob:localhost for $event in N s"
    assert rows["RR-E-001"][3] == f"driver 'matrix' lacks capability '{RAW_WIRE}'"
    assert rows["RR-R-001"][2:] == ("pass", "")
    encoded = "403 on POST /rooms/!room/receipt/m.read/$event for no-such-message"
    assert rows["RR-R-009"][3] == encoded


def test_the_target_page_says_which_verdicts_vary_between_runs_as_the_driver_declares() -> None:
    page = render_page(_summary(), "Synapse through seenby")
    rows = {row[0]: row for row in page_rows(_summary())}
    varying = get_driver("matrix").varying_verdicts

    assert set(varying) == {"RR-P-007", "RR-Y-001"}
    assert rows["RR-P-007"][2:] == (
        "fail",
        "*varies between runs* (see below); this run: got [2, 3]",
    )
    below = page.split("## Verdicts that vary between runs")[1]
    assert f"- **RR-P-007** {varying['RR-P-007']}." in below
    assert "/sync" in varying["RR-P-007"]
    assert "## Verdicts that vary" not in render_page(
        {**_summary(), "settings": {"driver": "seenby"}}, "seenby"
    )


def test_the_porting_guide_lists_exactly_the_capabilities() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "porting.md").read_text("utf-8")
    section = guide.split("## 3. Capabilities")[1].split("\n## ")[0]
    listed = {
        line.split("`")[1]
        for line in section.splitlines()
        if line.startswith("| `") and line.count("|") == 3
    }

    assert listed == set(CAPABILITIES)
