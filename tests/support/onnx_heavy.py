"""Test models of realistic cost (about 1 GMAC per 256x192 crop), for benchmarks and speed
checks: a heatmap and an RTMPose-shaped SimCC model on the same convolution trunk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto

from tests.support.onnx_graph import RNG_SEED, Graph, batch_dim, save_model


def _heavy_trunk(g: Graph, rng: np.random.Generator, width: int, depth: int) -> str:
    """A 4x4/4 stem then ``depth`` 3x3 conv + ReLU layers at stride 4 (the costly part)."""
    y = g.op("Conv", ["x32", g.const(rng.normal(0, 0.1, (width, 3, 4, 4))),
                      g.const(np.zeros(width))], strides=[4, 4])
    y = g.op("Relu", [y])
    for _ in range(depth):
        wconv = rng.normal(0, np.sqrt(2.0 / (9 * width)), (width, width, 3, 3))
        y = g.op("Conv", [y, g.const(wconv), g.const(np.zeros(width))], pads=[1, 1, 1, 1])
        y = g.op("Relu", [y])
    return y

def make_heavy_heatmap_model(
    path: str | Path,
    k: int = 17,
    input_hw: tuple[int, int] = (256, 192),
    width: int = 64,
    depth: int = 9,
    dynamic_batch: bool = True,
) -> Path:
    """A heatmap model of realistic cost: 4x4/4 stem then ``depth`` 3x3 convs at stride 4.

    With the defaults it costs about 1.0 GMAC (2 GFLOP) per 256x192 crop.
    """
    h_in, w_in = input_hw
    b = batch_dim(dynamic_batch)
    g = Graph()
    rng = np.random.default_rng(RNG_SEED)
    y = _heavy_trunk(g, rng, width, depth)
    y = g.op("Conv", [y, g.const(rng.normal(0, 0.1, (k, width, 1, 1))), g.const(np.zeros(k))])
    y = g.op("Sigmoid", [y])
    return save_model(g, path, in_name="input", in_shape=[b, 3, h_in, w_in], body_in="x32",
                   outputs=[("output", y, [b, k, h_in // 4, w_in // 4], TensorProto.FLOAT)],
                   name="heavy")


def heavy_model_gmacs(input_hw: tuple[int, int] = (256, 192), k: int = 17, width: int = 64,
                      depth: int = 9) -> float:
    h, w = input_hw[0] // 4, input_hw[1] // 4
    macs = h * w * (width * 3 * 16 + depth * width * width * 9 + k * width)
    return macs / 1e9


def make_heavy_simcc_model(
    path: str | Path,
    k: int = 17,
    input_hw: tuple[int, int] = (256, 192),
    width: int = 64,
    depth: int = 9,
    dynamic_batch: bool = True,
) -> Path:
    """An RTMPose-shaped SimCC model of realistic cost (same trunk as the heavy heatmap model).

    Trunk at stride 4 (about 1.0 GMAC at 256x192), then an 8x8 pool, a 1x1 conv to K maps,
    flatten and two linear heads: ``simcc_x [N,K,2W]``, ``simcc_y [N,K,2H]``.
    """
    h_in, w_in = input_hw
    b = batch_dim(dynamic_batch)
    g = Graph()
    rng = np.random.default_rng(RNG_SEED)
    y = _heavy_trunk(g, rng, width, depth)
    y = g.op("AveragePool", [y], kernel_shape=[8, 8], strides=[8, 8])
    y = g.op("Conv", [y, g.const(rng.normal(0, 0.1, (k, width, 1, 1))), g.const(np.zeros(k))])
    feat = (h_in // 32) * (w_in // 32)
    y = g.op("Reshape", [y, g.const([0, k, feat], dtype=np.int64)])
    outs = []
    for name, n in (("simcc_x", 2 * w_in), ("simcc_y", 2 * h_in)):
        o = g.op("MatMul", [y, g.const(rng.normal(0, 0.3, (feat, n)))])
        outs.append((name, o, [b, k, n], TensorProto.FLOAT))
    return save_model(g, path, in_name="input", in_shape=[b, 3, h_in, w_in], body_in="x32",
                   outputs=outs, name="heavy_simcc")
