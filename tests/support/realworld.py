"""The shared corpus of files other tools wrote (``shared/realworld``): found beside the
repository (``/work/main``) or two levels up (``/work/wt/NAME``), or at ``POSE_STUDIO_REALWORLD``.
Tests that use it skip, saying why, when it is not there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]


def realworld_dir() -> Path | None:
    env = os.environ.get("POSE_STUDIO_REALWORLD")
    candidates = [Path(env)] if env else []
    candidates += [_REPO / ".." / "shared" / "realworld", _REPO / ".." / ".." / "shared" / "realworld"]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return None


def realworld_file(rel: str) -> Path:
    """``shared/realworld/<rel>``, or skip the test naming what is missing."""
    base = realworld_dir()
    if base is None:
        pytest.skip("the shared real-world corpus (shared/realworld, or POSE_STUDIO_REALWORLD) "
                    "is not on this machine")
    p = base / rel
    if not p.exists():
        pytest.skip(f"{rel} is not in the real-world corpus at {base}")
    return p
