"""Small ONNX models with the real signatures of each pose family, built with the onnx helper API.

Every builder writes ``path`` and returns it. Random variants have random weights; "planted"
variants ignore their input (``0 * f(input)`` keeps it consumed) and output constants with known
peaks, so decoders can be checked to exact numbers. All models pin opset 17 and IR version 8.

Used by the inference tests and by other engineers' tests (GUI overlay, CLI, training export).
The graph builder is ``onnx_graph``; detector and one-stage builders live in ``onnx_detectors``
and the models of realistic cost in ``onnx_heavy`` (both re-exported here).
"""


from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from tests.support.onnx_detectors import (
    make_detector_end2end,
    make_rtmo,
    make_yolo_detect_model,
    make_yolo_pose_model,
    make_yolox_raw,
)
from tests.support.onnx_graph import IR_VERSION, OPSET, RNG_SEED, Graph, batch_dim, save_model
from tests.support.onnx_heavy import (
    heavy_model_gmacs,
    make_heavy_heatmap_model,
    make_heavy_simcc_model,
)

__all__ = [
    "COLOR_MEAN",
    "COLOR_STD",
    "IR_VERSION",
    "OPSET",
    "blob_frame",
    "gaussian_maps",
    "heavy_model_gmacs",
    "make_classifier",
    "make_color_probe_heatmap_model",
    "make_corrupt",
    "make_detector_end2end",
    "make_heatmap_model",
    "make_heavy_heatmap_model",
    "make_heavy_simcc_model",
    "make_nhwc_model",
    "make_not_onnx",
    "make_rtmo",
    "make_simcc_model",
    "make_two_input_model",
    "make_yolo_detect_model",
    "make_yolo_pose_model",
    "make_yolox_raw",
]


def gaussian_maps(k: int, hw: tuple[int, int], peaks: Sequence[tuple[float, float]],
                  sigma: float = 2.0) -> np.ndarray:
    """``(k, h, w)`` unit-peak Gaussians centred at sub-pixel ``peaks`` (x, y) in map pixels."""
    h, w = hw
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.zeros((k, h, w), dtype=np.float32)
    for i, (px, py) in enumerate(peaks[:k]):
        out[i] = np.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2 * sigma**2))
    return out


