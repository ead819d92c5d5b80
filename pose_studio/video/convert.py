"""Decoded frame -> read-only BGR ndarray, upright.

Video-range YUV 4:2:0 (what cameras and encoders write) goes through ``cv2.cvtColor`` (SIMD,
up to several times faster than swscale's bgr24 here). OpenCV's I420 conversion assumes video
range, so full-range ("JPEG", MJPEG) and other pixel formats use PyAV's (swscale) conversion,
which is fast for those.
"""

from __future__ import annotations

import av
import cv2
import numpy as np

_AVCOL_RANGE_JPEG = 2

_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def rotation_from_frame(frame: av.VideoFrame) -> int:
    """Clockwise display rotation (0/90/180/270) from the frame's display matrix."""
    try:
        ccw = float(frame.rotation)
    except (AttributeError, ValueError, TypeError):
        return 0
    return round(-ccw / 90.0) * 90 % 360


def apply_rotation(img: np.ndarray, rotation_cw: int) -> np.ndarray:
    """Rotate an image clockwise by 0/90/180/270 degrees (a new array unless 0)."""
    code = _ROTATE.get(rotation_cw % 360)
    return img if code is None else cv2.rotate(img, code)


def frame_nbytes(frame: av.VideoFrame) -> int:
    return int(sum(p.buffer_size for p in frame.planes))


def to_bgr(frame: av.VideoFrame, rotation_cw: int = 0) -> np.ndarray:
    """A new, read-only, C-contiguous (H, W, 3) uint8 BGR array for ``frame``, upright."""
    if (
        frame.format.name == "yuv420p"
        and frame.color_range != _AVCOL_RANGE_JPEG
        and frame.width % 2 == 0
        and frame.height % 2 == 0
    ):
        yuv = frame.to_ndarray()  # (H*3/2, W) I420, copied without line padding
        bgr = cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420)
    else:
        bgr = frame.to_ndarray(format="bgr24")
    if rotation_cw:
        bgr = apply_rotation(bgr, rotation_cw)
    bgr = np.ascontiguousarray(bgr)
    bgr.flags.writeable = False
    return bgr
