"""Model runs in the window: which run a video shows (A), a second one beside it (B) in a
second colour with a legend, the comparison view, and Model ▸ Get a Model….

* The Runs panel lists the video's runs (:func:`pose_studio.app.runs.run_rows`); choosing one
  goes through :meth:`Session.set_shown_runs`, so the timeline, the Confidence panel and the
  frame follow at once.
* While B is shown, the frame view draws A's predictions in :data:`A_RGB` and B's (read for the
  shown frame, drawn only) in :data:`B_RGB`; the timeline has a row per run; a legend names
  them. B toggles B (the last one again), Shift+B swaps A and B.
* Compare: :func:`pose_studio.app.runs.compare_report` on a background job (progress, cancel;
  a newer request cancels the older), shown in the Compare Runs panel; a listed frame is one
  click away.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QDockWidget, QLabel

from pose_studio.app.runs import ABMemory, RunRow, compare_predictions, compare_report, run_rows
from pose_studio.app.session import Frames, Topic
from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.errors import PoseStudioError

from ..view.skeleton_item import Tint
from ..widgets.compare_panel import ComparePanel
from ..widgets.runs_panel import A_RGB, B_RGB, RunsPanel, swatch
from ..widgets.timeline import Timeline
from .base import Shell

log = logging.getLogger(__name__)

#: A's predictions: bigger dots, solid limbs; B's: smaller dots and dashes drawn on top, so
#: both show where the runs agree (a label's point, radius 5, rings them).
TINT_A = Tint(A_RGB, radius=4.0, dashed=False)
TINT_B = Tint(B_RGB, radius=2.4, dashed=True)

#: The Compare Runs panel's height when a comparison is asked for (it shares the bottom area).
COMPARE_HEIGHT = 330

#: While predictions stream in (a batch run), the run list is re-read at most this often.
REFRESH_MS = 400


class _Progress(QObject):
    """Carries a background job's progress to the GUI thread (queued signal)."""

    step = Signal(int, int, int)  # (job token, done, total)


