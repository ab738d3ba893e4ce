"""The seenby plugin stays out of other people's pytest sessions: it adds its options and
nothing else, and a user's fixture named like one of seenby's (``world``) keeps working on both
sides — in the user's tests, and in seenby's scenarios run in the same session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

USER_CONFTEST = """
import pytest

@pytest.fixture
def world():
    return "the user's own world"
"""
USER_TEST = """
def test_my_world(world):
    assert world == "the user's own world"

def test_seenby_fixtures_are_not_here(request):
    import pytest
    with pytest.raises(pytest.FixtureLookupError):
        request.getfixturevalue("seenby_target")
"""


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _user_project(tmp_path: Path) -> Path:
    (tmp_path / "conftest.py").write_text(USER_CONFTEST)
    (tmp_path / "test_mine.py").write_text(USER_TEST)
    (tmp_path / "user_plugin.py").write_text(USER_CONFTEST)
    return tmp_path


def test_a_users_session_gets_only_seenbys_options(tmp_path: Path) -> None:
    project = _user_project(tmp_path)
    run = _pytest(project, "--strict-markers", "-q", "test_mine.py")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
    help_text = _pytest(project, "--help").stdout
    assert "--seenby-target" in help_text


def test_a_users_world_and_seenbys_scenarios_share_a_session(tmp_path: Path) -> None:
    project = _user_project(tmp_path)
    # The user's world as a plugin fixture too: seenby's scenarios still get seenby's world.
    run = _pytest(
        project,
        "--strict-markers",
        "-q",
        "-p",
        "user_plugin",
        "test_mine.py",
        "--pyargs",
        "seenby.steps",
        "-k",
        "my_world or successful_call_answers or several_messages_in_one_call",
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "4 passed" in run.stdout, run.stdout[-3000:]
