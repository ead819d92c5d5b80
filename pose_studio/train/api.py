"""API for running training as a separate process (used by the window's retraining).

Launch :func:`train_command` with ``subprocess.Popen(cmd, stdout=PIPE, text=True)`` and feed
each stdout line to :func:`parse_progress_line`. Every line is one JSON object with an
``"event"`` key:

``{"event": "data", "train": int, "val": int, "device": str}``
``{"event": "step", "epoch": int, "step": int, "steps_per_epoch": int, "total_steps": int,
   "loss": float, "lr": float, "elapsed_s": float}``          (every few steps)
``{"event": "epoch", "epoch": int, "epochs": int, "step": int, "loss": float,
   "val_ap": float, "val_ap50": float, "val_ap75": float, "best_ap": float, "elapsed_s": float}``
``{"event": "status", "message": str}`` / ``{"event": "resume", "epoch": int, "step": int}``
``{"event": "exported", "onnx": path, "card": path, "val_ap": float}``
``{"event": "done", "best_ap": float, "epochs": int, "step": int, "onnx": path | null}``
``{"event": "error", "message": str}``                      (then exit status 1)

The exported model is ``<out_dir>/<name>.onnx`` + ``.json`` (loadable by
:func:`pose_studio.inference.load_model`). Stopping: terminate the process; rerunning the same
command resumes from ``<out_dir>/last.pt``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from pose_studio.core.paths import models_dir

BUNDLED_NAME = "posestudio-hrnet-coco17"
PROGRESS_EVENTS = ("data", "step", "epoch", "status", "resume", "exported", "done", "error")


def torch_available() -> bool:
    """True when PyTorch can be imported (the ``train`` extra is installed)."""
    return importlib.util.find_spec("torch") is not None


INSTALL_HINT = 'training needs PyTorch: pip install "pose-studio[train]"'


def bundled_model() -> Path:
    """The bundled ONNX model (``models/posestudio-hrnet-coco17.onnx``)."""
    return models_dir() / f"{BUNDLED_NAME}.onnx"


def bundled_weights() -> Path | None:
    """The bundled model's PyTorch weights (fine-tuning starts from them), if shipped."""
    p = models_dir() / f"{BUNDLED_NAME}.pt"
    return p if p.is_file() else None


def train_command(
    project_path: str | Path,
    out_dir: str | Path,
    epochs: int = 20,
    *,
    name: str = "retrained",
    synthetic_scenes: int = 300,
    batch: int = 16,
    lr: float = 5e-4,
    time_budget_min: float | None = None,
    threads: int | None = None,
    device: str = "auto",
    init: str | Path | None = "bundled",
    python: str | None = None,
) -> list[str]:
    """The command line that fine-tunes a model on ``project_path``'s user labels.

    Args:
        project_path: The ``.posestudio`` project (opened read-only by the trainer).
        out_dir: Checkpoints, logs and the exported ``<name>.onnx`` + ``.json`` go here.
        epochs: Passes over the labeled crops (each with fresh augmentation).
        synthetic_scenes: Synthetic scenes mixed in (0 for none) so the model keeps
            its general knowledge while it adapts.
        init: "bundled" (start from the bundled model's weights), a ``.pt`` checkpoint, or None
            (from scratch).
        python: Interpreter (default: the running one).
    """
    cmd = [
        python or sys.executable, "-m", "pose_studio.cli.cmd_train",
        "--project", str(project_path), "--out", str(out_dir), "--epochs", str(int(epochs)),
        "--name", name, "--synthetic-scenes", str(int(synthetic_scenes)), "--batch",
        str(int(batch)), "--lr", str(float(lr)), "--device", device, "--json-progress",
    ]  # fmt: skip
    if time_budget_min:
        cmd += ["--time-budget", str(float(time_budget_min))]
    if threads:
        cmd += ["--threads", str(int(threads))]
    if init is not None:
        cmd += ["--init", str(init)]
    return cmd


def format_progress_line(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), default=str)


def parse_progress_line(line: str) -> dict[str, Any] | None:
    """One stdout line -> event dict, or None for a line that is not a progress event."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        ev = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(ev, dict) or ev.get("event") not in PROGRESS_EVENTS:
        return None
    return ev
