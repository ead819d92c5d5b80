"""COCO dict building and reading without a project (pure parts of pose_studio.formats)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pose_studio.core.annotation import InstanceKind, Provenance
from pose_studio.core.skeleton import COCO17, Skeleton
from pose_studio.formats.coco_build import (
    build_coco_dict,
    frame_file_name,
    video_dir_names,
    write_json_atomic,
)
from pose_studio.formats.coco_read import CocoFormatError, parse_coco
from pose_studio.formats.dataset import Annotation, Dataset, Frame, Source
from pose_studio.formats.ingest_frames import (
    ImageRef,
    VideoTarget,
    frame_number_from_name,
    resolve_frames,
)

K = COCO17.num_keypoints


def _points(rng: np.random.Generator) -> np.ndarray:
    xy = rng.uniform(20, 300, size=(K, 2))
    vis = rng.choice([0, 1, 2], size=K, p=[0.2, 0.2, 0.6])
    vis[0] = 2
    xy[vis == 0] = 0.0
    return np.column_stack([xy, vis])


def _ann(rng: np.random.Generator, *, kind: InstanceKind = InstanceKind.USER,
         **kw: Any) -> Annotation:
    if kind is InstanceKind.PREDICTED:
        kw.setdefault("kp_scores", rng.uniform(0, 1, size=K).astype(np.float32))
        kw.setdefault("score", float(rng.uniform(0.2, 1)))
    return Annotation(_points(rng), kind=kind, **kw)


def _video_dataset(seed: int = 0, n: int = 6) -> Dataset:
    """Frames 0, 3, 6... of one 320x240 video with 1-3 annotations each (third: predicted)."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        anns = []
        for j in range(int(rng.integers(1, 4))):
            kind = InstanceKind.PREDICTED if j == 2 else InstanceKind.USER
            anns.append(_ann(rng, kind=kind, track=f"track {j + 1}" if j < 2 else None))
        frames.append(Frame("v", i * 3, tuple(anns)))
    src = Source("v", "video", path="clip.mp4", width=320, height=240,
                 extra={"video_id": 1, "stored_path": "clip.mp4"})
    return Dataset(COCO17, [src], frames, tracks=["track 1", "track 2"])


# --- building ------------------------------------------------------------------------------------
def test_build_fields_and_conventions() -> None:
    ds = _video_dataset()
    coco, images = build_coco_dict(ds)
    assert coco["categories"][0]["keypoints"] == list(COCO17.keypoints)
    assert coco["categories"][0]["skeleton"] == COCO17.coco_skeleton()
    assert min(min(e) for e in coco["categories"][0]["skeleton"]) == 1  # 1-based
    im0 = coco["images"][0]
    assert im0 == {"id": 1, "file_name": "clip/000000.png", "width": 320, "height": 240,
                   "frame_index": 0, "video": "clip.mp4", "video_id": 1}
    assert [im.file_name for im in images] == [frame_file_name("clip", f.index, "png")
                                               for f in ds.frames]
    pairs = [(i + 1, a) for i, f in enumerate(ds.frames) for a in f.annotations]
    assert [a["id"] for a in coco["annotations"]] == list(range(1, len(pairs) + 1))
    for ann, (image_id, a) in zip(coco["annotations"], pairs):
        assert ann["image_id"] == image_id
        kps = np.asarray(ann["keypoints"]).reshape(K, 3)
        assert all(isinstance(v, float) for v in ann["keypoints"])
        np.testing.assert_array_equal(kps[:, 2], a.points[:, 2])
        assert (kps[a.points[:, 2] == 0, :2] == 0).all()
        lab = a.points[:, 2] > 0
        np.testing.assert_array_equal(kps[lab, :2], a.points[lab, :2])
        assert ann["num_keypoints"] == int(lab.sum())
        x, y, w, h = ann["bbox"]
        assert x >= 0 and y >= 0 and x + w <= 320 + 1e-9 and y + h <= 240 + 1e-9
        assert ann["area"] == pytest.approx(w * h)
        assert ann["iscrowd"] == 0
        assert ann["track_id"] == (None if a.track is None else int(a.track.split()[-1]))
        assert ann["source"] == a.kind.value
        if a.kind is InstanceKind.PREDICTED:
            assert ann["score"] == pytest.approx(a.score)
            assert ann["keypoint_scores"] == pytest.approx(a.kp_scores.tolist())
        else:
            assert "score" not in ann


