"""Small ONNX models with the real signatures of each pose family, built with the onnx helper API.

Every builder writes ``path`` and returns it. Random variants have random weights; "planted"
variants ignore their input (``0 * f(input)`` keeps it consumed) and output constants with known
peaks, so decoders can be checked to exact numbers. All models pin opset 17 and IR version 8.

Used by the inference tests and by other engineers' tests (GUI overlay, CLI, training export).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
_RNG_SEED = 1234


class _G:
    """A tiny graph builder: nodes, initializers, unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, base: str) -> str:
        self._n += 1
        return f"{base}_{self._n}"

    def const(self, arr: Any, base: str = "c", dtype: Any = np.float32) -> str:
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype=dtype), n))
        return n

    def op(self, op_type: str, inputs: Sequence[str], base: str | None = None,
           out: str | None = None, **attrs: Any) -> str:
        o = out or self.name(base or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [o], **attrs))
        return o

    def zero_of(self, x: str) -> str:
        """A scalar ``0 * mean(x)``: ties a constant output to the input."""
        m = self.op("ReduceMean", [x], keepdims=0)
        return self.op("Mul", [m, self.const(0.0)])


def _finish(
    g: _G,
    path: str | Path,
    *,
    in_name: str,
    in_shape: Sequence[Any],
    body_in: str,
    outputs: Sequence[tuple[str, str, Sequence[Any], int]],
    fp16: bool = False,
    metadata: dict[str, str] | None = None,
    name: str = "pose",
) -> Path:
    """Wire input/outputs (casting for fp16 I/O), check and save.

    ``outputs`` rows: (public name, internal float32 tensor, shape, element type).
    """
    ft = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT
    pre = [helper.make_node("Cast", [in_name], [body_in], to=TensorProto.FLOAT)]
    outs = []
    post = []
    for pub, internal, shape, etype in outputs:
        if etype == TensorProto.FLOAT:
            post.append(helper.make_node("Cast", [internal], [pub], to=ft))
            outs.append(helper.make_tensor_value_info(pub, ft, list(shape)))
        else:
            post.append(helper.make_node("Identity", [internal], [pub]))
            outs.append(helper.make_tensor_value_info(pub, etype, list(shape)))
    graph = helper.make_graph(
        pre + g.nodes + post, name, [helper.make_tensor_value_info(in_name, ft, list(in_shape))],
        outs, initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="pose-studio-tests")
    model.ir_version = IR_VERSION
    if metadata:
        helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=True)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def gaussian_maps(k: int, hw: tuple[int, int], peaks: Sequence[tuple[float, float]],
                  sigma: float = 2.0) -> np.ndarray:
    """``(k, h, w)`` unit-peak Gaussians centred at sub-pixel ``peaks`` (x, y) in map pixels."""
    h, w = hw
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.zeros((k, h, w), dtype=np.float32)
    for i, (px, py) in enumerate(peaks[:k]):
        out[i] = np.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2 * sigma**2))
    return out


