"""COCO dict building and reading without a project (pure parts of pose_studio.formats)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pose_studio.core.annotation import Instance, InstanceKind, Provenance
from pose_studio.core.skeleton import COCO17, Skeleton
from pose_studio.formats.coco import VideoTarget, resolve_frames
from pose_studio.formats.coco_build import (
    ExportImage,
    build_coco_dict,
    frame_file_name,
    video_dir_names,
    write_json_atomic,
)
from pose_studio.formats.coco_read import (
    CocoFormatError,
    drop_derived_bbox,
    frame_number_from_name,
    load_json,
    parse_coco,
)

K = COCO17.num_keypoints


def _inst(rng: np.random.Generator, *, kind: InstanceKind = InstanceKind.USER, **kw: Any) -> Instance:
    xy = rng.uniform(20, 300, size=(K, 2))
    vis = rng.choice([0, 1, 2], size=K, p=[0.2, 0.2, 0.6]).astype(np.uint8)
    vis[0] = 2
    xy[vis == 0] = 0.0
    if kind is InstanceKind.PREDICTED:
        kw.setdefault("kp_scores", rng.uniform(0, 1, size=K).astype(np.float32))
        kw.setdefault("score", float(rng.uniform(0.2, 1)))
    return Instance(xy=xy, visibility=vis, kind=kind, **kw)


def _images(n: int, w: int = 320, h: int = 240) -> list[ExportImage]:
    return [ExportImage(i + 1, 1, i * 3, frame_file_name("clip", i * 3, "png"), w, h, "clip.mp4")
            for i in range(n)]


def _dataset(seed: int = 0) -> tuple[list[ExportImage], list[tuple[int, Instance]]]:
    rng = np.random.default_rng(seed)
    images = _images(6)
    pairs = []
    for im in images:
        for j in range(int(rng.integers(1, 4))):
            kind = InstanceKind.PREDICTED if j == 2 else InstanceKind.USER
            pairs.append((im.image_id, _inst(rng, kind=kind, track_id=j + 1 if j < 2 else None)))
    return images, pairs


# --- building ------------------------------------------------------------------------------------
def test_build_fields_and_conventions() -> None:
    images, pairs = _dataset()
    coco = build_coco_dict(COCO17, images, pairs)
    assert coco["categories"][0]["keypoints"] == list(COCO17.keypoints)
    assert coco["categories"][0]["skeleton"] == COCO17.coco_skeleton()
    assert min(min(e) for e in coco["categories"][0]["skeleton"]) == 1  # 1-based
    im0 = coco["images"][0]
    assert im0 == {"id": 1, "file_name": "clip/000000.png", "width": 320, "height": 240,
                   "frame_index": 0, "video": "clip.mp4", "video_id": 1}
    ids = [a["id"] for a in coco["annotations"]]
    assert ids == list(range(1, len(pairs) + 1))
    for ann, (image_id, inst) in zip(coco["annotations"], pairs):
        assert ann["image_id"] == image_id
        kps = np.asarray(ann["keypoints"]).reshape(K, 3)
        assert all(isinstance(v, float) for v in ann["keypoints"])
        np.testing.assert_array_equal(kps[:, 2], inst.visibility)
        assert (kps[inst.visibility == 0, :2] == 0).all()
        np.testing.assert_array_equal(kps[inst.visibility > 0, :2], inst.xy[inst.visibility > 0])
        assert ann["num_keypoints"] == int((inst.visibility > 0).sum())
        x, y, w, h = ann["bbox"]
        assert x >= 0 and y >= 0 and x + w <= 320 + 1e-9 and y + h <= 240 + 1e-9
        assert ann["area"] == pytest.approx(w * h)
        assert ann["iscrowd"] == 0
        assert ann["track_id"] == inst.track_id
        assert ann["source"] == inst.kind.value
        if inst.kind is InstanceKind.PREDICTED:
            assert ann["score"] == pytest.approx(inst.score)
            assert ann["keypoint_scores"] == pytest.approx(inst.kp_scores.tolist())
        else:
            assert "score" not in ann


def test_bbox_from_instance_box_or_padded_extent() -> None:
    xy = np.array([[100.0, 100.0], [150.0, 120.0]] + [[0.0, 0.0]] * (K - 2))
    vis = np.array([2, 1] + [0] * (K - 2))
    own = Instance(xy=xy, visibility=vis, bbox=(90.0, 80.0, 500.0, 40.0))
    derived = Instance(xy=xy, visibility=vis)
    edge = Instance(xy=xy + [200.0, 0.0] * (xy > 0), visibility=vis)
    coco = build_coco_dict(COCO17, _images(1, 320, 240), [(1, own), (1, derived), (1, edge)])
    a_own, a_der, a_edge = coco["annotations"]
    assert a_own["bbox"] == pytest.approx([90.0, 80.0, 230.0, 40.0])  # clipped at x=320
    assert a_der["bbox"] == pytest.approx([95.0, 95.0, 60.0, 30.0])  # 10 % of 50 px per side
    assert a_edge["bbox"][0] + a_edge["bbox"][2] == pytest.approx(320.0)


def test_non_finite_labeled_point_is_written_unlabeled() -> None:
    xy = np.full((K, 2), 10.0)
    xy[3] = np.nan
    inst = Instance(xy=xy, visibility=np.full(K, 2))
    ann = build_coco_dict(COCO17, _images(1), [(1, inst)])["annotations"][0]
    assert ann["keypoints"][9:12] == [0.0, 0.0, 0.0]
    assert ann["num_keypoints"] == K - 1
    json.dumps(ann, allow_nan=False)


def test_provenance_written_only_when_not_default() -> None:
    rng = np.random.default_rng(1)
    plain = _inst(rng)
    prov = np.zeros(K, dtype=np.uint8)
    prov[2] = int(Provenance.INTERPOLATED)
    mixed = _inst(rng).replace(provenance=prov)
    a, b = build_coco_dict(COCO17, _images(1), [(1, plain), (1, mixed)])["annotations"]
    assert "keypoint_provenance" not in a
    assert b["keypoint_provenance"][2] == int(Provenance.INTERPOLATED)


def test_video_dir_names_unique_even_with_same_stem() -> None:
    names = video_dir_names([(1, "a/clip.mp4"), (2, "b/clip.mp4"), (3, "c/other video!.avi"),
                             (4, "/data/frames_dir/")])
    assert names[1] != names[2]
    assert names[1].startswith("clip") and names[2].startswith("clip")
    assert names[3] == "other_video"
    assert names[4] == "frames_dir"
    assert len(set(names.values())) == 4


def test_pycocotools_loads_and_self_ap_is_one(tmp_path: Path) -> None:
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, pairs = _dataset(3)
    path = tmp_path / "gt.json"
    write_json_atomic(build_coco_dict(COCO17, images, pairs), path)
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
def test_parse_own_export_restores_instances() -> None:
    images, pairs = _dataset(5)
    coco = json.loads(json.dumps(build_coco_dict(COCO17, images, pairs)))
    parsed = parse_coco(coco, COCO17)
    assert parsed.own_format
    assert len(parsed.instances) == len(pairs)
    for ci, (image_id, inst) in zip(parsed.instances, pairs):
        got = drop_derived_bbox(ci.instance, (320, 240), 0.1)
        assert ci.image_id == image_id
        assert ci.track == inst.track_id
        assert got.kind is inst.kind
        np.testing.assert_array_equal(got.visibility, inst.visibility)
        np.testing.assert_array_equal(got.xy, inst.xy)
        assert got.bbox is None
        assert got.score == inst.score
        if inst.kp_scores is not None:
            np.testing.assert_array_equal(got.kp_scores, inst.kp_scores)


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
    parsed = parse_coco(_cvat_style(), COCO17)
    assert len(parsed.instances) == 2
    assert parsed.skipped_other_category == 1
    assert [ci.track for ci in parsed.instances] == [7, 7]
    inst = parsed.instances[0].instance
    assert inst.kind is InstanceKind.USER
    assert inst.xy[3].tolist() == [13.5, 23.25]
    assert inst.bbox == (5.0, 5.0, 100.0, 50.0)  # a real box, kept
    targets = [VideoTarget(1, 20, 320, 240, ("clip.mp4",))]
    mapping, problems, _ = resolve_frames(parsed, targets)
    assert problems == []
    assert mapping == {1: (1, 4), 2: (1, 9)}


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
    parsed = parse_coco(_xanylabeling_style(has_visible), COCO17)
    (ci,) = parsed.instances
    inst = ci.instance
    assert inst.visibility[4] == 0
    assert inst.visibility[5] == (1 if has_visible else 2)
    assert inst.xy[6].tolist() == [36.0, 52.0]
    mapping, problems, _ = resolve_frames(parsed, [VideoTarget(3, 50, 320, 240, ())])
    assert mapping == {0: (3, 12)} and problems == []


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


def test_parse_mmpose_style_skips_empty_annotations() -> None:
    parsed = parse_coco(_mmpose_style(), COCO17)
    assert len(parsed.instances) == 1
    assert parsed.skipped_no_keypoints == 1
    # File name number 785 lands on frame 785, which a 100-frame video does not have.
    _, problems, n = resolve_frames(parsed, [VideoTarget(1, 100, 640, 425, ())])
    assert n == 1 and "frame 785" in problems[0] and "image 785" in problems[0]
    mapping, problems, _ = resolve_frames(parsed, [VideoTarget(1, 1000, 640, 425, ())])
    assert mapping == {785: (1, 785)}


def test_results_style_scores_become_predictions() -> None:
    coco = _mmpose_style()
    ann = coco["annotations"][0]
    ann["score"] = 0.8
    kps = np.asarray(ann["keypoints"], dtype=float).reshape(K, 3)
    kps[:, 2] = np.linspace(0.1, 0.9, K)  # confidences in the v slot
    ann["keypoints"] = kps.reshape(-1).tolist()
    inst = parse_coco(coco, COCO17).instances[0].instance
    assert inst.kind is InstanceKind.PREDICTED
    assert inst.score == pytest.approx(0.8)
    assert (inst.visibility == 2).all()
    np.testing.assert_allclose(inst.kp_scores, np.linspace(0.1, 0.9, K), rtol=1e-6)


def test_score_field_alone_makes_a_prediction() -> None:
    coco = _mmpose_style()
    coco["annotations"][0]["score"] = 0.5
    inst = parse_coco(coco, COCO17).instances[0].instance
    assert inst.kind is InstanceKind.PREDICTED and inst.score == 0.5
    assert inst.kp_scores is not None


# --- keypoint name mapping ------------------------------------------------------------------------
def test_keypoints_mapped_by_name_when_order_differs() -> None:
    coco = _mmpose_style()
    order = np.random.default_rng(0).permutation(K)
    names = [COCO17.keypoints[i] for i in order]
    coco["categories"][0]["keypoints"] = [n.upper().replace("_", " ") for n in names]
    kps = np.asarray(coco["annotations"][0]["keypoints"]).reshape(K, 3)
    coco["annotations"][0]["keypoints"] = kps[order].reshape(-1).tolist()
    parsed = parse_coco(coco, COCO17)
    assert parsed.mappings[1].how == "by name"
    inst = parsed.instances[0].instance
    np.testing.assert_array_equal(inst.xy, kps[:, :2])
    np.testing.assert_array_equal(inst.visibility, kps[:, 2])


def test_subset_of_keypoints_maps_by_name() -> None:
    from pose_studio.core.skeleton_presets import HALPE26

    coco = _mmpose_style()  # COCO-17 labels into a Halpe-26 project
    inst = parse_coco(coco, HALPE26).instances[0].instance
    assert inst.num_keypoints == 26
    assert (inst.visibility[17:] == 0).all()
    assert inst.xy[16].tolist() == coco["annotations"][0]["keypoints"][48:50]


def test_numeric_names_map_by_position() -> None:
    coco = _mmpose_style()
    coco["categories"][0]["keypoints"] = [str(i + 1) for i in range(K)]
    parsed = parse_coco(coco, COCO17)
    assert parsed.mappings[1].how == "by position"


def test_unknown_layout_refused() -> None:
    animal = Skeleton(name="mouse", keypoints=("snout", "left_ear", "right_ear", "tail_base"))
    with pytest.raises(CocoFormatError) as err:
        parse_coco(_mmpose_style(), animal)
    msg = str(err.value)
    assert "unknown keypoint layout" in msg and "'nose'" in msg and "mouse" in msg


# --- malformed input -----------------------------------------------------------------------------
def _mut(fn: Any) -> dict[str, Any]:
    d = copy.deepcopy(_mmpose_style())
    fn(d)
    return d


MALFORMED: dict[str, tuple[Any, list[str]]] = {
    "top-level list": ([1, 2], ["results list"]),
    "top-level string": ("hello", ["not an object"]),
    "missing images": (_mut(lambda d: d.pop("images")), ["missing", "'images'"]),
    "annotations not a list": (_mut(lambda d: d.update(annotations={})), ["'annotations'", "list"]),
    "keypoints wrong length": (
        _mut(lambda d: d["annotations"][0].update(keypoints=[1.0] * 50)),
        ["annotation 442619", "'keypoints'", "50", "51"],
    ),
    "keypoints not numbers": (
        _mut(lambda d: d["annotations"][0]["keypoints"].__setitem__(4, "x")),
        ["annotation 442619", "'keypoints'"],
    ),
    "keypoints bool": (
        _mut(lambda d: d["annotations"][0]["keypoints"].__setitem__(0, True)),
        ["annotation 442619", "'keypoints'"],
    ),
    "visibility out of range": (
        _mut(lambda d: d["annotations"][0]["keypoints"].__setitem__(2, 3)),
        ["annotation 442619", "visibility"],
    ),
    "unknown category": (
        _mut(lambda d: d["annotations"][0].update(category_id=9)),
        ["annotation 442619", "unknown category 9"],
    ),
    "duplicate image id": (
        _mut(lambda d: d["images"].append(dict(d["images"][0]))),
        ["image 785", "duplicate"],
    ),
    "duplicate category id": (
        _mut(lambda d: d["categories"].append(dict(d["categories"][0]))),
        ["category 1", "duplicate"],
    ),
    "missing image": (
        _mut(lambda d: d["annotations"][0].update(image_id=4)),
        ["annotation 442619", "'image_id' 4", "missing image"],
    ),
    "object id": (
        _mut(lambda d: d["annotations"][0].update(id={"a": 1})),
        ["annotation #0", "'id'"],
    ),
    "image id missing": (_mut(lambda d: d["images"][0].pop("id")), ["image #0", "'id'"]),
    "bad width": (_mut(lambda d: d["images"][0].update(width=-3)), ["image 785", "'width'"]),
    "bad bbox": (
        _mut(lambda d: d["annotations"][0].update(bbox=[1, 2, 3])),
        ["annotation 442619", "'bbox'"],
    ),
    "keypoints missing": (
        _mut(lambda d: d["annotations"][0].pop("keypoints")),
        ["annotation 442619", "'keypoints' is missing"],
    ),
    "bad score": (
        _mut(lambda d: d["annotations"][0].update(score="high")),
        ["annotation 442619", "'score'"],
    ),
    "bad track": (
        _mut(lambda d: d["annotations"][0].update(track_id=[1])),
        ["annotation 442619", "'track_id'"],
    ),
    "category keypoints not names": (
        _mut(lambda d: d["categories"][0].update(keypoints=[1, 2])),
        ["category 1", "'keypoints'"],
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_are_refused_with_named_problem(case: str) -> None:
    data, words = MALFORMED[case]
    with pytest.raises(CocoFormatError) as err:
        parse_coco(data, COCO17, "bad.json")
    msg = str(err.value)
    assert msg.startswith("bad.json: ")
    assert err.value.problems
    for w in words:
        assert w in msg, (w, msg)


def test_problems_are_capped_but_counted() -> None:
    d = _mmpose_style()
    base = d["annotations"][0]
    d["annotations"] = [dict(base, id=i, keypoints=[1.0] * 5) for i in range(25)]
    with pytest.raises(CocoFormatError) as err:
        parse_coco(d, COCO17, "x.json")
    assert len(err.value.problems) == 10
    assert err.value.total == 25
    assert "15 more" in str(err.value)
    assert "annotation 0:" in err.value.problems[0]


def test_load_json_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [}')
    with pytest.raises(CocoFormatError, match=r"not valid JSON.*line 1"):
        load_json(bad)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(CocoFormatError):
        load_json(binary)
    with pytest.raises(CocoFormatError, match="cannot read"):
        load_json(tmp_path / "missing.json")


# --- frame matching ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [("frame_000123.PNG", 123), ("clip/000042.png", 42), ("img-7.jpg", 7), ("a\\b\\0009.jpg", 9),
     ("video2_frame_15.png", 15), ("cover.png", None), ("12", 12)],
)
def test_frame_number_from_name(name: str, expected: int | None) -> None:
    assert frame_number_from_name(name) == expected


def test_resolve_frames_with_several_videos() -> None:
    images, pairs = _dataset(2)
    images2 = [ExportImage(len(images) + 1, 2, 5, "clip-v2/000005.png", 320, 240, "b/clip.mp4")]
    coco = build_coco_dict(COCO17, images + images2,
                           [*pairs, (len(images) + 1, pairs[0][1])])
    parsed = parse_coco(json.loads(json.dumps(coco)), COCO17)
    targets = [VideoTarget(10, 100, 320, 240, ("clip.mp4",)),
               VideoTarget(11, 100, 320, 240, ("b/clip.mp4",))]
    mapping, problems, _ = resolve_frames(parsed, targets)
    assert problems == []
    assert mapping[1] == (10, 0)
    assert mapping[len(images) + 1] == (11, 5)
    # no way to tell: refused, and --video resolves it
    for im in coco["images"]:
        im.pop("video")
    parsed = parse_coco(coco, COCO17)
    _, problems, n = resolve_frames(parsed, [VideoTarget(10, 100, 320, 240, ("x.mp4",)),
                                             VideoTarget(11, 100, 320, 240, ("y.mp4",))])
    assert n > 0 and "--video" in problems[0]
    mapping, problems, _ = resolve_frames(parsed, targets[:1] + targets[1:], video_id=11)
    assert problems == [] and all(v == 11 for v, _ in mapping.values())


def test_resolve_frames_size_mismatch_and_folder_names() -> None:
    parsed = parse_coco(_cvat_style(), COCO17)
    _, problems, n = resolve_frames(parsed, [VideoTarget(1, 100, 640, 480, ())])
    assert n == 2 and "320x240" in problems[0] and "640x480" in problems[0]
    folder = VideoTarget(1, 2, 320, 240, (), {"frame_000004.png": 0, "frame_000009.png": 1})
    mapping, problems, _ = resolve_frames(parsed, [folder])
    assert mapping == {1: (1, 0), 2: (1, 1)}
    folder = VideoTarget(1, 1, 320, 240, (), {"frame_000004.png": 0})
    _, problems, n = resolve_frames(parsed, [folder])
    assert n == 1 and "frame_000009.PNG" in problems[0]