def _one(a: Annotation, w: int = 320, h: int = 240) -> dict[str, Any]:
    src = Source("v", "video", path="clip.mp4", width=w, height=h)
    coco, _ = build_coco_dict(Dataset(COCO17, [src], [Frame("v", 0, (a,))]))
    return coco["annotations"][0]  # type: ignore[no-any-return]


def test_bbox_from_own_box_or_padded_extent() -> None:
    pts = np.zeros((K, 3))
    pts[0] = (100, 100, 2)
    pts[1] = (150, 120, 1)
    assert _one(Annotation(pts, bbox=(90.0, 80.0, 500.0, 40.0)))["bbox"] == \
        [90.0, 80.0, 500.0, 40.0]  # an own box is written as it is
    assert _one(Annotation(pts))["bbox"] == pytest.approx([95.0, 95.0, 60.0, 30.0])  # 10 %
    edge = pts.copy()
    edge[:2, 0] += 200
    b = _one(Annotation(edge))["bbox"]
    assert b[0] + b[2] == pytest.approx(320.0)  # a derived box is clipped to the image


def test_non_finite_labeled_point_is_written_unlabeled() -> None:
    pts = np.full((K, 3), 10.0)
    pts[:, 2] = 2
    pts[3, :2] = np.nan
    ann = _one(Annotation(pts))
    assert ann["keypoints"][9:12] == [0.0, 0.0, 0.0]
    assert ann["num_keypoints"] == K - 1
    json.dumps(ann, allow_nan=False)


def test_provenance_written_only_when_not_default() -> None:
    rng = np.random.default_rng(1)
    prov = np.zeros(K, dtype=np.uint8)
    prov[2] = int(Provenance.INTERPOLATED)
    assert "keypoint_provenance" not in _one(_ann(rng))
    assert _one(_ann(rng, provenance=prov))["keypoint_provenance"][2] == \
        int(Provenance.INTERPOLATED)


def test_kept_fields_ids_and_v0_coordinates_are_written_back() -> None:
    pts = np.zeros((K, 3))
    pts[0] = (10, 20, 2)
    pts[1] = (30, 40, 0)  # a tool wrote coordinates for an unlabeled point
    kept = {"id": 77, "area": 12.5, "segmentation": [[1, 2, 3, 4, 5, 6]],
            "attributes": {"occluded": True}, "_v0_xy": True}
    ann = _one(Annotation(pts, extra=kept))
    assert ann["id"] == 77 and ann["area"] == 12.5 and ann["attributes"] == {"occluded": True}
    assert ann["segmentation"] == [[1, 2, 3, 4, 5, 6]] and "_v0_xy" not in ann
    assert ann["keypoints"][3:6] == [30.0, 40.0, 0.0]
    assert _one(Annotation(pts))["keypoints"][3:6] == [0.0, 0.0, 0.0]


def test_video_dir_names_unique_even_with_same_stem() -> None:
    names = video_dir_names([(1, "a/clip.mp4"), (2, "b/clip.mp4"), (3, "c/other video!.avi"),
                             (4, "/data/frames_dir/")])
    assert names[1] != names[2]
    assert names[1].startswith("clip") and names[2].startswith("clip")
    assert names[3] == "other_video"
    assert names[4] == "frames_dir"
    assert len(set(names.values())) == 4


def test_pycocotools_loads_and_self_ap_is_one(tmp_path: Path) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    path = tmp_path / "gt.json"
    write_json_atomic(build_coco_dict(_video_dataset(3))[0], path)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(path))
        results = [{"image_id": a["image_id"], "category_id": a["category_id"],
                    "keypoints": a["keypoints"], "score": 1.0}
                   for a in gt.dataset["annotations"]]
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(COCO17.sigmas)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)
    assert ev.stats[5] == pytest.approx(1.0)


def test_write_json_atomic_keeps_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    write_json_atomic({"a": 1}, path)
    with pytest.raises(ValueError):
        write_json_atomic({"a": float("nan")}, path)
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


