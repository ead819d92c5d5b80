"""Test models of the one-stage and detector families: ultralytics YOLO-pose and detect,
Megvii YOLOX (raw, no NMS), mmdeploy end2end detectors (NMS inside) and RTMO. "Planted"
variants output known detections (see ``onnx_models``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from onnx import TensorProto

from tests.support.onnx_graph import RNG_SEED, Graph, batch_dim, save_model


def _yolo_head(g: Graph, c: int) -> str:
    """An ultralytics-shaped head: ``c`` sigmoid channels over the stride-8/16/32 anchors."""
    rng = np.random.default_rng(RNG_SEED)
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
    g = Graph()
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
    return save_model(g, path, in_name="images", in_shape=[1, 3, h_in, w_in], body_in="x32",
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
    g = Graph()
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
    return save_model(g, path, in_name="images", in_shape=[1, 3, h_in, w_in], body_in="x32",
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
    b = batch_dim(dynamic_batch)
    g = Graph()
    first = "x32"
    if stem == "conv":
        w = np.random.default_rng(RNG_SEED).normal(0, 0.1, (8, 3, 3, 3)).astype(np.float32)
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
    return save_model(g, path, in_name="input", in_shape=[b, 3, h_in, w_in], body_in="x32",
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
    g = Graph()
    zero = g.zero_of("x32")
    do = g.op("Add", [g.const(d[None]), zero])
    ko = g.op("Add", [g.const(np.asarray(keypoints, dtype=np.float32)[None]), zero])
    return save_model(g, path, in_name="input", in_shape=[1, 3, h_in, w_in], body_in="x32",
                   outputs=[("dets", do, [1, n, 5], TensorProto.FLOAT),
                            ("keypoints", ko, [1, n, k, 3], TensorProto.FLOAT)], name="rtmo")


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
    g = Graph()
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
    return save_model(g, path, in_name="images", in_shape=[1, 3, h_in, w_in], body_in="x32",
                   outputs=[("output0", y, [1, c, a], TensorProto.FLOAT)], metadata=meta,
                   name="yolo_detect")
