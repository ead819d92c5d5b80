"""Frame signatures: a label shifted by 1-2 frames in a static-camera video is caught per frame;
re-encodes (other codec, quality, pixel format, a 0.75x rescale) raise no false alarm."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose_studio.core.annotation import Instance
from pose_studio.core.skeleton import COCO17
from pose_studio.formats.frame_check import (
    check_video_frames,
    compare_with_video,
    fill_missing_fingerprints,
)
from pose_studio.store import Project
from pose_studio.video import (
    SIGNATURE_MAX_DISTANCE,
    check_fingerprints,
    fingerprint,
    frame_signature,
    mismatch,
    open_video,
    signature_distance,
)
from tests.support.moving_blobs import blob_frames, decoded, encode

N = 24
LABELED = [3, 6, 9, 12, 15, 18]
H264 = {"preset": "veryfast"}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("sig")
    orig = decoded(blob_frames(N), options={**H264, "crf": "20"})  # the labeled video
    h264 = {**H264, "crf": "23"}

    def enc(name: str, frames: list[np.ndarray], codec: str = "libx264", **kw: object) -> Path:
        opts = kw.pop("options", h264 if codec == "libx264" else {})
        out = encode(d / name, frames, codec, opts, **kw)  # type: ignore[arg-type]
        assert isinstance(out, Path)
        return out

    return {
        "original": enc("orig.mkv", orig, options={**H264, "crf": "18"}),
        "crf35": enc("crf35.mp4", orig, options={**H264, "crf": "35"}),
        "yuv444": enc("yuv444.mkv", orig, pix_fmt="yuv444p"),
        "mpeg4": enc("mpeg4.avi", orig, "mpeg4", bit_rate=160 * 120 * 25),
        "mjpeg": enc("mjpeg.avi", orig, "mjpeg", pix_fmt="yuvj420p", bit_rate=160 * 120 * 25),
        "scaled": enc("scaled.mp4", orig, scale=0.75),
        # frames added at the start (+1, +2), one dropped at the start (-1)
        "plus1": enc("plus1.mp4", orig[:1] + orig),
        "plus2": enc("plus2.mp4", orig[:1] * 2 + orig),
        "minus1": enc("minus1.mp4", orig[1:]),
        # a frame duplicated in the middle: labels after frame 10 are one frame off
        "inserted": enc("inserted.mp4", orig[:11] + orig[10:11] + orig[11:]),
    }


def _stored(video: Path) -> dict[int, int | bytes]:
    with open_video(video) as r:
        return {f: frame_signature(r.get(f)) for f in LABELED}


def test_signature_is_a_small_thumbnail_and_distance_is_symmetric() -> None:
    a, b = blob_frames(2)
    sa, sb = frame_signature(a), frame_signature(b)
    assert isinstance(sa, bytes) and len(sa) == 1025
    assert signature_distance(sa, sa) == 0.0
    assert signature_distance(sa, sb) == pytest.approx(signature_distance(sb, sa))
    # brightness/contrast changes do not count
    brighter = np.clip(a.astype(np.float32) * 0.8 + 30, 0, 255).astype(np.uint8)
    assert signature_distance(sa, frame_signature(brighter)) < SIGNATURE_MAX_DISTANCE / 3
    # an unrelated picture is far
    other = blob_frames(1, seed=7)[0]
    assert mismatch(frame_signature(other), sa) > 3
    with pytest.raises(ValueError):
        signature_distance(sa, b"\x01abc")
    with pytest.raises(ValueError):
        mismatch(fingerprint(a), sa)


@pytest.mark.parametrize("name", ["original", "crf35", "yuv444", "mpeg4", "mjpeg", "scaled"])
def test_reencoded_video_raises_no_false_alarm(clips: dict[str, Path], name: str) -> None:
    stored = _stored(clips["original"])
    with open_video(clips[name]) as r:
        cmp = compare_with_video(r, stored)
        assert cmp.moved == (), cmp.reasons
        assert check_fingerprints(r, stored) == []


@pytest.mark.parametrize(("name", "shift"), [("plus1", 1), ("plus2", 2), ("minus1", -1)])
def test_shift_by_one_or_two_is_caught_per_frame(
    clips: dict[str, Path], name: str, shift: int
) -> None:
    stored = _stored(clips["original"])
    with open_video(clips[name]) as r:
        cmp = compare_with_video(r, stored, find_shift=False)  # per frame only
        assert cmp.moved == tuple(LABELED), cmp.reasons
        if abs(shift) == 1:  # close enough to pass the threshold: the neighbour is named
            assert f"is now frame {LABELED[0] + shift}" in cmp.reasons[LABELED[0]]
        assert check_fingerprints(r, stored) == LABELED  # the video layer's check agrees
        # and as a whole, the offset is named
        assert compare_with_video(r, stored).shift == shift


def test_frame_inserted_mid_video_moves_the_labels_after_it(clips: dict[str, Path]) -> None:
    stored = _stored(clips["original"])
    with open_video(clips["inserted"]) as r:
        cmp = compare_with_video(r, stored)
    assert cmp.moved == (12, 15, 18), cmp.reasons
    assert cmp.shift is None


def _inst(seed: int) -> Instance:
    rng = np.random.default_rng(seed)
    return Instance(xy=rng.uniform(2, 60, (COCO17.num_keypoints, 2)),
                    visibility=np.full(COCO17.num_keypoints, 2))


def test_project_check_mixes_old_hashes_and_signatures(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(clips["original"].read_bytes())
    with Project.create(tmp_path / "p.posestudio", COCO17) as p, open_video(video) as r:
        m = r.meta
        vid = p.add_video(video, width=m.width, height=m.height, frame_count=m.frame_count,
                          fps=m.fps, index=r.index_bytes())
        with p.import_transaction() as w:
            w.add_instances([(vid, f, _inst(f)) for f in LABELED])
        p.set_fingerprints(vid, {3: fingerprint(r.get(3))})  # an old-style hash
        assert fill_missing_fingerprints(p, vid) == len(LABELED) - 1
        fps = p.fingerprints(vid)
        assert isinstance(fps[3], int) and all(isinstance(fps[f], bytes) for f in LABELED[1:])
        assert check_video_frames(p, vid).ok
    # the file is replaced by a copy with a frame duplicated mid-video
    video.write_bytes(clips["inserted"].read_bytes())
    with Project.open(tmp_path / "p.posestudio") as p:
        res = check_video_frames(p, vid)
        assert res.status.state == "changed"
        assert res.moved == (12, 15, 18) and res.checked == len(LABELED)
        assert "is now frame 13" in res.reasons[12]
