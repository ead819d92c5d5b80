"""Who is a person on a frame: ONE rule, used by the window, live inference and batch runs.

A frame holds user instances (labels) and predictions. The people on it are the labels plus the
predictions no label stands for. A label stands for a prediction when it was accepted from it
(``source_id``) or when its box overlaps the prediction's by :data:`COVERED_IOU` or more (the
model was re-run over a labeled frame, which replaced the prediction the label came from).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from pose_studio.core.annotation import Instance
from pose_studio.core.geometry import box_iou, xywh_to_xyxy

#: A prediction whose box overlaps a label's this much is that person again.
COVERED_IOU = 0.6
#: Boxes narrower or lower than this (pixels) are not crops a model can use.
MIN_BOX_SIDE = 1.0

__all__ = ["COVERED_IOU", "people", "person_boxes", "visible_predictions"]


def _xyxy(inst: Instance) -> np.ndarray | None:
    b = inst.box()
    return None if b is None else xywh_to_xyxy(b)


def visible_predictions(instances: Iterable[Instance]) -> list[Instance]:
    """The predictions among ``instances`` (one frame) that no label stands for, in order."""
    insts = list(instances)
    users = [i for i in insts if not i.is_prediction]
    accepted = {u.source_id for u in users if u.source_id is not None}
    label_boxes = np.array([b for b in (_xyxy(u) for u in users) if b is not None]).reshape(-1, 4)
    out = []
    for p in insts:
        if not p.is_prediction or (p.id is not None and p.id in accepted):
            continue
        pb = _xyxy(p)
        if pb is not None and len(label_boxes) and (box_iou(pb, label_boxes) >= COVERED_IOU).any():
            continue
        out.append(p)
    return out


def people(instances: Iterable[Instance]) -> list[Instance]:
    """The people on one frame: its labels, then the predictions no label stands for."""
    insts = list(instances)
    return [*(i for i in insts if not i.is_prediction), *visible_predictions(insts)]


def person_boxes(instances: Sequence[Instance] | Iterable[Instance]) -> np.ndarray | None:
    """``(n, 4)`` ``xyxy`` boxes of the people on one frame (None when there are none)."""
    boxes = []
    for inst in people(instances):
        b = inst.box()
        if b is not None and b[2] > MIN_BOX_SIDE and b[3] > MIN_BOX_SIDE:
            boxes.append((b[0], b[1], b[0] + b[2], b[1] + b[3]))
    return np.asarray(boxes, dtype=np.float64) if boxes else None
