"""Image features for diverse-frame suggestions: small grey thumbnails, normalised."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np


def thumbnail_feature(frame: np.ndarray, size: tuple[int, int] = (16, 12)) -> np.ndarray:
    """A frame as a ``w*h`` vector: grey, area-averaged to ``size``, zero mean, unit norm (so
    the clustering sees what is in the picture, not how bright it is)."""
    g = frame if frame.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(frame),
                                                   cv2.COLOR_BGR2GRAY)
    t = cv2.resize(g, size, interpolation=cv2.INTER_AREA).astype(np.float64).reshape(-1)
    t -= t.mean()
    n = np.linalg.norm(t)
    return t / n if n > 0 else t


def frame_features(get_frame: Callable[[int], np.ndarray], frames: Sequence[int],
                   size: tuple[int, int] = (16, 12),
                   cancel: Callable[[], bool] | None = None) -> np.ndarray:
    """``(len(frames), w*h)`` thumbnail features (fewer rows when cancelled)."""
    rows = []
    for f in frames:
        if cancel is not None and cancel():
            break
        rows.append(thumbnail_feature(get_frame(f), size))
    return np.array(rows).reshape(len(rows), size[0] * size[1])
