"""The developer tooling is wired to the locked tools: the pre-commit configuration is valid and
every hook runs a program that the test environment (or the repository) has, and the links that
show type checkers the installed layout point at the folders pyproject.toml installs."""

from __future__ import annotations

import shlex
import sys
import tomllib
from pathlib import Path

import yaml

from tests.packaging.artifacts import REPO, run

PRE_COMMIT_CONFIG = REPO / ".pre-commit-config.yaml"


def test_the_pre_commit_configuration_is_valid() -> None:
    pre_commit = Path(sys.executable).with_name("pre-commit")
    checked = run([str(pre_commit), "validate-config", str(PRE_COMMIT_CONFIG)], cwd=REPO)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_hook_runs_a_program_that_exists() -> None:
    config = yaml.safe_load(PRE_COMMIT_CONFIG.read_text(encoding="utf-8"))
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert {hook["id"] for hook in hooks} >= {"ruff", "ruff-format", "typecheck"}
    for hook in hooks:
        program = shlex.split(hook["entry"])[0]
        # .venv/bin/X is the test environment's X, wherever that environment is.
        where = (
            Path(sys.executable).with_name(Path(program).name)
            if program.startswith(".venv/bin/")
            else REPO / program
        )
        assert where.is_file(), f"hook {hook['id']} runs {program}, which does not exist"


def test_the_layout_links_point_at_the_installed_folders() -> None:
    package_dir = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["package-dir"]
    for package, folder in package_dir.items():
        parts = package.split(".")
        if len(parts) == 2:  # seenby.harness -> seenby/harness, a link to harness/
            link = REPO.joinpath(*parts)
            assert link.is_symlink(), f"{link.relative_to(REPO)} is not a link"
            assert link.resolve() == (REPO / folder).resolve(), f"{link} -> {link.resolve()}"
