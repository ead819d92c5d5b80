"""Importing a dataset file into the open project, or making a new project from one (Qt-free).

The window's Import dialog and "Open" of a dataset file run these on a worker thread with a
``progress(done, total)``, a ``stage(text)`` and a ``cancel`` event; the result is a frozen
summary. The steps are those of ``pose-studio import``: the format (found by content, or named),
the reader (onto the project skeleton; or, for a new project, the file's own skeleton, as
``new --skeleton-from`` takes it), embedded images unpacked beside the project (``.pkg.slp``),
then :func:`pose_studio.formats.ingest.ingest`: everything checked first, then ONE transaction
recorded as ONE history step (undo takes the whole import back).

Cancel: honoured between steps and while frames are read for fingerprints; the transaction
itself is never cut short (it is all or nothing anyway). A cancelled import writes nothing.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pose_studio.core.errors import PoseStudioError

__all__ = [
    "Cancelled",
    "ImportReport",
    "ImportRequest",
    "MissingMediaError",
    "NewProjectResult",
    "import_report",
    "media_near",
    "missing_media",
    "new_project_from",
    "project_path_for",
    "resolve_format",
    "run_import",
    "window_words",
]

Progress = Callable[[int, int], None]
Stage = Callable[[str], None]


class Cancelled(Exception):
    """The user cancelled (raised from progress callbacks; nothing was written).

    Deliberately not a :class:`PoseStudioError`: the importer turns those into notes while it
    reads fingerprints, and a cancel must stop it."""


class MissingMediaError(PoseStudioError):
    """Videos the file names were not found (``names``): the user says where they are.
    ``suggestion``: a folder near the file that holds them all (the window fills it in)."""

    def __init__(self, names: list[tuple[str, str]], suggestion: Path | None = None) -> None:
        self.names = list(names)
        self.suggestion = suggestion
        shown = "; ".join(f"{n} (written as {w})" if w != n else n for n, w in self.names[:3])
        more = f" and {len(self.names) - 3} more" if len(self.names) > 3 else ""
        many = len(self.names) > 1
        where = (f"{suggestion} holds {'them' if many else 'it'}: it is filled in as the media "
                 "folder; check it and try again" if suggestion is not None else
                 f"choose the folder that holds {'them' if many else 'it'} as the media folder "
                 "and try again")
        super().__init__(
            f"the video{'s' if many else ''} this file labels {'were' if many else 'was'} not "
            f"found beside it: {shown}{more}. {where[0].upper()}{where[1:]}")


@dataclass(frozen=True)
class ImportRequest:
    """What to import and how (the options of ``pose-studio import``).

    Attributes:
        format: ``auto`` (found from the content) or a registered format's name.
        images_dir: Where the file's images or videos are, when not beside it.
        category: The category to import, for files with several keypoint layouts.
        video_id: Put every image on this project video (frames by number).
    """

    path: Path
    format: str = "auto"
    images_dir: Path | None = None
    category: str | None = None
    video_id: int | None = None
    fingerprints: bool = True


def resolve_format(path: str | os.PathLike[str], name: str = "auto") -> Any:
    """The registered format to read ``path`` with (by content for ``auto``).

    Raises:
        UnknownFormatError: no format reads it, or no such format.
        PoseStudioError: the format cannot be read.
    """
    from pose_studio.formats.registry import detect, get_format

    from .media import check_openable

    p = Path(path)
    check_openable(p)  # a FIFO would block the sniffers
    fmt = detect(p) if name in ("", "auto") else get_format(name)
    if fmt.read is None:
        raise PoseStudioError(f"{fmt.label} files cannot be imported")
    return fmt


def _checked(progress: Progress | None, cancel: threading.Event | None) -> Progress:
    def prog(done: int, total: int) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if progress is not None:
            progress(done, total)

    return prog


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def missing_media(dataset: Any, path: Path, project: Any = None) -> list[tuple[str, str]]:
    """``(file name, path as written)`` of the video sources of ``dataset`` that are neither
    in ``project`` nor found where the importer looks (as written, beside the file)."""
    known: set[str] = set()
    if project is not None:
        for v in project.videos():
            known.update({str(v.path), str(v.stored_path), Path(v.path).name})
    out = []
    for src in dataset.sources:
        if src.kind != "video" or not src.path:
            continue
        name = str(src.path)
        base = Path(name.replace("\\", "/")).name
        if name in known or base in known:
            continue
        candidates = [Path(name), path.parent / base]
        if not Path(name).is_absolute():
            candidates.append(path.parent / name)
        if not any(c.is_file() for c in candidates):
            out.append((base, name))
    return out


#: How many folders near a dataset file are looked at for its missing videos.
_NEAR_LIMIT = 200


def media_near(names: list[tuple[str, str]], path: Path) -> Path | None:
    """The one folder near the dataset file (its own sub-folders, its parent and the parent's
    sub-folders, as a project's ``videos/`` beside ``labels/``) that holds every missing file;
    None when none or several do. Only a suggestion: the dialog shows it before it is used."""
    base = path.parent
    candidates: list[Path] = []
    roots = [base, *([base.parent] if base.parent != base else [])]
    seen = 0
    for root in roots:
        try:
            dirs = [root, *sorted(d for d in root.iterdir() if d.is_dir()
                                  and not d.name.startswith("."))]
        except OSError:
            continue
        for d in dirs:
            seen += 1
            if seen > _NEAR_LIMIT:
                return None
            if d != base and d not in candidates and all((d / n).is_file() for n, _ in names):
                candidates.append(d)
    return candidates[0] if len(candidates) == 1 else None


def _missing(dataset: Any, path: Path, project: Any = None) -> None:
    missing = missing_media(dataset, path, project)
    if missing:
        raise MissingMediaError(missing, media_near(missing, path))


def _read(fmt: Any, req: ImportRequest, project: Any, progress: Progress,
          stage: Stage) -> Any:
    from pose_studio.formats.ingest import read_options_for
    from pose_studio.formats.registry import ReadOptions

    stage(f"reading {req.path.name} ({fmt.label})…")
    if project is None:  # a new project: the file's own skeleton
        opts = ReadOptions(skeleton=None, category=req.category, images_dir=req.images_dir,
                           progress=progress)
    else:
        opts = read_options_for(project, category=req.category,
                                images_dir=req.images_dir, progress=progress)
    return fmt.load(req.path, opts)


def _unpack(fmt: Any, dataset: Any, req: ImportRequest, project_path: Path) -> Any:
    unpack = getattr(fmt, "unpack", None)
    if unpack is None:
        return dataset
    folder = project_path.parent / f"{project_path.stem}.images" / req.path.stem
    return unpack(req.path, dataset, folder)


def run_import(project: Any, req: ImportRequest, *, user: str | None = None,
               progress: Progress | None = None, stage: Stage | None = None,
               cancel: threading.Event | None = None) -> Any:
    """Import ``req.path`` into ``project`` (all or nothing; one history step).

    Returns:
        The importer's :class:`~pose_studio.formats.ingest.ImportSummary`.

    Raises:
        Cancelled: the user cancelled (nothing written).
        PoseStudioError: the file cannot be read or does not fit (nothing written).
    """
    from pose_studio.formats.ingest import ingest

    say = stage or (lambda _t: None)
    prog = _checked(progress, cancel)
    fmt = resolve_format(req.path, req.format)
    dataset = _read(fmt, req, project, prog, say)
    _check(cancel)
    if req.video_id is None:
        _missing(dataset, req.path, project)
    dataset = _unpack(fmt, dataset, req, Path(project.path))
    _check(cancel)
    say("placing the images and reading the labeled frames…")
    return ingest(project, dataset, path=req.path, video_id=req.video_id,
                  images_dir=req.images_dir, fingerprints=req.fingerprints, progress=prog,
                  user=user)


# --- a new project from a dataset file ---------------------------------------------------------------
@dataclass(frozen=True)
class NewProjectResult:
    path: Path
    skeleton_name: str
    keypoints: int
    summary: Any


def project_path_for(dataset_path: str | os.PathLike[str]) -> Path:
    """Where a project made from ``dataset_path`` goes: beside it (a folder's: beside the
    folder), else the user's data folder when that cannot be written; a free name (``-2``,
    ``-3``...), never an existing project."""
    from .opening import default_project_path

    p = Path(dataset_path).absolute()
    if p.is_file() and p.name.lower() in ("config.yaml", "data.yaml", "data.yml"):
        p = p.parent  # the dataset is the folder: its project goes beside it
    stem = p.name
    for suffix in (".pkg.slp", ".slp", ".json", ".yaml", ".yml", ".csv", ".h5"):
        if p.is_file() and stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    first = default_project_path(p.parent / stem)
    if first.suffix.lower() != ".posestudio":
        first = first.with_name(first.name + ".posestudio")
    candidate, n = first, 2
    while candidate.exists():
        candidate = first.with_name(f"{first.name[:-len('.posestudio')]}-{n}.posestudio")
        n += 1
    return candidate


def new_project_from(project_path: str | os.PathLike[str], req: ImportRequest, *,
                     user: str | None = None, progress: Progress | None = None,
                     stage: Stage | None = None,
                     cancel: threading.Event | None = None) -> NewProjectResult:
    """Create the project ``project_path`` with the skeleton ``req.path`` defines and import
    the file into it. The file is read once; the project is created only after it was read
    and its media found, and removed again when the import fails or is cancelled.

    Raises:
        Cancelled, PoseStudioError: as :func:`run_import`; nothing is left behind.
    """
    from pose_studio.formats.ingest import ingest
    from pose_studio.store.project import Project

    say = stage or (lambda _t: None)
    prog = _checked(progress, cancel)
    target = Path(project_path)
    if target.suffix.lower() != Project.SUFFIX:
        target = target.with_name(target.name + Project.SUFFIX)
    if target.exists():
        raise PoseStudioError(f"{target} already exists: choose another project file")
    fmt = resolve_format(req.path, req.format)
    dataset = _read(fmt, req, None, prog, say)
    _check(cancel)
    _missing(dataset, req.path)
    say(f"creating {target.name} (skeleton {dataset.skeleton.name}, "
        f"{dataset.skeleton.num_keypoints} keypoints)…")
    project = Project.create(target, dataset.skeleton)
    try:
        dataset = _unpack(fmt, dataset, req, target)
        _check(cancel)
        say("placing the images and reading the labeled frames…")
        summary = ingest(project, dataset, path=req.path, images_dir=req.images_dir,
                         fingerprints=req.fingerprints, progress=prog, user=user)
    except BaseException:
        project.close()
        _remove_project(target)
        raise
    project.close()
    sk = dataset.skeleton
    return NewProjectResult(target, str(sk.name), int(sk.num_keypoints), summary)


def _remove_project(path: Path) -> None:
    for p in [path] + [path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal",
                                                                 ".lock")]:
        with contextlib.suppress(OSError):
            p.unlink()


# --- what the user reads ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ImportReport:
    """An import in words: one headline, the notes, and every line of what was not kept."""

    headline: str
    notes: tuple[str, ...] = ()
    not_kept: tuple[str, ...] = ()

    def text(self) -> str:
        """Everything, one line each (what the dialog's Copy button copies)."""
        lines = [self.headline, *(f"note: {n}" for n in self.notes)]
        if self.not_kept:
            lines += [f"not kept: {n}" for n in self.not_kept]
        else:
            lines.append("not kept: nothing (every annotation and field of the file is in the "
                         "project)")
        return "\n".join(lines)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def import_report(summary: Any, format_label: str = "") -> ImportReport:
    """The report of an :class:`~pose_studio.formats.ingest.ImportSummary`."""
    bits = [f"Imported {_plural(summary.n_user, 'label')} and "
            f"{_plural(summary.n_predicted, 'prediction')} on "
            f"{_plural(summary.n_images, 'frame')} from {Path(summary.path).name}"
            + (f" ({format_label})" if format_label else "")]
    if summary.keypoint_mapping not in ("identical", ""):
        bits.append(f"keypoints matched {summary.keypoint_mapping}")
    if summary.tracks_created:
        bits.append(_plural(summary.tracks_created, "new track"))
    if summary.n_regions:
        bits.append(_plural(summary.n_regions, "region"))
    if summary.sources_added:
        bits.append(f"added {_plural(len(summary.sources_added), 'source')}")
    return ImportReport("; ".join(bits) + ".", tuple(str(n) for n in summary.notes),
                        tuple(str(n) for n in summary.not_kept))


#: Command-line words in the importers' and exporters' messages, and what the window calls them.
_WORDS = (
    ("give the image folder with --images DIR", "choose the media folder"),
    ("--images DIR", "the media folder"),
    ("--images", "the media folder"),
    ("--category NAME", "the category option"),
    ("--category", "the category option"),
    ("; add it with add-video first or give --video", "; add it to the project first, or "
     "choose the folder that holds it as the media folder"),
    ("use --force to replace it", "confirm to replace it"),
    ("use --force to replace them", "confirm to replace them"),
    ("not even with --force", "not even when confirmed"),
    ("name one with --format", "choose the format"),
    ("pose-studio import P dataset.json the media folder", "File ▸ Import with its media folder"),
)


def window_words(message: str) -> str:
    """A message of the readers, the importer or the exporters with the command-line options
    it names replaced by what the window's dialogs call them."""
    for cli, gui in _WORDS:
        message = message.replace(cli, gui)
    return message