# --- reading -------------------------------------------------------------------------------------
def _anns(ds: Dataset) -> list[Annotation]:
    return [a for f in ds.frames for a in f.annotations]


def test_parse_own_export_restores_instances() -> None:
    ds = _video_dataset(5)
    coco = json.loads(json.dumps(build_coco_dict(ds)[0]))
    back = parse_coco(coco, COCO17)
    assert back.info["own_format"]
    got, want = _anns(back), _anns(ds)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.track == w.track and g.kind is w.kind
        np.testing.assert_array_equal(g.points[:, 2], w.points[:, 2])
        lab = w.points[:, 2] > 0
        np.testing.assert_array_equal(g.points[lab, :2], w.points[lab, :2])
        assert g.bbox is None  # the export's derived box is dropped again
        assert g.score == w.score
        if w.kp_scores is not None:
            np.testing.assert_array_equal(g.kp_scores, w.kp_scores)
    match = [e.extra["_match"] for e in back.sources[0].images]
    assert [m["frame_index"] for m in match] == [f.index for f in ds.frames]


def _cvat_style() -> dict[str, Any]:
    names = list(COCO17.keypoints)
    kps = []
    for i in range(K):
        kps += [10.5 + i, 20.25 + i, 2]
    return {
        "licenses": [{"name": "", "id": 0, "url": ""}],
        "info": {"contributor": "", "date_created": "", "description": "", "url": "",
                 "version": "", "year": ""},
        "categories": [
            {"id": 1, "name": "car", "supercategory": ""},  # a box label: extra category
            {"id": 2, "name": "person", "supercategory": "", "keypoints": names,
             "skeleton": [[1, 2], [1, 3]]},
        ],
        "images": [
            {"id": 1, "width": 320, "height": 240, "file_name": "frame_000004.PNG", "license": 0,
             "flickr_url": "", "coco_url": "", "date_captured": 0},
            {"id": 2, "width": 320, "height": 240, "file_name": "frame_000009.PNG", "license": 0,
             "flickr_url": "", "coco_url": "", "date_captured": 0},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [], "area": 100.0,
             "bbox": [1.0, 2.0, 10.0, 10.0], "iscrowd": 0, "attributes": {"occluded": False}},
            {"id": 2, "image_id": 1, "category_id": 2, "segmentation": [], "area": 5000.0,
             "bbox": [5.0, 5.0, 100.0, 50.0], "iscrowd": 0,
             "attributes": {"occluded": False, "track_id": 7, "keyframe": True},
             "keypoints": kps, "num_keypoints": K},
            {"id": 3, "image_id": 2, "category_id": 2, "segmentation": [], "area": 5000.0,
             "bbox": [5.0, 5.0, 100.0, 50.0], "iscrowd": 0,
             "attributes": {"occluded": False, "track_id": 7}, "keypoints": kps},
        ],
    }


def test_parse_cvat_style() -> None:
    ds = parse_coco(_cvat_style(), COCO17)
    anns = _anns(ds)
    assert len(anns) == 2
    (region,) = [r for f in ds.frames for r in f.regions]  # the box label is kept as a region
    assert region.category == "car" and region.bbox == (1.0, 2.0, 10.0, 10.0)
    assert [a.track for a in anns] == ["track 7", "track 7"]
    a = anns[0]
    assert a.kind is InstanceKind.USER and a.category == "person"
    assert a.points[3, :2].tolist() == [13.5, 23.25]
    assert a.bbox == (5.0, 5.0, 100.0, 50.0)  # a real box, kept
    assert a.extra["attributes"] == {"occluded": False, "track_id": 7, "keyframe": True}
    assert a.extra["id"] == 2
    refs = [ImageRef(i, e.path, e.width, e.height) for i, e in enumerate(ds.sources[0].images)]
    mapping, problems, _ = resolve_frames(refs, [VideoTarget(1, 20, 320, 240, ("clip.mp4",))])
    assert problems == []
    assert mapping == {0: (1, 4), 1: (1, 9)}


