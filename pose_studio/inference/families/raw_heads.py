"""Detectors exported without their post-processing: the raw per-stride heads, decoded and
NMS'd here. The stride of each level comes from the output shapes, never from a table.

* RTMDet (mmdet ``RTMDetHead.forward``): per level ``cls [1, C, H/s, W/s]`` (logits) and
  ``box [1, 4, H/s, W/s]`` (left, top, right, bottom distances in input pixels, already times
  the stride), priors at ``(x*s, y*s)``.
* NanoDet (GFL head, ``cls_pred_stride_s [1, A, C]`` sigmoid scores and ``dis_pred_stride_s
  [1, A, 4(R+1)]`` distance distributions): distances are the softmax expectation over the
  ``R+1`` bins times the stride, priors at ``(x*s + (s-1)/2, y*s + (s-1)/2)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pose_studio.core import geometry as geo
from pose_studio.inference.families.base import (
    RTMDET_MEAN_BGR,
    RTMDET_STD_BGR,
    FamilyAdapter,
    FamilySpec,
    Probe,
    sigmoid,
)

_STRIDE_CANDIDATES = (4, 8, 16, 32, 64, 128)


def _stride_of(h_in: int, w_in: int, h: int, w: int) -> int | None:
    if h <= 0 or w <= 0:
        return None
    sx, sy = w_in / w, h_in / h
    if abs(sx - sy) < 1e-6 and abs(sx - round(sx)) < 1e-6 and round(sx) >= 1:
        return round(sx)
    for s in _STRIDE_CANDIDATES:  # sizes rounded up (inputs not divisible by the stride)
        if -(-h_in // s) == h and -(-w_in // s) == w:
            return s
    return None


def _class_wise_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
                    iou: float) -> np.ndarray:
    kept: list[int] = []
    for c in np.unique(classes):
        ids = np.flatnonzero(classes == c)
        kept.extend(ids[geo.nms(boxes[ids], scores[ids], iou)].tolist())
    return np.asarray(sorted(kept, key=lambda i: -scores[i]), dtype=np.int64)


def _top_scores(scores: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per anchor: best class, its score, and the anchors above ``conf``."""
    cls = scores.argmax(axis=1)
    best = scores[np.arange(len(scores)), cls]
    keep = np.flatnonzero(best > conf)
    return keep, best[keep], cls[keep]


