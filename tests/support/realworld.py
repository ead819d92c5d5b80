"""Where the shared corpus of real-world files is (``../shared/realworld`` beside the repo).

Tried in order: ``$POSE_STUDIO_REALWORLD``, ``<repo>/../shared/realworld`` (``/work/main``) and
``<repo>/../../shared/realworld`` (worktrees under ``/work/wt/NAME``). Tests call
:func:`realworld_dir` and skip, saying why, when it returns None.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def realworld_dir() -> Path | None:
    env = os.environ.get("POSE_STUDIO_REALWORLD")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "realworld", REPO.parent.parent / "shared" / "realworld"]
    for c in candidates:
        if (c / "data").is_dir():
            return c
    return None


SKIP_REASON = (
    "the real-world corpus (../shared/realworld, or $POSE_STUDIO_REALWORLD) is not here"
)
