"""Checks every command runs before it writes files: sources unchanged, outputs allowed.

``export``, ``render``, ``extract`` and ``screenshot`` never replace an existing file without
``--force`` and never a file of the project (its own file, its sidecars, its source videos and
image folders) even with it. Long writes check the free space first. What a failed command
created is removed (see :func:`cleanup_on_failure`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pose_studio.core.output import (
    OutputError,
    check_free_space,
    check_target,
    is_protected,
)

# Low estimates of output bytes per pixel (a real file is usually larger): enough to refuse a
# write that cannot fit, never one that can.
PNG_BYTES_PER_PIXEL = 0.25
JPEG_BYTES_PER_PIXEL = 0.03
VIDEO_BYTES_PER_PIXEL = 0.005


def project_files(project: Any) -> list[Path]:
    """The project file, its SQLite and lock sidecars, and every source (file or folder)."""
    p = Path(project.path)
    out = [p] + [p.with_name(p.name + s) for s in ("-wal", "-shm", "-journal", ".lock")]
    out += [Path(v.path) for v in project.videos()]
    return out


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
    except (ValueError, OSError):
        return False
    return True


def check_output_folder(folder: Path, sources: Iterable[Path], what: str) -> None:
    """A folder output must not be, or be inside, a source folder (image sets), nor hold one."""
    for s in sources:
        if s.is_dir() and (_inside(folder, s) or _inside(s, folder)):
            raise OutputError(
                f"{what} {folder} would write into {s}, a source folder of the project; it is "
                "never written into, not even with --force; choose another folder"
            )


@contextlib.contextmanager
def cleanup_on_failure(*folders: Path | None) -> Iterator[None]:
    """On an exception, remove the folders (and their empty sub-folders) that did not exist
    before and are empty afterwards: a failed command leaves nothing behind."""
    new = [f for f in folders if f is not None and not f.exists()]
    try:
        yield
    except BaseException:
        for f in new:
            _remove_empty_tree(f)
        raise


def _remove_empty_tree(root: Path) -> None:
    if not root.is_dir():
        return
    for dirpath, _dirs, _files in sorted(os.walk(root), key=lambda t: -len(t[0])):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)  # only succeeds when empty


def guard_export(project: Any, args: Any, video_ids: Sequence[int] | None) -> Any:
    """Everything ``export`` checks before it writes: the sources have not changed (frame size,
    count, labeled pictures), ``--out`` (and ``--images``) may be written, and the images fit.
    Returns a context manager that removes folders the export created if it fails."""
    from pose_studio.formats.frame_check import verify_sources

    verify_sources(project, video_ids, action="export")
    force = bool(getattr(args, "force", False))
    protected = project_files(project)
    out = Path(args.out)
    check_target(out, force=force, protected=protected, what="--out")
    images = getattr(args, "images", None)
    if images:
        root = Path(images)
        if is_protected(root, protected) is not None:
            raise OutputError(f"--images {root} is a source of the project; choose another folder")
        check_output_folder(root, protected, "--images")
        if root.exists() and not root.is_dir():
            raise OutputError(f"--images {root} exists and is not a folder")
        if root.is_dir() and any(root.iterdir()) and not force:
            raise OutputError(
                f"--images {root} is not empty: exported images could replace files there; "
                "use --force to write into it, or give a new folder"
            )
        fmt = getattr(args, "image_format", "png")
        per_px = JPEG_BYTES_PER_PIXEL if fmt == "jpg" else PNG_BYTES_PER_PIXEL
        check_free_space(root, int(_export_pixels(project, video_ids, args) * per_px),
                         "the exported images")
        return cleanup_on_failure(root)
    return contextlib.nullcontext()


def _export_pixels(project: Any, video_ids: Sequence[int] | None, args: Any) -> int:
    source = getattr(args, "source", "user")
    total = 0
    for v in project.videos():
        if video_ids is not None and v.id not in video_ids:
            continue
        fa = project.frame_arrays(v.id)
        if source == "user":
            frames = int(fa.labeled.sum())
        elif source == "predicted":
            frames = int(fa.predicted.sum())
        else:
            frames = int((fa.labeled | fa.predicted).sum())
        total += frames * int(v.width or 0) * int(v.height or 0)
    return total


def add_force_argument(parser: Any, what: str = "output files") -> None:
    parser.add_argument("--force", action="store_true",
                        help=f"replace existing {what} (never the project's own files)")
