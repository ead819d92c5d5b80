"""COCO keypoints as a registered format, and the project-facing import and export.

Reading is :mod:`pose_studio.formats.coco_read` (file -> dataset), writing
:mod:`pose_studio.formats.coco_build` (dataset -> dict); a project goes in through
:func:`pose_studio.formats.ingest.ingest` and comes out through
:func:`pose_studio.formats.project_dataset.dataset_from_project`. :func:`import_coco` and
:func:`export_coco` are those steps in one call (the window and ``pose-studio import/export``
use them).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pose_studio.core.errors import PoseStudioError
from pose_studio.core.oks import DEFAULT_BBOX_PADDING
from pose_studio.core.output import OutputError, remove_quietly
from pose_studio.formats.coco_build import build_coco_dict, write_json_atomic
from pose_studio.formats.coco_fields import CocoFormatError
from pose_studio.formats.coco_read import read_coco
from pose_studio.formats.dataset import Dataset, gc_paused
from pose_studio.formats.export_images import ExportImagesError, write_images
from pose_studio.formats.ingest import ImportSummary, IngestError, ingest
from pose_studio.formats.registry import Format, ReadOptions, WriteOptions, WriteSummary

if TYPE_CHECKING:  # pragma: no cover
    from pose_studio.store.project import Project

__all__ = [
    "FORMAT",
    "CocoExportError",
    "CocoFormatError",
    "ExportSummary",
    "ImportSummary",
    "export_coco",
    "import_coco",
    "sniff",
    "write_coco",
]

Progress = Callable[[int, int], None]
SOURCES = ("user", "predicted", "all")
IMAGE_FORMATS = {"png": "png", "jpg": "jpg", "jpeg": "jpg"}
_SNIFF_BYTES = 1 << 16


class CocoExportError(PoseStudioError):
    """An export that cannot be done as asked (bad option, unwritable folder, missing video)."""


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    n_images: int
    n_annotations: int
    n_user: int
    n_predicted: int
    images_written: int
    bytes_written: int
    cancelled: bool
    elapsed_s: float
    n_regions: int = 0


# --- the registered format ----------------------------------------------------------------------
def _head(path: Path) -> str:
    with open(path, "rb") as f:
        raw = f.read(_SNIFF_BYTES)
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            return raw.decode(enc, errors="ignore").lstrip("\ufeff")
    return raw.decode("utf-8", errors="ignore")


def sniff(path: Path) -> bool:
    """A JSON object with COCO's top-level keys (looked for in its first 64 KiB)."""
    if not path.is_file():
        return False
    head = _head(path).lstrip()
    if not head.startswith("{"):
        return False
    keys = ('"annotations"', '"images"', '"categories"')
    return sum(k in head for k in keys) >= 2 or '"pose-studio-coco' in head or (
        '"annotations"' in head and '"keypoints"' in head)


def _read(path: Path, options: ReadOptions) -> Dataset:
    return read_coco(path, options.skeleton, category=options.category)


def write_coco(dataset: Dataset, path: Path, options: WriteOptions) -> WriteSummary:
    """Write ``dataset`` as a COCO keypoints file (and its images under
    ``options.images_dir``); atomic: on a cancel or an error nothing is left behind."""
    out = Path(path)
    ext = IMAGE_FORMATS.get(str(options.image_format).lower())
    if ext is None:
        raise CocoExportError(f"unknown image format {options.image_format!r}: use png or jpg")
    if out.is_dir():
        raise CocoExportError(f"{out} is a folder; give the JSON file name")
    if not out.parent.exists():
        raise CocoExportError(f"cannot write {out}: folder {out.parent} does not exist")
    with gc_paused():
        coco, images = build_coco_dict(dataset, bbox_padding=options.bbox_padding,
                                       image_ext=ext)
    written: list[Path] = []
    if options.images_dir is not None:
        if options.frames is None:
            raise CocoExportError("writing images needs the frames of the sources")
        try:
            done = write_images([(im.source, im.index, im.file_name) for im in images],
                                Path(options.images_dir), options.frames, image_format=ext,
                                jpeg_quality=options.jpeg_quality, progress=options.progress,
                                cancel=options.cancel)
        except ExportImagesError as e:
            raise CocoExportError(str(e)) from None
        if done is None:
            return WriteSummary(out, 0, cancelled=True)
        written = done
    elif options.progress is not None:
        options.progress(len(images), len(images))
    if options.cancel is not None and options.cancel.is_set():
        remove_quietly(written)
        return WriteSummary(out, 0, cancelled=True)
    try:
        n_bytes = write_json_atomic(coco, out)
    except OutputError as exc:
        remove_quietly(written)
        raise CocoExportError(str(exc)) from exc
    return WriteSummary(out, len(coco["annotations"]), files_written=len(written),
                        images=len(images), bytes_written=n_bytes)


FORMAT = Format(
    name="coco",
    label="COCO keypoints",
    suffixes=(".json",),
    sniff=sniff,
    read=_read,
    write=write_coco,
    priority=10,
)


