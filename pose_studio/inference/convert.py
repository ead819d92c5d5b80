"""Model compression: FP16 weights (GPU providers), dynamic and static (calibrated) INT8 (CPU).

Pose networks lose accuracy with INT8 (RTMPose/RTMO reports in mmpose #3148, #3240), so it is
never applied automatically; :func:`convert_model` reports the output change on a probe input
and, for static INT8, how far the keypoints move on held-back calibration frames.

Static INT8 (``int8-static``) quantises weights per channel and activations with ranges
measured on real inputs (QDQ format, unsigned activations / signed weights, the layout x86
VNNI kernels run fastest). The calibration inputs go through the model's own pre-processing,
so the ranges are those the app will feed it. The layers that write the outputs (the heatmap
conv, SimCC's ``cls_x``/``cls_y`` projections, detection heads) stay float: peaks and argmaxes
are where INT8 rounding costs keypoints (mmpose #3148).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core.oks import oks
from pose_studio.inference.errors import ModelError
from pose_studio.inference.load import load_model
from pose_studio.inference.model import DetectorModel, PoseModel, external_data_files

AnyModel = PoseModel | DetectorModel


MODES = ("fp16", "int8", "int8-static")


@dataclass(frozen=True)
class ConvertSummary:
    out_path: Path
    mode: str
    size_in: int
    size_out: int
    max_abs_diff: float  # largest output change on a random probe input
    calibration_inputs: int = 0  # model inputs (crops or frames) the ranges were measured on
    # pose models, static INT8: keypoint displacement (pixels) on held-back frames, and the
    # mean OKS of the INT8 keypoints against the float model's (1.0 = identical)
    keypoint_shift_mean: float | None = None
    keypoint_shift_p95: float | None = None
    oks_vs_float: float | None = None
    float_nodes: tuple[str, ...] = ()  # layers kept in float (static INT8)


@dataclass(frozen=True)
class Calibration:
    """Frames (BGR/RGB uint8, as the app reads them) and, for top-down models, optional person
    boxes per frame (``[N, 4]`` xyxy; None or empty means the whole frame)."""

    frames: Sequence[np.ndarray]
    boxes: Sequence[np.ndarray | None] | None = None


def calibration_tensors(model: AnyModel, calib: Calibration) -> list[np.ndarray]:
    """Model-ready single inputs (batch 1) built by the model's own pre-processing."""
    out: list[np.ndarray] = []
    for i, frame in enumerate(calib.frames):
        if isinstance(model, PoseModel):
            if model.top_down:
                b = calib.boxes[i] if calib.boxes is not None and i < len(calib.boxes) else None
                if b is not None and len(b) == 0:
                    b = None
                x = model.prepare_crops(frame, b).tensor
            else:
                x = model.prepare_image(frame)[0]
        else:
            x = model.prepare(frame)[0]
        out.extend(x[j:j + 1] for j in range(len(x)))
    return out


def convert_model(src: str | Path, out: str | Path, mode: str,
                  calibration: Calibration | None = None) -> ConvertSummary:
    """Write an ``fp16``, ``int8`` (dynamic) or ``int8-static`` copy of a supported model (its
    model card is copied too). ``int8-static`` needs ``calibration`` frames: every other frame
    calibrates, the rest measure how far the keypoints move.

    Raises:
        ModelError: unsupported mode, unreadable model, missing calibration, failed conversion.
    """
    src_p, out_p = Path(src), Path(out)
    if mode not in MODES:
        raise ModelError(f"unknown conversion {mode!r}: use {', '.join(MODES)}")
    if src_p.resolve() == out_p.resolve():
        raise ModelError(f"{out_p}: the output must be a different file than the input")
    ref = load_model(src_p, provider="cpu")  # refuses non-pose files with the usual message
    n_calib = 0
    held: list[int] = []
    tensors: list[np.ndarray] = []
    kept: tuple[str, ...] = ()
    if mode == "int8-static":
        if calibration is None or len(calibration.frames) == 0:
            raise ModelError("static INT8 needs calibration frames (a video or image folder "
                             "like the ones the model will see)")
        if ref.session.input_dtype != np.float32:
            raise ModelError(f"{src_p.name}: static INT8 starts from a float32 model; this one "
                             f"takes {np.dtype(ref.session.input_dtype).name} input")
        if isinstance(ref, PoseModel) and ref.top_down and calibration.boxes is None:
            calibration = Calibration(calibration.frames,
                                      [_person_box(ref, f) for f in calibration.frames])
        n = len(calibration.frames)
        use = list(range(0, n, 2)) if n > 1 else [0]
        held = [i for i in range(n) if i not in set(use)][:32]
        sub = Calibration([calibration.frames[i] for i in use],
                          None if calibration.boxes is None else
                          [calibration.boxes[i] if i < len(calibration.boxes) else None
                           for i in use])
        tensors = calibration_tensors(ref, sub)
        n_calib = len(tensors)
    import onnx

    try:
        if mode == "fp16":
            from onnxruntime.transformers import float16

            model = onnx.load(str(src_p))
            # keep float32 I/O so the app's tensors need no cast; clamp like mmdeploy's fp16
            m16 = float16.convert_float_to_float16(model, keep_io_types=True,
                                                   min_positive_val=1e-7, max_finite_val=1e4,
                                                   op_block_list=["NonMaxSuppression", "TopK"])
            onnx.save(m16, str(out_p))
        elif mode == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            with _quiet_root_logger():  # the quantiser warns on the root logger
                quantize_dynamic(str(src_p), str(out_p), weight_type=QuantType.QInt8)
        else:
            kept = _quantize_static(src_p, out_p, ref.session.input_name, tensors)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"{src_p}: {mode} conversion failed: {exc}") from exc
    card = src_p.with_suffix(".json")
    if card.is_file():
        shutil.copyfile(card, out_p.with_suffix(".json"))
    conv = load_model(out_p, provider="cpu")
    w, h = ref.input_size
    x = np.random.default_rng(0).uniform(-2, 2, (1, 3, h, w)).astype(np.float32)
    a = ref.session.run_once(x)
    b = conv.session.run_once(x)
    diff = max((float(np.abs(p.astype(np.float64) - q.astype(np.float64)).max())
                for p, q in zip(a, b) if p.shape == q.shape and p.size), default=0.0)
    shift_mean = shift_p95 = oks_mean = None
    if held and calibration is not None and isinstance(ref, PoseModel):
        assert isinstance(conv, PoseModel)
        shifts, oks_values = _keypoint_shifts(ref, conv, calibration, held)
        if shifts.size:
            shift_mean = float(shifts.mean())
            shift_p95 = float(np.percentile(shifts, 95))
        if oks_values.size:
            oks_mean = float(oks_values.mean())

    def size(p: Path) -> int:
        return sum(f.stat().st_size for f in (p, *external_data_files(p)))

    return ConvertSummary(out_p, mode, size(src_p), size(out_p), diff, n_calib, shift_mean,
                          shift_p95, oks_mean, kept)


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


