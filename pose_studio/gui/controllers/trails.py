"""Pose trails in the window: the last and next N frames of the people shown (or of the selected
instance's track), drawn faded under the instances.

The keypoints come from :class:`pose_studio.app.trails.Trails` (frames read a chunk at a time
and kept until an edit touches them), so showing a frame costs array work and one repaint, not
a query per frame; nothing is computed while trails are off.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from pose_studio.app.session import Frames, Topic
from pose_studio.app.trails import MAX_LENGTH, Trails
from pose_studio.store.frame_range import instances_between

from ..view.trail_item import TrailItem
from .base import Shell

__all__ = ["LENGTHS", "TrailsController"]

#: The lengths Shift+T steps through.
LENGTHS = (2, 5, 10, 20, 30, 60)

_REDRAW = frozenset({Topic.FRAME, Topic.INSTANCES, Topic.SELECTION, Topic.SKELETON, Topic.RUNS,
                     Topic.VIDEO, Topic.PROJECT})


class TrailsController(QObject):
    """See the module docstring."""

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell.window)
        self.shell = shell
        self.s = shell.session
        st = shell.settings
        self.on = st.flag("trails", False)
        self.length = max(1, min(MAX_LENGTH, int(st.number("trail_length", 10))))
        self.trails = Trails(self._read)
        self.item = TrailItem()
        shell.view.scene().addItem(self.item)
        self.line_width = 1.5
        shell.signals.changed.connect(self._on_changed)
        self.listeners: list = []  # called with the length when it changes (the toolbar)

    def _read(self, video_id: int, start: int, stop: int):  # type: ignore[no-untyped-def]
        project = self.s.project
        return [] if project is None else instances_between(project, video_id, start, stop)

    def set_on(self, on: bool) -> None:
        self.on = bool(on)
        self.shell.settings.set_flag("trails", self.on)
        self.update()

    def set_length(self, n: int) -> None:
        n = max(1, min(MAX_LENGTH, int(n)))
        if n == self.length:
            return
        self.length = n
        self.shell.settings.set_number("trail_length", n)
        for fn in self.listeners:
            fn(n)
        self.update()

    def cycle_length(self) -> None:
        nxt = next((n for n in LENGTHS if n > self.length), LENGTHS[0])
        self.set_length(nxt)
        self.shell.status(f"pose trails: {nxt} frames each way", 3000)

    def _on_changed(self, topics: frozenset[Topic], frames: Frames) -> None:
        if topics & {Topic.PROJECT, Topic.VIDEO, Topic.SKELETON}:
            self.trails.clear()
        elif Topic.RUNS in topics:
            self.trails.invalidate()  # a model run may have written any frame
        elif Topic.INSTANCES in topics and Topic.ARRAYS in topics:
            # a write (edits, undo, imports refresh the per-frame arrays too); INSTANCES with
            # FRAME alone is only another frame being shown
            self.trails.invalidate(frames)
        if topics & _REDRAW:
            self.update()
        elif Topic.PIXELS in topics:
            self.item.setVisible(self.on and not self.shell.view.approximate)

    def update(self) -> None:
        """Recompute the trails of what is shown (nothing while they are off)."""
        s, view = self.s, self.shell.view
        sk = s.skeleton
        if not self.on or sk is None or s.video_id is None:
            self.item.set_trails([], [], self.length)
            self.item.setVisible(False)
            return
        sel = s.selected()
        anchors = [sel] if sel is not None else [
            p for p in s.people() if view.options.predictions or not p.is_prediction]
        shown = self.trails.trails(s.video_id, s.frame_idx, anchors, self.length, s.frame_count)
        self.item.fast = view.fast  # playing: no antialiasing
        self.item.set_trails(shown, sk.colors, self.length, self.line_width)
        self.item.setVisible(not view.approximate)
