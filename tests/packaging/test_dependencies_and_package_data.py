"""What pyproject.toml promises: ranges for users, exact versions for our runs, every data file.

Published metadata gives compatible ranges, never ``==``; ``uv.lock`` and ``constraints.txt``
(both written by ``scripts/lock``) pin every dependency, extra and dependency group to the same
version inside its range, so our own runs are reproducible and plain pip installs what uv does;
``scripts/uv`` bootstraps the uv that the lock pins; and every data file the package reads at
run time (schemas, features, the contract documents) is covered by
``[tool.setuptools.package-data]``, so the wheel ships it.
"""

from __future__ import annotations

import tomllib
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
PYPI = "https://pypi.org/simple"


def requirements() -> list[Requirement]:
    """Every dependency: of the package, of each extra and of each dependency group."""
    lines = PROJECT["dependencies"] + [
        line for extra in PROJECT["optional-dependencies"].values() for line in extra
    ]
    groups = PYPROJECT["dependency-groups"].values()
    # A group's entries are requirements or {include-group = ...} tables.
    lines += [line for group in groups for line in group if isinstance(line, str)]
    return [Requirement(line) for line in lines]


def locked() -> dict[str, set[Version]]:
    """``uv.lock``: package name -> its locked versions (one per Python or platform split)."""
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    versions: dict[str, set[Version]] = {}
    for package in lock["package"]:
        if package["name"] != PROJECT["name"]:
            versions.setdefault(package["name"], set()).add(Version(package["version"]))
    return versions


def pinned() -> dict[str, set[Version]]:
    """``constraints.txt``: package name -> its exact versions (markers ignored)."""
    versions: dict[str, set[Version]] = {}
    for raw in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        [specifier] = requirement.specifier
        assert specifier.operator == "==", raw
        versions.setdefault(canonicalize_name(requirement.name), set()).add(
            Version(specifier.version)
        )
    return versions


def test_published_dependencies_are_ranges_not_pins() -> None:
    exact = [str(r) for r in requirements() if any(s.operator == "==" for s in r.specifier)]
    assert not exact, f"pinned in pyproject.toml (pin in constraints.txt instead): {exact}"


@pytest.mark.parametrize("requirement", requirements(), ids=str)
def test_the_constraints_pin_every_dependency_inside_its_range(requirement: Requirement) -> None:
    versions = pinned()
    name = canonicalize_name(requirement.name)
    assert name in versions, f"{name} is missing from constraints.txt: run scripts/lock"
    outside = [v for v in versions[name] if not requirement.specifier.contains(v, True)]
    assert not outside, (
        f"constraints.txt pins {name} at {outside}, outside {requirement.specifier}: "
        "run scripts/lock"
    )


def test_the_constraints_are_the_lock_exported() -> None:
    assert pinned() == locked(), "uv.lock and constraints.txt differ: run scripts/lock"


def test_the_lock_resolves_from_pypi_alone() -> None:
    # uv reads no pip configuration: a machine's own index (pip.conf, PIP_* variables) must not
    # leak into the lock, so every clone installs the same files from PyPI.
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    sources = {
        package["name"]: package["source"]
        for package in lock["package"]
        if package["name"] != PROJECT["name"]
    }
    elsewhere = {name: source for name, source in sources.items() if source != {"registry": PYPI}}
    assert not elsewhere, f"locked from elsewhere than {PYPI}: {elsewhere}"


def test_scripts_uv_bootstraps_the_locked_uv() -> None:
    script = (REPO / "scripts" / "uv").read_text(encoding="utf-8")
    [line] = [line for line in script.splitlines() if line.startswith("UV_VERSION=")]
    assert locked()["uv"] == {Version(line.partition("=")[2])}, (
        "scripts/uv and the uv of uv.lock (dev group) differ: change both together"
    )


def package_folder(package: str) -> Path:
    """Where ``package`` lives in the repository, by ``[tool.setuptools.package-dir]``."""
    return REPO / SETUPTOOLS.get("package-dir", {}).get(package, package.replace(".", "/"))


def package_data_files() -> list[tuple[str, str]]:
    """``(package, file relative to it)`` for every non-Python file inside a listed package."""
    found = []
    for package in SETUPTOOLS["packages"]:
        folder = package_folder(package)
        subpackages = {p for p in SETUPTOOLS["packages"] if p.startswith(package + ".")}
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            inside_subpackage = any(path.is_relative_to(package_folder(sub)) for sub in subpackages)
            data = path.is_file() and path.suffix not in (".py", ".pyc")
            if data and not inside_subpackage and "__pycache__" not in relative.parts:
                found.append((package, relative.as_posix()))
    return found


def matches(name: str, glob: str) -> bool:
    """Whether setuptools' package-data ``glob`` takes ``name`` (``*`` stays within a folder)."""
    parts, pattern = PurePosixPath(name).parts, PurePosixPath(glob).parts
    return len(parts) == len(pattern) and all(map(fnmatchcase, parts, pattern))


def test_every_data_file_of_a_package_ships_in_the_wheel() -> None:
    globs = SETUPTOOLS["package-data"]
    missing = [
        f"{package}: {name}"
        for package, name in package_data_files()
        if not any(matches(name, glob) for glob in globs.get(package, []))
    ]
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"
    names = {name for _, name in package_data_files()}
    assert {"openapi.json", "asyncapi.json", "requests/sendMessage.json"} <= names