# --- project import / export ----------------------------------------------------------------------
def import_coco(
    project: Project,
    path: str | os.PathLike[str],
    *,
    video_id: int | None = None,
    image_folder: str | os.PathLike[str] | None = None,
    bbox_padding: float = DEFAULT_BBOX_PADDING,
    frame_offset: int | None = None,
    fingerprints: bool = True,
    progress: Progress | None = None,
    category: str | None = None,
) -> ImportSummary:
    """Import a COCO keypoints file into ``project`` (all of it, or nothing).

    Args:
        video_id: Put every image on this video (frames by ``frame_index`` or file-name number).
        image_folder: Where the file's images are (sub-folders included): they become an image
            set of the project (or land on the one it has there).
        bbox_padding: The export padding, used to recognise derived boxes (they are dropped).
        frame_offset: Added to frame numbers taken from file names (-1 for files numbered from
            1); None: 0, or what the images beside the file show.
        fingerprints: Store the fingerprint of every frame that receives labels.
        category: Import this category (name or id) of a file with several layouts.

    Raises:
        CocoFormatError: the file is malformed or does not fit the project (nothing written).
    """
    src = Path(path)
    if video_id is not None and image_folder is not None:
        raise CocoFormatError(src, ["give either a video or an image folder, not both"])
    dataset = read_coco(src, project.skeleton, category=category, bbox_padding=bbox_padding)
    try:
        return ingest(project, dataset, path=src, video_id=video_id, images_dir=image_folder,
                      frame_offset=frame_offset, fingerprints=fingerprints, progress=progress)
    except IngestError as e:
        raise CocoFormatError(src, e.problems, e.total) from None


def export_coco(
    project: Project,
    out_path: str | os.PathLike[str],
    *,
    source: str = "user",
    images_dir: str | os.PathLike[str] | None = None,
    image_format: str = "png",
    jpeg_quality: int = 95,
    video_ids: Sequence[int] | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    bbox_padding: float = DEFAULT_BBOX_PADDING,
) -> ExportSummary:
    """Write the project's instances as a COCO keypoints JSON (and optionally the images).

    Args:
        source: ``"user"`` labels (default), ``"predicted"`` instances, or ``"all"``.
        images_dir: Where to write the images (``<images_dir>/<file_name>``): image-set files
            copied under their own names and sub-folders, video frames read exactly.
        image_format: ``"png"`` (lossless) or ``"jpg"``, for video frames.
        video_ids: Only these videos and image sets (default: all).
        progress: ``progress(done, total)`` over written images.
        cancel: Set to stop; images written by this call are removed and no JSON is written.
        bbox_padding: Relative padding of boxes derived from keypoints.
    """
    from pose_studio.formats.project_dataset import ProjectFrames, dataset_from_project

    t0 = time.perf_counter()
    if source not in SOURCES:
        raise CocoExportError(f"unknown source {source!r}: use one of {', '.join(SOURCES)}")
    ext = IMAGE_FORMATS.get(str(image_format).lower())
    if ext is None:
        raise CocoExportError(f"unknown image format {image_format!r}: use png or jpg")
    if not 1 <= int(jpeg_quality) <= 100:
        raise CocoExportError(f"JPEG quality must be 1..100, got {jpeg_quality}")
    if not bbox_padding >= 0:
        raise CocoExportError(f"box padding must be >= 0, got {bbox_padding}")
    out = Path(out_path)
    if out.is_dir():
        raise CocoExportError(f"{out} is a folder; give the JSON file name")
    if not out.parent.exists():
        raise CocoExportError(f"cannot write {out}: folder {out.parent} does not exist")
    known = {v.id for v in project.videos()}
    if video_ids is not None:
        unknown = [v for v in video_ids if v not in known]
        if unknown:
            raise CocoExportError(f"project {project.path} has no video {unknown[0]}")
    with gc_paused():
        dataset = dataset_from_project(project, source=source,  # type: ignore[arg-type]
                                       video_ids=video_ids, cancel=cancel)
    dataset.info["export"] = {"source": source, "project": str(project.path),
                              "bbox_padding": bbox_padding}
    if cancel is not None and cancel.is_set():
        return _cancelled(out, t0)
    with ProjectFrames(project) as frames:
        try:
            s = write_coco(dataset, out, WriteOptions(
                frames=frames, image_format=ext, progress=progress,
                images_dir=Path(images_dir) if images_dir is not None else None,
                jpeg_quality=int(jpeg_quality), bbox_padding=bbox_padding, cancel=cancel))
        except ExportImagesError as e:
            raise CocoExportError(str(e)) from None
    if s.cancelled:
        return _cancelled(out, t0)
    n_user = sum(1 for f in dataset.frames for a in f.annotations if not _is_pred(a))
    n_total = dataset.num_annotations
    n_regions = sum(len(f.regions) for f in dataset.frames)
    return ExportSummary(
        path=out, n_images=s.images, n_annotations=n_total, n_user=n_user,
        n_predicted=n_total - n_user, images_written=s.files_written,
        bytes_written=s.bytes_written, cancelled=False, elapsed_s=time.perf_counter() - t0,
        n_regions=n_regions,
    )


def _is_pred(a: Any) -> bool:
    return bool(a.kind.value == "predicted")


def _cancelled(out: Path, t0: float) -> ExportSummary:
    return ExportSummary(out, 0, 0, 0, 0, 0, 0, True, time.perf_counter() - t0)
