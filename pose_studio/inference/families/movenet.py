"""MoveNet (TensorFlow Hub, converted with tf2onnx): single-pose ``[1, 1, K, 3]`` rows of
normalised (y, x, score) and multi-pose ``[1, M, 3K + 5]`` (K x (y, x, score), then ymin, xmin,
ymax, xmax, score).

Pre-processing follows Google's reference (``tf.image.resize_with_pad`` to the input size:
aspect kept, centred, zero padding); the input is raw RGB pixels (uint8 or int32 as exported,
0..255 floats for float exports). The coordinates are normalised to that padded input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pose_studio.core import geometry as geo
from pose_studio.inference.families.base import FamilyAdapter, FamilySpec, Probe
from pose_studio.inference.results import PosePrediction

if TYPE_CHECKING:  # pragma: no cover
    from pose_studio.inference.crops import Letterbox

#: Most people a multi-pose output row block may hold (MoveNet: 6); more is another family.
_MAX_PEOPLE = 32


class MovenetAdapter(FamilyAdapter):
    family = "movenet"
    fit = "pad"
    centered = True
    pad_value = 0
    default_keypoint_threshold = 0.2
    default_score_threshold = 0.15  # a person: mean keypoint score (single) / its score (multi)
    default_nms_threshold = 0.5
    assumed_input_size = (256, 256)  # multi-pose: "the larger dimension 256" (TF Hub)

    @classmethod
    def match(cls, probe: Probe) -> FamilySpec | None:
        if not probe.want(cls.family):
            return None
        shapes = probe.shapes
        ultralytics = "kpt_shape" in probe.metadata or "task" in probe.metadata
        for i, s in enumerate(shapes):
            if len(s) == 4 and s[0] == 1 and s[1] == 1 and s[3] == 3 and s[2] >= 1:
                return FamilySpec(cls.family, k=s[2], outputs=(i,))
        if len(shapes) == 1 and len(shapes[0]) == 3 and not ultralytics:
            _, m, c = shapes[0]
            if 1 <= m <= _MAX_PEOPLE and c > 5 and (c - 5) % 3 == 0:
                return FamilySpec(cls.family, k=(c - 5) // 3, outputs=(0,), end2end=True)
        if probe.family == cls.family:
            probe.tried.append(f"MoveNet outputs [1, 1, K, 3] (single-pose) or [1, M, 3K+5] "
                               f"(multi-pose); found {[list(s) for s in shapes]}")
        return None

    def params(self) -> dict[str, Any]:
        return {"multi_pose": self.spec.end2end}

    def decode_image(self, outputs: Sequence[np.ndarray], lb: Letterbox) -> list[PosePrediction]:
        w_in, h_in = self.input_size
        k = self.spec.k
        out = np.asarray(outputs[0], np.float64)
        if self.spec.end2end:  # multi-pose: (M, 3K + 5)
            rows = out.reshape(-1, 3 * k + 5)
            kps = rows[:, :3 * k].reshape(-1, k, 3)
            boxes = rows[:, 3 * k:3 * k + 4][:, [1, 0, 3, 2]] * [w_in, h_in, w_in, h_in]
            scores = rows[:, 3 * k + 4]
            keep = scores >= self.score_threshold
            kps, boxes, scores = kps[keep], boxes[keep], scores[keep]
            order = geo.nms(boxes, scores, self.nms_threshold)
            kps, boxes, scores = kps[order], boxes[order], scores[order]
        else:  # single-pose: (1, K, 3)
            kps = out.reshape(1, k, 3)
            ok = kps[0, :, 2] >= self.keypoint_threshold
            score = float(kps[0, ok, 2].mean()) if ok.any() else 0.0
            if score < self.score_threshold:
                return []
            scores = np.array([score])
            boxes = np.zeros((1, 4))
        w, h = lb.frame_size
        preds = []
        for kp, box, s in zip(kps, boxes, scores):
            xy_in = np.stack([kp[:, 1] * w_in, kp[:, 0] * h_in], axis=1)
            xy = geo.letterbox_to_image(xy_in, lb.ratio, lb.pad)
            if not self.spec.end2end:  # the box around the confident keypoints
                good = kp[:, 2] >= self.keypoint_threshold
                kb = geo.keypoints_box(xy, good if good.sum() >= 2 else None)
                assert kb is not None
                m = 0.1 * (kb[2:] - kb[:2]) + 2.0
                bb = np.concatenate([kb[:2] - m, kb[2:] + m])
            else:
                bb = geo.letterbox_to_image(box.reshape(2, 2), lb.ratio, lb.pad).reshape(4)
            bb = np.clip(bb, 0, [w, h, w, h])
            preds.append(PosePrediction(xy, kp[:, 2].astype(np.float32), bb, float(s), None))
        return preds
