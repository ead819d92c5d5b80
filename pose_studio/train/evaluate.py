"""Evaluating an ONNX pose model on held-out synthetic clips through the app's inference path.

Top-down with ground-truth boxes (the silhouette boxes of the renderer), decoded by
:mod:`pose_studio.inference`, scored with COCO OKS AP (:func:`pose_studio.core.oks.coco_keypoint_ap`,
area = visible silhouette area as COCO's segment area).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core.oks import coco_keypoint_ap
from pose_studio.core.skeleton import COCO17

#: Held-out evaluation seeds: disjoint from the training scenes (which come from
#: ``render_scene`` with other generators) and from the demo's default seed.
EVAL_SEEDS = tuple(range(50_000, 50_024))


def gt_annotations(gt: Any, min_area: float = 200.0) -> list[dict[str, Any]]:
    """COCO-style GT dicts for one frame; people hidden almost entirely are left out."""
    out = []
    for p in range(len(gt.keypoints)):
        if gt.areas[p] < min_area or not (gt.visibility[p] > 0).any():
            continue
        kp = np.concatenate([gt.keypoints[p], gt.visibility[p][:, None].astype(float)], 1)
        out.append({"keypoints": kp.reshape(-1).tolist(), "area": float(gt.areas[p]),
                    "bbox": [float(v) for v in gt.boxes[p]], "iscrowd": 0,
                    "num_keypoints": int((gt.visibility[p] > 0).sum())})
    return out


def detection(xy: np.ndarray, scores: np.ndarray, box_xyxy: np.ndarray) -> dict[str, Any]:
    xy = np.nan_to_num(np.asarray(xy, np.float64))
    kp = np.concatenate([xy, np.ones((len(xy), 1))], 1)
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    sc = np.nan_to_num(np.asarray(scores, np.float64))
    return {"keypoints": kp.reshape(-1).tolist(), "score": float(np.clip(sc, 0, None).mean()),
            "bbox": [x0, y0, x1 - x0, y1 - y0]}


def evaluate_onnx(
    model_path: str | Path,
    *,
    seeds: Sequence[int] = EVAL_SEEDS,
    n_frames: int = 8,
    size: tuple[int, int] = (320, 240),
    n_people: Sequence[int] = (1, 2, 3),
    style: str = "default",
    threads: int | None = None,
) -> dict[str, Any]:
    """OKS AP of a model on clips rendered from ``seeds`` (people counts cycle through
    ``n_people``), plus the mean per-crop inference time."""
    from pose_studio.inference import load_model
    from pose_studio.synth import render_clip

    model = load_model(model_path, provider="cpu", threads=threads)
    gts: dict[int, list[dict[str, Any]]] = {}
    dts: dict[int, list[dict[str, Any]]] = {}
    key = 0
    infer_s, crops = 0.0, 0
    for i, seed in enumerate(seeds):
        frames, gt = render_clip(int(seed), n_frames, size, n_people[i % len(n_people)],
                                 style=style)
        for frame, g in zip(frames, gt):
            anns = gt_annotations(g)
            gts[key] = anns
            if anns:
                boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                                   a["bbox"][1] + a["bbox"][3]] for a in anns])
                t0 = time.perf_counter()
                preds = model.predict_crops(frame, boxes, keep_maps=False)  # type: ignore[union-attr]
                infer_s += time.perf_counter() - t0
                crops += len(boxes)
                dts[key] = [detection(p.xy, p.scores, b) for p, b in zip(preds, boxes)]
            key += 1
    stats = coco_keypoint_ap(gts, dts, COCO17.sigmas)  # type: ignore[arg-type]
    n_inst = sum(len(v) for v in gts.values())
    return {
        "AP": stats["AP"], "AP50": stats["AP50"], "AP75": stats["AP75"], "AR": stats["AR"],
        "instances": n_inst, "frames": key, "clips": len(seeds), "style": style,
        "size": list(size), "ms_per_crop": 1000 * infer_s / max(crops, 1),
    }


def benchmark_speed(model_path: str | Path, *, threads: int | None = None, n: int = 100,
                    repeats: int = 3) -> dict[str, float]:
    """Single-person frames per second through ``predict_crops`` (crop + ONNX + decode)."""
    from pose_studio.inference import load_model
    from pose_studio.synth import render_clip

    model = load_model(model_path, provider="cpu", threads=threads)
    frames, gt = render_clip(123, 10, (640, 480), 1)
    box = gt[0].boxes[0]
    boxes = np.array([[box[0], box[1], box[0] + box[2], box[1] + box[3]]])
    for f in frames[:3]:
        model.predict_crops(f, boxes, keep_maps=False)  # type: ignore[union-attr]
    best = float("inf")
    for _ in range(repeats):  # the machine is shared: keep the fastest of a few runs
        t0 = time.perf_counter()
        for i in range(n):
            model.predict_crops(frames[i % len(frames)], boxes, keep_maps=False)  # type: ignore[union-attr]
        best = min(best, (time.perf_counter() - t0) / n)
    return {"fps": 1.0 / best, "ms_per_frame": best * 1000, "threads": float(threads or 0)}
