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


@pytest.mark.slow
def test_mypy_is_clean() -> None:
    # A fresh run every time (never a stale cache), and no cache written: mypy documents
    # --cache-dir=/dev/null (os.devnull) for that; writing a cache nobody reads cost 10 %.
    out = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", os.devnull,
                          "pose_studio"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
