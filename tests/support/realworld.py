"""Where the shared corpus of real files lives (never copied into the repository).

``POSE_STUDIO_REALWORLD`` wins; else ``<repo>/../shared/realworld`` (a checkout in /work/main)
or ``<repo>/../../shared/realworld`` (a worktree in /work/wt/NAME).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def realworld_dir() -> Path | None:
    env = os.environ.get("POSE_STUDIO_REALWORLD")
    cands = [Path(env)] if env else []
    cands += [REPO / ".." / "shared" / "realworld", REPO / ".." / ".." / "shared" / "realworld"]
    for c in cands:
        if c.is_dir():
            return c.resolve()
    return None


def realworld(rel: str) -> Path:
    """A corpus file or folder, or skip the test saying why."""
    root = realworld_dir()
    if root is None:
        pytest.skip("the real-world corpus (../shared/realworld) is not on this machine")
    p = root / rel
    if not p.exists():
        pytest.skip(f"corpus file {rel} is not in {root}")
    return p
