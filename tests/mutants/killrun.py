"""The kill run: the conformance suite against each variant of the gallery, and its report.

For each variant (and, as the control, the correct server served the same way):

1. ``serve`` starts it in its own process, on 127.0.0.1, a free port and a fresh database;
2. ``seenby run --target URL --admin-key KEY`` runs the suite against it (every scenario, or with
   ``focused`` only those tagged with the variant's behaviours) and writes
   ``conformance-summary.json``;
3. the failed scenarios are split into those tagged ``@spec-`` with a behaviour the variant
   breaks (they catch it) and the others (unrelated failures, reported but never counted).

Variants run in parallel, ``jobs`` at a time, each in its own processes. ``write_report`` turns
the result into ``docs/conformance-power.md``.
"""

from __future__ import annotations

import json
import os
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
from typing import Any, TextIO

from .gallery import GALLERY, REFERENCE, Variant

__all__ = ["KillRun", "Verdict", "run_gallery", "run_variant", "write_report"]

REPO = Path(__file__).resolve().parents[2]
"""The repository (``tests/mutants/killrun.py`` → ``.``)."""

SUITE_TIMEOUT = 900.0
"""Seconds one suite run against one variant may take before it is stopped."""
SERVER_START_TIMEOUT = 30.0
"""Seconds a variant's process may take to print its URL."""

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
class Verdict:
    """What the suite did against one variant."""

    variant: Variant
    suite_verdict: str | None
    """``conformant``, ``not-conformant`` or ``incomplete`` (``None``: no summary written)."""
    scenarios: int
    failed: tuple[FailedScenario, ...]
    problems: tuple[str, ...]
    """Why the run itself went wrong (server did not start, scenarios not run, ...)."""
    duration_s: float

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
    def passed_cleanly(self) -> bool:
        """Every selected scenario passed or was an optional skip (the control's duty)."""
        return self.suite_verdict == "conformant" and not self.problems


@dataclass(frozen=True)
class KillRun:
    """The control run on the correct server and one verdict per variant."""

    control: Verdict
    verdicts: tuple[Verdict, ...]
    focused: bool
    jobs: int
    started_at: datetime
    duration_s: float

    @property
    def survivors(self) -> list[Verdict]:
        """Variants no scenario about their behaviours caught."""
        return [verdict for verdict in self.verdicts if not verdict.caught]

    @property
    def ok(self) -> bool:
        """The suite passes on the correct server and catches every variant."""
        return self.control.passed_cleanly and not self.survivors

    def summary_line(self) -> str:
        """``caught K of N``."""
        caught = len(self.verdicts) - len(self.survivors)
        return f"caught {caught} of {len(self.verdicts)}"


@contextmanager
def served(variant: Variant, log: TextIO) -> Iterator[tuple[str, str]]:
    """Run ``variant`` in its own process for the block; yields its URL and admin key."""
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
            yield address["url"], address["admin_key"]
        finally:
            server.stdin.close()  # the server stops when its stdin closes
            try:
                server.wait(SERVER_START_TIMEOUT)
            except subprocess.TimeoutExpired:
                server.kill()


def _suite_command(url: str, admin_key: str, report_dir: Path, tags: Sequence[str]) -> list[str]:
    command = [
        sys.executable, "-m", "seenby.harness.cli", "run",
        f"--target={url}", f"--admin-key={admin_key}",
        "--report-dir", str(report_dir), "--quiet",
    ]  # fmt: skip
    for tag in tags:
        command += ["--tag", tag]
    return command


