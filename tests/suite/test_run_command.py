"""`seenby run`: selections of the real suite against the bundled server and against a served
process, the four report files and how they agree, a target that gets things wrong, verdicts of
every kind from a throw-away sample suite, usage errors, and the verdict rules themselves.

Runs are real: the command line in a subprocess, or `harness.runner.run`, which runs pytest as a
subprocess, so these tests see what a vendor or a CI job sees. Argument handling is tested
in-process, and the verdict rules without running anything.
"""

from __future__ import annotations

import html
import json
import os
import signal
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness import cli
from harness.catalogue import (
    CatalogueError,
    CatalogueScenario,
    default_features_dir,
    load_catalogue,
)
from harness.reports import ItemResult, RunReport, ScenarioResult
from harness.runner import (
    BUNDLED_TARGET,
    RunSettings,
    SelectionError,
    Suite,
    run,
    selected_scenarios,
)
from harness.validation import validator

# seenby run drives pytest-bdd and reads its reports: part of the dependency-range check.
pytestmark = pytest.mark.pytest_bdd_coupling

RUN_TIMEOUT_S = 180
REPORT_FILES = ("junit.xml", "cucumber.json", "conformance-summary.json", "report.html")


def seenby(command: str, *ids: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the `seenby` command line as a CI job would: `command` split on spaces, then an
    `--id` option per scenario ID of `ids`."""
    arguments = command.split() + [arg for scenario_id in ids for arg in ("--id", scenario_id)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SEENBY_")}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )


def load_summary(report_dir: Path) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads((report_dir / "conformance-summary.json").read_text())
    errors = sorted(validator("conformance-summary.json").iter_errors(summary), key=str)
    assert not errors, "\n".join(error.message for error in errors)
    return summary


def scenario(summary: dict[str, Any], scenario_id: str) -> dict[str, Any]:
    [found] = [entry for entry in summary["scenarios"] if entry["id"] == scenario_id]
    return found


def junit_cases(report_dir: Path) -> list[tuple[ET.Element, list[tuple[str, str]]]]:
    """Every <testcase> of junit.xml with its <property> pairs, checking the JUnit shape:
    name, classname and time on each case, <properties> first in each suite."""
    root = ET.parse(report_dir / "junit.xml").getroot()
    assert root.tag == "testsuites"
    cases = []
    for suite in root.iter("testsuite"):
        assert {"name", "tests", "failures", "errors", "time"} <= set(suite.keys())
        assert suite[0].tag == "properties", "suite <properties> must come first"
        for case in suite.iter("testcase"):
            assert {"name", "classname", "time"} <= set(case.keys()), case.attrib
            pairs = [(p.get("name", ""), p.get("value", "")) for p in case.iter("property")]
            cases.append((case, pairs))
    return cases


def suite_properties(report_dir: Path) -> list[dict[str, str]]:
    root = ET.parse(report_dir / "junit.xml").getroot()
    return [
        {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}
        for suite in root.iter("testsuite")
        if suite.find("properties") is not None
    ]


def junit_verdict(case: ET.Element) -> str:
    if case.find("failure") is not None or case.find("error") is not None:
        return "fail"
    return "skip" if case.find("skipped") is not None else "pass"


class WellFormedHtml(HTMLParser):
    """Fails on a closing tag that does not match the open one; collects element ids."""

    VOID = frozenset(
        {"meta", "link", "br", "hr", "img", "input", "col", "area", "base", "wbr", "source"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.open_tags: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids.update(value for name, value in attrs if name == "id" and value)
        if tag not in self.VOID:
            self.open_tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open_tags and self.open_tags[-1] == tag, f"</{tag}> closes {self.open_tags}"
        self.open_tags.pop()


def parse_html(report_dir: Path) -> tuple[str, set[str]]:
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    parser = WellFormedHtml()
    parser.feed(page)
    parser.close()
    assert parser.open_tags == [], f"unclosed: {parser.open_tags}"
    for external in ("<link", " src=", "@import", "url("):
        assert external not in page, f"report.html must be self-contained: {external}"
    return page, parser.ids


def check_reports(report_dir: Path, selected: set[str]) -> dict[str, Any]:
    """The four files agree with each other and cover exactly the selection."""
    for name in REPORT_FILES:
        assert (report_dir / name).is_file(), f"{name} missing"
    summary = load_summary(report_dir)
    assert {entry["id"] for entry in summary["scenarios"]} == selected
    by_scenario: dict[str, list[str]] = {}
    for case, properties in junit_cases(report_dir):
        values = dict(properties)
        assert {"scenario_id", "spec", "doc", "area"} <= values.keys(), properties
        by_scenario.setdefault(values["scenario_id"], []).append(junit_verdict(case))
    ran = {entry["id"] for entry in summary["scenarios"] if entry["verdict"] != "not-run"}
    assert by_scenario.keys() == ran
    for entry in summary["scenarios"]:
        if entry["verdict"] == "not-run":
            continue
        verdicts = by_scenario[entry["id"]]
        expected = "fail" if "fail" in verdicts else "skip" if "skip" in verdicts else "pass"
        assert entry["verdict"] == expected, (entry["id"], verdicts)
    counted = [entry["verdict"] for entry in summary["scenarios"]]
    assert summary["counts"] == {
        "pass": counted.count("pass"),
        "fail": counted.count("fail"),
        "skip": counted.count("skip"),
        "not-run": counted.count("not-run"),
        "total": len(counted),
    }
    assert isinstance(json.loads((report_dir / "cucumber.json").read_text()), list)
    page, ids = parse_html(report_dir)
    assert selected <= ids
    for entry in summary["scenarios"]:
        assert html.escape(entry["title"]) in page
    return summary


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
        "ids": sorted(BUNDLED_SELECTION),
        "tags": [],
        "jobs": 1,
        "serial_pass": False,
    }
    assert summary["errors"] == []
    cases = junit_cases(tmp_path / "out")
    outline = [values for _, values in cases if ("scenario_id", "RR-R-001") in values]
    assert len(outline) == 2, "RR-R-001 is an outline over one-to-one and group chats"
    assert ("spec", "R-1") in outline[0] and ("doc", "receiver-sends") in outline[0]
    [properties] = suite_properties(tmp_path / "out")
    assert properties["target"] == BUNDLED_TARGET
    assert properties["seenby_version"] == summary["versions"]["seenby"]
    assert properties["verdict"] == "conformant"
    assert "PASS  RR-R-004" in result.stdout
    assert "verdict: conformant" in result.stdout


@pytest.fixture
def served_reference_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`python -m reference_server --port 0` (`seenby serve`) in its own process: (url, key)."""
    # A key with a leading dash, as token_urlsafe makes one time in 64: it must survive being
    # handed on to pytest.
    admin_key = "-dash-key"
    command = ["--port", "0", "--db", str(tmp_path / "served.sqlite3"), f"--admin-key={admin_key}"]
    server = subprocess.Popen(
        [sys.executable, "-m", "reference_server", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert server.stdout is not None
    url = None
    lines = []
    for line in server.stdout:  # ends when the server exits: no hang if it never gets ready
        lines.append(line)
        if line.startswith("listening on"):
            url = line.removeprefix("listening on").strip()
            break
    assert url, f"server did not start: {''.join(lines)}"
    # Keep draining its output so the server never blocks on a full pipe.
    threading.Thread(target=server.stdout.read, daemon=True).start()
    try:
        yield url, admin_key
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0


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
    # Both passes' Cucumber JSON, including what xdist workers ran (pytest-bdd alone writes []).
    cucumber = json.loads((tmp_path / "out" / "cucumber.json").read_text())
    tags = {tag["name"] for feature in cucumber for element in feature["elements"]
            for tag in element["tags"]}  # fmt: skip
    assert selection <= tags


# The command line in-process: argument handling needs no pytest run (and no second interpreter).


def test_list_shows_every_scenario_with_its_spec_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    catalogue = load_catalogue(default_features_dir())

    assert cli.main(["run", "--list"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "AREA", "LEVEL", "SPEC", "TITLE"]
    for entry in catalogue:
        [line] = [line for line in lines if line.startswith(entry.id + " ")]
        assert ",".join(entry.spec) in line and entry.title in line
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


class BrokenTarget(BaseHTTPRequestHandler):
    """Advertises itself correctly, then answers every call with data of the wrong shape."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/v1/capabilities":
            self._answer(
                200,
                {
                    "code": 0,
                    "desc": "ok",
                    "data": {
                        "protocol": "seenby/1",
                        "implementation": {"name": "broken-fake", "version": "0.0.1"},
                        "features": ["adminSettings", "onlineUserOnly", "eventReplay"],
                        "limits": {
                            "receiptBatchMax": 30,
                            "memberListCountMax": 100,
                            "groupReceiptMaxMembers": 200,
                        },
                    },
                },
            )
        else:
            self._answer(404, {"code": 90003, "desc": "unknown route", "data": None})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer(200, {"code": 0, "desc": "ok", "data": {"surprise": True}})


@pytest.fixture
def broken_target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BrokenTarget)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_target_that_answers_wrongly_is_not_conformant_with_evidence(
    tmp_path: Path, broken_target: str
) -> None:
    command = f"run --target {broken_target} --admin-key anything --report-dir out --quiet"
    result = seenby(command, "RR-R-004", cwd=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("verdict: not-conformant (1 failed: RR-R-004)")
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

SAMPLE_FEATURE = """\
@area-R
Feature: Sample receipts
  A throw-away suite for testing seenby run, in the real suite's tag conventions.

  @RR-R-001 @spec-R-1 @doc-receiver-sends
  Scenario: A scenario that passes
    Given the number 1
    Then the number is 1

  @RR-R-002 @spec-R-2 @spec-R-1 @doc-receiver-sends
  Scenario Outline: An outline that fails on one row
    Given the number <n>
    Then the number is 1

    Examples:
      | n |
      | 1 |
      | 2 |

  @RR-R-003 @spec-R-3 @doc-receiver-sends @needs-adminSettings
  Scenario: A required scenario the target cannot run
    Given the number 1

  @RR-R-004 @spec-R-4 @doc-receiver-sends @needs-eventReplay @optional
  Scenario: An optional one with <markup> & "quotes" the target cannot run
    Given the number 1
"""

UNBOUND_FEATURE = """\
@area-P
Feature: Sample pushes
  Scenarios that no test module binds, so they never run.

  @RR-P-001 @spec-P-1 @doc-sender-listens
  Scenario: A scenario nobody runs
    Given the number 1
"""

SAMPLE_CONFTEST = """\
import pathlib, re
import pytest
from pytest_bdd import given, parsers, then

def pytest_configure(config):
    for path in (pathlib.Path(__file__).parent / "features").glob("*.feature"):
        for tag in set(re.findall(r"@([^\\s@]+)", path.read_text())):
            config.addinivalue_line("markers", f"{tag}: gherkin tag")

def pytest_runtest_setup(item):
    for marker in item.iter_markers():
        if marker.name.startswith("needs-"):
            pytest.skip(f"target lacks capability {marker.name[6:]!r}")

@given(parsers.parse("the number {n:d}"), target_fixture="number")
def the_number(n):
    return n

@then(parsers.parse("the number is {n:d}"))
def the_number_is(number, n):
    assert number == n, f"expected {n}, got {number}"
"""

SAMPLE_TESTS = """\
from pytest_bdd import scenarios

scenarios("features/sample.feature")
"""


def sample_suite(root: Path, test_module: str = SAMPLE_TESTS) -> Suite:
    (root / "features").mkdir(parents=True)
    (root / "features" / "sample.feature").write_text(SAMPLE_FEATURE)
    (root / "features" / "unbound.feature").write_text(UNBOUND_FEATURE)
    (root / "conftest.py").write_text(SAMPLE_CONFTEST)
    (root / "test_sample.py").write_text(test_module)
    # -p no:seenby: the real suite's plugin (a pytest11 entry point) stays out of the sample.
    return Suite(
        features_dir=root / "features", pytest_args=(str(root), "-p", "no:seenby"), rootdir=root
    )


def test_verdicts_evidence_and_reasons_of_every_kind(tmp_path: Path) -> None:
    lines: list[str] = []
    suite = sample_suite(tmp_path / "suite")
    report = run(RunSettings(suite=suite, report_dir=tmp_path / "out"), lines.append)

    assert report.verdict == "not-conformant"
    summary = check_reports(tmp_path / "out", {f"RR-R-00{n}" for n in range(1, 5)} | {"RR-P-001"})
    assert summary["verdict"] == "not-conformant"
    assert summary["counts"] == {"pass": 1, "fail": 1, "skip": 2, "not-run": 1, "total": 5}
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
    assert any(line.startswith("  FAIL  RR-R-002") for line in lines), lines

    # pytest-bdd's Cucumber JSON leaves skipped scenarios out: never a source of verdicts.
    [feature] = json.loads((tmp_path / "out" / "cucumber.json").read_text())
    assert sorted(element["id"] for element in feature["elements"]) == [
        "test_a_scenario_that_passes",
        "test_an_outline_that_fails_on_one_row[1]",
        "test_an_outline_that_fails_on_one_row[2]",
    ]


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


def entry(scenario_id: str, *, required: bool = True, examples: int = 1) -> CatalogueScenario:
    area = scenario_id.split("-")[1]
    return CatalogueScenario(
        id=scenario_id,
        title=f"scenario {scenario_id}",
        feature="sample.feature",
        line=1,
        area=area,
        spec=(f"{area}-1",),
        doc="protocol",
        required=required,
        serial=False,
        needs=(),
        tags=frozenset({scenario_id}),
        example_count=examples,
    )


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
    result = ScenarioResult.from_items(entry("RR-R-001", examples=2), items)

    assert (result.verdict, result.reason, result.evidence) == (verdict, reason, evidence)
    assert result.duration_s == 0.5 * len(items)


def result(verdict: str, *, required: bool = True) -> ScenarioResult:
    return ScenarioResult(entry("RR-R-001", required=required), verdict, None, None, 0.0)


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
    moment = datetime.now(UTC)
    report = RunReport(
        target=BUNDLED_TARGET,
        capabilities=None,
        settings={},
        versions={},
        started_at=moment,
        finished_at=moment,
        results=results,
        errors=[],
    )

    assert report.verdict == verdict


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
