"""Heatmap decoding (argmax + DARK) and COCO-style OKS AP for validation during training.

The app's decoder lives in :mod:`pose_studio.inference`; this copy keeps training
self-contained (it validates crops in model-input space, every epoch).
"""

from __future__ import annotations

import cv2
import numpy as np

OKS_THRESHOLDS = np.linspace(0.5, 0.95, 10)


def decode_heatmaps(hm: np.ndarray, kernel: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """``(N, K, h, w)`` heatmaps -> ``(N, K, 2)`` heatmap coordinates (DARK-refined), ``(N, K)``
    scores (the raw maxima)."""
    n, k, h, w = hm.shape
    flat = hm.reshape(n, k, -1)
    idx = flat.argmax(-1)
    score = flat.max(-1)
    xy = np.stack([idx % w, idx // w], -1).astype(np.float64)
    pad = (kernel - 1) // 2
    for i in range(n):
        for j in range(k):
            x, y = int(xy[i, j, 0]), int(xy[i, j, 1])
            if not (1 < x < w - 2 and 1 < y < h - 2):
                continue
            m = hm[i, j].astype(np.float32)
            peak = m.max()
            b = cv2.GaussianBlur(np.pad(m, pad), (kernel, kernel), 0)[pad:-pad, pad:-pad]
            bm = b.max()
            if bm > 0:
                b = b * (peak / bm)
            lg = np.log(np.maximum(b, 1e-10))
            dx = 0.5 * (lg[y, x + 1] - lg[y, x - 1])
            dy = 0.5 * (lg[y + 1, x] - lg[y - 1, x])
            dxx = 0.25 * (lg[y, x + 2] - 2 * lg[y, x] + lg[y, x - 2])
            dyy = 0.25 * (lg[y + 2, x] - 2 * lg[y, x] + lg[y - 2, x])
            dxy = 0.25 * (lg[y + 1, x + 1] - lg[y - 1, x + 1] - lg[y + 1, x - 1] + lg[y - 1, x - 1])
            det = dxx * dyy - dxy**2
            if det != 0:
                hess_inv = np.array([[dyy, -dxy], [-dxy, dxx]]) / det
                off = hess_inv @ np.array([dx, dy])
                if np.all(np.abs(off) < 1.5):
                    xy[i, j] -= off
    return xy, score


def oks(dt: np.ndarray, gt: np.ndarray, vis: np.ndarray, area: float, sigmas: np.ndarray
        ) -> float:
    """COCO object keypoint similarity of one detection (K, 2) against one ground truth."""
    lab = vis > 0
    if not lab.any():
        return 0.0
    var = (2 * sigmas) ** 2
    d2 = ((dt - gt) ** 2).sum(-1)
    e = d2 / var / (max(area, 1e-6) + np.spacing(1)) / 2
    return float(np.exp(-e[lab]).sum() / lab.sum())


def ap_one_per_gt(oks_values: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """COCO AP (101-point, thresholds .50:.95) when every ground truth has exactly one
    candidate detection (top-down with ground-truth boxes)."""
    n = len(oks_values)
    if n == 0:
        return {"AP": 0.0, "AP50": 0.0, "AP75": 0.0}
    order = np.argsort(-scores, kind="mergesort")
    o = oks_values[order]
    rec_pts = np.linspace(0, 1, 101)
    aps = []
    for t in OKS_THRESHOLDS:
        tp = np.cumsum(o >= t)
        fp = np.cumsum(o < t)
        rc = tp / n
        pr = tp / np.maximum(tp + fp, 1)
        pr = np.maximum.accumulate(pr[::-1])[::-1]
        ids = np.searchsorted(rc, rec_pts, side="left")
        q = np.where(ids < len(pr), pr[np.minimum(ids, len(pr) - 1)], 0.0)
        aps.append(q.mean())
    return {"AP": float(np.mean(aps)), "AP50": float(aps[0]), "AP75": float(aps[5])}
