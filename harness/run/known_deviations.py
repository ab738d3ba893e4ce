"""Known-deviation files: the failures and strict deviations a target is known to have.

A vendor lists them once, with a reason each, and CI goes red only on what is new (the
web-platform-tests expectation pattern). ``seenby run --expect FILE`` and the pytest option
``--seenby-expect FILE`` (``seenby.harness.plugins.known_deviations``) read the same TOML file::

    # ACME Chat 2.3 against seenby
    [[expect]]
    id = "RR-E-004"
    result = "deviate"
    reason = "We answer a malformed body with HTTP 422, as our API guidelines require."

    [[expect]]
    id = "RR-R-001"
    row = "group chat"          # one Examples row of a Scenario Outline (as shown in brackets)
    result = "fail"
    reason = "Group receipts arrive in 2.4 (ACME-812)."

``result`` is ``fail`` (the scenario, or the row, is expected to fail: its failure and any
strict deviations it shows are excused) or ``deviate`` (core passes, strict deviations are
excused; a failure still counts). ``row`` is the row's ID as ``seenby run`` prints it in
brackets (pytest-bdd's: the row's cells joined with ``-``); an entry without ``row`` covers
every row not named by an entry of its own. Each entry is then judged against what happened
(``EntryStatus``): ``met``,
``stale`` (the target does better: the entry can go, or become ``deviate``), ``exceeded``
(expected to deviate, but it failed) or ``unchecked`` (it did not run).
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = [
    "EXPECTABLE_RESULTS",
    "EntryStatus",
    "KnownDeviation",
    "KnownDeviationFile",
    "KnownDeviationFileError",
]

EXPECTABLE_RESULTS = ("fail", "deviate")
"""What an entry may expect, mildest last."""

_SEVERITY = {"pass": 0, "deviate": 1, "fail": 2}
"""Item verdicts that ran, by how far they are from a pass."""

_REQUIRED_KEYS = ("id", "result", "reason")
_KEYS = (*_REQUIRED_KEYS, "row")


class KnownDeviationFileError(Exception):
    """The file cannot be read, breaks the format, or names a scenario or row that does not
    exist: a usage error (``seenby run`` exits 2)."""


class EntryStatus(StrEnum):
    """How an entry compares with what the target did."""

    MET = "met"
    """It failed (or deviated) as the entry says."""
    STALE = "stale"
    """It does better than the entry says: the entry can be removed (or become ``deviate``)."""
    EXCEEDED = "exceeded"
    """Expected to deviate, it failed: the failure is not excused."""
    UNCHECKED = "unchecked"
    """Skipped or not run: nothing to compare with."""


@dataclass(frozen=True)
class KnownDeviation:
    """One entry: scenario ``scenario_id`` (or its Examples row ``row``) is expected to
    ``result`` (``fail`` or ``deviate``) because of ``reason``."""

    scenario_id: str
    row: str | None
    result: str
    reason: str

    @property
    def label(self) -> str:
        """``RR-R-001`` or ``RR-R-001 [group chat]``."""
        return self.scenario_id if self.row is None else f"{self.scenario_id} [{self.row}]"

    def excuses_failure(self) -> bool:
        """Whether a failure of a covered item is expected."""
        return self.result == "fail"

    def assess(self, verdicts: Iterable[str]) -> EntryStatus:
        """Judge the entry from the verdicts of the items it covers (``pass``, ``deviate``,
        ``fail``, ``skip``, ``not-run``): the worst verdict that ran decides; when it is milder
        than expected while some covered item did not run, nothing is proven either way."""
        verdicts = list(verdicts)
        ran = [_SEVERITY[verdict] for verdict in verdicts if verdict in _SEVERITY]
        expected = _SEVERITY[self.result]
        worst = max(ran, default=None)
        if worst is None:
            return EntryStatus.UNCHECKED
        if worst > expected:
            return EntryStatus.EXCEEDED
        if worst == expected:
            return EntryStatus.MET
        return EntryStatus.UNCHECKED if len(ran) < len(verdicts) else EntryStatus.STALE

    def advice(self, status: EntryStatus, source: str) -> str:
        """One sentence on what ``status`` means for this entry of the file ``source``."""
        if status is EntryStatus.MET:
            return f"{self.label}: {_past(self.result)} as expected ({self.reason})"
        if status is EntryStatus.EXCEEDED:
            return f"{self.label}: expected only to deviate, it failed ({self.reason})"
        if status is EntryStatus.UNCHECKED:
            return f"{self.label}: not checked, it did not run ({self.reason})"
        if self.result == "fail":
            return (
                f"{self.label}: expected to fail, it no longer does: remove the entry from "
                f'{source}, or set result = "deviate" if it still deviates'
            )
        return f"{self.label}: expected to deviate, it now passes: remove the entry from {source}"


def _past(result: str) -> str:
    return {"fail": "failed", "deviate": "deviated"}[result]


@dataclass(frozen=True)
class KnownDeviationFile:
    """The entries of one known-deviation file."""

    source: str
    """The file as the user named it, for messages."""
    entries: tuple[KnownDeviation, ...]

    @classmethod
    def load(cls, path: Path) -> KnownDeviationFile:
        """Read and check the format of ``path``; raises ``KnownDeviationFileError`` saying which
        entry is wrong and how."""
        source = str(path)
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise KnownDeviationFileError(f"cannot read {source}: {error.strerror}") from error
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise KnownDeviationFileError(f"{source} is not valid TOML: {error}") from error
        unknown = sorted(set(document) - {"expect"})
        if unknown:
            raise KnownDeviationFileError(
                f"{source}: unknown top-level key {', '.join(unknown)} "
                "(the file holds [[expect]] entries only)"
            )
        raw_entries = document.get("expect", [])
        if not isinstance(raw_entries, list):
            raise KnownDeviationFileError(f"{source}: write the entries as [[expect]] tables")
        entries = tuple(
            _entry(source, number, raw) for number, raw in enumerate(raw_entries, start=1)
        )
        seen: dict[tuple[str, str | None], int] = {}
        for number, entry in enumerate(entries, start=1):
            key = (entry.scenario_id, entry.row)
            if key in seen:
                raise KnownDeviationFileError(
                    f"{source}: entry {number} repeats {entry.label} (entry {seen[key]})"
                )
            seen[key] = number
        return cls(source=source, entries=entries)

    def check_names(self, suite: Mapping[str, Collection[str]], *, rows: bool = True) -> None:
        """Raise ``KnownDeviationFileError`` naming every entry whose scenario or row is not in
        ``suite`` (scenario ID → its Examples row IDs, empty for a plain Scenario). With
        ``rows=False`` only the scenario IDs are checked."""
        problems = []
        for number, entry in enumerate(self.entries, start=1):
            where = f"entry {number} ({entry.label})"
            if entry.scenario_id not in suite:
                problems.append(
                    f"{where}: {entry.scenario_id} names no scenario of the suite "
                    "(`seenby run --list` shows them all)"
                )
                continue
            known = suite[entry.scenario_id]
            if rows and entry.row is not None and entry.row not in known:
                listed = ", ".join(repr(row) for row in known)
                problems.append(
                    f"{where}: {entry.scenario_id} has no Examples row {entry.row!r} "
                    + (f"(its rows: {listed})" if known else "(it is not a Scenario Outline)")
                )
        if problems:
            raise KnownDeviationFileError(f"{self.source}:\n  " + "\n  ".join(problems))

    def names_rows(self) -> bool:
        """Whether any entry names a single Examples row."""
        return any(entry.row is not None for entry in self.entries)

    def for_item(self, scenario_id: str, row: str | None) -> KnownDeviation | None:
        """The entry covering one item (a row's own entry before its scenario's), if any."""
        by_key = {(entry.scenario_id, entry.row): entry for entry in self.entries}
        return by_key.get((scenario_id, row)) or by_key.get((scenario_id, None))

    def for_scenario(self, scenario_id: str) -> tuple[KnownDeviation, ...]:
        """The entries naming ``scenario_id`` or one of its rows, in file order."""
        return tuple(entry for entry in self.entries if entry.scenario_id == scenario_id)

    def covered_verdicts(
        self, entry: KnownDeviation, item_verdicts: Mapping[str | None, str], item_count: int
    ) -> list[str]:
        """The verdicts of the items ``entry`` covers, from one scenario's ``item_verdicts``
        (row ID, ``None`` for a plain Scenario → verdict) out of its ``item_count`` items;
        covered items that did not report count as ``not-run``."""
        if entry.row is not None:
            return [item_verdicts.get(entry.row, "not-run")]
        named = {other.row for other in self.for_scenario(entry.scenario_id)} - {None}
        verdicts = [verdict for row, verdict in item_verdicts.items() if row not in named]
        unreported = item_count - len(item_verdicts) - len(named - item_verdicts.keys())
        return verdicts + ["not-run"] * max(unreported, 0)


def _entry(source: str, number: int, raw: object) -> KnownDeviation:
    where = f"{source}: entry {number}"
    if not isinstance(raw, dict):
        raise KnownDeviationFileError(f"{where} is not a table")
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise KnownDeviationFileError(
            f"{where}: unknown key {', '.join(unknown)} (allowed: {', '.join(_KEYS)})"
        )
    for key in _REQUIRED_KEYS:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise KnownDeviationFileError(f"{where}: {key} is required, as a non-empty string")
    row = raw.get("row")
    if row is not None and not isinstance(row, str):
        raise KnownDeviationFileError(
            f"{where}: row must be a string (the row as shown in brackets)"
        )
    if raw["result"] not in EXPECTABLE_RESULTS:
        raise KnownDeviationFileError(
            f"{where}: result must be one of {', '.join(EXPECTABLE_RESULTS)}, not {raw['result']!r}"
        )
    return KnownDeviation(
        scenario_id=raw["id"].strip().lstrip("@"),
        row=row,
        result=raw["result"],
        reason=raw["reason"].strip(),
    )
