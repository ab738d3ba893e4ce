"""Strict checks are declared once, by ID, each in a section docs/protocol.md has; deviations of
one check count as one however each occurrence is worded."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import seenby.steps
from seenby.harness.reports.summary import _distinct
from seenby.harness.wire.deviations import STRICT_CHECKS, strict_check

PROTOCOL_DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def _every_check() -> dict[str, object]:
    for module in pkgutil.iter_modules(seenby.steps.__path__):
        if module.name != "test_conformance":  # it collects the scenarios; the steps suffice
            importlib.import_module(f"seenby.steps.{module.name}")
    return dict(STRICT_CHECKS)


def test_every_strict_check_names_a_section_of_the_protocol_doc() -> None:
    headings = set(re.findall(r"^#{2,4} (\d+(?:\.\d+)*)\.? ", PROTOCOL_DOC.read_text(), re.M))
    checks = _every_check()
    assert len(checks) >= 20, sorted(checks)
    missing = {
        check_id: check.section  # type: ignore[attr-defined]
        for check_id, check in checks.items()
        if check.section.removeprefix("§") not in headings  # type: ignore[attr-defined]
    }
    assert not missing, missing


def test_a_check_id_is_declared_once() -> None:
    taken = next(iter(_every_check()))
    with pytest.raises(ValueError, match="declared twice"):
        strict_check(taken, "§1", "again")


def test_deviations_of_one_check_count_once_however_worded() -> None:
    check = STRICT_CHECKS["status-of-code"]
    first = check.deviation("HTTP 400 for code 6017", "HTTP 422 for code 6017", what="wording A")
    second = check.deviation("HTTP 400 for code 6017", "HTTP 422 for code 6017", what="wording B")
    other = check.deviation("HTTP 404 for code 10062", "HTTP 422 for code 10062")

    class Item:
        def __init__(self, label: str, *deviations: object) -> None:
            self.label, self.deviations, self.deviations_excused = label, deviations, False

    distinct = _distinct([Item("RR-E-001", first), Item("RR-E-002", second, other)])  # type: ignore[list-item]
    assert [(d.check_id, d.seen_in) for d in distinct] == [
        ("status-of-code", ("RR-E-001", "RR-E-002")),
        ("status-of-code", ("RR-E-002",)),
    ]
