"""Editing: gestures and keys become edit verbs (``pose_studio.app.editing``), applied through
the session; undo and redo walk the history kept in the project.

Every handler is one line over a verb. A new edit tool is a verb that returns a plan (often a
``Batch`` over many frames) plus an action or a gesture tool that calls :meth:`run` with it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

from pose_studio.app import editing as ed
from pose_studio.core.annotation import InstanceKind, Visibility
from pose_studio.core.edits import StaleEditError
from pose_studio.core.errors import PoseStudioError
from pose_studio.store.journal import Applied

from ..widgets.history_panel import HistoryPanel
from ..widgets.instance_list import InstanceList
from .base import Shell
from .model import ModelController
from .opening import OpeningController
from .playback import PlaybackController


class EditController(QObject):
    """See the module docstring."""

    def __init__(self, shell: Shell, playback: PlaybackController, opening: OpeningController,
                 model: ModelController, instances: InstanceList, history: HistoryPanel,
                 redraw: Callable[[], None]) -> None:
        super().__init__(shell.window)
        self.shell = shell
        self.redraw = redraw  # puts a refused drag's items back
        self.s = shell.session
        self.playback = playback
        self.opening = opening
        self.model = model
        self.snap_cycle = ed.SnapCycle()
        view = shell.view
        view.keypoint_moved.connect(
            lambda i, k, x, y: self.run(ed.move_keypoint(self.s, i, k, x, y)))
        view.instance_moved.connect(
            lambda i, dx, dy: self.run(ed.move_instance(self.s, i, dx, dy)))
        view.visibility_requested.connect(
            lambda i, k: self.run(ed.cycle_visibility(self.s, i, k, view.cursor_image_pos())))
        view.instance_double_clicked.connect(self.accept)
        view.selection_requested.connect(self._on_view_selection)
        instances.instance_selected.connect(lambda i: self.s.select(None if i < 0 else i, None))
        instances.instance_activated.connect(self.accept)
        history.goto_requested.connect(self.walk_to)
        model.on_snap_ready = self.snap

    # --- running verbs -------------------------------------------------------------------------
    def run(self, plan: ed.Plan) -> None:
        """Apply a verb's plan; say why when it does nothing, or why the store refused it."""
        if plan.why is not None:
            self.shell.status(plan.why, 5000)
        try:
            ed.run(self.s, plan)
        except PoseStudioError as exc:
            self.redraw()
            self.shell.error("Pose Studio", str(exc))
            return
        if plan.edit is None:
            self.redraw()
        if plan.done:
            self.shell.status(plan.done, 6000)

    def _on_view_selection(self, instance_id: int, k: int) -> None:
        if instance_id >= 0 and self.playback.playing:
            self.playback.stop()  # editing a frame that is moving away makes no sense
        if k < 0 or (self.snap_cycle.key is not None and self.snap_cycle.key[1] != k):
            self.snap_cycle.reset()
        self.s.select(None if instance_id < 0 else instance_id, None if k < 0 else k)

    def accept(self, instance_id: int | None = None) -> None:
        self.run(ed.accept(self.s, instance_id))

    def accept_all(self) -> None:
        self.run(ed.accept_all(self.s))

    def delete(self) -> None:
        self.run(ed.delete_selected(self.s))

    def add_instance(self) -> None:
        view = self.shell.view
        r = view.image_rect()
        size = None if r.isEmpty() else (r.width(), r.height())
        self.run(ed.add_at(self.s, view.cursor_image_pos(), size))

    def cycle_visibility(self) -> None:
        sel = self.s.selected_keypoint_of()
        if sel is None:
            self.shell.status("select a keypoint first (click it)", 4000)
            return
        inst, k = sel
        assert inst.id is not None
        self.run(ed.cycle_visibility(self.s, int(inst.id), k, self.shell.view.cursor_image_pos()))

    def nudge_or_step(self, dx: int, dy: int = 0) -> None:
        """Arrows nudge the selected keypoint; without one, left/right step frames."""
        if self.s.selected_keypoint_of() is not None:
            self.run(ed.nudge(self.s, dx, dy))
        elif dy == 0:
            self.playback.step(dx)

    def snap(self) -> None:
        """The selected keypoint to the strongest heatmap peak; again: the next peak."""
        sel = self.s.selected_keypoint_of()
        if sel is None or ed.refusal(self.s) is not None:
            self.shell.status(ed.refusal(self.s) or "select a keypoint first (click it)", 4000)
            return
        if not self.model.has_maps():
            self.model.compute_for_snap()
            return
        self.run(ed.snap_to_peak(self.s, self.model.peaks(*sel), self.snap_cycle))

    # --- selection -----------------------------------------------------------------------------
    def cycle_instance(self, d: int) -> None:
        insts = self.s.people()
        if not insts:
            self.shell.status("no instances on this frame", 4000)
            return
        ids = [i.id for i in insts]
        cur = self.s.selected_instance_id
        j = (ids.index(cur) + d) % len(ids) if cur in ids else (0 if d > 0 else len(ids) - 1)
        self.s.select(ids[j], None)

    def step_keypoint(self, d: int) -> None:
        inst = self.s.selected()
        if inst is None:
            insts = [*self.s.instances(InstanceKind.USER), *self.s.visible_predictions()]
            if not insts:
                return
            inst = insts[0]
        k = self.s.selected_keypoint
        n = inst.num_keypoints
        k = (0 if d > 0 else n - 1) if k is None else (k + d) % n
        self.s.select(inst.id, k)
        state = Visibility(int(inst.visibility[k])).name.lower()
        self.shell.status(f"{ed.keypoint_name(self.s, k)} ({state}): drag it, nudge with arrows, "
                          "V cycles visibility (a point without a position is placed under the "
                          "mouse)", 6000)

    # --- history -------------------------------------------------------------------------------
    def undo(self) -> None:
        self._walk(self.s.undo, "Undo")

    def redo(self) -> None:
        self._walk(self.s.redo, "Redo")

    def _walk(self, step: Callable[[], Applied | None], title: str) -> bool:
        if self.shell.view.dragging or self.s.project is None:
            return False
        try:
            done = step()
        except StaleEditError as exc:
            self.shell.error(title, f"{exc}. The step was taken out of the history.")
            return False
        except PoseStudioError as exc:
            self.shell.error(title, str(exc))
            return False
        if done is None:
            return False
        if done.entry.kind == "edit" and done.frames:
            self._show(*done.frames[0])
        return True

    def _show(self, video_id: int, frame_idx: int) -> None:
        """Bring the view to an edit's frame (switching video when needed)."""
        if video_id != self.s.video_id:
            self.opening.show_video(video_id, goto=frame_idx)
        elif frame_idx != self.s.frame_idx:
            self.playback.goto(frame_idx)

    def walk_to(self, n_done: int) -> None:
        """Undo or redo until the first ``n_done`` shown steps are done (History panel)."""
        h = self.s.history
        while h.done > n_done and self._walk(self.s.undo, "Undo"):
            pass
        while h.done < n_done and self._walk(self.s.redo, "Redo"):
            pass
