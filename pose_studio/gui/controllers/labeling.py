"""The labeling tools in the window: swaps, copy/paste, interpolation ghosts, propagation in a
worker, bulk edits. Every handler is a verb (``app/pose_tools``, ``app/carry``, ``app/bulk``)
whose plan goes through :meth:`EditController.run` (one history step).

* Interpolation is drawn as ghosts (:class:`~pose_studio.gui.view.ghost_item.GhostLayer`) on
  every frame of its span until Ctrl+Enter writes the span (computed again against the store
  then, so an edit made meanwhile is respected) or Shift+Esc discards it. Edits on the video
  redraw the ghosts.
* Propagation gathers its inputs here (frozen values), runs in a worker
  (:class:`~.tool_jobs.ToolJobs`: progress, Stop keeps the frames done), and its result is
  written as one edit when it arrives, unless it is stale (another request, another video).
  With a top-down pose model in the Model panel, the worker loads its own copy and re-runs it
  around each carried person; the model's offset on each track is learned from the points the
  user drags on propagated frames (``app.model_carry``).
* Carry Fixes Forward (on by default): an edit that moves points on a frame a propagation
  filled starts a propagation from that frame, for that label, in the same direction (after a
  short pause, so a burst of drags makes one run); it stops at the track's next label, so it
  updates the propagated frames ahead and never a label. Its result is its own history step.
  With several untracked people on a frame nothing follows (which generated instance is
  whose is not known): Track Predictions first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from PySide6.QtCore import QObject, QTimer

from pose_studio.app import bulk, carry, model_carry, pose_tools
from pose_studio.app.editing import Plan
from pose_studio.app.session import Frames, Topic
from pose_studio.core.annotation import Instance
from pose_studio.core.edits import Edit
from pose_studio.core.errors import PoseStudioError

from ..view.ghost_item import GhostLayer
from .base import Shell
from .editing import EditController
from .tool_jobs import Outcome, ToolJobs

PROPAGATE = "propagate"
#: Quiet time after a fix before it is carried forward (a burst of drags makes one run).
CARRY_DELAY_MS = 150


class Fix(NamedTuple):
    """A person's fix to carry forward: where, which label, which way, its track."""

    video: int
    frame: int
    instance: int
    direction: int
    track: int | None


