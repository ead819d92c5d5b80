"""Decoded frame -> read-only BGR ndarray, upright, in the colours a video player shows.

The YUV->RGB matrix and range come from the stream's tags, as players use them: BT.709 for HD
(what phones and cameras write, tagged or not: an untagged stream wider than 1024 or taller
than 576 lines is taken as BT.709, SD as BT.601), BT.2020 when tagged, full range for "JPEG"
range (MJPEG, some phones). Decoding BT.709 with BT.601's matrix, as OpenCV's
``VideoCapture`` and ``cv2.cvtColor`` do, shifts saturated colours by up to ~15 levels.

Video-range BT.601 YUV 4:2:0 goes through ``cv2.cvtColor`` (SIMD, exact for that case); every
other case through swscale with the matrix and range given explicitly, one converter kept per
thread (``frame.reformat`` builds a new swscale context, with its thread pool, for every frame:
that alone halved 1080p throughput). Measured on 1080p H.264 (``bench/video.py``): swscale's
BT.709 costs about 1.5 ms a frame more CPU than OpenCV's (wrong-matrix) BT.601.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

_AVCOL_RANGE_MPEG = 1
_AVCOL_RANGE_JPEG = 2
# AVColorSpace (what ``frame.colorspace`` holds) -> swscale's SWS_CS_* (what reformat takes).
_AVCOL_SPC_TO_SWS = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}
_SWS_CS_ITU709 = 1
_SWS_CS_ITU601 = 5

_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def orientation_from_frame(frame: av.VideoFrame) -> tuple[int, bool]:
    """How the coded frame is shown: (clockwise rotation 0/90/180/270, mirrored).

    The shown picture is the coded one turned clockwise by the rotation, then, if mirrored,
    flipped left-right. Read from the display matrix (FFmpeg's layout: 3x3 int32, 16.16 fixed
    point, a point (p, q) goes to (p*m0 + q*m3, p*m1 + q*m4) in y-down pixel coordinates), the
    way ``ffmpeg`` auto-rotates. ``frame.rotation`` alone is not enough: a mirrored matrix
    (front cameras, flipped edits) reads as a 180 degree turn.
    """
    m = _display_matrix(frame)
    if m is None:
        return rotation_from_frame(frame), False
    a, b, c, d = float(m[0]), float(m[1]), float(m[3]), float(m[4])
    det = a * d - b * c
    if det == 0:
        return 0, False  # degenerate matrix: show the frame as coded
    mirror = det < 0
    if mirror:  # undo the left-right flip; what is left is a rotation
        a, c = -a, -c
    cw = round(math.degrees(math.atan2(b, a)) / 90.0) * 90 % 360
    return int(cw), mirror


def _display_matrix(frame: av.VideoFrame) -> np.ndarray | None:
    try:
        sd: Any = frame.side_data.get("DISPLAYMATRIX")
    except (AttributeError, KeyError, ValueError, TypeError):
        return None
    if sd is None:
        return None
    raw = bytes(sd)
    return np.frombuffer(raw[:36], np.int32) if len(raw) >= 36 else None


def rotation_from_frame(frame: av.VideoFrame) -> int:
    """Clockwise display rotation (0/90/180/270) from ``frame.rotation`` (ignores mirroring)."""
    try:
        ccw = float(frame.rotation)
    except (AttributeError, ValueError, TypeError):
        return 0
    return round(-ccw / 90.0) * 90 % 360


def apply_rotation(img: np.ndarray, rotation_cw: int, mirror: bool = False) -> np.ndarray:
    """Turn an image clockwise by 0/90/180/270 degrees, then mirror it left-right if asked.

    A new array unless nothing is to be done; one OpenCV call for each of the 8 cases.
    """
    r = rotation_cw % 360
    if not mirror:
        code = _ROTATE.get(r)
        return img if code is None else cv2.rotate(img, code)
    if r == 0:
        return cv2.flip(img, 1)
    if r == 180:
        return cv2.flip(img, 0)
    if r == 90:
        return cv2.transpose(img)  # turn clockwise + mirror = transpose
    return cv2.flip(cv2.transpose(img), -1)


def frame_nbytes(frame: av.VideoFrame) -> int:
    return int(sum(p.buffer_size for p in frame.planes))


def yuv_matrix(frame: av.VideoFrame) -> int:
    """swscale colour matrix (``SWS_CS_*``) for a YUV frame: its tag, else guessed by size."""
    sws = _AVCOL_SPC_TO_SWS.get(int(frame.colorspace))
    if sws is not None:
        return sws
    # Untagged: what mpv and browsers assume (HD -> BT.709, SD -> BT.601).
    return _SWS_CS_ITU709 if frame.width > 1024 or frame.height > 576 else _SWS_CS_ITU601


def is_full_range(frame: av.VideoFrame) -> bool:
    return int(frame.color_range) == _AVCOL_RANGE_JPEG or frame.format.name.startswith("yuvj")


_local = threading.local()


def _reformatter() -> VideoReformatter:
    r: VideoReformatter | None = getattr(_local, "reformatter", None)
    if r is None:
        r = _local.reformatter = VideoReformatter()
    return r


def yuv_to_bgr_swscale(frame: av.VideoFrame) -> np.ndarray:
    """BGR (full range) from any YUV frame, with the frame's matrix and range (swscale)."""
    full = is_full_range(frame)
    out = _reformatter().reformat(
        frame, format="bgr24", src_colorspace=yuv_matrix(frame),
        src_color_range=_AVCOL_RANGE_JPEG if full else _AVCOL_RANGE_MPEG,
        dst_color_range=_AVCOL_RANGE_JPEG,
    )
    return out.to_ndarray()


def to_bgr(frame: av.VideoFrame, rotation_cw: int = 0, mirror: bool = False) -> np.ndarray:
    """A new, read-only, C-contiguous (H, W, 3) uint8 BGR array for ``frame``, as shown.

    ``rotation_cw`` and ``mirror`` are what :func:`orientation_from_frame` gives.
    """
    name = frame.format.name
    if name.startswith(("yuv", "nv")) and not name.startswith("yuva"):
        matrix = yuv_matrix(frame)
        full = is_full_range(frame)
        if (name == "yuv420p" and matrix == _SWS_CS_ITU601 and not full
                and frame.width % 2 == 0 and frame.height % 2 == 0):
            yuv = frame.to_ndarray()  # (H*3/2, W) I420, copied without line padding
            bgr = cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420)
        else:
            bgr = yuv_to_bgr_swscale(frame)
    else:  # RGB, grey, palette, ...: no matrix to choose
        bgr = frame.to_ndarray(format="bgr24")
    if rotation_cw or mirror:
        bgr = apply_rotation(bgr, rotation_cw, mirror)
    bgr = np.ascontiguousarray(bgr)
    bgr.flags.writeable = False
    return bgr