def _run_suite(command: list[str], log: TextIO, cwd: Path) -> str | None:
    """Run ``seenby run`` in its own process group; a problem, or ``None`` if it finished."""
    with subprocess.Popen(
        command, stdout=log, stderr=log, cwd=cwd, start_new_session=True
    ) as suite:
        try:
            suite.wait(SUITE_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(suite.pid, signal.SIGKILL)  # seenby and the pytest it started
            suite.wait()
            return f"the suite did not finish within {SUITE_TIMEOUT:g} s"
    return None


def run_variant(variant: Variant, work_dir: Path, tags: Sequence[str] = ()) -> Verdict:
    """Run the suite (the scenarios having any of ``tags``; all without) against ``variant``."""
    started = time.monotonic()
    report_dir = work_dir / variant.name
    report_dir.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with open(report_dir / "run.log", "w", encoding="utf-8") as log:
        try:
            with served(variant, log) as (url, admin_key):
                log.flush()
                problem = _run_suite(
                    _suite_command(url, admin_key, report_dir, tags), log, report_dir
                )
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
    return Verdict(
        variant=variant,
        suite_verdict=summary.get("verdict"),
        scenarios=len(scenarios),
        failed=failed,
        problems=tuple(problems),
        duration_s=time.monotonic() - started,
    )


def focus_tags(variants: Sequence[Variant]) -> list[str]:
    """The ``@spec-`` tags of the behaviours ``variants`` break, for a focused run."""
    return sorted({f"spec-{behaviour}" for each in variants for behaviour in each.breaks})


def run_gallery(
    variants: Sequence[Variant] = tuple(GALLERY),
    *,
    jobs: int = 2,
    focused: bool = False,
    work_dir: Path | None = None,
    progress: Callable[[Verdict], None] = lambda verdict: None,
) -> KillRun:
    """The control run and one run per variant, ``jobs`` at a time.

    ``focused`` runs against each variant only the scenarios tagged with its behaviours (and
    against the control, those of all ``variants``): the same catches, much faster. Reports are
    kept under ``work_dir`` if given.
    """
    started_at, started = datetime.now(UTC), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="seenby-kill-run-") as scratch:
        base = work_dir or Path(scratch)

        def run_one(each: Variant) -> Verdict:
            if each is REFERENCE:
                tags = focus_tags(variants) if focused else []
            else:
                tags = focus_tags([each]) if focused else []
            verdict = run_variant(each, base, tags)
            progress(verdict)
            return verdict

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            control, *verdicts = pool.map(run_one, [REFERENCE, *variants])
    return KillRun(
        control=control,
        verdicts=tuple(verdicts),
        focused=focused,
        jobs=jobs,
        started_at=started_at,
        duration_s=time.monotonic() - started,
    )


def describe(verdict: Verdict) -> str:
    """One progress line about a verdict."""
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
    else:
        state = "SURVIVES"
        detail = "unrelated failures: " + (", ".join(verdict.unrelated) or "none")
    problems = "".join(f"\n           problem: {problem}" for problem in verdict.problems)
    return f"  {state} {name:<45} {detail}  [{took}]{problems}"


# -- the report ----------------------------------------------------------------------------------


def _cell(ids: Sequence[str]) -> str:
    return ", ".join(ids) if ids else "—"


def _behaviour_order(behaviour: str) -> tuple[int, int]:
    area, number = behaviour.split("-")
    return "ASRPQLMCEXV".index(area), int(number)


def write_report(run: KillRun, path: Path) -> None:
    """Write the kill run as Markdown (``docs/conformance-power.md``)."""
    control = run.control
    control_state = (
        f"conformant ({control.scenarios} scenarios, none failed)"
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
        "# Conformance power: the suite against faulty servers",
        "",
        "Each variant below is the reference server with exactly one realistic bug, built in "
        "test code by replacing one piece of the server with a subclass "
        "([tests/mutants/gallery.py](../tests/mutants/gallery.py)) and named after the "
        "behaviour of [the spec](spec/receipts-spec.md) it breaks. The kill run serves each "
        f"variant in its own process on a fresh database and runs {scope} against it with "
        "`seenby run --target URL`. A variant is **caught** when at least one failing scenario "
        "is tagged `@spec-` with a behaviour the variant breaks; failures of scenarios about "
        "other behaviours are listed separately and do not count.",
        "",
        f"**{run.summary_line()}** variants.",
        "",
        f"- Correct server, served the same way: {control_state}.",
        f"- Run of {run.started_at:%Y-%m-%d %H:%M} UTC, {run.jobs} variants at a time, "
        f"{run.duration_s / 60:.0f} min.",
        "- Run it again: `.venv/bin/python -m tests.mutants` (`--only NAME ...`, `-j N`, "
        "`--focused`).",
        "",
        "## Variants",
        "",
        "| variant | breaks | layer | the bug | caught by | unrelated failures |",
        "|---|---|---|---|---|---|",
    ]
    for verdict in run.verdicts:
        each = verdict.variant
        caught = _cell(verdict.caught_by) if verdict.caught else "**survives**"
        lines.append(
            f"| `{each.name}` | {', '.join(each.breaks)} | {each.layer} | {each.bug} "
            f"| {caught} | {_cell(verdict.unrelated)} |"
        )
    problems = [v for v in (control, *run.verdicts) if v.problems]
    if problems:
        lines += ["", "## Problems of the run itself", ""]
        lines += [f"- `{v.variant.name}`: {'; '.join(v.problems)}" for v in problems]
    behaviours = sorted({b for v in run.verdicts for b in v.variant.breaks}, key=_behaviour_order)
    lines += [
        "",
        "## By behaviour",
        "",
        "| behaviour | variants breaking it | caught |",
        "|---|---|---|",
    ]
    for behaviour in behaviours:
        breaking = [v for v in run.verdicts if behaviour in v.variant.breaks]
        caught_count = sum(v.caught for v in breaking)
        lines.append(f"| {behaviour} | {len(breaking)} | {caught_count} of {len(breaking)} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
