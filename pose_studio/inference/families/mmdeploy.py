"""mmdeploy end2end exports recognised by their output names: detectors with NMS inside
(``dets`` + ``labels``: YOLOX, RTMDet) and RTMO one-stage pose (``dets`` + ``keypoints``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pose_studio.core import geometry as geo
from pose_studio.inference.card import ModelCard
from pose_studio.inference.families.base import (
    RTMDET_MEAN_BGR,
    RTMDET_STD_BGR,
    FamilyAdapter,
    FamilySpec,
    Preprocessing,
    Probe,
)
from pose_studio.inference.families.yolo import one_stage_predictions
from pose_studio.inference.results import PosePrediction

if TYPE_CHECKING:  # pragma: no cover
    from pose_studio.inference.crops import Letterbox


class End2endDetectorAdapter(FamilyAdapter):
    """``dets [1, N, 5]`` (x1, y1, x2, y2, score in input pixels) + ``labels [1, N]``."""

    family = "detector_end2end"
    kind = "detector"
    default_color = "bgr"
    default_score_threshold = 0.3

    @classmethod
    def match(cls, probe: Probe) -> FamilySpec | None:
        names, shapes = probe.names, probe.shapes
        if probe.want(cls.family) and "dets" in names and "labels" in names:
            d, lab = names.index("dets"), names.index("labels")
            if len(shapes[d]) == 3 and shapes[d][2] >= 5:
                return FamilySpec(cls.family, outputs=(d, lab))
            probe.tried.append(f"'dets' has shape {list(shapes[d])}, expected "
                               f"[N, num_dets, 5]")
        if probe.family == cls.family and len(shapes) >= 2 and len(shapes[0]) == 3:
            return FamilySpec(cls.family, outputs=(0, 1))
        return None

    def __init__(self, spec: FamilySpec, card: ModelCard, input_size: tuple[int, int],
                 path: Path, warnings: list[str], input_dtype: str = "float32") -> None:
        super().__init__(spec, card, input_size, path, warnings, input_dtype)
        if card.mean is None and card.std is None and input_dtype.startswith("float"):
            stem = stem_ops(path)
            if "Conv" in stem and "Slice" not in stem:
                # mmdeploy files look alike from the outside; YOLOX starts with a Focus stem
                # (Slice ops, raw 0..255 input) and RTMDet with a convolution (mean/std)
                p = self.pre
                self.pre = Preprocessing(RTMDET_MEAN_BGR, RTMDET_STD_BGR, p.rgb, p.scale, p.fit,
                                         p.centered, p.pad_value)
                warnings.append(
                    "no model card or pipeline.json states the normalisation: the graph starts "
                    "with a convolution, not YOLOX's Focus stem, so RTMDet's mean/std (BGR) is "
                    "used; put 'mean'/'std' in a card if this detector finds nothing")

    def decode_boxes(self, outputs: Sequence[np.ndarray],
                     input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dets = np.asarray(outputs[0], dtype=np.float64).reshape(-1, outputs[0].shape[-1])
        keep = dets[:, 4] > self.score_threshold  # drops the zero-score padding rows
        classes = np.full(len(dets), -1, np.int64)
        if len(outputs) > 1 and outputs[1] is not None:
            labels = np.asarray(outputs[1]).reshape(-1)
            if len(labels) == len(dets):
                classes = labels.astype(np.int64)
        return dets[keep, :4], dets[keep, 4], classes[keep]


class RtmoAdapter(FamilyAdapter):
    """RTMO: ``dets [1, N, 5]`` + ``keypoints [1, N, K, 3]``; top-left letterbox, raw BGR;
    NMS again here, as rtmlib does."""

    family = "rtmo"
    default_color = "bgr"
    default_score_threshold = 0.5

    @classmethod
    def match(cls, probe: Probe) -> FamilySpec | None:
        names, shapes = probe.names, probe.shapes
        if probe.want(cls.family) and "dets" in names and "keypoints" in names:
            d, kp = names.index("dets"), names.index("keypoints")
            if len(shapes[kp]) == 4 and shapes[kp][3] == 3 and len(shapes[d]) == 3:
                return FamilySpec(cls.family, k=shapes[kp][2], outputs=(d, kp))
            probe.tried.append(f"'keypoints' has shape {list(shapes[kp])}, expected "
                               f"[1, N, K, 3]")
        if probe.family == cls.family and len(shapes) == 2 and len(shapes[1]) == 4 and \
                shapes[1][3] == 3:
            return FamilySpec(cls.family, k=shapes[1][2], outputs=(0, 1))
        return None

    def decode_image(self, outputs: Sequence[np.ndarray], lb: Letterbox) -> list[PosePrediction]:
        dets, kp = np.asarray(outputs[0], np.float64), np.asarray(outputs[1], np.float64)
        keep = dets[:, 4] > self.score_threshold
        dets, kp = dets[keep], kp[keep]
        idx = geo.nms(dets[:, :4], dets[:, 4], self.nms_threshold)
        return one_stage_predictions(dets[idx, :4], dets[idx, 4], kp[idx], lb)


def stem_ops(path: Path) -> set[str]:
    """Op types that first read the image input (through Cast/Identity), or an empty set when
    the graph cannot be read."""
    try:
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:
        return set()
    names = {graph.input[0].name} if graph.input else set()
    ops: set[str] = set()
    for _ in range(4):
        nxt: set[str] = set()
        for n in graph.node:
            if names & set(n.input):
                if n.op_type in ("Cast", "Identity"):
                    nxt.update(n.output)
                else:
                    ops.add(n.op_type)
        if not nxt:
            break
        names = nxt
    return ops
