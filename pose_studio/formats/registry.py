"""The registry of dataset formats: one module per format, found by a sniffer that reads content.

A format module defines ``FORMAT = Format(...)`` and is listed in :data:`FORMAT_MODULES`; it is
imported only when the registry is first used, and heavy libraries (h5py, yaml...) only inside
its functions, so ``pose-studio --help`` stays instant. A reader turns a file (or folder) into a
:class:`~pose_studio.formats.dataset.Dataset`; a writer turns a dataset into files. Neither
touches a project: ``formats.ingest`` and the project exporter do (see ``dataset.py``).

Detection (:func:`detect`) asks each format's ``sniff`` in ``priority`` order (higher first);
sniffers look at the content, not only the suffix, must be cheap (read a few KiB) and never
raise.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core.errors import PoseStudioError
from pose_studio.core.skeleton import Skeleton
from pose_studio.formats.dataset import Dataset

__all__ = [
    "FORMAT_MODULES",
    "Format",
    "FrameSource",
    "ReadOptions",
    "UnknownFormatError",
    "WriteOptions",
    "WriteSummary",
    "all_formats",
    "detect",
    "get_format",
]

#: (source key, frame index) -> the frame as an ``(H, W, 3)`` uint8 BGR array.
FrameSource = Callable[[str, int], np.ndarray]
#: done, total
Progress = Callable[[int, int], None]

#: Modules that define ``FORMAT``; a new format is one module and one line here.
FORMAT_MODULES: tuple[str, ...] = (
    "pose_studio.formats.coco",
    "pose_studio.formats.coco_results",
    "pose_studio.formats.slp",
    "pose_studio.formats.dlc",
    "pose_studio.formats.yolo",
    "pose_studio.formats.labelstudio",
)


class UnknownFormatError(PoseStudioError):
    """A file no registered format recognises, or a format name that does not exist."""


@dataclass(frozen=True)
class ReadOptions:
    """What a reader may need beyond the file.

    Attributes:
        skeleton: The project's skeleton: readers map the file's keypoints onto it (by name,
            else by position when the counts agree) and say in ``not_kept`` what did not map.
            None: the dataset keeps the file's own skeleton.
        category: Which category to read when the file has several keypoint layouts.
        images_dir: Where the file's images are, when not beside it.
        progress: Called with (done, total) during long reads.
        category_ids: The project's categories by the id a dataset gave them (``{1:
            "person"}``), for files that name categories only by id (COCO results lists).
    """

    skeleton: Skeleton | None = None
    category: str | None = None
    images_dir: Path | None = None
    progress: Progress | None = None
    category_ids: Mapping[Any, str] | None = None


@dataclass(frozen=True)
class WriteOptions:
    """What a writer may need beyond the dataset.

    Attributes:
        frames: Pixels of (source key, frame index), for formats that store images (YOLO,
            DeepLabCut's labeled-data, COCO with ``--images``, ``.pkg.slp``). None: write
            annotations only (writers that cannot do without images say so).
        image_format: ``png`` or ``jpg`` for frames written from videos.
        force: Overwrite existing files.
        progress: Called with (done, total) during long writes.
        images_dir: For formats whose annotations are one file (COCO): where to write the
            images (None: annotations only). Formats with a fixed layout ignore it.
        jpeg_quality: 1..100 for ``jpg`` frames.
        bbox_padding: Padding of boxes derived from keypoints, as a fraction of their longer
            side (for annotations without a box of their own).
        cancel: An event (``is_set()``): set, the writer stops, removes what it wrote and
            writes no annotation file.
    """

    frames: FrameSource | None = None
    image_format: str = "png"
    force: bool = False
    progress: Progress | None = None
    images_dir: Path | None = None
    jpeg_quality: int = 95
    bbox_padding: float = 0.1
    cancel: Any = None


@dataclass(frozen=True)
class WriteSummary:
    path: Path
    annotations: int
    files_written: int = 0
    not_written: list[str] = field(default_factory=list)  # what the format could not carry
    images: int = 0  # image entries (frames) the file describes
    bytes_written: int = 0
    cancelled: bool = False


@dataclass(frozen=True)
class Format:
    """One file format.

    Attributes:
        name: Short name for ``--format`` (``coco``, ``slp``, ``dlc``...).
        label: For file dialogs (``"SLEAP labels"``).
        suffixes: Typical suffixes (for dialogs; detection reads the content).
        sniff: Path -> True when the file or folder is in this format; cheap, never raises.
        read: Path, options -> dataset; None when the format cannot be read.
        write: Dataset, path, options -> summary; None when the format cannot be written.
        priority: Higher sniffs first (a specific format before a general one).
        unpack: For formats that embed images (``.pkg.slp``): file, dataset, folder -> the
            dataset with the embedded images written under the folder and its image-set
            sources pointing there. The reader leaves such sources with ``path=None``
            (readers never write files); the importer calls this with the folder it keeps
            images in. None: the format embeds no images.
    """

    name: str
    label: str
    suffixes: tuple[str, ...]
    sniff: Callable[[Path], bool]
    read: Callable[[Path, ReadOptions], Dataset] | None = None
    write: Callable[[Dataset, Path, WriteOptions], WriteSummary] | None = None
    priority: int = 0
    unpack: Callable[[Path, Dataset, Path], Dataset] | None = None

    def load(self, path: Path, options: ReadOptions) -> Dataset:
        """Read ``path`` and check the dataset's invariants: every reader's result passes the
        same check before anyone uses it (the readers need not each remember to)."""
        if self.read is None:
            raise UnknownFormatError(f"{self.label} files cannot be read")
        ds = self.read(path, options)
        ds.validate()
        return ds


_loaded: list[Format] | None = None


def all_formats() -> list[Format]:
    """Every registered format, highest priority first."""
    global _loaded
    if _loaded is None:
        found = [importlib.import_module(m).FORMAT for m in FORMAT_MODULES]
        _loaded = sorted(found, key=lambda f: -f.priority)
    return list(_loaded)


def get_format(name: str) -> Format:
    for f in all_formats():
        if f.name == name:
            return f
    names = ", ".join(f.name for f in all_formats()) or "none"
    raise UnknownFormatError(f"unknown format {name!r} (known: {names})")


def detect(path: str | Path, *, readable: bool = True) -> Format:
    """The format of ``path``, found by content; raises :class:`UnknownFormatError` when none fits.

    ``readable`` (default): only formats with a reader are tried.
    """
    p = Path(path)
    for f in all_formats():
        if readable and f.read is None:
            continue
        try:
            ok = f.sniff(p)
        except Exception:  # a sniffer must not raise; one that does is treated as "not mine"
            ok = False
        if ok:
            return f
    names = ", ".join(f.name for f in all_formats() if f.read is not None or not readable)
    problem = _json_problem(p)
    if problem is not None:  # a .json file that is not JSON at all: say what is wrong with it
        raise UnknownFormatError(f"{p}: {problem}; not a dataset format Pose Studio reads "
                                 f"(tried: {names})")
    raise UnknownFormatError(
        f"{p}: not a dataset format Pose Studio reads (tried: {names or 'none'}); "
        "name one with --format"
    )


def _json_problem(p: Path) -> str | None:
    """Why a ``.json`` file no format recognised is not a JSON object or array (its first
    problem, with line and column), or None when it is one or is not named ``.json``."""
    if p.suffix.lower() != ".json" or not p.is_file():
        return None
    from pose_studio.formats.json_stream import JsonFile, JsonInputError

    try:
        if p.stat().st_size == 0:
            return "the file is empty"
        with JsonFile(p) as f:
            return f.describe_other() if f.top_level_kind() == "other" else None
    except JsonInputError as exc:
        return str(exc)
    except OSError:
        return None
