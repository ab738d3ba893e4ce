"""The kill run: the conformance suite against both galleries, and its report.

For each faulty variant, each correct alternative and, as the control, the correct server served
the same way:

1. ``serve`` starts it in its own process, on 127.0.0.1, a free port and a fresh database;
2. ``seenby run --target URL --admin-key KEY`` runs the suite against it (every scenario, or with
   ``focused`` only those about its behaviours) and writes ``conformance-summary.json``;
3. a faulty variant is *caught* when a failed scenario is tagged ``@spec-`` with a behaviour it
   breaks, *strict only* when no such scenario failed but one reported a strict deviation, and
   *survives* otherwise; failures of other scenarios are reported but never counted;
4. a correct alternative *passes* when the run exits 0 with no failed scenario, the strict
   deviations it reports are exactly those it declares, and ``seenby run --strict`` over the
   scenarios that deviated exits 1 (with none declared and none seen, the strict run is the core
   run: nothing more to count). "Exactly" is judged by docs/protocol.md section: every section
   declared is reported by at least one deviation in it, and every deviation is in a section
   declared, where a section holds its subsections (``§5.2`` is in a declared ``§5``; ``§6`` is not
   in a declared ``§6.1``, nor ``§1.3`` in ``§1.2``).

Servers run in parallel, ``jobs`` at a time, each in its own processes. The summary's
``deviations`` per scenario and its ``deviate`` verdict are read where present and taken as
absent otherwise. ``write_report`` turns the result into ``docs/conformance-power.md``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from .alternatives import Alternative
from .gallery import GALLERY, REFERENCE, Variant

__all__ = [
    "AlternativeVerdict",
    "KillRun",
    "KillVerdict",
    "SeenDeviation",
    "run_alternative",
    "run_gallery",
    "run_variant",
    "sections_match",
    "write_report",
]

REPO = Path(__file__).resolve().parents[2]
"""The repository (``tests/mutants/killrun.py`` → ``.``)."""

SUITE_TIMEOUT = 900.0
"""Seconds one suite run against one variant may take before it is stopped."""
SERVER_START_TIMEOUT = 30.0
"""Seconds a variant's process may take to print its URL."""
LATITUDE_TAGS = ("area-E", "area-X", "area-V", "area-C", "area-Y", "latitude")
"""The scenarios a focused run puts to a correct alternative: errors, security, payloads, the
conversation mark and the push channel, where the spec leaves its latitude, and every scenario
that passes an item-by-item answer and a whole-call refusal alike (``@latitude``)."""
_SECTION = re.compile(r"§\d+(?:\.\d+)*")

# The folder holding this package's top-level package, so that the serving process imports the
# gallery exactly as this process did (``tests.mutants`` from the repository, or ``mutants``
# when pytest imported it with ``tests/`` on the path).
_IMPORT_ROOT = Path(__file__).resolve().parents[len(__package__.split("."))]
_SERVE_MODULE = f"{__package__}.serve"


@dataclass(frozen=True)
class FailedScenario:
    """A scenario that failed against a variant, with the behaviours it is tagged with."""

    id: str
    spec: tuple[str, ...]
    evidence: str


@dataclass(frozen=True)
class SeenDeviation:
    """A strict deviation a scenario reported: where docs/protocol.md decides it, and what."""

    scenario: str
    spec: tuple[str, ...]
    section: str
    """The section as reported (``"§1.2"``), or ``""`` if the report names none."""
    check: str
    reference: str
    observed: str

    def __str__(self) -> str:
        return (
            f"{self.scenario} {self.section or '(no section)'}: {self.check} (the reference "
            f"answers {self.reference}, this server {self.observed})"
        )


def sections_match(reported: str, declared: str) -> bool:
    """Whether a deviation reported at ``reported`` is one declared at ``declared``: the same
    section or one of its subsections (``§5.2`` is within a declared ``§5``; ``§6`` is not
    within a declared ``§6.1``, nor ``§1.3`` within ``§1.2``)."""
    found = _SECTION.search(reported)
    if found is None:
        return False
    parts, within = found.group().split("."), declared.split(".")
    return parts[: len(within)] == within


