"""Fixtures for the notebook tests."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest
from notebook_execution import NOTEBOOKS_DIR


@pytest.fixture(autouse=True)
def headless_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kernels inherit a non-interactive backend, as on CI: the notebooks must still draw PNGs."""
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def build_script() -> ModuleType:
    """`notebooks/build.py`, imported as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS_DIR / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
