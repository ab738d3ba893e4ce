"""A target's page (``docs/targets/<name>.md``), generated from one run's summary JSON.

``python -m seenby.harness.drivers.target_page SUMMARY [OUT]`` writes, in Markdown: the target's
implementation and version, the driver and its version, the totals, and every scenario with its
verdict: pass, fail with the first line of its evidence (what the target did instead), not
applicable with the capability the driver lacks, skip with its reason. A reader learns from it
exactly where the target's receipts differ from V2TIM's.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from seenby.harness.drivers import DEFAULT_DRIVER, DriverError, get_driver
from seenby.harness.drivers.capabilities import NOT_APPLICABLE_PREFIX

__all__ = ["main", "page_rows", "render_page", "varying_verdicts"]

_VERDICTS = ("pass", "deviate", "fail", "skip", "not-applicable", "not-run")
_REASON_CHARS = 240
_ROW_PREFIX = re.compile(r"^\[[^\]]*\] ")
"""How an Examples row's evidence begins (``[group chat] ...``)."""
# What differs from run to run (fresh IDs, Matrix event and room IDs, also URL-encoded in a
# path, times) is written as a placeholder, so that two runs with the same verdicts give the
# same page.
_RUN_SPECIFIC = (
    (re.compile(r"([A-Za-z]+)-[0-9a-f]{8,}\b"), r"\1"),
    (re.compile(r"(\$|%24)[A-Za-z0-9_-]{20,}"), "$event"),
    (re.compile(r"(!|%21)[A-Za-z0-9_-]{10,}(:[A-Za-z0-9.-]+)?"), "!room"),
    (re.compile(r"https?://127\.0\.0\.1:\d+"), "http://127.0.0.1:PORT"),
    (re.compile(r"\b\d{12,}\b"), "TIME"),
    (re.compile(r"\b\d+\.\d+ ?s\b"), "N s"),
)


def _one_line(text: str | None) -> str:
    """The first meaningful line of a reason or evidence, shortened, safe in a table cell."""
    for line in (text or "").splitlines():
        line = _ROW_PREFIX.sub("", line.strip())
        if line and not line.startswith("step:"):
            break
    else:
        line = (text or "").strip()
    line = line.removeprefix(NOT_APPLICABLE_PREFIX)
    for pattern, placeholder in _RUN_SPECIFIC:
        line = pattern.sub(placeholder, line)
    if len(line) > _REASON_CHARS:
        line = line[: _REASON_CHARS - 1] + "…"
    return line.replace("|", "\\|")


def _duration(summary: Mapping[str, Any]) -> str:
    """How long the run took, from its start and finish times."""
    try:
        started = datetime.fromisoformat(summary["started_at"])
        finished = datetime.fromisoformat(summary["finished_at"])
    except (KeyError, TypeError, ValueError):
        return "?"
    return f"{(finished - started).total_seconds():.0f} s"


def varying_verdicts(summary: Mapping[str, Any]) -> Mapping[str, str]:
    """Scenario ID → why its verdict varies from run to run, as the run's driver declares
    (none when that driver is not installed here)."""
    try:
        return get_driver(summary["settings"].get("driver") or DEFAULT_DRIVER).varying_verdicts
    except DriverError:
        return {}


def page_rows(summary: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(scenario ID, title, verdict, why) for every scenario of the run, in its order; the why
    of a scenario whose verdict varies between runs begins by saying so."""
    varying = varying_verdicts(summary)
    rows = []
    for scenario in summary["scenarios"]:
        verdict = scenario["verdict"]
        why = ""
        if verdict == "fail":
            why = _one_line(scenario["evidence"])
        elif verdict in ("skip", "not-applicable", "not-run"):
            why = _one_line(scenario["reason"])
        if scenario["id"] in varying:
            why = f"*varies between runs* (see below); this run: {why or verdict}"
        rows.append((scenario["id"], scenario["title"].replace("|", "\\|"), verdict, why))
    return rows


def render_page(summary: Mapping[str, Any], title: str) -> str:
    """The Markdown page of one run."""
    implementation = (summary.get("capabilities") or {}).get("implementation", {})
    versions = summary["versions"]
    counts = summary["counts"]
    lines = [
        f"# {title}",
        "",
        "Generated from one `seenby run` by `python -m seenby.harness.drivers.target_page`;",
        "do not edit by hand. A failure is the target doing something else than V2TIM (the",
        "reason is the first line of the evidence); *not applicable* means the driver has no",
        "way to express what the scenario needs (the missing capability is named).",
        "",
        "| | |",
        "|---|---|",
        f"| target | {implementation.get('name', '?')} {implementation.get('version', '?')} |",
        f"| driver | {summary['settings'].get('driver', '?')} {versions.get('driver', '?')} |",
        f"| seenby | {versions.get('seenby', '?')} |",
        f"| run verdict | {summary['verdict_text']} |",
        f"| run took | {_duration(summary)} |",
        "",
        "## Totals",
        "",
        "| " + " | ".join(_VERDICTS) + " | total |",
        "|" + "---|" * (len(_VERDICTS) + 1),
        "| " + " | ".join(str(counts.get(v, 0)) for v in _VERDICTS) + f" | {counts['total']} |",
        "",
        "## Scenarios",
        "",
        "| ID | scenario | verdict | why |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {sid} | {name} | {verdict} | {why} |" for sid, name, verdict, why in page_rows(summary)
    ]
    varying = varying_verdicts(summary)
    if varying:
        lines += [
            "",
            "## Verdicts that vary between runs",
            "",
            "On this target these scenarios pass in one run and fail in another, as the driver",
            "declares: the table above shows this run's verdict. Why, scenario by scenario:",
            "",
            *(f"- **{sid}** {why}." for sid, why in sorted(varying.items())),
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``target_page SUMMARY [OUT]``: write the page to OUT (default: standard output)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) not in (1, 2):
        print("usage: python -m seenby.harness.drivers.target_page SUMMARY [OUT]", file=sys.stderr)
        return 2
    summary = json.loads(Path(arguments[0]).read_text(encoding="utf-8"))
    implementation = (summary.get("capabilities") or {}).get("implementation", {})
    page = render_page(summary, f"{implementation.get('name', 'Target')} through seenby")
    if len(arguments) == 2:
        Path(arguments[1]).parent.mkdir(parents=True, exist_ok=True)
        Path(arguments[1]).write_text(page, encoding="utf-8")
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
