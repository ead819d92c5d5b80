"""YOLO-pose datasets: round trips, what ultralytics' checks require, splits, hostile labels."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.skeleton import COCO17
from pose_studio.formats import yolo
from pose_studio.formats.dataset import Annotation, Dataset, Frame, ImageEntry, Source
from pose_studio.formats.registry import ReadOptions, WriteOptions, detect, get_format
from pose_studio.video.image_header import image_size
from tests.support.datasets import (
    ANIMAL,
    assert_points_equal,
    frame_pixels,
    frames_for,
    make_dataset,
    roundtrip,
    write_png,
)

FMT = get_format("yolo")


def _read(path: Path, **kw: object) -> Dataset:
    assert FMT.read is not None
    return FMT.read(path, ReadOptions(**kw))  # type: ignore[arg-type]


def _ultralytics_checks(root: Path) -> None:
    """The rules ultralytics' check_det_dataset and verify_image_label apply (ultralytics 8.3)."""
    cfg = yaml.safe_load((root / "data.yaml").read_text())
    assert "train" in cfg and "val" in cfg and "path" not in cfg
    k, dim = cfg["kpt_shape"]
    names = cfg["names"]
    flip = cfg["flip_idx"]
    assert len(flip) == k and all(flip[flip[i]] == i for i in range(k))
    for split in {cfg["train"], cfg["val"]}:
        images = [p for p in (root / split).rglob("*") if p.is_file()]
        assert images
        for img in images:
            label = Path(str(img).replace("/images/", "/labels/")).with_suffix(".txt")
            assert label.is_file()
            rows = [ln.split() for ln in label.read_text().splitlines() if ln]
            if not rows:
                continue
            lb = np.array(rows, dtype=np.float32)
            assert lb.shape[1] == 5 + k * dim
            pts = lb[:, 5:].reshape(-1, dim)[:, :2]
            assert pts.max() <= 1.01 and lb.min() >= -0.01
            assert lb[:, 0].max() < len(names)
            h, w = cv2.imread(str(img)).shape[:2]
            assert h > 9 and w > 9


def test_round_trip_and_ultralytics_accepts_the_layout(tmp_path: Path) -> None:
    ds = make_dataset()
    back, summary = roundtrip("yolo", ds, tmp_path / "ds")
    _ultralytics_checks(tmp_path / "ds")
    assert back.skeleton.keypoints == ANIMAL.keypoints
    assert back.skeleton.flip_pairs == ANIMAL.flip_pairs
    assert back.skeleton.edges == ANIMAL.edges
    train = back.source("train")
    names = [im.path for im in train.images]
    assert "stills/a/img1.png" not in names and "a/img1.png" in names  # relative paths kept
    assert "clip_000003.png" in names
    want = {}
    for f in ds.frames:
        src = ds.source(f.source)
        name = src.images[f.index].path if src.kind == "images" else f"clip_{f.index:06d}.png"
        want[name] = [a for a in f.annotations if a.kind is InstanceKind.USER]
    for f in back.frames:
        got = list(f.annotations)
        exp = want[train.images[f.index].path]
        assert len(got) == len(exp)
        for a, b in zip(got, exp):
            assert_points_equal(a, b, atol=1e-3)
            assert a.bbox is not None
    text = " | ".join(summary.not_written)
    assert "predictions" in text and "tracks" in text and "validation split" in text


def test_points_outside_the_image_and_v0_coordinates_are_named(tmp_path: Path) -> None:
    pts = np.array([[-5.0, 10, 2], [10, 10, 0], [20, 20, 1], [30, 30, 2], [40, 40, 2]])
    ds = Dataset(ANIMAL, [Source("s", "images", "/x", (ImageEntry("i.png", 64, 48),))],
                 [Frame("s", 0, (Annotation(pts, bbox=(-10, 0, 60, 40)),))])
    summary = FMT.write(ds, tmp_path / "d", WriteOptions(frames=frames_for(ds)))  # type: ignore[misc]
    text = " | ".join(summary.not_written)
    assert "outside the image" in text and "v=0" in text and "clipped" in text
    _ultralytics_checks(tmp_path / "d")
    back = _read(tmp_path / "d")
    a = back.frames[0].annotations[0]
    assert a.points[0, 2] == 0 and a.points[2, 2] == 1
    np.testing.assert_allclose(a.bbox, (0, 0, 50, 40), atol=1e-3)


