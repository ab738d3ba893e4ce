"""The galleries are sound, the suite catches a diverse handful of faulty servers, and it
passes the correct server that makes every allowed choice at once.

The full kill run (every variant and alternative, the whole suite) is ``python -m tests.mutants``;
CI runs fast subsets: each faulty variant against only the scenarios tagged with the behaviours
it breaks, the combined correct alternative against only the scenarios where the spec leaves
room, and the correct server against all of those scenarios, so a catch can never come from a
scenario that also fails on the correct server.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from seenby.harness.run.catalogue import default_features_dir, load_catalogue

from .alternatives import alternative_named
from .gallery import GALLERY, REFERENCE, variant_named
from .killrun import (
    REPO,
    AlternativeVerdict,
    FailedScenario,
    KillRun,
    KillVerdict,
    SeenDeviation,
    _deviations_of,
    describe,
    run_gallery,
    sections_match,
    write_report,
)

SPEC = REPO / "docs" / "spec" / "receipts-spec.md"
BEHAVIOUR_ID = re.compile(r"^- (?P<id>[A-Z]-\d+) ", re.MULTILINE)
VARIANT_NAME = re.compile(r"(?P<area>[A-Z])(?P<number>\d+)(?:_[A-Za-z0-9]+)+")

FAST_SUBSET = (
    "R5_duplicate_receipt_counted",  # storage: a missing idempotency check
    "M1_denominator_follows_live_membership",  # storage: the recipient snapshot
    "P4_push_to_every_member",  # rules: who is notified
    "L3_last_page_off_by_one",  # rules: paging
    "E3_bad_json_is_500",  # http: error mapping
    "X1_user_token_opens_admin_methods",  # http: a missing permission check
    "V1_readCount_sent_as_string",  # serialisation
)
"""Diverse variants whose focused runs are quick (none of them makes the suite wait out a
push timeout)."""


def spec_behaviours() -> list[str]:
    """The behaviour IDs docs/spec/receipts-spec.md defines, in order."""
    return BEHAVIOUR_ID.findall(SPEC.read_text(encoding="utf-8"))


def test_every_spec_behaviour_is_broken_by_some_variant() -> None:
    broken = {behaviour for each in GALLERY for behaviour in each.breaks}
    missing = [behaviour for behaviour in spec_behaviours() if behaviour not in broken]
    assert not missing, f"no variant breaks {missing}"
    assert len(GALLERY) >= 40


def test_variants_are_uniquely_named_after_a_behaviour_they_break() -> None:
    names = [each.name for each in GALLERY]
    assert len(set(names)) == len(names), f"repeated names: {sorted(names)}"
    known = set(spec_behaviours())
    for each in GALLERY:
        named = VARIANT_NAME.fullmatch(each.name)
        assert named, f"{each.name}: a name is <area><number>_<what_goes_wrong>"
        assert f"{named['area']}-{named['number']}" == each.breaks[0], each
        assert set(each.breaks) <= known, f"{each.name} breaks unknown behaviours {each.breaks}"
        assert each.layer != REFERENCE.layer and each.bug, each


def test_every_broken_behaviour_is_encoded_by_a_scenario() -> None:
    tagged = {behaviour for s in load_catalogue(default_features_dir()) for behaviour in s.spec}
    untestable = [each.name for each in GALLERY if not set(each.breaks) & tagged]
    assert not untestable, f"no scenario is tagged with what these variants break: {untestable}"


def test_only_a_failure_of_a_scenario_about_a_broken_behaviour_catches() -> None:
    duplicate_counted = variant_named("R5_duplicate_receipt_counted")
    unrelated = FailedScenario("RR-E-001", ("E-1",), "expected ...")
    about_it = FailedScenario("RR-R-012", ("R-5", "R-4"), "expected ...")
    alone = KillVerdict(duplicate_counted, "not-conformant", 109, (unrelated,), (), 1.0)
    both = KillVerdict(duplicate_counted, "not-conformant", 109, (unrelated, about_it), (), 1.0)
    assert not alone.caught and alone.unrelated == ["RR-E-001"]
    assert both.caught_by == ["RR-R-012"] and both.unrelated == ["RR-E-001"]


def _deviation(scenario: str, spec: tuple[str, ...], section: str) -> SeenDeviation:
    return SeenDeviation(scenario, spec, section, "HTTP status of code 6017", "400", "422")


def test_a_bug_seen_only_as_a_strict_deviation_is_not_counted_as_caught() -> None:
    # Any variant will do: the verdicts are made up; the gallery itself has no such bug.
    bad_json = variant_named("E3_bad_json_is_500")
    deviated = (FailedScenario("RR-E-004", ("E-3", "E-1"), ""),)
    strict_only = KillVerdict(
        bad_json, "conformant", 122, (), (), 1.0, (_deviation("RR-E-004", ("E-3",), "§1.2"),),
        deviated, 0,
    )  # fmt: skip
    elsewhere = KillVerdict(
        bad_json, "conformant", 122, (), (), 1.0, (), (FailedScenario("RR-V-001", ("V-1",), ""),),
        0,
    )  # fmt: skip
    assert strict_only.strict_only and not strict_only.caught
    assert strict_only.deviated_by == ["RR-E-004"]
    assert not elsewhere.strict_only and not elsewhere.caught
    run = KillRun(
        KillVerdict(REFERENCE, "conformant", 122, (), (), 1.0, exit_status=0),
        (strict_only, elsewhere), False, 2, datetime.now(UTC), 2.0,
    )  # fmt: skip
    assert run.survivors == [elsewhere] and run.strict_only == [strict_only]
    assert run.faulty_line() == "caught 0 of 2, 1 more only as a strict deviation"


def test_a_summary_without_deviations_or_with_partial_ones_is_read_as_it_is() -> None:
    scenario = {"id": "RR-E-002", "spec": ["E-1"], "verdict": "pass"}
    assert _deviations_of(scenario) == []
    partial = {**scenario, "deviations": [{"section": "§1.2", "check": "HTTP status of 6017"}]}
    (seen,) = _deviations_of(partial)
    assert (seen.scenario, seen.section, seen.check, seen.observed) == (
        "RR-E-002", "§1.2", "HTTP status of 6017", ""
    )  # fmt: skip


def test_sections_match_a_section_and_its_subsections_only() -> None:
    assert sections_match("§5.2", "§5") and sections_match("§1.2", "§1.2")
    assert sections_match("docs/protocol.md §1.2", "§1.2")
    assert not sections_match("§6", "§6.1") and not sections_match("§1.3", "§1.2")
    assert not sections_match("§1", "§6")
    assert not sections_match("", "§1")


def test_an_alternative_passes_only_with_exactly_its_deviations_and_strict_failing() -> None:
    statuses = alternative_named("own_statuses_for_spec_codes")  # declares §1.2
    deviated = (FailedScenario("RR-E-002", ("E-1", "E-2"), ""),)

    def verdict(
        sections: tuple[str, ...], strict_exit: int, core_exit: int = 0
    ) -> AlternativeVerdict:
        seen = tuple(_deviation("RR-E-002", ("E-1",), section) for section in sections)
        server = statuses.server
        core = KillVerdict(server, "conformant", 122, (), (), 1.0, seen, deviated, core_exit)
        strict = KillVerdict(server, "not-conformant", 1, (), (), 1.0, seen, deviated, strict_exit)
        return AlternativeVerdict(statuses, core, strict)

    assert verdict(("§1.2",), strict_exit=1).passes
    assert not verdict(("§1.2",), strict_exit=0).passes  # --strict must fail
    assert not verdict(("§1.2",), strict_exit=1, core_exit=1).passes  # core must pass
    unexpected = verdict(("§1.2", "§5.1"), strict_exit=1)
    assert not unexpected.passes and [d.section for d in unexpected.unexpected] == ["§5.1"]
    missing = AlternativeVerdict(
        statuses, KillVerdict(statuses.server, "conformant", 122, (), (), 1.0, exit_status=0), None
    )
    assert not missing.passes and missing.missing == ["§1.2"]
    nothing_declared = alternative_named("smaller_limits")
    quiet = KillVerdict(nothing_declared.server, "conformant", 122, (), (), 1.0, exit_status=0)
    assert AlternativeVerdict(nothing_declared, quiet, None).passes


def test_the_report_is_marked_generated_and_counts_both_tables(tmp_path: Path) -> None:
    control = KillVerdict(REFERENCE, "conformant", 109, (), (), 30.0, exit_status=0)
    caught = KillVerdict(
        variant_named("R5_duplicate_receipt_counted"),
        "not-conformant",
        109,
        (FailedScenario("RR-R-012", ("R-5",), "expected ..."),),
        (),
        30.0,
    )
    survivor = KillVerdict(variant_named("E3_bad_json_is_500"), "conformant", 109, (), (), 30.0)
    quiet = alternative_named("smaller_limits")
    passing = AlternativeVerdict(
        quiet, KillVerdict(quiet.server, "conformant", 109, (), (), 30.0, exit_status=0), None
    )
    run = KillRun(
        control, (caught, survivor), False, 2, datetime.now(UTC), 60.0, (passing,)
    )  # fmt: skip
    report = tmp_path / "conformance-power.md"
    write_report(run, report)
    text = report.read_text(encoding="utf-8")
    assert text.startswith("<!-- Generated by `python -m tests.mutants`")
    assert "**Faulty variants caught 1 of 2.**" in text
    assert "**Correct alternatives passed 1 of 1.**" in text
    assert "| `E3_bad_json_is_500` | E-3 | http |" in text and "**survives**" in text
    assert "| `smaller_limits` | rules |" in text and "| exit 0 | exit 0 | passes |" in text


def test_a_fast_subset_of_the_gallery_is_caught_and_the_correct_server_passes(
    tmp_path: Path,
) -> None:
    chosen = [variant_named(name) for name in FAST_SUBSET]
    run = run_gallery(chosen, jobs=2, focused=True, work_dir=tmp_path)
    report = "\n".join(describe(verdict) for verdict in (run.control, *run.verdicts))
    assert run.control.passed_cleanly, f"the correct server fails:\n{report}"
    assert not run.survivors, f"{run.summary_line()}:\n{report}"


def test_the_server_making_every_allowed_choice_passes_with_exactly_its_deviations(
    tmp_path: Path,
) -> None:
    every_choice = alternative_named("every_choice")
    run = run_gallery((), [every_choice], jobs=2, focused=True, work_dir=tmp_path)
    verdicts: list[KillVerdict | AlternativeVerdict] = [run.control, *run.alternatives]
    report = "\n".join(describe(verdict) for verdict in verdicts)
    assert run.control.passed_cleanly, f"the correct server fails:\n{report}"
    assert not run.rejected, f"{run.summary_line()}:\n{report}"
