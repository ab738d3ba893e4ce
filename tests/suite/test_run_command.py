"""`seenby run`: selections of the real suite against the bundled server and against a served
process, the four report files and how they agree, a target that gets things wrong, verdicts of
every kind from a throw-away sample suite, usage errors, and the verdict rules themselves.

Runs are real: the command line in a subprocess, or `seenby.harness.run.runner.run`, which runs
pytest
as a subprocess, so these tests see what a vendor or a CI job sees. Argument handling is tested
in-process, and the verdict rules without running anything.
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from suite_runs import (
    FakeTarget,
    catalogued,
    check_reports,
    junit_cases,
    load_summary,
    parse_html,
    run_report,
    sample_suite,
    scenario,
    seenby,
    serving,
    suite_properties,
)

from seenby.harness import cli
from seenby.harness.api.server_process import ServerProcess
from seenby.harness.reports.summary import ItemResult, ScenarioResult
from seenby.harness.run.catalogue import (
    CatalogueError,
    default_features_dir,
    load_catalogue,
)
from seenby.harness.run.runner import (
    BUNDLED_TARGET,
    RunSettings,
    SelectionError,
    run,
    selected_scenarios,
)

# seenby run drives pytest-bdd and reads its reports: part of the dependency-range check.
pytestmark = pytest.mark.pytest_bdd_coupling

# --- the real suite, against the bundled server and against `seenby serve` ------------------

BUNDLED_SELECTION = {"RR-R-001", "RR-R-004", "RR-Q-001", "RR-C-001"}


def test_a_selection_passes_against_the_bundled_server(tmp_path: Path) -> None:
    result = seenby("run --report-dir out", *sorted(BUNDLED_SELECTION), cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    summary = check_reports(tmp_path / "out", BUNDLED_SELECTION)
    assert summary["verdict"] == "conformant"
    assert summary["target"] == BUNDLED_TARGET
    assert summary["capabilities"]["implementation"]["name"] == "seenby-reference"
    assert summary["settings"] == {
        "driver": "seenby",
        "ids": sorted(BUNDLED_SELECTION),
        "tags": [],
        "jobs": 1,
        "serial_pass": False,
        "strict": False,
        "expect": None,
    }
    assert summary["errors"] == []
    assert summary["discovery_problems"] == []
    assert (summary["deviation_count"], summary["deviations"]) == (0, [])
    names = [case.get("name") for case in junit_cases(tmp_path / "out")]
    title = scenario(summary, "RR-R-001")["title"]
    assert f"RR-R-001 {title} [group chat]" in names, names
    assert f"RR-R-001 {title} [one-to-one chat]" in names, names
    [properties] = suite_properties(tmp_path / "out")
    assert properties["target"] == BUNDLED_TARGET
    assert properties["seenby_version"] == summary["versions"]["seenby"]
    assert properties["verdict"] == "conformant"
    assert properties["strict_deviations"] == "0"
    assert "PASS     RR-R-004" in result.stdout
    assert "verdict: conformant (" in result.stdout


@pytest.fixture
def served_reference_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`python -m seenby.reference_server --port 0` (`seenby serve`) in its own process: (url,
    key)."""
    # A key with a leading dash, as token_urlsafe makes one time in 64: it must survive being
    # handed on to pytest.
    with ServerProcess(tmp_path / "served.sqlite3", admin_key="-dash-key") as server:
        yield server.url, server.admin_key
    assert server.stop() == 0


