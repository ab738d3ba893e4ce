"""`seenby.harness.run.known_deviations`: reading a known-deviation file, naming what it covers,
and judging
its entries against what the target did (without running anything)."""

from __future__ import annotations

from pathlib import Path

import pytest

from seenby.harness.run.known_deviations import (
    EntryStatus,
    KnownDeviation,
    KnownDeviationFile,
    KnownDeviationFileError,
)

EXAMPLE = """\
# ACME Chat 2.3 against seenby
[[expect]]
id = "RR-E-004"
result = "deviate"
reason = "We answer a malformed body with HTTP 422."

[[expect]]
id = "@RR-R-001"
row = "group chat"
result = "fail"
reason = "  Group receipts arrive in 2.4.  "

[[expect]]
id = "RR-R-001"
result = "deviate"
reason = "Its other rows deviate."
"""


def load(tmp_path: Path, text: str) -> KnownDeviationFile:
    path = tmp_path / "known.toml"
    path.write_text(text, encoding="utf-8")
    return KnownDeviationFile.load(path)


def test_a_file_reads_into_entries(tmp_path: Path) -> None:
    expectations = load(tmp_path, EXAMPLE)

    assert expectations.source == str(tmp_path / "known.toml")
    assert expectations.entries == (
        KnownDeviation("RR-E-004", None, "deviate", "We answer a malformed body with HTTP 422."),
        KnownDeviation("RR-R-001", "group chat", "fail", "Group receipts arrive in 2.4."),
        KnownDeviation("RR-R-001", None, "deviate", "Its other rows deviate."),
    )
    assert expectations.names_rows()
    assert load(tmp_path, "").entries == (), "an empty file expects nothing"


def test_a_row_entry_comes_before_its_scenario_entry(tmp_path: Path) -> None:
    expectations = load(tmp_path, EXAMPLE)

    assert expectations.for_item("RR-R-001", "group chat") == expectations.entries[1]
    assert expectations.for_item("RR-R-001", "one-to-one chat") == expectations.entries[2]
    assert expectations.for_item("RR-E-004", None) == expectations.entries[0]
    assert expectations.for_item("RR-Q-001", None) is None
    assert [entry.label for entry in expectations.for_scenario("RR-R-001")] == [
        "RR-R-001 [group chat]",
        "RR-R-001",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("[[expect]\n", "is not valid TOML", id="not TOML"),
        pytest.param('title = "x"\n', "unknown top-level key title", id="other top-level key"),
        pytest.param('expect = "x"\n', "write the entries as [[expect]] tables", id="no tables"),
        pytest.param(
            '[[expect]]\nid = "RR-R-001"\nresult = "fail"\n',
            "entry 1: reason is required, as a non-empty string",
            id="no reason",
        ),
        pytest.param(
            '[[expect]]\nid = "RR-R-001"\nresult = "fail"\nreason = " "\n',
            "entry 1: reason is required",
            id="blank reason",
        ),
        pytest.param(
            '[[expect]]\nid = "RR-R-001"\nresult = "fail"\nreason = "r"\nreson = "r"\n',
            "entry 1: unknown key reson (allowed: id, result, reason, row)",
            id="misspelt key",
        ),
        pytest.param(
            '[[expect]]\nid = "RR-R-001"\nresult = "skip"\nreason = "r"\n',
            "result must be one of fail, deviate, not 'skip'",
            id="unknown result",
        ),
        pytest.param(
            '[[expect]]\nid = "RR-R-001"\nrow = 2\nresult = "fail"\nreason = "r"\n',
            "entry 1: row must be a string",
            id="row not a string",
        ),
        pytest.param(
            '[[expect]]\nid = "RR-R-001"\nresult = "fail"\nreason = "r"\n'
            '[[expect]]\nid = "RR-R-001"\nresult = "deviate"\nreason = "r"\n',
            "entry 2 repeats RR-R-001 (entry 1)",
            id="repeated entry",
        ),
    ],
)
def test_a_malformed_file_is_refused_with_the_entry_and_what_is_wrong(
    text: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(KnownDeviationFileError, match=r"known\.toml") as raised:
        load(tmp_path, text)

    assert message in str(raised.value)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KnownDeviationFileError, match=r"cannot read .*absent\.toml"):
        KnownDeviationFile.load(tmp_path / "absent.toml")