class RunsController(QObject):
    """See the module docstring. ``goto(frame)``; ``show_video(video_id, frame)``;
    ``model_panel`` may be None (no inference in this installation)."""

    def __init__(self, shell: Shell, display: Any, timeline: Timeline, panel: RunsPanel,
                 compare: ComparePanel, compare_dock: QDockWidget,
                 goto: Callable[[int], None], show_video: Callable[[int, int], None],
                 model_panel: Any = None) -> None:
        super().__init__(shell.window)
        self.shell = shell
        self.session = shell.session
        self.timeline = timeline
        self.panel = panel
        self.compare = compare
        self.compare_dock = compare_dock
        self.goto = goto
        self.show_video = show_video
        self.model_panel = model_panel
        self.memory = ABMemory()
        self.rows: list[RunRow] = []
        self.shown: Any = None
        self._pending = False
        self._token = 0
        self.comparing = False
        self._progress = _Progress(self)
        self._progress.step.connect(self._on_progress)
        # a child of the view, not of its viewport: the viewport scrolls its children
        self.legend = QLabel(shell.view)
        self.legend.setObjectName("runs_legend")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setStyleSheet("QLabel { background: rgba(20, 20, 24, 200); color: white; "
                                  "padding: 4px 8px; border-radius: 3px; }")
        self.legend.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.legend.hide()
        shell.view.viewport().installEventFilter(self)  # its size is final when it resizes
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        display.overlay = self.overlay
        shell.signals.changed.connect(self._on_changed)
        panel.show_requested.connect(lambda run: self._guard(self.show_run, run))
        panel.compare_requested.connect(lambda run: self._guard(self.set_compare, run))
        panel.swap_requested.connect(lambda: self._guard(self.swap))
        panel.compare_view_requested.connect(lambda: self._guard(self.start_compare))
        compare.compute_requested.connect(lambda all_: self._guard(self.start_compare, all_))
        compare.cancel_requested.connect(self.cancel_compare)
        compare.frame_requested.connect(lambda v, f: self._guard(self.go_to_frame, v, f))

    def _guard(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except PoseStudioError as exc:
            self.shell.error("Model runs", str(exc))
            return None

    # --- following the session -----------------------------------------------------------------
    def _on_changed(self, topics: frozenset[Topic], _frames: Frames) -> None:
        if Topic.PROJECT in topics:
            self.memory.forget()
            self.cancel_compare()
        if Topic.PROJECT in topics or Topic.VIDEO in topics:
            self.refresh()
        elif Topic.RUNS in topics and not self.timer.isActive():
            self.timer.start()  # a batch writes chunk after chunk: read the list once

    def refresh(self) -> None:
        """Re-read the video's runs: the panel, the legend, the timeline's B row. The run list
        and B's row are read on a background job (a long video's runs take a while to count);
        the frame, A's timeline and the Confidence panel have followed already."""
        self.timer.stop()
        s = self.session
        had = (self.shown.run_id, self.shown.compare_run_id) if self.shown is not None else None
        self.shown = s.shown_runs()
        now = (self.shown.run_id, self.shown.compare_run_id) if self.shown is not None else None
        if had is not None and now != had:
            self.compare.set_stale()
        if self.shown is None or s.project is None or s.video_id is None:
            self.shell.jobs.cancel("runs")
            self._show_rows(None, [], None)
            return
        if self.shown.compare_run_id is None:
            self.timeline.set_compare(None)  # at once; the list follows
            self.legend.hide()
        project, vid, b = s.project, int(s.video_id), self.shown.compare_run_id

        def work(cancelled: Callable[[], bool]) -> Any:
            rows = run_rows(project, vid)
            row_b = None
            if b is not None and not cancelled():
                row_b = project.run_frame_arrays(vid, b).predicted.copy()
                row_b.setflags(write=False)
            return vid, rows, row_b

        self._pending = True
        self.shell.jobs.run("runs", work, lambda out: self._show_rows(*out),
                            lambda _msg: setattr(self, "_pending", False))

    @property
    def busy(self) -> bool:
        """The run list or B's timeline row is still being read (or is due)."""
        return self._pending or self.timer.isActive()

    def _show_rows(self, vid: int | None, rows: list[RunRow], row_b: Any) -> None:
        self._pending = False
        s = self.session
        if vid != s.video_id:
            return  # another video since
        self.rows = rows
        shown = self.shown
        self.panel.set_rows(rows, pinned=bool(shown is not None and shown.pinned),
                            has_video=vid is not None)
        a, b = self.row_a(), self.row_b()
        self.timeline.set_compare(row_b if b is not None else None, (A_RGB, B_RGB))
        self._show_legend(a, b)
        self.compare.set_runs(a.title if a else None, b.title if b else None)

    def row_a(self) -> RunRow | None:
        return next((r for r in self.rows if r.is_a), None)

    def row_b(self) -> RunRow | None:
        return next((r for r in self.rows if r.is_b), None)

    def _show_legend(self, a: RunRow | None, b: RunRow | None) -> None:
        if a is None or b is None:
            self.legend.hide()
            return
        self.legend.setText(f"{swatch(A_RGB)} A: {a.title}<br>{swatch(B_RGB)} B: {b.title}"
                            "<br><span style='color: #bbb'>B hides B · Shift+B swaps · keys "
                            "act on A</span>")
        self.legend.adjustSize()
        self._place_legend()
        self.legend.show()
        self.legend.raise_()

    def _place_legend(self) -> None:
        vp = self.shell.view.viewport().geometry()
        self.legend.move(vp.left() + 8, max(vp.top() + 8, vp.bottom() - self.legend.height() - 8))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and self.legend.isVisible():
            self._place_legend()
        return super().eventFilter(obj, event)

    def overlay(self, preds: list[Instance]) -> tuple[list[Instance], dict[int, Tint]]:
        """For the frame view while B is shown: what to draw besides ``preds`` (A's
        predictions no label stands for) and the runs' colours. Both runs are drawn in full,
        on labeled people too: how each fits the labels is the point; the extra ones are drawn
        only (the keys act on A's visible predictions)."""
        s = self.session
        shown = s.shown_runs()  # read now: the display may redraw before :meth:`refresh`
        if shown is None or shown.compare_run_id is None or s.project is None:
            return [], {}
        assert s.video_id is not None
        seen = {p.id for p in preds}
        covered = [p for p in s.instances(InstanceKind.PREDICTED) if p.id not in seen]
        b = compare_predictions(s.project, s.video_id, s.frame_idx, shown.compare_run_id)
        tints = {int(p.id): TINT_A for p in [*preds, *covered] if p.id is not None}
        tints.update({int(i.id): TINT_B for i in b if i.id is not None})
        return [*covered, *b], tints

    # --- choosing ------------------------------------------------------------------------------
    def show_run(self, run: int | str | None) -> None:
        """Show ``run`` as A (``"newest"``: follow the newest run). Choosing B as A swaps."""
        shown = self.session.shown_runs()
        if shown is None:
            return
        compare: int | str | None = "keep"
        if run is not None and run != "newest" and run == shown.compare_run_id:
            compare = shown.run_id  # B becomes A: the old A stays, as B
        self.session.set_shown_runs(run, compare=compare)
        self.refresh()
        if run == "newest":
            self.shell.status("following the newest model run", 4000)
        else:
            row = next((r for r in self.rows if r.run_id == run), None)
            self.shell.status(f"showing {row.title if row else run} (kept until you choose "
                              "another, or tick Follow the newest run)", 6000)

    def set_compare(self, run: int | None) -> None:
        shown = self.session.shown_runs()
        if shown is None:
            return
        if shown.compare_run_id is not None and run is None:
            self.memory.toggle(self.session)  # remembers it for B
        else:
            self.session.set_shown_runs("newest" if not shown.pinned else shown.run_id,
                                        compare=run)
        self.refresh()

    def toggle_ab(self) -> None:
        self.shell.status(self.memory.toggle(self.session), 6000)
        self.refresh()

    def swap(self) -> None:
        self.shell.status(self.memory.swap(self.session), 6000)
        self.refresh()

    # --- comparing -----------------------------------------------------------------------------
    def start_compare(self, all_videos: bool | None = None) -> None:
        """Compare the video's A and B (picking B when none is shown) on a background job."""
        s = self.session
        if s.project is None or s.video_id is None:
            raise PoseStudioError("open a video with two model runs first")
        shown = s.shown_runs()
        if shown.compare_run_id is None:
            self.shell.status(self.memory.toggle(s), 6000)
            shown = s.shown_runs()
        self.refresh()
        if shown.run_id is None:
            raise PoseStudioError("imported predictions have no model run to compare: choose "
                                  "a model run as A in the Runs panel")
        if all_videos is None:
            all_videos = bool(self.compare.scope.currentData())
        vids = [int(v.id) for v in s.videos()] if all_videos else [int(s.video_id)]
        project, a, b = s.project, shown.run_id, shown.compare_run_id
        self._token += 1
        token, relay = self._token, self._progress

        def work(cancelled: Callable[[], bool]) -> Any:
            return token, compare_report(
                project, a, b, vids, progress=lambda d, t: relay.step.emit(token, d, t),
                cancelled=cancelled)

        self.comparing = True
        self.compare.set_busy(True)
        self.compare_dock.show()
        self.compare_dock.raise_()
        if self.compare_dock.height() < COMPARE_HEIGHT:  # its tables need room: make it
            self.shell.window.resizeDocks([self.compare_dock], [COMPARE_HEIGHT],
                                          Qt.Orientation.Vertical)
        self.shell.jobs.run("compare", work, self._on_report, self._on_failed)

    def cancel_compare(self) -> None:
        if self.comparing:
            self.shell.jobs.cancel("compare")
            self.comparing = False
            self._token += 1
            self.compare.set_error("Comparison cancelled.")

    def _on_progress(self, token: int, done: int, total: int) -> None:
        if token == self._token and self.comparing:
            self.compare.set_progress(done, total)

    def _on_report(self, out: Any) -> None:
        token, report = out
        if token != self._token:
            return
        self.comparing = False
        names = {int(v.id): str(v.path).replace("\\", "/").rsplit("/", 1)[-1]
                 for v in self.session.videos()}
        self.compare.set_report(report, names)

    def _on_failed(self, message: str) -> None:
        self.comparing = False
        self.compare.set_error(message)

    def go_to_frame(self, video_id: int, frame_idx: int) -> None:
        if video_id == self.session.video_id:
            self.goto(frame_idx)
        else:
            self.show_video(video_id, frame_idx)

    # --- Get a model… --------------------------------------------------------------------------
    def get_model(self) -> Any:
        from ..dialogs.get_model import GetModelDialog

        dlg = GetModelDialog(self.shell.window)
        dlg.model_ready.connect(self.model_ready)
        dlg.exec()
        return dlg

    def model_ready(self, path: str, kind: str, name: str) -> None:
        if self.model_panel is None:
            self.shell.status(f"{name} is in {path} (inference is not available here)", 8000)
            return
        self.model_panel.add_model(path, kind, label=f"{name} (downloaded)")
        self.shell.status(f"{name} is ready: selected in the Model panel", 8000)


__all__ = ["A_RGB", "B_RGB", "TINT_A", "TINT_B", "RunsController", "install"]


def install(window: Any) -> RunsController:
    """The Runs and Compare Runs panels, the legend and the Model menu's run actions, on a
    built window (after its menus: the panels are listed under View ▸ Panels)."""
    bottom = Qt.DockWidgetArea.BottomDockWidgetArea
    panel = RunsPanel(window)
    runs_dock = window.add_panel("runs", "Runs", panel, bottom)
    compare = ComparePanel(window)
    dock = window.add_panel("compare", "Compare Runs", compare, bottom)
    review = window.docks.get("review")
    if review is not None:  # wide and short: tabs beside the Confidence panel
        window.tabifyDockWidget(review, runs_dock)
        window.tabifyDockWidget(runs_dock, dock)
        review.raise_()
    dock.hide()  # shown when a comparison is asked for
    ctl = RunsController(window.shell, window.display, window.timeline, panel, compare, dock,
                         window.goto, lambda v, f: window.guard(window.opening.show_video, v, f),
                         window.model_panel)

    def soft(fn: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:  # a key that cannot act says why in the status bar
            try:
                fn()
            except PoseStudioError as exc:
                window.status(str(exc), 8000)
        return run

    acts = window.actions_by_id
    acts["toggle_ab"].triggered.connect(soft(ctl.toggle_ab))
    acts["swap_ab"].triggered.connect(soft(ctl.swap))
    acts["compare_runs"].triggered.connect(lambda: window.guard(ctl.start_compare))
    acts["get_model"].triggered.connect(lambda: window.guard(ctl.get_model))
    return ctl
