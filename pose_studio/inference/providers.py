"""ONNX Runtime execution providers: choice, session options, fallback and install problems."""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

from pose_studio.inference.errors import ModelError

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
DML = "DmlExecutionProvider"
COREML = "CoreMLExecutionProvider"

#: ``provider`` argument -> ORT provider name.
PROVIDER_NAMES: dict[str, str] = {"cpu": CPU, "cuda": CUDA, "dml": DML, "coreml": COREML}
#: Accelerated providers tried by ``provider="auto"``, per platform, before the CPU.
AUTO_ORDER: dict[str, tuple[str, ...]] = {
    "win32": (DML, CUDA),
    "linux": (CUDA,),
    "darwin": (COREML,),
}
#: The PyPI distributions that all install the same ``onnxruntime`` module.
ORT_DISTRIBUTIONS = (
    "onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino",
    "onnxruntime-silicon", "onnxruntime-qnn", "onnxruntime-rocm",
)  # fmt: skip
_INSTALL_HINT = {
    CUDA: "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu "
          "(Linux/Windows x64, CUDA 12 + cuDNN 9)",
    DML: "pip uninstall -y onnxruntime onnxruntime-directml && pip install onnxruntime-directml "
         "(Windows)",
    COREML: "pip install onnxruntime (macOS wheels include CoreML since 1.17)",
}

ProviderSpec = tuple[str, dict[str, Any]]

_preload_lock = threading.Lock()
_preload_done: list[str] = []  # the one outcome of preload_cuda_dlls, once per process


def preload_cuda_dlls(ort_module: Any = None) -> str | None:
    """Load CUDA/cuDNN from the ``nvidia-*`` pip wheels (or PyTorch) before a CUDA session.

    ``onnxruntime.preload_dlls()`` exists since ORT 1.21; older builds, or CUDA libraries
    already on the library path, need nothing. Runs once per process; never raises.

    Returns:
        None when fine (or not applicable), else a warning to show.
    """
    with _preload_lock:
        if _preload_done:
            return _preload_done[0] or None
        if ort_module is None:
            import onnxruntime

            ort_module = onnxruntime
        fn = getattr(ort_module, "preload_dlls", None)
        msg = ""
        if fn is not None:
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):  # it prints its own warnings
                    fn()
            except Exception as exc:  # a failed preload only means the EP may not load
                msg = f"onnxruntime.preload_dlls() failed ({type(exc).__name__}: {exc})"
            text = " ".join(out.getvalue().split())
            if text and "WARNING" in text.upper() and not msg:
                msg = f"onnxruntime.preload_dlls(): {text[:300]}"
        _preload_done.append(msg)
        return msg or None


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def installed_ort_distributions() -> dict[str, str]:
    """Installed distributions that provide the ``onnxruntime`` module: name -> version."""
    found: dict[str, str] = {}
    for name in ORT_DISTRIBUTIONS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def duplicate_ort_message(dists: dict[str, str] | None = None) -> str | None:
    """Explain the "two onnxruntime distributions installed" problem, or None when fine."""
    dists = installed_ort_distributions() if dists is None else dists
    if len(dists) < 2:
        return None
    listed = ", ".join(f"{n} {v}" for n, v in sorted(dists.items()))
    keep = next((n for n in ("onnxruntime-gpu", "onnxruntime-directml") if n in dists),
                sorted(dists)[0])
    return (
        f"several onnxruntime distributions are installed ({listed}); they share one "
        f"'onnxruntime' module and overwrite each other, so GPU providers can disappear. "
        f"Fix: pip uninstall -y {' '.join(sorted(dists))} && pip install {keep}"
    )