def test_a_selection_passes_against_a_served_process_by_url(
    tmp_path: Path, served_reference_server: tuple[str, str]
) -> None:
    url, admin_key = served_reference_server
    # RR-R-007 is @serial: with -n 2 against a remote target it runs in a second, serial pass.
    selection = {"RR-R-004", "RR-R-007", "RR-Y-002"}
    command = f"run --target {url} --admin-key={admin_key} -n 2 --report-dir out"
    result = seenby(command, *sorted(selection), cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    summary = check_reports(tmp_path / "out", selection)
    assert summary["verdict"] == "conformant"
    assert summary["target"] == url
    assert summary["settings"]["serial_pass"] is True
    assert {each["target"] for each in suite_properties(tmp_path / "out")} == {url}
    suites = ET.parse(tmp_path / "out" / "junit.xml").getroot().findall("testsuite")
    assert [suite.get("name") for suite in suites] == ["seenby-parallel", "seenby-serial"]
    assert admin_key not in (tmp_path / "out" / "conformance-summary.json").read_text()
    # Both passes' Cucumber JSON, including the steps xdist workers ran.
    cucumber = json.loads((tmp_path / "out" / "cucumber.json").read_text())
    tags = {tag["name"] for feature in cucumber for element in feature["elements"]
            for tag in element["tags"]}  # fmt: skip
    assert {f"@{scenario_id}" for scenario_id in selection} <= tags
    steps = [step for feature in cucumber for element in feature["elements"]
             for step in element["steps"]]  # fmt: skip
    assert steps and {step["result"]["status"] for step in steps} == {"passed"}


# The command line in-process: argument handling needs no pytest run (and no second interpreter).


def test_list_shows_every_scenario_with_its_spec_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    catalogue = load_catalogue(default_features_dir())

    assert cli.main(["run", "--list"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "AREA", "LEVEL", "SPEC", "NEEDS", "TITLE"]
    for entry in catalogue:
        [line] = [line for line in lines if line.startswith(entry.id + " ")]
        assert ",".join(entry.spec) in line and entry.title in line
        assert (",".join(entry.needs) or "-") in line.split()
    assert lines[-1] == f"{len(catalogue)} scenarios"
    assert list(tmp_path.iterdir()) == [], "--list runs nothing and writes nothing"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--id", "RR-Z-999"], "no scenario matches --id RR-Z-999"),
        (["--tag", "area-Z", "--list"], "no scenario matches --tag area-Z"),
        (["--target", "127.0.0.1:8080", "--admin-key", "k"], "must be an http:// or https:// URL"),
        (["--target", "http://127.0.0.1:8080"], "--target needs --admin-key"),
        (["-n", "0"], "must be at least 1"),
    ],
)
def test_usage_errors_exit_2_and_run_nothing(
    arguments: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEENBY_TARGET", raising=False)
    monkeypatch.delenv("SEENBY_ADMIN_KEY", raising=False)

    with pytest.raises(SystemExit) as exited:
        cli.main(["run", *arguments])

    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_serve_is_the_reference_servers_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--help"])

    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage: seenby serve")


class BrokenTarget(FakeTarget):
    """Advertises itself correctly, then answers every call with data of the wrong shape."""

    capabilities: ClassVar[dict[str, Any]] = {
        "protocol": "seenby/1",
        "implementation": {"name": "broken-fake", "version": "0.0.1"},
        "features": ["adminSettings", "onlineUserOnly", "eventReplay"],
        "limits": {"receiptBatchMax": 30, "memberListCountMax": 100, "groupReceiptMaxMembers": 200},
    }
    post_answer: ClassVar[tuple[int, dict[str, Any]]] = (
        200,
        {"code": 0, "desc": "ok", "data": {"surprise": True}},
    )


@pytest.fixture
def broken_target() -> Iterator[str]:
    with serving(BrokenTarget) as url:
        yield url


def test_a_target_that_answers_wrongly_is_not_conformant_with_evidence(
    tmp_path: Path, broken_target: str
) -> None:
    command = f"run --target {broken_target} --admin-key anything --report-dir out --quiet"
    result = seenby(command, "RR-R-004", cwd=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("verdict: not conformant (1 failed: RR-R-004)")
    assert "FAIL" not in result.stdout, "--quiet prints no progress"
    summary = check_reports(tmp_path / "out", {"RR-R-004"})
    assert summary["verdict"] == "not-conformant"
    assert summary["capabilities"]["implementation"]["name"] == "broken-fake"
    failed = scenario(summary, "RR-R-004")
    assert failed["verdict"] == "fail"
    evidence = failed["evidence"]
    assert "step: Given" in evidence, evidence
    assert broken_target in evidence, "the evidence names the target"
    page, _ = parse_html(tmp_path / "out")
    assert html.escape(evidence) in page


# --- verdict rules, on a throw-away sample suite ---------------------------------------------


def test_verdicts_evidence_and_reasons_of_every_kind(tmp_path: Path) -> None:
    lines: list[str] = []
    suite = sample_suite(tmp_path / "suite")
    report = run(RunSettings(suite=suite, report_dir=tmp_path / "out"), lines.append)

    assert report.verdict == "not-conformant"
    summary = check_reports(tmp_path / "out", {f"RR-R-00{n}" for n in range(1, 5)} | {"RR-P-001"})
    assert summary["verdict"] == "not-conformant"
    assert summary["counts"] == {
        "pass": 1, "deviate": 0, "fail": 1, "skip": 2, "not-applicable": 0, "not-run": 1,
        "total": 5,
    }  # fmt: skip
    assert [(area["area"], area["counts"]["total"]) for area in summary["areas"]] == [
        ("R", 4),
        ("P", 1),
    ]
    assert scenario(summary, "RR-R-001")["verdict"] == "pass"
    outline = scenario(summary, "RR-R-002")
    assert outline["verdict"] == "fail"
    assert outline["spec"] == ["R-1", "R-2"]
    assert outline["evidence"].startswith("[2] step: Then the number is 1 (")
    assert "AssertionError: expected 1, got 2" in outline["evidence"]
    required_skip = scenario(summary, "RR-R-003")
    assert (required_skip["verdict"], required_skip["required"]) == ("skip", True)
    assert required_skip["reason"] == "target lacks capability 'adminSettings'"
    assert scenario(summary, "RR-R-004")["required"] is False
    assert scenario(summary, "RR-P-001")["verdict"] == "not-run"

    page, _ = parse_html(tmp_path / "out")
    assert html.escape(outline["evidence"]) in page
    assert "&lt;markup&gt; &amp; &quot;quotes&quot;" in page and "<markup>" not in page
    assert any(line.startswith("  FAIL     RR-R-002") for line in lines), lines

    # Cucumber JSON holds the skipped scenarios too, with the reason in a `before` hook.
    [feature] = json.loads((tmp_path / "out" / "cucumber.json").read_text())
    elements = {element["id"]: element for element in feature["elements"]}
    assert sorted(elements) == [
        "test_a_required_scenario_the_target_cannot_run",
        "test_a_scenario_that_passes",
        "test_an_optional_one_with_markup__quotes_the_target_cannot_run",
        "test_an_outline_that_fails_on_one_row[1]",
        "test_an_outline_that_fails_on_one_row[2]",
    ]
    [failed_step] = [
        step
        for step in elements["test_an_outline_that_fails_on_one_row[2]"]["steps"]
        if step["result"]["status"] == "failed"
    ]
    assert failed_step["name"] == "the number is 1"
    assert "expected 1, got 2" in failed_step["result"]["error_message"]
    [gate] = elements["test_a_required_scenario_the_target_cannot_run"]["before"]
    assert gate["result"] == {
        "status": "skipped", "duration": 0,
        "error_message": "target lacks capability 'adminSettings'",
    }  # fmt: skip


def test_a_suite_that_cannot_be_collected_runs_nothing_and_says_why(tmp_path: Path) -> None:
    suite = sample_suite(tmp_path / "suite", "raise RuntimeError('the suite is broken')\n")
    report = run(RunSettings(suite=suite, report_dir=tmp_path / "out"))

    assert report.verdict == "incomplete"
    assert {result.verdict for result in report.results} == {"not-run"}
    assert any("the suite is broken" in error for error in report.errors), report.errors
    summary = load_summary(tmp_path / "out")
    assert any("collection error" in error for error in summary["errors"])
    parse_html(tmp_path / "out")


# --- the rules themselves, without running anything -------------------------------------------


def item(outcome: str, example: str | None = None, text: str | None = None) -> ItemResult:
    return ItemResult(
        scenario_id="RR-R-001",
        example=example,
        outcome=outcome,
        reason=text if outcome == "skipped" else None,
        evidence=text if outcome == "failed" else None,
        duration_s=0.5,
    )


@pytest.mark.parametrize(
    ("items", "verdict", "reason", "evidence"),
    [
        pytest.param([item("passed", "a"), item("passed", "b")], "pass", None, None, id="pass"),
        pytest.param(
            [item("passed", "a"), item("failed", "b", "boom")], "fail", None, "[b] boom",
            id="one failing row fails it",
        ),
        pytest.param(
            [item("failed", "a", "one"), item("failed", "b", "two")], "fail", None,
            "[a] one\n\n[b] two", id="every failing row is evidence",
        ),
        pytest.param(
            [item("passed", "a"), item("skipped", "b", "no replay")], "skip", "no replay", None,
            id="one skipped row skips it",
        ),
        pytest.param(
            [item("passed", "a")], "not-run", "only 1 of 2 examples ran", None,
            id="a missing row leaves it not run",
        ),
        pytest.param([], "not-run", "not run", None, id="no result is not run"),
        pytest.param(
            [item("failed", "a", "boom")], "fail", None, "[a] boom",
            id="a failure outweighs a missing row",
        ),
    ],
)  # fmt: skip
def test_a_scenario_verdict_combines_its_examples(
    items: list[ItemResult], verdict: str, reason: str | None, evidence: str | None
) -> None:
    result = ScenarioResult.from_items(catalogued("RR-R-001", examples=2), items)

    assert (result.verdict, result.reason, result.evidence) == (verdict, reason, evidence)
    assert result.duration_s == 0.5 * len(items)


def result(verdict: str, *, required: bool = True) -> ScenarioResult:
    return ScenarioResult(catalogued("RR-R-001", required=required), verdict, None, None, 0.0)


@pytest.mark.parametrize(
    ("results", "verdict"),
    [
        pytest.param(
            [result("pass"), result("skip", required=False)], "conformant",
            id="optional skips are allowed",
        ),
        pytest.param(
            [result("pass"), result("skip", required=True)], "incomplete",
            id="a required skip is incomplete",
        ),
        pytest.param(
            [result("pass"), result("not-run", required=False)], "incomplete",
            id="anything not run is incomplete",
        ),
        pytest.param(
            [result("not-run"), result("fail")], "not-conformant", id="a failure decides",
        ),
        pytest.param(
            [result("skip", required=False), result("fail", required=False)], "not-conformant",
            id="optional scenarios that fail count",
        ),
        pytest.param([], "incomplete", id="an empty run proves nothing"),
    ],
)  # fmt: skip
def test_the_run_verdict(results: list[ScenarioResult], verdict: str) -> None:
    assert run_report(results).verdict == verdict


def test_selection_by_id_and_tag(tmp_path: Path) -> None:
    suite = sample_suite(tmp_path)

    def ids(**selection: list[str]) -> list[str]:
        return [scenario.id for scenario in selected_scenarios(suite, **selection)]

    assert ids() == ["RR-R-001", "RR-R-002", "RR-R-003", "RR-R-004", "RR-P-001"]
    assert ids(ids=["RR-P-001", "@RR-R-002"]) == ["RR-R-002", "RR-P-001"]
    assert ids(tags=["optional", "area-P"]) == ["RR-R-004", "RR-P-001"]
    assert ids(ids=["RR-R-001"], tags=["spec-R-2"]) == ["RR-R-001", "RR-R-002"]
    with pytest.raises(SelectionError, match="--id RR-R-999, --tag spec-Q-1"):
        ids(ids=["RR-R-001", "RR-R-999"], tags=["spec-Q-1"])


def test_broken_tag_conventions_are_reported_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "broken.feature").write_text(
        "Feature: Broken\n\n"
        "  @spec-R-1 @doc-protocol\n  Scenario: No ID\n    Given the number 1\n\n"
        "  @RR-R-001 @spec-R-1 @doc-protocol\n  Scenario: First\n    Given the number 1\n\n"
        "  @RR-R-001 @spec-R-1 @doc-protocol\n  Scenario: Second\n    Given the number 1\n"
    )

    with pytest.raises(CatalogueError) as raised:
        load_catalogue(tmp_path)

    assert "broken.feature:4 ('No ID'): needs exactly one @RR-<AREA>-<NNN> tag" in str(raised.value)
    assert "broken.feature:12: ID RR-R-001 is already used at broken.feature:8" in str(raised.value)
