"""What the user opened or dropped, and image sets added to a project (Qt-free).

:func:`classify` sorts paths into projects, videos, image folders, image files and dataset
files (found by content through the format registry: a ``.slp``, a DeepLabCut project folder or
``config.yaml``, a COCO JSON, a YOLO ``data.yaml``...). Sniffers read a few KiB, so this is
cheap enough for the window's thread; nothing is indexed here.

:func:`read_image_set` reads an image folder (every image under it) or an explicit list of
images the way ``pose-studio add-video`` does: each image's relative path and its own size from
its header, the reader's index, its notices. It may take a while for many images (a worker
thread); the result is a frozen value. :func:`add_image_sets` then writes one or more of them
into the project in ONE transaction (like adding a video, not a step of the edit history: it
changes no labels; an import that brings its own images is one step, sources included).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pose_studio.core.errors import PoseStudioError

from .opening import PROJECT_SUFFIX, VIDEO_SUFFIXES

__all__ = [
    "DATASET_SUFFIXES",
    "ImageSetSpec",
    "Opened",
    "add_image_sets",
    "check_openable",
    "classify",
    "common_root",
    "read_image_set",
]

#: Suffixes that name a dataset file: one no format recognises is refused with the registry's
#: words instead of being opened as a video.
DATASET_SUFFIXES = frozenset({".json", ".slp", ".yaml", ".yml", ".csv", ".h5", ".hdf5"})


@dataclass(frozen=True)
class Opened:
    """Paths sorted by what they are. ``datasets``: ``(path, format name)``."""

    projects: tuple[Path, ...] = ()
    videos: tuple[Path, ...] = ()
    image_folders: tuple[Path, ...] = ()
    image_files: tuple[Path, ...] = ()
    datasets: tuple[tuple[Path, str], ...] = ()

    @property
    def media(self) -> bool:
        return bool(self.videos or self.image_folders or self.image_files)


def check_openable(p: Path) -> None:
    """Refuse at once what cannot be opened: a missing path, a FIFO or device (reading one
    would block), a name the system refuses (too long...).

    Raises:
        PoseStudioError: with the reason in plain words.
    """
    from pose_studio.core.output import describe_os_error

    try:
        if not p.exists():
            raise PoseStudioError(f"cannot open {p}: no such file or folder")
        if not (p.is_file() or p.is_dir()):
            raise PoseStudioError(f"cannot open {p}: not a regular file or folder")
    except OSError as exc:
        raise PoseStudioError(f"cannot open {str(p)[:120]}: {describe_os_error(exc)}") from None


def _image_suffixes() -> frozenset[str]:
    from pose_studio.video.image_reader import IMAGE_SUFFIXES

    return IMAGE_SUFFIXES


def classify(paths: Iterable[str | os.PathLike[str]]) -> Opened:
    """Sort ``paths`` (see the module docstring).

    Raises:
        PoseStudioError: a path does not exist, or a dataset-like file no format reads.
    """
    from pose_studio.formats.registry import UnknownFormatError, detect

    projects, videos, folders, images, datasets = [], [], [], [], []
    image_suffixes = _image_suffixes()
    for p in (Path(x).expanduser() for x in paths):
        suffix = p.suffix.lower()
        if suffix == PROJECT_SUFFIX:
            projects.append(p)
            continue
        check_openable(p)
        if p.is_file() and suffix in VIDEO_SUFFIXES:
            videos.append(p)
            continue
        if p.is_file() and suffix in image_suffixes:
            images.append(p.absolute())
            continue
        try:
            fmt = detect(p)
        except UnknownFormatError as exc:
            if p.is_dir():
                folders.append(p.absolute())
            elif suffix in DATASET_SUFFIXES:
                raise PoseStudioError(str(exc).replace("; name one with --format", "")) \
                    from None
            else:
                videos.append(p)  # opening it says what it is not
            continue
        datasets.append((p.absolute(), fmt.name))
    return Opened(tuple(projects), tuple(videos), tuple(folders), tuple(images),
                  tuple(datasets))


def common_root(files: Sequence[Path]) -> Path:
    """The folder an explicit image list is rooted at: the files' common folder."""
    return Path(os.path.commonpath([str(Path(f).absolute().parent) for f in files]))


