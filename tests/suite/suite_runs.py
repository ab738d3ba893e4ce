"""Helpers of the `seenby run` tests: running the command, reading and cross-checking its four
report files, and a throw-away sample suite in the real suite's tag conventions."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import xmlschema

from seenby.harness.reports.summary import VERDICTS, RunReport, ScenarioResult
from seenby.harness.run.catalogue import CatalogueScenario
from seenby.harness.run.known_deviations import KnownDeviationFile
from seenby.harness.run.runner import BUNDLED_TARGET, Suite
from seenby.harness.wire.validation import validator

RUN_TIMEOUT_S = 180
REPORT_FILES = ("junit.xml", "cucumber.json", "conformance-summary.json", "report.html")


def python_module(module: str, *arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m module arguments` as a CI job would run it: output captured, and without the
    caller's SEENBY_* variables."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SEENBY_")}
    return subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def seenby(command: str, *ids: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the `seenby` command line: `command` split on spaces, then an `--id` option per
    scenario ID of `ids`."""
    arguments = command.split() + [arg for scenario_id in ids for arg in ("--id", scenario_id)]
    return python_module("seenby.harness.cli", *arguments, cwd=cwd)


def pytest_run(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """pytest itself (without a cache)."""
    return python_module("pytest", "-p", "no:cacheprovider", *arguments, cwd=cwd)


def load_summary(report_dir: Path) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads((report_dir / "conformance-summary.json").read_text())
    errors = sorted(validator("conformance-summary.json").iter_errors(summary), key=str)
    assert not errors, "\n".join(error.message for error in errors)
    return summary


def scenario(summary: dict[str, Any], scenario_id: str) -> dict[str, Any]:
    [found] = [entry for entry in summary["scenarios"] if entry["id"] == scenario_id]
    return found


JUNIT_XSD = Path(__file__).parent / "schemas" / "junit-10.xsd"
CASE_NAME = re.compile(r"(?P<id>RR-[A-Z]-\d{3}) (?P<title>.+?)(?: \[(?P<row>[^\]]*)\])?")


def junit_cases(report_dir: Path) -> list[ET.Element]:
    """Every <testcase> of junit.xml, after checking the file against the JUnit XSD pytest
    follows (with a real validator) and that each case is named `<ID> <title>[ [row]]`."""
    xmlschema.XMLSchema(JUNIT_XSD).validate(report_dir / "junit.xml")
    root = ET.parse(report_dir / "junit.xml").getroot()
    assert root.tag == "testsuites"
    cases = []
    for suite in root.iter("testsuite"):
        assert suite[0].tag == "properties", "suite <properties> first, as CI tools expect"
        for case in suite.iter("testcase"):
            assert CASE_NAME.fullmatch(case.get("name", "")), case.get("name")
            assert case.get("classname", "").startswith("seenby."), case.attrib
            cases.append(case)
    return cases


def case_id(case: ET.Element) -> str:
    """The scenario ID a testcase's name starts with."""
    return case.get("name", "").split(" ", 1)[0]


def suite_properties(report_dir: Path) -> list[dict[str, str]]:
    root = ET.parse(report_dir / "junit.xml").getroot()
    return [
        {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}
        for suite in root.iter("testsuite")
        if suite.find("properties") is not None
    ]


def junit_verdict(case: ET.Element) -> str:
    """The item verdict a testcase shows: a failure typed as a strict deviation (``--strict``)
    is a deviation, an expected failure (a skip typed so) a failure, a stale entry's failure
    whatever the item did; a deviation otherwise shows in <system-out>."""
    failure = case.find("failure")
    if failure is None:
        failure = case.find("error")
    kind = failure.get("type") if failure is not None else None
    if kind == "seenby.strict-deviation":
        return "deviate"
    if failure is not None and kind != "seenby.stale-expectation":
        return "fail"
    skipped = case.find("skipped")
    if skipped is not None:
        return "fail" if skipped.get("type") == "seenby.expected-failure" else "skip"
    return "deviate" if "strict deviation" in (case.findtext("system-out") or "") else "pass"


def combined(verdicts: list[str]) -> str:
    """A scenario's verdict from its items' (the rule of harness.reports.summary, when all ran)."""
    return next((verdict for verdict in ("fail", "skip", "deviate") if verdict in verdicts), "pass")


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
    cases = junit_cases(report_dir)
    for case in cases:
        by_scenario.setdefault(case_id(case), []).append(junit_verdict(case))
    ran = {entry["id"] for entry in summary["scenarios"] if entry["verdict"] != "not-run"}
    assert by_scenario.keys() == ran
    for entry in summary["scenarios"]:
        if entry["verdict"] != "not-run":
            assert entry["verdict"] == combined(by_scenario[entry["id"]]), entry["id"]
        assert (entry["verdict"] == "deviate") <= bool(entry["deviations"]), entry["id"]
    counted = [entry["verdict"] for entry in summary["scenarios"]]
    assert summary["counts"] == {verdict: counted.count(verdict) for verdict in VERDICTS} | {
        "total": len(counted)
    }
    features = json.loads((report_dir / "cucumber.json").read_text())
    elements = [element for feature in features for element in feature["elements"]]
    assert len(elements) == len(cases), "cucumber.json holds every item that reported"
    page, ids = parse_html(report_dir)
    assert selected <= ids
    for entry in summary["scenarios"]:
        assert html.escape(entry["title"]) in page
    return summary


class FakeTarget(BaseHTTPRequestHandler):
    """A target that answers GET /v1/capabilities with `capabilities` (its data), every POST
    with `post_answer` (status, envelope) and any other GET as an unknown route."""

    protocol_version = "HTTP/1.1"
    capabilities: ClassVar[dict[str, Any]] = {}
    post_answer: ClassVar[tuple[int, dict[str, Any]]] = (404, {"code": 1, "desc": "no"})

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
            self._answer(200, {"code": 0, "desc": "ok", "data": self.capabilities})
        else:
            self._answer(404, {"code": 90003, "desc": "unknown route", "data": None})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer(*self.post_answer)


@contextmanager
def serving(handler: type[FakeTarget]) -> Iterator[str]:
    """Serve `handler` on a free loopback port; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def catalogued(scenario_id: str, *, required: bool = True, examples: int = 1) -> CatalogueScenario:
    """A catalogue entry for the verdict rules, without any feature file."""
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


def run_report(
    results: Sequence[ScenarioResult],
    *,
    strict: bool = False,
    expectations: KnownDeviationFile | None = None,
) -> RunReport:
    """A report of `results` against the bundled server, for the verdict rules."""
    moment = datetime.now(UTC)
    return RunReport(
        target=BUNDLED_TARGET,
        capabilities=None,
        settings={},
        versions={},
        started_at=moment,
        finished_at=moment,
        results=results,
        errors=[],
        strict=strict,
        expectations=expectations,
    )


# --- the sample suite ------------------------------------------------------------------------

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

DEVIATING_FEATURE = """\
@area-E
Feature: Sample strict checks
  Scenarios whose core checks hold while a strict check does not.

  @RR-E-001 @spec-E-1 @doc-protocol
  Scenario: A refusal with another status than the reference's
    Given the number 1
    Then the target answers 422 where the reference answers 400

  @RR-E-002 @spec-E-1 @doc-protocol
  Scenario Outline: The same choice on every row
    Given the number <n>
    Then the target answers 422 where the reference answers 400

    Examples:
      | n |
      | 1 |
      | 2 |

  @RR-E-003 @spec-E-2 @doc-protocol
  Scenario: Another choice
    Given the number 1
    Then the target answers code 7 where the reference answers code 90006
"""

SAMPLE_CONFTEST = """\
import pathlib, re
import pytest
from pytest_bdd import given, parsers, then

from seenby.harness.wire.deviations import DEVIATION_PROPERTY, Deviation

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

@then(parsers.parse("the target answers {observed} where the reference answers {reference}"))
def the_target_deviates(request, observed, reference):
    deviation = Deviation("answer to a refused call", "§1.2", reference, observed, "POST /v1/x")
    request.node.user_properties.append((DEVIATION_PROPERTY, deviation.to_json()))
"""

SAMPLE_TESTS = """\
from pytest_bdd import scenarios

scenarios("features/sample.feature")
"""

DEVIATING_TESTS = """\
from pytest_bdd import scenarios

scenarios("features/sample.feature", "features/deviating.feature")
"""


def sample_suite(root: Path, test_module: str = SAMPLE_TESTS, *, deviating: bool = False) -> Suite:
    """The sample suite in `root`: sample.feature (pass, fail, skips), unbound.feature (never
    run), and with `deviating` also deviating.feature (strict deviations), bound too."""
    (root / "features").mkdir(parents=True)
    (root / "features" / "sample.feature").write_text(SAMPLE_FEATURE)
    (root / "features" / "unbound.feature").write_text(UNBOUND_FEATURE)
    if deviating:
        (root / "features" / "deviating.feature").write_text(DEVIATING_FEATURE)
        test_module = DEVIATING_TESTS
    (root / "conftest.py").write_text(SAMPLE_CONFTEST)
    (root / "test_sample.py").write_text(test_module)
    # -p no:seenby: the real suite's plugin (a pytest11 entry point) stays out of the sample.
    return Suite(
        features_dir=root / "features", pytest_args=(str(root), "-p", "no:seenby"), rootdir=root
    )
