"""Bad input, truncated files, the stored index and the frame cache."""

from __future__ import annotations

import os
import random
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from pose_studio.core.errors import PoseStudioError
from pose_studio.video import FrameIndexError, VideoError, open_video
from pose_studio.video.file_reader import FileVideoReader
from pose_studio.video.index import PacketIndex
from tests.support.videos import (
    display_matrix,
    make_image_folder,
    make_indexed_video,
    read_index_from_frame,
    truncate_file,
)

SIZE = (128, 96)


def _exact(reader, indices) -> None:  # type: ignore[no-untyped-def]
    for i in indices:
        assert read_index_from_frame(reader.get(i)) == i, f"frame {i}"


# ---------------------------------------------------------------------------------- bad input
def _expect_error(path: Path, *words: str) -> VideoError:
    with pytest.raises(VideoError) as info:
        open_video(path)
    err = info.value
    assert isinstance(err, PoseStudioError)
    assert err.path == str(path)
    assert str(path) in str(err)
    for w in words:
        assert w in err.reason, err.reason
    return err


def test_missing_file(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nope.mp4", "not found")


def test_text_file_renamed_mp4(tmp_path: Path) -> None:
    p = tmp_path / "notes.mp4"
    p.write_text("these are not the frames you are looking for\n" * 50)
    _expect_error(p, "not a video")


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.mkv"
    p.write_bytes(b"")
    _expect_error(p, "empty")


def test_zero_frames(tmp_path: Path) -> None:
    p = make_indexed_video(tmp_path / "zero.avi", 0, size=SIZE)
    _expect_error(p, "no video frames")


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    p = tmp_path / "sound.mkv"
    with av.open(str(p), "w") as out:
        s = out.add_stream("aac", rate=48000)
        s.layout = "mono"
        for k in range(10):
            f = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            f.sample_rate, f.pts = 48000, k * 1024
            out.mux(s.encode(f))
        out.mux(s.encode())
    _expect_error(p, "no video stream")


def test_unsupported_codec(tmp_path: Path) -> None:
    good = make_indexed_video(tmp_path / "good.avi", 10, size=SIZE, codec="mjpeg")
    data = good.read_bytes()
    assert data.count(b"MJPG") >= 1
    bad = tmp_path / "strange.avi"
    bad.write_bytes(data.replace(b"MJPG", b"QZQZ"))  # a FourCC no decoder knows
    _expect_error(bad, "not supported")


def test_mp4_cut_before_its_index(tmp_path: Path) -> None:
    p = truncate_file(make_indexed_video(tmp_path / "cut.mp4", 60, size=SIZE), 0.7)
    _expect_error(p, "truncated", "moov")


def test_empty_folder_and_odd_images(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _expect_error(tmp_path / "empty", "no images")
    folder = make_image_folder(tmp_path / "imgs", 5, SIZE)
    cv2.imwrite(str(folder / "img3.png"), np.zeros((50, 60, 3), np.uint8))
    (folder / "img4.png").write_bytes(b"not a png")
    with open_video(folder) as reader:
        _exact(reader, [0, 1, 2])
        assert reader.get(3).shape == (50, 60, 3)  # another size: its own (image sets mix sizes)
        with pytest.raises(VideoError, match=r"cannot read frame 4 \(image img4.png"):
            reader.get(4)
        assert any("img4.png" in w for w in reader.warnings)


def test_out_of_range_and_closed(tmp_path: Path) -> None:
    p = make_indexed_video(tmp_path / "a.mp4", 20, size=SIZE)
    reader = open_video(p)
    for bad in (20, 1000, -21):
        with pytest.raises(FrameIndexError, match="out of range"):
            reader.get(bad)
    with pytest.raises(IndexError):  # FrameIndexError is an IndexError too
        reader.get(20)
    assert read_index_from_frame(reader.get(-1)) == 19
    reader.close()
    with pytest.raises(VideoError, match="closed"):
        reader.get(3)


# ---------------------------------------------------------------------------------- truncation
@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("fast.mp4", {"faststart": True}),
        ("cut.mkv", {}),
        ("cut.ts", {}),
        ("cut.avi", {}),
        ("mjpeg.avi", {"codec": "mjpeg"}),
        ("vfr.mkv", {"vfr": True}),
        ("vp9.webm", {"codec": "vp9"}),
    ],
)
@pytest.mark.parametrize("keep", [0.55, 0.8])
def test_truncated_file_reads_up_to_the_cut(
    tmp_path: Path, name: str, kw: dict, keep: float
) -> None:
    n = 72
    p = make_indexed_video(tmp_path / name, n, size=SIZE, gop=12, bframes=2, **kw)
    truncate_file(p, keep)
    with open_video(p) as reader:
        m = reader.meta
        assert m.truncated
        assert 0 < m.frame_count < n
        assert any(f"truncated after frame {m.frame_count - 1}" in w for w in reader.warnings)
        # every frame it offers is exact, in any order
        assert [read_index_from_frame(f) for _, f in reader.iter_frames()] == list(
            range(m.frame_count)
        )
        rng = random.Random(name)
        _exact(reader, [rng.randrange(m.frame_count) for _ in range(15)])
        _exact(reader, [m.frame_count - 1])


