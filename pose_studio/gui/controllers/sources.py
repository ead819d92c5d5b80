"""Sources in the window: image sets added (folders or image files), what is known of the shown
image (file name, size), and a banner with the problems found in the shown video.

* Adding image sets reads every image's header on a background job
  (:func:`pose_studio.app.media.read_image_set`), which then writes the sets into the project
  in one transaction (:func:`~pose_studio.app.media.add_image_sets`: 0.5 s for 100k images,
  not for the window's thread); the last one is shown. Switching projects stops (and waits
  for) the job.
* The status bar's frame label shows, for an image set, the image's path relative to its set's
  folder and its own size (:class:`~pose_studio.app.frame_info.FrameFiles`).
* The decode lane reports the notices of each source it opens; the banner shows them for that
  source (amber for warnings, blue-grey for information) until the user dismisses it
  (:class:`~pose_studio.app.notices.Notices`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QApplication, QLabel

from pose_studio.app import media
from pose_studio.app.frame_info import FrameFiles
from pose_studio.app.notices import Notices
from pose_studio.app.opening import default_project_path
from pose_studio.app.session import Frames, Topic
from pose_studio.core.errors import PoseStudioError

from ..widgets.notice_banner import NoticeBanner
from .base import Shell

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Failed:
    message: str


class SourceController(QObject):
    """See the module docstring. ``opening``: the window's opening controller (it shows the
    sets once added, and creates a project for them when none is open)."""

    def __init__(self, shell: Shell, loader: Any, opening: Any, banner: NoticeBanner,
                 frame_label: QLabel) -> None:
        super().__init__(shell.window)
        self.shell = shell
        self.session = shell.session
        self.opening = opening
        self.banner = banner
        self.frame_label = frame_label
        self.files = FrameFiles()
        self.notices = Notices()
        self.adding = False
        self._project_key: object = None
        banner.dismissed.connect(self._dismissed)
        loader.opened.connect(self._on_opened)
        shell.signals.changed.connect(self._on_changed)
        opening.on_stop.append(self._stop)

    # --- adding image sets ---------------------------------------------------------------------
    def add_image_sets(self, folders: Sequence[Path], files: Sequence[Path]) -> None:
        """Add image folders (each a set) and image files (one set of exactly those files)."""
        if not folders and not files:
            return
        s = self.session
        if s.project is None:
            first = folders[0] if folders else media.common_root(files)
            self.opening.create_project(default_project_path(first))
            if s.project is None:
                return
        if s.read_only:
            raise PoseStudioError("the project is open read-only: nothing can be added")
        jobs: list[tuple[Path, list[Path] | None]] = [(Path(f), None) for f in folders]
        if files:
            jobs.append((media.common_root(files), [Path(f) for f in files]))
        project, user = s.project, s.user

        def work(cancelled: Any) -> Any:
            specs = []
            try:
                for root, listed in jobs:
                    if cancelled():
                        return None
                    specs.append(media.read_image_set(root, listed, project))
                if cancelled():
                    return None
                return tuple(specs), tuple(media.add_image_sets(project, specs, user=user))
            except PoseStudioError as exc:
                return _Failed(str(exc))

        names = ", ".join(p.name for p, _ in jobs[:2]) + ("…" if len(jobs) > 2 else "")
        self.shell.status(f"reading the images of {names}…", 0)
        if s.video_id is None:
            self.shell.view.show_message(f"reading the images of {names}…")
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        self.adding = True
        self.shell.jobs.run("add_images", work, self._added)

    def _stop(self) -> None:
        self.shell.jobs.stop("add_images")
        if self.adding:
            self.adding = False
            QApplication.restoreOverrideCursor()

    def _added(self, result: Any) -> None:
        if self.adding:
            self.adding = False
            QApplication.restoreOverrideCursor()
        s = self.session
        self.shell.window.statusBar().clearMessage()
        if result is None or s.project is None:
            return
        if isinstance(result, _Failed):
            if s.video_id is None:
                self.shell.view.show_message("the images could not be added")
            self.shell.error("Cannot add images", result.message)
            return
        specs, ids = result
        s.refresh()
        for spec in specs:
            for n in spec.notices:
                log.info("image set %s: %s", spec.path, n)
        new = sum(sp.count for sp in specs if sp.existing is None)
        if new:
            self.shell.status(f"added {new} image{'s' if new != 1 else ''}", 8000)
        if ids:
            self.opening.show_video(ids[-1])

    # --- the shown source ----------------------------------------------------------------------
    def _key(self, video_id: int) -> object:
        return (self._project_key, video_id)

    def _on_opened(self, meta: Any) -> None:
        """The decode lane opened a source (after the opening controller made it current)."""
        s = self.session
        rec = s.video_record()
        if rec is None or s.video_id is None:
            return
        if getattr(meta, "path", None) is not None and \
                Path(str(meta.path)).resolve() != Path(str(rec.path)).resolve():
            return  # not the shown source (a superseded open)
        self.notices.set(self._key(s.video_id), tuple(getattr(meta, "notices", ()) or ()))
        self._show_banner()

    def _show_banner(self) -> None:
        s = self.session
        rec = s.video_record()
        if rec is None or s.video_id is None:
            self.banner.clear()
            return
        text = self.notices.banner(self._key(s.video_id), Path(str(rec.path)).name)
        if text is None:
            self.banner.clear()
        else:
            self.banner.show_banner(text.severity, text.headline, text.lines)

    def _dismissed(self) -> None:
        if self.session.video_id is not None:
            self.notices.dismiss(self._key(self.session.video_id))

    def _on_changed(self, topics: frozenset[Topic], _frames: Frames) -> None:
        if Topic.PROJECT in topics:
            p = self.session.project
            self._project_key = str(p.path) if p is not None else None
            self.notices.clear()
            self.files.clear()
        if Topic.VIDEO in topics or Topic.PROJECT in topics:
            self._show_banner()
        if topics & {Topic.VIDEO, Topic.FRAME, Topic.PIXELS, Topic.PROJECT}:
            self.update_frame_label()
            self._hide_overlays_until_the_picture_is_here()

    def _hide_overlays_until_the_picture_is_here(self) -> None:
        """Image sets: each image has its own size and content, so the labels of image 5 are
        never shown over image 4's picture while image 5 is read (videos keep showing them:
        their next picture is the same size and arrives within a frame)."""
        s = self.session
        rec = s.video_record()
        waiting = rec is not None and rec.kind == "images" and (
            s.shown is None or s.shown.index != s.frame_idx)
        self.shell.view.set_waiting(waiting)

    def update_frame_label(self) -> None:
        """The image's relative path and size (image sets; nothing for videos)."""
        try:
            info = self.files.info(self.session)
        except PoseStudioError:
            info = None
        if info is None or not info.image_set:
            self.frame_label.setText("")
            self.frame_label.setToolTip("")
            return
        self.frame_label.setText(info.file_text())
        self.frame_label.setToolTip(f"{info.position_text()}: {info.file_text()}")
