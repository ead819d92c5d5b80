"""The graph builder behind the test models (``onnx_models``, ``onnx_detectors``,
``onnx_heavy``, ``onnx_wild``): nodes and initializers with unique names, and the wiring of
inputs and outputs (fp16 casts included), checked and saved. All models pin opset 17 and IR
version 8."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
RNG_SEED = 1234


class Graph:
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


def save_model(
    g: Graph,
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


def batch_dim(dynamic_batch: bool, static: int = 1) -> Any:
    return "batch" if dynamic_batch else static
