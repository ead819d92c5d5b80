"""Frame fingerprints: same picture near, re-encoded near, other pictures far."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from pose_studio.video import check_fingerprints, fingerprint, fingerprint_distance, open_video
from tests.support.videos import write_video

SIZE = (160, 120)


def _scenes(n: int, seed: int) -> list[np.ndarray]:
    """Smooth random pictures (like real scenes at 9x8: broad light and dark areas)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        small = rng.integers(0, 256, (5, 7, 3)).astype(np.uint8)
        out.append(cv2.resize(small, SIZE, interpolation=cv2.INTER_CUBIC))
    return out


def test_fingerprint_is_a_signed_64_bit_int() -> None:
    for img in _scenes(20, 1):
        fp = fingerprint(img)
        assert isinstance(fp, int)
        assert -(2**63) <= fp < 2**63  # fits an SQLite INTEGER
    grey = cv2.cvtColor(_scenes(1, 2)[0], cv2.COLOR_BGR2GRAY)
    assert fingerprint(grey) == fingerprint(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))


def test_distance() -> None:
    assert fingerprint_distance(0, 0) == 0
    assert fingerprint_distance(0, -1) == 64
    assert fingerprint_distance(5, 6) == 2
    assert fingerprint_distance(-(2**63), 2**63 - 1) == 64


def test_same_frame_same_hash_and_different_frames_far() -> None:
    imgs = _scenes(20, 3)
    fps = [fingerprint(i) for i in imgs]
    assert fps == [fingerprint(i.copy()) for i in imgs]
    far = [fingerprint_distance(a, b) for a, b in itertools.combinations(fps, 2)]
    assert min(far) > 10
    assert np.median(far) > 24


def test_robust_to_scaling_and_jpeg() -> None:
    for img in _scenes(10, 4):
        fp = fingerprint(img)
        ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 40])
        assert ok
        assert fingerprint_distance(fp, fingerprint(cv2.imdecode(enc, cv2.IMREAD_COLOR))) <= 4
        big = cv2.resize(img, (640, 480), interpolation=cv2.INTER_LINEAR)
        assert fingerprint_distance(fp, fingerprint(big)) <= 4


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("fp")
    scenes = _scenes(30, 5)
    return {
        "original": write_video(d / "orig.mp4", scenes, SIZE, codec="h264"),
        "reencoded": write_video(d / "re.avi", scenes, SIZE, codec="mjpeg"),
        "rescaled": write_video(
            d / "big.webm",
            [cv2.resize(s, (320, 240), interpolation=cv2.INTER_LINEAR) for s in scenes],
            (320, 240),
            codec="vp9",
        ),
        "trimmed": write_video(d / "trim.mp4", scenes[3:] + scenes[:3], SIZE, codec="h264"),
        "other": write_video(d / "other.mkv", _scenes(30, 6), SIZE, codec="h264"),
    }


def test_check_fingerprints_finds_labels_off_their_frames(videos: dict[str, Path]) -> None:
    labeled = [0, 4, 11, 20, 29]
    with open_video(videos["original"]) as r:
        stored = {i: fingerprint(r.get(i)) for i in labeled}
    for name in ("original", "reencoded", "rescaled"):
        with open_video(videos[name]) as r:
            assert check_fingerprints(r, stored) == [], name
    with open_video(videos["trimmed"]) as r:
        assert check_fingerprints(r, stored) == labeled
    with open_video(videos["other"]) as r:
        assert check_fingerprints(r, stored) == labeled
        # frames beyond the end no longer exist
        assert check_fingerprints(r, {45: stored[0]}) == [45]
