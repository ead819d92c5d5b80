"""Frame-exact random access on every codec/container the reader promises.

Every test video carries its frame index in its pixels; every read is checked against it.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from pose_studio.video import VideoMeta, open_video
from pose_studio.video.file_reader import FileVideoReader
from pose_studio.video.image_reader import natural_key
from tests.support.videos import (
    frame_times,
    make_image_folder,
    make_indexed_video,
    read_index_from_frame,
)

N = 72
SIZE = (128, 96)

# name -> (file name, make_indexed_video keyword arguments)
CORPUS: dict[str, tuple[str, dict]] = {
    "h264_bframes_mp4": ("a.mp4", {"codec": "h264", "gop": 12, "bframes": 2}),
    "h264_bframes_mkv": ("a.mkv", {"codec": "h264", "gop": 12, "bframes": 2}),
    "h264_bframes_avi": ("a.avi", {"codec": "h264", "gop": 12, "bframes": 2}),
    "h264_bframes_ts": ("a.ts", {"codec": "h264", "gop": 12, "bframes": 2}),
    "h264_bframes_mov": ("a.mov", {"codec": "h264", "gop": 12, "bframes": 3}),
    "h264_open_gop_avi": ("open.avi", {"codec": "h264", "gop": 12, "bframes": 3, "open_gop": True}),
    "h264_open_gop_mp4": ("open.mp4", {"codec": "h264", "gop": 12, "bframes": 3, "open_gop": True}),
    "h264_open_gop_ts": ("open.ts", {"codec": "h264", "gop": 12, "bframes": 3, "open_gop": True}),
    "h264_long_gop_mkv": ("long.mkv", {"codec": "h264", "gop": 250, "bframes": 2}),
    "h264_vfr_mp4": ("vfr.mp4", {"codec": "h264", "vfr": True}),
    "h264_vfr_ts": ("vfr.ts", {"codec": "h264", "vfr": True}),
    "h264_vfr_mkv": ("vfr.mkv", {"codec": "h264", "vfr": True}),
    "h264_audio_mp4": ("audio.mp4", {"codec": "h264", "audio": True}),
    "hevc_open_gop_mp4": ("hevc.mp4", {"codec": "hevc", "gop": 12, "bframes": 3, "open_gop": True}),
    "hevc_mkv": ("hevc.mkv", {"codec": "hevc", "gop": 12, "bframes": 2}),
    "mpeg4_bframes_avi": ("mpeg4.avi", {"codec": "mpeg4", "gop": 12, "bframes": 2}),
    "mpeg4_mp4": ("mpeg4.mp4", {"codec": "mpeg4", "gop": 12, "bframes": 2}),
    "mjpeg_avi": ("mjpeg.avi", {"codec": "mjpeg"}),
    "vp9_webm": ("vp9.webm", {"codec": "vp9", "gop": 12}),
    "opencv_mjpeg_avi": ("cv.avi", {"codec": "mjpeg", "backend": "opencv"}),
    "opencv_mpeg4_mp4": ("cv.mp4", {"codec": "mpeg4", "backend": "opencv"}),
    "rotated_90_mp4": ("rot90.mp4", {"codec": "h264", "rotation": 90}),
    "rotated_270_mov": ("rot270.mov", {"codec": "h264", "rotation": 270}),
    "rotated_180_mkv": ("rot180.mkv", {"codec": "h264", "rotation": 180}),
    "mirrored_mp4": ("mirror.mp4", {"codec": "h264", "mirror": True}),
    "mirrored_90_mov": ("mirror90.mov", {"codec": "h264", "rotation": 90, "mirror": True}),
}


# A transport stream has no trailer: with variable frame rate nothing shows whether B-frames at
# the very end are missing (a cut at a packet boundary), so the reader leaves the last
# reorder-depth frames out and says so. Everything else keeps every frame.
EXPECTED_COUNT = {"h264_vfr_ts": N - 1, "images": 24}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("video_corpus")
    out: dict[str, Path] = {}
    for name, (fname, kw) in CORPUS.items():
        size = (96, 128) if kw.get("rotation") in (90, 270) else SIZE
        out[name] = make_indexed_video(d / fname, N, size=size, **kw)
    out["images"] = make_image_folder(d / "images", 24, SIZE)
    return out


def _check(frame: np.ndarray, expected: int, meta: VideoMeta) -> None:
    assert frame.shape == (meta.height, meta.width, 3)
    assert frame.dtype == np.uint8
    got = read_index_from_frame(frame)
    assert got == expected, f"asked for frame {expected}, got {got}"


@pytest.mark.parametrize("name", [*CORPUS, "images"])
def test_every_read_is_the_exact_frame(corpus: dict[str, Path], name: str) -> None:
    n = EXPECTED_COUNT.get(name, N)
    rng = random.Random(name)
    with open_video(corpus[name]) as reader:
        meta = reader.meta
        assert len(reader) == meta.frame_count == n
        if name not in ("h264_vfr_ts", "h264_long_gop_mkv", "h264_open_gop_avi"):
            assert meta.warnings == ()
        # random seeks, each followed by two backward steps and one forward step
        for _ in range(40):
            i = rng.randrange(n)
            _check(reader.get(i), i, meta)
            for j in (i - 1, i - 2, i + 1):
                if 0 <= j < n:
                    _check(reader.get(j), j, meta)
        # a full sequential pass, from a fresh reader and from the used one
        for r in (reader, open_video(corpus[name])):
            seen = []
            for i, frame in r.iter_frames():
                _check(frame, i, meta)
                seen.append(i)
            assert seen == list(range(n))


@pytest.mark.parametrize("name", ["h264_bframes_ts", "h264_vfr_mp4", "hevc_open_gop_mp4"])
def test_partial_ranges_and_jumps_mid_iteration(corpus: dict[str, Path], name: str) -> None:
    with open_video(corpus[name]) as reader:
        assert [i for i, _ in reader.iter_frames(30, 35)] == [30, 31, 32, 33, 34]
        it = reader.iter_frames(5, 40)
        for i, frame in it:
            _check(frame, i, reader.meta)
            if i == 10:
                _check(reader.get(60), 60, reader.meta)  # random access while iterating
                _check(reader.get(3), 3, reader.meta)
        _check(reader.get(-1), N - 1, reader.meta)
        assert [i for i, _ in reader.iter_frames(N - 3, N + 10)] == [N - 3, N - 2, N - 1]


def test_frames_are_read_only_and_never_reused(corpus: dict[str, Path]) -> None:
    with open_video(corpus["h264_bframes_mp4"]) as reader:
        a = reader.get(5)
        with pytest.raises(ValueError):
            a[0, 0, 0] = 1
        copy = a.copy()
        for _i, f in reader.iter_frames(0, 30):
            assert not f.flags.writeable
        reader.get(40)
        reader.get(4)
        np.testing.assert_array_equal(a, copy)  # still frame 5's pixels


def test_metadata_constant_rate(corpus: dict[str, Path]) -> None:
    with open_video(corpus["h264_bframes_mkv"]) as reader:
        m = reader.meta
        assert (m.width, m.height) == SIZE
        assert m.kind == "file" and m.codec == "h264" and m.rotation == 0
        assert not m.vfr and not m.truncated
        assert m.fps == pytest.approx(30.0)
        assert m.fps_rational == (30, 1)
        assert m.duration_s == pytest.approx(N / 30, abs=0.04)
        assert m.max_gop == 12 and m.keyframes == N // 12
        assert m.warnings == ()
        assert reader.timestamp(30) == pytest.approx(1.0, abs=0.002)
        assert reader.pts(31) > reader.pts(30)
        with pytest.raises(AttributeError):
            m.width = 3  # type: ignore[misc]


@pytest.mark.parametrize("name", ["h264_vfr_mp4", "h264_vfr_ts", "h264_vfr_mkv"])
def test_metadata_variable_rate(corpus: dict[str, Path], name: str) -> None:
    expected = frame_times(N, 30, vfr=True)
    n = EXPECTED_COUNT.get(name, N)
    with open_video(corpus[name]) as reader:
        m = reader.meta
        assert m.vfr
        assert m.frame_count == n
        assert m.fps == pytest.approx((n - 1) / expected[n - 1], rel=0.01)
        for i in (0, 1, 2, 17, n - 1):
            assert reader.timestamp(i) == pytest.approx(expected[i], abs=0.0015)
        np.testing.assert_allclose(reader.timestamps(), expected[:n], atol=0.0015)


@pytest.mark.parametrize(
    ("name", "rotation"),
    [("rotated_90_mp4", 90), ("rotated_270_mov", 270), ("rotated_180_mkv", 180),
     ("mirrored_mp4", 0), ("mirrored_90_mov", 90)],
)
def test_rotation_metadata_gives_upright_frames(
    corpus: dict[str, Path], name: str, rotation: int
) -> None:
    with open_video(corpus[name]) as reader:
        m = reader.meta
        assert m.rotation == rotation
        assert m.mirrored == name.startswith("mirrored")
        expected_size = (96, 128) if rotation in (90, 270) else SIZE
        assert (m.width, m.height) == expected_size
        # read_index_from_frame only reads an upright pattern: this checks the direction too
        _check(reader.get(17), 17, m)


def test_long_gop_warns_and_backward_steps_hit_the_cache(corpus: dict[str, Path]) -> None:
    with open_video(corpus["h264_long_gop_mkv"]) as reader:
        assert isinstance(reader, FileVideoReader)
        assert reader.meta.max_gop == N
        assert any("keyframes are up to 72 frames apart" in w for w in reader.warnings)
        _check(reader.get(60), 60, reader.meta)
        hits = reader.cache.hits
        for j in range(59, 40, -1):
            _check(reader.get(j), j, reader.meta)
        assert reader.cache.hits - hits == 19  # every backward step was already decoded


def test_image_folder_is_sorted_naturally(corpus: dict[str, Path]) -> None:
    with open_video(corpus["images"]) as reader:
        assert reader.meta.kind == "images"
        assert reader.meta.frame_count == 24
        assert [p.name for p in reader.files[:3]] == ["img0.png", "img1.png", "img2.png"]  # type: ignore[attr-defined]
        _check(reader.get(10), 10, reader.meta)
        _check(reader.get(2), 2, reader.meta)
    assert sorted(["img10", "img2", "Img1", "img2b"], key=natural_key) == [
        "Img1",
        "img2",
        "img2b",
        "img10",
    ]


def test_reader_from_another_thread_with_shared_index(corpus: dict[str, Path]) -> None:
    import threading

    path = corpus["h264_bframes_ts"]
    with open_video(path) as reader:
        blob = reader.index_bytes()
    errors: list[str] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        with open_video(path, index=blob) as r:  # one reader per thread
            for _ in range(15):
                i = rng.randrange(N)
                if read_index_from_frame(r.get(i)) != i:
                    errors.append(f"thread {seed}: frame {i}")

    threads = [threading.Thread(target=work, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
