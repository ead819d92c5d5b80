"""A thin, thread-safe wrapper around one ONNX Runtime session."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.inference.errors import ModelError
from pose_studio.inference.providers import create_session

_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64",
           "tensor(int32)": "int32", "tensor(uint8)": "uint8", "tensor(double)": "float64"}
#: image input element types the engine feeds (TensorFlow exports take raw uint8/int32 pixels)
_NUMPY_INPUT: dict[str, Any] = {"float32": np.float32, "float16": np.float16,
                                "uint8": np.uint8, "int32": np.int32}


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[Any, ...]  # ints, or str/None for dynamic axes
    dtype: str

    def __str__(self) -> str:
        dims = ", ".join(str(d) if d is not None else "?" for d in self.shape)
        return f"{self.name} [{dims}] {self.dtype}"


class OnnxSession:
    """One ORT session: provider fallback, fp16 casts, static-batch splitting, one run at a time.

    The lock serialises ``run`` (required for DirectML, harmless elsewhere: the pipeline
    calls from one thread).
    """

    def __init__(self, path: Path, provider: str = "auto", device_id: int = 0,
                 threads: int | None = None) -> None:
        self.path = path
        self.session, self.requested_providers, self.warnings = create_session(
            str(path), provider, device_id, threads)
        s = self.session
        self.inputs = [TensorInfo(i.name, tuple(i.shape), _DTYPES.get(i.type, i.type))
                       for i in s.get_inputs()]
        self.outputs = [TensorInfo(o.name, tuple(o.shape), _DTYPES.get(o.type, o.type))
                        for o in s.get_outputs()]
        try:
            self.metadata: dict[str, str] = dict(s.get_modelmeta().custom_metadata_map)
        except Exception:  # metadata is optional
            self.metadata = {}
        self._lock = threading.Lock()
        import onnxruntime as ort

        # failures come back as ModelError with ORT's message: no duplicate log on stderr
        self._run_options = ort.RunOptions()
        self._run_options.log_severity_level = 4
        self.input_name = self.inputs[0].name if self.inputs else ""
        self.input_dtype: Any = _NUMPY_INPUT.get(self.inputs[0].dtype, np.float32) \
            if self.inputs else np.float32
        #: "nchw" or "nhwc" (TensorFlow exports); set by the loader
        self.layout = "nchw"
        b = self.inputs[0].shape[0] if self.inputs and self.inputs[0].shape else None
        self.static_batch: int | None = b if isinstance(b, int) and b > 0 else None
        #: 1 once a "dynamic" batch axis turned out not to batch (see check_batching)
        self.batch_limit: int | None = None

    @property
    def providers(self) -> list[str]:
        """What ORT actually registered for this session."""
        return list(self.session.get_providers())

    def blank_input(self, batch: int, size: tuple[int, int]) -> np.ndarray:
        """Zeros shaped like a batch of images of ``size`` (w, h), in the input's layout."""
        w, h = size
        shape = (batch, h, w, 3) if self.layout == "nhwc" else (batch, 3, h, w)
        return np.zeros(shape, dtype=self.input_dtype)

    def random_input(self, batch: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
        """Random values shaped like :meth:`blank_input` (pixels for integer inputs, -1..1
        for float ones): for timing and comparing two copies of a model."""
        x = self.blank_input(batch, size)
        rng = np.random.default_rng(seed)
        if x.dtype.kind in "iu":
            return rng.integers(0, 256, x.shape).astype(x.dtype)
        return rng.uniform(-1, 1, x.shape).astype(x.dtype)

    def describe_io(self) -> str:
        ins = "; ".join(str(t) for t in self.inputs) or "none"
        outs = "; ".join(str(t) for t in self.outputs) or "none"
        return f"inputs: {ins}; outputs: {outs}"

    def run_once(self, x: np.ndarray) -> list[np.ndarray]:
        """One ``session.run``; float outputs come back as float32."""
        feed = {self.input_name: np.ascontiguousarray(x, dtype=self.input_dtype)}
        try:
            with self._lock:
                outs = self.session.run(None, feed, self._run_options)
        except Exception as exc:
            msg = str(exc).strip().splitlines()
            raise ModelError(f"{self.path.name}: inference failed for input "
                             f"{list(x.shape)}: {msg[0] if msg else type(exc).__name__}") from exc
        return [o.astype(np.float32) if o.dtype in (np.float16, np.float64) else o
                for o in outs]

    def check_batching(self, single: list[np.ndarray], x1: np.ndarray) -> None:
        """Verify that a dynamic batch axis really batches (``single``: outputs of ``x1``).

        Exports often declare a dynamic batch axis while a Reshape inside still has the
        batch size 1 baked in: batch 2 then fails, or mixes the two images. Such a model is
        run one image at a time (with a warning) instead of failing mid-video.
        """
        if self.static_batch is not None or self.batch_limit is not None:
            return
        why = ""
        try:
            outs = self.run_once(np.concatenate([x1, x1]))
        except ModelError as exc:
            why = str(exc)
        else:
            for a, b in zip(single, outs):
                if b.shape[:1] != (2,) or b.shape[1:] != a.shape[1:]:
                    why = f"a batch of 2 gives output {list(b.shape)}, batch 1 {list(a.shape)}"
                    break
        if why:
            self._limit_batch(why)

    def _limit_batch(self, why: str) -> None:
        self.batch_limit = 1
        self.warnings.append(f"{self.path.name}: the batch axis is declared dynamic but the "
                             f"model only runs one image at a time ({why}); running images "
                             f"one by one (slower)")

    def run(self, x: np.ndarray, max_batch: int = 32) -> list[np.ndarray]:
        """Run a batch of any size: split into the static batch (zero-padded) or ``max_batch``.

        A dynamic-batch model that fails on several images but runs one is split further:
        halved on out-of-memory errors (large GPU batches), else one image at a time.
        """
        while True:
            try:
                return self._run_split(x, max_batch)
            except ModelError as exc:
                step = self.batch_limit or max(1, int(max_batch))
                if self.static_batch is not None or step < 2 or x.shape[0] < 2:
                    raise
                self.run_once(x[:1])  # one image fails too: a real error, raised from here
                text = str(exc).lower()
                if step > 2 and any(w in text for w in ("memory", "alloc", "oom")):
                    self.batch_limit = step // 2
                    self.warnings[:] = [w for w in self.warnings if "out of memory" not in w]
                    self.warnings.append(f"{self.path.name}: out of memory on a batch of "
                                         f"{step} images; running batches of {step // 2}")
                else:
                    self._limit_batch(str(exc))

    def _run_split(self, x: np.ndarray, max_batch: int) -> list[np.ndarray]:
        n = int(x.shape[0])
        step = self.static_batch or self.batch_limit or max(1, int(max_batch))
        if n == step or (self.static_batch is None and n <= step):
            return self.run_once(x)
        parts: list[list[np.ndarray]] = []
        for i in range(0, n, step):
            chunk = x[i:i + step]
            m = chunk.shape[0]
            if self.static_batch and m < step:
                pad = np.zeros((step - m, *chunk.shape[1:]), dtype=chunk.dtype)
                chunk = np.concatenate([chunk, pad])
            outs = self.run_once(chunk)
            parts.append([o[:m] for o in outs])
        return [np.concatenate([p[j] for p in parts]) for j in range(len(parts[0]))]