def make_heatmap_model(
    path: str | Path,
    k: int = 17,
    input_hw: tuple[int, int] = (256, 192),
    stride: int = 4,
    dynamic_batch: bool = True,
    fp16: bool = False,
    planted: Any = None,
    n_stages: int = 1,
    static_batch: int = 1,
    sigma: float = 2.0,
    output_rank: int = 4,
    aux_output: bool = False,
    batch_one_inside: bool = False,
) -> Path:
    """Top-down heatmap model ``input [N,3,H,W] -> output [N,K,H/s,W/s]``.

    Args:
        planted: None (random weights), a list of ``(x, y)`` heatmap-pixel peaks (unit Gaussians
            of ``sigma``), or a ``(K, h, w)`` array used as the last stage's output.
        n_stages: Stacked Hourglass/CPM style: one output per stage (``output_0``...), the last
            is the final one. Earlier planted stages carry peaks shifted by 5 px (decoy).
        output_rank: 4 for a real model; 3 or 5 build a wrong model.
        aux_output: Add a coarser rank-4 output ``aux`` (the heatmaps pooled 4x4) after the
            heatmaps, like an auxiliary head left in an export.
        batch_one_inside: Declare a dynamic batch but reshape to batch 1 inside (a common
            export mistake): batch 2 fails.
    """
    h_in, w_in = input_hw
    h, w = h_in // stride, w_in // stride
    b = batch_dim(dynamic_batch, static_batch)
    g = Graph()
    rng = np.random.default_rng(RNG_SEED)
    pooled = g.op("AveragePool", ["x32"], kernel_shape=[stride, stride], strides=[stride, stride])
    outputs = []
    for s in range(n_stages):
        wconv = rng.normal(0, 0.5, (k, 3, 1, 1)).astype(np.float32)
        y = g.op("Conv", [pooled, g.const(wconv), g.const(rng.normal(0, 0.1, k))])
        y = g.op("Sigmoid", [y])
        last = s == n_stages - 1
        if planted is not None:
            if isinstance(planted, np.ndarray) and planted.ndim == 3:
                maps = planted.astype(np.float32) if last else np.roll(planted, 5, axis=2)
            else:
                pk = [(px + (0 if last else 5), py) for px, py in planted]
                maps = gaussian_maps(k, (h, w), pk, sigma)
            y = g.op("Mul", [y, g.const(0.0)])
            y = g.op("Add", [y, g.const(maps[None])])
        shape: list[Any] = [b, k, h, w]
        if output_rank == 3:
            y = g.op("Reshape", [y, g.const([0, k, h * w], dtype=np.int64)])
            shape = [b, k, h * w]
        elif output_rank == 5:
            y = g.op("Unsqueeze", [y, g.const([1], dtype=np.int64)])
            shape = [b, 1, k, h, w]
        if batch_one_inside:
            y = g.op("Reshape", [y, g.const([1, k, h, w], dtype=np.int64)])
        name = "output" if n_stages == 1 else f"output_{s}"
        outputs.append((name, y, shape, TensorProto.FLOAT))
    if aux_output:
        aux = g.op("AveragePool", [outputs[-1][1]], kernel_shape=[4, 4], strides=[4, 4])
        outputs.append(("aux", aux, [b, k, h // 4, w // 4], TensorProto.FLOAT))
    return save_model(g, path, in_name="input", in_shape=[b, 3, h_in, w_in], body_in="x32",
                   outputs=outputs, fp16=fp16, name="heatmap")


def make_simcc_model(
    path: str | Path,
    k: int = 17,
    input_hw: tuple[int, int] = (256, 192),
    split_ratio: float = 2.0,
    dynamic_batch: bool = True,
    fp16: bool = False,
    planted: Sequence[tuple[int, int]] | None = None,
    planted_value: float = 0.9,
    static_batch: int = 1,
) -> Path:
    """RTMPose-style SimCC model: ``simcc_x [N,K,W*r]``, ``simcc_y [N,K,H*r]``.

    ``planted``: per keypoint ``(bin_x, bin_y)`` one-hot bins of value ``planted_value``.
    """
    h_in, w_in = input_hw
    wx, wy = int(w_in * split_ratio), int(h_in * split_ratio)
    b = batch_dim(dynamic_batch, static_batch)
    g = Graph()
    rng = np.random.default_rng(RNG_SEED)
    gap = g.op("GlobalAveragePool", ["x32"])
    flat = g.op("Flatten", [gap], axis=1)
    outs = []
    for name, n in (("simcc_x", wx), ("simcc_y", wy)):
        mm = g.op("MatMul", [flat, g.const(rng.normal(0, 1, (3, k * n)))])
        y = g.op("Reshape", [mm, g.const([0, k, n], dtype=np.int64)])
        if planted is not None:
            const = np.zeros((1, k, n), dtype=np.float32)
            for i, (bx, by) in enumerate(planted[:k]):
                const[0, i, bx if name == "simcc_x" else by] = planted_value
            y = g.op("Mul", [y, g.const(0.0)])
            y = g.op("Add", [y, g.const(const)])
        outs.append((name, y, [b, k, n], TensorProto.FLOAT))
    return save_model(g, path, in_name="input", in_shape=[b, 3, h_in, w_in], body_in="x32",
                   outputs=outs, fp16=fp16, name="simcc")


def make_classifier(path: str | Path, n_classes: int = 1000) -> Path:
    """An image classifier (``input [1,3,224,224] -> output [1,1000]``): not a pose model."""
    g = Graph()
    gap = g.op("GlobalAveragePool", ["x32"])
    flat = g.op("Flatten", [gap], axis=1)
    y = g.op("MatMul", [flat, g.const(np.ones((3, n_classes)))])
    return save_model(g, path, in_name="input", in_shape=[1, 3, 224, 224], body_in="x32",
                   outputs=[("logits", y, [1, n_classes], TensorProto.FLOAT)], name="cls")


def make_two_input_model(path: str | Path) -> Path:
    """A model with two inputs (text + image style): refused."""
    x = helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 4])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["z"])], "two", [x, y], [z])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.save(model, str(path))
    return Path(path)


