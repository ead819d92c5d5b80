"""File handling shared by the format modules: bounded reads, atomic output, image sizes.

Readers refuse what they cannot use with one :class:`FormatError` line; writers build their
whole output under a temporary name beside the target and rename it into place at the end, so
a failure (or a full disk) never leaves half a dataset where the user asked for one. Files and
folders are created with the user's normal permissions (umask), not ``mkstemp``'s 0600.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import secrets
import shutil
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType

from pose_studio.core.errors import PoseStudioError
from pose_studio.core.output import describe_os_error, temp_path_for

__all__ = [
    "FormatError",
    "MissingExtraError",
    "atomic_dir",
    "atomic_file",
    "image_size",
    "read_head",
    "read_text",
    "require",
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


# --- atomic output -------------------------------------------------------------------------------
def _tmp_name(target: Path, tag: str) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial.{tag}")


def _check_target(target: Path, force: bool, protected: Iterable[Path], folder: bool) -> None:
    if not target.parent.is_dir():
        raise FormatError(f"cannot write {target}: folder {target.parent} does not exist")
    real = target.resolve()
    for p in protected:
        with contextlib.suppress(OSError, ValueError):
            rp = Path(p).resolve()
            if rp == real or (folder and real in rp.parents):
                raise FormatError(f"{target} is (or holds) a source of the dataset; "
                                  "choose another output path")
    if not (target.exists() or target.is_symlink()):
        return
    if not force:
        raise FormatError(f"{target} exists; use --force to replace it")
    if target.is_dir() and not folder:
        raise FormatError(f"{target} is a folder; give a file name")


@contextlib.contextmanager
def atomic_file(target: Path, *, force: bool = False,
                protected: Iterable[Path] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``.

    ``protected``: paths that must never be overwritten (the dataset's own sources).
    """
    target = Path(target)
    _check_target(target, force, protected, folder=False)
    try:
        tmp = temp_path_for(target)  # the user's normal permissions
    except OSError as exc:
        raise FormatError(f"cannot write {target}: {describe_os_error(exc)}") from exc
    try:
        yield tmp
        _check_target(target, force, protected, folder=False)
        os.replace(tmp, target)
    except OSError as exc:
        raise FormatError(f"cannot write {target}: {describe_os_error(exc)}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _looks_replaceable(folder: Path, markers: tuple[str, ...]) -> bool:
    """A folder --force may replace: empty, or an earlier output of the same format."""
    try:
        return not any(folder.iterdir()) or any((folder / m).exists() for m in markers)
    except OSError:
        return False


@contextlib.contextmanager
def atomic_dir(target: Path, *, force: bool = False, markers: tuple[str, ...] = (),
               protected: Iterable[Path] = ()) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it becomes ``target``.

    With ``force`` an existing folder is replaced only when it is empty or holds one of
    ``markers`` (an earlier export), never an unrelated folder such as the user's home.
    """
    target = Path(target)
    protected = list(protected)
    _check_target(target, force, protected, folder=True)
    if target.is_dir() and not _looks_replaceable(target, markers):
        raise FormatError(f"{target} is a folder that does not look like an earlier export "
                          f"(no {' or '.join(markers) or 'known files'}); not replacing it")
    tmp = _tmp_name(target, "tmp")
    old: Path | None = None
    try:
        os.mkdir(tmp, 0o777)
        yield tmp
        _check_target(target, force, protected, folder=True)
        if target.exists() or target.is_symlink():
            old = _tmp_name(target, "old")
            os.replace(target, old)
        os.replace(tmp, target)
    except OSError as exc:
        raise FormatError(f"cannot write {target}: {describe_os_error(exc)}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    old.unlink()


def write_bytes(path: Path, data: bytes) -> None:
    """Write a file inside a temporary output folder (its parents are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# --- image sizes from headers --------------------------------------------------------------------
def _png_size(h: bytes) -> tuple[int, int] | None:
    if h[:8] == b"\x89PNG\r\n\x1a\n" and h[12:16] == b"IHDR":
        w, ht = struct.unpack(">II", h[16:24])
        return w, ht
    return None


def _exif_orientation(app1: bytes) -> int:
    if not app1.startswith(b"Exif\0\0") or len(app1) < 14:
        return 1
    t = app1[6:]
    end = {b"II": "<", b"MM": ">"}.get(t[:2])
    if end is None:
        return 1
    (ifd,) = struct.unpack(end + "I", t[4:8])
    if ifd + 2 > len(t):
        return 1
    (n,) = struct.unpack(end + "H", t[ifd:ifd + 2])
    for i in range(min(n, 512)):
        e = ifd + 2 + 12 * i
        if e + 12 > len(t):
            break
        tag, _typ, _cnt = struct.unpack(end + "HHI", t[e:e + 8])
        if tag == 0x0112:
            (val,) = struct.unpack(end + "H", t[e + 8:e + 10])
            return int(val)
    return 1


def _jpeg_size(f: object) -> tuple[int, int] | None:
    read = f.read  # type: ignore[attr-defined]
    if read(2) != b"\xff\xd8":
        return None
    orientation = 1
    for _ in range(10_000):
        b = read(1)
        while b == b"\xff":
            b = read(1)
        if not b:
            return None
        marker = b[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        seg = read(2)
        if len(seg) < 2:
            return None
        (length,) = struct.unpack(">H", seg)
        if length < 2:
            return None
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                      0xCF):
            data = read(5)
            if len(data) < 5:
                return None
            ht, w = struct.unpack(">HH", data[1:5])
            # cv2 (and ultralytics) show the image turned by its EXIF orientation.
            return (ht, w) if orientation in (5, 6, 7, 8) else (w, ht)
        data = read(length - 2)
        if marker == 0xE1:
            orientation = _exif_orientation(data)
    return None


def image_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` as a viewer shows the image (EXIF orientation applied), or None.

    PNG and JPEG are read from their headers; other formats are decoded with OpenCV.
    """
    try:
        with path.open("rb") as f:
            head = f.read(32)
            size = _png_size(head)
            if size is not None:
                return size
            if head[:2] == b"\xff\xd8":
                f.seek(0)
                return _jpeg_size(f)
        if head[:2] == b"BM" and len(head) >= 26:
            w, ht = struct.unpack("<ii", head[18:26])
            return abs(w), abs(ht)
    except (OSError, struct.error):
        return None
    import cv2
    import numpy as np

    try:
        img = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_COLOR)
    except (OSError, cv2.error):
        return None
    return None if img is None else (int(img.shape[1]), int(img.shape[0]))


IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pgm", ".ppm"}
)


def encode_image(frame: object, suffix: str) -> bytes:
    """Encode a BGR frame for a file named with ``suffix`` (``.png``, ``.jpg``...)."""
    import cv2

    params: list[int] = [cv2.IMWRITE_JPEG_QUALITY, 95] if suffix in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(suffix, frame, params)  # type: ignore[call-overload]
    if not ok:
        raise FormatError(f"cannot encode a frame as {suffix}")
    return bytes(buf)
