"""pose_studio.core.oks against pycocotools on random ground truth / detections."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.oks import (
    STAT_NAMES,
    coco_keypoint_ap,
    instance_coco_bbox,
    keypoint_extent_bbox,
    oks,
)
from pose_studio.core.skeleton import COCO17

SIGMAS = np.asarray(COCO17.sigmas)
K = len(SIGMAS)


def _random_case(rng: np.random.Generator, n_images: int) -> tuple[dict[int, list], dict[int, list]]:
    gts: dict[int, list[dict[str, Any]]] = {}
    dts: dict[int, list[dict[str, Any]]] = {}
    for img in range(1, n_images + 1):
        gts[img], dts[img] = [], []
        for _ in range(int(rng.integers(0, 4))):
            scale = float(rng.choice([20.0, 60.0, 150.0]))  # small / medium / large objects
            c = rng.uniform(100, 500, size=2)
            xy = c + rng.normal(0, scale / 2, size=(K, 2))
            v = rng.choice([0, 1, 2], size=K, p=[0.2, 0.2, 0.6]) if rng.random() > 0.1 else np.zeros(K)
            xy[v == 0] = 0
            x0, y0 = c - scale
            bbox = [float(x0), float(y0), 2 * scale, 2 * scale]
            kps = np.column_stack([xy, v]).reshape(-1)
            gts[img].append({"keypoints": kps.tolist(), "bbox": bbox,
                             "area": float(bbox[2] * bbox[3] * rng.uniform(0.5, 1.0)),
                             "num_keypoints": int((v > 0).sum()),
                             "iscrowd": int(rng.random() < 0.08)})
            # one or more noisy detections per GT
            for _ in range(int(rng.integers(0, 3))):
                noise = rng.normal(0, scale * rng.choice([0.02, 0.1, 0.3]), size=(K, 2))
                dxy = c + rng.normal(0, scale / 2, size=(K, 2)) if v.sum() == 0 else xy + noise
                dts[img].append(_det(dxy, rng))
        for _ in range(int(rng.integers(0, 3))):  # pure false positives
            dts[img].append(_det(rng.uniform(0, 600, size=(K, 2)), rng))
        if rng.random() < 0.3:  # many detections: maxDets=20 truncation
            for _ in range(22):
                dts[img].append(_det(rng.uniform(0, 600, size=(K, 2)), rng))
    return gts, dts


def _det(xy: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    kps = np.column_stack([xy, rng.uniform(0, 1, size=K)]).reshape(-1)
    # quantized scores create ties, exercising the stable sort
    return {"keypoints": kps.tolist(), "score": float(np.round(rng.uniform(0, 1), 2))}


def _pycocotools_stats(gts: dict[int, list], dts: dict[int, list]) -> dict[str, float]:
    images, anns, results = [], [], []
    ann_id = 1
    for img, items in gts.items():
        images.append({"id": img, "width": 640, "height": 640, "file_name": f"{img}.png"})
        for a in items:
            anns.append({**a, "id": ann_id, "image_id": img, "category_id": 1})
            ann_id += 1
    for img, items in dts.items():
        results += [{**d, "image_id": img, "category_id": 1} for d in items]
    coco = COCO()
    coco.dataset = {"images": images, "annotations": anns,
                    "categories": [COCO17.coco_category()]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
        if not results:
            return {}
        res = coco.loadRes(results)
        ev = COCOeval(coco, res, "keypoints")
        ev.params.kpt_oks_sigmas = SIGMAS
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return dict(zip(STAT_NAMES, (float(s) for s in ev.stats)))


@pytest.mark.parametrize("seed", range(40))
def test_ap_matches_pycocotools_on_random_cases(seed: int) -> None:
    rng = np.random.default_rng(seed)
    gts, dts = _random_case(rng, n_images=int(rng.integers(1, 8)))
    expected = _pycocotools_stats(gts, dts)
    assert expected, "every seed's case has detections (a case without them compares nothing)"
    ours = coco_keypoint_ap(gts, dts, SIGMAS)
    for name in STAT_NAMES:
        assert ours[name] == pytest.approx(expected[name], abs=1e-6), (name, ours, expected)


def test_random_cases_cover_interesting_values() -> None:
    # The comparison above is meaningful only if the stats are not all trivially 0/1/-1.
    values = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        gts, dts = _random_case(rng, n_images=int(rng.integers(1, 8)))
        values.append(coco_keypoint_ap(gts, dts, SIGMAS)["AP"])
    assert any(0.05 < v < 0.95 for v in values)


def test_identical_detections_give_ap_one() -> None:
    rng = np.random.default_rng(3)
    gts, _ = _random_case(rng, n_images=5)
    dts = {img: [{"keypoints": g["keypoints"], "score": 1.0} for g in items
                 if g["num_keypoints"] > 0 and not g["iscrowd"]]
           for img, items in gts.items()}
    stats = coco_keypoint_ap(gts, dts, SIGMAS)
    assert stats["AP"] == pytest.approx(1.0)
    assert stats["AR"] == pytest.approx(1.0)


def test_oks_single_pair_formula() -> None:
    gt = np.zeros((K, 2))
    vis = np.full(K, 2)
    dt = gt + np.array([3.0, 4.0])  # distance 5 everywhere
    area = 100.0 * 100.0
    expected = np.mean(np.exp(-(25.0 / (2 * SIGMAS) ** 2 / (area + np.spacing(1)) / 2)))
    assert oks(gt, vis, dt, area, SIGMAS) == pytest.approx(expected, rel=1e-12)
    assert oks(gt, vis, gt, area, SIGMAS) == 1.0


def test_oks_ignores_unlabeled_keypoints_and_batches() -> None:
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 100, size=(2, K, 2))
    vis = np.full((2, K), 2)
    vis[0, :5] = 0
    dt = gt[[1, 0]].copy()
    dt[1, :5] += 1000.0  # far off, but only on keypoints GT 0 does not label
    m = oks(gt, vis, dt, [900.0, 900.0], SIGMAS)
    assert m.shape == (2, 2)
    assert m[1, 0] == pytest.approx(1.0)
    assert m[0, 1] == pytest.approx(1.0)
    assert m[0, 0] < 0.5


def test_oks_empty_gt_uses_doubled_box() -> None:
    gt = np.zeros((K, 2))
    vis = np.zeros(K)
    inside = np.full((K, 2), 50.0)
    box = [40.0, 40.0, 20.0, 20.0]  # doubled box is [20, 80]
    assert oks(gt, vis, inside, 400.0, SIGMAS, gt_bbox=box) == 1.0
    assert oks(gt, vis, inside + 100.0, 400.0, SIGMAS, gt_bbox=box) < 1.0
    with pytest.raises(ValueError):
        oks(gt, vis, inside, 400.0, SIGMAS)


def test_instances_are_accepted() -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(50, 300, size=(K, 2))
    gt = Instance.from_points(np.column_stack([xy, np.full(K, 2)]))
    good = Instance(xy=xy + 0.5, visibility=np.full(K, 2), kind=InstanceKind.PREDICTED, score=0.9)
    bad = Instance(xy=xy + 80, visibility=np.full(K, 2), kind=InstanceKind.PREDICTED, score=0.95)
    stats = coco_keypoint_ap({"a": [gt]}, {"a": [good, bad]}, SIGMAS)
    # the wrong detection ranks first, so precision at full recall is 1/2
    assert stats["AR"] == pytest.approx(1.0)
    assert 0.4 < stats["AP"] < 0.8
    only_good = coco_keypoint_ap({"a": [gt]}, {"a": [good]}, SIGMAS)
    assert only_good["AP"] == pytest.approx(1.0)


def test_no_ground_truth_gives_minus_one() -> None:
    det = {"keypoints": [1.0, 1.0, 1.0] * K, "score": 0.5}
    stats = coco_keypoint_ap({1: []}, {1: [det]}, SIGMAS)
    assert all(v == -1 for v in stats.values())


def test_keypoint_extent_bbox_padding_and_clipping() -> None:
    xy = np.array([[10.0, 20.0], [110.0, 70.0], [500.0, 500.0]])
    vis = np.array([2, 1, 0])
    assert keypoint_extent_bbox(xy, vis) == pytest.approx((0.0, 10.0, 120.0, 70.0))
    assert keypoint_extent_bbox(xy, vis, image_size=(115, 75)) == pytest.approx(
        (0.0, 10.0, 115.0, 65.0)
    )
    single = keypoint_extent_bbox(xy[:1], vis[:1])
    assert single == pytest.approx((8.0, 18.0, 4.0, 4.0))
    assert keypoint_extent_bbox(xy, np.zeros(3)) is None
    inst = Instance(xy=xy, visibility=vis, bbox=(-5.0, 0.0, 50.0, 50.0))
    assert instance_coco_bbox(inst, image_size=(40, 40)) == (0.0, 0.0, 40.0, 40.0)
