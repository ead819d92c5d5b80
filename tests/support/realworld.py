"""Where the shared corpus of real-world files is (never copied into the repository).

Tried in order: ``$POSE_STUDIO_REALWORLD``, ``<repo>/../shared/realworld`` (a checkout in
``/work/main``) and ``<repo>/../../shared/realworld`` (a worktree in ``/work/wt/NAME``). Tests
call :func:`realworld` (skips, saying why) or :func:`realworld_dir` (None when absent).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SKIP_REASON = (
    "the real-world corpus (../shared/realworld, or $POSE_STUDIO_REALWORLD) is not here"
)


def realworld_dir() -> Path | None:
    env = os.environ.get("POSE_STUDIO_REALWORLD")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "realworld", REPO.parent.parent / "shared" / "realworld"]
    for c in candidates:
        if (c / "data").is_dir():
            return c.resolve()
    return None


def realworld(rel: str) -> Path:
    """A corpus file or folder, or skip the test saying why."""
    root = realworld_dir()
    if root is None:
        pytest.skip(SKIP_REASON)
    p = root / rel
    if not p.exists():
        pytest.skip(f"corpus file {rel} is not in {root}")
    return p


#: Older name, kept for the tests that use it.
realworld_file = realworld