@dataclass(frozen=True)
class ImageSetSpec:
    """An image set read and ready to add (immutable: it crosses threads).

    Attributes:
        path: The set's folder.
        files: ``(frame, relative path, width, height)`` of every image (sizes None where an
            image cannot be read).
        index: The reader's index bytes (stored with the source).
        meta: The reader's :class:`~pose_studio.video.VideoMeta`.
        append_to: The project's explicit image set at the same folder these images extend
            (``files`` then holds only the new images, numbered after its last), else None.
        existing: The project already has exactly this set: nothing to add, show it.
    """

    path: Path
    files: tuple[tuple[int, str, int | None, int | None], ...]
    index: bytes
    meta: Any
    append_to: int | None = None
    existing: int | None = None
    notices: tuple[Any, ...] = field(default=())

    @property
    def count(self) -> int:
        return len(self.files)


def read_image_set(root: str | os.PathLike[str], files: Sequence[str | os.PathLike[str]] | None,
                   project: Any = None) -> ImageSetSpec:
    """Read an image folder (``files`` None) or the explicit list ``files`` under ``root``.

    With ``project``: a folder it already has is not read again (``existing``), and files for
    an explicit set it has at ``root`` extend that set (``append_to``).

    Raises:
        PoseStudioError: no images, none readable, a file outside ``root`` (the reader's words).
    """
    from pose_studio.video import open_video
    from pose_studio.video.image_reader import open_image_list

    root = Path(root).absolute()
    old: list[str] | None = None
    vid = project.find_video(root) if project is not None else None
    if vid is not None:
        old = _explicit_files(project, int(vid)) if files is not None else None
        if old is None:
            return ImageSetSpec(root, (), b"", None, existing=int(vid))
    if files is None:
        reader = open_video(root)
    else:
        rels = [Path(f).absolute().relative_to(root).as_posix() if Path(f).is_absolute()
                else Path(f).as_posix() for f in files]
        if old is not None:
            seen = set(old)
            new = [r for r in dict.fromkeys(rels) if r not in seen]
            if not new:
                return ImageSetSpec(root, (), b"", None, existing=int(vid))  # type: ignore[arg-type]
            rels = old + new
        reader = open_image_list(root, rels)
    with reader:
        if not hasattr(reader, "rel_paths"):
            raise PoseStudioError(f"{root} is not an image set")
        listing = tuple((i, r, *(s or (None, None))) for i, (r, s) in
                        enumerate(zip(reader.rel_paths, reader.sizes)))  # type: ignore[attr-defined]
        meta, index = reader.meta, reader.index_bytes()
    if old is not None:
        return ImageSetSpec(root, listing[len(old):], index, meta, append_to=int(vid),  # type: ignore[arg-type]
                            notices=tuple(meta.notices))
    return ImageSetSpec(root, listing, index, meta,  # type: ignore[arg-type]
                        notices=tuple(getattr(meta, "notices", ())))


def _explicit_files(project: Any, video_id: int) -> list[str] | None:
    """The files of the project's explicit image set ``video_id`` (None: not one)."""
    from pose_studio.video import open_video

    rec = project.video(video_id)
    if rec.kind != "images":
        return None
    try:
        with open_video(rec.path, index=project.video_index(video_id)) as r:
            if getattr(r, "mode", "") == "list":
                return list(r.rel_paths)  # type: ignore[attr-defined]
    except PoseStudioError:
        return None
    return None


def add_image_sets(project: Any, specs: Sequence[ImageSetSpec], *,
                   user: str | None = None) -> list[int]:
    """Add (or extend) image sets in ONE transaction; returns their ids in the order of
    ``specs`` (an ``existing`` set's id for one already in the project)."""
    todo = [s for s in specs if s.existing is None]
    ids: dict[int, int] = {}
    if todo:
        names = ", ".join(s.path.name for s in todo[:3]) + ("…" if len(todo) > 3 else "")
        with project.import_transaction(f"add images {names}", user=user) as w:
            for n, s in enumerate(specs):
                if s.existing is not None:
                    continue
                m = s.meta
                if s.append_to is not None:
                    w.extend_image_set(s.append_to, list(s.files), index=s.index,
                                       frame_count=int(m.frame_count))
                    ids[n] = s.append_to
                    continue
                fr = m.fps_rational
                vid = int(w.add_video(
                    s.path, width=int(m.width), height=int(m.height),
                    frame_count=int(m.frame_count), fps=float(m.fps), vfr=False,
                    codec=str(m.codec), duration_s=float(m.duration_s), index=s.index,
                    fps_rational=(int(fr[0]), int(fr[1])) if fr else None, kind="images"))
                w.set_frame_files(vid, list(s.files))
                ids[n] = vid
    return [ids[n] if s.existing is None else int(s.existing) for n, s in enumerate(specs)]
