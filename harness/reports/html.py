"""``report.html``: one self-contained page a vendor can publish, rendered from the summary.

Top: the verdict, the problems of the target's discovery payload (once, for the whole run), the
strict deviations (each with what the reference answers, what the target answered and the
protocol section) and the known-deviation entries; then the target, its capabilities (as far as
the payload has them), the run's settings, versions and times. Then a matrix of spec areas by
scenarios coloured by verdict; each cell links to the scenario's ``<details>`` below (opened by
a few lines of inline script), which holds its feature, spec IDs, seed-document section, skip
reason, failure evidence, deviations and known-deviation entries. No external assets; every
piece of text goes through ``html.escape``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from seenby.harness.run.catalogue import DOC_SECTIONS
from seenby.harness.wire.transcript import entries_of

__all__ = ["render_report"]


_STYLE = """
:root { --pass: #2e7d32; --deviate: #0277bd; --fail: #c62828; --skip: #f9a825;
        --not-applicable: #8e7cc3; --not-run: #757575; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 70rem; padding: 0 1rem; color: #1f2328; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.verdict { display: inline-block; padding: .3rem .9rem; border-radius: .4rem; color: #fff;
           font-weight: 700; font-size: 1.2rem; }
.verdict.conformant { background: var(--pass); }
.verdict.conformant-with-deviations { background: var(--deviate); }
.verdict.not-conformant { background: var(--fail); }
.verdict.incomplete { background: var(--skip); color: #1f2328; }
table { border-collapse: collapse; }
th, td { text-align: left; vertical-align: top; padding: .25rem .6rem; }
table.facts th { color: #57606a; font-weight: 600; white-space: nowrap; }
table.matrix td.n { text-align: right; font-variant-numeric: tabular-nums; }
table.matrix tr + tr { border-top: 1px solid #eaeef2; }
a.cell { display: inline-block; min-width: 4.2rem; margin: .1rem; padding: .1rem .3rem;
         border-radius: .25rem; color: #fff; text-decoration: none; font-size: .8rem;
         text-align: center; font-family: ui-monospace, Menlo, Consolas, monospace; }
.v-pass { background: var(--pass); } .v-fail { background: var(--fail); }
.v-deviate { background: var(--deviate); }
.v-skip { background: var(--skip); color: #1f2328 !important; }
.v-not-applicable { background: var(--not-applicable); }
.v-not-run { background: var(--not-run); }
.badge { display: inline-block; min-width: 4rem; padding: 0 .4rem; border-radius: .25rem;
         color: #fff; text-align: center; font-size: .8rem; }
details.scenario { border: 1px solid #d0d7de; border-radius: .4rem; margin: .3rem 0;
                   padding: .3rem .6rem; }
details.scenario summary { cursor: pointer; }
details.scenario:target { outline: 2px solid #0969da; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; }
dt { color: #57606a; } dd { margin: 0; }
pre.evidence { background: #fff5f5; border-left: 4px solid var(--fail); padding: .6rem;
               overflow-x: auto; white-space: pre-wrap; }
ul.errors li { color: var(--fail); white-space: pre-wrap; }
details.transcript { margin: .4rem 0; } .exchange { font-size: .85em; margin-left: 1rem; }
.exchange pre { white-space: pre-wrap; word-break: break-all; margin: .2rem 0 .4rem 1rem; }
table.deviations { margin: .4rem 0; } table.deviations td, table.deviations th {
  border-top: 1px solid #eaeef2; }
.stale { color: var(--fail); font-weight: 600; }
footer { margin-top: 3rem; color: #57606a; font-size: .85rem; }
"""

# Navigating to #RR-X-NNN opens that scenario's <details>.
_SCRIPT = """
function seenbyOpenTarget() {
  var target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (target && target.tagName === "DETAILS") { target.open = true; }
}
window.addEventListener("hashchange", seenbyOpenTarget);
seenbyOpenTarget();
"""


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _join(values: Iterable[object], empty: str = "—") -> str:
    items = [str(value) for value in values]
    return _text(", ".join(items)) if items else empty


def _capability_rows(capabilities: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """What the payload says, field by field; a field it lacks is shown as not announced."""
    if capabilities is None:
        return [("Capabilities", "not available: GET /v1/capabilities failed (see above)")]
    missing = "<em>not announced</em>"
    implementation = capabilities.get("implementation")
    features = capabilities.get("features")
    limits = capabilities.get("limits")
    return [
        (
            "Implementation",
            _text(" ".join(str(implementation.get(key, "?")) for key in ("name", "version")))
            if isinstance(implementation, Mapping)
            else missing,
        ),
        ("Protocol", _text(capabilities["protocol"]) if "protocol" in capabilities else missing),
        (
            "Optional features",
            _join(sorted(map(str, features)), empty="none")
            if isinstance(features, list)
            else missing,
        ),
        (
            "Limits",
            _join(f"{key} {value}" for key, value in limits.items())
            if isinstance(limits, Mapping)
            else missing,
        ),
    ]


def _facts(summary: Mapping[str, Any]) -> str:
    settings = summary["settings"]
    rows = [("Target", _text(summary["target"])), *_capability_rows(summary["capabilities"])]
    selection = [f"--id {value}" for value in settings["ids"]]
    selection += [f"--tag {value}" for value in settings["tags"]]
    if settings["strict"]:
        selection.append("--strict")
    if settings["expect"]:
        selection.append(f"--expect {settings['expect']}")
    workers = f"{settings['jobs']} worker{'s' if settings['jobs'] != 1 else ''}"
    if settings["serial_pass"]:
        workers += "; @serial scenarios in a separate, serial pass"
    rows += [
        ("Options", _text(" ".join(selection)) if selection else "every scenario"),
        ("Workers", _text(workers)),
        ("Versions", _join(f"{name} {version}" for name, version in summary["versions"].items())),
        ("Started", _text(summary["started_at"])),
        ("Finished", _text(summary["finished_at"])),
    ]
    body = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in rows)
    return f'<table class="facts">{body}</table>'


def _verdicts(summary: Mapping[str, Any]) -> list[str]:
    """The scenario verdicts in the summary's order (its counts also hold ``total``)."""
    return [key for key in summary["counts"] if key != "total"]


def _matrix(summary: Mapping[str, Any]) -> str:
    verdicts = _verdicts(summary)
    header = "".join(f'<th class="n">{_text(verdict)}</th>' for verdict in verdicts)
    rows = []
    for area in summary["areas"]:
        counts = area["counts"]
        numbers = "".join(f'<td class="n">{counts[verdict]}</td>' for verdict in verdicts)
        cells = "".join(
            f'<a class="cell v-{_text(s["verdict"])}" href="#{_text(s["id"])}" '
            f'title="{_text(s["id"])} — {_text(s["verdict"])}: {_text(s["title"])}">'
            f"{_text(s['id'].removeprefix('RR-'))}</a>"
            for s in summary["scenarios"]
            if s["area"] == area["area"]
        )
        rows.append(
            f"<tr><th>{_text(area['area'])} — {_text(area['name'])}</th>{numbers}"
            f"<td>{cells}</td></tr>"
        )
    return (
        f'<table class="matrix"><thead><tr><th>Spec area</th>{header}<th>Scenarios</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _deviation_table(deviations: Iterable[Mapping[str, Any]], where_key: str) -> str:
    """Deviations as rows: section, check, the reference's answer, the target's, where."""
    rows = []
    for deviation in deviations:
        where = deviation[where_key]
        if isinstance(where, list):
            where = ", ".join(where)
        elif deviation.get("example"):
            where = f"[{deviation['example']}] {where}"
        known = " (expected)" if deviation["expected"] else ""
        rows.append(
            f"<tr><td>{_text(deviation['section'])}</td><td>{_text(deviation['check'])}</td>"
            f"<td><code>{_text(deviation['reference'])}</code></td>"
            f"<td><code>{_text(deviation['observed'])}</code></td>"
            f"<td>{_text(where)}{_text(known)}</td></tr>"
        )
    if not rows:
        return ""
    header = "".join(
        f"<th>{label}</th>"
        for label in ("Section", "Check", "Reference answers", "Target answered", "Where")
    )
    return f'<table class="deviations"><tr>{header}</tr>{"".join(rows)}</table>'


def _expected_list(entries: Iterable[Mapping[str, Any]]) -> str:
    items = "".join(
        f'<li class="{"stale" if entry["status"] == "stale" else ""}">'
        f"{_text(entry['status'])}: {_text(entry['advice'])}</li>"
        for entry in entries
    )
    return f"<ul>{items}</ul>" if items else ""


def _top_sections(summary: Mapping[str, Any]) -> str:
    """Discovery problems, strict deviations and known-deviation entries, when there are any."""
    sections = []
    problems = "".join(f"<li>{_text(problem)}</li>" for problem in summary["discovery_problems"])
    if problems:
        sections.append(
            '<section id="discovery"><h2>Problems with the discovery payload</h2>'
            "<p>GET /v1/capabilities, read once for the whole run:</p>"
            f'<ul class="errors">{problems}</ul></section>'
        )
    if summary["deviations"]:
        sections.append(
            '<section id="deviations"><h2>Strict deviations</h2>'
            f"<p>{summary['deviation_count']} counted (distinct, not excused by a known-deviation"
            " file). The target answered correctly, but not as the reference server does.</p>"
            f"{_deviation_table(summary['deviations'], 'seen_in')}</section>"
        )
    expectations = summary["expectations"]
    if expectations is not None:
        sections.append(
            f'<section id="expectations"><h2>Known deviations: '
            f"<code>{_text(expectations['file'])}</code></h2>"
            f"{_expected_list(expectations['entries']) or '<p>No entry for this selection.</p>'}"
            "</section>"
        )
    return "\n".join(sections)


def _transcripts(scenario: Mapping[str, Any], texts: Mapping[str, str]) -> str:
    """The wire transcripts of a scenario's items that ``texts`` holds (the failing and
    deviating ones): collapsed, a line per exchange, each line expanding to its bodies."""
    blocks = []
    for transcript in scenario.get("transcripts", []):
        text = texts.get(transcript["path"])
        if text is None:
            continue
        entries = entries_of(text)
        lines = "".join(
            f'<details class="exchange"><summary><code>{_text(line)}</code></summary>'
            f"<pre>{_text(chr(10).join(details))}</pre></details>"
            if details
            else f'<div class="exchange"><code>{_text(line)}</code></div>'
            for line, details in entries
        )
        row = f" [{_text(transcript['example'])}]" if transcript["example"] else ""
        blocks.append(
            f'<details class="transcript"><summary>Wire transcript{row}: {len(entries)} '
            f"exchanges and frames (<code>{_text(transcript['path'])}</code>)</summary>"
            f"{lines}</details>"
        )
    return "".join(blocks)


def _scenario(scenario: Mapping[str, Any], transcripts: Mapping[str, str]) -> str:
    verdict = scenario["verdict"]
    facts = [
        ("Feature", f"<code>{_text(scenario['feature'])}</code>"),
        ("Spec", _join(scenario["spec"])),
        ("Seed doc section", _text(DOC_SECTIONS.get(scenario["doc"], scenario["doc"]))),
        ("Required", "yes" if scenario["required"] else "no (optional)"),
        ("Duration", _text(f"{scenario['duration_s']:.3f} s")),
    ]
    if scenario["reason"]:
        facts.append(("Reason", _text(scenario["reason"])))
    details = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in facts)
    evidence = (
        f'<pre class="evidence">{_text(scenario["evidence"])}</pre>' if scenario["evidence"] else ""
    )
    evidence += _deviation_table(scenario["deviations"], "where")
    evidence += _expected_list(scenario["expected"])
    evidence += _transcripts(scenario, transcripts)
    is_open = " open" if verdict == "fail" else ""
    return (
        f'<details class="scenario" id="{_text(scenario["id"])}"{is_open}><summary>'
        f'<span class="badge v-{_text(verdict)}">{_text(verdict)}</span> '
        f"<code>{_text(scenario['id'])}</code> {_text(scenario['title'])}</summary>"
        f"<dl>{details}</dl>{evidence}</details>"
    )


def render_report(summary: Mapping[str, Any], transcripts: Mapping[str, str] | None = None) -> str:
    """The HTML page for a ``conformance-summary.json`` document; ``transcripts`` holds the
    text of the transcripts to show, by the path the summary names."""
    shown = transcripts or {}
    verdict = summary["verdict"]
    counts = summary["counts"]
    tally = " · ".join(f"{counts[name]} {name}" for name in _verdicts(summary))
    errors = "".join(f"<li>{_text(error)}</li>" for error in summary["errors"])
    sections = []
    for area in summary["areas"]:
        scenarios = "".join(
            _scenario(s, shown) for s in summary["scenarios"] if s["area"] == area["area"]
        )
        sections.append(f"<h3>{_text(area['area'])} — {_text(area['name'])}</h3>{scenarios}")
    seenby_version = summary["versions"].get("seenby", "")
    verdict_text = summary["verdict_text"]
    headline = f"{verdict_text} — {summary['target']}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Read-receipt conformance: {_text(headline)}</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<h1>Read-receipt conformance report</h1>
<p><span class="verdict {_text(verdict)}">{_text(verdict_text.capitalize())}</span></p>
<p>{counts["total"]} scenarios: {_text(tally)}</p>
</header>
{_top_sections(summary)}
<section id="run">
<h2>Run</h2>
{_facts(summary)}
{f'<h3>Problems with the run</h3><ul class="errors">{errors}</ul>' if errors else ""}
</section>
<section id="matrix">
<h2>Results by spec area</h2>
{_matrix(summary)}
</section>
<section id="scenarios">
<h2>Scenarios</h2>
{"".join(sections)}
</section>
<footer>Generated by seenby {_text(seenby_version)}. Verdict rule: conformant only when no
scenario failed, none was left unrun and no required scenario was skipped; strict deviations
(core checks held, a reference choice did not) are counted, and fail the run only with
--strict; a known-deviation file excuses what it lists.</footer>
<script>{_SCRIPT}</script>
</body>
</html>
"""
