"""Comments and documents point only at what a reader of this repository can follow: no
tracker or issue number (the repository is read without the tracker), no folder outside the
repository, and no command that no longer exists (a ``scripts/`` file, a ``python -m`` module of
ours, a ``seenby`` subcommand, an extra of ``pip install '.[extra]'``).

Every text file git tracks is read, except the lock files and this file (which spells the
patterns out); ``CHANGELOG.md``, whose history may name what was removed, is held to the first
two rules only.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.packaging.artifacts import REPO, run

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
# The documents vendored into docs/spec/ are kept word for word as they were given (a test holds
# them to their copies); the public sources they cite are theirs.
VENDORED = {
    f"docs/spec/{name}" for name in ("receipts-spec.md", "protocol-v1.md", "tencent-facts.md")
}
NOT_READ = {"uv.lock", "constraints.txt", Path(__file__).relative_to(REPO).as_posix(), *VENDORED}
HISTORY = "CHANGELOG.md"

TRACKER_NUMBER = re.compile(
    r"\b(?:issues?|tickets?|PRs?|pull requests?)\s*#?\d+|[(\[]#\d+[)\]]", re.IGNORECASE
)
OUTSIDE_FOLDER = re.compile(r"(?<![\w./-])shared/|/work/|(?:\.\./)+[\w.-]*")
SCRIPT = re.compile(r"(?<![\w./-])scripts/([a-z][a-z-]*)")
MODULE = re.compile(r"python3? -m ((?:bench|tests|seenby)(?:\.\w+)*)")
SUBCOMMAND = re.compile(r"(?:bin/seenby|`seenby|uvx seenby) ([a-z]+)\b")
EXTRA = re.compile(r"(?:['\"]\.|seenby)\[([a-z,-]+)\]")

# Known findings in files that other work is changing now; each entry goes once its file is
# fixed (the test fails while an entry has nothing left to excuse).
NOT_YET_FIXED = {
    "bench/findings.md": "issue numbers in section titles; /work/before",
    "docs/performance.md": "issue numbers in section titles (copied from bench/findings.md)",
}


def tracked_text_files() -> Iterator[tuple[str, str]]:
    """``(path, text)`` of every tracked text file but those of ``NOT_READ``; links are skipped
    (their targets are tracked themselves)."""
    listed = subprocess.run(
        ["git", "ls-files", "-s"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    for entry in listed.splitlines():
        mode, _, path = entry.partition("\t")
        if mode.startswith("120000") or path in NOT_READ:
            continue
        try:
            yield path, (REPO / path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a binary file


def outside_the_repository(path: str, match: str) -> bool:
    """Whether ``match`` (found in ``path``) names a place outside the repository."""
    if match.startswith("../"):
        return not ((REPO / path).parent / match).resolve().is_relative_to(REPO)
    return True


def module_exists(name: str) -> bool:
    """Whether ``python -m name`` finds a module or package of this repository."""
    parts = name.split(".")
    if parts[0] == "seenby" and len(parts) > 1:
        folder = PYPROJECT["tool"]["setuptools"]["package-dir"][".".join(parts[:2])]
        parts = [folder, *parts[2:]]
    path = REPO.joinpath(*parts)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


_SUBCOMMANDS: dict[str, bool] = {}


def subcommand_exists(word: str) -> bool:
    """Whether ``seenby WORD --help`` is understood (asked once per word)."""
    if word not in _SUBCOMMANDS:
        seenby = Path(sys.executable).with_name("seenby")
        _SUBCOMMANDS[word] = run([str(seenby), word, "--help"], cwd=REPO).returncode == 0
    return _SUBCOMMANDS[word]


def findings() -> dict[str, list[str]]:
    """Path -> what in it breaks a rule, for every tracked text file."""
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    found: dict[str, list[str]] = {}
    for path, text in tracked_text_files():
        problems = [f"tracker number {m.group(0)!r}" for m in TRACKER_NUMBER.finditer(text)]
        problems += [
            f"folder outside the repository {m.group(0)!r}"
            for m in OUTSIDE_FOLDER.finditer(text)
            if outside_the_repository(path, m.group(0))
        ]
        if path != HISTORY:
            problems += [
                f"no script {m.group(0)}"
                for m in SCRIPT.finditer(text)
                if not (REPO / "scripts" / m.group(1)).is_file()
            ]
            problems += [
                f"no module for python -m {m.group(1)}"
                for m in MODULE.finditer(text)
                if not module_exists(m.group(1))
            ]
            problems += [
                f"no extra [{name}]"
                for m in EXTRA.finditer(text)
                for name in m.group(1).split(",")
                if name not in extras
            ]
            problems += [
                f"no subcommand seenby {m.group(1)}"
                for m in SUBCOMMAND.finditer(text)
                if not subcommand_exists(m.group(1))
            ]
        if problems:
            found[path] = problems
    return found


@pytest.fixture(scope="module")
def found() -> dict[str, list[str]]:
    """This checkout's findings."""
    return findings()


def test_no_file_cites_a_tracker_an_outside_folder_or_a_missing_command(
    found: dict[str, list[str]],
) -> None:
    new = {path: problems for path, problems in found.items() if path not in NOT_YET_FIXED}
    assert not new, "\n".join(f"{path}: {'; '.join(problems)}" for path, problems in new.items())


def test_every_excused_file_still_needs_its_excuse(found: dict[str, list[str]]) -> None:
    fixed = [path for path in NOT_YET_FIXED if path not in found]
    assert not fixed, f"fixed, so remove them from NOT_YET_FIXED: {fixed}"
