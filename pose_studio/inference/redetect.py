"""Re-running a top-down model on crops chosen by the labeling tools.

Propagation knows where a person is on the next frame (the flow from a person's fix), which is
a better crop than a detector's box: :class:`CropRedetector` runs the model there and returns
each prediction with its heatmap peaks (:class:`~pose_studio.core.candidates.KeypointCandidates`),
the shape ``pose_studio.labeling.model_step.Redetect`` expects.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pose_studio.core.annotation import Instance
from pose_studio.core.candidates import KeypointCandidates
from pose_studio.inference.errors import InferenceError
from pose_studio.inference.model import PoseModel

__all__ = ["CropRedetector"]


class CropRedetector:
    """``redetector(frame, boxes)``: the model's prediction in each box of that frame (None
    where its person score is under the model's threshold) with the heatmap peaks.

    Args:
        model: A top-down pose model (heatmap or SimCC: peaks come from its maps).
        get_frame: ``frame index -> BGR image``; the last frame read is kept.
        max_peaks: Peaks kept per keypoint.
    """

    def __init__(self, model: PoseModel, get_frame: Callable[[int], np.ndarray], *,
                 max_peaks: int = 4) -> None:
        if not model.top_down:
            raise InferenceError(f"{model.name} is a one-stage model ({model.family}): "
                                 "re-running it on a person's crop needs a top-down model")
        self.model = model
        self._get = get_frame
        self.max_peaks = max_peaks
        self._cached: tuple[int, np.ndarray] | None = None
        self.crops = 0  # how many crops it has run (for progress and benchmarks)

    def _frame(self, i: int) -> np.ndarray:
        if self._cached is None or self._cached[0] != i:
            self._cached = (i, self._get(i))
        return self._cached[1]

    def __call__(self, frame: int, boxes: np.ndarray
                 ) -> list[tuple[Instance, KeypointCandidates | None] | None]:
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(b) == 0:
            return []
        img = self._frame(frame)
        size = (int(img.shape[1]), int(img.shape[0]))
        preds = self.model.predict_crops(img, b, keep_maps=True)
        self.crops += len(b)
        out: list[tuple[Instance, KeypointCandidates | None] | None] = []
        for p in preds:
            if p.score < self.model.score_threshold:
                out.append(None)
                continue
            cand = p.maps.candidates(self.max_peaks) if p.maps is not None else None
            out.append((p.to_instance(self.model.keypoint_threshold, size), cand))
        return out
