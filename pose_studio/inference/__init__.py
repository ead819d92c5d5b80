"""ONNX pose inference: model loading, pre/post-processing, the video pipeline.

Public API::

    from pose_studio.inference import load_model, run_video, predict_frame, stream_to_project
"""

from __future__ import annotations

from pose_studio.inference.card import FAMILIES, ModelCard, read_card
from pose_studio.inference.errors import InferenceError, ModelError
from pose_studio.inference.info import ModelInfo, model_info
from pose_studio.inference.load import load_model
from pose_studio.inference.model import (
    CropBatch,
    DetectorModel,
    Letterbox,
    PoseModel,
)
from pose_studio.inference.pipeline import (
    create_model_run,
    predict_frame,
    run_video,
    stream_to_project,
)
from pose_studio.inference.providers import (
    duplicate_ort_message,
    installed_ort_distributions,
    select_providers,
)
from pose_studio.inference.results import CropMaps, FrameResult, PosePrediction

__all__ = [
    "FAMILIES",
    "CropBatch",
    "CropMaps",
    "DetectorModel",
    "FrameResult",
    "InferenceError",
    "Letterbox",
    "ModelCard",
    "ModelError",
    "ModelInfo",
    "PoseModel",
    "PosePrediction",
    "create_model_run",
    "duplicate_ort_message",
    "installed_ort_distributions",
    "load_model",
    "model_info",
    "predict_frame",
    "read_card",
    "run_video",
    "select_providers",
    "stream_to_project",
]