def test_never_a_raw_av_or_cv2_exception_on_garbage(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    good = make_indexed_video(tmp_path / "g.mkv", 30, size=SIZE).read_bytes()
    for k in range(6):
        data = bytearray(good)
        start = int(rng.integers(0, len(data) - 200))
        data[start : start + 200] = rng.integers(0, 256, 200, dtype=np.uint8).tobytes()
        p = tmp_path / f"garbled{k}.mkv"
        p.write_bytes(bytes(data))
        try:
            with open_video(p) as reader:
                for _ in reader.iter_frames():
                    pass
        except VideoError:
            pass  # a clear error is fine; anything else fails the test


# ---------------------------------------------------------------------------------- index
def test_index_round_trip_skips_indexing(tmp_path: Path) -> None:
    p = make_indexed_video(tmp_path / "a.mkv", 60, size=SIZE, vfr=True)
    with open_video(p) as r1:
        blob = r1.index_bytes()
        meta1 = r1.meta
    assert isinstance(blob, bytes) and len(blob) < 4000
    PacketIndex.from_bytes(blob)  # plain numpy/JSON, no pickle
    with open_video(p, index=blob) as r2:
        assert r2.index_status == "loaded"
        assert r2.meta == meta1
        _exact(r2, [59, 0, 31, 30, 7])
    reader = open_video(p, index=blob)
    assert isinstance(reader, FileVideoReader)
    called = []
    reader._scan_packets = lambda: called.append(1)  # type: ignore[method-assign]
    reader.close()
    assert called == []


def test_stale_index_is_detected_and_rebuilt(tmp_path: Path) -> None:
    p = make_indexed_video(tmp_path / "clip.mp4", 40, size=SIZE)
    with open_video(p) as r:
        blob = r.index_bytes()
    os.remove(p)
    make_indexed_video(p, 55, size=SIZE, gop=5)  # replaced by another video, same name
    with open_video(p, index=blob) as r:
        assert r.index_status == "stale"
        assert r.meta.frame_count == 55
        _exact(r, [54, 3, 40])
    with open_video(p, index=b"garbage") as r:
        assert r.index_status == "invalid"
        assert r.meta.frame_count == 55
    # touching the file (same bytes) keeps the index valid
    blob = open_video(p).index_bytes()
    os.utime(p, (1_000_000, 1_000_000))
    with open_video(p, index=blob) as r:
        assert r.index_status == "loaded"


def test_image_folder_index(tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "f", 6, SIZE)
    blob = open_video(folder).index_bytes()
    assert open_video(folder, index=blob).index_status == "loaded"
    cv2.imwrite(str(folder / "img6.png"), np.zeros((SIZE[1], SIZE[0], 3), np.uint8))
    r = open_video(folder, index=blob)
    assert r.index_status == "stale" and len(r) == 7
    blob = r.index_bytes()
    cv2.imwrite(str(folder / "img2.png"), np.full((SIZE[1], SIZE[0], 3), 77, np.uint8))
    assert open_video(folder, index=blob).index_status == "stale"  # same name, new picture


def test_rotation_transform_directions() -> None:
    from types import SimpleNamespace

    from pose_studio.video.convert import apply_rotation, rotation_from_frame

    # display matrix angles are counter-clockwise; the reader turns them into clockwise turns
    for ccw, cw in [(0, 0), (-90, 90), (90, 270), (180, 180), (-180, 180), (-89.6, 90)]:
        assert rotation_from_frame(SimpleNamespace(rotation=ccw)) == cw  # type: ignore[arg-type]
    img = np.zeros((2, 3), np.uint8)
    img[0, 0] = 1  # top-left marker
    assert apply_rotation(img, 90)[0, -1] == 1  # clockwise: top-left goes to top-right
    assert apply_rotation(img, 270)[-1, 0] == 1
    assert apply_rotation(img, 180)[-1, -1] == 1
    assert apply_rotation(img, 0) is img


@pytest.mark.parametrize("mirror", [False, True])
@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_display_matrix_orientation_matches_the_matrix(rotation: int, mirror: bool) -> None:
    """Every one of the 8 turn/flip matrices shows each coded pixel where the matrix sends it."""
    from types import SimpleNamespace

    from pose_studio.video.convert import apply_rotation, orientation_from_frame

    m = display_matrix(rotation, mirror=mirror)
    frame = SimpleNamespace(side_data={"DISPLAYMATRIX": np.array(m, np.int32).tobytes()},
                            rotation=999.0)  # must not be used when the matrix is there
    got_rot, got_mirror = orientation_from_frame(frame)  # type: ignore[arg-type]
    assert (got_rot, got_mirror) == (rotation, mirror)
    coded = np.arange(6, dtype=np.uint8).reshape(2, 3)  # 3 wide, 2 high, all values distinct
    shown = apply_rotation(coded, got_rot, got_mirror)
    # Where the matrix itself puts each coded pixel (p, q): (p*m0 + q*m3, p*m1 + q*m4).
    pts = {(p * m[0] + q * m[3], p * m[1] + q * m[4]): coded[q, p]
           for q in range(2) for p in range(3)}
    x0 = min(x for x, _ in pts)
    y0 = min(y for _, y in pts)
    one = 1 << 16
    for (x, y), v in pts.items():
        assert shown[(y - y0) // one, (x - x0) // one] == v


def test_index_without_mirror_flag_is_upgraded(tmp_path: Path) -> None:
    """An index stored before mirroring was understood is corrected, and handed back to store."""
    path = make_indexed_video(tmp_path / "m.mp4", 6, size=SIZE, codec="h264", mirror=True)
    with open_video(path) as r:
        assert r.meta.mirrored and r.meta.rotation == 0
        idx = PacketIndex.from_bytes(r.index_bytes())
    old_info = {k: v for k, v in idx.info.items() if k != "mirror"}
    old_info["rotation"] = 180  # what the old reader learnt from frame.rotation
    old = PacketIndex(idx.pts, idx.dts, idx.flags, idx.pos, mode=idx.mode,
                      n_frames=idx.n_frames, info=old_info, order=idx.order).to_bytes()
    with open_video(path, index=old) as r:
        assert r.index_status == "upgraded"
        assert r.meta.mirrored and r.meta.rotation == 0
        assert read_index_from_frame(r.get(3)) == 3
        fixed = r.index_bytes()
    with open_video(path, index=fixed) as r:
        assert r.index_status == "loaded" and r.meta.mirrored


# ---------------------------------------------------------------------------------- cache
def test_cache_stays_within_budget(tmp_path: Path) -> None:
    size = (320, 240)  # 230 KB a BGR frame
    p = make_indexed_video(tmp_path / "a.mkv", 90, size=size, gop=30)
    budget_mb = 2
    with open_video(p, cache_mb=budget_mb) as reader:
        assert isinstance(reader, FileVideoReader)
        rng = random.Random(3)
        peak = 0
        for _ in range(40):
            i = rng.randrange(90)
            assert read_index_from_frame(reader.get(i)) == i
            peak = max(peak, reader.cache.nbytes)
            assert reader.cache.nbytes <= budget_mb * 2**20
        for _, _f in reader.iter_frames(cache=True):
            peak = max(peak, reader.cache.nbytes)
            assert reader.cache.nbytes <= budget_mb * 2**20
        assert peak > budget_mb * 2**20 * 0.7  # it is used
    with open_video(p, cache_mb=0) as reader:  # no cache at all still works
        _exact(reader, [50, 49, 10, 89])


def test_gop_cache_makes_backward_steps_free(tmp_path: Path) -> None:
    p = make_indexed_video(tmp_path / "a.mp4", 90, size=SIZE, gop=45)
    with open_video(p) as reader:
        assert isinstance(reader, FileVideoReader)
        _exact(reader, [80])
        misses = reader.cache.misses
        _exact(reader, range(79, 45, -1))
        assert reader.cache.misses == misses  # all decoded on the way to frame 80


def test_overshooting_seeks_fall_back_and_stay_exact(tmp_path: Path) -> None:
    """A demuxer that lands past the keyframe is detected at packet level and corrected."""
    p = make_indexed_video(tmp_path / "a.ts", 72, size=SIZE, gop=12, bframes=2)
    with open_video(p) as reader:
        assert isinstance(reader, FileVideoReader)
        idx = reader._idx
        real = idx.seek_timestamp
        # every seek aims 20 frames too far: the landing check must notice and recover
        idx.seek_timestamp = lambda key: (real(key) or 0) + 20 * 3000  # type: ignore[method-assign]
        rng = random.Random(7)
        for _ in range(12):
            reader.clear_cache()
            i = rng.randrange(72)
            assert read_index_from_frame(reader.get(i)) == i
        idx.seek_timestamp = lambda key: None  # type: ignore[method-assign]  # cannot seek at all
        reader.clear_cache()
        _exact(reader, [50, 10, 60])


def test_iteration_caches_only_when_asked(tmp_path: Path) -> None:
    p = make_indexed_video(tmp_path / "a.mp4", 60, size=SIZE, gop=30)
    folder = make_image_folder(tmp_path / "imgs", 12, SIZE)
    for path, n in ((p, 60), (folder, 12)):
        with open_video(path) as reader:
            reader.clear_cache()
            assert [i for i, _ in reader.iter_frames()] == list(range(n))
            assert len(reader.cache) < 8  # type: ignore[attr-defined]
            for i, f in reader.iter_frames(cache=True):
                assert read_index_from_frame(f) == i
            assert len(reader.cache) == n  # type: ignore[attr-defined]
            hits = reader.cache.hits  # type: ignore[attr-defined]
            _exact(reader, range(n - 1, -1, -1))
            assert reader.cache.hits - hits == n  # type: ignore[attr-defined]


def test_pts_identity_and_two_threads_in_one_reader(tmp_path: Path) -> None:
    import threading

    p = make_indexed_video(tmp_path / "v.mkv", 40, size=SIZE, vfr=True)
    with open_video(p) as reader:
        for i in (0, 7, 39):
            assert reader.frame_at_pts(reader.pts(i)) == i
        assert reader.frame_at_pts(reader.pts(7) + 1) is None
        # a second thread entering a busy reader gets a clear error, not a wrong frame
        errors: list[BaseException] = []
        reader._busy = True  # as if another thread were decoding right now
        t = threading.Thread(target=lambda: errors.extend(_try_get(reader, 3)))
        t.start()
        t.join()
        reader._busy = False
        assert len(errors) == 1 and isinstance(errors[0], VideoError)
        assert "one reader per thread" in str(errors[0])
        _exact(reader, [3])


def _try_get(reader, i: int) -> list[BaseException]:  # type: ignore[no-untyped-def]
    try:
        reader.get(i)
    except BaseException as exc:
        return [exc]
    return []