def _batch_dim(dynamic_batch: bool, static: int = 1) -> Any:
    return "batch" if dynamic_batch else static


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
    b = _batch_dim(dynamic_batch, static_batch)
    g = _G()
    rng = np.random.default_rng(_RNG_SEED)
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
    return _finish(g, path, in_name="input", in_shape=[b, 3, h_in, w_in], body_in="x32",
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
    b = _batch_dim(dynamic_batch, static_batch)
    g = _G()
    rng = np.random.default_rng(_RNG_SEED)
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
    return _finish(g, path, in_name="input", in_shape=[b, 3, h_in, w_in], body_in="x32",
                   outputs=outs, fp16=fp16, name="simcc")



def _yolo_head(g: _G, c: int) -> str:
    """An ultralytics-shaped head: ``c`` sigmoid channels over the stride-8/16/32 anchors."""
    rng = np.random.default_rng(_RNG_SEED)
    parts = []
    for s in (8, 16, 32):
        p = g.op("AveragePool", ["x32"], kernel_shape=[s, s], strides=[s, s])
        y = g.op("Conv", [p, g.const(rng.normal(0, 0.5, (c, 3, 1, 1)))])
        parts.append(g.op("Reshape", [y, g.const([0, c, -1], dtype=np.int64)]))
    return g.op("Sigmoid", [g.op("Concat", parts, axis=2)])

def _anchor_count(h: int, w: int, strides: Sequence[int] = (8, 16, 32)) -> int:
    return sum((h // s) * (w // s) for s in strides)


def make_yolo_pose_model(
    path: str | Path,
    k: int = 17,
    input_hw: tuple[int, int] = (640, 640),
    nc: int = 1,
    fp16: bool = False,
    planted: Sequence[dict[str, Any]] | None = None,
    metadata: bool = True,
    kpt_dim: int = 3,
    extra_metadata: dict[str, str] | None = None,
) -> Path:
    """Ultralytics YOLOv8/11-pose export: ``images [1,3,H,W] -> output0 [1, 4+nc+dK, A]``.

    ``planted``: detections ``{"anchor": i, "box": (cx, cy, w, h), "score": s,
    "kpts": (K, kpt_dim) array of x, y[, visibility]}`` in input pixels; all other anchors
    score 0. ``kpt_dim=2`` is e.g. ultralytics tiger-pose (``kpt_shape=[12, 2]``).
    ``extra_metadata`` overrides/extends the ultralytics metadata.
    """
    h_in, w_in = input_hw
    c = 4 + nc + kpt_dim * k
    a = _anchor_count(h_in, w_in)
    g = _G()
    y = _yolo_head(g, c)
    scl = np.ones((1, c, 1), dtype=np.float32)
    scl[0, :4] = w_in
    scl[0, 4:4 + nc] = 0.05  # random model: low class scores
    scl[0, 4 + nc::kpt_dim] = w_in
    scl[0, 5 + nc::kpt_dim] = h_in
    y = g.op("Mul", [y, g.const(scl)])
    if planted is not None:
        const = np.zeros((1, c, a), dtype=np.float32)
        for det in planted:
            i = int(det["anchor"])
            const[0, :4, i] = det["box"]
            const[0, 4 + int(det.get("cls", 0)), i] = det["score"]
            const[0, 4 + nc:, i] = np.asarray(det["kpts"], dtype=np.float32).reshape(-1)
        y = g.op("Mul", [y, g.const(0.0)])
        y = g.op("Add", [y, g.const(const)])
    meta = None
    if metadata:
        meta = {"task": "pose", "kpt_shape": f"[{k}, {kpt_dim}]", "names": "{0: 'person'}",
                "imgsz": f"[{h_in}, {w_in}]", "stride": "32", "batch": "1",
                "author": "Ultralytics", **(extra_metadata or {})}
    return _finish(g, path, in_name="images", in_shape=[1, 3, h_in, w_in], body_in="x32",
                   outputs=[("output0", y, [1, c, a], TensorProto.FLOAT)], fp16=fp16,
                   metadata=meta, name="yolo_pose")


def make_yolox_raw(
    path: str | Path,
    input_hw: tuple[int, int] = (640, 640),
    nc: int = 1,
    planted: Sequence[dict[str, Any]] | None = None,
) -> Path:
    """Megvii YOLOX export: ``images [1,3,H,W] -> output [1, A, 5+nc]`` (no NMS).

    ``planted``: ``{"box": (x1, y1, x2, y2), "score": s, "cls": c}`` in input pixels; each is
    encoded at the stride-8 anchor holding its centre (obj = 1, cls score = s).
    """
    h_in, w_in = input_hw
    c = 5 + nc
    a = _anchor_count(h_in, w_in)
    g = _G()
    y = _yolo_head(g, c)
    y = g.op("Mul", [y, g.const(0.01)])
    y = g.op("Transpose", [y], perm=[0, 2, 1])
    if planted is not None:
        const = np.zeros((1, a, c), dtype=np.float32)
        gw = w_in // 8
        for det in planted:
            x1, y1, x2, y2 = det["box"]
            cx, cy, bw, bh = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
            gx, gy = int(cx // 8), int(cy // 8)
            i = gy * gw + gx
            const[0, i, 0:4] = (cx / 8 - gx, cy / 8 - gy, np.log(bw / 8), np.log(bh / 8))
            const[0, i, 4] = 1.0
            const[0, i, 5 + int(det.get("cls", 0))] = det["score"]
        y = g.op("Mul", [y, g.const(0.0)])
        y = g.op("Add", [y, g.const(const)])
    return _finish(g, path, in_name="images", in_shape=[1, 3, h_in, w_in], body_in="x32",
                   outputs=[("output", y, [1, a, c], TensorProto.FLOAT)], name="yolox")


def make_detector_end2end(
    path: str | Path,
    input_hw: tuple[int, int] = (640, 640),
    boxes: Sequence[Sequence[float]] = ((100, 100, 300, 500), (110, 110, 310, 510),
                                        (400, 50, 600, 400), (10, 10, 50, 50)),
    scores: Sequence[float] = (0.9, 0.8, 0.7, 0.01),
    classes: Sequence[int] = (0, 0, 0, 0),
    nc: int = 1,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.05,
    dynamic_batch: bool = False,
    fp16: bool = False,
    stem: str = "none",
) -> Path:
    """mmdeploy end2end detector with the ONNX ``NonMaxSuppression`` op inside.

    ``stem``: what first reads the image (the outputs ignore it): "none", "conv" (RTMDet's
    CSPNeXt) or "focus" (YOLOX's space-to-depth Slice ops).

    ``input [1,3,H,W] -> dets [1,num_dets,5]`` (x1,y1,x2,y2,score in input pixels) and
    ``labels [1,num_dets]`` int64, plus a zero-score padding row like mmdeploy's
    ``_select_nms_index``. The defaults keep 3 boxes (the 2nd overlaps the 1st, the 4th is
    below the score threshold), then the padding row.
    """
    h_in, w_in = input_hw
    m = len(boxes)
    b = _batch_dim(dynamic_batch)
    g = _G()
    first = "x32"
    if stem == "conv":
        w = np.random.default_rng(_RNG_SEED).normal(0, 0.1, (8, 3, 3, 3)).astype(np.float32)
        first = g.op("Conv", ["x32", g.const(w)], strides=[2, 2], pads=[1, 1, 1, 1])
    elif stem == "focus":
        parts = [g.op("Slice", ["x32", g.const([dy, dx], dtype=np.int64),
                                g.const([h_in, w_in], dtype=np.int64),
                                g.const([2, 3], dtype=np.int64), g.const([2, 2], dtype=np.int64)])
                 for dy, dx in ((0, 0), (1, 0), (0, 1), (1, 1))]
        first = g.op("Concat", parts, axis=1)
    zero = g.zero_of(first)
    bx = g.op("Add", [g.const(np.asarray(boxes, dtype=np.float32)[None]), zero])  # [1,M,4]
    sc = np.zeros((1, nc, m), dtype=np.float32)
    for i, (s, c) in enumerate(zip(scores, classes)):
        sc[0, c, i] = s
    scn = g.op("Add", [g.const(sc), zero])  # [1,nc,M]
    sel = g.op("NonMaxSuppression", [bx, scn, g.const([100], dtype=np.int64),
                                     g.const([iou_threshold]), g.const([score_threshold])])
    box_idx = g.op("Gather", [sel, g.const(2, dtype=np.int64)], axis=1)  # [S]
    cls_idx = g.op("Gather", [sel, g.const(1, dtype=np.int64)], axis=1)  # [S]
    b0 = g.op("Squeeze", [bx, g.const([0], dtype=np.int64)])  # [M,4]
    sel_boxes = g.op("Gather", [b0, box_idx], axis=0)  # [S,4]
    sel_scores = g.op("GatherND", [scn, sel])  # [S]
    sel_scores = g.op("Unsqueeze", [sel_scores, g.const([1], dtype=np.int64)])
    dets = g.op("Concat", [sel_boxes, sel_scores], axis=1)  # [S,5]
    dets = g.op("Concat", [dets, g.const(np.zeros((1, 5)))], axis=0)
    dets = g.op("Unsqueeze", [dets, g.const([0], dtype=np.int64)])
    labels = g.op("Concat", [cls_idx, g.const([0], dtype=np.int64)], axis=0)
    labels = g.op("Unsqueeze", [labels, g.const([0], dtype=np.int64)])
    return _finish(g, path, in_name="input", in_shape=[b, 3, h_in, w_in], body_in="x32",
                   outputs=[("dets", dets, [b, "num_dets", 5], TensorProto.FLOAT),
                            ("labels", labels, [b, "num_dets"], TensorProto.INT64)],
                   fp16=fp16, name="detector")


def make_rtmo(
    path: str | Path,
    k: int = 17,
    input_hw: tuple[int, int] = (640, 640),
    dets: Sequence[Sequence[float]] = ((100, 80, 300, 480, 0.95),),
    keypoints: np.ndarray | None = None,
) -> Path:
    """RTMO one-stage export: ``input [1,3,H,W] -> dets [1,N,5]``, ``keypoints [1,N,K,3]``.

    Outputs are the planted constants (input pixels of the letterboxed image); the default
    keypoints are spread on a vertical line inside each box with score 0.9.
    """
    h_in, w_in = input_hw
    d = np.asarray(dets, dtype=np.float32).reshape(-1, 5)
    n = len(d)
    if keypoints is None:
        keypoints = np.zeros((n, k, 3), dtype=np.float32)
        for i, (x1, y1, x2, y2, _) in enumerate(d):
            keypoints[i, :, 0] = (x1 + x2) / 2
            keypoints[i, :, 1] = np.linspace(y1 + 5, y2 - 5, k)
            keypoints[i, :, 2] = 0.9
    g = _G()
    zero = g.zero_of("x32")
    do = g.op("Add", [g.const(d[None]), zero])
    ko = g.op("Add", [g.const(np.asarray(keypoints, dtype=np.float32)[None]), zero])
    return _finish(g, path, in_name="input", in_shape=[1, 3, h_in, w_in], body_in="x32",
                   outputs=[("dets", do, [1, n, 5], TensorProto.FLOAT),
                            ("keypoints", ko, [1, n, k, 3], TensorProto.FLOAT)], name="rtmo")


def make_classifier(path: str | Path, n_classes: int = 1000) -> Path:
    """An image classifier (``input [1,3,224,224] -> output [1,1000]``): not a pose model."""
    g = _G()
    gap = g.op("GlobalAveragePool", ["x32"])
    flat = g.op("Flatten", [gap], axis=1)
    y = g.op("MatMul", [flat, g.const(np.ones((3, n_classes)))])
    return _finish(g, path, in_name="input", in_shape=[1, 3, 224, 224], body_in="x32",
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



def _heavy_trunk(g: _G, rng: np.random.Generator, width: int, depth: int) -> str:
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
    b = _batch_dim(dynamic_batch)
    g = _G()
    rng = np.random.default_rng(_RNG_SEED)
    y = _heavy_trunk(g, rng, width, depth)
    y = g.op("Conv", [y, g.const(rng.normal(0, 0.1, (k, width, 1, 1))), g.const(np.zeros(k))])
    y = g.op("Sigmoid", [y])
    return _finish(g, path, in_name="input", in_shape=[b, 3, h_in, w_in], body_in="x32",
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
    b = _batch_dim(dynamic_batch)
    g = _G()
    rng = np.random.default_rng(_RNG_SEED)
    y = _heavy_trunk(g, rng, width, depth)
    y = g.op("AveragePool", [y], kernel_shape=[8, 8], strides=[8, 8])
    y = g.op("Conv", [y, g.const(rng.normal(0, 0.1, (k, width, 1, 1))), g.const(np.zeros(k))])
    feat = (h_in // 32) * (w_in // 32)
    y = g.op("Reshape", [y, g.const([0, k, feat], dtype=np.int64)])
    outs = []
    for name, n in (("simcc_x", 2 * w_in), ("simcc_y", 2 * h_in)):
        o = g.op("MatMul", [y, g.const(rng.normal(0, 0.3, (feat, n)))])
        outs.append((name, o, [b, k, n], TensorProto.FLOAT))
    return _finish(g, path, in_name="input", in_shape=[b, 3, h_in, w_in], body_in="x32",
                   outputs=outs, name="heavy_simcc")


def make_nhwc_model(path: str | Path, input_hw: tuple[int, int] = (64, 48), k: int = 17) -> Path:
    """A TensorFlow-style heatmap model with a channels-last input ``[1, H, W, 3]``."""
    h_in, w_in = input_hw
    g = _G()
    x = g.op("Transpose", ["x32"], perm=[0, 3, 1, 2])
    pooled = g.op("AveragePool", [x], kernel_shape=[4, 4], strides=[4, 4])
    y = g.op("Conv", [pooled, g.const(np.ones((k, 3, 1, 1)))])
    return _finish(g, path, in_name="input", in_shape=[1, h_in, w_in, 3], body_in="x32",
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
    g = _G()
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
    return _finish(g, path, in_name="input", in_shape=["batch", 3, h_in, w_in], body_in="x32",
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


def make_yolo_detect_model(
    path: str | Path,
    input_hw: tuple[int, int] = (640, 640),
    nc: int = 80,
    planted: Sequence[dict[str, Any]] | None = None,
    metadata: bool = True,
) -> Path:
    """Ultralytics YOLOv8/11 detector export: ``images [1,3,H,W] -> output0 [1, 4+nc, A]``
    (``cx, cy, w, h`` in input pixels, then sigmoid class scores; no NMS).

    ``planted``: ``{"anchor": i, "box": (cx, cy, w, h), "score": s, "cls": c}``.
    """
    h_in, w_in = input_hw
    c = 4 + nc
    a = _anchor_count(h_in, w_in)
    g = _G()
    y = _yolo_head(g, c)
    scl = np.ones((1, c, 1), dtype=np.float32)
    scl[0, :4] = w_in
    scl[0, 4:] = 0.05
    y = g.op("Mul", [y, g.const(scl)])
    if planted is not None:
        const = np.zeros((1, c, a), dtype=np.float32)
        for det in planted:
            i = int(det["anchor"])
            const[0, :4, i] = det["box"]
            const[0, 4 + int(det.get("cls", 0)), i] = det["score"]
        y = g.op("Mul", [y, g.const(0.0)])
        y = g.op("Add", [y, g.const(const)])
    meta = None
    if metadata:
        names = {i: ("person" if i == 0 else f"class{i}") for i in range(nc)}
        meta = {"task": "detect", "names": str(names), "imgsz": f"[{h_in}, {w_in}]",
                "stride": "32", "batch": "1", "author": "Ultralytics"}
    return _finish(g, path, in_name="images", in_shape=[1, 3, h_in, w_in], body_in="x32",
                   outputs=[("output0", y, [1, c, a], TensorProto.FLOAT)], metadata=meta,
                   name="yolo_detect")
