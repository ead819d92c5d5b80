"""Where the app's bundled data lives, in a checkout and in an installed wheel.

The wheel carries the top-level ``resources/`` and ``models/`` folders as
``pose_studio/_data/resources`` and ``pose_studio/_data/models`` (see pyproject.toml); a
checkout or an editable install finds them beside the package.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent.parent


def _data_dir(name: str) -> Path:
    installed = _PKG / "_data" / name
    if installed.is_dir():
        return installed
    return _PKG.parent / name


def resources_dir() -> Path:
    """Icons and styles."""
    return _data_dir("resources")


def models_dir() -> Path:
    """The bundled models and their model cards."""
    return _data_dir("models")


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)
