"""Top-down heatmap models: HRNet, SimpleBaseline, ViTPose, Hourglass, CPM (mmpose codecs)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pose_studio.core import geometry as geo
from pose_studio.inference import decode as dec
from pose_studio.inference.card import ModelCard
from pose_studio.inference.families.base import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    FamilyAdapter,
    FamilySpec,
    Probe,
)
from pose_studio.inference.results import CropMaps, PosePrediction

if TYPE_CHECKING:  # pragma: no cover
    from pose_studio.inference.crops import CropBatch


def kernel_for_sigma(sigma: float) -> int:
    k = round(6 * sigma - 1)  # mmpose: 11 for sigma 2, 17 for sigma 3
    return max(3, k if k % 2 == 1 else k + 1)


def top_down_predictions(locs: np.ndarray, vals: np.ndarray, to_input: np.ndarray,
                         batch: CropBatch, threshold: float,
                         maps: Sequence[CropMaps | None] | None = None) -> list[PosePrediction]:
    """Keypoints in model-input units (``locs`` mapped by ``to_input``) -> image pixels through
    each crop's inverse affine; invalid keypoints (value <= 0) become NaN."""
    inv = np.stack([geo.invert_affine(m) for m in batch.affines])
    preds = []
    for i in range(len(batch)):
        valid = vals[i] > 0
        xy = geo.apply_affine(inv[i], geo.apply_affine(to_input, locs[i]))
        xy[~valid] = np.nan
        scores = vals[i].astype(np.float32)
        kept = scores[valid & (scores >= threshold)]
        inst_score = float(kept.mean()) if kept.size else 0.0
        preds.append(PosePrediction(xy, scores, batch.boxes[i].copy(), inst_score,
                                    None if maps is None else maps[i]))
    return preds


class HeatmapAdapter(FamilyAdapter):
    family = "heatmap"
    top_down = True
    fit = "crop"
    default_mean = IMAGENET_MEAN
    default_std = IMAGENET_STD

    @classmethod
    def match(cls, probe: Probe) -> FamilySpec | None:
        """Rank-4 outputs ``[N, K, H/s, W/s]`` (or ``[N, H/s, W/s, K]`` for a channels-last
        model). Stacked Hourglass / CPM give one per stage (the last is the final one); other
        extra outputs (aux heads, features) are coarser: take the finest stride, the last of
        those."""
        if not probe.want(cls.family):
            return None
        w_in, h_in = probe.input_size
        best: tuple[float, int, bool] | None = None
        for i, s in enumerate(probe.shapes):
            if len(s) != 4:
                continue
            layouts = [(s[2], s[3], s[1], False)]
            if probe.layout == "nhwc":
                layouts.insert(0, (s[1], s[2], s[3], True))
            fitted = False
            for h, w, k, last in layouts:
                if h <= 0 or w <= 0 or k < 1:
                    continue
                fx, fy = w_in / w, h_in / h
                if abs(fx - fy) < 1e-6 and fx >= 1 and abs(fx - round(fx)) < 1e-6:
                    if best is None or fx <= best[0]:
                        best = (fx, i, last)
                    fitted = True
                    break
            if not fitted:
                probe.tried.append(f"rank-4 output {list(s)} is not a heatmap at an integer "
                                   f"stride of the {w_in}x{h_in} input")
        if best is None:
            return None
        fx, i, last = best
        k = probe.shapes[i][3] if last else probe.shapes[i][1]
        return FamilySpec("heatmap", k=k, outputs=(i,), stride=(fx, fx), channels_last=last)

    def __init__(self, spec: FamilySpec, card: ModelCard, input_size: tuple[int, int],
                 path: Path, warnings: list[str], input_dtype: str = "float32") -> None:
        super().__init__(spec, card, input_size, path, warnings, input_dtype)
        self.refine = card.refine or "dark"  # dark | dark_udp (ViTPose/UDP) | quarter | none
        # mmpose trains 256x192 heatmap models with sigma 2 (DARK kernel 11) and 384x288 ones
        # (96x72 heatmaps) with sigma 3 (kernel 17); a card's sigma/kernel wins
        hm_h = input_size[1] / spec.stride[1] if spec.stride[1] else 0.0
        self.dark_kernel = card.dark_kernel or (kernel_for_sigma(card.heatmap_sigma)
                                                if card.heatmap_sigma else
                                                (17 if hm_h >= 96 else 11))

    def params(self) -> dict[str, Any]:
        return {"stride": self.spec.stride[0], "refine": self.refine,
                "dark_kernel": self.dark_kernel}

    def outputs_nchw(self, outputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        if self.spec.channels_last:
            return [np.ascontiguousarray(o.transpose(0, 3, 1, 2)) for o in outputs]
        return list(outputs)

    def combine_flip(self, used: list[np.ndarray], flipped: list[np.ndarray],
                     flip_perm: np.ndarray) -> list[np.ndarray]:
        a, f = self.outputs_nchw(used)[0], self.outputs_nchw(flipped)[0]
        out = 0.5 * (a + dec.flip_heatmaps_back(f, flip_perm))
        return [out.transpose(0, 2, 3, 1) if self.spec.channels_last else out]

    def decode_crops(self, outputs: Sequence[np.ndarray], batch: CropBatch,
                     keep_maps: bool) -> list[PosePrediction]:
        hm = self.outputs_nchw(outputs)[0]
        locs, vals = dec.decode_heatmaps(hm, self.refine, self.dark_kernel)
        h, w = hm.shape[2:]
        if self.refine == "dark_udp":
            # UDP (mmpose UDPHeatmap.decode, rtmlib ViTPose): heatmap pixel W-1 is the crop's
            # right edge: x_img = x_hm / (W-1) * scale + center - scale/2
            w_in, h_in = self.input_size
            to_input = geo.scale_affine(w_in / (w - 1), h_in / (h - 1))
        else:
            to_input = geo.scale_affine(*self.spec.stride)
        maps = None
        if keep_maps:
            inv = [geo.invert_affine(m) for m in batch.affines]
            maps = [CropMaps("heatmap", geo.compose_affine(inv[i], to_input), maps=hm[i].copy(),
                             dark_kernel=self.dark_kernel)
                    for i in range(len(batch))]
        return top_down_predictions(locs, vals, to_input, batch, self.keypoint_threshold, maps)
