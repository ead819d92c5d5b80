"""Top-down SimCC models: RTMPose, RTMW, DWPose (mmpose ``RTMCCHead``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pose_studio.core import geometry as geo
from pose_studio.inference import decode as dec
from pose_studio.inference.families.base import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    FamilyAdapter,
    FamilySpec,
    Probe,
)
from pose_studio.inference.families.heatmap import top_down_predictions
from pose_studio.inference.results import CropMaps, PosePrediction

if TYPE_CHECKING:  # pragma: no cover
    from pose_studio.inference.crops import CropBatch


class SimccAdapter(FamilyAdapter):
    family = "simcc"
    top_down = True
    fit = "crop"
    default_mean = IMAGENET_MEAN
    default_std = IMAGENET_STD

    @classmethod
    def match(cls, probe: Probe) -> FamilySpec | None:
        """Two rank-3 outputs ``[N, K, r*W]`` and ``[N, K, r*H]``."""
        if not probe.want(cls.family):
            return None
        w_in, h_in = probe.input_size
        names, shapes = probe.names, probe.shapes
        r3 = [i for i, s in enumerate(shapes) if len(s) == 3]
        if len(r3) < 2:
            return None
        ix = names.index("simcc_x") if "simcc_x" in names else r3[0]
        iy = names.index("simcc_y") if "simcc_y" in names else r3[1]
        sx, sy = shapes[ix], shapes[iy]
        if sx[1] == sy[1] and sx[2] > 0 and sy[2] > 0:
            rx, ry = sx[2] / w_in, sy[2] / h_in
            if abs(rx - ry) > 1e-6 and "simcc_x" not in names:
                rx2, ry2 = sy[2] / w_in, sx[2] / h_in
                if abs(rx2 - ry2) <= 1e-6:
                    ix, iy, rx, ry = iy, ix, rx2, ry2
            if abs(rx - ry) <= 1e-6 and rx >= 1.0:
                return FamilySpec("simcc", k=sx[1], outputs=(ix, iy), split_ratio=rx)
        if sx[1] == sy[1] or probe.family == cls.family:  # keypoint vectors that do not fit
            probe.tried.append(f"two rank-3 outputs {list(sx)} and {list(sy)} are not SimCC "
                               f"vectors [N, K, r*{w_in}] and [N, K, r*{h_in}]")
        return None

    def params(self) -> dict[str, Any]:
        return {"split_ratio": self.spec.split_ratio}

    def combine_flip(self, used: list[np.ndarray], flipped: list[np.ndarray],
                     flip_perm: np.ndarray) -> list[np.ndarray]:
        fx, fy = dec.flip_simcc_back(flipped[0], flipped[1], flip_perm)
        return [0.5 * (used[0] + fx), 0.5 * (used[1] + fy)]

    def decode_crops(self, outputs: Sequence[np.ndarray], batch: CropBatch,
                     keep_maps: bool) -> list[PosePrediction]:
        r = self.spec.split_ratio
        locs, vals = dec.decode_simcc(outputs[0], outputs[1], 1.0)  # in bins
        to_input = geo.scale_affine(1.0 / r, 1.0 / r)
        maps = None
        if keep_maps:
            inv = [geo.invert_affine(m) for m in batch.affines]
            maps = [CropMaps("simcc", geo.compose_affine(inv[i], to_input),
                             simcc_x=outputs[0][i].copy(), simcc_y=outputs[1][i].copy())
                    for i in range(len(batch))]
        return top_down_predictions(locs, vals, to_input, batch, self.keypoint_threshold, maps)
