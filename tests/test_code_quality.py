"""ruff and mypy are part of the test command, so CI fails on a lint or type error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_is_clean() -> None:
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "pose_studio",
                          "tests", "bench"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


#: mypy started early (``tests/conftest.py`` starts it once the test is collected): it runs
#: on the second core while the other tests run, instead of 75 s on its own at the end.
_MYPY: list[subprocess.Popen[str]] = []


def start_mypy() -> None:
    """Start the mypy run in the background (once)."""
    if not _MYPY:
        # A fresh run every time (never a stale cache), and no cache written: mypy documents
        # --cache-dir=/dev/null (os.devnull) for that; writing a cache nobody reads cost 10 %.
        _MYPY.append(subprocess.Popen([sys.executable, "-m", "mypy", "--cache-dir", os.devnull,
                                       "pose_studio"], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, cwd=ROOT))


@pytest.mark.slow
def test_mypy_is_clean() -> None:
    start_mypy()
    proc = _MYPY[0]
    stdout, stderr = proc.communicate()
    assert proc.returncode == 0, stdout[-4000:] + stderr[-2000:]
