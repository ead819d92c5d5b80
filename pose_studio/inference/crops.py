"""What pre-processing hands a model: person crops (:class:`CropBatch`) and a letterboxed frame
(:class:`Letterbox`). Plain values shared by the models and their family adapters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CropBatch", "Letterbox"]


@dataclass(frozen=True, eq=False)
class CropBatch:
    """Pre-processed person crops: the model input and how to map results back.

    Attributes:
        tensor: ``(n, 3, h, w)`` (or ``(n, h, w, 3)``) model input.
        affines: ``(n, 2, 3)`` image -> crop-input affines.
        boxes: ``(n, 4)`` xyxy person boxes in image pixels.
        box_scores: ``(n,)`` detector scores (1 for user/full-frame boxes).
    """

    tensor: np.ndarray
    affines: np.ndarray
    boxes: np.ndarray
    box_scores: np.ndarray

    def __len__(self) -> int:
        return int(self.tensor.shape[0])

    @staticmethod
    def concat(batches: Sequence[CropBatch]) -> CropBatch:
        if len(batches) == 1:  # no copy of the (large) tensor
            return batches[0]
        return CropBatch(np.concatenate([b.tensor for b in batches]),
                         np.concatenate([b.affines for b in batches]),
                         np.concatenate([b.boxes for b in batches]),
                         np.concatenate([b.box_scores for b in batches]))


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the model input (resize ratio, ``(left, top)`` padding)."""

    ratio: float
    pad: tuple[int, int]
    frame_size: tuple[int, int]  # (W, H)