#: Ops that compute (and would be quantised); the search for output layers stops at them.
_COMPUTE_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm"})


def output_layers(model: Any, max_depth: int = 6) -> list[str]:
    """Names of the compute nodes nearest to each graph output (through reshapes, activations,
    bias adds...): the layers static INT8 keeps in float."""
    producer = {o: n for n in model.graph.node for o in n.output}
    found: list[str] = []
    for out in model.graph.output:
        frontier, depth = [out.name], 0
        while frontier and depth < max_depth:
            nxt = []
            for name in frontier:
                node = producer.get(name)
                if node is None:
                    continue
                if node.op_type in _COMPUTE_OPS:
                    if node.name not in found:
                        found.append(node.name)
                else:
                    nxt.extend(node.input)
            frontier, depth = nxt, depth + 1
    return found


def _quantize_static(src: Path, out: Path, input_name: str, tensors: list[np.ndarray]
                     ) -> tuple[str, ...]:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class _Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._it = iter(tensors)

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self._it, None)
            return None if x is None else {input_name: x}

    with tempfile.TemporaryDirectory(prefix="pose_studio_quant_") as d, _quiet_root_logger():
        pre = Path(d) / "pre.onnx"
        try:  # shape inference + graph folding, as ORT's docs advise before quantising
            quant_pre_process(str(src), str(pre))
        except Exception:  # some exported graphs fail symbolic shape inference: quantise as is
            pre = src
        model = onnx.load(str(pre))
        unnamed = [n for n in model.graph.node if not n.name]
        for i, n in enumerate(unnamed):  # exclusion works by node name
            n.name = f"pose_studio_node_{i}"
        if unnamed:
            pre = Path(d) / "named.onnx"
            onnx.save(model, str(pre))
        keep = output_layers(model)
        quantize_static(str(pre), str(out), _Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, nodes_to_exclude=keep)
    return tuple(keep)


def _person_box(model: PoseModel, frame: np.ndarray) -> np.ndarray | None:
    """Without boxes, calibrate a top-down model on people, not on whole frames: the float
    model's confident keypoints on the whole frame give one box (None: use the whole frame)."""
    preds = model.predict(frame, None, keep_maps=False)
    if not preds:
        return None
    p = preds[0]
    ok = np.isfinite(p.xy).all(1) & (np.asarray(p.scores) >= 0.3)
    if ok.sum() < 4:
        return None
    x0, y0 = p.xy[ok].min(0)
    x1, y1 = p.xy[ok].max(0)
    mx, my = 0.1 * (x1 - x0) + 4, 0.1 * (y1 - y0) + 4
    return np.array([[x0 - mx, y0 - my, x1 + mx, y1 + my]], np.float64)


def _keypoint_shifts(ref: PoseModel, conv: PoseModel, calib: Calibration, frames: list[int]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per-keypoint distances (pixels) between the two models' predictions on ``frames``, and
    per-person OKS of the converted keypoints against the reference's confident ones (area from
    their extent)."""
    out: list[np.ndarray] = []
    oks_values: list[float] = []
    sigmas = ref.skeleton.sigma_array()
    for i in frames:
        frame = calib.frames[i]
        b = calib.boxes[i] if calib.boxes is not None and i < len(calib.boxes) else None
        if b is not None and len(b) == 0:
            b = None
        a = ref.predict(frame, b, keep_maps=False)
        c = conv.predict(frame, b, keep_maps=False)
        if ref.top_down:  # same boxes, same order
            pairs = list(zip(a, c))
        else:  # one-stage: match each reference person to the nearest converted one
            pairs = []
            for p in a:
                if not c:
                    break
                d = [float(np.nanmean(np.linalg.norm(p.xy - q.xy, axis=1))) for q in c]
                pairs.append((p, c[int(np.argmin(d))]))
        for p, q in pairs:
            d = np.linalg.norm(np.asarray(p.xy, np.float64) - np.asarray(q.xy, np.float64), axis=1)
            out.append(d[np.isfinite(d)])
            ok = np.isfinite(p.xy).all(1) & (np.asarray(p.scores) >= 0.3)
            if ok.sum() >= 2:
                ext = p.xy[ok].max(0) - p.xy[ok].min(0)
                area = max(float(ext[0] * ext[1]), 1.0)
                vis = np.where(ok, 2, 0)
                oks_values.append(float(oks(p.xy, vis, np.nan_to_num(q.xy), area, sigmas)))
    return (np.concatenate(out) if out else np.zeros(0)), np.asarray(oks_values)
