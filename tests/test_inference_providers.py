"""Execution-provider choice, DirectML session options, GPU fallback, duplicate ORT installs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import onnxruntime as ort
import pytest

from pose_studio.inference import ModelError, load_model
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
                                                   "cudnn_conv_algo_search": "HEURISTIC"})
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
