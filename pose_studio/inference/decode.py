"""Output decoders: heatmaps (argmax, DARK, quarter offset), SimCC, YOLO-pose, detectors.

Formulas follow mmpose 1.x (``get_heatmap_maximum``, ``refine_keypoints``,
``refine_keypoints_dark``, ``get_simcc_maximum``), ultralytics (``Pose`` head layout) and
the mmdeploy/YOLOX detector outputs; see shared/reference/onnx-pose-models.md.
"""

from __future__ import annotations

import cv2
import numpy as np

from pose_studio.core import geometry as geo


def heatmap_argmax(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer maxima of ``(N, K, h, w)`` maps: ``locs (N, K, 2)`` (x, y) and ``vals (N, K)``.

    Keypoints whose maximum is <= 0 get location -1 (mmpose convention).
    """
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, h * w)
    idx = flat.argmax(axis=2)
    vals = np.take_along_axis(flat, idx[..., None], axis=2)[..., 0].astype(np.float32)
    locs = np.stack([idx % w, idx // w], axis=-1).astype(np.float64)
    locs[vals <= 0] = -1.0
    return locs, vals


def refine_quarter(locs: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """MSRA quarter offset towards the higher neighbour (mmpose ``refine_keypoints``)."""
    out = locs.copy()
    n, k, h, w = heatmaps.shape
    for i in range(n):
        for j in range(k):
            x, y = int(locs[i, j, 0]), int(locs[i, j, 1])
            if x < 0 or y < 0:
                continue
            hm = heatmaps[i, j]
            if 1 <= x < w - 1:
                out[i, j, 0] += 0.25 * np.sign(hm[y, x + 1] - hm[y, x - 1])
            if 1 <= y < h - 1:
                out[i, j, 1] += 0.25 * np.sign(hm[y + 1, x] - hm[y - 1, x])
    return out


#: OpenCV filters accept at most this many channels (CV_CN_MAX); 129 fails in OpenCV 5.
_CV_MAX_CHANNELS = 128


def gaussian_blur_maps(heatmaps: np.ndarray, kernel: int = 11) -> np.ndarray:
    """mmpose ``gaussian_blur``: zero-padded blur per map, rescaled to keep each maximum."""
    if kernel % 2 != 1:
        raise ValueError(f"blur kernel must be odd, got {kernel}")
    border = (kernel - 1) // 2
    n, k, h, w = heatmaps.shape
    maps = np.ascontiguousarray(heatmaps.reshape(n * k, h, w).transpose(1, 2, 0), np.float32)
    out = np.empty_like(maps)
    for c0 in range(0, n * k, _CV_MAX_CHANNELS):
        part = maps[:, :, c0:c0 + _CV_MAX_CHANNELS]
        padded = np.pad(part, ((border, border), (border, border), (0, 0)))
        blurred = cv2.GaussianBlur(padded, (kernel, kernel), 0)
        out[:, :, c0:c0 + _CV_MAX_CHANNELS] = blurred.reshape(padded.shape)[
            border:-border, border:-border
        ]
    origin_max = maps.max(axis=(0, 1))
    bmax = out.max(axis=(0, 1))
    factor = np.where(bmax > 0, origin_max / np.where(bmax > 0, bmax, 1.0), 1.0)
    out *= factor.astype(np.float32)
    return out.transpose(2, 0, 1).reshape(n, k, h, w)


def refine_dark(locs: np.ndarray, heatmaps: np.ndarray, kernel: int = 11) -> np.ndarray:
    """DARK sub-pixel refinement (Taylor step on the log of the blurred heatmap)."""
    n, k, h, w = heatmaps.shape
    out = locs.reshape(n * k, 2).copy()
    logs = np.log(np.maximum(gaussian_blur_maps(heatmaps, kernel), 1e-10)).astype(np.float64)
    logs = logs.reshape(n * k, h, w)
    x = out[:, 0].astype(np.int64)
    y = out[:, 1].astype(np.int64)
    ok = (x > 1) & (x < w - 2) & (y > 1) & (y < h - 2)
    i = np.flatnonzero(ok)
    if i.size:
        xi, yi = x[i], y[i]

        def at(dy: int, dx: int) -> np.ndarray:
            return logs[i, yi + dy, xi + dx]

        c = at(0, 0)
        dx = 0.5 * (at(0, 1) - at(0, -1))
        dy = 0.5 * (at(1, 0) - at(-1, 0))
        dxx = 0.25 * (at(0, 2) - 2 * c + at(0, -2))
        dyy = 0.25 * (at(2, 0) - 2 * c + at(-2, 0))
        dxy = 0.25 * (at(1, 1) - at(-1, 1) - at(1, -1) + at(-1, -1))
        det = dxx * dyy - dxy * dxy
        nz = det != 0
        safe = np.where(nz, det, 1.0)
        ox = (dyy * dx - dxy * dy) / safe
        oy = (-dxy * dx + dxx * dy) / safe
        out[i[nz], 0] -= ox[nz]
        out[i[nz], 1] -= oy[nz]
    return out.reshape(n, k, 2)


def refine_dark_udp(locs: np.ndarray, heatmaps: np.ndarray, kernel: int = 11) -> np.ndarray:
    """UDP's DARK variant (mmpose ``refine_keypoints_dark_udp``): values clipped to
    [1e-3, 50] before the log, edge-padded +-1 stencil, Hessian regularised by eps."""
    n, k, h, w = heatmaps.shape
    logs = np.log(np.clip(gaussian_blur_maps(heatmaps, kernel), 1e-3, 50.0)).astype(np.float64)
    pad = np.pad(logs.reshape(n * k, h, w), ((0, 0), (1, 1), (1, 1)), mode="edge")
    out = locs.reshape(n * k, 2).copy()
    ok = (out[:, 0] >= 0) & (out[:, 1] >= 0)
    i = np.flatnonzero(ok)
    if i.size:
        xi = out[i, 0].astype(np.int64) + 1
        yi = out[i, 1].astype(np.int64) + 1

        def at(dy: int, dx: int) -> np.ndarray:
            return pad[i, yi + dy, xi + dx]

        c = at(0, 0)
        dx = 0.5 * (at(0, 1) - at(0, -1))
        dy = 0.5 * (at(1, 0) - at(-1, 0))
        dxx = at(0, 1) - 2 * c + at(0, -1)
        dyy = at(1, 0) - 2 * c + at(-1, 0)
        dxy = 0.5 * (at(1, 1) - at(0, 1) - at(1, 0) + 2 * c - at(0, -1) - at(-1, 0)
                     + at(-1, -1))
        eps = float(np.finfo(np.float32).eps)
        a11, a22, a12 = dxx + eps, dyy + eps, dxy
        det = a11 * a22 - a12 * a12
        safe = np.where(det != 0, det, 1.0)
        ox = np.where(det != 0, (a22 * dx - a12 * dy) / safe, 0.0)
        oy = np.where(det != 0, (-a12 * dx + a11 * dy) / safe, 0.0)
        out[i, 0] -= ox
        out[i, 1] -= oy
    return out.reshape(n, k, 2)


def decode_heatmaps(
    heatmaps: np.ndarray, refine: str = "dark", kernel: int = 11
) -> tuple[np.ndarray, np.ndarray]:
    """``(N, K, h, w)`` -> keypoints in heatmap pixels ``(N, K, 2)`` and scores ``(N, K)``."""
    hm = np.asarray(heatmaps, dtype=np.float32)
    locs, vals = heatmap_argmax(hm)
    valid = vals > 0
    if refine == "dark":
        locs = refine_dark(locs, hm, kernel)
    elif refine == "dark_udp":
        locs = refine_dark_udp(locs, hm, kernel)
    elif refine == "quarter":
        locs = refine_quarter(locs, hm)
    locs[~valid] = -1.0
    return locs, vals


def decode_simcc(
    simcc_x: np.ndarray, simcc_y: np.ndarray, split_ratio: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """SimCC vectors -> keypoints in model-input pixels ``(N, K, 2)`` and scores ``(N, K)``.

    Score is ``min(max_x, max_y)`` (mmpose ``get_simcc_maximum``).
    """
    x = np.asarray(simcc_x, dtype=np.float32)
    y = np.asarray(simcc_y, dtype=np.float32)
    xl, yl = x.argmax(axis=-1), y.argmax(axis=-1)
    vals = np.minimum(x.max(axis=-1), y.max(axis=-1)).astype(np.float32)
    locs = np.stack([xl, yl], axis=-1).astype(np.float64) / split_ratio
    locs[vals <= 0] = -1.0
    return locs, vals


def flip_heatmaps_back(hm_flipped: np.ndarray, flip_perm: np.ndarray,
                       shift: bool = True) -> np.ndarray:
    """mmpose ``flip_heatmaps``: un-mirror maps of a flipped crop and swap left/right."""
    out = hm_flipped[:, flip_perm, :, ::-1].copy()
    if shift:
        out[..., 1:] = out[..., :-1].copy()
    return out


def flip_simcc_back(x_f: np.ndarray, y_f: np.ndarray,
                    flip_perm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mmpose ``flip_vectors``."""
    return x_f[:, flip_perm, ::-1].copy(), y_f[:, flip_perm].copy()


def decode_yolo_pose(
    out: np.ndarray,
    k: int,
    nc: int = 1,
    conf: float = 0.25,
    iou: float = 0.7,
    max_det: int = 300,
    end2end: bool = False,
    kpt_dim: int = 3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's ultralytics pose output -> ``boxes xyxy (n,4)``, ``scores (n,)``,
    ``kpts (n,K,3)`` in model-input pixels, person class (0) only, after NMS.

    ``out`` is ``(4+nc+kpt_dim*K, A)`` (default export), or ``(max_det, 6+kpt_dim*K)`` rows of
    ``x1,y1,x2,y2,score,class,kpts`` when ``end2end`` (``nms=True`` / YOLO26). Keypoints
    without a visibility value (``kpt_shape=[K, 2]``) get the detection score.
    """
    if end2end:
        rows = np.asarray(out, dtype=np.float32)
        keep = (rows[:, 4] > conf) & (rows[:, 5].round() == 0)
        rows = rows[keep][:max_det]
        boxes = rows[:, :4].astype(np.float64)
        score = rows[:, 4].copy()
        raw = rows[:, 6:6 + kpt_dim * k]
    else:
        p = np.asarray(out, dtype=np.float32).T  # (A, C)
        cls = p[:, 4:4 + nc]
        best = cls.argmax(axis=1)
        score = cls.max(axis=1)
        keep = (score > conf) & (best == 0)
        p, score = p[keep], score[keep]
        cxcy, wh = p[:, 0:2].astype(np.float64), p[:, 2:4].astype(np.float64)
        boxes = np.concatenate([cxcy - wh / 2, cxcy + wh / 2], axis=1)
        idx = geo.nms(boxes, score, iou)[:max_det]
        boxes, score = boxes[idx], score[idx]
        raw = p[idx, 4 + nc:4 + nc + kpt_dim * k]
    kpts = raw.reshape(-1, k, kpt_dim).astype(np.float64)
    if kpt_dim == 2:
        kpts = np.concatenate([kpts, np.broadcast_to(score.astype(np.float64)[:, None, None],
                                                     (len(kpts), k, 1))], axis=2)
    return boxes, score, kpts


def decode_yolo_detect(
    out: np.ndarray,
    nc: int,
    conf: float = 0.3,
    iou: float = 0.7,
    end2end: bool = False,
    person_class: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """One image's ultralytics detector output -> person ``boxes xyxy (n,4)`` and ``scores``
    (input pixels), best first, after NMS.

    ``out`` is ``(4+nc, A)`` (cx, cy, w, h, class scores) or, when ``end2end``, ``(max_det, 6)``
    rows of x1, y1, x2, y2, score, class.
    """
    if end2end:
        rows = np.asarray(out, dtype=np.float32)
        keep = (rows[:, 4] > conf) & (rows[:, 5].round() == person_class)
        rows = rows[keep]
        order = np.argsort(-rows[:, 4], kind="stable")
        return rows[order, :4].astype(np.float64), rows[order, 4].copy()
    p = np.asarray(out, dtype=np.float32).T  # (A, 4+nc)
    cls = p[:, 4:4 + nc]
    keep = (cls.argmax(axis=1) == person_class) & (cls[:, person_class] > conf)
    p = p[keep]
    score = p[:, 4 + person_class].copy()
    cxcy, wh = p[:, 0:2].astype(np.float64), p[:, 2:4].astype(np.float64)
    boxes = np.concatenate([cxcy - wh / 2, cxcy + wh / 2], axis=1)
    idx = geo.nms(boxes, score, iou)
    return boxes[idx], score[idx]


def decode_yolox_raw(
    out: np.ndarray,
    input_hw: tuple[int, int],
    conf: float = 0.5,
    iou: float = 0.45,
    strides: tuple[int, ...] = (8, 16, 32),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's raw YOLOX output ``(A, 5+nc)`` -> ``boxes xyxy``, ``scores``, ``classes``
    (input pixels), after class-wise NMS."""
    h, w = input_hw
    p = np.asarray(out, dtype=np.float32)
    grids, st = [], []
    for s in strides:
        gy, gx = np.mgrid[0:h // s, 0:w // s]
        grids.append(np.stack([gx.ravel(), gy.ravel()], axis=1))
        st.append(np.full((grids[-1].shape[0], 1), s, dtype=np.float32))
    grid = np.concatenate(grids).astype(np.float32)
    stride = np.concatenate(st)
    if len(grid) != len(p):
        raise ValueError(f"YOLOX output has {len(p)} anchors, expected {len(grid)}")
    cls_scores = p[:, 5:] * p[:, 4:5]
    cls = cls_scores.argmax(axis=1)
    score = cls_scores.max(axis=1)
    keep = score > conf
    if not keep.any():
        return np.zeros((0, 4)), np.zeros(0, np.float32), np.zeros(0, np.int64)
    xy = (p[keep, 0:2] + grid[keep]) * stride[keep]
    wh = np.exp(np.minimum(p[keep, 2:4], 20.0)) * stride[keep]
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1).astype(np.float64)
    score, cls = score[keep], cls[keep]
    kept: list[int] = []
    for c in np.unique(cls):
        ids = np.flatnonzero(cls == c)
        kept.extend(ids[geo.nms(boxes[ids], score[ids], iou)].tolist())
    order = np.asarray(sorted(kept, key=lambda i: -score[i]), dtype=np.int64)
    return boxes[order], score[order], cls[order].astype(np.int64)
