"""The release artifacts, built from this checkout as the release workflow builds them:
``uv build`` writes the sdist, then builds the wheel from the unpacked sdist (so a file the sdist
forgets is missing from the wheel too)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")
"""The locked uv of the test environment (the dev dependency group)."""


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to completion, output captured, never raising on its exit status."""
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


@dataclass(frozen=True)
class Distributions:
    """A built sdist and wheel."""

    sdist: Path
    wheel: Path


def build(out: Path) -> Distributions:
    """Build the sdist and the wheel from it into ``out``."""
    built = run([str(UV), "build", "--quiet", "--out-dir", str(out), str(REPO)], cwd=out)
    assert built.returncode == 0, built.stderr
    (sdist,) = out.glob("seenby-*.tar.gz")
    (wheel,) = out.glob("seenby-*.whl")
    return Distributions(sdist=sdist, wheel=wheel)
