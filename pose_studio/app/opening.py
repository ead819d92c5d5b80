"""Opening files: which paths are projects or videos, where a bare video's project goes, and
the decode lane's queue of videos to open (one at a time, newest choice wins).

Qt-free bookkeeping for the window's opening controller (``gui/controllers/opening.py``),
which sends the paths to the decode lane and calls back here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pose_studio.core.errors import PoseStudioError

__all__ = [
    "PROJECT_SUFFIX",
    "VIDEO_SUFFIXES",
    "OpenQueue",
    "Opening",
    "default_project_path",
    "split_paths",
]

PROJECT_SUFFIX = ".posestudio"
VIDEO_SUFFIXES = frozenset({
    ".mp4", ".avi", ".mov", ".mkv", ".m4v", ".ts", ".mts", ".webm", ".mpg", ".mpeg", ".wmv",
    ".flv", ".mj2", ".gif",
})


def split_paths(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """``(projects, videos)``; videos include image folders. Missing paths are refused. A
    database URL (a project on a server) is a project, kept as the URL text."""
    from pose_studio.store.server import is_url

    projects: list[Path] = []
    videos: list[Path] = []
    for x in paths:
        if is_url(str(x)):
            projects.append(str(x))  # type: ignore[arg-type]  # Project.open takes the text
            continue
        p = Path(x)
        if p.suffix.lower() == PROJECT_SUFFIX:
            projects.append(p)
            continue
        if not p.exists():
            raise PoseStudioError(f"cannot open {p}: no such file or folder")
        videos.append(p)
    return projects, videos


def _data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pose-studio" / "projects"


def default_project_path(video: Path) -> Path:
    """Where a project for a bare ``video`` goes without asking: beside it (``clip.mp4`` ->
    ``clip.posestudio``; an existing one is reused), else, when that folder cannot be written,
    in the user's data folder. File ▸ Save As moves it anywhere later."""
    video = Path(video).absolute()
    beside = video.with_suffix(PROJECT_SUFFIX) if video.is_file() else \
        video.parent / (video.name + PROJECT_SUFFIX)
    if beside.exists() or os.access(beside.parent, os.W_OK):
        return beside
    d = _data_dir()
    d.mkdir(parents=True, exist_ok=True)
    return d / beside.name


@dataclass(frozen=True)
class Opening:
    """What the decode lane is opening: a new video to add (``video_id`` None) or one of the
    project's (a switch), and the frame to show once it is open."""

    path: str
    video_id: int | None = None
    goto: int | None = None

    @property
    def adding(self) -> bool:
        return self.video_id is None


def _same(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b


@dataclass
class OpenQueue:
    """Videos waiting to be added, and the one being opened now."""

    pending: list[str] = field(default_factory=list)
    current: Opening | None = None
    #: The video the decode lane has open for the session (after ``opened``), with its path.
    loaded: tuple[int, str] | None = None

    def add(self, paths: Sequence[Path], existing: dict[Path, int]) -> int | None:
        """Queue the new ones; returns the id of the last one already in the project when none
        is new (show it instead)."""
        last = None
        for p in paths:
            rp = Path(p).resolve()
            if rp in existing:
                last = existing[rp]
            else:
                self.pending.append(str(rp))
        return last if not self.pending and self.current is None else None

    def next(self) -> Opening | None:
        """Start the next queued video (None: nothing left)."""
        self.current = Opening(self.pending.pop(0)) if self.pending else None
        return self.current

    def switch(self, video_id: int, path: str, goto: int | None = None) -> Opening:
        self.current = Opening(str(path), video_id, goto)
        return self.current

    def expected(self, path: object) -> bool:
        """The decode lane's answer is for what is being opened now (not a superseded open)."""
        cur = self.current
        if cur is None:
            return False
        return path is None or _same(str(path), cur.path)

    def done(self, video_id: int) -> Opening | None:
        """The current open finished as ``video_id``; returns it."""
        cur, self.current = self.current, None
        if cur is not None:
            self.loaded = (video_id, cur.path)
        return cur

    def failed(self) -> Opening | None:
        cur, self.current = self.current, None
        return cur

    def clear(self) -> None:
        self.pending.clear()
        self.current = None
        self.loaded = None