@dataclass(frozen=True)
class KillVerdict:
    """What the suite did against one server."""

    variant: Variant
    suite_verdict: str | None
    """The summary's run verdict (``None``: no summary written)."""
    scenarios: int
    failed: tuple[FailedScenario, ...]
    problems: tuple[str, ...]
    """Why the run itself went wrong (server did not start, scenarios not run, ...)."""
    duration_s: float
    deviations: tuple[SeenDeviation, ...] = ()
    deviated: tuple[FailedScenario, ...] = ()
    """Scenarios with the ``deviate`` verdict or at least one deviation."""
    exit_status: int | None = None
    """``seenby run``'s exit status (``None``: it did not finish)."""

    @property
    def caught_by(self) -> list[str]:
        """Failed scenarios tagged with a behaviour the variant breaks."""
        breaks = set(self.variant.breaks)
        return [f.id for f in self.failed if breaks & set(f.spec)]

    @property
    def unrelated(self) -> list[str]:
        """Failed scenarios about other behaviours only."""
        caught = set(self.caught_by)
        return [f.id for f in self.failed if f.id not in caught]

    @property
    def caught(self) -> bool:
        """At least one scenario about a broken behaviour failed."""
        return bool(self.caught_by)

    @property
    def deviated_by(self) -> list[str]:
        """Scenarios tagged with a broken behaviour that reported a strict deviation."""
        breaks = set(self.variant.breaks)
        return [d.id for d in self.deviated if breaks & set(d.spec)]

    @property
    def strict_only(self) -> bool:
        """No scenario about a broken behaviour failed, but one deviated: the bug is only a
        strict deviation."""
        return not self.caught and bool(self.deviated_by)

    @property
    def passed_core(self) -> bool:
        """``seenby run`` exited 0, nothing failed and the run itself went right."""
        return self.exit_status == 0 and not self.failed and not self.problems

    @property
    def passed_cleanly(self) -> bool:
        """Every selected scenario passed or was an optional skip, with no strict deviation
        (the control's duty)."""
        return self.suite_verdict == "conformant" and self.passed_core and not self.deviated


@dataclass(frozen=True)
class KillRun:
    """The control run on the correct server and one verdict per variant."""

    control: KillVerdict
    verdicts: tuple[KillVerdict, ...]
    focused: bool
    jobs: int
    started_at: datetime
    duration_s: float

    alternatives: tuple[AlternativeVerdict, ...] = ()

    @property
    def survivors(self) -> list[KillVerdict]:
        """Variants no scenario about their behaviours caught, not even as a deviation."""
        return [v for v in self.verdicts if not v.caught and not v.strict_only]

    @property
    def strict_only(self) -> list[KillVerdict]:
        """Variants whose bug only a strict deviation shows."""
        return [verdict for verdict in self.verdicts if verdict.strict_only]

    @property
    def rejected(self) -> list[AlternativeVerdict]:
        """Correct alternatives the suite fails, or whose deviations are not the declared ones."""
        return [verdict for verdict in self.alternatives if not verdict.passes]

    @property
    def ok(self) -> bool:
        """The suite passes on the correct server, catches every variant (at least as a strict
        deviation) and passes every correct alternative with exactly its deviations."""
        return self.control.passed_cleanly and not self.survivors and not self.rejected

    def faulty_line(self) -> str:
        """``caught K of N`` (and how many only as a strict deviation)."""
        caught = sum(verdict.caught for verdict in self.verdicts)
        line = f"caught {caught} of {len(self.verdicts)}"
        if self.strict_only:
            line += f", {len(self.strict_only)} more only as a strict deviation"
        return line

    def alternatives_line(self) -> str:
        """``passed M of M``."""
        passed = len(self.alternatives) - len(self.rejected)
        return f"passed {passed} of {len(self.alternatives)}"

    def summary_line(self) -> str:
        """Both tables in one line."""
        parts = []
        if self.verdicts:
            parts.append(f"faulty variants {self.faulty_line()}")
        if self.alternatives:
            parts.append(f"correct alternatives {self.alternatives_line()}")
        return "; ".join(parts)


