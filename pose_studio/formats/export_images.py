"""Writing the images an exported annotation file names: image-set files copied byte for byte
(original names, sub-folders and format kept), video frames read exactly and encoded.

All or nothing: on an error or a cancel, the files this call wrote are removed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pose_studio.core.errors import PoseStudioError
from pose_studio.core.output import atomic_file, remove_quietly, write_bytes_atomic

__all__ = ["ExportImagesError", "write_images"]

Progress = Callable[[int, int], None]


class ExportImagesError(PoseStudioError):
    """The images cannot be written (folder not writable, a source missing...)."""


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
                remove_quietly(written)
                return None
            key, index, name = images[i]
            target = root / name
            if root.resolve() not in target.resolve().parents:
                raise ExportImagesError(f"image name {name!r} would be written outside {root}")
            target.parent.mkdir(parents=True, exist_ok=True)
            src = original(key, index) if original is not None else None
            if src is not None and src.suffix.lower() == target.suffix.lower():
                with atomic_file(target, fsync=False) as tmp:  # OutputError names the problem
                    shutil.copyfile(src, tmp)
            else:
                suffix = target.suffix.lower().lstrip(".") or ext
                enc = "." + ("jpg" if suffix in ("jpg", "jpeg") else suffix)
                ok, buf = cv2.imencode(enc, frames(key, index),
                                       params if enc[1:] == ext else [])
                if not ok:  # pragma: no cover - OpenCV encodes BGR uint8 in these formats
                    raise ExportImagesError(f"cannot encode frame {index} as {enc}")
                write_bytes_atomic(target, buf.tobytes())
            written.append(target)
            if progress is not None:
                progress(done, len(images))
    except BaseException:
        remove_quietly(written)
        raise
    if progress is not None and not images:
        progress(0, 0)
    return written
