"""Small synthetic COCO datasets written to disk with their images, for import/export tests.

Each quirk real files have (ids, sub-folders, mixed sizes, segmentation, crowd regions with
keypoints, attributes, coordinates for v=0 points, several track-id conventions, PoseTrack
sequences, COCO-WholeBody arrays, categories per instance) is in :func:`quirky_coco`.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pose_studio.core.skeleton import COCO17

NAMES = list(COCO17.keypoints)
K = len(NAMES)


def write_image(root: Path, rel: str, w: int, h: int, seed: int = 0) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)


def keypoints(rng: np.random.Generator, w: int, h: int, k: int = K,
              unlabeled: int = 3) -> list[float]:
    xy = np.column_stack([rng.uniform(1, w - 1, k), rng.uniform(1, h - 1, k)]).round(2)
    v = rng.choice([1, 2], size=k)
    v[rng.choice(k, size=unlabeled, replace=False)] = 0
    xy[v == 0] = 0
    return [float(x) if j < 2 else int(x) for row in np.column_stack([xy, v]) for j, x in
            enumerate(row)]


def box_of(kps: list[float]) -> list[float]:
    a = np.asarray(kps, dtype=float).reshape(-1, 3)
    lab = a[a[:, 2] > 0, :2]
    if not len(lab):
        return [3.0, 4.0, 10.5, 12.25]
    x0, y0 = lab.min(axis=0)
    x1, y1 = lab.max(axis=0)
    return [round(float(x0) - 2, 2), round(float(y0) - 3, 2), round(float(x1 - x0) + 5, 2),
            round(float(y1 - y0) + 7, 2)]


def quirky_coco(root: Path) -> tuple[Path, dict[str, Any]]:
    """``root/annotations.json`` and ``root/images/...``: a file with every quirk."""
    rng = np.random.default_rng(7)
    imgs = [("images/val/seq_b/000000.jpg", 64, 48, 10128340000, "seq_b"),
            ("images/val/seq_b/000001.jpg", 64, 48, 10128340001, "seq_b"),
            ("images/val/seq_a/000000.jpg", 80, 60, "img-a0", "seq_a"),
            ("images/other.png", 50, 70, 7, None)]
    images = []
    for i, (rel, w, h, iid, seq) in enumerate(imgs):
        write_image(root, rel, w, h, i)
        im: dict[str, Any] = {"id": iid, "file_name": rel, "width": w, "height": h,
                              "license": 2, "coco_url": f"http://x/{i}"}
        if seq is not None:
            im.update(vid_id=seq, frame_id=iid, nframes=2, is_labeled=True)
        images.append(im)
    anns: list[dict[str, Any]] = []

    def add(image: int, cat: int, **kw: Any) -> dict[str, Any]:
        w, h = imgs[image][1], imgs[image][2]
        kps = kw.pop("keypoints", None) or keypoints(rng, w, h)
        a = {"id": kw.pop("id", 1000 + 7 * len(anns)), "image_id": imgs[image][3],
             "category_id": cat, "keypoints": kps, "num_keypoints": sum(
                 1 for v in kps[2::3] if v > 0), "bbox": box_of(kps), "iscrowd": 0}
        a["area"] = round(a["bbox"][2] * a["bbox"][3] * 0.61, 3)  # a mask's area, not the box's
        a["segmentation"] = [[1.5, 2.5, 30.0, 2.5, 30.0, 40.25, 1.5, 40.25]]
        a.update(kw)
        anns.append(a)
        return a

    add(0, 1, track_id=0)
    add(0, 1, track_id=1, attributes={"occluded": True, "keyframe": False})
    add(1, 1, track_id=0)
    cvat = keypoints(rng, 80, 60)
    cvat[3:6] = [12.5, 17.25, 0]  # CVAT writes coordinates for a point it marks v=0
    add(2, 1, keypoints=cvat, attributes={"track_id": 5, "occluded": False})
    add(2, 2, attributes={"object_id": 9})  # sleap-io
    add(3, 2, id="ann-string")
    add(3, 2, keypoints=[0] * (3 * K), num_keypoints=0)  # no keypoints: a region
    crowd = add(3, 1, iscrowd=1)  # a crowd region that carries keypoints
    crowd["segmentation"] = {"counts": [0, 20, 30, 3450], "size": [70, 50]}
    data = {
        "info": {"description": "quirks", "year": 2024},
        "licenses": [{"id": 2, "name": "CC", "url": "http://l"}],
        "images": images,
        "annotations": anns,
        "categories": [
            {"id": 1, "name": "person", "supercategory": "human", "keypoints": NAMES,
             "skeleton": COCO17.coco_skeleton()},
            {"id": 2, "name": "runner", "supercategory": "human", "keypoints": NAMES,
             "skeleton": COCO17.coco_skeleton()},
            {"id": 3, "name": "ball", "supercategory": "thing"},
        ],
    }
    path = root / "annotations.json"
    path.write_text(json.dumps(data))
    return path, data


def keypoint_ap(gt: dict[str, Any], dt: list[dict[str, Any]], sigmas: Any) -> float:
    """pycocotools keypoint AP of ``dt`` (results) against the COCO dict ``gt``, on the images
    that have annotations. Ids are renumbered first (pycocotools sorts them, which fails on a
    file that mixes int and string ids); gt and dt get the same numbers."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    img = {json.dumps(im["id"]): i + 1 for i, im in enumerate(gt["images"])}
    # Files without 'area' (CrowdPose, PoseTrack) are scored with the box's area, as their
    # own evaluators (xtcocotools, use_area=False) do.
    gt = dict(gt, images=[dict(im, id=img[json.dumps(im["id"])]) for im in gt["images"]],
              annotations=[{"area": a["bbox"][2] * a["bbox"][3], **a, "id": i + 1,
                            "image_id": img[json.dumps(a["image_id"])]}
                           for i, a in enumerate(gt["annotations"])])
    dt = [dict(d, image_id=img[json.dumps(d["image_id"])]) for d in dt]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(dt), "keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(sigmas)
        ev.params.imgIds = sorted({a["image_id"] for a in gt["annotations"]})
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def as_results(anns: list[dict[str, Any]], key: str = "keypoints") -> list[dict[str, Any]]:
    """Keypoint annotations (not crowd, with labeled points) as a results list (score 1)."""
    return [{"image_id": a["image_id"], "category_id": a["category_id"], key: a[key],
             "score": 1.0} for a in anns
            if not a.get("iscrowd") and a.get("num_keypoints", 0) > 0]
