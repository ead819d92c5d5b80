"""Frames come out in the colours a player shows: the stream's YUV matrix and range are honoured.

Each clip is a flat, saturated colour encoded with a known matrix/range (and tagged, or not,
the way encoders do); the decoded pixels must give the colour back. Decoding BT.709 with the
BT.601 matrix (what ``cv2.cvtColor`` and OpenCV's ``VideoCapture`` do) misses by 10+ levels.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from pose_studio.video import open_video
from pose_studio.video.convert import to_bgr

RGB = (200, 40, 60)  # saturated: the matrices disagree most here
AVCOL_SPC = {"itu709": 1, "itu601": 6, "unspecified": 2}


def _encode(path: Path, size: tuple[int, int], matrix: str, tag: str, full: bool) -> None:
    """Two frames of flat RGB, YUV made with ``matrix``; the stream tagged ``tag``."""
    w, h = size
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[:] = RGB
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=Fraction(25))
        st.width, st.height = w, h
        st.pix_fmt = "yuv420p"
        st.codec_context.colorspace = AVCOL_SPC[tag]
        st.codec_context.color_range = 2 if full else 1
        st.options = {"crf": "1", "preset": "ultrafast"}
        for i in range(2):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                format="yuv420p", dst_colorspace=matrix, dst_color_range=2 if full else 1)
            f.pts = i
            f.colorspace = AVCOL_SPC[tag]
            f.color_range = 2 if full else 1
            for p in st.encode(f):
                out.mux(p)
        for p in st.encode():
            out.mux(p)


@pytest.mark.parametrize(
    ("size", "matrix", "tag", "full"),
    [
        ((64, 48), "itu709", "itu709", False),  # tagged BT.709 (phones, cameras)
        ((64, 48), "itu601", "itu601", False),  # tagged BT.601 (SD): the fast cv2 path
        ((64, 48), "itu601", "unspecified", False),  # untagged SD -> BT.601
        ((1280, 720), "itu709", "unspecified", False),  # untagged HD -> BT.709, as players do
        ((64, 48), "itu709", "itu709", True),  # full ("JPEG") range yuv420p
        ((64, 48), "itu601", "itu601", True),
    ],
)
def test_colour_matches_the_stream(tmp_path: Path, size: tuple[int, int], matrix: str,
                                   tag: str, full: bool) -> None:
    path = tmp_path / "c.mp4"
    _encode(path, size, matrix, tag, full)
    with open_video(path) as reader:
        bgr = reader.get(1)
    got = bgr[8:-8, 8:-8].reshape(-1, 3).mean(axis=0)[::-1]
    assert np.abs(got - RGB).max() <= 3.0, (got, RGB)


def test_bt709_read_as_bt601_would_fail() -> None:
    """The check above can fail: the old cv2-only conversion is 10+ levels off on BT.709."""
    rgb = np.empty((16, 16, 3), np.uint8)
    rgb[:] = RGB
    f = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format="yuv420p", dst_colorspace="itu709", dst_color_range=1)
    f.colorspace, f.color_range = 1, 1
    old = cv2.cvtColor(f.to_ndarray(), cv2.COLOR_YUV2RGB_I420)[4, 4].astype(float)
    new = to_bgr(f)[4, 4, ::-1].astype(float)
    assert np.abs(old - RGB).max() > 10
    assert np.abs(new - RGB).max() <= 3


@pytest.mark.parametrize("size", [(64, 48), (1280, 720)])
def test_rendered_videos_keep_their_colours(tmp_path: Path, size: tuple[int, int]) -> None:
    """Exported overlay videos are converted and tagged so that players (and we) read them right."""
    from pose_studio.formats.render import VideoWriter

    w, h = size
    bgr = np.empty((h, w, 3), np.uint8)
    bgr[:] = RGB[::-1]
    path = tmp_path / "r.mp4"
    with VideoWriter(path, w, h, 25) as out:
        for _ in range(2):
            out.write(bgr)
    with av.open(str(path)) as c:
        want = 1 if w > 1024 else 6  # BT.709 for HD, BT.601 (SMPTE 170M) for SD
        assert int(c.streams.video[0].codec_context.colorspace) == want
    with open_video(path) as reader:
        got = reader.get(1)[8:-8, 8:-8].reshape(-1, 3).mean(axis=0)[::-1]
    assert np.abs(got - RGB).max() <= 3.0, (got, RGB)
