"""Persistent window settings (QSettings): layout, recent files, view options, who edits.

Tests point QSettings at a temporary INI folder (see ``tests/gui/conftest.py``) so they never
read or write the user's settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORG = "PoseStudio"
APP = "Pose Studio"
MAX_RECENT = 10


class Settings:
    """Typed access to the few keys the window keeps."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._s = qsettings if qsettings is not None else QSettings(ORG, APP)

    @property
    def qsettings(self) -> QSettings:
        return self._s

    # --- layout ----------------------------------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        v = self._s.value("window/geometry")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def window_state(self) -> QByteArray | None:
        v = self._s.value("window/state")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def save_layout(self, geometry: QByteArray, state: QByteArray) -> None:
        self._s.setValue("window/geometry", geometry)
        self._s.setValue("window/state", state)

    # --- recent files ----------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        v: Any = self._s.value("recent/files", [])
        if isinstance(v, str):
            v = [v]
        return [str(p) for p in (v or [])][:MAX_RECENT]

    def add_recent(self, path: str | Path) -> list[str]:
        p = str(Path(path).resolve())
        files = [f for f in self.recent_files() if f != p]
        files.insert(0, p)
        files = files[:MAX_RECENT]
        self._s.setValue("recent/files", files)
        return files

    def clear_recent(self) -> None:
        self._s.setValue("recent/files", [])

    # --- who edits ---------------------------------------------------------------------------
    def user_name(self) -> str | None:
        """The name recorded with every edit (``user/name``); None: ``$POSE_STUDIO_USER``, else
        the login name."""
        v = self._s.value("user/name", "")
        return str(v).strip() or None

    def set_user_name(self, name: str | None) -> None:
        self._s.setValue("user/name", (name or "").strip())

    # --- generic flags ---------------------------------------------------------------------------
    def flag(self, key: str, default: bool) -> bool:
        v = self._s.value(f"view/{key}", default)
        if isinstance(v, str):
            return v.lower() in ("1", "true", "yes")
        return bool(v)

    def set_flag(self, key: str, value: bool) -> None:
        self._s.setValue(f"view/{key}", bool(value))

    def number(self, key: str, default: float) -> float:
        """A numeric view setting (``view/<key>``); the default when absent or unreadable."""
        try:
            return float(self._s.value(f"view/{key}", default))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return default

    def set_number(self, key: str, value: float) -> None:
        self._s.setValue(f"view/{key}", float(value))

    def sync(self) -> None:
        self._s.sync()
