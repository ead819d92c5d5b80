"""Loaded models: a :class:`PoseModel` or a :class:`DetectorModel` over one ONNX session.

The family-specific parts (defaults, decoding) live in the adapters of
:mod:`pose_studio.inference.families`; these classes pre-process, run, check the outputs and
hand them to their adapter. :func:`pose_studio.inference.load.load_model` builds them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core import geometry as geo
from pose_studio.core.skeleton import Skeleton
from pose_studio.inference.card import ModelCard
from pose_studio.inference.crops import CropBatch, Letterbox
from pose_studio.inference.errors import InferenceError, ModelError
from pose_studio.inference.families import FamilyAdapter, FamilySpec
from pose_studio.inference.preprocess import as_bgr, letterbox, pad_resize, to_tensor, warp_crops
from pose_studio.inference.results import PosePrediction
from pose_studio.inference.session import OnnxSession


def external_data_files(path: Path, max_graph_bytes: int = 64 << 20) -> list[Path]:
    """Files beside ``path`` that hold its external tensor data (torch's dynamo exporter and
    models over 2 GB write ``<name>.onnx.data``), found by their names in the graph file.

    Graph files with external data are small, so larger ones are not searched.
    """
    try:
        if path.stat().st_size > max_graph_bytes:
            return []
        data = path.read_bytes()
        siblings = sorted(f for f in path.parent.iterdir() if f.is_file() and f != path)
    except OSError:
        return []
    return [f for f in siblings if f.suffix.lower() not in (".onnx", ".json")
            and f.name.encode() in data]


class _OnnxModel:
    """What pose models and detectors share: the session, adapter, card, hash."""

    def __init__(self, path: Path, sess: OnnxSession, card: ModelCard, adapter: FamilyAdapter,
                 input_size: tuple[int, int], load_ms: float) -> None:
        self.path = path
        self.session = sess
        self.card = card
        self.adapter = adapter
        self.spec: FamilySpec = adapter.spec
        self.family = adapter.spec.family
        self.input_size = input_size  # (w, h)
        self.name = card.name or path.stem
        self.warnings: list[str] = sess.warnings  # shared: the session adds run-time ones
        self.load_ms = load_ms
        self._hash: str | None = None
        pre = adapter.pre
        self.mean, self.std, self.rgb, self.scale = pre.mean, pre.std, pre.rgb, pre.scale
        self.centered = pre.centered

    @property
    def top_down(self) -> bool:
        """True when the model predicts person crops (needs boxes: a detector, the user's, or
        the whole frame); False when it finds the people itself (and for detectors)."""
        return self.adapter.top_down

    @property
    def score_threshold(self) -> float:
        return self.adapter.score_threshold

    @score_threshold.setter
    def score_threshold(self, v: float) -> None:
        self.adapter.score_threshold = float(v)

    @property
    def nms_threshold(self) -> float:
        return self.adapter.nms_threshold

    @property
    def providers(self) -> list[str]:
        """Providers ORT actually registered (best first)."""
        return self.session.providers

    @property
    def requested_providers(self) -> list[str]:
        return list(self.session.requested_providers)

    @property
    def batch_size(self) -> int | None:
        """The static batch size, or None when the batch axis is dynamic."""
        return self.session.static_batch

    @property
    def model_hash(self) -> str:
        """sha256 of the model file and its external-data files (hex)."""
        if self._hash is None:
            h = hashlib.sha256()
            for f in (self.path, *external_data_files(self.path)):
                with f.open("rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
            self._hash = h.hexdigest()
        return self._hash

    def params(self) -> dict[str, Any]:
        """Settings for the model-run record."""
        return {"family": self.family, "input_size": list(self.input_size),
                "name": self.name, "batch_size": self.batch_size,
                "layout": self.session.layout, **self.adapter.params()}

    def describe(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "name": self.name, "family": self.family,
            "top_down": self.top_down, "input_size": list(self.input_size),
            "batch": self.batch_size or ("1 (declared dynamic, does not batch)"
                                         if self.session.batch_limit else "dynamic"),
            "inputs": [str(t) for t in self.session.inputs],
            "outputs": [str(t) for t in self.session.outputs],
            "providers": self.providers, "requested_providers": self.requested_providers,
            "warnings": list(self.warnings), "card": str(self.card.path) if self.card.path
            else None, **self.params(),
        }

    def _frame(self, frame: np.ndarray) -> np.ndarray:
        try:
            return as_bgr(np.asarray(frame))
        except ValueError as exc:
            raise InferenceError(f"{self.path.name}: cannot use this frame: {exc}") from None

    def _tensor(self, images: np.ndarray) -> np.ndarray:
        return to_tensor(images, self.mean, self.std, self.rgb, self.scale,
                         self.session.input_dtype, self.session.layout)

    def _prep_whole(self, frame: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """The whole frame fitted into the input: letterbox or TensorFlow's resize_with_pad."""
        frame = self._frame(frame)
        if self.adapter.pre.fit == "pad":
            canvas, r, pad = pad_resize(frame, self.input_size)
        else:
            canvas, r, pad = letterbox(frame, self.input_size, centered=self.centered,
                                       pad_value=self.adapter.pre.pad_value)
        x = self._tensor(canvas[None])
        return x, Letterbox(r, pad, (int(frame.shape[1]), int(frame.shape[0])))

    def _used(self, outs: Sequence[np.ndarray], what: str) -> list[np.ndarray]:
        """The outputs the family decodes; NaN or infinite values are refused, never stored."""
        used = [outs[j] for j in self.spec.outputs]
        for j, o in zip(self.spec.outputs, used):
            if o.dtype.kind == "f" and not np.isfinite(o).all():
                name = self.session.outputs[j].name if j < len(self.session.outputs) else j
                raise ModelError(f"{self.path.name}: the model gave NaN or infinite values "
                                 f"(output {name!r}, {what}); nothing of it is stored. The "
                                 f"file is broken for this input (an FP16 overflow or a bad "
                                 f"conversion?)")
        return used


