"""Plain frozen values the store returns (never ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FrameArrays", "ModelRunRecord", "TrackRecord", "VideoRecord"]


@dataclass(frozen=True)
class VideoRecord:
    """A video of the project.

    Attributes:
        path: Absolute path where the video is (or was last) found: the path relative to the
            project file when that file exists, else the stored absolute path.
        stored_path: What the project stores: the relative path when there is one, else the
            absolute path.
        missing: True when no file exists at ``path`` (moved or deleted; use ``relink_video``).
    """

    id: int
    path: Path
    stored_path: str
    width: int
    height: int
    frame_count: int
    fps: float
    vfr: bool
    codec: str
    duration_s: float
    fps_rational: tuple[int, int] | None = None
    rotation: int = 0
    kind: str = "file"
    missing: bool = False


@dataclass(frozen=True)
class TrackRecord:
    id: int
    name: str


@dataclass(frozen=True)
class ModelRunRecord:
    id: int
    model_path: str
    model_hash: str
    providers: tuple[str, ...]
    params: dict[str, Any]
    created_at: float


@dataclass(frozen=True, eq=False)
class FrameArrays:
    """Per-frame summary of one video, index = frame number (length ``frame_count``).

    ``min_score``/``mean_score`` are over the frame's predicted instances (an instance's score,
    or the mean of its labeled keypoint scores when it has none); NaN where there are none.
    """

    labeled: np.ndarray  # bool: frame has a user instance
    predicted: np.ndarray  # bool: frame has a predicted instance
    min_score: np.ndarray  # float32
    mean_score: np.ndarray  # float32
    n_user: np.ndarray  # int32 user instances per frame
    n_predicted: np.ndarray  # int32 predicted instances per frame

    def __len__(self) -> int:
        return int(self.labeled.shape[0])