def _boxes_kept(boxes: np.ndarray, scores: np.ndarray, conf: float,
                iou: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes, scores and classes of the anchors above ``conf`` after class-wise NMS, best
    first (``scores``: per anchor and class)."""
    keep, best, classes = _top_scores(scores, conf)
    boxes = boxes[keep]
    order = _class_wise_nms(boxes, best, classes, iou)
    return boxes[order], best[order], classes[order]


class RtmdetHeadsAdapter(FamilyAdapter):
    family = "detector_rtmdet"
    kind = "detector"
    default_mean = RTMDET_MEAN_BGR
    default_std = RTMDET_STD_BGR
    default_color = "bgr"
    default_score_threshold = 0.3
    default_nms_threshold = 0.6
    assumed_input_size = (640, 640)

    @classmethod
    def match(cls, probe: Probe) -> FamilySpec | None:
        """At least two levels of rank-4 ``cls [1, C, h, w]`` + ``box [1, 4, h, w]`` pairs at
        integer strides of the input."""
        if not probe.want(cls.family):
            return None
        w_in, h_in = probe.input_size
        shapes = probe.shapes
        r4 = [i for i, s in enumerate(shapes) if len(s) == 4 and s[0] == 1]
        if len(r4) < 4 or len(r4) != len(shapes):
            return None
        levels: dict[tuple[int, int], list[int]] = {}
        for i in r4:
            levels.setdefault((shapes[i][2], shapes[i][3]), []).append(i)
        if any(len(v) != 2 for v in levels.values()):
            return None
        cls_idx, box_idx, strides = [], [], []
        for (h, w), (a, b) in sorted(levels.items(), key=lambda kv: -kv[0][0]):
            s = _stride_of(h_in, w_in, h, w)
            if s is None:
                return None
            ca, cb = shapes[a][1], shapes[b][1]
            if cb == 4:
                ci, bi = a, b
            elif ca == 4:
                ci, bi = b, a
            else:
                return None
            cls_idx.append(ci)
            box_idx.append(bi)
            strides.append(s)
        ncs = {shapes[i][1] for i in cls_idx}
        if len(ncs) != 1:
            return None
        return FamilySpec(cls.family, outputs=(*cls_idx, *box_idx), nc=ncs.pop(),
                          strides=tuple(strides))

    def params(self) -> dict[str, Any]:
        return {"strides": list(self.spec.strides), "classes": self.spec.nc}

    def decode_boxes(self, outputs: Sequence[np.ndarray],
                     input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(self.spec.strides)
        all_scores, all_boxes = [], []
        for lvl, s in enumerate(self.spec.strides):
            cls = np.asarray(outputs[lvl], np.float64)  # (C, h, w), batch axis dropped
            box = np.asarray(outputs[n + lvl], np.float64)  # (4, h, w)
            c, h, w = cls.shape
            gy, gx = np.mgrid[0:h, 0:w]
            px, py = (gx.ravel() * s).astype(np.float64), (gy.ravel() * s).astype(np.float64)
            d = box.reshape(4, -1)
            all_boxes.append(np.stack([px - d[0], py - d[1], px + d[2], py + d[3]], axis=1))
            all_scores.append(sigmoid(cls.reshape(c, -1).T))
        return _boxes_kept(np.concatenate(all_boxes), np.concatenate(all_scores),
                           self.score_threshold, self.nms_threshold)


class NanodetHeadsAdapter(FamilyAdapter):
    family = "detector_nanodet"
    kind = "detector"
    default_mean = RTMDET_MEAN_BGR
    default_std = RTMDET_STD_BGR
    default_color = "bgr"
    centered = True
    pad_value = 0
    default_score_threshold = 0.35
    default_nms_threshold = 0.6
    assumed_input_size = (320, 320)

    @classmethod
    def match(cls, probe: Probe) -> FamilySpec | None:
        """Per level a score tensor ``[1, A, C]`` and a distribution tensor ``[1, A, 4(R+1)]``
        with ``A = ceil(H/s) * ceil(W/s)``; names ``cls``/``dis`` decide when both fit."""
        if not probe.want(cls.family):
            return None
        w_in, h_in = probe.input_size
        shapes, names = probe.shapes, probe.names
        if len(shapes) < 4 or any(len(s) != 3 or s[0] != 1 for s in shapes):
            return None
        levels: dict[int, list[int]] = {}
        for i, s in enumerate(shapes):
            levels.setdefault(s[1], []).append(i)
        if any(len(v) != 2 for v in levels.values()):
            return None
        cls_idx: list[int] = []
        dis_idx: list[int] = []
        strides: list[int] = []
        for a_count, (i, j) in sorted(levels.items(), key=lambda kv: -kv[0]):
            stride = next((st for st in _STRIDE_CANDIDATES
                           if -(-h_in // st) * -(-w_in // st) == a_count), None)
            if stride is None:
                return None

            def is_dis(t: int) -> bool:
                return shapes[t][2] % 4 == 0 and 4 <= shapes[t][2] // 4 - 1 <= 32

            if "dis" in names[j] or "reg" in names[j] or "cls" in names[i]:
                ci, di = i, j
            elif "dis" in names[i] or "reg" in names[i] or "cls" in names[j]:
                ci, di = j, i
            elif is_dis(j) and not is_dis(i):
                ci, di = i, j
            elif is_dis(i) and not is_dis(j):
                ci, di = j, i
            else:
                ci, di = i, j
            if not is_dis(di):
                return None
            cls_idx.append(ci)
            dis_idx.append(di)
            strides.append(stride)
        ncs = {shapes[i][2] for i in cls_idx}
        regs = {shapes[i][2] // 4 - 1 for i in dis_idx}
        if len(ncs) != 1 or len(regs) != 1:
            return None
        return FamilySpec(cls.family, outputs=(*cls_idx, *dis_idx), nc=ncs.pop(),
                          strides=tuple(strides), extra=(("reg_max", regs.pop()),))

    def params(self) -> dict[str, Any]:
        return {"strides": list(self.spec.strides), "classes": self.spec.nc,
                "reg_max": self.spec.get("reg_max")}

    def decode_boxes(self, outputs: Sequence[np.ndarray],
                     input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        w_in = input_hw[1]
        n = len(self.spec.strides)
        bins = int(self.spec.get("reg_max", 7)) + 1
        proj = np.arange(bins, dtype=np.float64)
        all_scores, all_boxes = [], []
        for lvl, s in enumerate(self.spec.strides):
            sc = np.asarray(outputs[lvl], np.float64)  # (A, C)
            if sc.size and (sc.min() < 0.0 or sc.max() > 1.0):  # logits, not probabilities
                sc = sigmoid(sc)
            dist = np.asarray(outputs[n + lvl], np.float64).reshape(-1, 4, bins)
            dist = np.exp(dist - dist.max(axis=2, keepdims=True))
            d = (dist / dist.sum(axis=2, keepdims=True)) @ proj * s  # (A, 4)
            gw = -(-w_in // s)
            idx = np.arange(len(sc))
            cx = (idx % gw) * s + 0.5 * (s - 1)
            cy = (idx // gw) * s + 0.5 * (s - 1)
            all_boxes.append(np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]],
                                      axis=1))
            all_scores.append(sc)
        return _boxes_kept(np.concatenate(all_boxes), np.concatenate(all_scores),
                           self.score_threshold, self.nms_threshold)