def _xanylabeling_style(has_visible: bool) -> dict[str, Any]:
    kps: list[int] = []
    for i in range(K):
        x, y = (0, 0) if i == 4 else (30 + i, 40 + 2 * i)
        v = 0 if i == 4 else (1 if i == 5 else 2)
        kps += [x, y, v] if has_visible else [x, y]
    return {
        "info": {"year": 2023, "version": "2.4", "contributor": "CVHub"},
        "licenses": [{"id": 1, "url": "", "name": "GPL-3"}],
        "categories": [{"id": 1, "name": "person", "supercategory": "",
                        "keypoints": list(COCO17.keypoints), "skeleton": []}],
        "images": [{"id": 0, "file_name": "000012.jpg", "width": 320, "height": 240,
                    "license": 0, "date_captured": ""}],
        "annotations": [{"id": 0, "image_id": 0, "category_id": 1, "bbox": [20, 30, 60, 80],
                         "area": 4800, "iscrowd": 0, "keypoints": kps, "num_keypoints": K - 1,
                         "ignore": 0, "segmentation": []}],
    }


@pytest.mark.parametrize("has_visible", [True, False])
def test_parse_xanylabeling_style(has_visible: bool) -> None:
    (a,) = _anns(parse_coco(_xanylabeling_style(has_visible), COCO17))
    assert a.points[4, 2] == 0
    assert a.points[5, 2] == (1 if has_visible else 2)
    assert a.points[6, :2].tolist() == [36.0, 52.0]


def _mmpose_style() -> dict[str, Any]:
    # As the official person_keypoints_*.json / mmpose tests/data/coco/test_coco.json.
    kps = []
    for i in range(K):
        kps += [float(100 + 3 * i), float(50 + 5 * i), 2 if i % 3 else 1]
    return {
        "info": {"description": "COCO 2017 Dataset"},
        "categories": [{"supercategory": "person", "id": 1, "name": "person",
                        "keypoints": list(COCO17.keypoints),
                        "skeleton": [[16, 14], [14, 12], [17, 15]]}],
        "images": [{"license": 4, "file_name": "000000000785.jpg", "height": 425, "width": 640,
                    "id": 785}],
        "annotations": [
            {"segmentation": [[1, 2, 3, 4, 5, 6]], "num_keypoints": K, "area": 17376.91885,
             "iscrowd": 0, "keypoints": kps, "image_id": 785,
             "bbox": [280.79, 44.73, 218.7, 346.68], "category_id": 1, "id": 442619},
            {"segmentation": [[1, 2, 3, 4, 5, 6]], "num_keypoints": 0, "area": 10.0,
             "iscrowd": 0, "keypoints": [0] * (3 * K), "image_id": 785,
             "bbox": [1.0, 1.0, 4.0, 4.0], "category_id": 1, "id": 442620},
        ],
    }


def test_parse_mmpose_style_keeps_empty_annotations_as_regions() -> None:
    ds = parse_coco(_mmpose_style(), COCO17)
    assert len(_anns(ds)) == 1
    (region,) = ds.frames[0].regions
    assert region.extra["id"] == 442620 and region.extra["segmentation"] == [[1, 2, 3, 4, 5, 6]]
    assert ds.frames[0].annotations[0].extra["area"] == 17376.91885  # not the box's area
    # File name number 785 lands on frame 785, which a 100-frame video does not have.
    refs = [ImageRef(0, "000000000785.jpg", 640, 425)]
    _, problems, n = resolve_frames(refs, [VideoTarget(1, 100, 640, 425, ())])
    assert n == 1 and "frame 785" in problems[0] and "--images" in problems[0]
    mapping, _, _ = resolve_frames(refs, [VideoTarget(1, 1000, 640, 425, ())])
    assert mapping == {0: (1, 785)}


def test_results_style_scores_become_predictions() -> None:
    coco = _mmpose_style()
    ann = coco["annotations"][0]
    ann["score"] = 0.8
    kps = np.asarray(ann["keypoints"], dtype=float).reshape(K, 3)
    kps[:, 2] = np.linspace(0.1, 0.9, K)  # confidences in the v slot
    ann["keypoints"] = kps.reshape(-1).tolist()
    ds = parse_coco(coco, COCO17)
    a = _anns(ds)[0]
    assert a.kind is InstanceKind.PREDICTED and a.run in ds.runs
    assert a.score == pytest.approx(0.8)
    assert (a.points[:, 2] == 2).all()
    np.testing.assert_allclose(a.kp_scores, np.linspace(0.1, 0.9, K), rtol=1e-6)


