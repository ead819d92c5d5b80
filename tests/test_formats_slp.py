"""SLEAP .slp / .pkg.slp: round trips, embedded frames, legacy files, hostile tables, the corpus."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.output import OutputError
from pose_studio.formats import slp
from pose_studio.formats.dataset import Annotation, Dataset, Frame, Source
from pose_studio.formats.fileio import FormatError, MissingExtraError
from pose_studio.formats.registry import ReadOptions, WriteOptions, detect, get_format
from tests.support.datasets import (
    ANIMAL,
    anns_by_frame,
    assert_points_equal,
    frame_pixels,
    make_dataset,
    roundtrip,
)
from tests.support.realworld import realworld

FMT = get_format("slp")


def _write(ds: Dataset, path: Path, **kw: object) -> Path:
    assert FMT.write is not None
    FMT.write(ds, path, WriteOptions(**kw))  # type: ignore[arg-type]
    return path


def _read(path: Path, **kw: object) -> Dataset:
    assert FMT.read is not None
    return FMT.read(path, ReadOptions(**kw))  # type: ignore[arg-type]


def test_round_trip_keeps_labels_predictions_tracks_and_symmetries(tmp_path: Path) -> None:
    ds = make_dataset()
    back, summary = roundtrip("slp", ds, tmp_path / "labels.slp", frames=False)
    assert back.skeleton.keypoints == ANIMAL.keypoints
    assert back.skeleton.edges == ANIMAL.edges
    assert back.skeleton.flip_pairs == ANIMAL.flip_pairs
    assert back.tracks == ds.tracks
    video, stills = back.sources
    assert (video.kind, video.path, video.key) == ("video", "/data/clip.mp4", "clip.mp4")
    assert (stills.kind, stills.path) == ("images", "/data/stills")
    assert [im.path for im in stills.images] == ["a/img1.png", "a/img2.png", "b/img10.png"]
    keys = {"clip": "clip.mp4", "stills": "stills"}
    got, want = anns_by_frame(back), anns_by_frame(ds, keys)
    assert [(k, i) for k, i, _ in got] == [(k, i) for k, i, _ in want]
    for (_, _, aa), (_, _, bb) in zip(want, got):
        assert len(aa) == len(bb)
        for a, b in zip(aa, bb):
            assert_points_equal(a, b)
            assert (a.kind, a.track) == (b.kind, b.track)
            assert a.points[1, 2] == b.points[1, 2]  # v=1 survives as SLEAP's "not visible"
            if a.kind is InstanceKind.PREDICTED:
                assert b.score == pytest.approx(a.score)
                np.testing.assert_allclose(b.kp_scores, a.kp_scores, rtol=1e-6)
                assert b.run == "labels.slp" and b.run in back.runs
    assert any("model run records" in line for line in summary.not_written)
    # a video not found here is not a loss: the importer matches it or refuses, naming it
    assert not any("/data/clip.mp4" in line for line in back.not_kept)


def test_what_slp_cannot_carry_is_named(tmp_path: Path) -> None:
    pts = np.array([[1.0, 2.0, 2.0], [3.0, 4.0, 0.0], [5, 6, 2], [7, 8, 2], [9, 9, 2]])
    ds = Dataset(ANIMAL, [Source("v", "video", "v.mp4")],
                 [Frame("v", 0, (Annotation(pts, category="cat", bbox=(0, 0, 5, 5),
                                            extra={"id": 3}),))], categories=["cat"])
    summary = FMT.write(ds, tmp_path / "x.slp", WriteOptions())  # type: ignore[misc]
    text = " | ".join(summary.not_written)
    for word in ("v=0", "categories", "bounding boxes", "id"):
        assert word in text


def test_package_embeds_frames_and_unpack_makes_an_image_set(tmp_path: Path) -> None:
    ds = make_dataset(predictions=False)
    back, _ = roundtrip("slp", ds, tmp_path / "x.pkg.slp")
    assert all(s.kind == "images" and s.path is None for s in back.sources)
    assert FMT.unpack is not None
    unpacked = FMT.unpack(tmp_path / "x.pkg.slp", back, tmp_path / "frames")
    unpacked.validate()
    clip = unpacked.source("clip.mp4")
    assert clip.path is not None and Path(clip.path).is_dir()
    assert [im.extra["frame"] for im in clip.images] == [0, 3, 7]
    for pos, original in enumerate((0, 3, 7)):
        img = cv2.imread(str(Path(clip.path) / clip.images[pos].path))
        np.testing.assert_array_equal(img, frame_pixels("clip", original, (96, 64)))
    still = unpacked.source("stills")
    img = cv2.imread(str(Path(still.path or "") / still.images[1].path))
    assert img.shape == (50, 100, 3)  # each embedded image keeps its own size
    frames = {(f.source, f.index) for f in unpacked.frames}
    assert frames == {("clip.mp4", 0), ("clip.mp4", 1), ("clip.mp4", 2), ("stills", 0),
                      ("stills", 1)}


def test_package_needs_frames(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"pkg\.slp"):
        _write(make_dataset(), tmp_path / "x.pkg.slp")
    assert not list(tmp_path.iterdir())


def test_legacy_coordinates_shift_by_half_a_pixel(tmp_path: Path) -> None:
    p = _write(make_dataset(images=False, predictions=False), tmp_path / "old.slp")
    new = _read(p)
    with h5py.File(p, "a") as f:
        f["metadata"].attrs["format_id"] = 1.0
        f["metadata"].attrs["json"] = "b'" + f["metadata"].attrs["json"].decode() + "'"
    old = _read(p)
    a, b = new.frames[0].annotations[0].points, old.frames[0].annotations[0].points
    np.testing.assert_allclose(b[:, :2], a[:, :2] - 0.5, equal_nan=True)


def test_sniffer_needs_no_h5py_and_the_reader_says_how_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _write(make_dataset(), tmp_path / "x.slp")
    (tmp_path / "plain.h5").write_bytes(slp.HDF5_MAGIC + b"\0" * 100)
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now fails
    assert slp.sniff(p)
    assert not slp.sniff(tmp_path / "plain.h5")
    with pytest.raises(MissingExtraError, match=r"pip install 'pose-studio\[slp\]'"):
        _read(p)


def test_sniffer_reads_content_not_the_name(tmp_path: Path) -> None:
    p = _write(make_dataset(), tmp_path / "labels.bin")
    assert detect(p).name == "slp"
    (tmp_path / "fake.slp").write_text("not hdf5")
    assert not slp.sniff(tmp_path / "fake.slp")
    assert not slp.sniff(tmp_path)
    assert not slp.sniff(tmp_path / "missing.slp")


def _damage(path: Path, edit: object) -> None:
    with h5py.File(path, "a") as f:
        edit(f)  # type: ignore[operator]


def _set_table(name: str, column: str, value: object) -> object:
    def edit(f: h5py.File) -> None:
        a = f[name][()]
        a[column][0] = value
        del f[name]
        f[name] = a
    return edit


def _huge_points(f: h5py.File) -> None:
    dt = f["points"].dtype
    del f["points"]
    f.create_dataset("points", shape=(400_000_000,), dtype=dt, chunks=(1_000_000,),
                     compression="gzip")


@pytest.mark.parametrize(("edit", "needle"), [
    (_huge_points, "far more"),
    (_set_table("frames", "video", 9), "video 9"),
    (_set_table("frames", "instance_id_end", 10**6), "outside the instances"),
    (_set_table("instances", "point_id_end", 10**6), "points"),
    (_set_table("instances", "skeleton", 4), "skeleton 4"),
    (_set_table("instances", "track", 40), "track 40"),
    (lambda f: f["metadata"].attrs.__setitem__("json", "{not json"), "JSONDecodeError"),
    (lambda f: f["metadata"].attrs.__setitem__("format_id", 3.0), "newer"),
    (lambda f: f["metadata"].attrs.__setitem__("json", json.dumps({"skeletons": []})),
     "no skeleton"),
    (lambda f: f.__delitem__("instances"), "instances"),
    (lambda f: f.__delitem__("metadata"), "metadata"),
])
def test_damaged_files_are_refused_in_one_line(tmp_path: Path, edit: object, needle: str) -> None:
    p = _write(make_dataset(), tmp_path / "x.slp")
    _damage(p, edit)
    with pytest.raises(PoseStudioError, match=needle) as e:
        _read(p)
    assert "\n" not in str(e.value)


def test_non_finite_points_are_read_as_unlabeled(tmp_path: Path) -> None:
    p = _write(make_dataset(images=False), tmp_path / "x.slp")

    def edit(f: h5py.File) -> None:
        a = f["pred_points"][()]
        a["x"][0], a["y"][1] = np.inf, 1e300
        del f["pred_points"]
        f["pred_points"] = a
    _damage(p, edit)
    ds = _read(p)
    pred = next(a for fr in ds.frames for a in fr.annotations if a.kind is InstanceKind.PREDICTED)
    assert pred.points[0, 2] == 0 and pred.points[1, 2] == 0 and np.isnan(pred.points[0, 0])
    assert any("non-finite or absurd" in line for line in ds.not_kept)


def test_write_is_atomic_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "x.pkg.slp"

    def broken(key: str, index: int) -> np.ndarray:
        if index == 3:
            raise FormatError("frame 3 is unreadable")
        return frame_pixels(key, index)

    with pytest.raises(FormatError, match="unreadable"):
        _write(make_dataset(), target, frames=broken)
    assert not list(tmp_path.iterdir())  # no partial file, no temp file
    _write(make_dataset(), tmp_path / "y.slp")
    with pytest.raises(OutputError, match="--force"):
        _write(make_dataset(), tmp_path / "y.slp")
    _write(make_dataset(), tmp_path / "y.slp", force=True)
    assert (tmp_path / "y.slp").stat().st_mode & 0o777 != 0o600


def test_never_overwrites_a_source(tmp_path: Path) -> None:
    video = tmp_path / "clip.slp"
    video.write_bytes(b"pretend video")
    ds = Dataset(ANIMAL, [Source("v", "video", str(video))], [])
    with pytest.raises(OutputError, match="source"):
        _write(ds, video, force=True)
    assert video.read_bytes() == b"pretend video"


def test_read_maps_onto_the_project_skeleton(tmp_path: Path) -> None:
    p = _write(make_dataset(images=False), tmp_path / "x.slp")
    target = ANIMAL.__class__(name="t", keypoints=("tail_tip", "snout", "paw"))
    ds = _read(p, skeleton=target)
    a = ds.frames[0].annotations[0]
    assert ds.skeleton.keypoints == ("tail_tip", "snout", "paw")
    assert a.points[2, 2] == 0
    assert any("left_ear" in line for line in ds.not_kept)


# --- the corpus -------------------------------------------------------------------------------
def test_corpus_dance_has_users_predictions_and_coco_names() -> None:
    p = realworld("data/sleap/slp_hdf5/dance.mp4.labels.slp")
    videos = p.parent.parent / "videos"
    assert detect(p).name == "slp"
    ds = _read(p, images_dir=videos)
    ds.validate()
    assert ds.skeleton.name == "coco17"
    assert len(ds.frames) == 450
    kinds = [a.kind for f in ds.frames for a in f.annotations]
    assert kinds.count(InstanceKind.USER) == 3 and kinds.count(InstanceKind.PREDICTED) == 450
    assert ds.sources[0].path == str((videos / "dance.mp4").resolve())
    user = next(a for a in ds.frames[0].annotations if a.kind is InstanceKind.USER)
    assert user.extra["slp_from_predicted"] == 0
    assert user.points[16, 2] == 1  # SLEAP's "not visible" point, coordinates kept
    np.testing.assert_allclose(user.points[0, :2], [193.83285522, 230.05151367])
    pred = next(a for a in ds.frames[0].annotations if a.kind is InstanceKind.PREDICTED)
    assert pred.score == pytest.approx(11.767921) and pred.kp_scores is not None


@pytest.mark.parametrize("name", ["dance.mp4.labels.slp", "minimal_instance.slp",
                                  "small_robot_minimal.slp"])
def test_corpus_files_round_trip(tmp_path: Path, name: str) -> None:
    ds = _read(realworld(f"data/sleap/slp_hdf5/{name}"))
    ds.validate()
    back = _read(_write(ds, tmp_path / name))
    assert back.skeleton.keypoints == ds.skeleton.keypoints
    assert back.skeleton.edges == ds.skeleton.edges
    for f1, f2 in zip(ds.frames, back.frames):
        assert (f1.source, f1.index) == (f2.source, f2.index)
        for a, b in zip(f1.annotations, f2.annotations):
            np.testing.assert_array_equal(a.points, b.points)
            assert a.extra == b.extra and a.kind == b.kind


def test_files_written_here_load_in_sleap_io(tmp_path: Path) -> None:
    import sleap_io as sio  # the reference reader, in the dev extra (not the app's)
    p = _write(make_dataset(), tmp_path / "x.pkg.slp", frames=lambda k, i: frame_pixels(k, i))
    labels = sio.load_slp(str(p))
    assert len(labels.labeled_frames) == 5


# --- files sleap-io wrote (tests/data/sleap_io, made by make_fixtures.py there) -----------------
SIO = Path(__file__).resolve().parent / "data" / "sleap_io"


@pytest.mark.parametrize("name", ["labels.slp", "labels.pkg.slp"])
def test_files_sleap_io_wrote(tmp_path: Path, name: str) -> None:
    ds = _read(SIO / name)
    ds.validate()
    assert ds.not_kept == []
    assert ds.skeleton.keypoints == ("head", "left_ear", "right_ear")
    assert ds.skeleton.flip_pairs == ((1, 2),)  # stored right -> left; oriented left first
    assert ds.tracks == ["mouse1", "mouse2"]
    user, pred = ds.frames[1].annotations
    np.testing.assert_array_equal(user.points, [[11, 12, 2], [8, 20, 2], [16, 20.5, 1]])
    assert pred.kind is InstanceKind.PREDICTED and pred.score == 0.75 and pred.track == "mouse2"
    np.testing.assert_allclose(pred.kp_scores, [0.9, 0.1, 0.8])
    assert pred.points[1, 2] == 0
    src = ds.sources[0]
    if name == "labels.slp":
        assert (Path(src.path or "") / src.images[0].path).is_file()
        return
    assert FMT.unpack is not None
    src = FMT.unpack(SIO / name, ds, tmp_path).sources[0]
    for i in range(3):
        got = cv2.imread(str(Path(src.path or "") / src.images[i].path))
        want = cv2.imread(str(SIO / f"frame{i}.png"))
        np.testing.assert_array_equal(got, want)
        assert tuple(got[15, 10 + 10 * i]) == (0, 0, 255)  # the red square is red (BGR)


def test_an_image_list_that_moved_is_found_next_to_the_file(tmp_path: Path) -> None:
    for f in SIO.glob("*.*"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    with h5py.File(tmp_path / "labels.slp", "a") as f:
        row = f["videos_json"][0].decode()
        # The fixture stores the folder it was made in (any machine's): move it away.
        made_in = str(Path(json.loads(row)["filename"][0]).parent)
        row = row.replace(made_in, "/nowhere/old/place")
        del f["videos_json"]
        f["videos_json"] = np.array([row.encode()])
    src = _read(tmp_path / "labels.slp").sources[0]
    assert src.path == str(tmp_path.resolve())
    assert [im.path for im in src.images] == ["frame0.png", "frame1.png", "frame2.png"]
