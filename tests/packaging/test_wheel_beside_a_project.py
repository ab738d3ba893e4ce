"""seenby's built wheel, installed into a fresh virtual environment beside someone else's
project, leaves that project alone: the project has a ``steps`` package of its own, a
``world`` fixture of its own and tests that use both, and they pass under ``pytest`` and
``python -m pytest``; ``seenby run`` works from the project's folder.

The wheel is built from this checkout (``uv build``) and installed with pip and
``constraints.txt``, as a vendor's CI (or ``pipx install``) would install a release.
"""

from __future__ import annotations

import venv
from pathlib import Path

import pytest

from tests.packaging.artifacts import REPO, Distributions, run

PROJECT_FILES = {
    "steps/__init__.py": '"""The project\'s own steps package (PyPI has a steps too)."""\n',
    "steps/recipes.py": "def first_step() -> str:\n    return 'mix'\n",
    "tests/conftest.py": (
        "import pytest\n\n\n@pytest.fixture\ndef world():\n    return 'the project world'\n"
    ),
    "tests/test_project.py": (
        "import steps\nfrom steps.recipes import first_step\n\n\n"
        "def test_its_own_steps_package():\n"
        "    assert steps.__file__.endswith('steps/__init__.py') and first_step() == 'mix'\n\n\n"
        "def test_its_own_world(world):\n    assert world == 'the project world'\n"
    ),
    "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["tests"]\npythonpath = ["."]\n',
}


@pytest.fixture(scope="module")
def installed(
    distributions: Distributions, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """(the fresh environment's bin folder, the project folder)."""
    work = tmp_path_factory.mktemp("wheel")
    venv.create(work / "env", with_pip=True)
    bin_dir = work / "env" / "bin"
    install = run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "-c", str(REPO / "constraints.txt"), str(distributions.wheel)],
        cwd=work,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    project = work / "project"
    for name, text in PROJECT_FILES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text, encoding="utf-8")
    return bin_dir, project


@pytest.mark.parametrize("runner", [["pytest"], ["python", "-m", "pytest"]])
def test_the_projects_own_tests_pass(installed: tuple[Path, Path], runner: list[str]) -> None:
    bin_dir, project = installed
    command = [str(bin_dir / runner[0]), *runner[1:], "-q", "-p", "no:cacheprovider"]
    finished = run(command, cwd=project)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-2000:]
    assert "2 passed" in finished.stdout


def test_seenby_run_works_from_the_projects_folder(installed: tuple[Path, Path]) -> None:
    bin_dir, project = installed
    finished = run(
        [str(bin_dir / "seenby"), "run", "--quiet", "--id", "RR-E-001", "--id", "RR-R-001",
         "--report-dir", "seenby-report"],
        cwd=project,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-2000:]
    assert "verdict: conformant" in finished.stdout
    assert (project / "seenby-report" / "report.html").exists()
