"""One rank-3 output over the stride-8/16/32 anchors: ultralytics YOLO-pose and YOLO detectors,
and Megvii's raw YOLOX detector (decoded and NMS'd here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pose_studio.core import geometry as geo
from pose_studio.inference import decode as dec
from pose_studio.inference.families.base import (
    FamilyAdapter,
    FamilySpec,
    Probe,
    anchors,
    literal,
)
from pose_studio.inference.results import PosePrediction

if TYPE_CHECKING:  # pragma: no cover
    from pose_studio.inference.crops import Letterbox

_FAMILIES = ("yolo_pose", "detector_yolox", "detector_yolo")


def match_yolo(probe: Probe) -> FamilySpec | None:
    """YOLO-pose ``[1, 4+nc+dK, A]``, an ultralytics detector ``[1, 4+nc, A]`` (or
    ``[1, max_det, 6]`` with NMS inside), raw YOLOX ``[1, A, 5+nc]``."""
    if not any(probe.want(f) for f in _FAMILIES):
        return None
    w_in, h_in = probe.input_size
    meta, family, shapes = probe.metadata, probe.family, probe.shapes
    tried = probe.tried
    r3 = [i for i, s in enumerate(shapes) if len(s) == 3]
    kpt_shape = literal(meta, "kpt_shape")
    task = str(meta.get("task", "")).lower()
    if task and task not in ("pose", "detect") and family is None and \
            ("names" in meta or "stride" in meta):
        # an ultralytics detect/segment/classify/obb export: its rank-3 output can look like
        # a pose layout by chance (seg [1, 116, 8400] = 4 + 1 + 3*37)
        raise ValueError(f"this is an ultralytics '{task}' model (metadata task={task!r}), "
                         f"not a pose model; export a YOLO '-pose' model instead "
                         f"(e.g. yolo11n-pose.pt with format=onnx)")
    if len(r3) != 1:
        return None
    is_pose_meta = kpt_shape is not None or task == "pose"
    i = r3[0]
    _, c, a = shapes[i]
    n_anchor = anchors(h_in, w_in)
    names_meta = literal(meta, "names")
    nc = len(names_meta) if isinstance(names_meta, dict) and names_meta else 1
    if probe.want("detector_yolo") and not is_pose_meta and (task == "detect" or family ==
                                                             "detector_yolo"):
        nc_d = nc if task == "detect" else c - 4
        if a == n_anchor and c == 4 + nc_d and nc_d >= 1:
            return FamilySpec("detector_yolo", outputs=(i,), nc=nc_d)
        if a == 6 and c != n_anchor:
            return FamilySpec("detector_yolo", outputs=(i,), nc=nc_d, end2end=True)
        tried.append(f"ultralytics detector output {list(shapes[i])} is neither "
                     f"[1, 4+{nc_d}, {n_anchor}] nor [1, max_det, 6]")
    if probe.want("detector_yolo") and family is None and not meta and a == n_anchor and \
            c == 84:
        return FamilySpec("detector_yolo", outputs=(i,), nc=80)  # COCO-80, no metadata
    k_meta = int(kpt_shape[0]) if isinstance(kpt_shape, (list, tuple)) else None
    ndim = int(kpt_shape[1]) if isinstance(kpt_shape, (list, tuple)) and \
        len(kpt_shape) > 1 else 3
    if probe.want("yolo_pose") and (is_pose_meta or family == "yolo_pose"):
        if ndim not in (2, 3):
            tried.append(f"YOLO-pose metadata kpt_shape={kpt_shape!r}: keypoints must have 2 "
                         f"or 3 values")
        else:
            if a == n_anchor or (a != c and c < a):
                k = k_meta if k_meta else (c - 4 - nc) // ndim
                if 4 + nc + ndim * k == c and k > 0:
                    return FamilySpec("yolo_pose", k=k, outputs=(i,), nc=nc, kpt_dim=ndim)
            k = k_meta if k_meta else (a - 6) // ndim
            if a == 6 + ndim * k and k > 0:
                return FamilySpec("yolo_pose", k=k, outputs=(i,), nc=nc, end2end=True,
                                  kpt_dim=ndim)
            tried.append(f"YOLO-pose metadata (kpt_shape={kpt_shape}, {nc} class(es)) but "
                         f"output {list(shapes[i])} does not match [1, 4+nc+{ndim}K, anchors]")
    if probe.want("yolo_pose") and not is_pose_meta and a == n_anchor and (c - 5) % 3 == 0 \
            and c > 5:
        return FamilySpec("yolo_pose", k=(c - 5) // 3, outputs=(i,), nc=1)
    if probe.want("detector_yolox") and c == n_anchor and a >= 6:
        return FamilySpec("detector_yolox", outputs=(i,), nc=a - 5)
    if family in _FAMILIES:
        tried.append(f"output {list(shapes[i])} has neither axis equal to the {n_anchor} "
                     f"anchors of a {w_in}x{h_in} input")
    return None


class YoloPoseAdapter(FamilyAdapter):
    """Ultralytics YOLOv8/11-pose: centred letterbox, RGB / 255, NMS here."""

    family = "yolo_pose"
    centered = True
    default_scale = 1.0 / 255.0
    default_score_threshold = 0.25
    default_nms_threshold = 0.7

    @classmethod
    def match(cls, probe: Probe) -> FamilySpec | None:
        return match_yolo(probe)

    def decode_image(self, outputs: Sequence[np.ndarray], lb: Letterbox) -> list[PosePrediction]:
        boxes, scores, kpts = dec.decode_yolo_pose(
            outputs[0], self.spec.k, self.spec.nc, self.score_threshold, self.nms_threshold,
            end2end=self.spec.end2end, kpt_dim=self.spec.kpt_dim)
        return one_stage_predictions(boxes, scores, kpts, lb)


def one_stage_predictions(boxes: np.ndarray, scores: np.ndarray, kpts: np.ndarray,
                          lb: Letterbox) -> list[PosePrediction]:
    """Boxes, scores and ``(n, K, 3)`` keypoints in letterboxed input pixels -> predictions in
    image pixels (boxes clipped to the frame)."""
    w, h = lb.frame_size
    preds = []
    for b, s, kp in zip(boxes, scores, kpts):
        bb = geo.letterbox_to_image(np.asarray(b).reshape(2, 2), lb.ratio, lb.pad).reshape(4)
        bb = np.clip(bb, 0, [w, h, w, h])
        xy = geo.letterbox_to_image(kp[:, :2], lb.ratio, lb.pad)
        preds.append(PosePrediction(xy, kp[:, 2].astype(np.float32), bb, float(s), None))
    return preds


class YoloDetectorAdapter(FamilyAdapter):
    """Ultralytics YOLOv8/11 detector (a person detector for top-down models)."""

    family = "detector_yolo"
    kind = "detector"
    centered = True
    default_scale = 1.0 / 255.0
    default_score_threshold = 0.3
    default_nms_threshold = 0.7

    @classmethod
    def match(cls, probe: Probe) -> FamilySpec | None:
        return match_yolo(probe)

    def decode_boxes(self, outputs: Sequence[np.ndarray],
                     input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        person = int(self.card.extra.get("person_class", 0))
        boxes, scores = dec.decode_yolo_detect(outputs[0], self.spec.nc, self.score_threshold,
                                               self.nms_threshold, self.spec.end2end, person)
        return boxes, scores, np.full(len(scores), person, np.int64)


class YoloxAdapter(FamilyAdapter):
    """Megvii YOLOX export (no NMS): raw 0..255 BGR, top-left letterbox padded with 114."""

    family = "detector_yolox"
    kind = "detector"
    default_color = "bgr"
    default_score_threshold = 0.5

    @classmethod
    def match(cls, probe: Probe) -> FamilySpec | None:
        return match_yolo(probe)

    def decode_boxes(self, outputs: Sequence[np.ndarray],
                     input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return dec.decode_yolox_raw(outputs[0], input_hw, self.score_threshold,
                                    self.nms_threshold)

    def params(self) -> dict[str, Any]:
        return {"classes": self.spec.nc}
