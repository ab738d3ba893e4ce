"""Wire transcripts in the reports: a failing scenario's ``report.html`` shows its
transcript (checked in headless Chromium, in the DOM it renders), JUnit carries it in
``<system-out>``, the summary names the files, and no report file holds a credential of the run
(the admin key, any user token)."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from suite_runs import load_summary, scenario, seenby

from seenby.reference_server import RunningServer
from seenby.reference_server.values import NewUser
from tests.mutants.gallery import PushToEveryMember, Variant

FAILING = "RR-P-008"
"""A scenario the faulty server below fails (a receipt push to another member)."""
ISSUED_TOKENS: list[str] = []


class TokenRecordingServer(PushToEveryMember):
    """The faulty variant, remembering every token it issues, so the test can look for them."""

    def create_user(
        self, user_id: str, nick_name: str | None = None, face_url: str | None = None
    ) -> NewUser:
        created = super().create_user(user_id, nick_name, face_url)
        ISSUED_TOKENS.append(created.token)
        return created


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, RunningServer]]:
    reports = tmp_path_factory.mktemp("reports")
    variant = Variant(
        "recording", ("P-4",), "pushes receipts to members", service=TokenRecordingServer
    )
    with variant.start() as server:
        finished = seenby(
            f"run --quiet --target={server.url} --admin-key={server.admin_key} "
            f"--report-dir {reports}",
            FAILING,
            "RR-E-001",
            cwd=reports,
        )
        assert finished.returncode == 1, finished.stdout + finished.stderr
        yield reports, server


def test_the_summary_names_each_items_transcript(faulty_run: tuple[Path, RunningServer]) -> None:
    reports, _ = faulty_run
    failing = scenario(load_summary(reports), FAILING)
    assert failing["verdict"] == "fail"
    for transcript in failing["transcripts"]:
        text = (reports / transcript["path"]).read_text(encoding="utf-8")
        assert "POST /v1/sendMessageReadReceipts → HTTP 200 code 0" in text
        assert "push onRecvMessageReadReceipts" in text


def test_junit_carries_the_failing_scenarios_transcript(
    faulty_run: tuple[Path, RunningServer],
) -> None:
    reports, _ = faulty_run
    cases = ET.parse(reports / "junit.xml").getroot().iter("testcase")
    (failing,) = [case for case in cases if case.get("name", "").startswith(FAILING)]
    output = failing.findtext("system-out") or ""
    assert "wire transcript:" in output and "POST /v1/sendMessage" in output


def test_no_report_file_holds_a_credential(faulty_run: tuple[Path, RunningServer]) -> None:
    reports, server = faulty_run
    assert ISSUED_TOKENS, "the run created users"
    secrets = [server.admin_key, *ISSUED_TOKENS]
    for path in sorted(p for p in reports.rglob("*") if p.is_file()):
        content = path.read_text(encoding="utf-8")
        leaked = [secret[:6] + "…" for secret in secrets if secret in content]
        assert not leaked, f"{path.relative_to(reports)} holds credentials {leaked}"
    assert "&lt;redacted&gt;" in (reports / "report.html").read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_report_html_shows_the_transcript_in_chromium(
    faulty_run: tuple[Path, RunningServer], tmp_path: Path
) -> None:
    reports, _ = faulty_run
    rendered = subprocess.run(
        [
            "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
            (reports / "report.html").resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )  # fmt: skip
    dom = Node.parse(rendered.stdout)
    scenario = next(e for e in dom.iter("details") if e.attrs.get("id") == FAILING)
    transcripts = [e for e in scenario.iter("details") if e.attrs.get("class") == "transcript"]
    assert transcripts, "the failing scenario shows no transcript"
    lines = [code.text() for code in transcripts[0].iter("code")]
    assert any("POST /v1/sendMessageReadReceipts" in line for line in lines), lines[:5]
    exchanges = [e for e in transcripts[0].iter("details") if e.attrs.get("class") == "exchange"]
    assert exchanges and list(exchanges[0].iter("pre")), "exchanges expand to their bodies"


@dataclass
class Node:
    """An element of the DOM Chromium rendered (enough of one to search it)."""

    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @classmethod
    def parse(cls, markup: str) -> Node:
        """The document's tree (void elements closed, unclosed ones closed at their parent)."""
        root = cls("#document", {})
        stack = [root]

        class Builder(HTMLParser):
            def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
                node = Node(tag, {name: value or "" for name, value in attrs})
                stack[-1].children.append(node)
                if tag not in _VOID:
                    stack.append(node)

            def handle_endtag(self, tag: str) -> None:
                while len(stack) > 1 and stack.pop().tag != tag:
                    pass

            def handle_data(self, data: str) -> None:
                stack[-1].children.append(data)

        Builder().feed(markup)
        return root

    def iter(self, tag: str) -> Iterator[Node]:
        """Every descendant element called ``tag``, in document order."""
        for child in self.children:
            if isinstance(child, Node):
                if child.tag == tag:
                    yield child
                yield from child.iter(tag)

    def text(self) -> str:
        """The text inside it."""
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)


_VOID = frozenset({"meta", "br", "hr", "img", "input", "link"})
