"""Model compression that never lies: FP16 weights (GPU providers), dynamic and static
(calibrated) INT8 (CPU), each ending with a check on frames.

The copy is written to a temporary file, loaded, and compared with the float model on frames
(:mod:`pose_studio.inference.convert_check`): people found, how far keypoints move, OKS against
the float model, and the speed ratio on this machine. A copy that loses people, moves
keypoints beyond the threshold or runs slower is not written unless ``force``. A model the
converters cannot handle (opset under 10 for INT8, nothing left to convert for FP16) is
refused in one line before anything is written.

Static INT8 (``int8-static``) quantises weights per channel and activations with ranges
measured on real inputs (QDQ, unsigned activations / signed weights, the layout x86 VNNI
kernels run fastest). Calibration inputs go through the model's own pre-processing. The
output tail stays float: the layers that write the outputs (heatmap conv, SimCC projections,
detection heads) and everything after them up to the outputs (reshapes, concatenations,
activations): a concatenation of boxes in pixels and scores in 0..1 quantised per tensor
rounds every score to the same value (the YOLO-pose collapse, mmpose #3148 for keypoints).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.inference.convert_check import (
    MIN_OKS,
    MIN_SPEEDUP,
    CheckFrames,
    CheckReport,
    check_copy,
    model_inputs,
    person_box,
    synthetic_frames,
)
from pose_studio.inference.errors import ModelError
from pose_studio.inference.load import load_model
from pose_studio.inference.model import DetectorModel, PoseModel, external_data_files

AnyModel = PoseModel | DetectorModel

MODES = ("fp16", "int8", "int8-static")
#: INT8 quantisation in onnxruntime needs this opset (12 to quantise MaxPool)
MIN_INT8_OPSET = 10
#: at most this many calibration frames are held back for the check
MAX_HELD_BACK = 16

# kept for callers of the previous API
Calibration = CheckFrames


@dataclass(frozen=True)
class ConvertSummary:
    """What a conversion did and what the check measured.

    ``written`` is False when the check refused the copy (``check.problems``) and ``force`` was
    not given; ``out_path`` then does not exist.
    """

    out_path: Path
    mode: str
    size_in: int
    size_out: int
    max_abs_diff: float  # largest output change on a random probe input
    check: CheckReport
    written: bool
    calibration_inputs: int = 0  # model inputs (crops or frames) the ranges were measured on
    calibration_frames: int = 0
    held_back: int = 0  # calibration frames kept out of calibration, for the check
    float_nodes: tuple[str, ...] = ()  # nodes kept in float (static INT8)

    @property
    def problems(self) -> tuple[str, ...]:
        return self.check.problems

    @property
    def keypoint_shift_mean(self) -> float | None:
        return self.check.shift_mean

    @property
    def keypoint_shift_p95(self) -> float | None:
        return self.check.shift_p95

    @property
    def oks_vs_float(self) -> float | None:
        return self.check.oks_vs_float


def _opset(model: Any) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)


def _refuse_unconvertible(src: Path, mode: str, model: Any, ref: AnyModel) -> None:
    """One line for what the converters cannot do (instead of their assertions)."""
    dtype = np.dtype(ref.session.input_dtype).name
    if mode.startswith("int8"):
        op = _opset(model)
        if op < MIN_INT8_OPSET:
            raise ModelError(f"{src.name}: uses ONNX opset {op}; INT8 quantisation needs opset "
                             f"{MIN_INT8_OPSET} or newer. Export the model again with a newer "
                             f"opset (e.g. torch.onnx.export(..., opset_version=13)); FP16 "
                             f"(--fp16) does not need it")
        if dtype != "float32":
            raise ModelError(f"{src.name}: INT8 starts from a float32 model; this one takes "
                             f"{dtype} input")
    floats = [i for i in model.graph.initializer if i.data_type == 1]  # FLOAT
    if mode == "fp16" and not floats:
        have = "float16 already" if any(i.data_type == 10 for i in model.graph.initializer) \
            else "no float32 weights"
        raise ModelError(f"{src.name}: nothing to convert to FP16 ({have})")
    if mode == "int8-static" and dtype != "float32":
        raise ModelError(f"{src.name}: static INT8 starts from a float32 model")


def _weights_out_of_inputs(model: Any) -> Any:
    """Old exports (IR 3) list every weight as a graph input too; converters then leave them
    alone as "inputs". They are only initializers (IR 4 allows that)."""
    names = {i.name for i in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in names]
    if len(keep) != len(model.graph.input):
        del model.graph.input[:]
        model.graph.input.extend(keep)
        model.ir_version = max(model.ir_version, 4)
    return model


def _fp16(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.transformers import float16

    model = _weights_out_of_inputs(onnx.load(str(src)))
    # keep float32 I/O so the app's tensors need no cast; clamp like mmdeploy's fp16
    m16 = float16.convert_float_to_float16(model, keep_io_types=True, min_positive_val=1e-7,
                                           max_finite_val=1e4,
                                           op_block_list=["NonMaxSuppression", "TopK"])
    if not any(i.data_type == 10 for i in m16.graph.initializer):
        raise ModelError(f"{src.name}: the FP16 converter stored no weight as FP16 (every "
                         f"weight is consumed by an operator it keeps in float32); nothing "
                         f"to gain")
    onnx.save(m16, str(dst))


def _int8_dynamic(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="pose_studio_quant_") as d:
        pre = Path(d) / "w.onnx"
        onnx.save(_weights_out_of_inputs(onnx.load(str(src))), str(pre))
        with _quiet_root_logger():  # the quantiser warns on the root logger
            quantize_dynamic(str(pre), str(dst), weight_type=QuantType.QInt8)


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


#: Ops that compute (and would be quantised); the search for the output tail stops at them.
_COMPUTE_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm"})


def output_tail(model: Any, max_depth: int = 8) -> list[str]:
    """Names of the nodes that write the outputs: the compute nodes nearest to each output and
    every node between them and the output (reshapes, concats, activations, bias adds). Static
    INT8 keeps these float."""
    producer = {o: n for n in model.graph.node for o in n.output}
    found: list[str] = []
    for out in model.graph.output:
        frontier, depth = [out.name], 0
        while frontier and depth < max_depth:
            nxt = []
            for name in frontier:
                node = producer.get(name)
                if node is None or node.name in found:
                    continue
                found.append(node.name)
                if node.op_type not in _COMPUTE_OPS:
                    nxt.extend(node.input)
            frontier, depth = nxt, depth + 1
    return found


def output_layers(model: Any, max_depth: int = 8) -> list[str]:
    """The compute nodes of :func:`output_tail`."""
    ops = {n.name: n.op_type for n in model.graph.node}
    return [n for n in output_tail(model, max_depth) if ops.get(n) in _COMPUTE_OPS]


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
        base = Path(d) / "w.onnx"
        onnx.save(_weights_out_of_inputs(onnx.load(str(src))), str(base))
        pre = Path(d) / "pre.onnx"
        try:  # shape inference + graph folding, as ORT's docs advise before quantising
            quant_pre_process(str(base), str(pre))
        except Exception:  # some exported graphs fail symbolic shape inference: quantise as is
            pre = base
        model = onnx.load(str(pre))
        unnamed = [n for n in model.graph.node if not n.name]
        for i, n in enumerate(unnamed):  # exclusion works by node name
            n.name = f"pose_studio_node_{i}"
        if unnamed:
            pre = Path(d) / "named.onnx"
            onnx.save(model, str(pre))
        keep = output_tail(model)
        quantize_static(str(pre), str(out), _Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, nodes_to_exclude=keep)
    return tuple(keep)


def _split_calibration(ref: AnyModel, calib: CheckFrames) -> tuple[CheckFrames, CheckFrames]:
    """Every 4th frame (at most :data:`MAX_HELD_BACK`) is held back for the check; the rest
    calibrate. A single frame does both."""
    n = len(calib.frames)
    held = list(range(3, n, 4))[:MAX_HELD_BACK] if n >= 4 else ([n - 1] if n > 1 else [])
    held_set = set(held)
    use = [i for i in range(n) if i not in held_set] or [0]
    check_idx = held or [0]

    def pick(idx: list[int], source: str) -> CheckFrames:
        boxes = None if calib.boxes is None else \
            [calib.boxes[i] if i < len(calib.boxes) else None for i in idx]
        return CheckFrames([calib.frames[i] for i in idx], boxes, source)

    return pick(use, calib.source), pick(check_idx, f"{calib.source}, held back from "
                                                    f"calibration")


def _with_person_boxes(ref: AnyModel, frames: CheckFrames) -> CheckFrames:
    if isinstance(ref, PoseModel) and ref.top_down and frames.boxes is None:
        return CheckFrames(frames.frames, [person_box(ref, f) for f in frames.frames],
                           frames.source)
    return frames


def _copy_card(ref: AnyModel, mode: str) -> dict[str, Any]:
    """The copy's model card: the source's card, completed with what the source got from its
    pipeline.json or from detection (the copy may not sit beside that pipeline.json)."""
    data: dict[str, Any] = {}
    if ref.card.path is not None and ref.card.path.suffix == ".json" and \
            ref.card.path.name != "pipeline.json":
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(ref.card.path.read_text(encoding="utf-8"))
            data = loaded if isinstance(loaded, dict) else {}
    data.setdefault("format", "pose-studio-model-card/1")
    stated: dict[str, Any] = {"family": ref.family, "input_size": list(ref.input_size),
                              "color": "rgb" if ref.rgb else "bgr", "layout": ref.session.layout}
    if ref.mean is not None:
        stated["mean"] = list(ref.mean)
    if ref.std is not None:
        stated["std"] = list(ref.std)
    if isinstance(ref, PoseModel):
        stated["box_padding"] = ref.box_padding
        if ref.family == "heatmap":
            stated["refine"] = ref.refine
    for k, v in stated.items():
        data.setdefault(k, v)
    data["converted"] = {"from": ref.path.name, "mode": mode}
    return data


def _size(p: Path) -> int:
    return sum(f.stat().st_size for f in (p, *external_data_files(p)))


def convert_model(src: str | Path, out: str | Path, mode: str,
                  calibration: CheckFrames | None = None, *,
                  check_frames: CheckFrames | None = None, force: bool = False,
                  min_oks: float = MIN_OKS, max_shift: float | None = None,
                  min_speedup: float = MIN_SPEEDUP, threads: int | None = None
                  ) -> ConvertSummary:
    """Convert ``src`` to an ``fp16``, ``int8`` (dynamic) or ``int8-static`` copy, check it,
    and write it to ``out`` (with the model card) when the check passes or ``force``.

    Args:
        calibration: Frames for static INT8; some are held back for the check.
        check_frames: Frames for the check (default: held-back calibration frames, else
            synthetic people).
        min_oks, max_shift, min_speedup: The check's thresholds.

    Raises:
        ModelError: unsupported mode or model, missing calibration, failed conversion.
    """
    src_p, out_p = Path(src), Path(out)
    if mode not in MODES:
        raise ModelError(f"unknown conversion {mode!r}: use {', '.join(MODES)}")
    if src_p.resolve() == out_p.resolve():
        raise ModelError(f"{out_p}: the output must be a different file than the input")
    import onnx

    ref = load_model(src_p, provider="cpu", threads=threads)  # refuses non-pose files
    src_p = ref.path
    _refuse_unconvertible(src_p, mode, onnx.load(str(src_p), load_external_data=False), ref)
    calib_inputs: list[np.ndarray] = []
    calib_frames = held_back = 0
    if mode == "int8-static":
        if calibration is None or len(calibration.frames) == 0:
            raise ModelError("static INT8 needs calibration frames (a video or image folder "
                             "like the ones the model will see)")
        use, held = _split_calibration(ref, _with_person_boxes(ref, calibration))
        calib_inputs = model_inputs(ref, use)
        calib_frames = len(use.frames)
        held_back = len(calibration.frames) - calib_frames
        if check_frames is None:
            check_frames = held
    frames = _with_person_boxes(ref, check_frames) if check_frames is not None else \
        synthetic_frames(ref)
    kept: tuple[str, ...] = ()
    with tempfile.TemporaryDirectory(prefix="pose_studio_convert_") as d:
        tmp = Path(d) / out_p.name
        try:
            if mode == "fp16":
                _fp16(src_p, tmp)
            elif mode == "int8":
                _int8_dynamic(src_p, tmp)
            else:
                kept = _quantize_static(src_p, tmp, ref.session.input_name, calib_inputs)
        except ModelError:
            raise
        except Exception as exc:
            line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelError(f"{src_p.name}: {mode} conversion failed: {line}") from exc
        tmp.with_suffix(".json").write_text(json.dumps(_copy_card(ref, mode), indent=2),
                                            encoding="utf-8")
        try:
            conv = load_model(tmp, provider="cpu", threads=threads)
        except ModelError as exc:
            raise ModelError(f"{src_p.name}: the {mode} copy does not load here: "
                             f"{str(exc).split(': ', 1)[-1]}") from exc
        x = ref.session.random_input(1, ref.input_size)
        a, b = ref.session.run_once(x), conv.session.run_once(x)
        diff = max((float(np.abs(p.astype(np.float64) - q.astype(np.float64)).max())
                    for p, q in zip(a, b) if p.shape == q.shape and p.size), default=0.0)
        report = check_copy(ref, conv, frames, min_oks=min_oks, max_shift=max_shift,
                            min_speedup=min_speedup)
        size_out = _size(tmp)
        written = force or not report.problems
        if written:
            del conv  # release the session before moving the file (Windows)
            shutil.move(str(tmp), str(out_p))
            if tmp.with_suffix(".json").is_file():
                shutil.move(str(tmp.with_suffix(".json")), str(out_p.with_suffix(".json")))
    return ConvertSummary(out_p, mode, _size(src_p), size_out, diff, report, written,
                          len(calib_inputs), calib_frames, held_back, kept)


def calibration_tensors(model: AnyModel, calib: CheckFrames) -> list[np.ndarray]:
    """Model-ready single inputs built by the model's own pre-processing (kept for callers of
    the previous API)."""
    return model_inputs(model, calib)


__all__ = ["MODES", "Calibration", "CheckFrames", "ConvertSummary", "calibration_tensors",
           "convert_model", "output_layers", "output_tail"]
