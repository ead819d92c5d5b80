"""COCO object keypoint similarity (OKS) and keypoint AP/AR, in pure numpy.

:func:`coco_keypoint_ap` reproduces pycocotools' ``COCOeval(..., "keypoints")`` for one category:
``maxDets = 20``, OKS thresholds ``.50:.05:.95``, 101 recall points, area ranges
all / medium (32²–96²) / large (> 96²), ground truth ignored when ``iscrowd`` or
``num_keypoints == 0``, detections ranked by ``score`` (stable sort, like pycocotools), greedy
matching in score order. The tests compare it with pycocotools to 1e-6.

Instances may be COCO annotation dicts or core :class:`~pose_studio.core.annotation.Instance`
values:

* dict GT: ``keypoints`` (flat ``x, y, v``), ``area`` (else ``bbox`` w·h), ``bbox`` (needed
  when no keypoint is labeled), ``num_keypoints`` (else counted from ``v``), ``iscrowd`` (default 0).
* dict detection (a results-file entry): ``keypoints``, ``score``; its area (used only to drop
  unmatched detections outside an area range) is ``bbox`` w·h when a ``bbox`` is present,
  else the extent of all its keypoints, as ``COCO.loadRes`` does.
* ``Instance`` GT: area = w·h of :func:`instance_coco_bbox` (the box an export writes, without
  clipping), ``num_keypoints`` = labeled keypoints.
* ``Instance`` detection: score = ``score``, else the mean keypoint score, else 1; area = w·h of
  :meth:`Instance.box`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pose_studio.core.annotation import Instance

#: OKS thresholds, built the way pycocotools builds them (so 0.5 and 0.75 compare equal).
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETS = 20
AREA_RANGES: dict[str, tuple[float, float]] = {
    "all": (0.0, 1e5**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e5**2),
}
#: Keys of the dict returned by :func:`coco_keypoint_ap`, in pycocotools' ``stats`` order.
STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")

#: Default relative padding of a box derived from keypoints (see :func:`instance_coco_bbox`).
DEFAULT_BBOX_PADDING = 0.1
#: Minimum padding in pixels, so one keypoint or a line of keypoints still has an area.
MIN_BBOX_PADDING_PX = 2.0


def keypoint_extent_bbox(
    xy: np.ndarray,
    visibility: np.ndarray,
    *,
    padding: float = DEFAULT_BBOX_PADDING,
    image_size: tuple[int, int] | None = None,
) -> tuple[float, float, float, float] | None:
    """Padded ``(x, y, w, h)`` box around the labeled keypoints, or None if none is labeled.

    Each side moves out by ``padding`` times the longer side of the tight box, at least
    :data:`MIN_BBOX_PADDING_PX` pixels (a single keypoint gets a 4x4 box). With ``image_size``
    ``(width, height)`` the box is clipped to ``[0, width] x [0, height]``.
    """
    pts = np.asarray(xy, dtype=np.float64)[np.asarray(visibility) > 0]
    if len(pts) == 0:
        return None
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    pad = max(float(padding) * max(x1 - x0, y1 - y0), MIN_BBOX_PADDING_PX) if padding > 0 else 0.0
    return _clip_box((x0 - pad, y0 - pad, x1 + pad, y1 + pad), image_size)


def _clip_box(
    corners: tuple[float, float, float, float], image_size: tuple[int, int] | None
) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in corners)
    if image_size is not None:
        w, h = float(image_size[0]), float(image_size[1])
        x0, x1 = min(max(x0, 0.0), w), min(max(x1, 0.0), w)
        y0, y1 = min(max(y0, 0.0), h), min(max(y1, 0.0), h)
    return (x0, y0, x1 - x0, y1 - y0)


def instance_coco_bbox(
    inst: Instance,
    *,
    padding: float = DEFAULT_BBOX_PADDING,
    image_size: tuple[int, int] | None = None,
) -> tuple[float, float, float, float]:
    """The COCO ``bbox`` for an instance: its own box if it has one, else the padded keypoint
    extent (:func:`keypoint_extent_bbox`); clipped to the image when ``image_size`` is given.
    An instance with neither gets an empty box at the origin."""
    if inst.bbox is not None:
        x, y, w, h = inst.bbox
        return _clip_box((x, y, x + w, y + h), image_size)
    box = keypoint_extent_bbox(inst.xy, inst.visibility, padding=padding, image_size=image_size)
    return box if box is not None else (0.0, 0.0, 0.0, 0.0)


def oks(
    gt_xy: Any,
    gt_vis: Any,
    dt_xy: Any,
    area: Any,
    sigmas: Sequence[float] | np.ndarray,
    *,
    gt_bbox: Any = None,
) -> Any:
    """Object keypoint similarity, exactly as pycocotools ``computeOks``.

    ``e_i = (dx² + dy²) / (2σ_i)² / (area + eps) / 2``; OKS is the mean of ``exp(-e_i)`` over
    the GT's labeled keypoints (``v > 0``). A GT with no labeled keypoint measures each detected
    keypoint's distance to the box ``gt_bbox`` grown to twice its size around it (and needs
    ``gt_bbox``).

    Args:
        gt_xy: ``(K, 2)`` or ``(G, K, 2)`` ground-truth coordinates.
        gt_vis: ``(K,)`` or ``(G, K)`` visibility codes.
        dt_xy: ``(K, 2)`` or ``(D, K, 2)`` detected coordinates.
        area: GT area (scalar or ``(G,)``), the squared object scale.
        sigmas: ``(K,)`` per-keypoint sigmas.
        gt_bbox: ``(4,)`` or ``(G, 4)`` GT boxes ``x, y, w, h``; used only for empty GTs.

    Returns:
        A float for one GT and one detection, else a ``(D, G)`` array.
    """
    g = np.asarray(gt_xy, dtype=np.float64)
    d = np.asarray(dt_xy, dtype=np.float64)
    single = g.ndim == 2 and d.ndim == 2
    g = g.reshape((-1, *g.shape[-2:]))
    d = d.reshape((-1, *d.shape[-2:]))
    n_g, k = g.shape[0], g.shape[1]
    v = np.asarray(gt_vis).reshape(n_g, k)
    areas = np.broadcast_to(np.asarray(area, dtype=np.float64), (n_g,))
    boxes = None if gt_bbox is None else np.asarray(gt_bbox, dtype=np.float64).reshape(n_g, 4)
    out = _oks_matrix(g, v, areas, boxes, d, np.asarray(sigmas, dtype=np.float64))
    return float(out[0, 0]) if single else out


def _oks_matrix(
    g: np.ndarray,
    v: np.ndarray,
    areas: np.ndarray,
    boxes: np.ndarray | None,
    d: np.ndarray,
    sigmas: np.ndarray,
) -> np.ndarray:
    """``(D, G)`` OKS; the operation order follows pycocotools so results agree bit for bit."""
    n_d, n_g = d.shape[0], g.shape[0]
    out = np.zeros((n_d, n_g))
    if n_d == 0 or n_g == 0:
        return out
    var = (sigmas * 2) ** 2
    xd, yd = d[:, :, 0], d[:, :, 1]
    for j in range(n_g):
        labeled = v[j] > 0
        if labeled.any():
            dx = xd - g[j, :, 0]
            dy = yd - g[j, :, 1]
        else:
            if boxes is None:
                raise ValueError("oks: a ground truth without labeled keypoints needs gt_bbox")
            bx, by, bw, bh = boxes[j]
            x0, x1, y0, y1 = bx - bw, bx + bw * 2, by - bh, by + bh * 2
            dx = np.maximum(0.0, x0 - xd) + np.maximum(0.0, xd - x1)
            dy = np.maximum(0.0, y0 - yd) + np.maximum(0.0, yd - y1)
        e = (dx**2 + dy**2) / var / (areas[j] + np.spacing(1)) / 2
        if labeled.any():
            e = e[:, labeled]
        out[:, j] = np.sum(np.exp(-e), axis=1) / e.shape[1]
    return out


# --- AP / AR -------------------------------------------------------------------------------------
@dataclass
class _Gt:
    xy: np.ndarray
    vis: np.ndarray
    area: float
    bbox: np.ndarray | None
    ignore: bool
    iscrowd: bool


@dataclass
class _Dt:
    xy: np.ndarray
    score: float
    area: float


def _flat_keypoints(ann: Mapping[str, Any], where: str) -> np.ndarray:
    kps = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1)
    if kps.size % 3:
        raise ValueError(f"{where}: 'keypoints' length {kps.size} is not a multiple of 3")
    return kps.reshape(-1, 3)


def _to_gt(item: Instance | Mapping[str, Any]) -> _Gt:
    if isinstance(item, Instance):
        box = instance_coco_bbox(item)
        return _Gt(item.xy, item.visibility, box[2] * box[3], np.asarray(box), ignore=not
                   item.labeled.any(), iscrowd=False)
    p = _flat_keypoints(item, "ground truth")
    n_kp = item.get("num_keypoints")
    n_kp = int(np.count_nonzero(p[:, 2] > 0)) if n_kp is None else int(n_kp)
    crowd = bool(item.get("iscrowd", 0))
    bbox = item.get("bbox")
    area = item.get("area")
    if area is None:  # pycocotools needs 'area'; fall back to the box like an export would
        if bbox is None or len(bbox) != 4:
            raise ValueError("ground truth needs an 'area' or a 'bbox'")
        area = float(bbox[2]) * float(bbox[3])
    return _Gt(p[:, :2], p[:, 2], float(area),
               None if bbox is None else np.asarray(bbox, dtype=np.float64),
               ignore=crowd or n_kp == 0, iscrowd=crowd)


def _to_dt(item: Instance | Mapping[str, Any]) -> _Dt:
    if isinstance(item, Instance):
        score = item.mean_score()
        box = item.box()
        return _Dt(item.xy, 1.0 if score is None else float(score),
                   0.0 if box is None else box[2] * box[3])
    p = _flat_keypoints(item, "detection")
    bbox = item.get("bbox")
    if bbox is not None and len(bbox) > 0:
        area = float(bbox[2]) * float(bbox[3])
    else:
        x, y = p[:, 0], p[:, 1]
        area = float((x.max() - x.min()) * (y.max() - y.min()))
    return _Dt(p[:, :2], float(item["score"]), area)


def _sorted_keys(keys: Iterable[Hashable]) -> list[Hashable]:
    unique = list(dict.fromkeys(keys))
    try:
        return sorted(unique)  # type: ignore[type-var]
    except TypeError:
        return unique


def _match_image(
    gts: list[_Gt], dts: list[_Dt], ious: np.ndarray, a_rng: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """pycocotools ``evaluateImg`` for one image and area range.

    ``ious`` is ``(D, G)`` with detections already in score order (truncated to MAX_DETS).
    Returns (dt_matched (T,D) bool, dt_ignore (T,D) bool, dt_scores (D,), gt_ignore (G,)).
    """
    n_t = len(IOU_THRESHOLDS)
    g_ign = np.array([g.ignore or g.area < a_rng[0] or g.area > a_rng[1] for g in gts], dtype=bool)
    order = np.argsort(g_ign, kind="mergesort")  # ignored GTs last, stable
    g_ign = g_ign[order]
    crowd = np.array([gts[i].iscrowd for i in order], dtype=bool)
    n_g, n_d = len(gts), len(dts)
    dt_matched = np.zeros((n_t, n_d), dtype=bool)
    dt_ignore = np.zeros((n_t, n_d), dtype=bool)
    if n_g and n_d:
        ious = ious[:, order]
        reg = ~g_ign
        for t, thr in enumerate(IOU_THRESHOLDS):
            thr_eff = min(thr, 1 - 1e-10)
            gt_taken = np.zeros(n_g, dtype=bool)
            for di in range(n_d):
                avail = ~gt_taken | crowd
                row = ious[di]
                m = _best(row, avail & reg, thr_eff)
                if m < 0:
                    m = _best(row, avail & ~reg, thr_eff)
                if m < 0:
                    continue
                dt_ignore[t, di] = g_ign[m]
                dt_matched[t, di] = True
                gt_taken[m] = True
    d_area = np.array([d.area for d in dts], dtype=np.float64)
    out_rng = (d_area < a_rng[0]) | (d_area > a_rng[1])
    dt_ignore |= ~dt_matched & out_rng[None, :]
    return dt_matched, dt_ignore, np.array([d.score for d in dts]), g_ign


def _best(row: np.ndarray, candidates: np.ndarray, thr: float) -> int:
    """Index of the largest ``row`` value >= thr among candidates (last one on ties), else -1."""
    idx = np.flatnonzero(candidates & (row >= thr))
    if len(idx) == 0:
        return -1
    vals = row[idx]
    return int(idx[len(vals) - 1 - int(np.argmax(vals[::-1]))])


def coco_keypoint_ap(
    gt_instances_by_image: Mapping[Hashable, Sequence[Instance | Mapping[str, Any]]],
    dt_instances_by_image: Mapping[Hashable, Sequence[Instance | Mapping[str, Any]]],
    sigmas: Sequence[float] | np.ndarray,
) -> dict[str, float]:
    """COCO keypoint AP/AR (pycocotools' ``stats``) for one category.

    Args:
        gt_instances_by_image: image key -> ground-truth instances (dicts or ``Instance``).
        dt_instances_by_image: image key -> detections (dicts or ``Instance``); images missing
            from the GT mapping count as images without ground truth.
        sigmas: Per-keypoint OKS sigmas (e.g. ``skeleton.sigmas``).

    Returns:
        ``{"AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"}``; a value
        is -1 where pycocotools reports -1 (no ground truth in that area range).
    """
    sig = np.asarray(sigmas, dtype=np.float64)
    keys = _sorted_keys([*gt_instances_by_image, *dt_instances_by_image])
    area_names = ("all", "medium", "large")
    n_t, n_r = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS)
    per_area: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {
        a: [] for a in area_names
    }
    for key in keys:
        gts = [_to_gt(x) for x in gt_instances_by_image.get(key, ())]
        dts_all = [_to_dt(x) for x in dt_instances_by_image.get(key, ())]
        if not gts and not dts_all:
            continue
        order = np.argsort([-d.score for d in dts_all], kind="mergesort")[:MAX_DETS]
        dts = [dts_all[i] for i in order]
        for g in gts:
            if g.xy.shape[0] != len(sig) or any(d.xy.shape[0] != len(sig) for d in dts):
                raise ValueError(f"image {key!r}: keypoint count differs from {len(sig)} sigmas")
        if gts and dts:
            boxes = None
            if any(not (g.vis > 0).any() for g in gts):
                boxes = np.stack([g.bbox if g.bbox is not None else np.zeros(4) for g in gts])
            ious = _oks_matrix(np.stack([g.xy for g in gts]), np.stack([g.vis for g in gts]),
                               np.array([g.area for g in gts]), boxes,
                               np.stack([d.xy for d in dts]), sig)
        else:
            ious = np.zeros((len(dts), len(gts)))
        for a in area_names:
            per_area[a].append(_match_image(gts, dts, ious, AREA_RANGES[a]))

    precision = -np.ones((n_t, n_r, len(area_names)))
    recall = -np.ones((n_t, len(area_names)))
    for ai, a in enumerate(area_names):
        evals = per_area[a]
        if not evals:
            continue
        scores = np.concatenate([e[2] for e in evals])
        inds = np.argsort(-scores, kind="mergesort")
        dtm = np.concatenate([e[0] for e in evals], axis=1)[:, inds]
        dtig = np.concatenate([e[1] for e in evals], axis=1)[:, inds]
        gtig = np.concatenate([e[3] for e in evals])
        npig = int(np.count_nonzero(~gtig))
        if npig == 0:
            continue
        tp_sum = np.cumsum(dtm & ~dtig, axis=1).astype(float)
        fp_sum = np.cumsum(~dtm & ~dtig, axis=1).astype(float)
        for t in range(n_t):
            tp, fp = tp_sum[t], fp_sum[t]
            nd = len(tp)
            rc = tp / npig
            pr = tp / (fp + tp + np.spacing(1))
            recall[t, ai] = rc[-1] if nd else 0
            # Precision envelope (monotone non-increasing from the right).
            pr = np.maximum.accumulate(pr[::-1])[::-1] if nd else pr
            q = np.zeros(n_r)
            ri = np.searchsorted(rc, RECALL_THRESHOLDS, side="left")
            ok = ri < nd
            q[ok] = pr[ri[ok]]  # unreachable recall levels stay 0, as in pycocotools
            precision[t, :, ai] = q

    def summarize(ap: bool, thr: float | None = None, area: str = "all") -> float:
        ai = area_names.index(area)
        if ap:
            s = precision[:, :, ai]
        else:
            s = recall[:, ai]
        if thr is not None:
            s = s[np.where(thr == IOU_THRESHOLDS)[0]]
        valid = s[s > -1]
        return float(np.mean(valid)) if valid.size else -1.0

    values = [
        summarize(True), summarize(True, 0.5), summarize(True, 0.75),
        summarize(True, area="medium"), summarize(True, area="large"),
        summarize(False), summarize(False, 0.5), summarize(False, 0.75),
        summarize(False, area="medium"), summarize(False, area="large"),
    ]  # fmt: skip
    return dict(zip(STAT_NAMES, values))
