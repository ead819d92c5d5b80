"""Every video in the real-world corpus: ffprobe's frame count and frame-exact content.

Expected counts are ``ffprobe -count_frames`` (FFmpeg 5.1). Content: sampled frames read by
random access equal, bit for bit, the frame with that index in one sequential decode of the
whole file (what ``ffmpeg -fps_mode passthrough`` outputs: every frame the decoder shows, in
order), converted the same way. Skipped when the corpus is not there.
"""

from __future__ import annotations

import random
from pathlib import Path

import av
import numpy as np
import pytest

from pose_studio.video import open_video
from pose_studio.video.convert import orientation_from_frame, to_bgr
from tests.support.realworld import realworld, realworld_dir

FFPROBE_FRAMES = {
    "videos/fire2.mp4": 25,
    "videos/iphone_rotated.mov": 66,
    "videos/mmpose_demo.mp4": 5,
    "videos/no_sound_90.mp4": 36,
    "videos/posetrack18_000001_mpiinew_test.mp4": 5,
    "videos/start_black.webm": 1888,
    "videos/with_sound.avi": 50,
    "sleap/videos/centered_pair_small.mp4": 1100,
    "sleap/videos/dance.mp4": 450,
    "sleap/videos/small_robot.mp4": 166,
    "sleap/videos/small_robot_3_frame.mp4": 3,
    "dlc/openfield-Pranav-2018-10-30/videos/m3v1mp4.mp4": 2330,
}
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".webm", ".mkv", ".ts", ".m4v", ".wmv", ".ogv", ".flv"}
SAMPLES = 12
ROOT = realworld_dir()


def _corpus_videos() -> list[str]:
    if ROOT is None:
        return sorted(FFPROBE_FRAMES)
    found = {str(p.relative_to(ROOT / "data")) for p in (ROOT / "data").rglob("*")
             if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()}
    return sorted(found | set(FFPROBE_FRAMES))


def _reference(path: Path, wanted: set[int]) -> tuple[int, dict[int, np.ndarray]]:
    """Decode the whole file in order: the frame count and the wanted frames."""
    out: dict[int, np.ndarray] = {}
    n = 0
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.codec_context.thread_type = "AUTO"
        orient = None
        for f in c.decode(s):
            if n in wanted:
                orient = orient or orientation_from_frame(f)
                out[n] = to_bgr(f, *orient)
            n += 1
    return n, out


@pytest.mark.parametrize("rel", _corpus_videos())
def test_real_video_counts_and_frames(rel: str) -> None:
    path = realworld(f"data/{rel}")  # skips, saying why, without the corpus or the file
    with open_video(path) as r:
        n = len(r)
        if rel in FFPROBE_FRAMES:
            assert n == FFPROBE_FRAMES[rel], r.warnings
        assert not r.meta.truncated, r.warnings
        rng = random.Random(rel)
        sample = set(rng.sample(range(n), min(SAMPLES, n))) | {0, n - 1, max(0, n - 2)}
        if rel == "videos/start_black.webm":
            sample |= {984, 946, 1887 - 58}  # where the hidden frames used to shift numbering
        total, ref = _reference(path, sample)
        assert total == n
        for i in sorted(sample, key=lambda _: rng.random()):
            got = r.get(i)
            assert got.shape == ref[i].shape, (rel, i)
            assert np.array_equal(got, ref[i]), f"{rel}: frame {i} differs from the decoder's"
