"""Checks made before a model is loaded or first run, so that a crafted or broken ONNX file (a
fixed 100,000 x 100,000 input, an ``imgsz`` or card size to match, a batch of a million, a file
larger than memory) is refused with one line instead of a ``MemoryError`` or the OOM killer.

Self-contained on purpose: :func:`check_model_file` before ONNX Runtime reads the file,
:func:`check_input` once the input size is known and before any tensor of that size exists.
"""

from __future__ import annotations

from pathlib import Path

from pose_studio.core.files import PathError, check_input_path
from pose_studio.core.limits import ResourceLimitError, check_allocation
from pose_studio.inference.errors import ModelError

__all__ = ["ACTIVATION_FACTOR", "MAX_BATCH", "MAX_INPUT_SIDE", "check_input", "check_model_file"]

#: Largest model input side accepted (pose models and detectors use 64..1536).
MAX_INPUT_SIDE = 8192
#: Largest fixed batch accepted.
MAX_BATCH = 1024
#: A network's working memory as a multiple of its input tensor (activations of the first
#: stages are several times the input; measured 10-40x on HRNet, RTMPose and YOLO exports).
ACTIVATION_FACTOR = 32


def check_model_file(path: Path) -> None:
    """Before ONNX Runtime opens ``path``: a regular readable file, not larger than memory
    allows (ORT holds the file and its weights at once, about twice its size).

    Raises:
        ModelError: naming the file and the reason.
    """
    try:
        check_input_path(path, "model")
    except PathError as exc:
        raise ModelError(str(exc)) from None
    try:
        check_allocation(path.stat().st_size * 2, f"model {path.name}")
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model ({exc.strerror})") from None
    except ResourceLimitError as exc:
        raise ModelError(str(exc)) from None


def check_input(path: Path, batch: int | None, input_size: tuple[int, int],
                itemsize: int = 4) -> None:
    """Before the first tensor of the model's input size is made: the sides, the batch, and
    the input times :data:`ACTIVATION_FACTOR` against the memory available.

    Args:
        batch: the model's fixed batch (None or 0: dynamic, one image is used).
        input_size: ``(width, height)`` from the graph, the card or the metadata.

    Raises:
        ModelError: naming the file, the size and the limit.
    """
    w, h = (int(v) for v in input_size)
    n = int(batch or 1)
    if not (0 < w <= MAX_INPUT_SIDE and 0 < h <= MAX_INPUT_SIDE):
        raise ModelError(
            f"{path.name}: the model's input is {w}x{h}; Pose Studio runs models with inputs of "
            f"1..{MAX_INPUT_SIDE} pixels per side (a crafted or broken model, or a wrong "
            "input_size in its card or metadata)")
    if not 0 < n <= MAX_BATCH:
        raise ModelError(f"{path.name}: the model has a fixed batch of {n}; at most {MAX_BATCH} "
                         "is supported")
    try:
        check_allocation(n * 3 * h * w * itemsize * ACTIVATION_FACTOR,
                         f"running {path.name} on a {n}x3x{h}x{w} input")
    except ResourceLimitError as exc:
        raise ModelError(str(exc)) from None
