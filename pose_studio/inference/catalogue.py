"""The catalogue of published models (``catalogue.json`` in this package): what each is for,
its license, size and where its authors publish it.

Each entry's URL is ``base + "/" + path``; a mirror replaces ``base`` (offline mirrors, proxies).
:mod:`pose_studio.inference.download` fetches an entry.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pose_studio.inference.card import FAMILIES
from pose_studio.inference.errors import ModelError

CATALOGUE_FORMAT = "pose-studio-model-catalogue/1"


@dataclass(frozen=True)
class CatalogueEntry:
    """One published model.

    Attributes:
        name: What ``models get`` takes.
        kind: ``pose`` or ``detector``.
        purpose: One line: what it finds, and how (top-down, one-stage).
        license: The license its authors state.
        size_mb: Approximate download size.
        base, path: The URL is ``base/path``; a mirror replaces ``base``.
        sha256: Pinned digest of the download, or None (recorded at the first download).
        card: Model-card fields written beside the model (e.g. a skeleton the file does not
            carry), or None.
    """

    name: str
    kind: str
    purpose: str
    license: str
    size_mb: float
    base: str
    path: str
    family: str | None = None
    keypoints: int | None = None
    input_size: tuple[int, int] | None = None
    sha256: str | None = None
    card: dict[str, Any] = field(default_factory=dict)

    def url(self, mirror: str | None = None) -> str:
        return f"{(mirror or self.base).rstrip('/')}/{self.path.lstrip('/')}"

    @property
    def file_name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def is_archive(self) -> bool:
        return self.file_name.lower().endswith(".zip")


def _entry(data: Any, src: str) -> CatalogueEntry:
    if not isinstance(data, dict):
        raise ModelError(f"{src}: a catalogue entry must be an object, got {data!r}")
    try:
        name = str(data["name"])
        kind = str(data["kind"])
        if kind not in ("pose", "detector"):
            raise ValueError(f"kind {kind!r} is neither 'pose' nor 'detector'")
        fam = data.get("family")
        if fam is not None and fam not in FAMILIES:
            raise ValueError(f"unknown family {fam!r}")
        size = data.get("input_size")
        sha = data.get("sha256")
        if sha is not None and (len(str(sha)) != 64 or
                                any(c not in "0123456789abcdef" for c in str(sha).lower())):
            raise ValueError(f"sha256 {sha!r} is not 64 hex digits")
        path = str(data["path"])
        if not path or ".." in path.split("/") or path.startswith("/"):
            raise ValueError(f"path {path!r} must be relative, without '..'")
        return CatalogueEntry(
            name=name, kind=kind, purpose=str(data.get("purpose", "")),
            license=str(data.get("license", "not stated")),
            size_mb=float(data.get("size_mb", 0)), base=str(data["base"]), path=path,
            family=fam, keypoints=int(data["keypoints"]) if data.get("keypoints") else None,
            input_size=(int(size[0]), int(size[1])) if size else None,
            sha256=str(sha).lower() if sha else None, card=dict(data.get("card") or {}))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        what = data.get("name", "?") if isinstance(data, dict) else "?"
        raise ModelError(f"{src}: catalogue entry {what!r} is not valid: {exc}") from None


def load_catalogue(path: str | Path | None = None) -> list[CatalogueEntry]:
    """The entries of a catalogue file (default: the one in the package)."""
    try:
        if path is None:
            src = "the built-in model catalogue"
            text = resources.files("pose_studio.inference").joinpath("catalogue.json") \
                .read_text(encoding="utf-8")
        else:
            src = str(path)
            text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {path or 'the model catalogue'}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != CATALOGUE_FORMAT:
        raise ModelError(f"{src}: not a model catalogue (format {CATALOGUE_FORMAT!r})")
    entries = [_entry(e, src) for e in data.get("models", [])]
    names = [e.name for e in entries]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ModelError(f"{src}: the names {', '.join(sorted(dup))} appear more than once")
    return entries


def find_entry(name: str, entries: list[CatalogueEntry] | None = None) -> CatalogueEntry:
    """The entry called ``name`` (case-insensitive); the error suggests close names."""
    entries = load_catalogue() if entries is None else entries
    for e in entries:
        if e.name.lower() == name.lower():
            return e
    close = difflib.get_close_matches(name.lower(), [e.name for e in entries], n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else \
        "; 'pose-studio models list' shows them"
    raise ModelError(f"no model called {name!r} in the catalogue{hint}")


def default_models_dir() -> Path:
    """Where ``models get`` puts models without ``--dir``: ``$POSE_STUDIO_MODELS_DIR``, else
    the user's data folder."""
    env = os.environ.get("POSE_STUDIO_MODELS_DIR")
    if env:
        return Path(env).expanduser()
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "pose-studio" / "models"