def _dataset(root: Path, data: str, labels: dict[str, str], images: dict[str, tuple[int, int]]
             ) -> Path:
    (root).mkdir(parents=True, exist_ok=True)
    (root / "data.yaml").write_text(data)
    for name, (w, h) in images.items():
        write_png(root / name, frame_pixels(name, 0, (w, h)))
    for name, text in labels.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_two_dimensional_keypoints_splits_lists_and_names(tmp_path: Path) -> None:
    root = _dataset(
        tmp_path / "d",
        "path: .\ntrain: lists/train.txt\nvalidation: ../images/val\n"
        "names: {0: cat, 1: dog}\nkpt_shape: [3, 2]\nflip_idx: [0, 2, 1]\n",
        {"labels/train/a.txt": "1 0.5 0.5 0.5 0.5 0.25 0.5 0 0 0.75 0.5\n",
         "labels/val/b.txt": "",
         "lists/train.txt": "./../images/train/a.png\n"},
        {"images/train/a.png": (40, 20), "images/val/b.png": (30, 30)})
    ds = _read(root)
    ds.validate()
    assert [s.key for s in ds.sources] == ["train", "val"]
    assert ds.categories == ["cat", "dog"]
    a = ds.frames[0].annotations[0]
    assert a.category == "dog"
    np.testing.assert_allclose(a.points[0], [10, 10, 2])
    assert a.points[1, 2] == 0 and np.isnan(a.points[1, 0])
    np.testing.assert_allclose(a.bbox, (10, 5, 20, 10))
    assert ds.frames[1].annotations == ()  # an empty label file: labeled, nobody there
    assert any("[K, 2]" in line for line in ds.not_kept)
    back, _ = roundtrip("yolo", ds, tmp_path / "out")
    assert yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())["kpt_shape"] == [3, 2]
    np.testing.assert_allclose(back.frames[0].annotations[0].points, a.points, atol=1e-4)


def test_predictions_with_confidences(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "d", "train: images\nval: images\nkpt_shape: [2, 3]\nnames: [p]\n",
                    {"labels/x.txt": "0 0.5 0.5 0.2 0.2 0.1 0.1 0.9 0.2 0.2 0.3 0.8\n"},
                    {"images/x.png": (100, 100)})
    ds = _read(root)
    a = ds.frames[0].annotations[0]
    assert a.kind is InstanceKind.PREDICTED and a.score == pytest.approx(0.8)
    np.testing.assert_allclose(a.kp_scores, [0.9, 0.3])
    assert any("repeats" in line for line in ds.not_kept)  # val == train, read once


def test_unnamed_17_points_with_coco_flips_are_coco17(tmp_path: Path) -> None:
    flip = [int(i) for i in COCO17.flip_permutation()]
    root = _dataset(tmp_path / "d", f"train: images\nval: images\nkpt_shape: [17, 3]\n"
                                    f"flip_idx: {flip}\nnames: [person]\n", {},
                    {"images/x.png": (20, 20)})
    assert _read(root).skeleton.keypoints == COCO17.keypoints


@pytest.mark.parametrize(("data", "label", "needle"), [
    ("train: images\nval: images\nkpt_shape: [2, 3]\nnames: [p]\n", "0 0.5 0.5 0.1 0.1 1 1\n",
     "7 values"),
    ("train: images\nval: images\nkpt_shape: [1, 3]\nnames: [p]\n", "4 0.5 0.5 0.1 0.1 1 1 2\n",
     "class 4"),
    ("train: images\nval: images\nkpt_shape: [1, 3]\nnames: [p]\n", "0 0.5 0.5 x 0.1 1 1 2\n",
     "not all values"),
    ("train: images\nval: images\nkpt_shape: [1, 3]\nnames: [p]\n", "0 nan 0.5 0.1 0.1 1 1 2\n",
     "not a box"),
    ("train: images\nval: images\nkpt_shape: [1, 7]\nnames: [p]\n", "", "kpt_shape must"),
    ("train: images\nval: images\nkpt_shape: 5\n", "", "list of integers"),
    ("train: nowhere\nval: images\nkpt_shape: [1, 3]\n", "", "not found"),
    ("kpt_shape: [1, 3]\n!!python/object/apply:os.system [echo]\n", "", "not valid YAML"),
])
def test_hostile_datasets_fail_in_one_line(tmp_path: Path, data: str, label: str,
                                           needle: str) -> None:
    root = _dataset(tmp_path / "d", data, {"labels/x.txt": label}, {"images/x.png": (20, 20)})
    with pytest.raises(PoseStudioError, match=needle) as e:
        _read(root)
    assert "\n" not in str(e.value)


def test_non_finite_points_are_unlabeled(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "d", "train: images\nval: images\nkpt_shape: [2, 3]\nnames: [p]\n",
                    {"labels/x.txt": "0 0.5 0.5 0.1 0.1 inf 0.5 2 1e300 0.1 2\n"},
                    {"images/x.png": (20, 20)})
    ds = _read(root)
    assert (ds.frames[0].annotations[0].points[:, 2] == 0).all()
    assert any("visibility other than" in line for line in ds.not_kept)


def _jpeg_with_orientation(img: np.ndarray, orientation: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) \
        + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    app1 = b"Exif\x00\x00" + tiff
    data = bytes(buf)
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:]


@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_image_sizes_follow_exif_orientation_like_opencv(tmp_path: Path, orientation: int) -> None:
    p = tmp_path / "x.jpg"
    p.write_bytes(_jpeg_with_orientation(frame_pixels("x", 0, (40, 20)), orientation))
    h, w = cv2.imread(str(p)).shape[:2]
    assert image_size(p) == (w, h)
    assert image_size(p) == ((20, 40) if orientation in (6, 8) else (40, 20))


def test_sniffers_tell_yolo_from_deeplabcut(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "d", "train: images\nval: images\nkpt_shape: [1, 3]\n", {},
                    {"images/x.png": (20, 20)})
    assert detect(root).name == "yolo"
    assert detect(root / "data.yaml").name == "yolo"
    (tmp_path / "other.yaml").write_text("a: 1\n")
    assert not yolo.sniff(tmp_path / "other.yaml")
