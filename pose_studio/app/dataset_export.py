"""Exporting the project through the format registry (Qt-free): the checks before, the run.

:func:`preflight` runs on the window's thread when the user clicks Export (file-system checks
only, no reading): it refuses an output that is the project file or one of its sources (never
written, whatever the user says) and returns what would be replaced, for the window to ask
before. :func:`run_export` runs on a worker thread: first the sources are checked
(:func:`~pose_studio.formats.frame_check.verify_sources`: a video replaced since it was added
stops the export before anything is written, saying what changed), then the project is read into
a dataset and the format's writer writes it (all or nothing, with progress; a cancel leaves
nothing behind).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pose_studio.core.output import OutputError, is_protected

from .dataset_import import Cancelled

__all__ = [
    "FOLDER_FORMATS",
    "ExportRequest",
    "ExportResult",
    "default_output",
    "export_message",
    "format_for_output",
    "preflight",
    "project_files",
    "run_export",
    "writers",
]

Progress = Callable[[int, int], None]
Stage = Callable[[str], None]

#: Formats written as a folder (a dataset layout), not one file.
FOLDER_FORMATS = frozenset({"dlc", "yolo"})
SOURCES = ("user", "predicted", "all")


def writers() -> list[Any]:
    """The registered formats that write, COCO first."""
    from pose_studio.formats.registry import all_formats

    out = [f for f in all_formats() if f.write is not None]
    return sorted(out, key=lambda f: (f.name != "coco", f.name))


def default_output(project_path: str | os.PathLike[str], format_name: str) -> Path:
    """Where an export of ``format_name`` goes unless the user says: beside the project."""
    p = Path(project_path)
    if format_name in FOLDER_FORMATS:
        return p.with_name(f"{p.stem}-{format_name}")
    if format_name == "coco":
        return p.with_name(f"{p.stem}.coco.json")
    if format_name == "slp":
        return p.with_name(f"{p.stem}.slp")
    from pose_studio.formats.registry import get_format

    suffixes = get_format(format_name).suffixes
    return p.with_name(p.stem + (suffixes[0] if suffixes else f".{format_name}"))


def format_for_output(path: str | os.PathLike[str]) -> str | None:
    """The format an output name asks for (``x.slp`` -> slp, ``x.json`` -> coco, a YOLO
    ``data.yaml`` or DeepLabCut ``config.yaml``: their folder's format), None when it does not
    say."""
    name = Path(path).name.lower()
    if name.endswith(".slp"):
        return "slp"
    if name.endswith(".json"):
        return "coco"
    if name in ("data.yaml", "data.yml"):
        return "yolo"
    if name == "config.yaml":
        return "dlc"
    return None


@dataclass(frozen=True)
class ExportRequest:
    """What to write (the options of ``pose-studio export``).

    Attributes:
        out: The file, or the folder for folder formats (:data:`FOLDER_FORMATS`).
        images: Write the images too: COCO into ``images_dir``; YOLO and DeepLabCut into their
            layout; SLEAP embeds them (a ``.pkg.slp``).
        force: Replace what exists (the window asks first; sources are never replaced).
    """

    out: Path
    format: str = "coco"
    source: str = "user"
    video_ids: tuple[int, ...] | None = None
    images: bool = False
    images_dir: Path | None = None
    image_format: str = "png"
    jpeg_quality: int = 95
    force: bool = False


def project_files(project: Any) -> list[Path]:
    """The project file, its SQLite and lock sidecars, and every source (file or folder)."""
    p = Path(project.path)
    out = [p] + [p.with_name(p.name + s) for s in ("-wal", "-shm", "-journal", ".lock")]
    return out + [Path(v.path) for v in project.videos()]


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
    except (ValueError, OSError):
        return False
    return True


def _never(path: Path, protected: Sequence[Path], what: str, folder: bool) -> None:
    hit = is_protected(path, protected)
    if hit is not None:
        raise OutputError(f"{what} {path} is {hit.name}, a file of the project itself (its "
                          "project file or a source): it is never written over; choose "
                          "another name")
    for s in protected:
        if s.is_dir() and (_inside(path, s) or (folder and _inside(s, path))):
            raise OutputError(f"{what} {path} would write into {s}, a source folder of the "
                              "project; choose another place")
        if folder and s.is_file() and _inside(s, path):
            raise OutputError(f"{what} {path} holds {s.name}, a source of the project; "
                              "choose another folder")


def preflight(project: Any, req: ExportRequest) -> list[str]:
    """The checks before an export, without reading anything.

    Returns:
        What the export would replace (empty: nothing); the window asks before it sets
        ``force``.

    Raises:
        OutputError: an output that is never written (the project or a source), a missing
            parent folder, a file where a folder is wanted or the other way round.
    """
    if req.source not in SOURCES:
        raise OutputError(f"unknown source {req.source!r}: use one of {', '.join(SOURCES)}")
    if not 1 <= int(req.jpeg_quality) <= 100:
        raise OutputError(f"JPEG quality must be 1..100, got {req.jpeg_quality}")
    protected = project_files(project)
    out = Path(req.out)
    folder = req.format in FOLDER_FORMATS
    what = "the output folder" if folder else "the output file"
    _never(out, protected, what, folder)
    if not out.parent.is_dir():
        raise OutputError(f"cannot write {out}: folder {out.parent} does not exist")
    replaced = []
    if folder:
        if out.exists() and not out.is_dir():
            raise OutputError(f"{out} exists and is not a folder; choose a folder name")
        if out.is_dir():
            replaced.append(f"the folder {out} (it is replaced as a whole)")
    else:
        if out.is_dir():
            raise OutputError(f"{out} is a folder; give a file name")
        if out.exists() or out.is_symlink():
            replaced.append(f"the file {out}")
    if req.images and req.format == "coco":
        images = req.images_dir or out.parent / "images"
        _never(images, protected, "the image folder", True)
        if images.exists() and not images.is_dir():
            raise OutputError(f"the image folder {images} exists and is not a folder")
        if images.is_dir() and any(images.iterdir()):
            replaced.append(f"files in the image folder {images} (it is not empty: exported "
                            "images can replace files of the same name there)")
    return replaced


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format_label: str
    annotations: int
    images: int
    files_written: int
    not_written: tuple[str, ...]
    cancelled: bool = False
    format: str = ""


def _checked(progress: Progress | None, cancel: threading.Event | None) -> Progress:
    def prog(done: int, total: int) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if progress is not None:
            progress(done, total)

    return prog


def run_export(project: Any, req: ExportRequest, *, progress: Progress | None = None,
               stage: Stage | None = None,
               cancel: threading.Event | None = None) -> ExportResult:
    """Check the sources, then write (see the module docstring).

    Raises:
        SourceChangedError: a source changed since it was added (nothing written).
        OutputError, PoseStudioError: the output cannot be written (nothing left behind).
    """
    from pose_studio.formats.frame_check import verify_sources
    from pose_studio.formats.project_dataset import ProjectFrames, dataset_from_project
    from pose_studio.formats.registry import WriteOptions, get_format

    say = stage or (lambda _t: None)
    fmt = get_format(req.format)
    if fmt.write is None:
        raise OutputError(f"{fmt.label} files cannot be written")
    replaced = preflight(project, req)
    if replaced and not req.force:
        raise OutputError(f"{replaced[0]} would be replaced; confirm to replace it")
    say("checking that the sources are the files that were labeled…")
    verify_sources(project, req.video_ids, action="export")
    if cancel is not None and cancel.is_set():
        return ExportResult(req.out, fmt.label, 0, 0, 0, (), cancelled=True)
    say("reading the project…")
    dataset = dataset_from_project(project, source=req.source,  # type: ignore[arg-type]
                                   video_ids=list(req.video_ids) if req.video_ids else None,
                                   cancel=cancel)
    dataset.info["export"] = {"source": req.source, "project": str(project.path)}
    if cancel is not None and cancel.is_set():
        return ExportResult(req.out, fmt.label, 0, 0, 0, (), cancelled=True)
    images_dir = None
    if req.images and req.format == "coco":
        images_dir = req.images_dir or Path(req.out).parent / "images"
    new_folder = images_dir if images_dir is not None and not images_dir.exists() else None
    say(f"writing {Path(req.out).name} ({fmt.label})…")
    try:
        with ProjectFrames(project) as frames:
            s = fmt.write(dataset, Path(req.out), WriteOptions(
                frames=frames if (req.images or str(req.out).lower().endswith(".pkg.slp"))
                else None,
                image_format=req.image_format, force=req.force,
                progress=_checked(progress, cancel), images_dir=images_dir,
                jpeg_quality=int(req.jpeg_quality), cancel=cancel))
    except Cancelled:
        _remove_empty_tree(new_folder)
        return ExportResult(req.out, fmt.label, 0, 0, 0, (), cancelled=True)
    except BaseException:
        _remove_empty_tree(new_folder)
        raise
    if s.cancelled:
        _remove_empty_tree(new_folder)
        return ExportResult(req.out, fmt.label, 0, 0, 0, (), cancelled=True)
    return ExportResult(Path(s.path), fmt.label, int(s.annotations),
                        int(s.images or len(dataset.frames)), int(s.files_written),
                        tuple(str(n) for n in s.not_written), format=fmt.name)


def _remove_empty_tree(root: Path | None) -> None:
    """Remove a folder the export created, if nothing is left in it."""
    if root is None or not root.is_dir():
        return
    for dirpath, _dirs, _files in sorted(os.walk(root), key=lambda t: -len(t[0])):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def export_message(result: ExportResult) -> str:
    """What an export wrote, in one line (and what the format could not carry, after it)."""
    if result.cancelled:
        return "Export cancelled: nothing was written."
    text = (f"Exported {_plural(result.annotations, 'annotation')} on "
            f"{_plural(result.images, 'frame')} to {result.path} ({result.format_label})")
    if result.format == "coco":
        if result.files_written:
            return text + f", with {_plural(result.files_written, 'image file')}."
        if result.images:
            return text + (". The JSON names each frame's image file (file_name), but no image "
                           "was written: tick \"Write the images too\" to write them.")
    elif result.files_written:
        text += f"; {_plural(result.files_written, 'file')} written"
    return text + "."
