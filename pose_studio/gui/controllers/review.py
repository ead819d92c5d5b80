"""Reviewing: the Confidence panel, its background score curves, and the review jumps.

One :class:`~pose_studio.app.review.Review` serves the panel and the keys, so J / Shift+J use
the panel's threshold and chosen curve, and the frame view rings the keypoints under that
threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer

from pose_studio.app.review import Review, review_scores
from pose_studio.app.session import Frames, Topic
from pose_studio.core import review as nav

from ..widgets.review_plot import ReviewPlot
from .base import Shell


class ReviewController(QObject):
    """See the module docstring. ``goto(frame)`` moves the view; ``redraw()`` redraws the
    frame's instances (after the threshold changed the rings)."""

    def __init__(self, shell: Shell, plot: ReviewPlot, goto: Callable[[int], None],
                 redraw: Callable[[], None]) -> None:
        super().__init__(shell.window)
        self.shell = shell
        self.session = shell.session
        self.plot = plot
        self.review: Review = plot.review
        self.goto = goto
        self.redraw = redraw
        self.plot_timer = QTimer(self)
        self.plot_timer.setSingleShot(True)
        self.plot_timer.setInterval(120)  # edits patch one frame at a time: draw once
        self.plot_timer.timeout.connect(self._draw)
        self.scores_timer = QTimer(self)
        self.scores_timer.setSingleShot(True)
        self.scores_timer.setInterval(700)
        self.scores_timer.timeout.connect(self.start_scores)
        plot.seek_requested.connect(goto)
        plot.threshold_changed.connect(self._on_threshold)
        shell.view.options.low_score = self.review.threshold
        shell.signals.changed.connect(self._on_changed)

    @property
    def busy(self) -> bool:
        return self.scores_timer.isActive() or self.plot_timer.isActive()

    def _on_changed(self, topics: frozenset[Topic], _frames: Frames) -> None:
        s = self.session
        if Topic.VIDEO in topics:
            self.scores_timer.stop()
            self.shell.jobs.cancel("scores")
            self.plot.set_keypoint_scores(None)
            self.plot.set_instance_scores(None)
            self.plot.set_arrays(s.frames if s.video_id is not None else None)
            if s.video_id is not None:
                self.scores_timer.start()
        elif Topic.ARRAYS in topics:
            self.review.set_arrays(s.frames)  # the keys see it now, the curves soon
            self.plot_timer.start()
        if Topic.RUNS in topics and s.video_id is not None:
            self.scores_timer.start()
        if Topic.FRAME in topics:
            self.plot.set_current_frame(s.frame_idx)

    def _draw(self) -> None:
        self.plot.set_arrays(self.session.frames)
        self.plot.set_current_frame(self.session.frame_idx)

    def start_scores(self) -> None:
        """Per-person and per-keypoint score curves, off the GUI thread."""
        s = self.session
        proj, vid, n, sk = s.project, s.video_id, s.frame_count, s.skeleton
        if proj is None or vid is None or sk is None:
            return
        names = list(sk.keypoints)

        def work(cancelled: Callable[[], bool]) -> Any:
            return vid, review_scores(proj, vid, n, sk.num_keypoints, cancelled)

        def done(out: Any) -> None:
            v, (kp, inst, labels) = out
            if v == self.session.video_id:
                self.plot.set_keypoint_scores(kp, names)
                self.plot.set_instance_scores(inst, labels)

        self.shell.jobs.run("scores", work, done)

    def _on_threshold(self, value: float) -> None:
        self.shell.view.options.low_score = value
        self.redraw()

    # --- jumps ---------------------------------------------------------------------------------
    def _jump(self, target: int | None, what: str) -> None:
        if target is None:
            self.shell.status(f"no {what} in that direction", 4000)
        else:
            self.goto(target)

    def next_low(self, direction: int) -> None:
        r = self.review
        what = "frame under the low-confidence threshold" if r.predicted.any() else \
            "low-confidence frame (no predictions yet: run the model first)"
        self._jump(r.next_low(self.session.frame_idx, direction), what)

    def next_labeled(self, direction: int) -> None:
        self._jump(nav.next_labeled(self.session.frames.labeled, self.session.frame_idx,
                                    direction), "labeled frame")

    def next_unlabeled(self, direction: int) -> None:
        f = self.session.frames
        self._jump(nav.next_unlabeled(f.labeled, self.session.frame_idx, direction,
                                      predicted=f.predicted), "unlabeled predicted frame")