class PoseModel(_OnnxModel):
    """A pose model: top-down (``heatmap``, ``simcc``, ``blazepose``) or one-stage
    (``yolo_pose``, ``rtmo``, ``movenet``).

    Attributes:
        family: The family name; ``top_down`` says which of the two kinds it is.
        skeleton: Keypoint layout (:class:`Skeleton`).
        keypoint_names: Names in output order.
        providers: What ORT registered; ``warnings``: provider fallbacks, install problems.
        input_size: ``(w, h)`` of the model input.
        keypoint_threshold: Keypoints below it are stored with visibility 0.
        score_threshold: People below it are dropped.
    """

    def __init__(self, path: Path, sess: OnnxSession, card: ModelCard, adapter: FamilyAdapter,
                 input_size: tuple[int, int], skeleton: Skeleton, load_ms: float) -> None:
        super().__init__(path, sess, card, adapter, input_size, load_ms)
        self.skeleton = skeleton
        self.box_padding = card.box_padding or 1.25
        self.flip_test = bool(card.flip_test)
        if card.flip_pairs is not None:
            perm = np.arange(self.spec.k)
            for a, b in card.flip_pairs:
                perm[a], perm[b] = b, a
            self.flip_perm = perm
        else:
            self.flip_perm = skeleton.flip_permutation()

    @property
    def keypoint_threshold(self) -> float:
        return self.adapter.keypoint_threshold

    @keypoint_threshold.setter
    def keypoint_threshold(self, v: float) -> None:
        self.adapter.keypoint_threshold = float(v)

    @property
    def refine(self) -> str:
        """Heatmap sub-pixel refinement (heatmap family)."""
        return str(getattr(self.adapter, "refine", "none"))

    @refine.setter
    def refine(self, v: str) -> None:
        self.adapter.refine = v  # type: ignore[attr-defined]

    @property
    def dark_kernel(self) -> int:
        return int(getattr(self.adapter, "dark_kernel", 0))

    @property
    def keypoint_names(self) -> tuple[str, ...]:
        return self.skeleton.keypoints

    @property
    def num_keypoints(self) -> int:
        return self.skeleton.num_keypoints

    def params(self) -> dict[str, Any]:
        p = super().params()
        p.update(skeleton=self.skeleton.name, keypoints=self.num_keypoints,
                 mean=self.mean, std=self.std, color="rgb" if self.rgb else "bgr",
                 box_padding=self.box_padding, keypoint_threshold=self.keypoint_threshold,
                 score_threshold=self.score_threshold)
        if self.top_down:
            p.update(flip_test=self.flip_test)
        return p

    # --- top-down ---------------------------------------------------------------------------
    def prepare_crops(self, frame: np.ndarray, boxes_xyxy: Any,
                      box_scores: Any = None) -> CropBatch:
        """Crop and normalise the person boxes of one frame (None: the whole frame)."""
        frame = self._frame(frame)
        if boxes_xyxy is None:
            h, w = frame.shape[:2]
            boxes = np.array([[0.0, 0.0, float(w), float(h)]])
        else:
            boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        scores = np.ones(len(boxes), np.float32) if box_scores is None else \
            np.asarray(box_scores, dtype=np.float32).reshape(-1)
        crops, affines, _, _ = warp_crops(frame, boxes, self.input_size, self.box_padding)
        return CropBatch(self._tensor(crops), affines, boxes, scores)

    def infer_crops(self, tensor: np.ndarray, max_batch: int = 32) -> list[np.ndarray]:
        """Run the crops (all in as few runs as the batch axis allows); flip test if enabled."""
        if len(tensor) == 0:
            return []
        used = self._used(self.session.run(tensor, max_batch), f"{len(tensor)} crop(s)")
        if self.flip_test:
            w_axis = 2 if self.session.layout == "nhwc" else 3
            flipped = np.ascontiguousarray(np.flip(tensor, axis=w_axis))
            fo = self._used(self.session.run(flipped, max_batch), "mirrored crops")
            used = self.adapter.combine_flip(used, fo, self.flip_perm)
        return used

    def decode_crops(self, outputs: Sequence[np.ndarray], batch: CropBatch,
                     keep_maps: bool = True) -> list[PosePrediction]:
        """Decode top-down outputs to image-space predictions (one per crop)."""
        if len(batch) == 0:
            return []
        return self.adapter.decode_crops(outputs, batch, keep_maps)

    def predict_crops(self, frame: np.ndarray, boxes_xyxy: Any = None, box_scores: Any = None,
                      *, keep_maps: bool = True, max_batch: int = 32) -> list[PosePrediction]:
        """Top-down prediction for the given boxes (None: the whole frame)."""
        batch = self.prepare_crops(frame, boxes_xyxy, box_scores)
        return self.decode_crops(self.infer_crops(batch.tensor, max_batch), batch, keep_maps)

    # --- one-stage --------------------------------------------------------------------------
    def prepare_image(self, frame: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """Fit and normalise a whole frame for a one-stage model."""
        return self._prep_whole(frame)

    def infer_images(self, tensor: np.ndarray, max_batch: int = 8) -> list[list[np.ndarray]]:
        """Run fitted frames; per frame, the used outputs (batch axis dropped)."""
        if self.session.static_batch is None and self.family == "yolo_pose":
            used = self._used(self.session.run(tensor, max_batch), f"{len(tensor)} frame(s)")
            return [[o[i] for o in used] for i in range(len(tensor))]
        res = []
        for i in range(len(tensor)):
            used = self._used(self.session.run(tensor[i:i + 1]), "a frame")
            res.append([o[0] for o in used])
        return res

    def decode_image(self, outputs: Sequence[np.ndarray], lb: Letterbox) -> list[PosePrediction]:
        """One frame's one-stage outputs -> predictions in image pixels."""
        return self.adapter.decode_image(outputs, lb)

    def predict_image(self, frame: np.ndarray) -> list[PosePrediction]:
        x, lb = self.prepare_image(frame)
        return self.decode_image(self.infer_images(x)[0], lb)

    def predict(self, frame: np.ndarray, boxes_xyxy: Any = None, *,
                keep_maps: bool = True) -> list[PosePrediction]:
        """Predict one frame (top-down: the boxes or the whole frame; one-stage: the frame)."""
        if self.top_down:
            return self.predict_crops(frame, boxes_xyxy, keep_maps=keep_maps)
        return self.predict_image(frame)


class DetectorModel(_OnnxModel):
    """A person detector: mmdeploy end2end (NMS inside), raw YOLOX, ultralytics YOLO, raw
    RTMDet or NanoDet heads (decoded and NMS'd here)."""

    def __init__(self, path: Path, sess: OnnxSession, card: ModelCard, adapter: FamilyAdapter,
                 input_size: tuple[int, int], load_ms: float) -> None:
        super().__init__(path, sess, card, adapter, input_size, load_ms)
        self.person_class = int(card.extra.get("person_class", 0))

    def params(self) -> dict[str, Any]:
        p = super().params()
        p.update(score_threshold=self.score_threshold, nms_threshold=self.nms_threshold,
                 person_class=self.person_class)
        return p

    def prepare(self, frame: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """Letterbox: top-left with 114 (mmdet, YOLOX), centred (ultralytics, NanoDet)."""
        return self._prep_whole(frame)

    def infer(self, tensor: np.ndarray) -> list[list[np.ndarray]]:
        """Run letterboxed frames one at a time (detectors' outputs vary in length)."""
        res = []
        for i in range(len(tensor)):
            outs = self.session.run_once(tensor[i:i + 1]) if self.batch_size in (None, 1) \
                else self.session.run(tensor[i:i + 1])
            res.append([o[0] for o in self._used(outs, "a frame")])
        return res

    def decode(self, outputs: Sequence[np.ndarray], lb: Letterbox) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes ``(n, 4)`` xyxy in image pixels and their scores ``(n,)``, best first."""
        w_in, h_in = self.input_size
        boxes, scores, classes = self.adapter.decode_boxes(outputs, (h_in, w_in))
        keep = (classes == self.person_class) | (classes < 0)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)[keep]
        scores = np.asarray(scores, np.float64).reshape(-1)[keep]
        boxes = geo.letterbox_to_image(boxes.reshape(-1, 2, 2), lb.ratio, lb.pad).reshape(-1, 4)
        fw, fh = lb.frame_size
        boxes = np.clip(boxes, 0, [fw, fh, fw, fh])
        ok = (boxes[:, 2] - boxes[:, 0] > 1) & (boxes[:, 3] - boxes[:, 1] > 1)
        order = np.argsort(-scores[ok], kind="stable")
        return boxes[ok][order], scores[ok][order].astype(np.float32)

    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, lb = self.prepare(frame)
        return self.decode(self.infer(x)[0], lb)
