"""The sdist and wheel a release publishes, built and checked as the release workflow does
(``uv build``, ``twine check``), and the wheel run the two ways the README offers a user who
does not clone the repository: ``uvx`` here, pip into a fresh venv (as ``pipx install`` does)
in ``test_wheel_beside_a_project``."""

from __future__ import annotations

import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

from tests.packaging.artifacts import REPO, UV, Distributions, run

SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "setuptools"
]


def repository_modules() -> set[str]:
    """Every module under the folders the package installs, as the wheel must name it
    (``harness/load/cli.py`` is ``seenby/harness/load/cli.py``): a module in a subfolder that
    ``[tool.setuptools] packages`` forgets is missing from the wheel, and this names it."""
    modules = {f"seenby/{path.name}" for path in (REPO / "seenby").glob("*.py")}
    for package, folder in SETUPTOOLS["package-dir"].items():
        if package.count(".") != 1:
            continue  # seenby itself, or a subpackage inside one of these folders
        for path in (REPO / folder).rglob("*.py"):
            relative = path.relative_to(REPO / folder).as_posix()
            modules.add(f"{package.replace('.', '/')}/{relative}")
    return modules


def test_twine_accepts_the_sdist_and_the_wheel(distributions: Distributions) -> None:
    checked = run(
        [sys.executable, "-m", "twine", "check", "--strict",
         str(distributions.sdist), str(distributions.wheel)],
        cwd=REPO,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2, checked.stdout


def test_the_wheel_holds_every_module_once(distributions: Distributions) -> None:
    with zipfile.ZipFile(distributions.wheel) as wheel:
        names = wheel.namelist()
    modules = [name for name in names if name.endswith(".py")]
    assert len(modules) == len(set(modules)), "a module is in the wheel twice"
    assert set(modules) == repository_modules()
    assert "seenby/py.typed" in names
    # The links under seenby/ that show type checkers the layout are not packaged again.
    assert not [name for name in names if name.startswith("seenby/seenby/")]


def test_the_sdist_holds_the_sources_without_links_or_local_state(
    distributions: Distributions,
) -> None:
    with tarfile.open(distributions.sdist) as sdist:
        # Names relative to the sdist's top folder (seenby-VERSION/).
        names = {name.partition("/")[2] for name in sdist.getnames()}
    assert {"pyproject.toml", "README.md", "harness/cli.py", "steps/plugin.py"} <= names
    assert any(name.startswith("features/") and name.endswith(".feature") for name in names)
    leaked = [
        name
        for name in names
        if name.startswith(("seenby/harness", "seenby/steps", ".venv/", ".tools/", "build/"))
    ]
    assert not leaked, leaked


def test_uvx_runs_the_built_wheel_against_the_bundled_server(
    distributions: Distributions, tmp_path: Path
) -> None:
    uvx = [str(UV), "tool", "run", "--isolated", "--quiet",
           "--constraints", str(REPO / "constraints.txt"),
           "--from", str(distributions.wheel), "seenby", "run"]  # fmt: skip
    listed = run([*uvx, "--list"], cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "RR-E-001" in listed.stdout and "RR-R-001" in listed.stdout
    ran = run([*uvx, "--quiet", "--id", "RR-E-001", "--report-dir", "report"], cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "verdict: conformant" in ran.stdout
    assert (tmp_path / "report" / "junit.xml").exists()
