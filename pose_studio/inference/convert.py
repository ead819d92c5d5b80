"""Model compression: FP16 weights (GPU providers) and dynamic INT8 (CPU, opt-in).

Pose networks lose accuracy with INT8 (RTMPose/RTMO reports in mmpose #3148, #3240), so it is
never applied automatically; :func:`convert_model` reports the output change on a probe input.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose_studio.inference.errors import ModelError
from pose_studio.inference.model import external_data_files, load_model


@dataclass(frozen=True)
class ConvertSummary:
    out_path: Path
    mode: str
    size_in: int
    size_out: int
    max_abs_diff: float  # largest output change on a random probe input


def convert_model(src: str | Path, out: str | Path, mode: str) -> ConvertSummary:
    """Write an ``fp16`` or ``int8`` copy of a supported model (its model card is copied too).

    Raises:
        ModelError: unsupported mode, unreadable model, failed conversion.
    """
    src_p, out_p = Path(src), Path(out)
    if mode not in ("fp16", "int8"):
        raise ModelError(f"unknown conversion {mode!r}: use fp16 or int8")
    if src_p.resolve() == out_p.resolve():
        raise ModelError(f"{out_p}: the output must be a different file than the input")
    ref = load_model(src_p, provider="cpu")  # refuses non-pose files with the usual message
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
        else:
            import logging

            from onnxruntime.quantization import QuantType, quantize_dynamic

            root = logging.getLogger()
            level = root.level
            root.setLevel(logging.ERROR)  # quantize_dynamic warns on the root logger
            try:
                quantize_dynamic(str(src_p), str(out_p), weight_type=QuantType.QInt8)
            finally:
                root.setLevel(level)
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
    def size(p: Path) -> int:
        return sum(f.stat().st_size for f in (p, *external_data_files(p)))

    return ConvertSummary(out_p, mode, size(src_p), size(out_p), diff)
