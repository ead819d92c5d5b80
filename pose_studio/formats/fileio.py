"""File handling shared by the format modules: bounded reads, atomic output, image encoding.

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
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType

from pose_studio.core.errors import PoseStudioError
from pose_studio.core.imagesize import IMAGE_SUFFIXES
from pose_studio.core.output import describe_os_error, temp_path_for

__all__ = [
    "IMAGE_SUFFIXES",
    "FormatError",
    "MissingExtraError",
    "atomic_dir",
    "atomic_file",
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


def encode_image(frame: object, suffix: str) -> bytes:
    """Encode a BGR frame for a file named with ``suffix`` (``.png``, ``.jpg``...)."""
    import cv2

    params: list[int] = [cv2.IMWRITE_JPEG_QUALITY, 95] if suffix in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(suffix, frame, params)  # type: ignore[call-overload]
    if not ok:
        raise FormatError(f"cannot encode a frame as {suffix}")
    return bytes(buf)
