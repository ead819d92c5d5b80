"""Model files as the window lists them, Qt-free: pose model or person detector, and the
catalogue models downloaded with "Get a model…" (``pose_studio.inference.download``).

Whether a file is a detector comes from its model card's family (the family adapter's ``kind``),
never from comparing family names in the window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["InstalledModel", "installed_models", "model_kind", "model_name"]


def model_name(path: str | Path) -> str:
    """A model file in a few words, as model runs name it: its stem, or its folder's name for
    ``end2end.onnx`` and the like (downloaded SDK folders)."""
    from pose_studio.store.runs import model_label

    return model_label(str(path), None) or Path(path).name


def model_kind(path: str | Path) -> str:
    """``"pose"`` or ``"detector"`` for an ONNX file: its card's family says, else its name
    (``yolox``, ``det``, ``person`` are detectors)."""
    from pose_studio.inference.families import ADAPTERS

    p = Path(path)
    try:
        data = json.loads(p.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    fam = data.get("family") if isinstance(data, dict) else None
    if isinstance(fam, str) and fam in ADAPTERS:
        return ADAPTERS[fam].kind
    name = p.stem.lower() if p.stem.lower() != "end2end" else p.parent.name.lower()
    return "detector" if any(w in name for w in ("yolox", "det", "person")) else "pose"


@dataclass(frozen=True)
class InstalledModel:
    """A downloaded catalogue model: ``path`` is the ONNX file to load."""

    name: str
    path: Path
    kind: str
    purpose: str = ""


def installed_models(folder: str | Path | None = None) -> list[InstalledModel]:
    """The catalogue models downloaded into ``folder`` (default: where "Get a model…" and
    ``models get`` put them), pose models first."""
    from pose_studio.inference.catalogue import default_models_dir, load_catalogue
    from pose_studio.inference.download import installed
    from pose_studio.inference.errors import ModelError

    where = default_models_dir() if folder is None else Path(folder)
    found = installed(where)
    if not found:
        return []
    try:
        entries = {e.name: e for e in load_catalogue()}
    except ModelError:
        entries = {}
    out = []
    for name, path in found.items():
        e = entries.get(name)
        kind = e.kind if e is not None else model_kind(path)
        out.append(InstalledModel(name, path, kind, e.purpose if e is not None else ""))
    out.sort(key=lambda m: (m.kind != "pose", m.name))
    return out
