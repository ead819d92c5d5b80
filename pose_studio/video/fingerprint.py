"""Frame fingerprints: tell whether a stored label still sits on the same picture.

A 64-bit difference hash of the frame shrunk to 9x8 grey pixels: each bit says whether a pixel is
brighter than its right neighbour. Re-encoding noise moves few bits; different pictures differ in
about half of them. Values are signed 64-bit integers so they fit an SQLite INTEGER.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from pose_studio.video.base import VideoReader

DEFAULT_MAX_DISTANCE = 10
_MASK = (1 << 64) - 1
_WEIGHTS = (1 << np.arange(64, dtype=np.uint64)).astype(np.uint64)


def fingerprint(frame: np.ndarray) -> int:
    """64-bit difference hash of a BGR (or grey) frame, as a signed int64 value."""
    a = np.asarray(frame)
    if a.ndim == 3:
        a = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY) if a.shape[2] == 3 else a[..., 0]
    small = cv2.resize(a, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).reshape(-1).astype(np.uint64)
    value = int(np.sum(bits * _WEIGHTS, dtype=np.uint64))
    return value - (1 << 64) if value >= 1 << 63 else value


def fingerprint_distance(a: int, b: int) -> int:
    """Number of differing bits (0 = same picture, ~32 = unrelated)."""
    return ((int(a) ^ int(b)) & _MASK).bit_count()


def check_fingerprints(
    reader: VideoReader, stored: Mapping[int, int], max_distance: int = DEFAULT_MAX_DISTANCE
) -> list[int]:
    """Frames whose stored fingerprint no longer matches the video (or that no longer exist).

    Use on reopening a project: labels on the returned frames no longer sit on their pictures
    (the video was replaced, re-cut or re-encoded with different frames).
    """
    bad: list[int] = []
    n = len(reader)
    for i in sorted(stored):
        if not 0 <= i < n:
            bad.append(i)
            continue
        if fingerprint_distance(fingerprint(reader.get(i)), stored[i]) > max_distance:
            bad.append(i)
    return bad
