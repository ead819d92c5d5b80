"""A project's skeleton taken from a dataset file (``pose-studio new P --skeleton-from FILE``).

Any registered format that can be read defines one: a COCO file's keypoint category (its names
and 1-based limbs, or a built-in layout it matches), a SLEAP ``.slp`` skeleton, a DeepLabCut
``config.yaml``... The file is read without a project skeleton, so the dataset keeps the file's
own layout, and its skeleton is used.
"""

from __future__ import annotations

from pathlib import Path

from pose_studio.core.errors import PoseStudioError
from pose_studio.core.skeleton import Skeleton
from pose_studio.formats.registry import ReadOptions, detect, get_format

__all__ = ["skeleton_from_file"]


def skeleton_from_file(
    path: str | Path, *, category: str | None = None, format_name: str | None = None
) -> tuple[Skeleton, list[str]]:
    """The skeleton a dataset file defines, and notes on how it was read.

    Raises:
        PoseStudioError: the file is not a readable dataset format, or names no usable layout.
    """
    p = Path(path)
    if not p.exists():
        raise PoseStudioError(f"{p}: no such file")
    fmt = get_format(format_name) if format_name else detect(p)
    if fmt.read is None:
        raise PoseStudioError(f"{p}: {fmt.label} files cannot be read")
    dataset = fmt.load(p, ReadOptions(skeleton=None, category=category))
    notes = [str(n) for n in dataset.info.get("notes", ())
             if "names no keypoints" in str(n) or "limb" in str(n)]
    return dataset.skeleton, notes
