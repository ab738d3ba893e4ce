"""Conformance levels in `seenby run`'s results: strict deviations counted and shown
in every report, `--strict`, known-deviation files (`--expect` and the pytest option
`--seenby-expect`), and discovery problems reported once at the top.

End to end on the throw-away sample suite of `suite_runs`, whose steps record strict
deviations the way the steps plugin does (a `user_properties` entry per deviation); the
command line runs in-process with the sample in place of the installed suite, pytest itself
in a subprocess as always. The verdict rules are also tested without running anything.
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
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
    pytest_run,
    run_report,
    sample_suite,
    scenario,
    seenby,
    serving,
    suite_properties,
)

from seenby.harness import cli
from seenby.harness.reports.summary import ItemResult, RunReport, ScenarioResult, write_reports
from seenby.harness.run.known_deviations import KnownDeviationFile
from seenby.harness.run.runner import Suite
from seenby.harness.wire.deviations import Deviation

DEVIATING_SELECTION = ("RR-R-001", "RR-E-001", "RR-E-002", "RR-E-003")
STATUS_DEVIATION = "the reference answers 400, the target answered 422"
CODE_DEVIATION = "the reference answers code 90006, the target answered code 7"


@pytest.fixture
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Suite:
    """The sample suite with its deviating feature, as the suite `seenby run` runs."""
    suite = sample_suite(tmp_path / "suite", deviating=True)
    monkeypatch.setattr(cli.Suite, "installed", classmethod(lambda cls: suite))
    monkeypatch.chdir(tmp_path)
    for name in ("SEENBY_TARGET", "SEENBY_ADMIN_KEY"):
        monkeypatch.delenv(name, raising=False)
    return suite


def seenby_run(*arguments: str, ids: tuple[str, ...] = DEVIATING_SELECTION) -> int:
    """`seenby run --report-dir out` with `arguments` and an `--id` per ID, in-process."""
    selection = [arg for scenario_id in ids for arg in ("--id", scenario_id)]
    return cli.main(["run", "--report-dir", "out", *arguments, *selection])


def cases_by_name(report_dir: Path) -> dict[str, ET.Element]:
    return {case.get("name", ""): case for case in junit_cases(report_dir)}


def cucumber_elements(report_dir: Path) -> dict[str, dict[str, Any]]:
    features = json.loads((report_dir / "cucumber.json").read_text())
    return {element["id"]: element for feature in features for element in feature["elements"]}


def write_expectations(path: Path, *entries: dict[str, str]) -> Path:
    lines = []
    for entry in entries:
        lines.append("[[expect]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in entry.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# --- strict deviations, with and without --strict --------------------------------------------


def test_deviations_are_counted_distinct_and_shown_in_every_report(
    sample: Suite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # -n 2: the deviations and the steps for cucumber.json cross from xdist workers.
    assert seenby_run("-n", "2") == 0

    out = capsys.readouterr().out
    assert "verdict: conformant with 2 strict deviations (" in out, out
    assert "  DEVIATE  RR-E-001" in out
    assert "strict deviations (2 distinct):" in out
    assert f"{STATUS_DEVIATION} (in RR-E-001, RR-E-002 [1], RR-E-002 [2])" in out
    assert f"docs/protocol.md §1.2: answer to a refused call: {CODE_DEVIATION}" in out

    report_dir = tmp_path / "out"
    summary = check_reports(report_dir, set(DEVIATING_SELECTION))
    assert (summary["verdict"], summary["verdict_text"], summary["succeeded"]) == (
        "conformant-with-deviations",
        "conformant with 2 strict deviations",
        True,
    )
    assert summary["deviation_count"] == 2
    assert summary["counts"]["deviate"] == 3 and summary["counts"]["pass"] == 1
    [status, code] = summary["deviations"]
    assert status == {
        "check": "answer to a refused call",
        "section": "§1.2",
        "reference": "400",
        "observed": "422",
        "seen_in": ["RR-E-001", "RR-E-002 [1]", "RR-E-002 [2]"],
        "check_id": "",  # the sample suite's deviations are recorded without a declared check
        "expected": False,
    }
    assert code["seen_in"] == ["RR-E-003"]
    assert [each["example"] for each in scenario(summary, "RR-E-002")["deviations"]] == ["1", "2"]
    assert scenario(summary, "RR-E-001")["deviations"][0]["where"] == "POST /v1/x"

    cases = cases_by_name(report_dir)
    deviating = cases["RR-E-001 A refusal with another status than the reference's"]
    assert deviating.find("failure") is None and deviating.find("skipped") is None
    assert STATUS_DEVIATION in (deviating.findtext("system-out") or "")
    assert "RR-E-002 The same choice on every row [2]" in cases
    properties = suite_properties(report_dir)[0]
    assert (properties["verdict"], properties["strict_deviations"]) == (
        "conformant-with-deviations",
        "2",
    )

    elements = cucumber_elements(report_dir)
    [after] = elements["test_a_refusal_with_another_status_than_the_references"]["after"]
    assert after["result"]["status"] == "passed"
    assert any(STATUS_DEVIATION in line for line in after["output"])
    assert "after" not in elements["test_a_scenario_that_passes"]

    page, ids = parse_html(report_dir)
    assert {"deviations", "RR-E-001"} <= ids
    assert "Conformant with 2 strict deviations" in page
    assert "<code>422</code>" in page and "<code>code 90006</code>" in page


def test_strict_counts_a_deviation_as_a_failure(
    sample: Suite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert seenby_run("--strict", ids=("RR-R-001", "RR-E-001")) == 1

    out = capsys.readouterr().out
    assert "verdict: not conformant under --strict: 1 strict deviation (deviating: RR-E-001)" in out
    summary = check_reports(tmp_path / "out", {"RR-R-001", "RR-E-001"})
    assert (summary["verdict"], summary["settings"]["strict"]) == ("not-conformant", True)
    assert scenario(summary, "RR-E-001")["verdict"] == "deviate", "the facts stay the same"
    cases = cases_by_name(tmp_path / "out")
    failure = cases["RR-E-001 A refusal with another status than the reference's"].find("failure")
    assert failure is not None and failure.get("type") == "seenby.strict-deviation"
    assert STATUS_DEVIATION in (failure.text or "")
    assert cases["RR-R-001 A scenario that passes"].find("failure") is None
    [after] = cucumber_elements(tmp_path / "out")[
        "test_a_refusal_with_another_status_than_the_references"
    ]["after"]
    assert after["result"]["status"] == "failed"


# --- known-deviation files -------------------------------------------------------------------

KNOWN = (
    {"id": "RR-R-002", "row": "2", "result": "fail", "reason": "row 2 is ACME-1"},
    {"id": "RR-E-001", "result": "deviate", "reason": "we answer 422 (ACME-2)"},
    {"id": "RR-E-003", "result": "deviate", "reason": "our codes are small (ACME-3)"},
)
EXPECT_SELECTION = ("RR-R-001", "RR-R-002", "RR-E-001", "RR-E-002", "RR-E-003")


def test_an_expect_file_excuses_what_it_lists_and_only_that(
    sample: Suite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_expectations(tmp_path / "known.toml", *KNOWN)

    assert seenby_run("--expect", "known.toml", ids=EXPECT_SELECTION) == 0

    out = capsys.readouterr().out
    # RR-E-002 shows the same deviation as the excused RR-E-001, but is not listed itself.
    assert "verdict: conformant with 1 strict deviation (" in out, out
    assert "3 known-deviation entries of known.toml apply" in out
    assert "FAIL     RR-R-002  An outline that fails on one row [2] (known: expected to fail" in out
    assert "met        RR-R-002 [2]: failed as expected (row 2 is ACME-1)" in out
    summary = check_reports(tmp_path / "out", set(EXPECT_SELECTION))
    assert summary["verdict"] == "conformant-with-deviations" and summary["succeeded"] is True
    assert scenario(summary, "RR-R-002")["verdict"] == "fail", "the facts stay the same"
    assert [entry["status"] for entry in summary["expectations"]["entries"]] == ["met"] * 3
    assert [each["expected"] for each in summary["deviations"]] == [False, True]
    skipped = cases_by_name(tmp_path / "out")["RR-R-002 An outline that fails on one row [2]"]
    [mark] = [child for child in skipped if child.tag == "skipped"]
    assert mark.get("type") == "seenby.expected-failure"
    assert mark.get("message") == "expected failure (known.toml): row 2 is ACME-1"
    assert "expected 1, got 2" in (skipped.findtext("system-out") or "")
    page, ids = parse_html(tmp_path / "out")
    assert "expectations" in ids and "row 2 is ACME-1" in page


def test_a_stale_entry_is_reported_and_fails_the_run(
    sample: Suite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = {"id": "RR-R-001", "result": "fail", "reason": "was broken in 1.0"}
    write_expectations(tmp_path / "known.toml", *KNOWN, stale)

    assert seenby_run("--expect", "known.toml", ids=EXPECT_SELECTION) == 1

    out = capsys.readouterr().out
    advice = "RR-R-001: expected to fail, it no longer does: remove the entry from known.toml"
    assert f"STALE      {advice}" in out, out
    assert "1 of them stale (exit status 1 until removed)" in out
    summary = check_reports(tmp_path / "out", set(EXPECT_SELECTION))
    assert summary["verdict"] == "conformant-with-deviations", "the target is no worse"
    assert summary["succeeded"] is False
    [entry] = scenario(summary, "RR-R-001")["expected"]
    assert (entry["status"], entry["advice"].startswith(advice)) == ("stale", True)
    failure = cases_by_name(tmp_path / "out")["RR-R-001 A scenario that passes"].find("failure")
    assert failure is not None and failure.get("type") == "seenby.stale-expectation"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        pytest.param(
            {"id": "RR-R-099", "result": "fail", "reason": "r"},
            "entry 1 (RR-R-099): RR-R-099 names no scenario of the suite",
            id="unknown ID",
        ),
        pytest.param(
            {"id": "RR-R-002", "row": "3", "result": "fail", "reason": "r"},
            "entry 1 (RR-R-002 [3]): RR-R-002 has no Examples row '3' (its rows: '1', '2')",
            id="unknown row",
        ),
        pytest.param(
            {"id": "RR-R-001", "row": "1", "result": "fail", "reason": "r"},
            "RR-R-001 has no Examples row '1' (it is not a Scenario Outline)",
            id="row of a plain scenario",
        ),
        pytest.param(
            {"id": "RR-R-001", "result": "fail"},
            "entry 1: reason is required, as a non-empty string",
            id="no reason",
        ),
        pytest.param(
            {"id": "RR-R-001", "result": "xfail", "reason": "r"},
            "result must be one of fail, deviate, not 'xfail'",
            id="unknown result",
        ),
    ],
)
def test_an_expect_entry_naming_nothing_is_a_usage_error(
    entry: dict[str, str],
    message: str,
    sample: Suite,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    expect = write_expectations(tmp_path / "known.toml", entry)

    with pytest.raises(SystemExit) as exited:
        seenby_run("--expect", str(expect))

    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists(), "nothing ran, nothing was written"


# --- the pytest option -----------------------------------------------------------------------


def pytest_with_expectations(
    suite: Suite, expect: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    """pytest itself over the sample suite, with the known-deviation plugin."""
    return pytest_run(
        *suite.pytest_args, "--rootdir", str(suite.rootdir),
        "-p", "seenby.harness.plugins.known_deviations",
        "--seenby-expect", str(expect), *options, cwd=suite.rootdir,
    )  # fmt: skip


def test_the_pytest_option_marks_expected_failures(sample: Suite, tmp_path: Path) -> None:
    expect = write_expectations(tmp_path / "known.toml", KNOWN[0], KNOWN[1])

    ran = pytest_with_expectations(sample, expect, "-m", "RR-R-002 or RR-E-001", "-rxX")

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "2 passed, 6 deselected, 1 xfailed" in ran.stdout
    xfail = "XFAIL test_sample.py::test_an_outline_that_fails_on_one_row[2] - known failure"
    assert f"{xfail} ({expect}): row 2 is ACME-1" in ran.stdout
    assert "met: RR-R-002 [2]: failed as expected" in ran.stdout
    assert "met: RR-E-001: deviated as expected" in ran.stdout


def test_the_pytest_option_fails_on_a_stale_entry(sample: Suite, tmp_path: Path) -> None:
    stale = {"id": "RR-R-001", "result": "deviate", "reason": "was 1.0"}
    expect = write_expectations(tmp_path / "known.toml", stale)

    ran = pytest_with_expectations(sample, expect, "-m", "RR-R-001", "-n", "2")

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "1 passed" in ran.stdout
    assert (
        f"stale: RR-R-001: expected to deviate, it now passes: remove the entry from {expect}"
        in ran.stdout
    )


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["alone", "under xdist"])
def test_the_pytest_option_refuses_an_unknown_id(
    workers: tuple[str, ...], sample: Suite, tmp_path: Path
) -> None:
    unknown = {"id": "RR-Q-404", "result": "fail", "reason": "r"}
    expect = write_expectations(tmp_path / "known.toml", unknown)

    ran = pytest_with_expectations(sample, expect, *workers)

    assert ran.returncode == pytest.ExitCode.USAGE_ERROR, ran.stdout + ran.stderr
    assert "RR-Q-404 names no scenario of the suite" in ran.stderr
    assert "INTERNALERROR" not in ran.stdout + ran.stderr
    assert "passed" not in ran.stdout


def test_the_real_suite_checks_an_expect_file_under_both_commands(tmp_path: Path) -> None:
    row = {"id": "RR-R-001", "row": "no such chat", "result": "fail", "reason": "r"}
    write_expectations(tmp_path / "known.toml", row)
    rows = "(its rows: 'one-to-one chat', 'group chat')"

    command = seenby("run --expect known.toml --report-dir out", "RR-R-004", cwd=tmp_path)
    under_pytest = pytest_run(
        "--pyargs", "seenby.steps", "--seenby-expect", "known.toml", cwd=tmp_path
    )  # fmt: skip

    assert command.returncode == 2, command.stdout + command.stderr
    assert f"RR-R-001 has no Examples row 'no such chat' {rows}" in command.stderr
    assert under_pytest.returncode == pytest.ExitCode.USAGE_ERROR, under_pytest.stdout
    assert f"RR-R-001 has no Examples row 'no such chat' {rows}" in under_pytest.stderr


# --- JUnit as pytest writes it ---------------------------------------------------------------


def test_pytest_writes_the_junit_file_without_a_warning(tmp_path: Path) -> None:
    suite = sample_suite(tmp_path / "suite", deviating=True)
    # The options `seenby run` gives pytest for its JUnit file, with every warning an error.
    ran = pytest_run(
        *suite.pytest_args, "--rootdir", str(suite.rootdir), "-p", "seenby.harness.plugins.results",
        "-o", "junit_family=xunit2", "--junitxml", str(tmp_path / "junit.xml"), "-W", "error",
        "-m", "RR-E-002", cwd=suite.rootdir,
    )  # fmt: skip

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "warning" not in (ran.stdout + ran.stderr).lower()
    assert (tmp_path / "junit.xml").is_file()


# --- discovery problems ----------------------------------------------------------------------


class IncompleteDiscovery(FakeTarget):
    """Capabilities with no `implementation` and no `limits`; every call refused."""

    capabilities: ClassVar[dict[str, Any]] = {"protocol": "seenby/1", "features": []}


@pytest.fixture
def incomplete_target() -> Iterator[str]:
    with serving(IncompleteDiscovery) as url:
        yield url


def test_discovery_problems_come_once_at_the_top(tmp_path: Path, incomplete_target: str) -> None:
    command = f"run --target {incomplete_target} --admin-key k --report-dir out --quiet"
    result = seenby(command, "RR-R-004", cwd=tmp_path)

    first, *_ = result.stdout.splitlines()
    assert first.startswith("discovery problem: "), result.stdout
    assert result.stdout.count("discovery problem: ") == len(
        load_summary(tmp_path / "out")["discovery_problems"]
    )
    summary = check_reports(tmp_path / "out", {"RR-R-004"})
    assert summary["discovery_problems"], "reported in the summary"
    page, ids = parse_html(tmp_path / "out")
    assert "discovery" in ids
    assert page.index('id="discovery"') < page.index('id="run"'), "at the top of report.html"


def test_reports_tolerate_capabilities_without_implementation_or_limits(tmp_path: Path) -> None:
    moment = datetime.now(UTC)
    passed = ItemResult("RR-R-001", None, "passed", None, None, 0.1, name="test_one")
    report = RunReport(
        target="http://vendor.example",
        capabilities={"protocol": "seenby/1", "features": ["eventReplay"]},
        settings={"ids": [], "tags": [], "jobs": 1, "serial_pass": False, "strict": False,
                  "expect": None},
        versions={"seenby": "0", "python": "3", "pytest": "9", "pytest-bdd": "9"},
        started_at=moment,
        finished_at=moment,
        results=[ScenarioResult.from_items(catalogued("RR-R-001"), [passed])],
        errors=[],
        discovery_problems=("the payload has no limits: the spec's defaults apply",),
    )  # fmt: skip

    write_reports(report, tmp_path, junit_parts=[])

    summary = load_summary(tmp_path)
    assert summary["discovery_problems"] == ["the payload has no limits: the spec's defaults apply"]
    page, _ = parse_html(tmp_path)
    assert "<th>Implementation</th><td><em>not announced</em></td>" in page
    assert "<th>Limits</th><td><em>not announced</em></td>" in page
    junit_cases(tmp_path)  # XSD-valid
    properties = suite_properties(tmp_path)[0]
    assert "target_implementation" not in properties
    assert properties["discovery_problem"].startswith("the payload has no limits")


# --- the rules, without running anything -----------------------------------------------------

DEVIATION = Deviation("answer to a refused call", "§1.2", "400", "422", "POST /v1/x")


def item(outcome: str, example: str | None = None, *deviations: Deviation) -> ItemResult:
    evidence = "boom" if outcome == "failed" else None
    return ItemResult("RR-R-001", example, outcome, None, evidence, 0.0, deviations=deviations)


def outline(*items: ItemResult, expectations: KnownDeviationFile | None = None) -> ScenarioResult:
    return ScenarioResult.from_items(catalogued("RR-R-001", examples=2), items, expectations)


@pytest.mark.parametrize(
    ("items", "strict", "verdict", "text"),
    [
        pytest.param(
            [item("passed", "a", DEVIATION), item("passed", "b", DEVIATION)], False,
            "conformant-with-deviations", "conformant with 1 strict deviation",
            id="the same deviation twice counts once",
        ),
        pytest.param(
            [item("passed", "a", DEVIATION), item("passed", "b", Deviation("x", "§2", "1", "2"))],
            False, "conformant-with-deviations", "conformant with 2 strict deviations",
            id="distinct deviations",
        ),
        pytest.param(
            [item("passed", "a", DEVIATION), item("passed", "b")], True,
            "not-conformant", "not conformant under --strict: 1 strict deviation",
            id="strict",
        ),
        pytest.param(
            [item("passed", "a", DEVIATION), item("failed", "b")], False,
            "not-conformant", "not conformant", id="a failure outweighs a deviation",
        ),
        pytest.param(
            [item("passed", "a", DEVIATION), item("skipped", "b")], False,
            "incomplete", "incomplete", id="a required skip outweighs a deviation",
        ),
        pytest.param(
            [item("passed", "a"), item("passed", "b")], True, "conformant", "conformant",
            id="strict with nothing to count",
        ),
    ],
)  # fmt: skip
def test_the_run_verdict_with_deviations(
    items: list[ItemResult], strict: bool, verdict: str, text: str
) -> None:
    report = run_report([outline(*items)], strict=strict)

    assert (report.verdict, report.verdict_text) == (verdict, text)
    assert report.succeeded is (verdict in ("conformant", "conformant-with-deviations"))


def expectations_of(tmp_path: Path, *entries: dict[str, str]) -> KnownDeviationFile:
    return KnownDeviationFile.load(write_expectations(tmp_path / "known.toml", *entries))


def test_a_row_entry_excuses_its_row_only(tmp_path: Path) -> None:
    known = expectations_of(tmp_path, {"id": "RR-R-001", "row": "a", "result": "fail",
                                       "reason": "r"})  # fmt: skip

    excused = run_report([outline(item("failed", "a"), item("passed", "b"), expectations=known)])
    not_excused = run_report(
        [outline(item("passed", "a"), item("failed", "b"), expectations=known)]
    )

    assert (excused.verdict, excused.succeeded) == ("conformant", True)
    assert (not_excused.verdict, not_excused.succeeded) == ("not-conformant", False)
    assert [judged.status for judged in not_excused.results[0].expected] == ["stale"]


def test_an_expected_deviation_that_fails_is_a_failure(tmp_path: Path) -> None:
    known = expectations_of(tmp_path, {"id": "RR-R-001", "result": "deviate", "reason": "r"})

    report = run_report(
        [outline(item("failed", "a"), item("passed", "b", DEVIATION), expectations=known)]
    )

    assert report.verdict == "not-conformant"
    assert [judged.status for judged in report.results[0].expected] == ["exceeded"]
    assert report.unexpected_deviations == (), "its deviations are covered"
