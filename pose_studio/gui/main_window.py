"""The main window: composition, signal wiring and the edit actions.

Threads: the decode lane (:class:`~pose_studio.gui.workers.decode.FrameLoader`) and the
inference lane (``InferenceController``) each own a QThread; this window only sends them
requests and shows what comes back. Everything else (store writes, undo stack, widgets) is on
the GUI thread. ``closeEvent`` shuts both lanes down.

Edits: the view reports a finished gesture (drag released, key pressed); the window computes the
new :class:`Instance`, writes it through :class:`~pose_studio.gui.undo.Editor` (store first,
then one undo command). Predictions are never changed in place: editing one makes a user copy.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSpinBox,
    QToolButton,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from pose_studio.core import review
from pose_studio.core.annotation import Instance, InstanceKind, Visibility
from pose_studio.core.candidates import local_peaks
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.paths import resource
from pose_studio.core.skeleton import COCO17, Skeleton

from .actions import MENUS, VIEW_ONLY, build_actions
from .document import Document
from .settings import Settings
from .undo import Editor
from .view.frame_view import FrameView
from .view.skeleton_item import OverlayOptions
from .widgets.instance_list import InstanceList
from .widgets.timeline import Timeline
from .widgets.video_list import VideoList

log = logging.getLogger(__name__)

PROJECT_SUFFIX = ".posestudio"
VIDEO_SUFFIXES = {
    ".mp4", ".avi", ".mov", ".mkv", ".m4v", ".ts", ".mts", ".webm", ".mpg", ".mpeg", ".wmv",
    ".flv", ".mj2", ".gif",
}
SPEEDS = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 4.0, 8.0)

F = TypeVar("F", bound=Callable[..., Any])


def guarded(fn: F) -> F:
    """Slot decorator: a PoseStudioError becomes a message box; a bug is logged and summarised."""

    @functools.wraps(fn)
    def wrapper(self: MainWindow, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except PoseStudioError as exc:
            self.show_error("Pose Studio", str(exc))
        except Exception as exc:
            log.exception("internal error in %s", fn.__name__)
            self.show_error(
                "Internal error",
                f"Internal error: {type(exc).__name__}: {exc}\n\nDetails are in the log. "
                "The project is unchanged apart from edits already made.",
                critical=True,
            )
        return None

    return wrapper  # type: ignore[return-value]


class MainWindow(QMainWindow):
    """Pose Studio's window. See the module docstring.

    Args:
        settings: Where layout and recent files are kept (tests pass an isolated one).
        loader_factory: ``(parent) -> FrameLoader`` (tests may pass one with a fake reader).
        inference_factory: ``(parent) -> InferenceController`` or None to use the default.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        loader_factory: Callable[[QObject], Any] | None = None,
        inference_factory: Callable[[QObject], Any] | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("main_window")
        self.setWindowTitle("Pose Studio")
        icon = resource("icons", "pose-studio.svg")
        if icon.exists():
            self.setWindowIcon(QIcon(str(icon)))
        self.settings = settings or Settings()
        self.doc = Document(self)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(0)
        self.editor = Editor(self.doc, self.undo_stack, self._navigate,
                             lambda msg: self.show_error("Undo", msg))
        self.options = OverlayOptions(
            skeleton=self.settings.flag("skeleton", True),
            keypoints=self.settings.flag("keypoints", True),
            labels=self.settings.flag("labels", False),
            predictions=self.settings.flag("predictions", True),
            heatmap=False,
        )
        self._speed = 1.0
        self._playing = False
        self._play_req = -1
        self._shown_req = -1
        self._loader_path: str | None = None
        self._loader_video_id: int | None = None
        self._pending_open: list[str] = []  # videos to add, in order
        self._opening: str | None = None  # path the loader is opening for an add
        self._switching: int | None = None  # video id the loader is opening for a switch
        self._closed = False
        self._infer_req = -1
        self._live = False
        self._predict_pending: tuple[int, int] | None = None
        self._run_id: int | None = None
        self._last_result: Any = None
        self._after_open_goto: int | None = None
        self._scrubbing = False
        self._asked: dict[int, int] = {}  # req_id -> frame asked for (scrub previews differ)
        self._jobs: dict[str, Any] = {}  # background jobs by purpose (one each)
        self._finished_jobs: list[Any] = []  # cancelled jobs still winding down
        self.fingerprint_report: Any = None
        self.messages: list[tuple[str, str]] = []  # (title, text) of every error shown

        # Hooks (tests replace them; defaults ask the user).
        self.ask_new_project_path: Callable[[Path], Path | None] = self._dialog_new_project_path
        self.ask_relink_path: Callable[[Any], Path | None] = self._dialog_relink_path
        self.ask_open_paths: Callable[[], list[str]] = self._dialog_open_paths
        self.ask_open_read_only: Callable[[str], bool] = self._dialog_open_read_only

        self._plot_timer = QTimer(self)
        self._plot_timer.setSingleShot(True)
        self._plot_timer.setInterval(120)
        self._plot_timer.timeout.connect(self._update_review_plot)
        self._scores_timer = QTimer(self)
        self._scores_timer.setSingleShot(True)
        self._scores_timer.setInterval(700)
        self._scores_timer.timeout.connect(self._start_scores_job)
        self._build_ui()
        self.loader = (loader_factory or _default_loader)(self)
        self._wire_loader()
        self.inference = self._make_inference(inference_factory)
        self._restore_layout()
        self.view.show_message("Open a video or a project: File ▸ Open (Ctrl+O), or drop files here")
        self._update_title()
        self._update_enabled()
        self.setAcceptDrops(True)

    # ================================================================================== UI =====
    def _build_ui(self) -> None:
        self.view = FrameView(self)
        self.view.set_options(self.options)
        self.timeline = Timeline(self)

        self.play_button = QToolButton(self)
        self.play_button.setObjectName("play_button")
        self.play_button.setText("▶")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.frame_spin = QSpinBox(self)
        self.frame_spin.setObjectName("frame_spin")
        self.frame_spin.setRange(0, 0)
        self.frame_spin.setKeyboardTracking(False)
        self.frame_spin.setToolTip("Current frame (Ctrl+G to jump)")
        self.frame_total = QLabel("/ 0", self)
        self.frame_total.setMinimumWidth(60)
        self.time_label = QLabel("0:00.000", self)
        self.time_label.setObjectName("time_label")
        self.time_label.setMinimumWidth(120)
        self.speed_combo = QComboBox(self)
        self.speed_combo.setObjectName("speed_combo")
        self.speed_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for s in SPEEDS:
            self.speed_combo.addItem(f"{s:g}×", s)
        self.speed_combo.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_combo.setToolTip("Playback speed ([ and ])")

        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 2)
        bar.setSpacing(8)
        bar.addWidget(self.play_button)
        bar.addWidget(self.frame_spin)
        bar.addWidget(self.frame_total)
        bar.addWidget(self.time_label)
        bar.addStretch(1)
        bar.addWidget(QLabel("speed", self))
        bar.addWidget(self.speed_combo)

        central = QWidget(self)
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.banner = _Banner(self)
        self.banner.next_clicked.connect(self._next_bad_frame)
        self.banner.list_clicked.connect(self._show_bad_frames)
        lay.addWidget(self.banner)
        lay.addWidget(self.view, 1)
        tl_row = QHBoxLayout()
        tl_row.setContentsMargins(6, 4, 6, 0)
        tl_row.addWidget(self.timeline)
        lay.addLayout(tl_row)
        lay.addLayout(bar)
        self.setCentralWidget(central)

        self.video_list = VideoList(self)
        self.instance_list = InstanceList(self)
        self.undo_view = QUndoView(self.undo_stack, self)
        self.undo_view.setObjectName("undo_view")
        self.undo_view.setEmptyLabel("<opened>")
        self.undo_view.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.docks: dict[str, QDockWidget] = {}
        videos = self._add_dock("videos", "Videos", self.video_list,
                                Qt.DockWidgetArea.LeftDockWidgetArea)
        self.resizeDocks([videos], [220], Qt.Orientation.Horizontal)
        self._add_dock("instances", "Instances", self.instance_list,
                       Qt.DockWidgetArea.RightDockWidgetArea)
        self._add_dock("history", "History", self.undo_view, Qt.DockWidgetArea.RightDockWidgetArea)

        self.zoom_label = QLabel("", self)
        self.pos_label = QLabel("", self)
        self.statusBar().addPermanentWidget(self.pos_label)
        self.statusBar().addPermanentWidget(self.zoom_label)

        handlers: dict[str, Callable[..., Any]] = {
            name[len("act_"):]: getattr(self, name) for name in dir(self) if name.startswith("act_")
        }
        self.actions_by_id: dict[str, QAction] = build_actions(self, handlers)
        for aid in VIEW_ONLY:
            act = self.actions_by_id[aid]
            act.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.view.addAction(act)
        for name in ("skeleton", "keypoints", "labels", "predictions"):
            act = self.actions_by_id[f"show_{name}"]
            act.blockSignals(True)
            act.setChecked(getattr(self.options, name))
            act.blockSignals(False)
        self._build_menus()

        # Wiring.
        self.play_button.clicked.connect(self.act_play)
        self.frame_spin.valueChanged.connect(self._on_spin)
        self.speed_combo.currentIndexChanged.connect(self._on_speed_combo)
        self.timeline.seek_requested.connect(self._on_timeline_seek)
        self.timeline.scrub_started.connect(self._on_scrub_started)
        self.timeline.scrub_finished.connect(self._on_scrub_finished)
        self.view.keypoint_moved.connect(self._on_keypoint_moved)
        self.view.instance_moved.connect(self._on_instance_moved)
        self.view.visibility_requested.connect(self._on_visibility_requested)
        self.view.instance_double_clicked.connect(self._on_accept_id)
        self.view.selection_requested.connect(self._on_view_selection)
        self.view.zoom_changed.connect(lambda s: self.zoom_label.setText(f"{s * 100:.0f}%"))
        self.view.hovered.connect(lambda t: self.status(t, 3000))
        self.view.viewport().installEventFilter(self)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)  # text fields in docks keep their keys (_typing_key)
        self.video_list.video_activated.connect(self._on_video_activated)
        self.video_list.relink_requested.connect(self._on_relink_requested)
        self.instance_list.instance_selected.connect(
            lambda i: self.doc.select(None if i < 0 else i, None)
        )
        self.instance_list.instance_activated.connect(self._on_accept_id)
        doc = self.doc
        doc.project_changed.connect(self._on_project_changed)
        doc.videos_changed.connect(self._refresh_video_list)
        doc.video_changed.connect(self._on_video_changed)
        doc.frame_changed.connect(self._on_frame_changed)
        doc.instances_changed.connect(self._on_instances_changed)
        doc.frame_arrays_changed.connect(self._on_frame_arrays_changed)
        doc.selection_changed.connect(self._on_selection_changed)
        self.undo_stack.canUndoChanged.connect(self._update_enabled)
        self.undo_stack.canRedoChanged.connect(self._update_enabled)
        self.undo_stack.undoTextChanged.connect(
            lambda t: self.actions_by_id["undo"].setText(f"&Undo {t}".strip())
        )
        self.undo_stack.redoTextChanged.connect(
            lambda t: self.actions_by_id["redo"].setText(f"&Redo {t}".strip())
        )
        self.resize(1280, 800)

    def _add_dock(self, name: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[name] = dock
        return dock

    def _build_menus(self) -> None:
        menus: dict[str, QMenu] = {}
        bar = self.menuBar()
        for title in MENUS:
            menus[title] = bar.addMenu(title)
        self.menus = menus
        from .actions import ACTIONS

        for spec in ACTIONS:
            menu = menus[spec.menu]
            menu.addAction(self.actions_by_id[spec.id])
            if spec.id == "open":
                self.recent_menu = menu.addMenu("Open &Recent")
                self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
            if spec.id in ("save_as", "import_coco", "close_project", "redo", "cycle_visibility",
                           "zoom_out", "show_heatmap", "goto_frame", "prev_low", "speed_down"):
                menu.addSeparator()
        view_menu = menus["&View"]
        view_menu.addSeparator()
        panels = view_menu.addMenu("&Panels")
        for dock in self.docks.values():
            panels.addAction(dock.toggleViewAction())
        self._panels_menu = panels

    def add_panel(self, name: str, title: str, widget: QWidget,
                  area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea) -> QDockWidget:
        """Dock another engineer's panel (model panel, review plot) and list it under View."""
        dock = self._add_dock(name, title, widget, area)
        self._panels_menu.addAction(dock.toggleViewAction())
        return dock

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.settings.recent_files()
        for path in files:
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _c=False, p=path: self.open_paths([p]))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear", self.settings.clear_recent)
        else:
            self.recent_menu.addAction("(none)").setEnabled(False)

    def _restore_layout(self) -> None:
        geo = self.settings.geometry()
        if geo is not None:
            self.restoreGeometry(geo)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)

    def _update_title(self) -> None:
        parts = ["Pose Studio"]
        if self.doc.project is not None:
            parts.append(Path(str(self.doc.project.path)).name)
            rec = self._video_record(self.doc.video_id)
            if rec is not None:
                parts.append(Path(str(rec.path)).name)
            if getattr(self.doc.project, "read_only", False):
                parts.append("(read-only)")
        self.setWindowTitle(" — ".join(parts))

    def _update_enabled(self, *_: object) -> None:
        a = self.actions_by_id
        has_project = self.doc.project is not None
        has_video = has_project and self.doc.video_id is not None
        a["undo"].setEnabled(self.undo_stack.canUndo())
        a["redo"].setEnabled(self.undo_stack.canRedo())
        for name in ("add_video", "save_as", "close_project", "export_coco", "import_coco"):
            a[name].setEnabled(has_project)
        for name in ("relink_video", "play", "next_frame", "prev_frame", "next_10", "prev_10",
                     "first_frame", "last_frame", "goto_frame", "add_instance", "accept_all",
                     "predict_frame"):
            a[name].setEnabled(has_video)

    # ============================================================================ messages =====
    def show_error(self, title: str, text: str, *, critical: bool = False) -> None:
        """A message box with the reason (never a traceback)."""
        self.messages.append((title, text))
        log.info("message: %s: %s", title, text)
        if critical:
            QMessageBox.critical(self, title, text)
        else:
            QMessageBox.warning(self, title, text)
        self.activateWindow()  # shortcuts keep working after the box (even without a WM)

    def status(self, text: str, ms: int = 4000) -> None:
        self.statusBar().showMessage(text, ms)

    # ======================================================================= loader lanes =====
    def _wire_loader(self) -> None:
        ld = self.loader
        ld.frame_ready.connect(self._on_frame_ready)
        ld.failed.connect(self._on_loader_failed)
        ld.opened.connect(self._on_loader_opened)
        if hasattr(ld, "index_built"):
            ld.index_built.connect(self._on_index_built)
        if hasattr(ld, "playback_stopped"):
            ld.playback_stopped.connect(self._on_playback_stopped)

    def _make_inference(self, factory: Callable[[QObject], Any] | None) -> Any:
        """Start the inference lane and dock the model panel and the review plot."""
        try:
            if factory is None:
                from .workers.inference import InferenceController

                ctrl = InferenceController(self)
            else:
                ctrl = factory(self)
        except ImportError:
            log.info("inference controller not available")
            ctrl = None
        except Exception:
            log.exception("starting the inference lane failed")
            ctrl = None
        if ctrl is not None:
            ctrl.result_ready.connect(self._on_inference_result)
            ctrl.predictions_written.connect(self._on_predictions_written)
            ctrl.failed.connect(self._on_inference_failed)
            ctrl.batch_finished.connect(self._on_batch_finished)
            ctrl.model_loaded.connect(self._on_model_loaded)
            self._attach_model_panel(ctrl)
        self._attach_review_plot()
        return ctrl

    def _attach_model_panel(self, ctrl: Any) -> None:
        try:
            from .widgets.model_panel import ModelPanel

            panel = ModelPanel(self.settings.qsettings, "model/last", self)
        except Exception:
            log.exception("model panel could not be built")
            return
        self.model_panel = panel
        panel.load_requested.connect(self._on_load_requested)
        panel.live_toggled.connect(self._on_live_toggled)
        panel.run_range_requested.connect(self._on_run_range)
        panel.cancel_requested.connect(ctrl.cancel_batch)
        panel.status_message.connect(lambda t: self.status(t, 6000))
        ctrl.model_loaded.connect(panel.set_model_info)
        ctrl.failed.connect(panel.set_error)
        ctrl.busy_changed.connect(panel.set_batch_running)
        ctrl.progress.connect(panel.set_progress)
        ctrl.batch_finished.connect(panel.batch_finished)
        self.add_panel("model", "Model", panel)
        last = panel.pose_path()
        if last and Path(last).is_file():
            # The last model used is ready without a click (a broken file only shows a message).
            QTimer.singleShot(0, panel.request_load)

    def _attach_review_plot(self) -> None:
        try:
            from .widgets.review_plot import ReviewPlot

            plot = ReviewPlot(self)
        except Exception:
            log.exception("review plot could not be built")
            return
        self.review_plot = plot
        dock = self.add_panel("review", "Confidence", plot, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.resizeDocks([dock], [190], Qt.Orientation.Vertical)
        plot.seek_requested.connect(self.goto)

    # ============================================================================ opening =====
    @guarded
    def open_paths(self, paths: Sequence[str | Path]) -> None:
        """Open projects and videos (command line, File ▸ Open, drag and drop, recent files).

        A project replaces the open one; videos are added to the open project, or to a new one
        created beside the first video (the user confirms where).
        """
        projects = [Path(p) for p in paths if Path(p).suffix.lower() == PROJECT_SUFFIX]
        videos = [Path(p) for p in paths if Path(p).suffix.lower() != PROJECT_SUFFIX]
        for p in projects[:1]:
            self.open_project(p)
        if len(projects) > 1:
            self.status(f"opened {projects[0].name}; only one project can be open at a time")
        if videos:
            for v in videos:
                if not v.exists():
                    raise PoseStudioError(f"cannot open {v}: no such file or folder")
                if v.is_file() and v.suffix.lower() not in VIDEO_SUFFIXES:
                    log.info("opening %s as a video despite its suffix", v)
            if self.doc.project is None:
                target = self.ask_new_project_path(videos[0])
                if target is None:
                    return
                self.create_project(target)
            self.add_videos(videos)

    def open_project(self, path: Path) -> None:
        from pose_studio.store.errors import ProjectLockedError
        from pose_studio.store.project import Project

        try:
            project = Project.open(path)
        except ProjectLockedError as exc:
            if not self.ask_open_read_only(str(exc)):
                return
            project = Project.open(path, read_only=True)
        self._stop_everything()
        self.undo_stack.clear()
        self.doc.set_project(project)
        self.settings.add_recent(path)
        videos = self.doc.videos()
        if videos:
            self.show_video(int(videos[0].id))
        self.status(f"opened {path}")

    def create_project(self, path: Path, skeleton: Skeleton | None = None) -> None:
        from pose_studio.store.project import Project

        path = Path(path)
        if path.suffix.lower() != PROJECT_SUFFIX:
            path = path.with_suffix(PROJECT_SUFFIX)
        if path.exists():
            project = Project.open(path)
        else:
            project = Project.create(path, skeleton or self._default_skeleton())
        self._stop_everything()
        self.undo_stack.clear()
        self.doc.set_project(project)
        self.settings.add_recent(path)

    def _default_skeleton(self) -> Skeleton:
        """The loaded model's skeleton, else COCO-17."""
        info = getattr(self.inference, "model_info", None)
        sk = getattr(info, "skeleton", None)
        return sk if isinstance(sk, Skeleton) else COCO17

    def add_videos(self, paths: Sequence[Path]) -> None:
        """Add videos to the project; each is opened by the decode lane (indexing off the GUI)."""
        existing = {Path(str(v.path)).resolve(): int(v.id) for v in self.doc.videos()}
        todo: list[str] = []
        last_existing: int | None = None
        for p in paths:
            rp = Path(p).resolve()
            if rp in existing:
                last_existing = existing[rp]
            else:
                todo.append(str(rp))
        if not todo and last_existing is not None:
            self.show_video(last_existing)
            return
        self._pending_open.extend(todo)
        if self._opening is None:
            self._open_next_pending()

    def _open_next_pending(self) -> None:
        if not self._pending_open:
            self._opening = None
            return
        path = self._pending_open.pop(0)
        self._opening = path
        self._switching = None
        self._stop_playback()
        self.view.show_message(f"opening {Path(path).name}…")
        self.status(f"opening {path}…", 0)
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        self._loader_path = path
        self._loader_video_id = None
        self.loader.open(path, None)

    def show_video(self, video_id: int) -> None:
        """Switch to one of the project's videos (asks to relink it when the file is missing)."""
        rec = self._video_record(video_id)
        if rec is None:
            raise PoseStudioError(f"the project has no video {video_id}")
        path = Path(str(rec.path))
        if not path.exists():
            new = self.ask_relink_path(rec)
            if new is None:
                self.doc.set_video(None, 0, 30.0)
                self.view.clear_frame(f"video {path.name} is missing: relink it (File ▸ Relink)")
                return
            self.doc.project.relink_video(video_id, str(new))
            self.doc.videos_changed.emit()
            rec = self._video_record(video_id)
            path = Path(str(rec.path))
        self._stop_playback()
        self._switching = video_id
        self._loader_path = str(path)
        self._loader_video_id = None
        self.view.show_message(f"opening {path.name}…")
        self.loader.open(str(path), self.doc.project.video_index(video_id))

    def _video_record(self, video_id: int | None) -> Any:
        if video_id is None or self.doc.project is None:
            return None
        for v in self.doc.videos():
            if int(v.id) == video_id:
                return v
        return None

    @guarded
    def _on_loader_opened(self, meta: Any) -> None:
        if not self._is_expected(getattr(meta, "path", None)):
            return  # an open that was superseded (another video or project was chosen since)
        if QApplication.overrideCursor() is not None and self._opening is not None:
            QApplication.restoreOverrideCursor()
        if self.doc.project is None:
            return
        if self._opening is not None:
            path = self._opening
            vid = self.doc.project.add_video(
                path, width=int(meta.width), height=int(meta.height),
                frame_count=int(meta.frame_count), fps=float(meta.fps), vfr=bool(meta.vfr),
                codec=str(getattr(meta, "codec", "")), duration_s=float(meta.duration_s),
                index=None,
            )
            self.settings.add_recent(path)
            self.doc.videos_changed.emit()
            self._opening = None
            self._activate_loaded(int(vid), meta)
            self.status(f"added {Path(path).name}: {meta.frame_count} frames")
            if self._pending_open:
                self._open_next_pending()
        elif self._switching is not None:
            vid = self._switching
            self._switching = None
            self._activate_loaded(vid, meta)

    @guarded
    def _reopen_current(self) -> None:
        vid, frame = self.doc.video_id, self.doc.frame_idx
        if vid is not None:
            self.show_video(vid)
            self._after_open_goto = frame

    def _is_expected(self, path: object) -> bool:
        if path is None or self._loader_path is None:
            return self._loader_path is not None
        try:
            return Path(str(path)).resolve() == Path(self._loader_path).resolve()
        except OSError:
            return str(path) == self._loader_path

    def _activate_loaded(self, video_id: int, meta: Any) -> None:
        self._loader_video_id = video_id
        self._meta = meta
        self._times = None
        if getattr(meta, "vfr", False) and self.doc.project is not None:
            self._set_times(self.doc.project.video_index(video_id))
        try:
            self._fingerprints = dict(self.doc.project.fingerprints(video_id))
        except PoseStudioError:
            self._fingerprints = {}
        self.doc.set_video(video_id, int(meta.frame_count), float(meta.fps or 30.0))
        self.view.setFocus()
        self._start_fingerprint_check(video_id)

    @guarded
    def _on_index_built(self, blob: Any) -> None:
        if self.doc.project is not None and self._loader_video_id is not None:
            self.doc.project.set_video_index(self._loader_video_id, bytes(blob))
            if getattr(getattr(self, "_meta", None), "vfr", False):
                self._set_times(bytes(blob))
                self.time_label.setText(self._time_text(self.doc.frame_idx))

    def _set_times(self, blob: bytes | None) -> None:
        """Per-frame presentation times (s) of a VFR video, from its frame index."""
        self._times = None
        if not blob:
            return
        try:
            from fractions import Fraction

            from pose_studio.video.index import PacketIndex

            idx = PacketIndex.from_bytes(blob)
            tb = Fraction(*getattr(self._meta, "time_base", (1, 1)))
            if idx.mode != "pts" or len(idx.frame_pts) == 0:
                return
            pts = idx.frame_pts.astype(np.float64)
            self._times = (pts - pts[0]) * float(tb)
        except Exception:  # the display falls back to frame / fps
            log.debug("no timestamps from the frame index", exc_info=True)

    def _on_loader_failed(self, message: str) -> None:
        if self._opening is not None or self._switching is not None:
            if QApplication.overrideCursor() is not None and self._opening is not None:
                QApplication.restoreOverrideCursor()
            failed_path = self._opening
            was_switch = self._switching is not None
            self._opening = None
            self._switching = None
            self._loader_video_id = None
            if was_switch:
                self.doc.set_video(None, 0, 30.0)
            self.view.clear_frame("the video could not be opened")
            self.statusBar().clearMessage()
            self.show_error("Cannot open video", message)
            if failed_path is not None and self._pending_open:
                self._open_next_pending()
            elif failed_path is not None and self.doc.video_id is not None:
                self._reopen_current()  # the decoder dropped the video that was showing
            return
        self.status(message, 8000)
        if self.view.frame is None:
            self.view.show_message(message)

    # ========================================================================= navigation =====
    def goto(self, frame_idx: int) -> None:
        """Show ``frame_idx`` (clamped); stops playback."""
        if self.doc.video_id is None:
            return
        self._stop_playback()
        if not self.doc.set_frame(frame_idx) and self.view.frame_idx != self.doc.frame_idx:
            self._request_frame(self.doc.frame_idx)

    def step(self, delta: int) -> None:
        self.goto(self.doc.frame_idx + delta)

    def _navigate(self, video_id: int, frame_idx: int) -> None:
        """Bring the view to an edit's frame before undo/redo applies it."""
        if video_id != self.doc.video_id:
            self.show_video(video_id)
            self._after_open_goto = frame_idx
            return
        if frame_idx != self.doc.frame_idx:
            self.goto(frame_idx)

    def _request_frame(self, frame_idx: int) -> None:
        if self._loader_video_id is None:
            return
        if self._scrubbing and hasattr(self.loader, "scrub"):
            req = self.loader.scrub(frame_idx)  # a keyframe preview when the GOP is long
        else:
            req = self.loader.request(frame_idx)
        self._shown_req = req
        if len(self._asked) > 256:
            self._asked = {k: v for k, v in self._asked.items() if k >= req - 64}
        self._asked[req] = frame_idx

    def _on_frame_ready(self, req_id: int, frame_idx: int, frame: object) -> None:
        if self._closed:
            return
        if self._playing and req_id == self._play_req:
            self.view.set_frame(frame, frame_idx)  # type: ignore[arg-type]
            if self.view.approximate:
                self.view.set_approximate(None)
            self._from_playback = True
            try:
                self.doc.set_frame(frame_idx)
            finally:
                self._from_playback = False
            if self._live or self.options.heatmap:
                self._request_inference()  # newest wins in the lane: never queues up
            return
        if req_id < self._shown_req:
            return  # an older scrub frame after a newer one was shown
        self._shown_req = req_id
        asked = self._asked.pop(req_id, frame_idx)
        self.view.set_frame(frame, frame_idx)  # type: ignore[arg-type]
        if asked != frame_idx:
            self.view.set_approximate(
                f"≈ preview: keyframe {frame_idx}, not frame {asked} (release to load it)")
            return
        self.view.set_approximate(None)
        self._check_fingerprint(frame_idx, frame)
        if frame_idx == self.doc.frame_idx and self._wants_inference():
            self._request_inference()

    # --- background jobs ---------------------------------------------------------------------
    def _run_job(self, purpose: str, fn: Callable[[Callable[[], bool]], Any],
                 on_done: Callable[[Any], None]) -> None:
        """Run ``fn(cancelled)`` off the GUI thread; a newer job of the same purpose cancels
        the older one (its result is dropped)."""
        from .workers.jobs import BackgroundJob

        if self._closed:
            return
        old = self._jobs.pop(purpose, None)
        if old is not None:
            old.cancel()
            old.done.disconnect()
            self._finished_jobs.append(old)
        job = BackgroundJob(fn, self, name=f"pose-studio-{purpose}")
        job.done.connect(on_done)
        job.failed.connect(lambda msg, p=purpose: self.status(f"{p}: {msg}", 8000))
        self._jobs[purpose] = job
        job.start()
        self._finished_jobs = [j for j in self._finished_jobs if j.running]

    def _start_fingerprint_check(self, video_id: int) -> None:
        """Check the labeled frames against the video in the background (the same check as
        ``pose-studio info --check``); also stores fingerprints of labeled frames that have none
        while the video file is unchanged."""
        self.fingerprint_report = None
        self.banner.hide()
        project = self.doc.project
        if project is None or self._loader_path is None:
            return
        stored = dict(self._fingerprints)
        try:
            if not stored and not project.frames_missing_fingerprints(video_id):
                return
        except PoseStudioError:
            return
        from .workers import fingerprints as fpmod

        factory: Callable[[str, bytes | None], Any] | None = getattr(
            self.loader, "reader_factory", None)
        if factory is None:
            from pose_studio.video import open_video

            def factory(p: str, i: bytes | None) -> Any:
                return open_video(p, index=i)
        path = self._loader_path
        index = project.video_index(video_id)

        def work(cancelled: Callable[[], bool]) -> Any:
            return fpmod.verify_fingerprints(lambda: factory(path, index), video_id, None,
                                             cancelled, project=project)

        n = len(stored)
        if n:
            self.status(f"checking that {n} labeled frame{'s' if n != 1 else ''} still match "
                        "the video…")
        self._run_job("fingerprints", work, self._on_fingerprint_report)

    def _on_fingerprint_report(self, report: Any) -> None:
        if report.video_id != self.doc.video_id or report.cancelled:
            return
        self.fingerprint_report = report
        if report.filled and self.doc.project is not None:
            try:
                self._fingerprints = dict(self.doc.project.fingerprints(report.video_id))
            except PoseStudioError:
                log.debug("fingerprints not reloaded", exc_info=True)
        if report.error is not None:
            self.status(f"could not check the labeled frames against the video: {report.error}",
                        10000)
            return
        bad = report.bad_frames
        if not bad:
            self.banner.hide()
            n = report.checked
            if n:
                self.status("the labeled frame still matches the video" if n == 1 else
                            f"all {n} labeled frames still match the video", 5000)
            return
        shown = ", ".join(str(f) for f in bad[:8]) + ("…" if len(bad) > 8 else "")
        n = len(bad)
        frames = f"{n} frame{'s' if n != 1 else ''} ({shown})"
        why = "the video was replaced or re-encoded since they were made"
        if report.shift is not None:
            s = report.shift
            why = (f"the labeled pictures are now {abs(s)} frame{'s' if abs(s) != 1 else ''} "
                   f"{'later' if s > 0 else 'earlier'} in the video (frames were "
                   f"{'added' if s > 0 else 'dropped'} at the start)")
        self.banner.show_text(
            f"⚠ The labels on {frames} no longer sit on their pictures: {why}. Check them, or "
            "relink the original video (File ▸ Relink Video)."
        )
        self.status(f"{frames}: the picture differs from when it was labeled", 15000)

    def _next_bad_frame(self) -> None:
        rep = self.fingerprint_report
        if rep is None or not rep.bad_frames:
            return
        later = [f for f in rep.bad_frames if f > self.doc.frame_idx]
        self.goto(later[0] if later else rep.bad_frames[0])

    def _show_bad_frames(self) -> None:
        """A non-modal list of the frames whose labels no longer match; double-click jumps."""
        rep = self.fingerprint_report
        if rep is None:
            return
        from PySide6.QtWidgets import QDialog, QListWidget, QListWidgetItem

        dlg = getattr(self, "_bad_dialog", None)
        if dlg is None:
            dlg = QDialog(self)
            dlg.setWindowTitle("Labels that no longer match the video")
            dlg.setModal(False)
            lst = QListWidget(dlg)
            lst.setObjectName("bad_frames_list")
            lst.itemActivated.connect(lambda it: self.goto(int(it.data(Qt.ItemDataRole.UserRole))))
            lay = QVBoxLayout(dlg)
            lay.addWidget(QLabel("Double-click a frame to go there:", dlg))
            lay.addWidget(lst)
            dlg.resize(420, 360)
            self._bad_dialog = dlg
            self._bad_list = lst
        self._bad_list.clear()
        dist = dict(rep.mismatched)
        for f in rep.bad_frames:
            n = len(self.doc.project.instances(self.doc.video_id, f, kind=InstanceKind.USER)) \
                if self.doc.project is not None and self.doc.video_id is not None else 0
            why = dist.get(f, "the video no longer has this frame")
            item = QListWidgetItem(f"frame {f}: {n} label(s), {why}")
            item.setData(Qt.ItemDataRole.UserRole, f)
            self._bad_list.addItem(item)
        dlg.show()
        dlg.raise_()

    _from_playback = False
    _fingerprints: dict[int, int | bytes] = {}  # noqa: RUF012 - replaced per video, never mutated

    def _check_fingerprint(self, frame_idx: int, frame: Any) -> None:
        """Warn when a labeled frame no longer shows the picture it was labeled on."""
        stored = self._fingerprints.get(frame_idx)
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
        self.status(f"warning: frame {frame_idx} looks different from when it was labeled "
                    f"({how}): was the video replaced or re-encoded?", 15000)

    def _remember_fingerprint(self) -> None:
        """Store the picture's signature the first time a frame gets a user edit."""
        f, vid, frame = self.doc.frame_idx, self.doc.video_id, self.view.frame
        if vid is None or frame is None or self.view.frame_idx != f or f in self._fingerprints:
            return
        try:
            from pose_studio.video import frame_signature

            fp = frame_signature(frame)
            self.doc.project.set_fingerprints(vid, {f: fp})
            self._fingerprints = {**self._fingerprints, f: fp}
        except PoseStudioError:
            log.debug("fingerprint not stored", exc_info=True)

    def _on_frame_changed(self, frame_idx: int) -> None:
        n = self.doc.frame_count
        self.frame_spin.blockSignals(True)
        self.frame_spin.setValue(frame_idx)
        self.frame_spin.blockSignals(False)
        self.timeline.set_current(frame_idx)
        self.time_label.setText(self._time_text(frame_idx))
        self.frame_total.setText(f"/ {max(0, n - 1)}")
        self._refresh_instances()
        self.view.set_heatmaps([])
        if not self._from_playback:
            self._request_frame(frame_idx)
        if hasattr(self, "review_plot"):
            self.review_plot.set_current_frame(frame_idx)
        if hasattr(self, "model_panel"):
            self.model_panel.set_current_frame(frame_idx)

    _times: np.ndarray | None = None

    def _time_text(self, frame_idx: int) -> str:
        """``m:ss.mmm`` of the frame: its own timestamp for VFR video, else frame / fps."""
        times = self._times
        approx = False
        if times is not None and 0 <= frame_idx < len(times):
            t = float(times[frame_idx])
        else:
            t = frame_idx / (self.doc.fps or 30.0)
            approx = bool(getattr(getattr(self, "_meta", None), "vfr", False))
        m, s = divmod(t, 60.0)
        return f"{'≈' if approx else ''}{int(m)}:{s:06.3f}"

    def _on_spin(self, value: int) -> None:
        self.goto(value)

    def _on_timeline_seek(self, frame_idx: int) -> None:
        self.goto(frame_idx)

    def _on_scrub_started(self) -> None:
        self._scrubbing = True
        self.view.fast = True

    def _on_scrub_finished(self) -> None:
        self._scrubbing = False
        self.view.fast = False
        self._request_frame(self.doc.frame_idx)  # the exact frame (and a smooth repaint)

    # --- playback --------------------------------------------------------------------------------
    def act_play(self) -> None:
        if self.doc.video_id is None or self._loader_video_id is None:
            return
        if self._playing:
            self._stop_playback()
            return
        start = self.doc.frame_idx + 1
        if start >= self.doc.frame_count:
            start = 0
        self._playing = True
        self.view.fast = True
        self.play_button.setText("⏸")
        self._play_req = self.loader.play(start, self.doc.fps, self._speed)

    def _stop_playback(self) -> None:
        if not self._playing:
            return
        self._playing = False
        self.view.fast = False
        self.play_button.setText("▶")
        self.loader.stop_playback()
        # Repaint the current frame smoothly.
        self._request_frame(self.doc.frame_idx)

    def _on_playback_stopped(self, req_id: int, last: int, shown: int, dropped: int) -> None:
        if req_id == self._play_req and self._playing:
            self._playing = False
            self.view.fast = False
            self.play_button.setText("▶")
            self.status(f"played {shown} frames, dropped {dropped} to keep time")

    def _set_speed(self, speed: float) -> None:
        self._speed = speed
        i = min(range(len(SPEEDS)), key=lambda j: abs(SPEEDS[j] - speed))
        self.speed_combo.blockSignals(True)
        self.speed_combo.setCurrentIndex(i)
        self.speed_combo.blockSignals(False)
        if self._playing:
            self._play_req = self.loader.play(self.doc.frame_idx + 1, self.doc.fps, self._speed)
        self.status(f"playback speed {speed:g}×")

    def _on_speed_combo(self, index: int) -> None:
        self._set_speed(float(self.speed_combo.itemData(index)))

    def act_speed_up(self) -> None:
        i = SPEEDS.index(min(SPEEDS, key=lambda s: abs(s - self._speed)))
        self._set_speed(SPEEDS[min(len(SPEEDS) - 1, i + 1)])

    def act_speed_down(self) -> None:
        i = SPEEDS.index(min(SPEEDS, key=lambda s: abs(s - self._speed)))
        self._set_speed(SPEEDS[max(0, i - 1)])

    # --- step actions ----------------------------------------------------------------------------
    def _selected_keypoint(self) -> tuple[Instance, int] | None:
        inst = self.doc.selected()
        k = self.doc.selected_keypoint
        if inst is None or k is None:
            return None
        return inst, k

    def act_next_frame(self) -> None:
        if self._selected_keypoint() is not None:
            self.nudge(1, 0)
        else:
            self.step(1)

    def act_prev_frame(self) -> None:
        if self._selected_keypoint() is not None:
            self.nudge(-1, 0)
        else:
            self.step(-1)

    def act_next_10(self) -> None:
        if self._selected_keypoint() is not None:
            self.nudge(10, 0)
        else:
            self.step(10)

    def act_prev_10(self) -> None:
        if self._selected_keypoint() is not None:
            self.nudge(-10, 0)
        else:
            self.step(-10)

    def act_first_frame(self) -> None:
        self.goto(0)

    def act_last_frame(self) -> None:
        self.goto(self.doc.frame_count - 1)

    def act_goto_frame(self) -> None:
        if self.doc.video_id is None:
            return
        value, ok = QInputDialog.getInt(
            self, "Go to frame", f"Frame (0 – {self.doc.frame_count - 1}):", self.doc.frame_idx,
            0, max(0, self.doc.frame_count - 1),
        )
        if ok:
            self.goto(value)

    def _jump(self, target: int | None, what: str) -> None:
        if target is None:
            self.status(f"no {what} in that direction")
        else:
            self.goto(target)

    def act_next_labeled(self) -> None:
        self._jump(review.next_labeled(self.doc.frames.labeled, self.doc.frame_idx, 1),
                   "labeled frame")

    def act_prev_labeled(self) -> None:
        self._jump(review.next_labeled(self.doc.frames.labeled, self.doc.frame_idx, -1),
                   "labeled frame")

    def act_next_unlabeled(self) -> None:
        f = self.doc.frames
        self._jump(review.next_unlabeled(f.labeled, self.doc.frame_idx, 1, predicted=f.predicted),
                   "unlabeled predicted frame")

    def act_prev_unlabeled(self) -> None:
        f = self.doc.frames
        self._jump(review.next_unlabeled(f.labeled, self.doc.frame_idx, -1, predicted=f.predicted),
                   "unlabeled predicted frame")

    def act_next_low(self) -> None:
        self._jump(review.next_low_confidence(self.doc.frames.min_score, self.doc.frame_idx, 1,
                                              exclude=self.doc.frames.labeled),
                   "low-confidence frame")

    def act_prev_low(self) -> None:
        self._jump(review.next_low_confidence(self.doc.frames.min_score, self.doc.frame_idx, -1,
                                              exclude=self.doc.frames.labeled),
                   "low-confidence frame")

    def _video_step(self, d: int) -> None:
        ids = [int(v.id) for v in self.doc.videos()]
        if not ids:
            return
        i = ids.index(self.doc.video_id) if self.doc.video_id in ids else -1
        j = i + d
        if 0 <= j < len(ids):
            self.show_video(ids[j])

    @guarded
    def act_next_video(self) -> None:
        self._video_step(1)

    @guarded
    def act_prev_video(self) -> None:
        self._video_step(-1)

    # ========================================================================== refreshes =====
    def _on_project_changed(self) -> None:
        self._update_title()
        self._update_enabled()
        if self.doc.project is None:
            self.view.clear_frame("open a video or a project (File ▸ Open, or drop files here)")

    def _refresh_video_list(self) -> None:
        self.video_list.set_videos(self.doc.videos(), self.doc.video_id)

    def _on_video_changed(self, video_id: int) -> None:
        self.video_list.set_current(None if video_id < 0 else video_id)
        n = self.doc.frame_count
        self.frame_spin.setRange(0, max(0, n - 1))
        self.frame_total.setText(f"/ {max(0, n - 1)}")
        self._update_title()
        self._update_enabled()
        if hasattr(self, "model_panel"):
            self.model_panel.set_video(n, self.doc.frame_idx)
        self._last_result = None
        if video_id < 0:
            # Nothing shown any more: no stale rows, marks, curves or time from the last video.
            self.view.set_instances(None, [])
            self.instance_list.set_instances([])
            f = self.doc.frames
            self.timeline.set_arrays(f.labeled, f.predicted, f.min_score)
            self.timeline.set_current(0)
            self.time_label.setText(self._time_text(0))
            self.banner.hide()
            if hasattr(self, "review_plot"):
                self.review_plot.set_arrays(None)
                self.review_plot.set_keypoint_scores(None)
                self.review_plot.set_instance_scores(None)
        else:
            self._scores_timer.start()
        goto = self._after_open_goto
        if goto is not None and video_id >= 0:
            self._after_open_goto = None
            self.doc.set_frame(goto)

    def _on_frame_arrays_changed(self, _video_id: int) -> None:
        f = self.doc.frames
        self.timeline.set_arrays(f.labeled, f.predicted, f.min_score)
        if hasattr(self, "review_plot"):
            self._plot_timer.start()  # debounced: edits patch one frame at a time

    def _start_scores_job(self) -> None:
        """Per-person and per-keypoint score curves for the review plot, off the GUI thread."""
        plot = getattr(self, "review_plot", None)
        proj, vid, n = self.doc.project, self.doc.video_id, self.doc.frame_count
        if plot is None or proj is None or vid is None or self.doc.skeleton is None:
            return
        from .widgets.review_plot import review_scores

        k = self.doc.skeleton.num_keypoints
        names = list(self.doc.skeleton.keypoints)

        def work(cancelled: Callable[[], bool]) -> Any:
            return vid, review_scores(proj, vid, n, k, cancelled)

        def done(out: Any) -> None:
            v, (kp, inst, labels) = out
            if v != self.doc.video_id or getattr(self, "review_plot", None) is None:
                return
            self.review_plot.set_keypoint_scores(kp, names)
            self.review_plot.set_instance_scores(inst, labels)

        self._run_job("scores", work, done)

    def _update_review_plot(self) -> None:
        try:
            self.review_plot.set_arrays(self.doc.frames)
            self.review_plot.set_current_frame(self.doc.frame_idx)
        except Exception:
            log.exception("review plot update failed")

    def _on_instances_changed(self, video_id: int, frame_idx: int) -> None:
        if video_id == self.doc.video_id and frame_idx == self.doc.frame_idx:
            self._refresh_instances()

    def _refresh_instances(self) -> None:
        if self.view.dragging:
            return
        if self.doc.project is None or self.doc.video_id is None:
            self.view.set_instances(None, [])
            self.instance_list.set_instances([])
            return
        users = self.doc.instances(InstanceKind.USER)
        preds = self.doc.visible_predictions()
        sel = (self.doc.selected_instance_id, self.doc.selected_keypoint)
        self.view.set_instances(self.doc.skeleton, [*preds, *users], sel)
        shown = {p.id for p in preds}
        accepted = {i.id for i in self.doc.instances(InstanceKind.PREDICTED)
                    if i.id not in shown}  # accepted, or covered by a label
        self.instance_list.set_instances(self.doc.instances(), accepted)  # type: ignore[arg-type]
        self.instance_list.select_instance(self.doc.selected_instance_id)

    def _on_selection_changed(self) -> None:
        sel = (self.doc.selected_instance_id, self.doc.selected_keypoint)
        if self._snap_state is not None and self._snap_state[0][1] != sel[1]:
            self._snap_state = None
        self.view.update_selection(sel)
        self.instance_list.select_instance(self.doc.selected_instance_id)
        self._describe_selection()
        if self.options.heatmap and self._last_result is not None:
            self._show_heatmap(self._last_result)

    def _describe_selection(self) -> None:
        """One status line on what is selected and what the keys do with it."""
        inst = self.doc.selected()
        if inst is None:
            return
        k = self.doc.selected_keypoint
        what = "prediction" if inst.is_prediction else "label"
        if k is None:
            sc = inst.mean_score()
            score = f" (score {sc:.2f})" if sc is not None else ""
            hint = ("A or double-click accepts it" if inst.is_prediction
                    else "Alt-drag moves it, Delete removes it")
            self.status(f"{what}{score} selected: {hint}", 6000)
            return
        vis = Visibility(int(inst.visibility[k])).name.lower()
        kp_score = ""
        if inst.kp_scores is not None and k < len(inst.kp_scores):
            v = float(inst.kp_scores[k])
            if math.isfinite(v):
                kp_score = f", score {v:.2f}"
        self.status(f"{self._kp_name(k)} of a {what} ({vis}{kp_score}): drag or arrows to move, "
                    "V cycles visibility, Esc deselects", 6000)

    def _on_view_selection(self, instance_id: int, k: int) -> None:
        if instance_id >= 0 and self._playing:
            self._stop_playback()  # editing a frame that is moving away makes no sense
        self.doc.select(None if instance_id < 0 else instance_id, None if k < 0 else k)

    # ============================================================================= edits =====
    def _writable(self) -> bool:
        if self.doc.project is None or self.doc.video_id is None:
            return False
        if getattr(self.doc.project, "read_only", False):
            self.status("the project is open read-only")
            return False
        if self.view.approximate:
            self.status("a scrub preview is shown: wait for the exact frame before editing")
            return False
        return True

    def _edit(self, inst: Instance, after: Instance, text: str,
              merge_key: tuple[int, ...] | None = None) -> Instance:
        """Apply ``after`` to ``inst``: an update for a label, a new user copy for a prediction."""
        self._remember_fingerprint()
        if inst.is_prediction:
            user = after.as_user_copy() if after.is_prediction else after
            user = user.replace(source_id=inst.id, id=None, kind=InstanceKind.USER)
            stored = self.editor.add(user, text)
            self.doc.select(stored.id, self.doc.selected_keypoint)
            return stored
        return self.editor.update(inst, after, text, merge_key=merge_key)

    @guarded
    def _on_keypoint_moved(self, instance_id: int, k: int, x: float, y: float) -> None:
        inst = self.doc.instance(instance_id)
        if inst is None or not self._writable():
            self._refresh_instances()
            return
        vis = int(inst.visibility[k]) or int(Visibility.VISIBLE)
        after = inst.with_keypoint(k, xy=(x, y), visibility=vis)
        name = self._kp_name(k)
        self._edit(inst, after, f"move {name}")
        self.doc.select(self.doc.selected_instance_id, k)

    @guarded
    def _on_instance_moved(self, instance_id: int, dx: float, dy: float) -> None:
        inst = self.doc.instance(instance_id)
        if inst is None or not self._writable():
            self._refresh_instances()
            return
        self._edit(inst, inst.translated(dx, dy), "move instance")

    @guarded
    def _on_visibility_requested(self, instance_id: int, k: int) -> None:
        inst = self.doc.instance(instance_id)
        if inst is None or not self._writable():
            return
        self._cycle_visibility(inst, k)

    def _cycle_visibility(self, inst: Instance, k: int) -> None:
        v = Visibility(int(inst.visibility[k])).next_in_cycle()
        xy: tuple[float, float] | None = None
        if int(inst.visibility[k]) == 0:
            # Labeling a point that had no position: put it under the mouse (or near the rest).
            xy = self.view.cursor_image_pos()
            if xy is None:
                lab = inst.labeled
                c = inst.xy[lab].mean(axis=0) if lab.any() else inst.xy[k]
                xy = (float(c[0]), float(c[1]))
        after = inst.with_keypoint(k, visibility=int(v), xy=xy)
        self._edit(inst, after, f"{self._kp_name(k)} {v.name.lower()}")

    @guarded
    def act_cycle_visibility(self) -> None:
        sel = self._selected_keypoint()
        if sel is None or not self._writable():
            self.status("select a keypoint first (click it)")
            return
        self._cycle_visibility(*sel)

    @guarded
    def nudge(self, dx: float, dy: float) -> None:
        sel = self._selected_keypoint()
        if sel is None or not self._writable():
            return
        inst, k = sel
        if int(inst.visibility[k]) == 0:
            self.status("the keypoint is unlabeled; drag it or press V to label it")
            return
        x, y = inst.xy[k]
        after = inst.with_keypoint(k, xy=(x + dx, y + dy))
        assert inst.id is not None
        self._edit(inst, after, f"nudge {self._kp_name(k)}", merge_key=(int(inst.id), k))

    def act_nudge_up(self) -> None:
        self.nudge(0, -1)

    def act_nudge_down(self) -> None:
        self.nudge(0, 1)

    def act_nudge_up_10(self) -> None:
        self.nudge(0, -10)

    def act_nudge_down_10(self) -> None:
        self.nudge(0, 10)

    @guarded
    def _on_accept_id(self, instance_id: int) -> None:
        inst = self.doc.instance(instance_id)
        if inst is None or not inst.is_prediction:
            if inst is not None:
                self.doc.select(instance_id, None)
            return
        if not self._writable():
            return
        self._remember_fingerprint()
        stored = self.editor.add(inst.as_user_copy(), "accept prediction")
        self.doc.select(stored.id, None)

    @guarded
    def act_accept(self) -> None:
        inst = self.doc.selected()
        if inst is None:
            preds = self.doc.visible_predictions()
            if len(preds) == 1:
                inst = preds[0]
        if inst is None or not inst.is_prediction:
            self.status("select a prediction to accept (or press Shift+A for all)")
            return
        assert inst.id is not None
        self._on_accept_id(int(inst.id))

    @guarded
    def act_accept_all(self) -> None:
        if not self._writable():
            return
        preds = self.doc.visible_predictions()
        if not preds:
            self.status("no predictions to accept on this frame")
            return
        self._remember_fingerprint()
        with self.editor.macro(f"accept {len(preds)} predictions"):
            for p in preds:
                self.editor.add(p.as_user_copy(), "accept prediction")
        self.status(f"accepted {len(preds)} predictions")

    @guarded
    def act_delete_instance(self) -> None:
        inst = self.doc.selected()
        if inst is None or not self._writable():
            self.status("select an instance to delete")
            return
        self.editor.delete(inst, "delete prediction" if inst.is_prediction else "delete instance")

    @guarded
    def act_add_instance(self) -> None:
        if not self._writable():
            return
        pos = self.view.cursor_image_pos()
        if pos is None:
            r = self.view.image_rect()
            if r.isEmpty():
                return
            pos = (r.center().x(), r.center().y())
        inst = self._template_instance(pos)
        self._remember_fingerprint()
        stored = self.editor.add(inst, "add instance")
        self.doc.select(stored.id, None)

    def _template_instance(self, center: tuple[float, float]) -> Instance:
        """A new user instance centred at ``center``: a copy of the previous labeled frame's
        first instance, else the project's mean pose (else a default pose), at a typical size."""
        sk = self.doc.skeleton
        assert sk is not None
        prev = review.next_labeled(self.doc.frames.labeled, self.doc.frame_idx, -1)
        src: Instance | None = None
        if prev is not None and self.doc.video_id is not None:
            users = [i for i in self.doc.project.instances(self.doc.video_id, prev)
                     if not i.is_prediction and i.labeled.any()]
            if users:
                src = users[0]
        if src is not None:
            c = src.xy[src.labeled].mean(axis=0)
            moved = src.translated(center[0] - c[0], center[1] - c[1])
            return Instance(xy=moved.xy, visibility=moved.visibility, kind=InstanceKind.USER)
        unit, span = self._mean_pose(sk)
        if span is None:
            rect = self.view.image_rect()
            span = 0.35 * min(rect.width(), rect.height()) if not rect.isEmpty() else 100.0
        xy = unit * span + np.asarray(center)
        return Instance(xy=xy, visibility=np.full(sk.num_keypoints, 2, np.uint8))

    def _mean_pose(self, sk: Skeleton, limit: int = 500) -> tuple[np.ndarray, float | None]:
        """``(K, 2)`` centred pose about 1 unit tall and the typical size in pixels.

        From up to ``limit`` user instances of the project; keypoints never labeled come from
        :func:`default_pose`. The size is None when the project has no labels yet.
        """
        acc = np.zeros((sk.num_keypoints, 2))
        cnt = np.zeros(sk.num_keypoints)
        spans: list[float] = []
        gen = self.doc.project.iter_instances("user")
        try:
            for _vid, _f, inst in gen:
                m = inst.labeled
                if m.sum() < 2 or inst.num_keypoints != sk.num_keypoints:
                    continue
                pts = inst.xy[m]
                span = float(np.ptp(pts, axis=0).max())
                if span <= 0:
                    continue
                acc[m] += (pts - pts.mean(axis=0)) / span
                cnt[m] += 1
                spans.append(span)
                if len(spans) >= limit:
                    break
        except PoseStudioError:
            log.debug("mean pose unavailable", exc_info=True)
        finally:
            gen.close()
        default = default_pose(sk)
        if not spans:
            return default, None
        out = default.copy()
        have = cnt > 0
        out[have] = acc[have] / cnt[have, None]
        return out - out.mean(axis=0), float(np.median(spans))

    def _cycle_instance(self, d: int) -> None:
        insts = [*self.doc.instances(InstanceKind.USER), *self.doc.visible_predictions()]
        if not insts:
            self.status("no instances on this frame")
            return
        ids = [i.id for i in insts]
        cur = self.doc.selected_instance_id
        j = (ids.index(cur) + d) % len(ids) if cur in ids else (0 if d > 0 else len(ids) - 1)
        self.doc.select(ids[j], None)

    def act_next_instance(self) -> None:
        self._cycle_instance(1)

    def act_prev_instance(self) -> None:
        self._cycle_instance(-1)

    def _step_keypoint(self, d: int) -> None:
        inst = self.doc.selected()
        if inst is None:
            insts = [*self.doc.instances(InstanceKind.USER), *self.doc.visible_predictions()]
            if not insts:
                return
            inst = insts[0]
        k = self.doc.selected_keypoint
        n = inst.num_keypoints
        k = (0 if d > 0 else n - 1) if k is None else (k + d) % n
        self.doc.select(inst.id, k)
        state = Visibility(int(inst.visibility[k])).name.lower()
        self.status(f"{self._kp_name(k)} ({state}): drag it, nudge with arrows, V cycles "
                    "visibility (an unlabeled point is placed under the mouse)")

    def act_next_keypoint(self) -> None:
        self._step_keypoint(1)

    def act_prev_keypoint(self) -> None:
        self._step_keypoint(-1)

    def act_clear_selection(self) -> None:
        self.doc.select(None, None)

    def _kp_name(self, k: int) -> str:
        sk = self.doc.skeleton
        return sk.keypoints[k] if sk is not None and k < sk.num_keypoints else f"keypoint {k}"

    @guarded
    def act_undo(self) -> None:
        if not self.view.dragging:
            self.undo_stack.undo()

    @guarded
    def act_redo(self) -> None:
        if not self.view.dragging:
            self.undo_stack.redo()

    # ============================================================================== view =====
    def act_fit(self) -> None:
        self.view.fit()

    def act_zoom_in(self) -> None:
        self.view.zoom(1.25)

    def act_zoom_out(self) -> None:
        self.view.zoom(0.8)

    def _toggle(self, name: str, on: bool) -> None:
        setattr(self.options, name, bool(on))
        if name != "heatmap":
            self.settings.set_flag(name, bool(on))
        self.view.set_options(self.options)
        self._refresh_instances()

    def act_show_skeleton(self, on: bool) -> None:
        self._toggle("skeleton", on)

    def act_show_keypoints(self, on: bool) -> None:
        self._toggle("keypoints", on)

    def act_show_labels(self, on: bool) -> None:
        self._toggle("labels", on)

    def act_show_predictions(self, on: bool) -> None:
        self._toggle("predictions", on)

    def act_show_heatmap(self, on: bool) -> None:
        self._toggle("heatmap", on)
        if on:
            if self._last_result is not None and self._last_result.frame_idx == self.doc.frame_idx:
                self._show_heatmap(self._last_result)
            else:
                self._request_inference()

    def act_heatmap_more(self) -> None:
        self._set_heat_opacity(self.view.heatmap_opacity + 0.1)

    def act_heatmap_less(self) -> None:
        self._set_heat_opacity(self.view.heatmap_opacity - 0.1)

    def _set_heat_opacity(self, v: float) -> None:
        self.view.heatmap_opacity = float(min(1.0, max(0.1, v)))
        if self._last_result is not None:
            self._show_heatmap(self._last_result)
        self.status(f"heatmap opacity {self.view.heatmap_opacity:.0%}")

    # ========================================================================= inference =====
    def _model_ready(self) -> bool:
        return self.inference is not None and self.inference.model_info is not None

    def _request_inference(self) -> None:
        """Ask the inference lane for the shown frame (heatmap, live or "predict" mode)."""
        ctrl = self.inference
        frame = self.view.frame
        if ctrl is None or frame is None or self.view.frame_idx != self.doc.frame_idx:
            return
        if not self._model_ready():
            self.status("load a model first (Model panel)")
            return
        self._infer_req = ctrl.infer_frame(self.doc.frame_idx, frame, self._inference_boxes())

    def _inference_boxes(self) -> np.ndarray | None:
        """Person boxes (x1, y1, x2, y2) for a top-down model loaded without a detector: the
        frame's labels (else its predictions), so heatmaps follow the people being corrected.
        None: the model finds people itself (detector, one-stage) or takes the whole frame."""
        info = self.inference.model_info if self.inference is not None else None
        if info is None or info.detector_path or info.family in ("yolo_pose", "rtmo"):
            return None
        # Every person on the frame: the labels, and the predictions not yet accepted (an
        # accepted one is represented by its label).
        insts = [*self.doc.instances(InstanceKind.USER), *self.doc.visible_predictions()]
        boxes = []
        for inst in insts:
            b = inst.box()
            if b is not None and b[2] > 1 and b[3] > 1:
                boxes.append((b[0], b[1], b[0] + b[2], b[1] + b[3]))
        return np.asarray(boxes, dtype=np.float64) if boxes else None

    def _wants_inference(self) -> bool:
        return self._live or self.options.heatmap or self._predict_pending is not None

    @guarded
    def _on_load_requested(self, pose: str, detector: object, provider: str) -> None:
        if self.inference is not None:
            self.inference.load_model(pose, detector, provider)

    def _on_model_loaded(self, info: Any) -> None:
        self._run_id = None  # a new model gets its own model run on first write
        self.status(f"model loaded: {Path(str(info.pose_path)).name} on "
                    f"{', '.join(info.providers) or 'CPU'}", 8000)
        if self._wants_inference():
            self._request_inference()

    def _on_live_toggled(self, on: bool) -> None:
        self._live = bool(on)
        if on:
            self._request_inference()

    @guarded
    def _on_run_range(self, start: int, stop: int) -> None:
        ctrl = self.inference
        rec = self._video_record(self.doc.video_id)
        if ctrl is None or rec is None:
            return
        if not self._model_ready():
            raise PoseStudioError("load a model before running it on a range of frames")
        ctrl.start_batch(self.doc.project, int(rec.id), str(rec.path),
                         self.doc.project.video_index(int(rec.id)), int(start), int(stop))

    @guarded
    def act_predict_frame(self) -> None:
        if self.inference is None:
            raise PoseStudioError("model inference is not available")
        if not self._model_ready():
            raise PoseStudioError("no model is loaded: choose one in the Model panel and load it")
        if self.view.frame is None or self.doc.video_id is None:
            return
        self._predict_pending = (self.doc.video_id, self.doc.frame_idx)
        self._request_inference()

    @guarded
    def _on_inference_result(self, req_id: int, frame_idx: int, result: Any) -> None:
        if frame_idx != self.doc.frame_idx:
            return
        self._last_result = result
        if self.options.heatmap:
            self._show_heatmap(result)
        here = (self.doc.video_id, frame_idx)
        if self._live or self._predict_pending == here:
            self._predict_pending = None
            self._write_result(result)
        if getattr(self, "_snap_pending", False):
            self._snap_pending = False
            self.act_snap_peak()

    def _write_result(self, result: Any) -> None:
        """Store a live/"predict this frame" result as the frame's predictions."""
        proj, vid = self.doc.project, self.doc.video_id
        if proj is None or vid is None or getattr(proj, "read_only", False):
            return
        info = self.inference.model_info if self.inference is not None else None
        if self._run_id is None and info is not None:
            self._run_id = proj.create_model_run(
                model_path=str(info.pose_path), model_hash=info.model_hash,
                providers=list(info.providers), params={"mode": "interactive"},
            )
        items = [(int(result.frame_idx), inst) for inst in result.instances]
        proj.add_predictions(vid, items, self._run_id, replace=True)
        self.doc.instances_written(vid, int(result.frame_idx))
        if not self._playing:
            self._scores_timer.start()
        self.status(f"{len(items)} instance(s) predicted on frame {result.frame_idx}")

    # --- snap to the heatmap's peaks ----------------------------------------------------------
    _snap_state: tuple[tuple[int, int, int], int] | None = None

    @guarded
    def act_snap_peak(self) -> None:
        """Move the selected keypoint to the model's strongest heatmap peak; pressed again, to
        the next peak (fixes left/right and neighbour confusions in one key)."""
        sel = self._selected_keypoint()
        if sel is None or not self._writable():
            self.status("select a keypoint first (click it)")
            return
        inst, k = sel
        res = self._last_result
        if res is None or res.frame_idx != self.doc.frame_idx or not any(
            m is not None for m in getattr(res, "maps", ())
        ):
            if not self._model_ready():
                raise PoseStudioError("load a heatmap model first (Model panel) to snap to peaks")
            self._snap_pending = True
            self._request_inference()
            self.status("computing the heatmap… (the keypoint snaps when it is ready)")
            return
        peaks = self._peaks_for(inst, k, res)
        if not peaks:
            self.status(f"the heatmap of {self._kp_name(k)} has no peak here")
            return
        ident = inst.source_id if (not inst.is_prediction and inst.source_id is not None) \
            else inst.id
        key = (self.doc.frame_idx, k, -1 if ident is None else int(ident))
        if self._snap_state is not None and self._snap_state[0] == key:
            i = (self._snap_state[1] + 1) % len(peaks)
        else:
            i = 0
            cur = inst.xy[k]
            if len(peaks) > 1 and inst.visibility[k] > 0 and math.dist(cur, peaks[0][:2]) < 1.0:
                i = 1  # already on the strongest peak: go to the next one
        self._snap_state = (key, i)
        x, y, v = peaks[i]
        vis = int(inst.visibility[k]) or int(Visibility.VISIBLE)
        after = inst.with_keypoint(k, xy=(x, y), visibility=vis)
        assert inst.id is not None
        self._edit(inst, after, f"snap {self._kp_name(k)} to peak {i + 1}",
                   merge_key=(-2, int(ident if ident is not None else inst.id), k))
        self.doc.select(self.doc.selected_instance_id, k)
        self._snap_state = (key, i)
        self.status(f"{self._kp_name(k)}: peak {i + 1} of {len(peaks)} (value {v:.2f}); "
                    "press S again for the next")

    def _peaks_for(self, inst: Instance, k: int, result: Any) -> list[tuple[float, float, float]]:
        """Peaks ``(x, y, value)`` in image pixels of keypoint ``k``'s map for the predicted
        person nearest ``inst``, strongest first."""
        best, best_d = None, math.inf
        for pred, maps in zip(result.instances, result.maps):
            if maps is None:
                continue
            both = pred.labeled & inst.labeled
            if both.any():
                d = float(np.linalg.norm(pred.xy[both] - inst.xy[both], axis=1).mean())
            else:
                d = float(np.linalg.norm(pred.xy.mean(axis=0) - inst.xy.mean(axis=0)))
            if d < best_d:
                best, best_d = maps, d
        if best is None:
            return []
        m = np.asarray(best.keypoint_map(k), dtype=np.float64)
        a = np.asarray(best.map_to_image, dtype=np.float64).reshape(2, 3)
        out = []
        for x, y, v in local_peaks(m):
            ix, iy = a @ np.array([x, y, 1.0])
            out.append((float(ix), float(iy), float(v)))
        return out

    def _show_heatmap(self, result: Any) -> None:
        k = self.doc.selected_keypoint
        maps = []
        for m in getattr(result, "maps", ()) or ():
            if m is None:
                continue
            maps.append((m.keypoint_map(k), np.asarray(m.map_to_image)))
        self.view.set_heatmaps(maps)
        if not maps:
            self.status("this model gives no heatmaps (one-stage model)")

    def _on_predictions_written(self, video_id: int) -> None:
        self.doc.predictions_written(int(video_id))
        self._scores_timer.start()

    def _on_inference_failed(self, message: str) -> None:
        self._predict_pending = None
        self.show_error("Model", message)

    def _on_batch_finished(self, n_frames: int, cancelled: bool) -> None:
        self.doc.predictions_written(self.doc.video_id if self.doc.video_id is not None else -1)
        self._scores_timer.start()
        self.status(f"{'cancelled after' if cancelled else 'predicted'} {n_frames} frames", 8000)

    # ======================================================================= file actions =====
    def _dialog_open_paths(self) -> list[str]:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Open video or project", self._start_dir(),
            "Videos and projects (*.posestudio *.mp4 *.avi *.mov *.mkv *.m4v *.ts *.webm *.mpg);;"
            "All files (*)",
        )
        return list(files)

    def _start_dir(self) -> str:
        """Where file dialogs open: the open project's folder, else the last file's."""
        if self.doc.project is not None:
            return str(Path(str(self.doc.project.path)).parent)
        for f in self.settings.recent_files():
            if Path(f).parent.is_dir():
                return str(Path(f).parent)
        return str(Path.home())

    def _dialog_new_project_path(self, video: Path) -> Path | None:
        default = video.with_suffix(PROJECT_SUFFIX) if video.is_file() else video.parent / (
            video.name + PROJECT_SUFFIX)
        path, _ = QFileDialog.getSaveFileName(
            self, "Create a project for this video", str(default), "Pose Studio project (*.posestudio)"
        )
        return Path(path) if path else None

    def _dialog_open_read_only(self, reason: str) -> bool:
        ans = QMessageBox.question(
            self, "Project in use", f"{reason}\n\nOpen it read-only (view, export, no edits)?"
        )
        return ans == QMessageBox.StandardButton.Yes

    def _dialog_relink_path(self, video: Any) -> Path | None:
        name = Path(str(video.path)).name
        ans = QMessageBox.question(
            self, "Video not found",
            f"The video {name} is not at\n{video.path}\n\nLocate it now?",
        )
        if ans != QMessageBox.StandardButton.Yes:
            return None
        path, _ = QFileDialog.getOpenFileName(
            self, f"Locate {name}", str(Path(str(video.path)).parent), "All files (*)"
        )
        return Path(path) if path else None

    @guarded
    def act_open(self) -> None:
        paths = self.ask_open_paths()
        if paths:
            self.open_paths(paths)

    @guarded
    def act_new_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "New project", str(Path(self._start_dir()) / "untitled.posestudio"),
            "Pose Studio project (*.posestudio)",
        )
        if path:
            self.create_project(Path(path))

    @guarded
    def act_add_video(self) -> None:
        if self.doc.project is None:
            return
        files, _ = QFileDialog.getOpenFileNames(self, "Add videos", self._start_dir(),
                                                "Videos (*.mp4 *.avi *.mov *.mkv *.m4v *.ts *.webm);;All files (*)")
        if files:
            self.add_videos([Path(f) for f in files])

    @guarded
    def act_relink_video(self) -> None:
        if self.doc.video_id is not None:
            self._on_relink_requested(self.doc.video_id)

    @guarded
    def _on_relink_requested(self, video_id: int) -> None:
        rec = self._video_record(video_id)
        if rec is None:
            return
        new = self.ask_relink_path(rec)
        if new is None:
            return
        self.doc.project.relink_video(video_id, str(new))
        self.doc.videos_changed.emit()
        self.show_video(video_id)

    @guarded
    def _on_video_activated(self, video_id: int) -> None:
        self.show_video(video_id)

    @guarded
    def act_save_as(self) -> None:
        if self.doc.project is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save project as", str(self.doc.project.path),
                                              "Pose Studio project (*.posestudio)")
        if path:
            self.doc.project.save_as(path)
            self.status(f"saved a copy to {path}")

    @guarded
    def act_export_coco(self) -> None:
        if self.doc.project is None:
            return
        from .dialogs.coco_dialogs import ExportCocoDialog

        dlg = ExportCocoDialog(self.doc.project, self)
        dlg.exported.connect(lambda summary: self.status(f"exported: {summary}", 8000))
        dlg.exec()

    @guarded
    def act_import_coco(self) -> None:
        if self.doc.project is None:
            return
        from .dialogs.coco_dialogs import ImportCocoDialog

        dlg = ImportCocoDialog(self.doc.project, self, default_video_id=self.doc.video_id)
        dlg.imported.connect(self._after_import)
        dlg.exec()

    def _after_import(self, summary: object) -> None:
        """An import is one transaction of its own (not on the undo stack): refresh the views."""
        self.doc.videos_changed.emit()
        if self.doc.video_id is not None:
            self.doc.predictions_written(self.doc.video_id)
        elif self.doc.videos():
            self.show_video(int(self.doc.videos()[0].id))
        self.status(f"imported: {summary}", 8000)

    @guarded
    def act_train(self) -> None:
        if self.doc.project is None:
            raise PoseStudioError("open a project with labels first")
        from .dialogs.train_dialog import TrainDialog

        dlg = TrainDialog(str(self.doc.project.path), self)
        dlg.model_ready.connect(self._use_trained_model)
        dlg.exec()

    def _use_trained_model(self, onnx_path: str) -> None:
        panel = getattr(self, "model_panel", None)
        if panel is not None:
            panel.set_pose_path(onnx_path)
            panel.request_load()

    @guarded
    def act_shortcuts(self) -> None:
        from .dialogs.shortcuts import ShortcutsDialog

        ShortcutsDialog(None, self).exec()

    def act_about(self) -> None:
        from pose_studio import __version__

        QMessageBox.about(self, "About Pose Studio",
                          f"Pose Studio {__version__}\nPose datasets from video, with undo.")

    @guarded
    def act_close_project(self) -> None:
        self._stop_everything()
        self.undo_stack.clear()
        self.doc.close_project()
        self._loader_video_id = None

    def act_quit(self) -> None:
        self.close()

    def _stop_everything(self) -> None:
        self._stop_playback()
        self._pending_open.clear()
        if self._opening is not None and QApplication.overrideCursor() is not None:
            QApplication.restoreOverrideCursor()
        self._opening = None
        self._switching = None
        self._loader_path = None
        self._loader_video_id = None
        for job in self._jobs.values():
            job.cancel()
        self.banner.hide()
        self.fingerprint_report = None
        self.view.set_approximate(None)
        ctrl = self.inference
        if ctrl is not None and hasattr(ctrl, "cancel_batch"):
            try:
                ctrl.cancel_batch()
            except Exception:
                log.exception("cancel_batch failed")

    # ========================================================================= Qt events =====
    _SPIN_KEYS = frozenset({
        Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp,
        Qt.Key.Key_PageDown, Qt.Key.Key_Home, Qt.Key.Key_End, Qt.Key.Key_Left, Qt.Key.Key_Right,
        Qt.Key.Key_Backspace, Qt.Key.Key_Delete, Qt.Key.Key_Minus, Qt.Key.Key_Plus,
    })

    def _typing_key(self, obj: QObject, event: QEvent) -> bool:
        from PySide6.QtWidgets import QAbstractSpinBox, QLineEdit, QPlainTextEdit, QTextEdit

        if not isinstance(obj, (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)):
            return False
        if isinstance(obj, QLineEdit) and obj.isReadOnly():
            return False
        if not (isinstance(obj, QWidget) and obj.window() is self):
            return False
        key = event.key()  # type: ignore[attr-defined]
        mods = event.modifiers() & ~Qt.KeyboardModifier.ShiftModifier  # type: ignore[attr-defined]
        mods &= ~Qt.KeyboardModifier.KeypadModifier
        if key in self._SPIN_KEYS and not (mods & Qt.KeyboardModifier.ControlModifier):
            return True
        text = event.text()  # type: ignore[attr-defined]
        return bool(text) and text.isprintable() and not (
            mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                    | Qt.KeyboardModifier.MetaModifier))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and self._typing_key(obj, event):
            # Typing in a text field (frame box, threshold, filters): its keys beat the
            # window's one-letter and arrow shortcuts.
            event.accept()
            return True
        if obj is self.view.viewport() and event.type() == QEvent.Type.MouseMove:
            pos = event.position().toPoint()  # type: ignore[attr-defined]
            sp = self.view.mapToScene(pos.x(), pos.y())
            inside = self.view.image_rect().contains(sp)
            self.pos_label.setText(f"x {sp.x():.1f}  y {sp.y():.1f}" if inside else "")
        return super().eventFilter(obj, event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_paths(paths))

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop both lanes, save the layout, close the project. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self.settings.save_layout(self.saveGeometry(), self.saveState())
            self.settings.sync()
        except Exception:
            log.exception("saving the window layout failed")
        self._playing = False
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        for job in [*self._jobs.values(), *self._finished_jobs]:
            job.stop()
        self._jobs.clear()
        self._finished_jobs = []
        for lane in (self.loader, self.inference):
            if lane is not None and hasattr(lane, "shutdown"):
                try:
                    lane.shutdown()
                except Exception:
                    log.exception("stopping a worker failed")
        while QApplication.overrideCursor() is not None:
            QApplication.restoreOverrideCursor()
        try:
            self.doc.close_project()
        except Exception:
            log.exception("closing the project failed")


