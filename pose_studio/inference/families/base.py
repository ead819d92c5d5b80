"""What every model family provides: how it is recognised, pre-processed and decoded.

A family is one :class:`FamilyAdapter` subclass in its own module under ``families/``, listed
in ``families/__init__.py`` (the order there is the order in which files are matched). Adding a
family is that module, its line in the registry and a planted test model.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pose_studio.inference.card import ModelCard

if TYPE_CHECKING:  # pragma: no cover
    from pose_studio.inference.crops import CropBatch, Letterbox
    from pose_studio.inference.results import PosePrediction

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
#: mmdet RTMDet's (and NanoDet's) data preprocessor, in BGR order (``bgr_to_rgb=False``).
RTMDET_MEAN_BGR = (103.53, 116.28, 123.675)
RTMDET_STD_BGR = (57.375, 57.12, 58.395)
STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class FamilySpec:
    """The decoded layout of a model's outputs.

    Attributes:
        family: One of :data:`pose_studio.inference.card.FAMILIES`.
        k: Number of keypoints (pose families).
        outputs: Indices of the outputs used, in the order the adapter decodes them.
        stride: Heatmap stride (x, y) in input pixels per heatmap pixel.
        split_ratio: SimCC bins per input pixel.
        nc: Number of classes (detectors, YOLO models).
        end2end: YOLO export with NMS inside (rows of x1,y1,x2,y2,score,class,...).
        kpt_dim: Values per YOLO-pose keypoint: 3 (x, y, visibility) or 2 (x, y).
        strides: Per output level, the stride of raw detector heads (RTMDet, NanoDet).
        channels_last: The used outputs are channels-last (TensorFlow exports).
        extra: Family-specific facts found in the shapes (e.g. NanoDet's ``reg_max``).
    """

    family: str
    k: int = 0
    outputs: tuple[int, ...] = (0,)
    stride: tuple[float, float] = (0.0, 0.0)
    split_ratio: float = 0.0
    nc: int = 1
    end2end: bool = False
    kpt_dim: int = 3
    strides: tuple[int, ...] = ()
    channels_last: bool = False
    extra: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.extra).get(key, default)


@dataclass
class Probe:
    """What detection sees of a model: its input and the outputs of one probe run."""

    input_size: tuple[int, int]  # (w, h)
    outputs: Sequence[tuple[str, tuple[int, ...]]]
    metadata: Mapping[str, str] = field(default_factory=dict)
    family: str | None = None  # stated by a model card
    layout: str = "nchw"  # of the image input
    input_dtype: str = "float32"
    tried: list[str] = field(default_factory=list)  # why families did not fit

    @property
    def names(self) -> list[str]:
        return [n.lower() for n, _ in self.outputs]

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        return [tuple(int(d) for d in s) for _, s in self.outputs]

    def want(self, family: str) -> bool:
        return self.family is None or self.family == family


#: Longest metadata value parsed as a Python literal (ultralytics' ``names`` of a thousand
#: classes fits many times over); longer values stay text.
MAX_LITERAL_CHARS = 1 << 20


def literal(meta: Mapping[str, str], key: str) -> Any:
    """An ultralytics metadata value (written with ``str(python_obj)``), or None. A value that
    is not a literal stays the text it is (the caller finds it is not what it needs)."""
    if key not in meta:
        return None
    text = meta[key]
    if len(text) > MAX_LITERAL_CHARS:
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        # RecursionError and MemoryError ("parser stack overflowed"): a crafted value nested
        # thousands of levels deep (``-------1``), not a lack of memory
        return text


def anchors(h: int, w: int, strides: Sequence[int] = STRIDES) -> int:
    return sum((h // s) * (w // s) for s in strides)


@dataclass(frozen=True)
class Preprocessing:
    """How a frame becomes the model input.

    Attributes:
        mean, std: Per channel, in the model's channel order; None: not applied.
        rgb: Swap the BGR frame to RGB.
        scale: Multiply pixel values first (1/255 for 0..1 models).
        fit: ``crop`` (top-down person crops), ``letterbox`` (keep the aspect ratio, pad) or
            ``pad`` (TensorFlow's ``resize_with_pad``: centred, floor rounding).
        centered: Letterbox padding on both sides (else bottom/right only).
        pad_value: Letterbox padding value.
    """

    mean: tuple[float, float, float] | None
    std: tuple[float, float, float] | None
    rgb: bool
    scale: float = 1.0
    fit: str = "letterbox"
    centered: bool = False
    pad_value: int = 114


class FamilyAdapter:
    """Base of the per-family adapters. Class attributes state the family's defaults; a model
    card or ``pipeline.json`` overrides mean/std/colour and the thresholds."""

    family: ClassVar[str] = ""
    kind: ClassVar[str] = "pose"  # "pose" | "detector"
    top_down: ClassVar[bool] = False
    fit: ClassVar[str] = "letterbox"
    centered: ClassVar[bool] = False
    pad_value: ClassVar[int] = 114
    default_mean: ClassVar[tuple[float, float, float] | None] = None
    default_std: ClassVar[tuple[float, float, float] | None] = None
    default_color: ClassVar[str] = "rgb"
    default_scale: ClassVar[float] = 1.0
    default_score_threshold: ClassVar[float] = 0.0
    default_keypoint_threshold: ClassVar[float] = 0.3
    default_nms_threshold: ClassVar[float] = 0.45
    #: an input size assumed when the file and its card leave it open (with a warning)
    assumed_input_size: ClassVar[tuple[int, int] | None] = None

    @classmethod
    def match(cls, probe: Probe) -> FamilySpec | None:
        """The spec when ``probe`` looks like this family; else None (reasons in
        ``probe.tried``)."""
        raise NotImplementedError

    def __init__(self, spec: FamilySpec, card: ModelCard, input_size: tuple[int, int],
                 path: Path, warnings: list[str], input_dtype: str = "float32") -> None:
        self.spec = spec
        self.card = card
        self.input_size = input_size
        self.path = path
        self.warnings = warnings
        integer_input = input_dtype in ("uint8", "int32", "int64")
        mean = card.mean if card.mean is not None else self.default_mean
        std = card.std if card.std is not None else self.default_std
        scale = self.default_scale if card.mean is None else 1.0
        if integer_input:  # raw pixels: nothing to normalise
            mean = std = None
            scale = 1.0
        self.pre = Preprocessing(mean, std, (card.color or self.default_color) == "rgb",
                                 scale, self.fit, self.centered, self.pad_value)
        self.score_threshold = card.score_threshold if card.score_threshold is not None \
            else self.default_score_threshold
        self.keypoint_threshold = card.keypoint_threshold \
            if card.keypoint_threshold is not None else self.default_keypoint_threshold
        self.nms_threshold = card.nms_threshold if card.nms_threshold is not None \
            else self.default_nms_threshold

    def params(self) -> dict[str, Any]:
        """Family settings for the model-run record."""
        return {}

    # --- pose families ---------------------------------------------------------------------
    def combine_flip(self, used: list[np.ndarray], flipped: list[np.ndarray],
                     flip_perm: np.ndarray) -> list[np.ndarray]:
        """Top-down flip test: average the outputs of the mirrored crops (default: none)."""
        return used

    def decode_crops(self, outputs: Sequence[np.ndarray], batch: CropBatch,
                     keep_maps: bool) -> list[PosePrediction]:
        """Top-down outputs -> one prediction per crop, in image pixels."""
        raise NotImplementedError(f"{self.family} is not a top-down family")

    def decode_image(self, outputs: Sequence[np.ndarray], lb: Letterbox) -> list[PosePrediction]:
        """One frame's one-stage outputs (batch axis dropped) -> predictions in image pixels."""
        raise NotImplementedError(f"{self.family} is not a one-stage family")

    # --- detectors -------------------------------------------------------------------------
    def decode_boxes(self, outputs: Sequence[np.ndarray],
                     input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One frame's detector outputs -> ``boxes xyxy (n, 4)`` in model-input pixels,
        ``scores (n,)`` and ``classes (n,)`` (-1 when the model has no class output)."""
        raise NotImplementedError(f"{self.family} is not a detector family")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * np.asarray(x, dtype=np.float64)) + 1.0)