@dataclass(frozen=True)
class AlternativeVerdict:
    """A correct alternative's core run and, if it deviated, its strict run."""

    alternative: Alternative
    core: KillVerdict
    strict: KillVerdict | None
    """``seenby run --strict`` over the scenarios that deviated (``None`` when none did)."""

    @property
    def unexpected(self) -> list[SeenDeviation]:
        """Deviations in no declared section."""
        declared = self.alternative.deviates
        return [
            seen
            for seen in self.core.deviations
            if not any(sections_match(seen.section, section) for section in declared)
        ]

    @property
    def missing(self) -> list[str]:
        """Declared sections no deviation was reported in."""
        seen = self.core.deviations
        return [
            section
            for section in self.alternative.deviates
            if not any(sections_match(d.section, section) for d in seen)
        ]

    @property
    def strict_exit_status(self) -> int | None:
        """The exit status of ``--strict``: the strict run's, or the core run's when nothing
        deviated (the strict run would count nothing more)."""
        return self.core.exit_status if self.strict is None else self.strict.exit_status

    @property
    def passes(self) -> bool:
        """Core passes, the deviations are exactly the declared ones, and ``--strict`` fails
        exactly when there are any."""
        expected_strict = 1 if self.core.deviated else 0
        return (
            self.core.passed_core
            and not self.unexpected
            and not self.missing
            and self.strict_exit_status == expected_strict
            and (self.strict is None or not self.strict.problems)
        )

    def reasons(self) -> list[str]:
        """Why it does not pass, one line each (empty when it passes)."""
        core = self.core
        reasons = [f"core: {f.id} fails: {_evidence(f.evidence)}" for f in core.failed]
        if core.exit_status != 0:
            reasons.append(f"core: seenby run exits {core.exit_status}")
        reasons += [f"core: {problem}" for problem in core.problems]
        reasons += [f"deviation not declared: {seen}" for seen in self.unexpected]
        reasons += [f"no deviation reported in declared {section}" for section in self.missing]
        if self.strict is not None:
            reasons += [f"strict: {problem}" for problem in self.strict.problems]
        if core.passed_core and self.strict_exit_status != (1 if core.deviated else 0):
            reasons.append(f"seenby run --strict exits {self.strict_exit_status}")
        return reasons

    def headline(self) -> str:
        """``passes``, or why not in a few words (the report's verdict cell)."""
        if self.passes:
            return "passes"
        parts = []
        failed = [f.id for f in self.core.failed]
        if failed:
            shown = ", ".join(failed[:_IDS_SHOWN])
            if len(failed) > _IDS_SHOWN:
                shown += f", +{len(failed) - _IDS_SHOWN}"
            parts.append(f"{len(failed)} fail at core ({shown})")
        if self.unexpected:
            parts.append("undeclared deviations in " + ", ".join(_sections(self.unexpected)))
        if self.missing:
            parts.append("no deviation in " + ", ".join(self.missing))
        if not parts:
            parts.append(self.reasons()[0])
        return "**rejected**: " + "; ".join(parts)


_IDS_SHOWN = 6
_EVIDENCE_CHARS = 300


def _sections(deviations: Sequence[SeenDeviation]) -> list[str]:
    return list(dict.fromkeys(d.section or "(no section)" for d in deviations))


def _evidence(text: str) -> str:
    """The failing step and its first error line, in one line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    shown = " → ".join(lines[:3]) if lines else "(no evidence)"
    return shown if len(shown) <= _EVIDENCE_CHARS else shown[:_EVIDENCE_CHARS] + "…"


def _one_line(text: str) -> str:
    """``text`` with its lines joined."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


class Served(NamedTuple):
    """Where a served variant answers: its URL, admin key and, over TLS, the CA to trust."""

    url: str
    admin_key: str
    ca_cert: str | None


