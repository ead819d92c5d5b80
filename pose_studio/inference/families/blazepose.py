"""MediaPipe BlazePose landmark models (lite/full/heavy, converted with tf2onnx).

Outputs: landmarks ``[1, 5N]`` (N = 39: the 33 body landmarks then 6 auxiliary ones; x, y in
input pixels, z, visibility and presence logits), the pose flag ``[1, 1]`` (a probability),
a segmentation mask, heatmaps and world landmarks (not used). The input is a person crop,
RGB in 0..1, usually ``[1, 256, 256, 3]``: the model runs top-down, on a square crop of the
person box (padding 1.25, as MediaPipe's ROI).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pose_studio.core import geometry as geo
from pose_studio.inference.families.base import FamilyAdapter, FamilySpec, Probe, sigmoid
from pose_studio.inference.results import PosePrediction

if TYPE_CHECKING:  # pragma: no cover
    from pose_studio.inference.crops import CropBatch

BODY_LANDMARKS = 33
_LANDMARK_COUNTS = (33, 39)  # body only, or body + the 6 auxiliary ROI landmarks


class BlazeposeAdapter(FamilyAdapter):
    family = "blazepose"
    top_down = True
    fit = "crop"
    default_scale = 1.0 / 255.0
    default_keypoint_threshold = 0.5
    default_score_threshold = 0.5  # the pose flag: is there a person in the crop
    assumed_input_size = (256, 256)

    @classmethod
    def match(cls, probe: Probe) -> FamilySpec | None:
        if not probe.want(cls.family):
            return None
        shapes = probe.shapes
        flag = next((i for i, s in enumerate(shapes) if s in ((1, 1), (1, 1, 1, 1))), None)
        for i, s in enumerate(shapes):
            if len(s) == 2 and s[0] == 1 and s[1] % 5 == 0 and s[1] // 5 in _LANDMARK_COUNTS \
                    and flag is not None:
                return FamilySpec(cls.family, k=BODY_LANDMARKS, outputs=(i, flag))
        if probe.family == cls.family:
            probe.tried.append(f"BlazePose outputs landmarks [1, 5x33] or [1, 5x39] and a pose "
                               f"flag [1, 1]; found {[list(s) for s in shapes]}")
        return None

    def params(self) -> dict[str, Any]:
        return {"landmarks": self.spec.k}

    def decode_crops(self, outputs: Sequence[np.ndarray], batch: CropBatch,
                     keep_maps: bool) -> list[PosePrediction]:
        n = len(batch)
        lm = np.asarray(outputs[0], np.float64).reshape(n, -1, 5)[:, :BODY_LANDMARKS]
        flag = np.asarray(outputs[1], np.float64).reshape(n)
        inv = [geo.invert_affine(m) for m in batch.affines]
        preds = []
        for i in range(n):
            xy = geo.apply_affine(inv[i], lm[i, :, :2])
            scores = sigmoid(lm[i, :, 3]).astype(np.float32)  # MediaPipe's "visibility"
            preds.append(PosePrediction(xy, scores, batch.boxes[i].copy(), float(flag[i]), None))
        return preds
