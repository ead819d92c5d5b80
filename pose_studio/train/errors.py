"""The training error (its own module, so the data and trainer modules need not import each
other for it)."""

from __future__ import annotations

from pose_studio.core.errors import PoseStudioError


class TrainError(PoseStudioError):
    """Training cannot start or continue (bad data, missing torch, unreadable checkpoint)."""


__all__ = ["TrainError"]
