"""Result types: per-person predictions with their maps, per-frame results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from pose_studio.core import geometry as geo
from pose_studio.core.annotation import Instance, InstanceKind, Visibility
from pose_studio.core.candidates import KeypointCandidates, local_peaks
from pose_studio.inference import decode as dec


@dataclass(frozen=True, eq=False)
class CropMaps:
    """A person's raw model output, kept for drawing over the frame.

    Attributes:
        kind: ``heatmap`` (``maps`` is ``(K, h, w)``) or ``simcc`` (``simcc_x (K, Wx)`` and
            ``simcc_y (K, Hy)``; the 2-D map is their outer product).
        map_to_image: 2x3 affine from map pixels to image pixels (crop affine inverted and
            scaled by the stride or 1/split ratio).
    """

    kind: Literal["heatmap", "simcc"]
    map_to_image: np.ndarray
    maps: np.ndarray | None = None
    simcc_x: np.ndarray | None = None
    simcc_y: np.ndarray | None = None
    dark_kernel: int = 11  # the blur of DARK's sub-pixel step (the model's heatmap sigma)

    def keypoint_map(self, keypoint: int | None = None) -> np.ndarray:
        """One ``(h, w)`` float32 map in map pixels: one keypoint, or the max over all."""
        if self.kind == "heatmap":
            assert self.maps is not None
            m = self.maps if keypoint is None else self.maps[keypoint:keypoint + 1]
            return np.clip(m.max(axis=0), 0.0, None).astype(np.float32)
        assert self.simcc_x is not None and self.simcc_y is not None
        sx, sy = self.simcc_x, self.simcc_y
        if keypoint is not None:
            sx, sy = sx[keypoint:keypoint + 1], sy[keypoint:keypoint + 1]
        sx = np.clip(sx, 0.0, None)
        sy = np.clip(sy, 0.0, None)
        return (sy[:, :, None] * sx[:, None, :]).max(axis=0).astype(np.float32)

    def candidates(self, max_peaks: int = 4, min_rel: float = 0.1) -> KeypointCandidates:
        """Each keypoint's map peaks (the argmax and the places the model also considered),
        in image pixels, strongest first: see :mod:`pose_studio.core.candidates`. Heatmap
        peaks get DARK's sub-pixel step, as the prediction's own keypoints do."""
        k = len(self.maps) if self.kind == "heatmap" and self.maps is not None else \
            len(self.simcc_x) if self.simcc_x is not None else 0
        a = np.asarray(self.map_to_image, dtype=np.float64).reshape(2, 3)
        per_kp: list[list[tuple[float, float, float]]] = []
        for j in range(k):
            m = self.keypoint_map(j).astype(np.float64)
            pk = local_peaks(m, max_peaks, min_rel, subpixel=self.kind != "heatmap")
            if self.kind == "heatmap" and pk:
                locs = np.array([[(x, y) for x, y, _ in pk]])
                maps = np.repeat(m[None, None].astype(np.float32), len(pk), axis=1)
                locs = dec.refine_dark(locs, maps, self.dark_kernel)[0]
                pk = [(float(x), float(y), v) for (x, y), (_, _, v) in zip(locs, pk)]
            per_kp.append([(float(p[0]), float(p[1]), v) for x, y, v in pk
                           for p in [a @ np.array([x, y, 1.0])]])
        return KeypointCandidates.from_peaks(per_kp, max_peaks)

    def to_image(self, frame_size: tuple[int, int], keypoint: int | None = None) -> np.ndarray:
        """The map warped into image space: ``(H, W)`` float32 for ``frame_size (W, H)``."""
        m = self.keypoint_map(keypoint)
        # map pixel centres sit at integer coordinates, as the decoded keypoints do
        return cv2.warpAffine(m, self.map_to_image.astype(np.float64), frame_size,
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=0)


@dataclass(frozen=True, eq=False)
class PosePrediction:
    """One person: keypoints in image pixels, scores, box and (top-down) maps."""

    xy: np.ndarray  # (K, 2)
    scores: np.ndarray  # (K,)
    box_xyxy: np.ndarray  # (4,)
    score: float
    maps: CropMaps | None = None

    def to_instance(self, keypoint_threshold: float = 0.3,
                    frame_size: tuple[int, int] | None = None) -> Instance:
        """A core predicted Instance: visible where the score passes the threshold, else 0.

        A keypoint outside the frame (``frame_size`` (W, H) given; the frame spans
        ``[0, W] x [0, H]``) gets visibility 0 with x = y = 0, as COCO writes a keypoint that is
        not in the image; its score is kept. Pycocotools then ignores it in OKS, and no export
        writes a visible point at y = 727 of a 720-high frame. NaN or infinite coordinates are
        the same "no keypoint".
        """
        valid = np.isfinite(self.xy).all(axis=1) & (self.scores > 0)
        if frame_size is not None:
            w, h = frame_size
            with np.errstate(invalid="ignore"):
                inside = (self.xy[:, 0] >= 0) & (self.xy[:, 0] <= w) & \
                    (self.xy[:, 1] >= 0) & (self.xy[:, 1] <= h)
            valid &= inside
        vis = np.where(valid & (self.scores >= keypoint_threshold), int(Visibility.VISIBLE),
                       int(Visibility.UNLABELED)).astype(np.uint8)
        xy = np.where(valid[:, None], self.xy, 0.0)
        scores = np.nan_to_num(self.scores.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        bx = geo.xyxy_to_xywh(self.box_xyxy)
        return Instance(xy=xy, visibility=vis, kind=InstanceKind.PREDICTED,
                        kp_scores=scores, score=float(self.score),
                        bbox=(float(bx[0]), float(bx[1]), float(bx[2]), float(bx[3])))


@dataclass(frozen=True, eq=False)
class FrameResult:
    """The predictions of one frame.

    Attributes:
        frame_idx: Frame index in the video.
        instances: Predicted core Instances (kind PREDICTED, no store ids yet).
        maps: Per instance, its :class:`CropMaps` (None for one-stage models or when maps
            were not kept); same order as ``instances``.
        frame_size: ``(W, H)`` of the frame.
    """

    frame_idx: int
    instances: tuple[Instance, ...]
    maps: tuple[CropMaps | None, ...] = ()
    frame_size: tuple[int, int] = (0, 0)

    def heatmap_image(self, keypoint: int | None = None,
                      frame_size: tuple[int, int] | None = None) -> np.ndarray | None:
        """Max over instances of their maps in image space ``(H, W)``, or None if no maps."""
        size = frame_size or self.frame_size
        out: np.ndarray | None = None
        for m in self.maps:
            if m is None:
                continue
            img = m.to_image(size, keypoint)
            out = img if out is None else np.maximum(out, img)
        return out