def make_not_onnx(path: str | Path) -> Path:
    Path(path).write_text("this is not an onnx model\n", encoding="utf-8")
    return Path(path)


def make_corrupt(path: str | Path, source: str | Path) -> Path:
    """The first half of a valid model file."""
    data = Path(source).read_bytes()
    Path(path).write_bytes(data[: len(data) // 2])
    return Path(path)


def make_nhwc_model(path: str | Path, input_hw: tuple[int, int] = (64, 48), k: int = 17) -> Path:
    """A TensorFlow-style heatmap model with a channels-last input ``[1, H, W, 3]``."""
    h_in, w_in = input_hw
    g = Graph()
    x = g.op("Transpose", ["x32"], perm=[0, 3, 1, 2])
    pooled = g.op("AveragePool", [x], kernel_shape=[4, 4], strides=[4, 4])
    y = g.op("Conv", [pooled, g.const(np.ones((k, 3, 1, 1)))])
    return save_model(g, path, in_name="input", in_shape=[1, h_in, w_in, 3], body_in="x32",
                   outputs=[("output", y, [1, k, h_in // 4, w_in // 4], TensorProto.FLOAT)],
                   name="nhwc")


COLOR_MEAN = (123.675, 116.28, 103.53)  # RGB order
COLOR_STD = (58.395, 57.12, 57.375)


def make_color_probe_heatmap_model(
    path: str | Path,
    input_hw: tuple[int, int] = (128, 96),
    k: int = 3,
    order: str = "rgb",
    stride: int = 4,
) -> Path:
    """A heatmap model whose output follows the image: keypoint ``i`` is the Gaussian-blurred
    colour channel ``i % 3`` (0 red, 1 green, 2 blue) in the model's channel ``order``.

    The input is un-normalised with the ImageNet mean/std (in ``order``), and the blur conv is
    centred so that heatmap pixel ``j`` sits on input pixel ``stride * j`` (the mmpose codec
    convention). A frame with a red and a blue blob therefore gives keypoints on the blobs only
    when crop affine, colour order, normalisation, stride and sub-pixel decoding are all right.
    """
    h_in, w_in = input_hw
    mean = np.asarray(COLOR_MEAN if order == "rgb" else COLOR_MEAN[::-1], np.float32)
    std = np.asarray(COLOR_STD if order == "rgb" else COLOR_STD[::-1], np.float32)
    g = Graph()
    img = g.op("Mul", ["x32", g.const(std.reshape(1, 3, 1, 1))])
    img = g.op("Add", [img, g.const(mean.reshape(1, 3, 1, 1))])
    img = g.op("Relu", [g.op("Sub", [img, g.const(10.0)])])
    sig = 2.0 * stride
    ks = int(6 * sig) | 1
    ax = np.arange(ks) - ks // 2
    ker = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2 * sig**2))
    wconv = np.zeros((k, 3, ks, ks), np.float32)
    for i in range(k):
        colour = i % 3
        wconv[i, colour if order == "rgb" else 2 - colour] = ker / ker.sum()
    y = g.op("Conv", [img, g.const(wconv)], strides=[stride, stride], pads=[ks // 2] * 4)
    mx = g.op("ReduceMax", [y], axes=[2, 3], keepdims=1)
    y = g.op("Div", [y, g.op("Add", [mx, g.const(1e-6)])])
    y = g.op("Mul", [y, g.const(0.9)])
    return save_model(g, path, in_name="input", in_shape=["batch", 3, h_in, w_in], body_in="x32",
                   outputs=[("output", y, ["batch", k, h_in // stride, w_in // stride],
                             TensorProto.FLOAT)], name="color_probe")


def blob_frame(size: tuple[int, int], blobs: dict[int, tuple[float, float]],
               sigma: float = 4.0) -> np.ndarray:
    """A black BGR frame with one Gaussian blob per colour (0 red, 1 green, 2 blue) at (x, y)."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for colour, (x, y) in blobs.items():
        blob = 255.0 * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))
        img[..., 2 - colour] = np.maximum(img[..., 2 - colour], blob)
    return np.clip(img.round(), 0, 255).astype(np.uint8)
