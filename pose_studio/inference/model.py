"""Loading user-supplied ONNX pose models and person detectors.

``load_model`` inspects the session (inputs, outputs, metadata), reads an optional model card
and mmdeploy ``pipeline.json`` beside the file, probes the model once (warm-up) and returns a
:class:`PoseModel` or a :class:`DetectorModel` that pre-processes, runs and decodes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core import geometry as geo
from pose_studio.core.skeleton import BUILTIN_SKELETONS, Skeleton, SkeletonError, get_skeleton
from pose_studio.inference import decode as dec
from pose_studio.inference.card import CARD_HELP, ModelCard, read_card
from pose_studio.inference.errors import InferenceError, ModelError
from pose_studio.inference.family import FamilySpec, detect_family, literal
from pose_studio.inference.limits import check_input, check_model_file
from pose_studio.inference.preprocess import as_bgr, letterbox, to_tensor, warp_crops
from pose_studio.inference.providers import CPU
from pose_studio.inference.results import CropMaps, PosePrediction
from pose_studio.inference.session import OnnxSession

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
POSE_FAMILIES = ("heatmap", "simcc", "yolo_pose", "rtmo")
TOP_DOWN = ("heatmap", "simcc")
DETECTOR_FAMILIES = ("detector_end2end", "detector_yolox", "detector_yolo")


@dataclass(frozen=True, eq=False)
class CropBatch:
    """Pre-processed person crops: the model input and how to map results back.

    Attributes:
        tensor: ``(n, 3, h, w)`` float32 model input.
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
    """How a frame was letterboxed into the model input."""

    ratio: float
    pad: tuple[int, int]
    frame_size: tuple[int, int]  # (W, H)


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


def _kernel_for_sigma(sigma: float) -> int:
    k = round(6 * sigma - 1)  # mmpose: 11 for sigma 2, 17 for sigma 3
    return max(3, k if k % 2 == 1 else k + 1)


