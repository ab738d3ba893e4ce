"""The tables of docs/protocol.md that the vocabulary defines: codes, limits and push events.

Each table sits in the document between a ``<!-- generated: NAME -->`` line and an
``<!-- end generated -->`` line. ``python -m seenby.contract.protocol_tables FILE`` rewrites them
from ``vocabulary``; a test fails when the committed text differs from what this module renders.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from seenby.contract.vocabulary import CODES, EVENTS, LIMITS

__all__ = ["TABLES", "render", "rewrite"]

_END = "<!-- end generated -->"


def _printed_limits() -> dict[str, str]:
    return {limit.name: limit.printed() for limit in LIMITS}


def _rows(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def code_table() -> str:
    """§1.2: every code with its HTTP status, level, name and when it is answered."""
    limits = _printed_limits()
    return _rows(
        ("code", "HTTP", "level", "name", "when"),
        [
            (str(int(e.code)), str(e.http_status), e.level.value, e.name, e.when.format(**limits))
            for e in CODES
        ],
    )


def limit_table() -> str:
    """§1.3: every limit that has a row, with its rule, level and refusal codes."""
    limits = _printed_limits()
    return _rows(
        ("limit", "value", "level", "error"),
        [
            (
                limit.row,
                limit.rule.format(**limits),
                limit.level.value,
                " / ".join(str(int(code)) for code in limit.codes),
            )
            for limit in LIMITS
            if limit.row
        ],
    )


def event_table() -> str:
    """§6: every push event, what its data holds and who receives it."""
    return _rows(("event", "data", "to"), [(f"`{e.name}`", e.data, e.to) for e in EVENTS])


TABLES: dict[str, Callable[[], str]] = {
    "codes": code_table,
    "limits": limit_table,
    "events": event_table,
}
"""Each generated table by the name its marker gives."""


def render(name: str) -> str:
    """The table ``name`` as markdown."""
    return TABLES[name]()


def rewrite(text: str) -> str:
    """``text`` with every generated table replaced by its current rendering.

    Raises ``ValueError`` naming the table when a marker has no end or names no known table.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in TABLES:
            raise ValueError(f"docs/protocol.md marks an unknown generated table {name!r}")
        return f"{match.group(0).splitlines()[0]}\n{render(name)}\n{_END}"

    pattern = re.compile(r"<!-- generated: ([a-z]+) -->\n.*?" + re.escape(_END), re.DOTALL)
    rewritten = pattern.sub(replace, text)
    opened = text.count("<!-- generated: ")
    if opened != len(pattern.findall(text)):
        raise ValueError("a generated table in docs/protocol.md has no end marker")
    return rewritten


def main(argv: list[str]) -> int:
    """Rewrite the generated tables of the file named in ``argv`` (docs/protocol.md)."""
    if len(argv) != 1:
        print("usage: python -m seenby.contract.protocol_tables docs/protocol.md", file=sys.stderr)
        return 2
    path = Path(argv[0])
    path.write_text(rewrite(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
