"""Strict deviations: where a target answered correctly but not as the reference server does.

The suite checks at two levels (docs/protocol.md "Conformance levels"). A *core* check that does
not hold raises an ``AssertionError``: the scenario fails. A *strict* check that does not hold is
recorded here as a ``Deviation`` and the scenario goes on; ``seenby run`` reports it, and
``--strict`` counts it as a failure.

Deviations leave a pytest process as ``user_properties`` of the scenario's test item, one
``(DEVIATION_PROPERTY, Deviation.to_json())`` pair each, so they reach ``seenby run`` across
xdist and appear in JUnit as they are.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass

__all__ = [
    "DEVIATION_PROPERTY",
    "STRICT_CHECKS",
    "Deviation",
    "DeviationLog",
    "StrictCheck",
    "strict_check",
]

DEVIATION_PROPERTY = "seenby_deviation"
"""The ``user_properties`` name that carries one deviation (its value: ``Deviation.to_json()``)."""


@dataclass(frozen=True)
class Deviation:
    """One strict check that did not hold.

    ``check`` says what was checked (``"HTTP status of code 6017"``), ``section`` where
    docs/protocol.md decides it (``"§1.2"``), ``reference`` what the reference server answers,
    ``observed`` what the target answered, ``where`` which call or event it was seen in.
    """

    check: str
    section: str
    reference: str
    observed: str
    where: str = ""
    check_id: str = ""
    """The ``StrictCheck`` it comes from: deviations are counted by check, not by wording."""

    def to_json(self) -> str:
        """One compact JSON object (the ``user_properties`` value)."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Deviation:
        """The inverse of ``to_json``."""
        fields = json.loads(text)
        return cls(**{name: str(fields.get(name, "")) for name in cls.__dataclass_fields__})

    def __str__(self) -> str:
        where = f" in {self.where}" if self.where else ""
        return (
            f"strict deviation (docs/protocol.md {self.section}){where}: {self.check}: "
            f"the reference answers {self.reference}, the target answered {self.observed}"
        )


@dataclass(frozen=True)
class StrictCheck:
    """One strict check of the suite: a stable ID, the docs/protocol.md section that decides
    it and what it checks, for people. Declare each once with ``strict_check``."""

    id: str
    section: str
    what: str

    def deviation(
        self, reference: object, observed: object, where: str = "", *, what: str | None = None
    ) -> Deviation:
        """The deviation of this check: the reference answers ``reference``, the target
        answered ``observed``; ``what`` words this occurrence when it says more than the
        check's own text (the check's ID is what counts)."""
        return Deviation(
            what or self.what, self.section, str(reference), str(observed), where, self.id
        )


STRICT_CHECKS: dict[str, StrictCheck] = {}
"""Every strict check declared, by ID."""


def strict_check(check_id: str, section: str, what: str) -> StrictCheck:
    """Declare the strict check ``check_id`` (a ``ValueError`` if that ID is taken)."""
    if check_id in STRICT_CHECKS:
        raise ValueError(f"the strict check {check_id!r} is declared twice")
    STRICT_CHECKS[check_id] = StrictCheck(check_id, section, what)
    return STRICT_CHECKS[check_id]


class DeviationLog:
    """The deviations seen through one target's clients, oldest first (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deviations: list[Deviation] = []

    def record(self, deviation: Deviation) -> None:
        """Remember ``deviation``."""
        with self._lock:
            self._deviations.append(deviation)

    def snapshot(self) -> list[Deviation]:
        """The deviations so far, oldest first."""
        with self._lock:
            return list(self._deviations)
