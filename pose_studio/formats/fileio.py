"""File handling shared by the format modules: bounded reads, image encoding.

Readers refuse what they cannot use with one :class:`FormatError` line. Writers build their
whole output with :mod:`pose_studio.core.output` (``atomic_file``, ``atomic_dir``): under a
temporary name beside the target, renamed into place at the end, so a failure (or a full disk)
never leaves half a dataset where the user asked for one; never over an existing output without
``force`` nor over a source; with the user's normal permissions.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from pose_studio.core.errors import PoseStudioError
from pose_studio.core.imagesize import IMAGE_SUFFIXES

__all__ = [
    "IMAGE_SUFFIXES",
    "FormatError",
    "MissingExtraError",
    "read_head",
    "read_text",
    "require",
    "write_bytes",
]

#: Text formats (YAML, CSV, JSON) larger than this are refused before parsing.
MAX_TEXT_BYTES = 1 << 30


class FormatError(PoseStudioError):
    """A file a reader cannot use, or an output a writer cannot make (one line, for the user)."""


class MissingExtraError(FormatError):
    """An optional package a format needs is not installed."""


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import an optional package or say, in one line, how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(
            f"{what} needs the optional package {module!r}: pip install 'pose-studio[{extra}]'"
        ) from None


def read_head(path: Path, n: int = 4096) -> bytes:
    """The first ``n`` bytes of a regular file; empty on any problem (for sniffers)."""
    try:
        if not path.is_file():
            return b""
        with path.open("rb") as f:
            return f.read(n)
    except OSError:
        return b""


def read_text(path: Path, what: str, limit: int = MAX_TEXT_BYTES) -> str:
    """A text file decoded as UTF-8 (a BOM is allowed), refused when larger than ``limit``."""
    try:
        if not path.is_file():
            raise FormatError(f"{path}: no such file")
        size = path.stat().st_size
        if size > limit:
            raise FormatError(f"{path}: {size} bytes is too large for {what}")
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: {what} is not UTF-8 text (byte {exc.start})") from None


def write_bytes(path: Path, data: bytes) -> None:
    """Write a file inside a temporary output folder (its parents are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def encode_image(frame: object, suffix: str) -> bytes:
    """Encode a BGR frame for a file named with ``suffix`` (``.png``, ``.jpg``...)."""
    import cv2

    params: list[int] = [cv2.IMWRITE_JPEG_QUALITY, 95] if suffix in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(suffix, frame, params)  # type: ignore[call-overload]
    if not ok:
        raise FormatError(f"cannot encode a frame as {suffix}")
    return bytes(buf)
