"""``report.html``: one self-contained page a vendor can publish, rendered from the summary.

Top: the verdict, then the target, its capabilities, the run's settings, versions and times.
Then a matrix of spec areas by scenarios coloured by verdict; each cell links to the scenario's
``<details>`` below (opened by a few lines of inline script), which holds its feature, spec IDs,
seed-document section, skip reason and failure evidence. No external assets; every piece of
text goes through ``html.escape``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from harness.catalogue import DOC_SECTIONS

__all__ = ["render_report"]

_VERDICT_WORDS = {
    "conformant": "Conformant",
    "not-conformant": "Not conformant",
    "incomplete": "Incomplete",
}

_STYLE = """
:root { --pass: #2e7d32; --fail: #c62828; --skip: #f9a825; --not-run: #757575; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 70rem; padding: 0 1rem; color: #1f2328; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.verdict { display: inline-block; padding: .3rem .9rem; border-radius: .4rem; color: #fff;
           font-weight: 700; font-size: 1.2rem; }
.verdict.conformant { background: var(--pass); }
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
.v-skip { background: var(--skip); color: #1f2328 !important; }
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


def _facts(summary: Mapping[str, Any]) -> str:
    capabilities = summary["capabilities"]
    settings = summary["settings"]
    rows = [("Target", _text(summary["target"]))]
    if capabilities is None:
        rows.append(("Capabilities", "not available: GET /v1/capabilities failed (see below)"))
    else:
        implementation = capabilities["implementation"]
        rows += [
            ("Implementation", _text(f"{implementation['name']} {implementation['version']}")),
            ("Protocol", _text(capabilities["protocol"])),
            ("Optional features", _join(sorted(capabilities["features"]), empty="none")),
            ("Limits", _join(f"{key} {value}" for key, value in capabilities["limits"].items())),
        ]
    selection = [f"--id {value}" for value in settings["ids"]]
    selection += [f"--tag {value}" for value in settings["tags"]]
    workers = f"{settings['jobs']} worker{'s' if settings['jobs'] != 1 else ''}"
    if settings["serial_pass"]:
        workers += "; @serial scenarios in a separate, serial pass"
    rows += [
        ("Selection", _text(" ".join(selection)) if selection else "every scenario"),
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


def _scenario(scenario: Mapping[str, Any]) -> str:
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
    is_open = " open" if verdict == "fail" else ""
    return (
        f'<details class="scenario" id="{_text(scenario["id"])}"{is_open}><summary>'
        f'<span class="badge v-{_text(verdict)}">{_text(verdict)}</span> '
        f"<code>{_text(scenario['id'])}</code> {_text(scenario['title'])}</summary>"
        f"<dl>{details}</dl>{evidence}</details>"
    )


def render_report(summary: Mapping[str, Any]) -> str:
    """The HTML page for a ``conformance-summary.json`` document."""
    verdict = summary["verdict"]
    counts = summary["counts"]
    tally = " · ".join(f"{counts[name]} {name}" for name in _verdicts(summary))
    errors = "".join(f"<li>{_text(error)}</li>" for error in summary["errors"])
    sections = []
    for area in summary["areas"]:
        scenarios = "".join(_scenario(s) for s in summary["scenarios"] if s["area"] == area["area"])
        sections.append(f"<h3>{_text(area['area'])} — {_text(area['name'])}</h3>{scenarios}")
    seenby_version = summary["versions"].get("seenby", "")
    headline = f"{_VERDICT_WORDS.get(verdict, verdict)} — {summary['target']}"
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
<p><span class="verdict {_text(verdict)}">{_text(_VERDICT_WORDS.get(verdict, verdict))}</span></p>
<p>{counts["total"]} scenarios: {_text(tally)}</p>
</header>
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
scenario failed, none was left unrun and no required scenario was skipped.</footer>
<script>{_SCRIPT}</script>
</body>
</html>
"""
