"""Writing the images an exported annotation file names: image-set files copied byte for byte
(original names, sub-folders and format kept), video frames read exactly and encoded.

All or nothing: on an error or a cancel, the files this call wrote are removed.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pose_studio.core.errors import PoseStudioError
from pose_studio.core.output import OutputError, atomic_file, describe_os_error, write_bytes_atomic

__all__ = ["ExportImagesError", "remove", "write_images"]

Progress = Callable[[int, int], None]


class ExportImagesError(PoseStudioError):
    """The images cannot be written (folder not writable, a source missing...)."""


def remove(paths: Iterable[Path]) -> None:
    for p in paths:
        with contextlib.suppress(OSError):
            p.unlink()


def _write_bytes_atomic(target: Path, data: bytes) -> None:
    write_bytes_atomic(target, data, fsync=False)


def _copy_atomic(src: Path, target: Path) -> None:
    try:
        with atomic_file(target, fsync=False) as tmp:
            shutil.copyfile(src, tmp)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {describe_os_error(exc)}") from exc


def write_images(
    images: Sequence[tuple[str, int, str]],
    root: Path,
    frames: Any,
    *,
    image_format: str,
    jpeg_quality: int,
    progress: Progress | None = None,
    cancel: Any = None,
) -> list[Path] | None:
    """Write ``(source key, frame index, file name)`` images under ``root``.

    ``frames(key, index)`` gives pixels; ``frames.file(key, index)`` (when the object has it)
    the original file of an image-set frame, copied instead when its suffix matches the name.

    Returns:
        The files written, or None when cancelled (nothing left behind).
    """
    import cv2

    ext = image_format
    params = ([cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if ext == "jpg"
              else [cv2.IMWRITE_PNG_COMPRESSION, 3])
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportImagesError(f"cannot create image folder {root}: {exc.strerror or exc}") \
            from None
    original = getattr(frames, "file", None)
    written: list[Path] = []
    # Frames in source order, so video frames decode forward (the reader's cache helps).
    order = sorted(range(len(images)), key=lambda i: (images[i][0], images[i][1]))
    try:
        for done, i in enumerate(order, start=1):
            if cancel is not None and cancel.is_set():
                remove(written)
                return None
            key, index, name = images[i]
            target = root / name
            if root.resolve() not in target.resolve().parents:
                raise ExportImagesError(f"image name {name!r} would be written outside {root}")
            target.parent.mkdir(parents=True, exist_ok=True)
            src = original(key, index) if original is not None else None
            if src is not None and src.suffix.lower() == target.suffix.lower():
                try:
                    _copy_atomic(src, target)
                except OSError as exc:
                    raise ExportImagesError(f"cannot copy {src} to {target}: "
                                            f"{exc.strerror or exc}") from None
            else:
                suffix = target.suffix.lower().lstrip(".") or ext
                enc = "." + ("jpg" if suffix in ("jpg", "jpeg") else suffix)
                ok, buf = cv2.imencode(enc, frames(key, index),
                                       params if enc[1:] == ext else [])
                if not ok:  # pragma: no cover - OpenCV encodes BGR uint8 in these formats
                    raise ExportImagesError(f"cannot encode frame {index} as {enc}")
                _write_bytes_atomic(target, buf.tobytes())
            written.append(target)
            if progress is not None:
                progress(done, len(images))
    except BaseException:
        remove(written)
        raise
    if progress is not None and not images:
        progress(0, 0)
    return written
