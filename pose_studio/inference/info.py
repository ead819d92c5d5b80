"""A frozen description of loaded models, for the window and the application layer.

Callers decide with ``top_down`` (give the model person boxes) and ``kind``; they never compare
family names, so a new family needs no change outside ``inference/families``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pose_studio.core.skeleton import Skeleton
from pose_studio.inference.model import DetectorModel, PoseModel


@dataclass(frozen=True)
class ModelInfo:
    """What the window shows about the loaded pose model (and its detector).

    Attributes:
        top_down: The pose model predicts person crops: it needs boxes (the detector's, the
            labels', or the whole frame). False: it finds the people itself.
        family: For display only (``heatmap``, ``movenet``, ...).
        keypoints, skeleton: The model's keypoint layout.
        input_size: ``(w, h)`` the model runs at.
        providers: What ONNX Runtime registered, best first.
        warnings: Load-time warnings (provider fallbacks, assumed sizes, side files ignored).
        model_hash: sha256 of the pose model file.
    """

    pose_path: str
    detector_path: str | None
    family: str
    top_down: bool
    keypoints: tuple[str, ...]
    skeleton: Skeleton
    input_size: tuple[int, int]
    providers: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    requested_provider: str = "auto"
    model_hash: str = ""
    detector_family: str | None = None

    @property
    def needs_boxes(self) -> bool:
        """Top-down without a detector: the caller supplies person boxes (or the whole frame)."""
        return self.top_down and self.detector_path is None


def model_info(pose: PoseModel, detector: DetectorModel | None = None, *,
               requested_provider: str = "auto") -> ModelInfo:
    """The description of a loaded pose model (and detector); hashes the file (call it off the
    GUI thread)."""
    warnings: list[Any] = list(pose.warnings) + (list(detector.warnings) if detector else [])
    return ModelInfo(
        pose_path=str(pose.path), detector_path=str(detector.path) if detector else None,
        family=pose.family, top_down=pose.top_down, keypoints=pose.keypoint_names,
        skeleton=pose.skeleton, input_size=pose.input_size,
        providers=tuple(pose.providers), warnings=tuple(dict.fromkeys(str(w) for w in warnings)),
        requested_provider=requested_provider, model_hash=pose.model_hash,
        detector_family=detector.family if detector else None)