@contextmanager
def served(variant: Variant, log: TextIO) -> Iterator[Served]:
    """Run ``variant`` in its own process for the block; yields where it answers."""
    environment = {**os.environ, "PYTHONPATH": str(_IMPORT_ROOT)}
    with subprocess.Popen(
        [sys.executable, "-m", _SERVE_MODULE, variant.name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=environment,
        cwd=_IMPORT_ROOT,
    ) as server:
        assert server.stdin is not None and server.stdout is not None
        try:
            line = server.stdout.readline()  # EOF ('') if it died first
            if not line:
                raise RuntimeError(f"{variant.name} exited with {server.wait()} before serving")
            address = json.loads(line)
            yield Served(address["url"], address["admin_key"], address.get("ca_cert"))
        finally:
            server.stdin.close()  # the server stops when its stdin closes
            try:
                server.wait(SERVER_START_TIMEOUT)
            except subprocess.TimeoutExpired:
                server.kill()


def _suite_command(
    server: Served,
    report_dir: Path,
    tags: Sequence[str],
    ids: Sequence[str],
    strict: bool,
) -> list[str]:
    command = [
        sys.executable, "-m", "seenby.harness.cli", "run",
        f"--target={server.url}", f"--admin-key={server.admin_key}",
        "--report-dir", str(report_dir), "--quiet",
    ]  # fmt: skip
    if server.ca_cert is not None:
        command.append(f"--ca-cert={server.ca_cert}")
    for tag in tags:
        command += ["--tag", tag]
    for scenario_id in ids:
        command += ["--id", scenario_id]
    return [*command, "--strict"] if strict else command


def _run_suite(command: list[str], log: TextIO, cwd: Path) -> tuple[int | None, str | None]:
    """Run ``seenby run`` in its own process group: its exit status (``None`` if it had to be
    stopped) and a problem, or ``None`` if it finished."""
    with subprocess.Popen(
        command, stdout=log, stderr=log, cwd=cwd, start_new_session=True
    ) as suite:
        try:
            return suite.wait(SUITE_TIMEOUT), None
        except subprocess.TimeoutExpired:
            os.killpg(suite.pid, signal.SIGKILL)  # seenby and the pytest it started
            suite.wait()
            return None, f"the suite did not finish within {SUITE_TIMEOUT:g} s"


def _deviations_of(scenario: dict[str, Any]) -> list[SeenDeviation]:
    """A summary scenario's deviations (an absent list is none; missing fields are empty)."""
    seen = []
    for item in scenario.get("deviations") or []:
        fields = item if isinstance(item, dict) else {"check": str(item)}
        seen.append(
            SeenDeviation(
                scenario=scenario["id"],
                spec=tuple(scenario.get("spec", ())),
                section=str(fields.get("section") or ""),
                check=str(fields.get("check") or ""),
                reference=str(fields.get("reference") or ""),
                observed=str(fields.get("observed") or ""),
            )
        )
    return seen


def run_variant(
    variant: Variant,
    work_dir: Path,
    tags: Sequence[str] = (),
    *,
    ids: Sequence[str] = (),
    strict: bool = False,
) -> KillVerdict:
    """Run the suite (the scenarios having any of ``tags`` or ``ids``; all without) against
    ``variant``; with ``strict``, as ``seenby run --strict``."""
    started = time.monotonic()
    report_dir = work_dir / (f"{variant.name}--strict" if strict else variant.name)
    report_dir.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    exit_status: int | None = None
    with open(report_dir / "run.log", "w", encoding="utf-8") as log:
        try:
            with served(variant, log) as server:
                log.flush()
                command = _suite_command(server, report_dir, tags, ids, strict)
                exit_status, problem = _run_suite(command, log, report_dir)
                if problem is not None:
                    problems.append(problem)
        except (OSError, RuntimeError, ValueError) as error:
            problems.append(f"could not serve {variant.name}: {error}")
    summary_path = report_dir / "conformance-summary.json"
    summary: dict[str, Any] = {}
    if summary_path.exists():
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    elif not problems:
        problems.append("the suite wrote no summary")
    scenarios = summary.get("scenarios", [])
    problems += summary.get("errors", [])
    not_run = [s for s in scenarios if s["verdict"] == "not-run"]
    problems += [f"{s['id']} not run: {s['reason']}" for s in not_run]
    if problems:
        log_lines = (report_dir / "run.log").read_text(encoding="utf-8").splitlines()
        problems += [f"log: {line}" for line in log_lines if line.strip()][-3:]
    failed = tuple(
        FailedScenario(s["id"], tuple(s["spec"]), s["evidence"] or "")
        for s in scenarios
        if s["verdict"] == "fail"
    )
    deviations = tuple(seen for s in scenarios for seen in _deviations_of(s))
    deviated = tuple(
        FailedScenario(s["id"], tuple(s["spec"]), "")
        for s in scenarios
        if s["verdict"] == "deviate" or s.get("deviations")
    )
    return KillVerdict(
        variant=variant,
        suite_verdict=summary.get("verdict"),
        scenarios=len(scenarios),
        failed=failed,
        problems=tuple(problems),
        duration_s=time.monotonic() - started,
        deviations=deviations,
        deviated=deviated,
        exit_status=exit_status,
    )


def run_alternative(
    alternative: Alternative, work_dir: Path, tags: Sequence[str] = ()
) -> AlternativeVerdict:
    """The core run of ``alternative`` and, if scenarios deviated, ``--strict`` over those."""
    core = run_variant(alternative.server, work_dir, tags)
    strict = None
    if core.deviated:
        ids = [scenario.id for scenario in core.deviated]
        strict = run_variant(alternative.server, work_dir, ids=ids, strict=True)
    return AlternativeVerdict(alternative, core, strict)


def focus_tags(variants: Sequence[Variant]) -> list[str]:
    """The ``@spec-`` tags of the behaviours ``variants`` break, for a focused run."""
    return sorted({f"spec-{behaviour}" for each in variants for behaviour in each.breaks})


def run_gallery(
    variants: Sequence[Variant] = tuple(GALLERY),
    alternatives: Sequence[Alternative] = (),
    *,
    jobs: int = 2,
    focused: bool = False,
    work_dir: Path | None = None,
    progress: Callable[[KillVerdict | AlternativeVerdict], None] = lambda verdict: None,
) -> KillRun:
    """The control run, one run per faulty variant and one or two per correct alternative,
    ``jobs`` at a time.

    ``focused`` runs against each variant only the scenarios tagged with its behaviours, against
    each alternative only those of ``LATITUDE_TAGS``, and against the control all of those: the
    same verdicts, much faster. Reports are kept under ``work_dir`` if given.
    """
    started_at, started = datetime.now(UTC), time.monotonic()
    latitude = list(LATITUDE_TAGS) if focused and alternatives else []
    with tempfile.TemporaryDirectory(prefix="seenby-kill-run-") as scratch:
        base = work_dir or Path(scratch)

        def run_one(each: Variant | Alternative) -> KillVerdict | AlternativeVerdict:
            verdict: KillVerdict | AlternativeVerdict
            if isinstance(each, Alternative):
                verdict = run_alternative(each, base, latitude)
            elif each is REFERENCE:
                tags = [*focus_tags(variants), *latitude] if focused else []
                verdict = run_variant(each, base, tags)
            else:
                verdict = run_variant(each, base, focus_tags([each]) if focused else [])
            progress(verdict)
            return verdict

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            control, *results = pool.map(run_one, [REFERENCE, *variants, *alternatives])
    assert isinstance(control, KillVerdict)
    return KillRun(
        control=control,
        verdicts=tuple(v for v in results if isinstance(v, KillVerdict)),
        focused=focused,
        jobs=jobs,
        started_at=started_at,
        duration_s=time.monotonic() - started,
        alternatives=tuple(v for v in results if isinstance(v, AlternativeVerdict)),
    )


def describe(verdict: KillVerdict | AlternativeVerdict) -> str:
    """One progress line about a verdict."""
    if isinstance(verdict, AlternativeVerdict):
        return _describe_alternative(verdict)
    name = verdict.variant.name
    took = f"{verdict.duration_s:.0f} s"
    if verdict.variant is REFERENCE:
        state = "passes " if verdict.passed_cleanly else "FAILS  "
        detail = f"{verdict.scenarios} scenarios, {len(verdict.failed)} failed"
        if verdict.failed:
            detail += ": " + ", ".join(f.id for f in verdict.failed)
    elif verdict.caught:
        state = "caught "
        detail = "by " + ", ".join(verdict.caught_by)
        if verdict.unrelated:
            detail += f" (+{len(verdict.unrelated)} unrelated)"
    elif verdict.strict_only:
        state = "strict "
        detail = "only deviates, in " + ", ".join(verdict.deviated_by)
    else:
        state = "SURVIVES"
        detail = "unrelated failures: " + (", ".join(verdict.unrelated) or "none")
    problems = "".join(f"\n           problem: {problem}" for problem in verdict.problems)
    return f"  {state} {name:<45} {detail}  [{took}]{problems}"


_REASONS_SHOWN = 12


def _describe_alternative(verdict: AlternativeVerdict) -> str:
    took = verdict.core.duration_s + (verdict.strict.duration_s if verdict.strict else 0)
    seen = sorted({d.section or "?" for d in verdict.core.deviations})
    detail = f"deviates in {', '.join(seen) or 'nothing'}"
    if verdict.passes:
        return f"  passes  {verdict.alternative.name:<45} {detail}  [{took:.0f} s]"
    reasons = verdict.reasons()
    if len(reasons) > _REASONS_SHOWN:
        reasons = [*reasons[:_REASONS_SHOWN], f"(+{len(reasons) - _REASONS_SHOWN} more)"]
    reasons_text = "".join(f"\n           {_one_line(reason)}" for reason in reasons)
    return f"  REJECTED {verdict.alternative.name:<44} {detail}  [{took:.0f} s]{reasons_text}"


# -- the report ----------------------------------------------------------------------------------


def _cell(ids: Sequence[str]) -> str:
    return ", ".join(ids) if ids else "—"


def _behaviour_order(behaviour: str) -> tuple[int, int]:
    area, number = behaviour.split("-")
    return "ASRPQLMCEXV".index(area), int(number)


def _faulty_cell(verdict: KillVerdict) -> str:
    if verdict.caught:
        return _cell(verdict.caught_by)
    if verdict.strict_only:
        return "strict deviation only: " + _cell(verdict.deviated_by)
    return "**survives**"


def _escaped(text: str) -> str:
    """``text`` safe in a Markdown table cell."""
    return text.replace("|", "\\|")


def _sections_cell(sections: Sequence[str]) -> str:
    return ", ".join(sections) if sections else "none"


def _seen_cell(verdict: AlternativeVerdict) -> str:
    """Each section the run reported deviations in, with how many scenarios and the first few."""
    by_section: dict[str, list[str]] = {}
    for seen in verdict.core.deviations:
        scenarios = by_section.setdefault(seen.section or "(no section)", [])
        if seen.scenario not in scenarios:
            scenarios.append(seen.scenario)
    cells = []
    for section, ids in sorted(by_section.items()):
        shown = ", ".join(ids[:_SEEN_IDS_SHOWN]) + (", …" if len(ids) > _SEEN_IDS_SHOWN else "")
        cells.append(f"{section} in {len(ids)} ({shown})")
    return "; ".join(cells) or "none"


_SEEN_IDS_SHOWN = 3


def write_report(run: KillRun, path: Path) -> None:
    """Write the kill run as Markdown (``docs/conformance-power.md``): the faulty variants, the
    correct alternatives, the problems of the run and the catches by behaviour."""
    control = run.control
    control_state = (
        f"conformant ({control.scenarios} scenarios, none failed, no strict deviation)"
        if control.passed_cleanly
        else f"NOT conformant: {describe(control).strip()}"
    )
    scope = (
        "only the scenarios tagged with the behaviours it breaks"
        if run.focused
        else "the whole suite"
    )
    lines = [
        "<!-- Generated by `python -m tests.mutants` (tests/mutants/killrun.py). "
        "Do not edit by hand: run the command again. -->",
        "",
        "# Conformance power: the suite against faulty and correct servers",
        "",
        "A conformance suite must fail every faulty server and pass every correct one, including "
        "one that chose differently where the spec leaves room. The kill run serves each server "
        "below in its own process on a fresh database and runs the suite against it with "
        "`seenby run --target URL`.",
        "",
        f"- **Faulty variants {run.faulty_line()}.**",
        f"- **Correct alternatives {run.alternatives_line()}.**",
        f"- Correct server, served the same way: {control_state}.",
        f"- Run of {run.started_at:%Y-%m-%d %H:%M} UTC, {run.jobs} servers at a time, "
        f"{run.duration_s / 60:.0f} min.",
        "- Run it again: `.venv/bin/python -m tests.mutants` (`--only NAME ...`, `-j N`, "
        "`--focused`).",
        "",
        "## Faulty variants",
        "",
        "Each variant is the reference server with exactly one realistic bug, built in test "
        "code by replacing one piece of the server with a subclass "
        "([tests/mutants/gallery.py](../tests/mutants/gallery.py)) and named after the "
        f"behaviour of [the spec](spec/receipts-spec.md) it breaks; {scope} runs against it. "
        "A variant is **caught** when at least one failing scenario is tagged `@spec-` with a "
        "behaviour the variant breaks. When no such scenario fails but one reports a strict "
        "deviation, the bug is a **strict deviation only**: a choice the spec leaves open, "
        "caught by `seenby run --strict` alone. Failures of scenarios about other behaviours "
        "are listed separately and do not count.",
        "",
        "| variant | breaks | layer | the bug | caught by | unrelated failures |",
        "|---|---|---|---|---|---|",
    ]
    for verdict in run.verdicts:
        each = verdict.variant
        lines.append(
            f"| `{each.name}` | {', '.join(each.breaks)} | {each.layer} | {each.bug} "
            f"| {_faulty_cell(verdict)} | {_cell(verdict.unrelated)} |"
        )
    lines += [
        "",
        "## Correct alternatives",
        "",
        "Each alternative is the reference server making the other allowed choice on one or "
        "more points where the spec is silent and docs/protocol.md records the reference's own "
        "decision ([tests/mutants/alternatives.py](../tests/mutants/alternatives.py); "
        "`every_choice` makes them all at once). It **passes** when `seenby run` exits 0 with "
        "no failed scenario, the strict deviations it reports are exactly the declared ones, "
        "and `seenby run --strict` over the scenarios that deviated exits 1 (with nothing "
        "declared and nothing seen, the core run is the strict one). Deviations are matched by "
        "docs/protocol.md section: each declared section is reported at least once, and each "
        "deviation falls in a declared section (a section holds its subsections: `§5.2` is in "
        "`§5`, `§6` is not in `§6.1`).",
        "",
        "| alternative | layers | the choice | declared deviations | deviations seen "
        "| `seenby run` | `--strict` | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for judged in run.alternatives:
        chosen = judged.alternative
        lines.append(
            f"| `{chosen.name}` | {', '.join(chosen.layers)} | {chosen.choice} "
            f"| {_sections_cell(chosen.deviates)} | {_seen_cell(judged)} "
            f"| exit {judged.core.exit_status} | exit {judged.strict_exit_status} "
            f"| {_escaped(judged.headline())} |"
        )
    if run.rejected:
        lines += ["", "### Why alternatives are rejected", ""]
        for judged in run.rejected:
            lines.append(f"- `{judged.alternative.name}`:")
            lines += [f"  - {_one_line(reason)}" for reason in judged.reasons()]
    runs = [control, *run.verdicts]
    runs += [v for a in run.alternatives for v in (a.core, a.strict) if v is not None]
    problems = [v for v in runs if v.problems]
    if problems:
        lines += ["", "## Problems of the run itself", ""]
        lines += [f"- `{v.variant.name}`: {_one_line('; '.join(v.problems))}" for v in problems]
    behaviours = sorted({b for v in run.verdicts for b in v.variant.breaks}, key=_behaviour_order)
    lines += [
        "",
        "## Faulty variants by behaviour",
        "",
        "| behaviour | variants breaking it | caught | strict deviation only |",
        "|---|---|---|---|",
    ]
    for behaviour in behaviours:
        breaking = [v for v in run.verdicts if behaviour in v.variant.breaks]
        caught_count = sum(v.caught for v in breaking)
        strict_count = sum(v.strict_only for v in breaking)
        lines.append(
            f"| {behaviour} | {len(breaking)} | {caught_count} of {len(breaking)} "
            f"| {strict_count} |"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
