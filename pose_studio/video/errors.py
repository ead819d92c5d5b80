"""Errors the video layer raises for files the user can act on."""

from __future__ import annotations

from pathlib import Path

from pose_studio.core.errors import PoseStudioError


class VideoError(PoseStudioError):
    """A video (or image folder) that cannot be opened or read, with the path and the reason.

    ``str(error)`` is one line naming both, e.g. ``"clip.mp4: not a video file ffmpeg can read"``.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class FrameIndexError(VideoError, IndexError):
    """A frame index outside ``[0, frame_count)`` (also an :class:`IndexError`)."""