class _OnnxModel:
    """What pose models and detectors share: the session, providers, card, hash."""

    def __init__(self, path: Path, sess: OnnxSession, card: ModelCard, spec: FamilySpec,
                 input_size: tuple[int, int], load_ms: float) -> None:
        self.path = path
        self.session = sess
        self.card = card
        self.spec = spec
        self.family = spec.family
        self.input_size = input_size  # (w, h)
        self.name = card.name or path.stem
        self.warnings: list[str] = sess.warnings  # shared: the session adds run-time ones
        self.load_ms = load_ms
        self._hash: str | None = None

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
                "name": self.name, "batch_size": self.batch_size}

    def describe(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "name": self.name, "family": self.family,
            "input_size": list(self.input_size),
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

    def _prep_letterbox(self, frame: np.ndarray, *, centered: bool, mean: Any, std: Any,
                        rgb: bool, scale: float) -> tuple[np.ndarray, Letterbox]:
        frame = self._frame(frame)
        canvas, r, pad = letterbox(frame, self.input_size, centered=centered)
        x = to_tensor(canvas[None], mean, std, rgb, scale, self.session.input_dtype)
        return x, Letterbox(r, pad, (int(frame.shape[1]), int(frame.shape[0])))


class PoseModel(_OnnxModel):
    """A pose model: top-down (``heatmap``, ``simcc``) or one-stage (``yolo_pose``, ``rtmo``).

    Attributes:
        family: The family name.
        skeleton: Keypoint layout (:class:`Skeleton`).
        keypoint_names: Names in output order.
        providers: What ORT registered; ``warnings``: provider fallbacks, install problems.
        input_size: ``(w, h)`` of the model input.
        keypoint_threshold: Keypoints below it are stored with visibility 0.
    """

    def __init__(self, path: Path, sess: OnnxSession, card: ModelCard, spec: FamilySpec,
                 input_size: tuple[int, int], skeleton: Skeleton, load_ms: float) -> None:
        super().__init__(path, sess, card, spec, input_size, load_ms)
        self.skeleton = skeleton
        fam = spec.family
        self.top_down = fam in TOP_DOWN
        one_stage_raw = fam in ("yolo_pose", "rtmo")
        self.mean = card.mean if card.mean is not None else (None if one_stage_raw
                                                              else IMAGENET_MEAN)
        self.std = card.std if card.std is not None else (None if one_stage_raw
                                                           else IMAGENET_STD)
        default_color = "bgr" if fam == "rtmo" else "rgb"
        self.rgb = (card.color or default_color) == "rgb"
        self.scale = 1.0 / 255.0 if fam == "yolo_pose" and card.mean is None else 1.0
        self.box_padding = card.box_padding or 1.25
        self.refine = card.refine or "dark"  # dark | dark_udp (ViTPose/UDP) | quarter | none
        # mmpose trains 256x192 heatmap models with sigma 2 (DARK kernel 11) and 384x288 ones
        # (96x72 heatmaps) with sigma 3 (kernel 17); a card's sigma/kernel wins
        hm_h = input_size[1] / spec.stride[1] if spec.stride[1] else 0.0
        self.dark_kernel = card.dark_kernel or (_kernel_for_sigma(card.heatmap_sigma)
                                                if card.heatmap_sigma else
                                                (17 if hm_h >= 96 else 11))
        self.keypoint_threshold = card.keypoint_threshold if card.keypoint_threshold is not None \
            else 0.3
        default_score = {"yolo_pose": 0.25, "rtmo": 0.5}.get(fam, 0.0)
        self.score_threshold = card.score_threshold if card.score_threshold is not None \
            else default_score
        self.nms_threshold = card.nms_threshold if card.nms_threshold is not None else \
            (0.7 if fam == "yolo_pose" else 0.45)
        self.flip_test = bool(card.flip_test)
        if card.flip_pairs is not None:
            perm = np.arange(spec.k)
            for a, b in card.flip_pairs:
                perm[a], perm[b] = b, a
            self.flip_perm = perm
        else:
            self.flip_perm = skeleton.flip_permutation()

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
        if self.family == "heatmap":
            p.update(stride=self.spec.stride[0], refine=self.refine,
                     dark_kernel=self.dark_kernel, flip_test=self.flip_test)
        elif self.family == "simcc":
            p.update(split_ratio=self.spec.split_ratio, flip_test=self.flip_test)
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
        tensor = to_tensor(crops, self.mean, self.std, self.rgb, self.scale,
                           self.session.input_dtype)
        return CropBatch(tensor, affines, boxes, scores)

    def infer_crops(self, tensor: np.ndarray, max_batch: int = 32) -> list[np.ndarray]:
        """Run the crops (all in as few runs as the batch axis allows); flip test if enabled."""
        if len(tensor) == 0:
            return []
        outs = self.session.run(tensor, max_batch)
        used = [outs[i] for i in self.spec.outputs]
        if self.flip_test:
            f = self.session.run(np.ascontiguousarray(tensor[..., ::-1]), max_batch)
            fo = [f[i] for i in self.spec.outputs]
            if self.family == "heatmap":
                used = [0.5 * (used[0] + dec.flip_heatmaps_back(fo[0], self.flip_perm))]
            else:
                fx, fy = dec.flip_simcc_back(fo[0], fo[1], self.flip_perm)
                used = [0.5 * (used[0] + fx), 0.5 * (used[1] + fy)]
        return used

    def decode_crops(self, outputs: Sequence[np.ndarray], batch: CropBatch,
                     keep_maps: bool = True) -> list[PosePrediction]:
        """Decode top-down outputs to image-space predictions (one per crop)."""
        n = len(batch)
        if n == 0:
            return []
        inv = np.stack([geo.invert_affine(m) for m in batch.affines])
        if self.family == "heatmap":
            hm = outputs[0]
            locs, vals = dec.decode_heatmaps(hm, self.refine, self.dark_kernel)
            h, w = hm.shape[2:]
            if self.refine == "dark_udp":
                # UDP (mmpose UDPHeatmap.decode, rtmlib ViTPose): heatmap pixel W-1 is the
                # crop's right edge: x_img = x_hm / (W-1) * scale + center - scale/2
                w_in, h_in = self.input_size
                to_input = geo.scale_affine(w_in / (w - 1), h_in / (h - 1))
            else:
                to_input = geo.scale_affine(*self.spec.stride)
        else:
            r = self.spec.split_ratio
            locs, vals = dec.decode_simcc(outputs[0], outputs[1], 1.0)  # in bins
            to_input = geo.scale_affine(1.0 / r, 1.0 / r)
        preds = []
        for i in range(n):
            valid = vals[i] > 0
            pts_in = geo.apply_affine(to_input, locs[i])
            m2i = geo.compose_affine(inv[i], to_input)  # map pixels -> image pixels
            xy = geo.apply_affine(inv[i], pts_in)
            xy[~valid] = np.nan
            scores = vals[i].astype(np.float32)
            kept = scores[valid & (scores >= self.keypoint_threshold)]
            inst_score = float(kept.mean()) if kept.size else 0.0
            maps = None
            if keep_maps:
                if self.family == "heatmap":
                    maps = CropMaps("heatmap", m2i, maps=outputs[0][i].copy())
                else:
                    maps = CropMaps("simcc", m2i, simcc_x=outputs[0][i].copy(),
                                    simcc_y=outputs[1][i].copy())
            preds.append(PosePrediction(xy, scores, batch.boxes[i].copy(), inst_score, maps))
        return preds

    def predict_crops(self, frame: np.ndarray, boxes_xyxy: Any = None, box_scores: Any = None,
                      *, keep_maps: bool = True, max_batch: int = 32) -> list[PosePrediction]:
        """Top-down prediction for the given boxes (None: the whole frame)."""
        batch = self.prepare_crops(frame, boxes_xyxy, box_scores)
        return self.decode_crops(self.infer_crops(batch.tensor, max_batch), batch, keep_maps)

    # --- one-stage --------------------------------------------------------------------------
    def prepare_image(self, frame: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """Letterbox and normalise a whole frame for a one-stage model."""
        return self._prep_letterbox(frame, centered=self.family == "yolo_pose", mean=self.mean,
                                    std=self.std, rgb=self.rgb, scale=self.scale)

    def infer_images(self, tensor: np.ndarray, max_batch: int = 8) -> list[list[np.ndarray]]:
        """Run letterboxed frames; per frame, the used outputs (batch axis dropped)."""
        if self.session.static_batch is None and self.family == "yolo_pose":
            outs = self.session.run(tensor, max_batch)
            return [[outs[j][i] for j in self.spec.outputs] for i in range(len(tensor))]
        res = []
        for i in range(len(tensor)):
            outs = self.session.run(tensor[i:i + 1])
            res.append([outs[j][0] for j in self.spec.outputs])
        return res

    def decode_image(self, outputs: Sequence[np.ndarray], lb: Letterbox) -> list[PosePrediction]:
        """One frame's one-stage outputs -> predictions in image pixels."""
        k = self.spec.k
        if self.family == "yolo_pose":
            boxes, scores, kpts = dec.decode_yolo_pose(
                outputs[0], k, self.spec.nc, self.score_threshold, self.nms_threshold,
                end2end=self.spec.end2end, kpt_dim=self.spec.kpt_dim)
        else:
            dets, kp = np.asarray(outputs[0], np.float64), np.asarray(outputs[1], np.float64)
            keep = dets[:, 4] > self.score_threshold
            dets, kp = dets[keep], kp[keep]
            idx = geo.nms(dets[:, :4], dets[:, 4], self.nms_threshold)
            boxes, scores, kpts = dets[idx, :4], dets[idx, 4], kp[idx]
        w, h = lb.frame_size
        preds = []
        for b, s, kp in zip(boxes, scores, kpts):
            bb = geo.letterbox_to_image(np.asarray(b).reshape(2, 2), lb.ratio, lb.pad).reshape(4)
            bb = np.clip(bb, 0, [w, h, w, h])
            xy = geo.letterbox_to_image(kp[:, :2], lb.ratio, lb.pad)
            preds.append(PosePrediction(xy, kp[:, 2].astype(np.float32), bb, float(s), None))
        return preds

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
    """A person detector: mmdeploy end2end (NMS inside), raw YOLOX or ultralytics YOLO
    (NMS here)."""

    def __init__(self, path: Path, sess: OnnxSession, card: ModelCard, spec: FamilySpec,
                 input_size: tuple[int, int], load_ms: float) -> None:
        super().__init__(path, sess, card, spec, input_size, load_ms)
        # YOLOX (mmdet and Megvii): raw 0..255 BGR; RTMDet needs mean/std from card/pipeline.
        # ultralytics: RGB / 255 in a centred letterbox.
        ultra = spec.family == "detector_yolo"
        self.mean = card.mean
        self.std = card.std
        stem = _stem_ops(path) if spec.family == "detector_end2end" and card.mean is None \
            and card.std is None else set()
        if "Conv" in stem and "Slice" not in stem:
            # mmdeploy files look alike from the outside; YOLOX starts with a Focus stem
            # (Slice ops, raw 0..255 input) and RTMDet with a convolution (ImageNet mean/std)
            self.mean, self.std = RTMDET_MEAN_BGR, RTMDET_STD_BGR
            self.warnings.append(
                "no model card or pipeline.json states the normalisation: the graph starts "
                "with a convolution, not YOLOX's Focus stem, so RTMDet's mean/std (BGR) is "
                "used; put 'mean'/'std' in a card if this detector finds nothing")
        self.rgb = (card.color or ("rgb" if ultra else "bgr")) == "rgb"
        self.scale = 1.0 / 255.0 if ultra and card.mean is None else 1.0
        self.centered = ultra
        default = {"detector_end2end": 0.3, "detector_yolo": 0.3}.get(spec.family, 0.5)
        self.score_threshold = card.score_threshold if card.score_threshold is not None \
            else default
        self.nms_threshold = card.nms_threshold if card.nms_threshold is not None else \
            (0.7 if ultra else 0.45)
        self.person_class = int(card.extra.get("person_class", 0))

    def params(self) -> dict[str, Any]:
        p = super().params()
        p.update(score_threshold=self.score_threshold, nms_threshold=self.nms_threshold)
        return p

    def prepare(self, frame: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """Letterbox with 114 padding: top-left (mmdet/rtmlib YOLOX) or centred (ultralytics)."""
        return self._prep_letterbox(frame, centered=self.centered, mean=self.mean,
                                    std=self.std, rgb=self.rgb, scale=self.scale)

    def infer(self, tensor: np.ndarray) -> list[list[np.ndarray]]:
        """Run letterboxed frames one at a time (detectors' outputs vary in length)."""
        res = []
        for i in range(len(tensor)):
            outs = self.session.run_once(tensor[i:i + 1]) if self.batch_size in (None, 1) \
                else self.session.run(tensor[i:i + 1])
            res.append([outs[j][0] for j in self.spec.outputs])
        return res

    def decode(self, outputs: Sequence[np.ndarray], lb: Letterbox) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes ``(n, 4)`` xyxy in image pixels and their scores ``(n,)``, best first."""
        if self.family == "detector_end2end":
            dets = np.asarray(outputs[0], dtype=np.float64).reshape(-1, outputs[0].shape[-1])
            keep = dets[:, 4] > self.score_threshold  # drops the zero-score padding rows
            if len(outputs) > 1 and outputs[1] is not None:
                labels = np.asarray(outputs[1]).reshape(-1)
                if len(labels) == len(dets):
                    keep &= labels.astype(np.int64) == self.person_class
            boxes, scores = dets[keep, :4], dets[keep, 4]
        elif self.family == "detector_yolo":
            boxes, scores = dec.decode_yolo_detect(outputs[0], self.spec.nc,
                                                   self.score_threshold, self.nms_threshold,
                                                   self.spec.end2end, self.person_class)
        else:
            h, w = self.input_size[1], self.input_size[0]
            boxes, scores, cls = dec.decode_yolox_raw(outputs[0], (h, w), self.score_threshold,
                                                      self.nms_threshold)
            keep = cls == self.person_class
            boxes, scores = boxes[keep], scores[keep]
        boxes = geo.letterbox_to_image(boxes.reshape(-1, 2, 2), lb.ratio, lb.pad).reshape(-1, 4)
        fw, fh = lb.frame_size
        boxes = np.clip(boxes, 0, [fw, fh, fw, fh])
        ok = (boxes[:, 2] - boxes[:, 0] > 1) & (boxes[:, 3] - boxes[:, 1] > 1)
        order = np.argsort(-scores[ok], kind="stable")
        return boxes[ok][order], scores[ok][order].astype(np.float32)

    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, lb = self.prepare(frame)
        return self.decode(self.infer(x)[0], lb)


#: mmdet RTMDet's data preprocessor, in BGR order (``bgr_to_rgb=False``).
RTMDET_MEAN_BGR = (103.53, 116.28, 123.675)
RTMDET_STD_BGR = (57.375, 57.12, 58.395)


def _stem_ops(path: Path) -> set[str]:
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


def _skeleton_for(k: int, card: ModelCard, src: Path) -> Skeleton:
    """The keypoint layout: card skeleton, card keypoint names, else by K."""
    sk: Skeleton | None = None
    try:
        if isinstance(card.skeleton, dict):
            sk = Skeleton.from_dict(card.skeleton)
        elif card.skeleton is not None:
            ref = str(card.skeleton)
            if card.path is not None and ref.lower().endswith(".json") and \
                    not Path(ref).is_absolute():
                ref = str(card.path.parent / ref)
            sk = get_skeleton(ref)
        elif card.keypoints is not None:
            data: dict[str, Any] = {"name": card.name or "custom",
                                    "keypoints": list(card.keypoints)}
            if card.flip_pairs is not None:
                data["flip_pairs"] = [list(p) for p in card.flip_pairs]
            sk = Skeleton.from_dict(data)
    except SkeletonError as exc:
        raise ModelError(f"{card.path or src}: {exc}") from exc
    if sk is not None:
        if sk.num_keypoints != k:
            raise ModelError(f"{card.path or src}: the card's skeleton {sk.name!r} has "
                             f"{sk.num_keypoints} keypoints but the model outputs {k}")
        return sk
    by_k = {17: "coco17", 26: "halpe26", 133: "wholebody133"}
    if k in by_k and by_k[k] in BUILTIN_SKELETONS:
        return BUILTIN_SKELETONS[by_k[k]]
    return Skeleton(name=f"generic{k}", keypoints=tuple(f"kp{i}" for i in range(k)))


def _input_size(sess: OnnxSession, card: ModelCard, path: Path) -> tuple[int, int]:
    inp = sess.inputs[0]
    _, _, h, w = inp.shape
    if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
        if card.input_size is not None and card.input_size != (w, h):
            raise ModelError(f"{card.path}: input_size {list(card.input_size)} does not match "
                             f"the model's fixed input {w}x{h} ({path.name})")
        return w, h
    if card.input_size is not None:
        return card.input_size
    imgsz = literal(sess.metadata, "imgsz")
    if isinstance(imgsz, (list, tuple)) and len(imgsz) == 2:
        return int(imgsz[1]), int(imgsz[0])
    if isinstance(imgsz, int):
        return imgsz, imgsz
    if {"dets"} & {o.name.lower() for o in sess.outputs}:
        return 640, 640
    raise ModelError(f"{path}: the input size is dynamic ({sess.describe_io()}); the model "
                     f"card must give \"input_size\": [width, height]. {CARD_HELP}")


def _model_file(p: Path) -> Path:
    """The ``.onnx`` file to load: the path itself, or the one ``.onnx`` in a folder (an
    extracted rtmlib/mmdeploy ``onnx_sdk`` archive holds ``end2end.onnx`` + ``pipeline.json``).
    """
    if not p.exists():
        raise ModelError(f"{p}: model file not found")
    if p.is_dir():
        found = sorted(p.glob("*.onnx"))
        if len(found) == 1:
            return found[0]
        if not found:
            raise ModelError(f"{p}: a folder without an .onnx model file")
        raise ModelError(f"{p}: the folder holds several models "
                         f"({', '.join(f.name for f in found)}); choose one")
    if not p.is_file():
        raise ModelError(f"{p}: not a file")
    if p.suffix.lower() == ".zip":
        raise ModelError(f"{p}: this is a zip archive (e.g. an rtmlib/mmdeploy onnx_sdk "
                         f"download); extract it and open the end2end.onnx inside (its "
                         f"pipeline.json beside it is read too)")
    return p


def load_model(
    path: str | Path,
    *,
    provider: str = "auto",
    device_id: int = 0,
    threads: int | None = None,
    expect: str | None = None,
) -> PoseModel | DetectorModel:
    """Load any supported ONNX pose model or person detector.

    Args:
        path: The ``.onnx`` file (a ``<name>.json`` model card and an mmdeploy
            ``pipeline.json`` beside it are read when present).
        provider: ``auto`` (DirectML on Windows, CUDA on Linux, CoreML on macOS, then CPU),
            ``cpu``, ``cuda``, ``dml`` or ``coreml``.
        device_id: GPU index.
        threads: CPU intra-op threads; default leaves one core for the GUI and decoder.
        expect: ``"pose"`` or ``"detector"`` to refuse the other kind with a clear message.

    Raises:
        ModelError: not a file, not ONNX, corrupt, not a pose model/detector, bad card.
    """
    p = _model_file(Path(path).expanduser())
    t0 = time.perf_counter()
    card = read_card(p)
    check_model_file(p)  # before ORT reads it (limits.py)
    sess = OnnxSession(p, provider, device_id, threads)
    desc = sess.describe_io()
    if len(sess.inputs) != 1:
        raise ModelError(f"{p}: expected one image input, found {len(sess.inputs)} ({desc}); "
                         f"this is not a supported pose model or person detector")
    inp = sess.inputs[0]
    if len(inp.shape) == 4 and inp.shape[-1] in (1, 3, 4) and inp.shape[1] not in (1, 3, 4) \
            and isinstance(inp.shape[1], int):
        raise ModelError(f"{p}: the image input {inp} is channels-last (NHWC, e.g. a "
                         f"TensorFlow/Keras export); Pose Studio needs NCHW [N, 3, H, W]. "
                         f"Export again with an NCHW input (tf2onnx: --inputs-as-nchw "
                         f"{inp.name}) ({desc})")
    if len(inp.shape) != 4 or (isinstance(inp.shape[1], int) and inp.shape[1] != 3) or \
            inp.dtype not in ("float32", "float16"):
        raise ModelError(f"{p}: expected an image input [N, 3, H, W] float32/float16, found "
                         f"{inp} ({desc}); this is not a supported pose model or detector")
    input_size = _input_size(sess, card, p)
    check_input(p, sess.static_batch, input_size)  # before any tensor of that size exists
    probe = np.zeros((sess.static_batch or 1, 3, input_size[1], input_size[0]), np.float32)
    try:
        outs = sess.run_once(probe)
    except ModelError as exc:
        gpu = sess.providers[0] if sess.providers and sess.providers[0] != CPU else None
        if gpu is None:
            raise ModelError(f"{p}: the model does not run on a {input_size[0]}x"
                             f"{input_size[1]} image ({desc}): {exc}") from exc
        # the GPU session was built but cannot run (missing kernels/libraries, out of
        # memory): run on the CPU rather than not at all, and say so
        cpu_sess = OnnxSession(p, "cpu", device_id, threads)
        cpu_sess.requested_providers = sess.requested_providers
        cpu_sess.warnings = [*sess.warnings, f"{gpu} cannot run this model ({exc}); "
                             f"running on the CPU instead (slower)"]
        sess = cpu_sess
        try:
            outs = sess.run_once(probe)
        except ModelError as exc2:
            raise ModelError(f"{p}: the model does not run on a {input_size[0]}x"
                             f"{input_size[1]} image ({desc}): {exc2}") from exc2
    if any(n != CPU for n in sess.requested_providers) and sess.providers[:1] == [CPU] and \
            not any("CPU" in w for w in sess.warnings):
        sess.warnings.append(f"onnxruntime fell back to the CPU (requested "
                             f"{', '.join(sess.requested_providers)})")
    shapes = [(o.name, tuple(a.shape)) for o, a in zip(sess.outputs, outs)]
    try:
        spec = detect_family(input_size, shapes, sess.metadata, card.family)
    except ValueError as exc:
        found = "; ".join(f"{n} {list(s)}" for n, s in shapes)
        raise ModelError(f"{p}: not a recognised pose model or person detector ({exc}). Found "
                         f"{desc} (outputs on a probe image: {found}). {CARD_HELP}") from exc
    if spec.family in TOP_DOWN or (spec.family == "yolo_pose" and not spec.end2end):
        sess.check_batching(outs, probe)  # the paths that batch images in one run
    if not sess.providers or sess.providers[0] != CPU:
        sess.run_once(probe)  # second warm-up: cuDNN algo search, DML/CoreML compilation
    load_ms = (time.perf_counter() - t0) * 1000
    if spec.family in DETECTOR_FAMILIES:
        model: PoseModel | DetectorModel = DetectorModel(p, sess, card, spec, input_size, load_ms)
    else:
        model = PoseModel(p, sess, card, spec, input_size, _skeleton_for(spec.k, card, p), load_ms)
    if expect == "pose" and not isinstance(model, PoseModel):
        raise ModelError(f"{p}: this is a person detector ({spec.family}), not a pose model")
    if expect == "detector" and not isinstance(model, DetectorModel):
        raise ModelError(f"{p}: this is a pose model ({spec.family}), not a person detector")
    return model
