"""``python -m tests.mutants``: run the conformance suite against both galleries.

Without ``--only`` or ``--focused`` it runs the whole suite against every faulty variant and
every correct alternative and writes docs/conformance-power.md. Exit status: 0 when the suite
passes on the correct server, catches every faulty variant (at least as a strict deviation) and
passes every correct alternative with exactly its declared deviations; 1 otherwise; 2 on a usage
error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .alternatives import ALTERNATIVES, Alternative, alternative_named
from .gallery import GALLERY, Variant, variant_named
from .killrun import REPO, describe, run_gallery, write_report

DEFAULT_REPORT = REPO / "docs" / "conformance-power.md"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.mutants",
        description="Run the conformance suite against each faulty variant of the reference "
        "server (which scenarios catch it) and each correct alternative (whether it passes, "
        "with exactly its declared strict deviations).",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="run only these faulty variants and correct alternatives (see --list)",
    )
    parser.add_argument(
        "-j", dest="jobs", type=int, default=2, metavar="N",
        help="servers run at a time (default 2, for this 2-core machine)",
    )  # fmt: skip
    parser.add_argument(
        "--focused",
        action="store_true",
        help="run against each faulty variant only the scenarios tagged with the behaviours it "
        "breaks, and against each correct alternative only those where the spec leaves room",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help=f"write the Markdown report here (default: {DEFAULT_REPORT.relative_to(REPO)} "
        "for a full run of both galleries, none otherwise)",
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="keep each run's reports and logs under DIR"
    )
    parser.add_argument(
        "--list", action="store_true", help="list the variants and alternatives and exit"
    )
    return parser


def _chosen(names: list[str]) -> tuple[list[Variant], list[Alternative]]:
    """The faulty variants and correct alternatives called ``names`` (``KeyError`` if one is
    neither)."""
    variants, alternatives = [], []
    for name in names:
        try:
            alternatives.append(alternative_named(name))
        except KeyError:
            variants.append(variant_named(name))
    return variants, alternatives


def main(argv: list[str] | None = None) -> int:
    """Run the kill run as the command line asks; the exit status."""
    parser = _parser()
    options = parser.parse_args(argv)
    if options.list:
        for each in GALLERY:
            print(f"{each.name:<45} {', '.join(each.breaks):<14} {each.layer:<8} {each.bug}")
        print(f"{len(GALLERY)} faulty variants")
        for alternative in ALTERNATIVES:
            deviates = ", ".join(alternative.deviates) or "none"
            print(f"{alternative.name:<48} deviates in {deviates}")
        print(f"{len(ALTERNATIVES)} correct alternatives")
        return 0
    if options.jobs < 1:
        parser.error("-j must be at least 1")
    try:
        chosen, alternatives = _chosen(options.only) if options.only else (GALLERY, ALTERNATIVES)
    except KeyError as error:
        parser.error(f"{error.args[0]} (--list shows them)")
    report = options.report
    if report is None and options.only is None and not options.focused:
        report = DEFAULT_REPORT
    scope = "scenarios about its behaviours" if options.focused else "the whole suite"
    print(
        f"kill run: {len(chosen)} faulty variants, {len(alternatives)} correct alternatives "
        f"and the correct server, {scope} against each, {options.jobs} at a time",
        flush=True,
    )
    run = run_gallery(
        chosen,
        alternatives,
        jobs=options.jobs,
        focused=options.focused,
        work_dir=options.keep,
        progress=lambda verdict: print(describe(verdict), flush=True),
    )
    if report is not None:
        write_report(run, report)
        print(f"report: {report}")
    if not run.control.passed_cleanly:
        print("the suite does not pass on the correct server: the kill run proves nothing")
    print(run.summary_line())
    return 0 if run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
