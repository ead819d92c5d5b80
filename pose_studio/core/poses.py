"""Pose helpers for editing: a template for a new instance, and heatmap peaks to snap to.

Pure numpy over :class:`~pose_studio.core.annotation.Instance` values and plain arrays, so the
edit verbs (``pose_studio.app.editing``) use them without a window.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.candidates import local_peaks
from pose_studio.core.skeleton import Skeleton

__all__ = ["default_pose", "local_peaks", "mean_pose", "peaks_for", "template_instance"]

_COCO_POSE = {
    "nose": (0.0, -0.45), "left_eye": (0.03, -0.47), "right_eye": (-0.03, -0.47),
    "left_ear": (0.06, -0.45), "right_ear": (-0.06, -0.45),
    "left_shoulder": (0.12, -0.3), "right_shoulder": (-0.12, -0.3),
    "left_elbow": (0.17, -0.12), "right_elbow": (-0.17, -0.12),
    "left_wrist": (0.19, 0.04), "right_wrist": (-0.19, 0.04),
    "left_hip": (0.08, 0.05), "right_hip": (-0.08, 0.05),
    "left_knee": (0.09, 0.28), "right_knee": (-0.09, 0.28),
    "left_ankle": (0.1, 0.5), "right_ankle": (-0.1, 0.5),
}


def default_pose(sk: Skeleton) -> np.ndarray:
    """A centred ``(K, 2)`` pose about 1 unit tall: a standing person for COCO-like names,
    else keypoints on a circle."""
    k = sk.num_keypoints
    out = np.zeros((k, 2))
    missing = []
    for i, name in enumerate(sk.keypoints):
        if name in _COCO_POSE:
            out[i] = _COCO_POSE[name]
        else:
            missing.append(i)
    for j, i in enumerate(missing):
        a = 2 * math.pi * j / max(1, len(missing))
        out[i] = (0.3 * math.cos(a), 0.3 * math.sin(a))
    return out - out.mean(axis=0)


def mean_pose(sk: Skeleton, instances: Iterable[Instance],
              limit: int = 500) -> tuple[np.ndarray, float | None]:
    """``(K, 2)`` centred pose about 1 unit tall and the typical size in pixels.

    From up to ``limit`` of ``instances`` (labels); keypoints never labeled come from
    :func:`default_pose`. The size is None when there is no usable instance.
    """
    acc = np.zeros((sk.num_keypoints, 2))
    cnt = np.zeros(sk.num_keypoints)
    spans: list[float] = []
    for inst in instances:
        m = inst.labeled
        if m.sum() < 2 or inst.num_keypoints != sk.num_keypoints:
            continue
        pts = inst.xy[m]
        span = float(np.ptp(pts, axis=0).max())
        if span <= 0:
            continue
        acc[m] += (pts - pts.mean(axis=0)) / span
        cnt[m] += 1
        spans.append(span)
        if len(spans) >= limit:
            break
    default = default_pose(sk)
    if not spans:
        return default, None
    out = default.copy()
    have = cnt > 0
    out[have] = acc[have] / cnt[have, None]
    return out - out.mean(axis=0), float(np.median(spans))


def template_instance(sk: Skeleton, center: tuple[float, float], *,
                      previous: Instance | None = None,
                      mean: tuple[np.ndarray, float | None] | None = None,
                      image_size: tuple[float, float] | None = None) -> Instance:
    """A new user instance centred at ``center``: a copy of ``previous`` (a label on an earlier
    frame), else the ``mean`` pose (from :func:`mean_pose`) at its typical size, else the
    default pose at a third of the image."""
    if previous is not None and previous.labeled.any():
        c = previous.xy[previous.labeled].mean(axis=0)
        moved = previous.translated(center[0] - c[0], center[1] - c[1])
        return Instance(xy=moved.xy, visibility=moved.visibility, kind=InstanceKind.USER)
    unit, span = mean if mean is not None else (default_pose(sk), None)
    if span is None:
        span = 0.35 * min(image_size) if image_size and min(image_size) > 0 else 100.0
    xy = unit * span + np.asarray(center, dtype=np.float64)
    return Instance(xy=xy, visibility=np.full(sk.num_keypoints, 2, np.uint8))


def peaks_for(inst: Instance, k: int,
              candidates: Sequence[tuple[Instance, np.ndarray, np.ndarray]]
              ) -> list[tuple[float, float, float]]:
    """Peaks ``(x, y, value)`` in image pixels of keypoint ``k``'s map of the predicted person
    nearest ``inst``, strongest first.

    ``candidates``: ``(prediction, map of keypoint k (h, w), 2x3 map-to-image affine)``.
    """
    best: tuple[np.ndarray, np.ndarray] | None = None
    best_d = math.inf
    for pred, m, affine in candidates:
        both = pred.labeled & inst.labeled
        if both.any():
            d = float(np.linalg.norm(pred.xy[both] - inst.xy[both], axis=1).mean())
        else:
            d = float(np.linalg.norm(pred.xy.mean(axis=0) - inst.xy.mean(axis=0)))
        if d < best_d:
            best, best_d = (m, affine), d
    if best is None:
        return []
    m, affine = best
    a = np.asarray(affine, dtype=np.float64).reshape(2, 3)
    out = []
    for x, y, v in local_peaks(np.asarray(m, dtype=np.float64)):
        ix, iy = a @ np.array([x, y, 1.0])
        out.append((float(ix), float(iy), float(v)))
    return out
