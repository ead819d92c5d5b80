"""Do the labeled frames still show the pictures they were labeled on?

When a video is opened, the background check (:mod:`pose_studio.app.fingerprint_check`, the
same as ``pose-studio info --check``) runs on a job with its own reader; a banner lists what no
longer matches. Each exact frame shown is also compared with its stored signature at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject

from pose_studio.app import fingerprint_check as fpmod
from pose_studio.app.session import Frames, Topic
from pose_studio.core.annotation import InstanceKind
from pose_studio.core.errors import PoseStudioError

from ..dialogs.bad_frames import BadFramesDialog
from ..widgets.banner import Banner
from .base import Shell

log = logging.getLogger(__name__)


class FingerprintController(QObject):
    """See the module docstring. ``goto(frame)`` moves the view; ``is_playing()`` skips the
    per-frame comparison during playback."""

    def __init__(self, shell: Shell, banner: Banner, goto: Callable[[int], None],
                 is_playing: Callable[[], bool]) -> None:
        super().__init__(shell.window)
        self.shell = shell
        self.session = shell.session
        self.banner = banner
        self.goto = goto
        self.is_playing = is_playing
        self.report: fpmod.FingerprintReport | None = None
        self.stored: dict[int, int | bytes] = {}
        self.dialog: BadFramesDialog | None = None
        banner.next_clicked.connect(self.next_bad_frame)
        banner.list_clicked.connect(self.show_list)
        shell.signals.changed.connect(self._on_changed)

    def clear(self) -> None:
        self.shell.jobs.cancel("fingerprints")
        self.report = None
        self.stored = {}
        self.banner.hide()

    def _on_changed(self, topics: frozenset[Topic], _frames: Frames) -> None:
        if Topic.VIDEO in topics and self.session.video_id is None:
            self.clear()
        if Topic.PIXELS in topics and not self.is_playing():
            shown = self.session.shown_exact()
            if shown is not None:
                self.check_frame(shown.index, shown.pixels)

    def start(self, video_id: int, path: str, index: bytes | None,
              reader_factory: Callable[[str, bytes | None], Any]) -> None:
        """Check the labeled frames of the video just opened, in the background (also stores
        signatures of labeled frames that have none while the file is unchanged)."""
        self.clear()
        project = self.session.project
        if project is None:
            return
        try:
            self.stored = dict(project.fingerprints(video_id))
            if not self.stored and not project.frames_missing_fingerprints(video_id):
                return
        except PoseStudioError:
            return

        def work(cancelled: Callable[[], bool]) -> Any:
            return fpmod.verify_fingerprints(lambda: reader_factory(path, index), video_id, None,
                                             cancelled, project=project)

        n = len(self.stored)
        if n:
            self.shell.status("checking that the labeled frame still matches the video…" if n == 1
                              else f"checking that {n} labeled frames still match the video…",
                              4000)
        self.shell.jobs.run("fingerprints", work, self._on_report)

    def _on_report(self, report: fpmod.FingerprintReport) -> None:
        s = self.session
        if report.video_id != s.video_id or report.cancelled:
            return
        self.report = report
        if report.filled and s.project is not None:
            try:
                self.stored = dict(s.project.fingerprints(report.video_id))
            except PoseStudioError:
                log.debug("fingerprints not reloaded", exc_info=True)
            s.fingerprints_changed()
        if report.error is not None:
            self.shell.status("could not check the labeled frames against the video: "
                              f"{report.error}", 10000)
            return
        bad = report.bad_frames
        if not bad:
            self.banner.hide()
            n = report.checked
            if n:
                self.shell.status("the labeled frame still matches the video" if n == 1 else
                                  f"all {n} labeled frames still match the video", 5000)
            return
        shown = ", ".join(str(f) for f in bad[:8]) + ("…" if len(bad) > 8 else "")
        n = len(bad)
        frames = f"{n} frame{'s' if n != 1 else ''} ({shown})"
        why = "the video was replaced or re-encoded since they were made"
        if report.shift is not None:
            d = report.shift
            why = (f"the labeled pictures are now {abs(d)} frame{'s' if abs(d) != 1 else ''} "
                   f"{'later' if d > 0 else 'earlier'} in the video (frames were "
                   f"{'added' if d > 0 else 'dropped'} at the start)")
        self.banner.show_text(
            f"⚠ The labels on {frames} no longer sit on their pictures: {why}. Check them, or "
            "relink the original video (File ▸ Relink Video).")
        self.shell.status(f"{frames}: the picture differs from when it was labeled", 15000)

    def check_frame(self, frame_idx: int, frame: Any) -> None:
        """Warn when a labeled frame no longer shows the picture it was labeled on."""
        stored = self.stored.get(frame_idx)
        if stored is None:
            return
        from pose_studio.video import describe_mismatch, fingerprint_like, mismatch

        try:
            now = fingerprint_like(frame, stored)
            if mismatch(now, stored) <= 1.0:
                return
            how = describe_mismatch(now, stored)
        except ValueError:  # a damaged stored value: nothing to compare with
            return
        self.shell.status(f"warning: frame {frame_idx} looks different from when it was labeled "
                          f"({how}): was the video replaced or re-encoded?", 15000)

    def next_bad_frame(self) -> None:
        rep = self.report
        if rep is None or not rep.bad_frames:
            return
        later = [f for f in rep.bad_frames if f > self.session.frame_idx]
        self.goto(later[0] if later else rep.bad_frames[0])

    def show_list(self) -> None:
        rep, s = self.report, self.session
        if rep is None:
            return
        if self.dialog is None:
            self.dialog = BadFramesDialog(self.goto, self.shell.window)
        dist = dict(rep.mismatched)
        rows = []
        for f in rep.bad_frames:
            n = len(s.project.instances(s.video_id, f, kind=InstanceKind.USER)) \
                if s.project is not None and s.video_id is not None else 0
            rows.append((f, f"frame {f}: {n} label(s), "
                            f"{dist.get(f, 'the video no longer has this frame')}"))
        self.dialog.set_rows(rows)
        self.dialog.show()
        self.dialog.raise_()