class LabelingController(QObject):
    """See the module docstring."""

    def __init__(self, shell: Shell, editing: EditController, jobs: ToolJobs) -> None:
        super().__init__(shell.window)
        self.shell = shell
        self.s = shell.session
        self.editing = editing
        self.jobs = jobs
        self.clipboard: Instance | None = None
        self.ghosts: carry.Interpolation | None = None
        self.ghost_layer = GhostLayer(shell.view.scene())
        self.last_propagation: str = ""  # what the last propagation said (tests, status)
        #: ``(path, index) -> reader`` the worker opens (None: ``video.open_video``; tests
        #: pass a fake).
        self.open_reader: Callable[[str, bytes | None], Any] | None = None
        #: The pose model to re-run while propagating (None: the stored predictions only).
        self.model_path: Callable[[], str | None] = lambda: None
        self.offsets = model_carry.CarryMemory()
        self.carry_fixes = True  # Label ▸ Carry Fixes Forward
        self._fix: Fix | None = None  # the fix waiting for the quiet after it
        #: fixes made while a propagation ran: carried when it ends (one per track)
        self._pending: list[Fix] = []
        self._running: carry.PropagationRequest | None = None
        self._writing = False  # our own propagation's edit is being applied
        self._carry_timer = QTimer(self)
        self._carry_timer.setSingleShot(True)
        self._carry_timer.setInterval(CARRY_DELAY_MS)
        self._carry_timer.timeout.connect(self._carry_fix)
        self.s.edit_observers.append(self._on_edit)
        shell.signals.changed.connect(self._on_changed)

    # --- small verbs -----------------------------------------------------------------------------
    def run(self, plan: Plan) -> None:
        self.editing.run(plan)

    def swap_keypoint(self) -> None:
        self.run(pose_tools.swap_keypoint(self.s))

    def swap_sides(self) -> None:
        self.run(pose_tools.swap_sides(self.s))

    def copy_pose(self) -> None:
        pose = pose_tools.copy_pose(self.s)
        if pose is None:
            self.shell.status("select an instance to copy (click one of its points)", 4000)
            return
        self.clipboard = pose
        self.shell.status("pose copied: Ctrl+V pastes it onto the selected label, or as a new "
                          "one on any frame", 5000)

    def paste_pose(self) -> None:
        self.run(pose_tools.paste_pose(self.s, self.clipboard))

    def copy_previous(self) -> None:
        self.run(pose_tools.copy_previous_frame(self.s))

    def bulk_edit(self) -> None:
        s = self.s
        if s.project is None or s.video_id is None:
            self.shell.status("open a video first", 4000)
            return
        from ..dialogs.bulk_edit import BulkEditDialog

        names = {t.id: t.name for t in s.project.tracks()}
        sel = s.selected()
        dlg = BulkEditDialog(s.frame_count, s.frame_idx, names,
                             sel.track_id if sel is not None else None, self.shell.window)
        ok = dlg.exec()
        self.shell.window.activateWindow()  # the keys work again at once (even without a WM)
        if ok:
            self.run(bulk.bulk(s, dlg.request()))

    # --- interpolation ghosts --------------------------------------------------------------------
    def interpolate(self, method: carry.Method = "linear") -> None:
        got = carry.interpolation(self.s, method)
        if isinstance(got, Plan):
            self.shell.status(got.why or "", 6000)
            return
        if got.plan.edit is None:
            self.discard_ghosts()
            self.shell.status(got.plan.why or "nothing to interpolate", 6000)
            return
        self.ghosts = got
        self._show_ghosts()
        a, b = got.span  # type: ignore[misc]
        self.shell.status(f"interpolated frames {a}–{b} ({method}; {len(got.ghosts)} frames) "
                          "shown as ghosts: Ctrl+Enter writes them, Shift+Esc discards", 10000)

    def accept_ghosts(self) -> None:
        g = self.ghosts
        if g is None:
            self.shell.status("no interpolation to accept: press I (or Shift+I) first", 4000)
            return
        s = self.s
        if s.project is None or s.video_id != g.video_id:
            self.discard_ghosts()
            return
        fresh = carry.interpolation_for(s.project, g.video_id, g.frames, g.method, g.track_id)
        self.discard_ghosts()
        self.run(fresh.plan)

    def discard_ghosts(self) -> bool:
        had = self.ghosts is not None
        self.ghosts = None
        self.ghost_layer.clear()
        return had

    def _show_ghosts(self) -> None:
        g, s = self.ghosts, self.s
        if g is None or s.video_id != g.video_id:
            self.ghost_layer.clear()
            return
        self.ghost_layer.show(s.skeleton, g.ghosts.get(s.frame_idx, ()))
        self.ghost_layer.set_visible(not self.shell.view.approximate)

    def _refresh_ghosts(self) -> None:
        """The video's labels changed: the ghosts follow (they are what Ctrl+Enter writes)."""
        g, s = self.ghosts, self.s
        if g is None or s.project is None:
            return
        fresh = carry.interpolation_for(s.project, g.video_id, g.frames, g.method, g.track_id)
        if fresh.plan.edit is None:
            self.discard_ghosts()
            return
        self.ghosts = fresh
        self._show_ghosts()

    # --- propagation -----------------------------------------------------------------------------
    def propagate(self, direction: int) -> None:
        req = carry.propagation_request(self.s, direction)
        if isinstance(req, Plan):
            self.shell.status(req.why or "", 8000)
            return
        self._start(req)

    def set_carry_fixes(self, on: bool) -> None:
        self.carry_fixes = bool(on)
        if not on:
            self._carry_timer.stop()
            self._fix = None
            self._pending.clear()

    def _on_edit(self, edit: Edit) -> None:
        """A user's edit (not our own propagation's): learn the model's offsets from the
        points it placed, and when it placed points on a frame a propagation filled, carry
        the fix forward shortly."""
        if self._writing:
            return
        self.offsets.learn(edit)
        if not self.carry_fixes:
            return
        for ch in edit.changes:
            before, after = ch.before, ch.after
            if before is None or after is None or after.id is None or after.is_prediction:
                continue
            d = self.offsets.filled(ch.video_id, ch.frame_idx, after.track_id)
            if d is not None and model_carry.placed_moves(before, after).any():
                if self._fix is not None and self._fix.track != after.track_id:
                    self._carry_fix()  # another person's fix, still waiting: it goes first
                self._fix = Fix(ch.video_id, ch.frame_idx, int(after.id), d, after.track_id)
                self._carry_timer.start()
                return

    def _carry_fix(self) -> None:
        fix, self._fix = self._fix, None
        if fix is None:
            return
        if self.propagating:
            # after the running propagation, which a later fix of the same track outdates
            # (stopped: the frames it has done are kept, the rest is this fix's to carry)
            self._pending = [f for f in self._pending if f.track != fix.track or
                             fix.track is None] + [fix]
            run = self._running
            if run is not None and fix.track is not None and run.video_id == fix.video \
                    and all(i.track_id == fix.track for i in run.start) \
                    and (fix.frame - run.from_frame) * run.direction > 0:
                self.jobs.stop(PROPAGATE)
            return
        self._carry(fix)

    def _carry(self, fix: Fix) -> None:
        s = self.s
        if s.project is None or s.video_id != fix.video:
            return
        rec = s.video_record()
        if rec is None or rec.missing:
            return
        try:
            req = carry.propagation_request_for(s.project, rec, fix.frame, fix.direction,
                                                instance_id=fix.instance)
        except PoseStudioError:
            return  # nothing ahead to update (the next frame is a label, or the video ends)
        self._start(req)

    def _start(self, req: carry.PropagationRequest) -> None:
        req = model_carry.with_model(req, self.offsets, self.model_path())
        text = carry.describe_request(req)
        opener = self.open_reader

        def work(progress: Any, stopped: Any) -> Any:
            model, why = (None, "") if req.model_path is None else \
                model_carry.redetect_model(req.model_path, req.keypoint_names)
            result = carry.run_propagation(req, progress=progress, cancel=stopped,
                                           open_reader=opener, redetect_model=model)
            return result, why

        self._running = req
        self.jobs.start(PROPAGATE, text, req.n_frames, work,
                        lambda out: self._propagated(req, out))

    def _propagated(self, req: carry.PropagationRequest, out: Outcome) -> None:
        self._running = None
        try:
            self._write_propagation(req, out)
        finally:
            while self._pending and not self.propagating:
                self._carry(self._pending.pop(0))

    def _write_propagation(self, req: carry.PropagationRequest, out: Outcome) -> None:
        s = self.s
        if out.error is not None:
            self.shell.error("Propagate", out.error)
            return
        if s.project is None or s.video_id != req.video_id:
            return
        result, why = out.value
        plan = carry.propagation_plan(s.project, req, result, why)
        self.offsets.remember(req, result)
        self.last_propagation = plan.done or plan.why or ""
        self._writing = True
        try:
            self.run(plan)
        finally:
            self._writing = False
        if plan.done:
            self.shell.status(plan.done, 15000)

    @property
    def propagating(self) -> bool:
        return self.jobs.current(PROPAGATE) is not None

    # --- Stop / Discard --------------------------------------------------------------------------
    def stop(self) -> None:
        """Shift+Esc: stop what runs (propagation keeps its frames), else drop the ghosts."""
        if self.jobs.stop():
            self.shell.status("stopping…", 3000)
        elif self.discard_ghosts():
            self.shell.status("interpolation discarded", 3000)
        else:
            self.shell.status("nothing to stop", 2000)

    # --- session ---------------------------------------------------------------------------------
    def _on_changed(self, topics: frozenset[Topic], frames: Frames) -> None:
        s = self.s
        if Topic.PROJECT in topics:
            self.offsets.clear()
        if Topic.PROJECT in topics or Topic.VIDEO in topics:
            self.jobs.cancel(PROPAGATE)
            self._running = None
            self._pending.clear()
            if self.ghosts is not None and (s.project is None or s.video_id != self.ghosts.video_id):
                self.discard_ghosts()
            return
        if self.ghosts is not None and Topic.INSTANCES in topics and \
                any(v == self.ghosts.video_id for v, _f in frames):
            self._refresh_ghosts()
        elif Topic.FRAME in topics or Topic.PIXELS in topics:
            self._show_ghosts()


__all__ = ["LabelingController"]
