"""Planted stand-ins for models from the wild: TensorFlow exports (channels-last, uint8 input),
MoveNet, BlazePose, and detectors exported without their post-processing (RTMDet heads,
NanoDet). Same conventions as :mod:`tests.support.onnx_models`: opset 17, IR 8, outputs that are
constants tied to the input (``+ 0 * mean(input)``) so decoders can be checked exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from tests.support.onnx_graph import IR_VERSION, OPSET, Graph

_ONNX_TYPE = {"float32": TensorProto.FLOAT, "uint8": TensorProto.UINT8,
              "int32": TensorProto.INT32, "float16": TensorProto.FLOAT16}


def _save(g: Graph, path: str | Path, in_name: str, in_shape: Sequence[Any], in_type: str,
          outputs: Sequence[tuple[str, str, Sequence[Any]]], name: str) -> Path:
    """``outputs`` rows: (public name, internal float32 tensor, shape)."""
    pre = [helper.make_node("Cast", [in_name], ["x32"], to=TensorProto.FLOAT)]
    post, outs = [], []
    for pub, internal, shape in outputs:
        post.append(helper.make_node("Identity", [internal], [pub]))
        outs.append(helper.make_tensor_value_info(pub, TensorProto.FLOAT, list(shape)))
    graph = helper.make_graph(
        pre + g.nodes + post, name,
        [helper.make_tensor_value_info(in_name, _ONNX_TYPE[in_type], list(in_shape))], outs,
        initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="pose-studio-tests")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def _planted(g: Graph, const: np.ndarray) -> str:
    return g.op("Add", [g.const(np.asarray(const, np.float32)), g.zero_of("x32")])


def to_channels_last(src: str | Path, dst: str | Path, dtype: str = "float32",
                     normalise: tuple[Sequence[float], Sequence[float]] | None = None) -> Path:
    """A TensorFlow-style copy of an NCHW float model: input ``[N, H, W, 3]`` of ``dtype``,
    transposed (and, for integer input, normalised with ``(mean, std)``) inside the graph."""
    m = onnx.load(str(src))
    g = m.graph
    old = g.input[0]
    dims = [d.dim_param or d.dim_value for d in old.type.tensor_type.shape.dim]
    n, c, h, w = dims
    new_name = f"{old.name}_nhwc"
    nodes = [helper.make_node("Cast", [new_name], ["nhwc_f32"], to=TensorProto.FLOAT)]
    cur = "nhwc_f32"
    inits = []
    if normalise is not None:
        mean, std = (np.asarray(v, np.float32).reshape(1, 1, 1, 3) for v in normalise)
        inits += [onnx.numpy_helper.from_array(mean, "nhwc_mean"),
                  onnx.numpy_helper.from_array((1.0 / std).astype(np.float32), "nhwc_istd")]
        nodes += [helper.make_node("Sub", [cur, "nhwc_mean"], ["nhwc_c"]),
                  helper.make_node("Mul", ["nhwc_c", "nhwc_istd"], ["nhwc_n"])]
        cur = "nhwc_n"
    nodes.append(helper.make_node("Transpose", [cur], ["nhwc_t"], perm=[0, 3, 1, 2]))
    old_type = old.type.tensor_type.elem_type
    nodes.append(helper.make_node("Cast", ["nhwc_t"], [old.name], to=old_type))
    new_nodes = nodes + list(g.node)
    del g.node[:]
    g.node.extend(new_nodes)
    g.initializer.extend(inits)
    del g.input[:]
    g.input.extend([helper.make_tensor_value_info(new_name, _ONNX_TYPE[dtype], [n, h, w, c])])
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, str(dst))
    return Path(dst)


def make_movenet_single(path: str | Path, kpts_yxs: np.ndarray,
                        input_hw: tuple[int, int] = (192, 192), dtype: str = "uint8",
                        layout: str = "nhwc") -> Path:
    """MoveNet single-pose: ``[1, H, W, 3]`` uint8 -> ``[1, 1, K, 3]`` (y, x, score) normalised
    to the padded input (the planted ``kpts_yxs``)."""
    h, w = input_hw
    k = len(kpts_yxs)
    g = Graph()
    y = _planted(g, np.asarray(kpts_yxs, np.float32).reshape(1, 1, k, 3))
    shape = [1, h, w, 3] if layout == "nhwc" else [1, 3, h, w]
    return _save(g, path, "serving_default_input:0", shape, dtype,
                 [("StatefulPartitionedCall:0", y, [1, 1, k, 3])], "movenet")


def make_movenet_multi(path: str | Path, people: Sequence[dict[str, Any]],
                       input_hw: Any = (256, 256), k: int = 17, slots: int = 6) -> Path:
    """MoveNet multi-pose: ``[1, H, W, 3]`` int32 -> ``[1, 6, 3K + 5]``. Each planted person:
    ``{"kpts": (K, 3) y, x, score, "box": (ymin, xmin, ymax, xmax), "score": s}``,
    normalised; the other slots score 0. ``input_hw`` may hold names (flexible size)."""
    h, w = input_hw
    rows = np.zeros((1, slots, 3 * k + 5), np.float32)
    for i, p in enumerate(people):
        rows[0, i, :3 * k] = np.asarray(p["kpts"], np.float32).reshape(-1)
        rows[0, i, 3 * k:3 * k + 4] = p["box"]
        rows[0, i, 3 * k + 4] = p["score"]
    g = Graph()
    y = _planted(g, rows)
    return _save(g, path, "input", [1, h, w, 3], "int32",
                 [("output_0", y, [1, slots, 3 * k + 5])], "movenet_multipose")


def make_blazepose(path: str | Path, landmarks_xy: np.ndarray, flag: float = 0.99,
                   visibility_logit: float = 4.0, input_size: int = 256) -> Path:
    """BlazePose landmark (full) as tf2onnx writes it: ``input_1 [1, 256, 256, 3]`` float ->
    ``Identity [1, 195]`` (39 x (x, y, z, visibility, presence), input pixels and logits),
    ``Identity_1 [1, 1]`` pose flag, ``Identity_2`` mask, ``Identity_3`` heatmaps,
    ``Identity_4 [1, 117]`` world landmarks. ``landmarks_xy``: (33, 2) in input pixels."""
    lm = np.zeros((39, 5), np.float32)
    lm[:33, :2] = landmarks_xy
    lm[:, 3] = visibility_logit
    lm[:, 4] = 5.0
    s = input_size
    g = Graph()
    outs = [("Identity", _planted(g, lm.reshape(1, 195)), [1, 195]),
            ("Identity_1", _planted(g, np.full((1, 1), flag)), [1, 1]),
            ("Identity_2", _planted(g, np.zeros((1, s, s, 1))), [1, s, s, 1]),
            ("Identity_3", _planted(g, np.zeros((1, s // 4, s // 4, 39))), [1, s // 4, s // 4, 39]),
            ("Identity_4", _planted(g, np.zeros((1, 117))), [1, 117])]
    return _save(g, path, "input_1", [1, s, s, 3], "float32", outs, "blazepose")


def make_rtmdet_heads(path: str | Path, input_hw: tuple[int, int] = (320, 320),
                      dets: Sequence[dict[str, Any]] = (), nc: int = 1) -> Path:
    """RTMDet cut before its decoding: ``cls`` logits ``[1, nc, H/s, W/s]`` then ``box``
    distances ``[1, 4, H/s, W/s]`` (pixels) for s = 8, 16, 32, named like the real export.
    ``dets``: ``{"stride": s, "cell": (gx, gy), "ltrb": (l, t, r, b), "logit": z, "cls": c}``;
    everywhere else the logit is -10."""
    h, w = input_hw
    g = Graph()
    cls_outs, box_outs = [], []
    for lvl, s in enumerate((8, 16, 32)):
        gh, gw = h // s, w // s
        cls = np.full((1, nc, gh, gw), -10.0, np.float32)
        box = np.full((1, 4, gh, gw), float(s), np.float32)
        for d in dets:
            if d["stride"] == s:
                gx, gy = d["cell"]
                cls[0, d.get("cls", 0), gy, gx] = d["logit"]
                box[0, :, gy, gx] = d["ltrb"]
        cls_outs.append((f"rtmdet_head.0.{lvl}", _planted(g, cls), [1, nc, gh, gw]))
        box_outs.append((f"rtmdet_head.1.{lvl}", _planted(g, box), [1, 4, gh, gw]))
    return _save(g, path, "input", [1, 3, h, w], "float32", cls_outs + box_outs, "rtmdet_heads")


def make_nanodet_heads(path: str | Path, input_hw: tuple[int, int] = (320, 320), nc: int = 80,
                       reg_max: int = 7, dets: Sequence[dict[str, Any]] = ()) -> Path:
    """NanoDet-m: ``cls_pred_stride_s [1, A, nc]`` (sigmoid scores) and ``dis_pred_stride_s
    [1, A, 4(reg_max+1)]`` (logits over distance bins) for s = 8, 16, 32. ``dets``:
    ``{"stride": s, "anchor": i, "bins": (l, t, r, b) integer bins, "score": p, "cls": c}``:
    the distance of each side is ``bin * s`` (a one-hot-like distribution)."""
    h, w = input_hw
    bins = reg_max + 1
    g = Graph()
    cls_outs, dis_outs = [], []
    for s in (8, 16, 32):
        a = (h // s) * (w // s)
        cls = np.full((1, a, nc), 0.01, np.float32)
        dis = np.zeros((1, a, 4 * bins), np.float32)
        for d in dets:
            if d["stride"] == s:
                i = d["anchor"]
                cls[0, i, d.get("cls", 0)] = d["score"]
                for side, b in enumerate(d["bins"]):
                    dis[0, i, side * bins + b] = 30.0  # softmax ~ one-hot
        cls_outs.append((f"cls_pred_stride_{s}", _planted(g, cls), [1, a, nc]))
        dis_outs.append((f"dis_pred_stride_{s}", _planted(g, dis), [1, a, 4 * bins]))
    return _save(g, path, "input.1", [1, 3, h, w], "float32", cls_outs + dis_outs, "nanodet")


def make_yolo_pose_collapsing(path: str | Path, input_hw: tuple[int, int] = (640, 640),
                              k: int = 17, dets: Sequence[dict[str, Any]] = ()) -> Path:
    """A YOLO-pose-shaped model (``images [1,3,H,W] -> output0 [1, 5+3K, A]``) whose boxes and
    keypoints (pixels, up to the input size) and scores (0..1) are concatenated BEFORE its last
    layer (a 1x1 convolution): quantised per tensor, every score rounds to the same value,
    as YOLO11n-pose's did under static INT8. ``dets``: ``{"anchor", "box" (cx, cy, w, h),
    "score", "kpts" (K, 3)}`` in input pixels."""
    h, w = input_hw
    a = sum((h // s) * (w // s) for s in (8, 16, 32))
    c = 5 + 3 * k
    vals = np.zeros((c, a), np.float32)
    vals[4] = 0.01
    vals[7::3] = 0.01
    for d in dets:
        i = d["anchor"]
        vals[:4, i] = d["box"]
        vals[4, i] = d["score"]
        vals[5:, i] = np.asarray(d["kpts"], np.float32).reshape(-1)
    small = [4, *range(7, c, 3)]  # score and keypoint visibilities: 0..1
    big = [r for r in range(c) if r not in small]
    g = Graph()
    zero = g.zero_of("x32")
    big_t = g.op("Add", [g.const(vals[big].reshape(1, len(big), a, 1)), zero])
    logits = np.log(np.clip(vals[small], 1e-4, 1 - 1e-4) / (1 - np.clip(vals[small], 1e-4,
                                                                          1 - 1e-4)))
    small_t = g.op("Sigmoid", [g.op("Add", [g.const(logits.reshape(1, len(small), a, 1)),
                                            zero])])
    cat = g.op("Concat", [big_t, small_t], axis=1)
    order = big + small  # channel j of the concat is output row order[j]
    perm = np.zeros((c, c, 1, 1), np.float32)
    for j, row in enumerate(order):
        perm[row, j, 0, 0] = 1.0
    y = g.op("Conv", [cat, g.const(perm)])
    y = g.op("Reshape", [y, g.const([1, c, a], dtype=np.int64)])
    meta = {"task": "pose", "kpt_shape": f"[{k}, 3]", "names": "{0: 'person'}",
            "imgsz": f"[{h}, {w}]", "stride": "32"}
    pre = [helper.make_node("Cast", ["images"], ["x32"], to=TensorProto.FLOAT)]
    graph = helper.make_graph(
        [*pre, *g.nodes, helper.make_node("Identity", [y], ["output0"])], "yolo_collapse",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, c, a])],
        initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return Path(path)


def make_old_ir3_model(src: str | Path, dst: str | Path, opset: int = 8) -> Path:
    """A copy written the way old exporters did: opset ``opset``, IR 3, every weight also
    listed as a graph input (converters then take the weights for inputs)."""
    m = onnx.load(str(src))
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = opset
    m.ir_version = 3
    for init in m.graph.initializer:
        m.graph.input.append(helper.make_tensor_value_info(init.name, init.data_type,
                                                           list(init.dims)))
    onnx.save(m, str(dst))
    return Path(dst)
