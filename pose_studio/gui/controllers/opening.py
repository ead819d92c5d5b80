"""Opening projects and videos: the decode lane opens (and indexes) off the GUI thread; the
session records what it opened.

A bare video gets a project beside it without a dialog (:func:`default_project_path`; File ▸
Save As moves it); a video opened or dropped while a project is open asks whether it joins that
project or starts a new one. Switching back to a video returns to the frame the user was on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QApplication

from pose_studio.app.opening import OpenQueue, default_project_path, split_paths
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.skeleton import Skeleton
from pose_studio.store.errors import ProjectLockedError
from pose_studio.store.project import Project

from .base import Shell
from .fingerprints import FingerprintController
from .playback import PlaybackController

log = logging.getLogger(__name__)


def _default_reader_factory(path: str, index: bytes | None) -> Any:
    from pose_studio.video import open_video

    return open_video(path, index=index)


class OpeningController(QObject):
    """See the module docstring.

    Hooks (tests replace them; the window's defaults ask the user):
        ask_relink_path(record) -> Path | None
        ask_open_read_only(reason) -> bool
        ask_video_target(videos, project_name) -> "add" | "new" | None
    """

    def __init__(self, shell: Shell, loader: Any, playback: PlaybackController,
                 fingerprints: FingerprintController,
                 default_skeleton: Callable[[], Skeleton]) -> None:
        super().__init__(shell.window)
        self.shell = shell
        self.session = shell.session
        self.loader = loader
        self.playback = playback
        self.fingerprints = fingerprints
        self.default_skeleton = default_skeleton
        self.queue = OpenQueue()
        self.on_stop: list[Callable[[], None]] = []  # more to stop when switching projects
        self.ask_relink_path: Callable[[Any], Path | None] = lambda rec: None
        self.ask_open_read_only: Callable[[str], bool] = lambda reason: False
        self.ask_video_target: Callable[[Sequence[Path], str], str | None] = \
            lambda videos, name: "add"
        loader.opened.connect(self._on_opened)
        loader.failed.connect(self._on_failed)
        if hasattr(loader, "index_built"):
            loader.index_built.connect(self._on_index_built)

    @property
    def busy(self) -> bool:
        """A video is being opened or waits to be."""
        return self.queue.current is not None or bool(self.queue.pending)

    def ready(self) -> bool:
        """The decode lane has the session's video open."""
        loaded = self.queue.loaded
        return loaded is not None and loaded[0] == self.session.video_id

    # --- projects ------------------------------------------------------------------------------
    def open_paths(self, paths: Sequence[str | Path]) -> None:
        """Projects replace the open one; videos join it (after asking) or get a new one."""
        projects, videos = split_paths(paths)
        for p in projects[:1]:
            self.open_project(p)
        if len(projects) > 1:
            self.shell.status(f"opened {Path(str(projects[0])).name}; only one project can be "
                              "open at a time", 6000)
        if not videos:
            return
        s = self.session
        if s.project is not None and not projects:
            choice = self.ask_video_target(videos, Path(str(s.project.path)).name)
            if choice is None:
                return
            if choice == "new":
                self.create_project(default_project_path(videos[0]))
        elif s.project is None:
            self.create_project(default_project_path(videos[0]))
        self.add_videos(videos)

    def open_project(self, path: Path) -> None:
        try:
            project = Project.open(path)
        except ProjectLockedError as exc:
            if not self.ask_open_read_only(str(exc)):
                return
            project = Project.open(path, read_only=True)
        self.stop_all()
        self.session.open(project)
        self.shell.settings.add_recent(path)
        videos = self.session.videos()
        if videos:
            self.show_video(int(videos[0].id))
        self.shell.status(f"opened {path}", 4000)

    def create_project(self, path: Path, skeleton: Skeleton | None = None) -> None:
        """A new project file (an existing one at ``path`` is opened instead)."""
        path = Path(path)
        if path.suffix.lower() != Project.SUFFIX:
            path = path.with_suffix(Project.SUFFIX)
        if path.exists():
            self.open_project(path)
            return
        project = Project.create(path, skeleton or self.default_skeleton())
        self.stop_all()
        self.session.open(project)
        self.shell.settings.add_recent(path)
        self.shell.status(f"created project {path} (File ▸ Save As keeps it elsewhere)", 8000)

    def close_project(self) -> None:
        self.stop_all()
        self.session.close()

    def stop_all(self) -> None:
        """Stop what belongs to the open project: playback, opens, checks, a batch run."""
        self.playback.stop()
        if self.queue.current is not None and self.queue.current.adding:
            self._restore_cursor()
        self.queue.clear()
        self.fingerprints.clear()
        self.shell.view.set_approximate(None)
        for fn in self.on_stop:
            try:
                fn()
            except Exception:
                log.exception("stopping failed")

    # --- videos --------------------------------------------------------------------------------
    def add_videos(self, paths: Sequence[Path]) -> None:
        """Add videos; each is opened (and indexed) by the decode lane."""
        existing = {Path(str(v.path)).resolve(): int(v.id) for v in self.session.videos()}
        show = self.queue.add(paths, existing)
        if show is not None:
            self.show_video(show)
        elif self.queue.current is None:
            self._open_next()

    def _open_next(self) -> None:
        op = self.queue.next()
        if op is None:
            return
        self.playback.stop()
        self.shell.view.show_message(f"opening {Path(op.path).name}…")
        self.shell.status(f"opening {op.path}…", 0)
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        self.loader.open(op.path, None)

    def show_video(self, video_id: int, goto: int | None = None) -> None:
        """Switch to one of the project's videos (asks to relink it when the file is missing);
        ``goto``: the frame to show, else where the user was on it."""
        s = self.session
        rec = s.video_record(video_id)
        if rec is None:
            raise PoseStudioError(f"the project has no video {video_id}")
        path = Path(str(rec.path))
        if not path.exists():
            new = self.ask_relink_path(rec)
            if new is None:
                s.set_video(None)
                self.shell.view.clear_frame(
                    f"video {path.name} is missing: relink it (File ▸ Relink Video)")
                return
            s.relink_video(video_id, new)
            path = Path(new)
        self.playback.stop()
        self.queue.switch(video_id, str(path), goto)
        self.shell.view.show_message(f"opening {path.name}…")
        self.loader.open(str(path), s.require().video_index(video_id))

    def step_video(self, d: int) -> None:
        ids = [int(v.id) for v in self.session.videos()]
        vid = self.session.video_id
        i = ids.index(vid) if vid in ids else -1
        if 0 <= i + d < len(ids):
            self.show_video(ids[i + d])

    def relink(self, video_id: int | None = None) -> None:
        vid = self.session.video_id if video_id is None else video_id
        rec = self.session.video_record(vid)
        if rec is None or vid is None:
            return
        new = self.ask_relink_path(rec)
        if new is not None:
            self.session.relink_video(vid, new)
            self.show_video(vid)

    # --- from the decode lane --------------------------------------------------------------------
    def _restore_cursor(self) -> None:
        if QApplication.overrideCursor() is not None:
            QApplication.restoreOverrideCursor()

    def _on_opened(self, meta: Any) -> None:
        try:
            self._opened(meta)
        except PoseStudioError as exc:
            self.shell.error("Pose Studio", str(exc))

    def _opened(self, meta: Any) -> None:
        op = self.queue.current
        if op is None or not self.queue.expected(getattr(meta, "path", None)):
            return  # an open that was superseded (another video or project was chosen since)
        if op.adding:
            self._restore_cursor()
        s = self.session
        if s.project is None:
            self.queue.clear()
            return
        if op.adding:
            vid = s.add_video(op.path, meta)
            self.shell.settings.add_recent(op.path)
            self.shell.status(f"added {Path(op.path).name}: {meta.frame_count} frames", 4000)
        else:
            assert op.video_id is not None
            vid = op.video_id
        self.queue.done(vid)
        index = s.require().video_index(vid)
        self.playback.set_meta(meta, index)
        s.set_video(vid, int(meta.frame_count), float(meta.fps or 30.0), frame=op.goto)
        self.shell.view.setFocus()
        factory = getattr(self.loader, "reader_factory", None) or _default_reader_factory
        self.fingerprints.start(vid, op.path, index, factory)
        if self.queue.pending:
            self._open_next()

    def _on_index_built(self, blob: Any) -> None:
        loaded = self.queue.loaded
        if self.session.project is None or loaded is None:
            return
        try:
            self.session.set_video_index(loaded[0], bytes(blob))
        except PoseStudioError as exc:
            self.shell.status(f"the frame index was not stored: {exc}", 8000)
        self.playback.set_index(bytes(blob))

    def _on_failed(self, message: str) -> None:
        op = self.queue.failed()
        s = self.session
        if op is None:
            self.shell.status(message, 8000)
            if s.shown is None:
                self.shell.view.show_message(message)
            return
        if op.adding:
            self._restore_cursor()
        self.queue.loaded = None
        if not op.adding:
            s.set_video(None)
        self.shell.view.clear_frame("the video could not be opened")
        self.shell.window.statusBar().clearMessage()
        self.shell.error("Cannot open video", message)
        if op.adding and self.queue.pending:
            self._open_next()
        elif op.adding and s.video_id is not None:
            self.show_video(s.video_id, goto=s.frame_idx)  # the decoder dropped it