def test_every_entry_naming_nothing_is_listed(tmp_path: Path) -> None:
    expectations = load(
        tmp_path,
        EXAMPLE + '[[expect]]\nid = "RR-Z-001"\nresult = "fail"\nreason = "r"\n',
    )
    suite = {"RR-R-001": ["one-to-one chat"], "RR-E-004": []}

    with pytest.raises(KnownDeviationFileError) as raised:
        expectations.check_names(suite)

    assert str(raised.value).splitlines()[1:] == [
        "  entry 2 (RR-R-001 [group chat]): RR-R-001 has no Examples row 'group chat' "
        "(its rows: 'one-to-one chat')",
        "  entry 4 (RR-Z-001): RR-Z-001 names no scenario of the suite "
        "(`seenby run --list` shows them all)",
    ]
    with pytest.raises(KnownDeviationFileError, match="RR-Z-001") as ids_only:
        expectations.check_names(suite, rows=False)
    assert "group chat" not in str(ids_only.value)


@pytest.mark.parametrize(
    ("result", "verdicts", "status"),
    [
        pytest.param("fail", ["fail"], EntryStatus.MET, id="failed as expected"),
        pytest.param("fail", ["pass", "fail"], EntryStatus.MET, id="one failing row is enough"),
        pytest.param("fail", ["pass"], EntryStatus.STALE, id="passes now"),
        pytest.param("fail", ["deviate", "pass"], EntryStatus.STALE, id="only deviates now"),
        pytest.param("deviate", ["deviate"], EntryStatus.MET, id="deviated as expected"),
        pytest.param("deviate", ["pass", "pass"], EntryStatus.STALE, id="no longer deviates"),
        pytest.param("deviate", ["fail"], EntryStatus.EXCEEDED, id="fails instead"),
        pytest.param("fail", ["skip"], EntryStatus.UNCHECKED, id="skipped"),
        pytest.param("fail", ["pass", "not-run"], EntryStatus.UNCHECKED, id="a row did not run"),
        pytest.param("fail", ["fail", "not-run"], EntryStatus.MET, id="met before a row ran"),
    ],
)
def test_an_entry_is_judged_by_the_worst_verdict_that_ran(
    result: str, verdicts: list[str], status: EntryStatus
) -> None:
    assert KnownDeviation("RR-R-001", None, result, "r").assess(verdicts) is status


def test_a_scenario_entry_covers_the_rows_without_their_own(tmp_path: Path) -> None:
    expectations = load(tmp_path, EXAMPLE)
    row_entry, scenario_entry = expectations.for_scenario("RR-R-001")
    ran = {"group chat": "fail", "one-to-one chat": "deviate"}

    assert expectations.covered_verdicts(row_entry, ran, 2) == ["fail"]
    assert expectations.covered_verdicts(scenario_entry, ran, 2) == ["deviate"]
    assert expectations.covered_verdicts(scenario_entry, {"group chat": "fail"}, 2) == ["not-run"]
    assert expectations.covered_verdicts(row_entry, {}, 2) == ["not-run"]


def test_the_advice_says_what_to_do_with_a_stale_entry() -> None:
    entry = KnownDeviation("RR-R-001", "group chat", "fail", "ACME-812")

    assert entry.advice(EntryStatus.STALE, "known.toml") == (
        "RR-R-001 [group chat]: expected to fail, it no longer does: remove the entry from "
        'known.toml, or set result = "deviate" if it still deviates'
    )
    assert entry.advice(EntryStatus.MET, "known.toml") == (
        "RR-R-001 [group chat]: failed as expected (ACME-812)"
    )