def select_providers(
    provider: str = "auto",
    device_id: int = 0,
    *,
    available: Sequence[str] | None = None,
    platform: str | None = None,
) -> list[ProviderSpec]:
    """The providers to request, best first, CPU always last.

    Args:
        provider: ``auto``, ``cpu``, ``cuda``, ``dml`` or ``coreml``.
        device_id: GPU index (CUDA device / DXGI adapter).
        available: ``ort.get_available_providers()`` (substitutable for tests).
        platform: ``sys.platform`` (substitutable for tests).

    Raises:
        ModelError: unknown name, or an explicitly requested provider this build lacks.
    """
    avail = list(available_providers() if available is None else available)
    plat = sys.platform if platform is None else platform
    key = provider.lower().strip()
    if key == "auto":
        wanted = [p for p in AUTO_ORDER.get(plat, ()) if p in avail]
    elif key in PROVIDER_NAMES:
        name = PROVIDER_NAMES[key]
        if name != CPU and name not in avail:
            msg = (f"execution provider {provider!r} ({name}) is not available in this "
                   f"onnxruntime build (available: {', '.join(avail) or 'none'})")
            dup = duplicate_ort_message()
            hint = dup or f"install it with: {_INSTALL_HINT.get(name, 'the matching onnxruntime build')}"
            raise ModelError(f"{msg}; {hint}")
        wanted = [] if name == CPU else [name]
    else:
        raise ModelError(
            f"unknown provider {provider!r}: use one of auto, {', '.join(PROVIDER_NAMES)}"
        )
    specs: list[ProviderSpec] = []
    for name in wanted:
        opts: dict[str, Any] = {}
        if name in (CUDA, DML):
            opts["device_id"] = int(device_id)
        if name == CUDA:
            # EXHAUSTIVE (the default) benchmarks every conv per new input shape: slow first
            # runs for each crop count; kSameAsRequested keeps the arena from doubling
            opts["cudnn_conv_algo_search"] = "HEURISTIC"
            opts["arena_extend_strategy"] = "kSameAsRequested"
            opts["do_copy_in_default_stream"] = True
        specs.append((name, opts))
    specs.append((CPU, {}))
    return specs


def usable_cores() -> int:
    """The cores this process may run on (CPU affinity, e.g. ``taskset`` or a container cpuset),
    not all cores of the machine."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS / Windows
        n = os.cpu_count() or 1
    return max(1, n)


def default_threads(cpu_count: int | None = None) -> int:
    """Leave one core for the GUI and the video decoder."""
    n = usable_cores() if cpu_count is None else cpu_count
    return max(1, n - 1)


def session_options(specs: Sequence[ProviderSpec], threads: int | None = None) -> Any:
    """SessionOptions for these providers (DirectML: no memory pattern, sequential)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = default_threads() if threads is None else max(1, int(threads))
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if any(name == DML for name, _ in specs):
        so.enable_mem_pattern = False
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return so


def create_session(
    path: str,
    provider: str = "auto",
    device_id: int = 0,
    threads: int | None = None,
    *,
    available: Sequence[str] | None = None,
) -> tuple[Any, list[str], list[str]]:
    """Build an InferenceSession; fall back to the CPU if a GPU session fails.

    Returns:
        ``(session, requested provider names, warnings)``.

    Raises:
        ModelError: the file is not a loadable ONNX model (on every provider tried).
    """
    import onnxruntime as ort

    specs = select_providers(provider, device_id, available=available)
    warnings: list[str] = []
    dup = duplicate_ort_message()
    if dup:
        warnings.append(dup)
    if any(n == CUDA for n, _ in specs):
        pre = preload_cuda_dlls(ort)
        if pre:
            warnings.append(pre)
    requested = [n for n, _ in specs]
    try:
        sess = ort.InferenceSession(path, sess_options=session_options(specs, threads),
                                    providers=[(n, o) for n, o in specs])
    except Exception as exc:
        reason = _first_line(exc)
        if len(specs) == 1:
            raise ModelError(f"{path}: cannot load the model: {reason}") from exc
        cpu: list[ProviderSpec] = [(CPU, {})]
        try:
            sess = ort.InferenceSession(path, sess_options=session_options(cpu, threads),
                                        providers=[(n, o) for n, o in cpu])
        except Exception as exc2:
            raise ModelError(f"{path}: cannot load the model: {_first_line(exc2)}") from exc2
        warnings.append(f"{requested[0]} failed to build a session ({reason}); "
                        f"running on the CPU instead (slower)")
        return sess, requested, warnings
    got = list(sess.get_providers())
    missing = [n for n in requested if n != CPU and n not in got]
    if missing:
        warnings.append(f"onnxruntime did not register {', '.join(missing)}; running on "
                        f"{', '.join(got)}")
    return sess, requested, warnings


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    if "IR version" in line or "opset" in line.lower():
        line += (" (the file is newer than this onnxruntime: update onnxruntime, or export "
                 "again with an older opset / IR version)")
    elif "Protobuf parsing failed" in line or "INVALID_PROTOBUF" in line:
        line += " (not an ONNX file, or a truncated/corrupt one)"
    return f"{type(exc).__name__}: {line}".strip()