class _Banner(QWidget):
    """A non-modal warning strip above the frame (fingerprint mismatches)."""

    next_clicked = Signal()
    list_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("warning_banner")
        self.setAutoFillBackground(True)
        self.setStyleSheet("#warning_banner { background: #fff3c4; }"
                           " QLabel { color: #5a4500; }")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.addWidget(self.label, 1)
        for text, sig, tip in (("Next", self.next_clicked, "Go to the next such frame"),
                               ("List…", self.list_clicked, "List every such frame"),
                               ("✕", None, "Hide this warning")):
            b = QToolButton(self)
            b.setText(text)
            b.setToolTip(tip)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            if sig is None:
                b.clicked.connect(self.hide)
            else:
                b.clicked.connect(sig.emit)
            lay.addWidget(b)
        self.hide()

    def show_text(self, text: str) -> None:
        self.label.setText(text)
        self.show()


def _default_loader(parent: QObject) -> Any:
    from .workers.decode import FrameLoader

    return FrameLoader(parent)


def default_pose(sk: Skeleton) -> np.ndarray:
    """A centred ``(K, 2)`` pose about 1 unit tall: a standing person for COCO-like names,
    else keypoints on a circle."""
    coco = {
        "nose": (0.0, -0.45), "left_eye": (0.03, -0.47), "right_eye": (-0.03, -0.47),
        "left_ear": (0.06, -0.45), "right_ear": (-0.06, -0.45),
        "left_shoulder": (0.12, -0.3), "right_shoulder": (-0.12, -0.3),
        "left_elbow": (0.17, -0.12), "right_elbow": (-0.17, -0.12),
        "left_wrist": (0.19, 0.04), "right_wrist": (-0.19, 0.04),
        "left_hip": (0.08, 0.05), "right_hip": (-0.08, 0.05),
        "left_knee": (0.09, 0.28), "right_knee": (-0.09, 0.28),
        "left_ankle": (0.1, 0.5), "right_ankle": (-0.1, 0.5),
    }
    k = sk.num_keypoints
    out = np.zeros((k, 2))
    missing = []
    for i, name in enumerate(sk.keypoints):
        if name in coco:
            out[i] = coco[name]
        else:
            missing.append(i)
    if missing:
        for j, i in enumerate(missing):
            a = 2 * math.pi * j / max(1, len(missing))
            out[i] = (0.3 * math.cos(a), 0.3 * math.sin(a))
    return out - out.mean(axis=0)


__all__ = ["MainWindow", "default_pose", "guarded", "local_peaks"]
