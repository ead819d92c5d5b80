"""Execution-provider choice, DirectML session options, GPU fallback, duplicate ORT installs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnxruntime as ort
import pytest

from pose_studio.inference import ModelError, PoseModel, load_model
from pose_studio.inference import providers as prov
from tests.support import onnx_models as om

ALL = ["DmlExecutionProvider", "CUDAExecutionProvider", "CoreMLExecutionProvider",
       "CPUExecutionProvider"]


def names(specs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [n for n, _ in specs]


@pytest.mark.parametrize("platform, expect", [
    ("win32", ["DmlExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]),
    ("linux", ["CUDAExecutionProvider", "CPUExecutionProvider"]),
    ("darwin", ["CoreMLExecutionProvider", "CPUExecutionProvider"]),
])
def test_auto_order_per_platform(platform: str, expect: list[str]) -> None:
    assert names(prov.select_providers("auto", available=ALL, platform=platform)) == expect


def test_auto_with_cpu_only_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["AzureExecutionProvider", "CPUExecutionProvider"])
    assert names(prov.select_providers("auto", platform="linux")) == ["CPUExecutionProvider"]


def test_explicit_provider_and_device_id() -> None:
    specs = prov.select_providers("cuda", 1, available=ALL, platform="linux")
    assert specs[0] == ("CUDAExecutionProvider", {"device_id": 1,
                                                   "cudnn_conv_algo_search": "HEURISTIC",
                                                   "arena_extend_strategy": "kSameAsRequested",
                                                   "do_copy_in_default_stream": True})
    assert names(prov.select_providers("dml", 2, available=ALL, platform="win32")) == [
        "DmlExecutionProvider", "CPUExecutionProvider"]
    assert names(prov.select_providers("cpu", available=ALL)) == ["CPUExecutionProvider"]


def test_missing_or_unknown_provider_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prov, "installed_ort_distributions", lambda: {"onnxruntime": "1.31.1"})
    with pytest.raises(ModelError, match="onnxruntime-gpu"):
        prov.select_providers("cuda", available=["CPUExecutionProvider"], platform="linux")
    with pytest.raises(ModelError, match="unknown provider 'tpu'"):
        prov.select_providers("tpu", available=ALL)


def test_dml_session_options_and_threads() -> None:
    so = prov.session_options([("DmlExecutionProvider", {}), ("CPUExecutionProvider", {})])
    assert so.enable_mem_pattern is False
    assert so.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    cpu = prov.session_options([("CPUExecutionProvider", {})], threads=None)
    assert cpu.intra_op_num_threads == prov.default_threads()
    assert prov.default_threads(8) == 7 and prov.default_threads(1) == 1


def test_duplicate_distributions_message() -> None:
    msg = prov.duplicate_ort_message({"onnxruntime": "1.31.1", "onnxruntime-gpu": "1.31.1"})
    assert msg is not None
    assert "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu" in msg
    assert prov.duplicate_ort_message({"onnxruntime": "1.31.1"}) is None


class _FakeSession:
    """Stands in for InferenceSession: fails for GPU providers, wraps a real CPU session."""

    calls: ClassVar[list[list[str]]] = []

    def __init__(self, path: str, sess_options: Any = None, providers: Any = None) -> None:
        req = [p[0] if isinstance(p, tuple) else p for p in providers]
        _FakeSession.calls.append(req)
        self.options = sess_options
        if req[0] != "CPUExecutionProvider":
            raise RuntimeError("CUDA failure 100: no CUDA-capable device is detected")
        self._s = _REAL(path, sess_options=sess_options, providers=["CPUExecutionProvider"])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s, name)


_REAL = ort.InferenceSession


def test_gpu_session_failure_falls_back_to_cpu(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    p = om.make_heatmap_model(tmp_path / "m.onnx", input_hw=(64, 48))
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", _FakeSession)
    monkeypatch.setattr(prov.sys, "platform", "linux")
    _FakeSession.calls = []
    m = load_model(p, provider="auto")
    assert _FakeSession.calls == [["CUDAExecutionProvider", "CPUExecutionProvider"],
                                  ["CPUExecutionProvider"]]
    assert m.providers == ["CPUExecutionProvider"]
    assert m.requested_providers[0] == "CUDAExecutionProvider"
    assert any("CUDAExecutionProvider failed" in w and "CPU" in w for w in m.warnings)


def test_dml_request_builds_sequential_session(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    def fake(path: str, sess_options: Any = None, providers: Any = None) -> Any:
        seen.append((sess_options, providers))
        return _REAL(path, sess_options=sess_options, providers=["CPUExecutionProvider"])

    p = om.make_heatmap_model(tmp_path / "m.onnx", input_hw=(64, 48))
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["DmlExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", fake)
    m = load_model(p, provider="dml", device_id=1)
    so, providers = seen[0]
    assert providers[0] == ("DmlExecutionProvider", {"device_id": 1})
    assert so.enable_mem_pattern is False
    assert so.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    # ORT registered only the CPU here: the model says so
    assert m.providers == ["CPUExecutionProvider"]
    assert any("did not register DmlExecutionProvider" in w for w in m.warnings)


class _CudaThatCannotRun:
    """A CUDA session that builds (ORT registered CUDA) but fails on the first run."""

    def __init__(self, path: str, sess_options: Any = None, providers: Any = None) -> None:
        req = [p[0] if isinstance(p, tuple) else p for p in providers]
        self._gpu = req[0] == "CUDAExecutionProvider"
        self._s = _REAL(path, sess_options=sess_options, providers=["CPUExecutionProvider"])

    def get_providers(self) -> list[str]:
        return (["CUDAExecutionProvider"] if self._gpu else []) + ["CPUExecutionProvider"]

    def run(self, *args: Any) -> Any:
        if self._gpu:
            raise RuntimeError("CUDNN failure 4: CUDNN_STATUS_INTERNAL_ERROR")
        return self._s.run(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s, name)


def test_gpu_session_that_cannot_run_falls_back_to_cpu(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    p = om.make_heatmap_model(tmp_path / "m.onnx", input_hw=(64, 48))
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", _CudaThatCannotRun)
    monkeypatch.setattr(prov, "preload_cuda_dlls", lambda ort_module=None: None)
    m = load_model(p, provider="cuda")
    assert m.providers == ["CPUExecutionProvider"]
    assert m.requested_providers == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert any("CUDAExecutionProvider cannot run" in w and "CUDNN_STATUS_INTERNAL_ERROR" in w
               and "CPU" in w for w in m.warnings)
    assert isinstance(m, PoseModel)
    (pred,) = m.predict_crops(np.zeros((60, 40, 3), np.uint8))
    assert pred.xy.shape == (17, 2)


def test_cuda_preload_dlls_once_and_only_for_cuda(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    class FakeOrt:
        @staticmethod
        def preload_dlls() -> None:
            calls.append(1)
            print("\x1b[33mWARNING: cuDNN 9 is not found\x1b[0m")  # it prints, never raises

    monkeypatch.setattr(prov, "_preload_done", [])
    first = prov.preload_cuda_dlls(FakeOrt)
    assert calls == [1] and first is not None and "cuDNN 9 is not found" in first
    assert prov.preload_cuda_dlls(FakeOrt) == first and calls == [1]  # once per process
    monkeypatch.setattr(prov, "_preload_done", [])
    assert prov.preload_cuda_dlls(object()) is None  # ORT < 1.21: nothing to call

    seen: list[str] = []

    def fake_preload(ort_module: Any = None) -> None:
        seen.append("called")

    monkeypatch.setattr(prov, "preload_cuda_dlls", fake_preload)
    p = om.make_heatmap_model(tmp_path / "m.onnx", input_hw=(64, 48))
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession",
                        lambda path, sess_options=None, providers=None: _REAL(
                            path, sess_options=sess_options, providers=["CPUExecutionProvider"]))
    load_model(p, provider="cpu")
    assert seen == []
    m = load_model(p, provider="cuda")
    assert seen == ["called"]
    assert any("did not register CUDAExecutionProvider" in w for w in m.warnings)


def test_cuda_and_dml_provider_options() -> None:
    cuda = dict(prov.select_providers("auto", 2, available=ALL, platform="linux"))
    assert cuda["CUDAExecutionProvider"] == {
        "device_id": 2, "cudnn_conv_algo_search": "HEURISTIC",
        "arena_extend_strategy": "kSameAsRequested", "do_copy_in_default_stream": True}
    dml = dict(prov.select_providers("auto", 1, available=ALL, platform="win32"))
    assert dml["DmlExecutionProvider"] == {"device_id": 1}
    assert list(dml)[-1] == "CPUExecutionProvider"