def test_score_field_alone_makes_a_prediction() -> None:
    coco = _mmpose_style()
    coco["annotations"][0]["score"] = 0.5
    a = _anns(parse_coco(coco, COCO17))[0]
    assert a.kind is InstanceKind.PREDICTED and a.score == 0.5
    assert a.kp_scores is not None


# --- keypoint name mapping ------------------------------------------------------------------------
def test_keypoints_mapped_by_name_when_order_differs() -> None:
    coco = _mmpose_style()
    order = np.random.default_rng(0).permutation(K)
    names = [COCO17.keypoints[i] for i in order]
    coco["categories"][0]["keypoints"] = [n.upper().replace("_", " ") for n in names]
    kps = np.asarray(coco["annotations"][0]["keypoints"]).reshape(K, 3)
    coco["annotations"][0]["keypoints"] = kps[order].reshape(-1).tolist()
    ds = parse_coco(coco, COCO17)
    assert ds.info["keypoint_mapping"] == "by name"
    np.testing.assert_array_equal(_anns(ds)[0].points, kps)


def test_subset_of_keypoints_maps_by_name() -> None:
    from pose_studio.core.skeleton_presets import HALPE26

    coco = _mmpose_style()  # COCO-17 labels into a Halpe-26 project
    a = _anns(parse_coco(coco, HALPE26))[0]
    assert a.num_keypoints == 26
    assert (a.points[17:, 2] == 0).all()
    assert a.points[16, :2].tolist() == coco["annotations"][0]["keypoints"][48:50]


def test_numeric_names_map_by_position() -> None:
    coco = _mmpose_style()
    coco["categories"][0]["keypoints"] = [str(i + 1) for i in range(K)]
    assert parse_coco(coco, COCO17).info["keypoint_mapping"] == "by position"


def test_unknown_layout_refused() -> None:
    animal = Skeleton(name="mouse", keypoints=("snout", "left_ear", "right_ear", "tail_base"))
    with pytest.raises(CocoFormatError) as err:
        parse_coco(_mmpose_style(), animal)
    msg = str(err.value)
    assert "unknown keypoint layout" in msg and "'nose'" in msg and "mouse" in msg


# --- frame matching ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [("frame_000123.PNG", 123), ("clip/000042.png", 42), ("img-7.jpg", 7), ("a\\b\\0009.jpg", 9),
     ("video2_frame_15.png", 15), ("cover.png", None), ("12", 12)],
)
def test_frame_number_from_name(name: str, expected: int | None) -> None:
    assert frame_number_from_name(name) == expected


def test_resolve_frames_with_several_videos() -> None:
    refs = [ImageRef(0, "clip/000000.png", 320, 240, 0, "clip.mp4"),
            ImageRef(1, "clip-v2/000005.png", 320, 240, 5, "b/clip.mp4")]
    targets = [VideoTarget(10, 100, 320, 240, ("clip.mp4",)),
               VideoTarget(11, 100, 320, 240, ("b/clip.mp4",))]
    mapping, problems, _ = resolve_frames(refs, targets)
    assert problems == [] and mapping == {0: (10, 0), 1: (11, 5)}
    # no way to tell: refused, and --video resolves it
    anon = [ImageRef(0, "000000.png", 320, 240, 0), ImageRef(1, "000005.png", 320, 240, 5)]
    _, problems, n = resolve_frames(anon, [VideoTarget(10, 100, 320, 240, ("x.mp4",)),
                                           VideoTarget(11, 100, 320, 240, ("y.mp4",))])
    assert n > 0 and "--video" in problems[0]
    mapping, problems, _ = resolve_frames(anon, targets, video_id=11)
    assert problems == [] and all(v == 11 for v, _ in mapping.values())


def test_resolve_frames_size_mismatch() -> None:
    refs = [ImageRef(0, "frame_000004.PNG", 320, 240), ImageRef(1, "frame_000009.PNG", 320, 240)]
    _, problems, n = resolve_frames(refs, [VideoTarget(1, 100, 640, 480, ())])
    assert n == 2 and "320x240" in problems[0] and "640x480" in problems[0]
