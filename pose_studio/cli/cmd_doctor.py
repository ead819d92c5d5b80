"""``pose-studio doctor``: what is installed and what is wrong, the first thing a bug report needs.

Python, Qt (PySide6, the platform plugin the window will use and the libraries it lacks),
OpenCV, ONNX Runtime (builds installed side by side, providers), GPU, torch, PyAV/FFmpeg and
its codecs, and where settings and logs live. Exit status 1 when something would stop the app
from working, 0 otherwise; ``--json`` prints one object.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from pose_studio import __version__


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "doctor",
        help="check the installation (Qt, ONNX Runtime, GPU, FFmpeg...) for a bug report",
        description="Print the versions and settings a bug report needs and name what is "
        "wrong with this installation. Exit status 1 when something is.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-torch", action="store_true",
                   help="do not start torch to ask for its GPU (it takes a few seconds)")
    p.set_defaults(func=run)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


GPU_PROVIDERS = {"CUDAExecutionProvider", "TensorrtExecutionProvider", "DmlExecutionProvider",
                 "CoreMLExecutionProvider", "ROCMExecutionProvider", "MIGraphXExecutionProvider",
                 "OpenVINOExecutionProvider"}


class Report:
    """Sections of facts, and the problems (exit 1) and notes found on the way."""

    def __init__(self) -> None:
        self.sections: dict[str, dict[str, Any]] = {}
        self.problems: list[str] = []
        self.notes: list[str] = []

    def section(self, name: str, facts: dict[str, Any]) -> None:
        self.sections[name] = facts

    def as_dict(self) -> dict[str, Any]:
        return {**self.sections, "problems": self.problems, "notes": self.notes,
                "ok": not self.problems}


def _python(r: Report) -> None:
    r.section("pose_studio", {"version": __version__, "location": str(Path(__file__).parents[1])})
    r.section("python", {"version": platform.python_version(), "executable": sys.executable,
                         "platform": platform.platform(), "machine": platform.machine()})


def _qt(r: Report) -> None:
    from pose_studio.cli.qt_preflight import check_gui_platform, qt_plugin_dir

    pyside = _version("PySide6") or _version("PySide6-Essentials")
    facts: dict[str, Any] = {"pyside6": pyside, "pyqtgraph": _version("pyqtgraph")}
    if pyside is None:
        r.problems.append("PySide6 is not installed: the window cannot start "
                          "(pip install PySide6)")
        r.section("qt", facts)
        return
    facts["qt"] = pyside  # PySide6 wheels bundle the Qt of the same version
    plugins = qt_plugin_dir()
    facts["plugins"] = str(plugins) if plugins else None
    check = check_gui_platform()
    facts["platform_plugin"] = check.platform
    if os.environ.get("QT_QPA_PLATFORM"):
        facts["QT_QPA_PLATFORM"] = os.environ["QT_QPA_PLATFORM"]
    if check.checked:
        facts["missing_libraries"] = list(check.missing)
        facts["checked_with"] = check.how
        if check.missing:
            r.problems.append(
                f"Qt's xcb plugin lacks {', '.join(check.missing)}: the window aborts at start"
                + (f"; install with: {check.install_command()}" if check.packages else "")
            )
        elif check.no_display:
            r.notes.append("no DISPLAY: the window needs a desktop session (the commands and "
                           "`screenshot` work without one)")
    if sys.version_info < (3, 12) and pyside == "6.12.0":
        r.problems.append("PySide6 6.12.0 on Python < 3.12 loses a reference to None on every "
                          "paint and crashes after minutes of playback: "
                          "pip install 'PySide6<6.12' (or use Python 3.12+)")
    r.section("qt", facts)


def _opencv(r: Report) -> None:
    full, headless = _version("opencv-python"), _version("opencv-python-headless")
    r.section("opencv", {"opencv-python-headless": headless, "opencv-python": full,
                         "opencv-contrib-python": _version("opencv-contrib-python")})
    if full and _version("PySide6"):
        r.problems.append(f"opencv-python {full} ships its own Qt plugins and can make PySide6 "
                          "load the wrong platform plugin: pip uninstall -y opencv-python && "
                          "pip install opencv-python-headless")
    if not (full or headless or _version("opencv-contrib-python")):
        r.problems.append("OpenCV is not installed (pip install opencv-python-headless)")


def _onnxruntime(r: Report) -> None:
    from pose_studio.inference.providers import duplicate_ort_message, installed_ort_distributions

    dists = installed_ort_distributions()
    facts: dict[str, Any] = {"distributions": dists}
    dup = duplicate_ort_message(dists)
    if dup:
        r.problems.append(dup)
    if not dists:
        r.problems.append("ONNX Runtime is not installed: models cannot run "
                          "(pip install onnxruntime, or onnxruntime-gpu for CUDA)")
    else:
        try:
            from pose_studio.inference.providers import available_providers

            facts["providers"] = available_providers()
        except Exception as exc:  # a broken install: say so, keep going
            r.problems.append(f"onnxruntime does not import ({type(exc).__name__}: {exc})")
    r.section("onnxruntime", facts)


def _gpu(r: Report, ask_torch: bool) -> None:
    facts: dict[str, Any] = {}
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total",
                                  "--format=csv,noheader"], capture_output=True, text=True,
                                 timeout=20)
            facts["nvidia"] = [x.strip() for x in out.stdout.splitlines() if x.strip()]
        except (OSError, subprocess.SubprocessError) as exc:
            facts["nvidia"] = f"nvidia-smi failed ({exc})"
    else:
        facts["nvidia"] = None
    providers = r.sections.get("onnxruntime", {}).get("providers") or []
    facts["onnxruntime_gpu_providers"] = [p for p in providers if p in GPU_PROVIDERS]
    if facts["nvidia"] and "CUDAExecutionProvider" not in providers:
        r.notes.append("an NVIDIA GPU is here but ONNX Runtime has no CUDA provider: "
                       "pip install onnxruntime-gpu (alone) to use it")
    torch = _version("torch")
    facts["torch"] = torch
    if torch and ask_torch:
        code = ("import torch, json; print(json.dumps({'cuda': torch.cuda.is_available(), "
                "'cuda_version': torch.version.cuda, 'mps': bool(getattr(torch.backends, "
                "'mps', None) and torch.backends.mps.is_available())}))")
        try:
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 timeout=120)
            facts["torch_devices"] = json.loads(out.stdout.strip().splitlines()[-1])
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            facts["torch_devices"] = "torch did not start"
            r.notes.append("torch is installed but does not start (training will not work)")
    r.section("gpu", facts)


def _video(r: Report) -> None:
    try:
        from pose_studio.video.codecs import ESSENTIAL_DECODERS, ffmpeg_report

        facts = ffmpeg_report()
    except Exception as exc:  # PyAV missing or broken
        r.problems.append(f"PyAV (FFmpeg) does not import ({type(exc).__name__}: {exc}): "
                          "no video can be read (pip install av)")
        r.section("video", {})
        return
    lacking = [c for c in ESSENTIAL_DECODERS if not facts["decoders"].get(c)]
    if lacking:
        r.problems.append(f"this FFmpeg build cannot decode {', '.join(lacking)}")
    if not any(facts["encoders"].get(c) for c in ("libx264", "h264", "mpeg4")):
        r.problems.append("this FFmpeg build has no H.264 or MPEG-4 encoder: render cannot "
                          "write videos")
    r.section("video", facts)


def _settings_path() -> str:
    org, app = "PoseStudio", "Pose Studio"  # as the window names itself to QSettings
    if sys.platform.startswith("win"):
        return f"registry: HKEY_CURRENT_USER\\Software\\{org}\\{app}"
    if sys.platform == "darwin":
        return str(Path.home() / "Library" / "Preferences" / f"com.{org.lower()}.{app}.plist")
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return str(Path(base) / org / f"{app}.conf")


def _files(r: Report) -> None:
    from pose_studio.cli.main import _log_file

    r.section("files", {"settings": _settings_path(), "log": str(_log_file()),
                        "temp": os.environ.get("TMPDIR") or "/tmp"})


def collect(ask_torch: bool = True) -> Report:
    r = Report()
    for step in (_python, _qt, _opencv, _onnxruntime):
        step(r)
    _gpu(r, ask_torch)
    _video(r)
    _files(r)
    return r


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return "-" if value is None else str(value)


def run(args: argparse.Namespace) -> int:
    r = collect(ask_torch=not args.no_torch)
    if args.json:
        print(json.dumps(r.as_dict(), indent=2))
        return 0 if not r.problems else 1
    for name, facts in r.sections.items():
        print(f"{name}:")
        for k, v in facts.items():
            if name == "video" and k in ("decoders", "encoders"):
                have = [c for c, ok in v.items() if ok]
                lack = [c for c, ok in v.items() if not ok]
                v = ", ".join(have) + (f" (not: {', '.join(lack)})" if lack else "")
            print(f"  {k}: {_text(v)}")
    for n in r.notes:
        print(f"note: {n}")
    for p in r.problems:
        print(f"PROBLEM: {p}")
    print("everything needed is here" if not r.problems
          else f"{len(r.problems)} problem(s) found")
    return 0 if not r.problems else 1
