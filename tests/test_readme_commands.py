"""The README's first lines are the two set-up commands, and CI runs the second one verbatim.

Issue 12, defect 16: the two commands once shared one ``.venv``, so running the tests (an
editable install) while the app was open pulled the package from under it. They must name
different environments.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = text.split("\n## ", 1)[0]  # everything before the first section
    return [ln.strip() for ln in head.splitlines() if ln.startswith("    python3 -m venv")]


def test_readme_starts_with_app_and_test_commands() -> None:
    cmds = _commands()
    assert len(cmds) == 2, cmds
    app, tests = cmds
    assert "pose-studio" in app and "pytest" in tests


def test_app_and_tests_use_different_environments() -> None:
    app, tests = _commands()
    envs = [re.match(r"python3 -m venv (\S+)", c).group(1) for c in (app, tests)]  # type: ignore[union-attr]
    assert envs[0] != envs[1], envs


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    _app, tests = _commands()
    assert tests in ci.splitlines()
