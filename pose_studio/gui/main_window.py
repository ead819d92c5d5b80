"""The main window: it builds the widgets and the controllers and wires them; nothing more.

State lives in a Qt-free :class:`~pose_studio.app.session.Session` (the open project, video,
frame, shown pixels, selection, history), observed through :class:`SessionSignals`. Each concern
has a controller in ``gui/controllers``: opening (decode lane), playback, display, editing,
model (inference lane), review, fingerprints. A new panel is :meth:`MainWindow.add_panel`; a new
edit tool is a verb in ``app/editing.py`` plus an action (``actions.py``) or a gesture tool
(``gui/tools``). See ``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QIcon
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from pose_studio.app.session import Session
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.paths import resource
from pose_studio.core.skeleton import COCO17, Skeleton

from . import typing_keys
from .actions import ACTIONS, MENUS, VIEW_ONLY, build_actions
from .controllers.base import Shell
from .controllers.datasets import DatasetController
from .controllers.display import NO_PROJECT, Display
from .controllers.editing import EditController
from .controllers.fingerprints import FingerprintController
from .controllers.labeling_install import install as install_labeling
from .controllers.model import ModelController
from .controllers.opening import OpeningController
from .controllers.playback import PlaybackController
from .controllers.review import ReviewController
from .controllers.runs import install as install_runs
from .controllers.sources import SourceController
from .dialogs import files
from .session_qt import SessionSignals
from .settings import Settings
from .team import install as install_team
from .view.frame_view import FrameView
from .view.options import OverlayOptions
from .view_tools import install as install_view_tools
from .widgets.banner import Banner
from .widgets.history_panel import HistoryPanel
from .widgets.instance_list import InstanceList
from .widgets.notice_banner import NoticeBanner
from .widgets.review_plot import ReviewPlot
from .widgets.timeline import Timeline
from .widgets.transport import Transport
from .widgets.video_list import VideoList
from .workers.jobs import Jobs

log = logging.getLogger(__name__)

# Bumped whenever the panels change, so an older saved dock layout is not restored.
LAYOUT_VERSION = 4


def log_path() -> str | None:
    """Where this process logs (the newest file handler ``pose-studio`` set up), if anywhere."""
    for h in reversed(logging.getLogger().handlers):
        name = getattr(h, "baseFilename", None)
        if name and Path(name).is_file():
            return str(name)
    return None


def internal_error_text(exc: BaseException) -> str:
    where = log_path()
    return (f"Internal error: {type(exc).__name__}: {exc}\n\n"
            + (f"Details are in the log: {where}" if where else
               "Details were written to the console (no log file is set up).")
            + "\nThe project is unchanged apart from edits already made.")


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A handler of the window: a PoseStudioError becomes a message; a bug is logged and
    summarised with where the log is."""

    @functools.wraps(fn)
    def wrapper(self: MainWindow, *args: Any, **kwargs: Any) -> Any:
        return self.guard(fn, self, *args, **kwargs)

    return wrapper


class MainWindow(QMainWindow):
    """Pose Studio's window.

    Args:
        settings: Where layout and recent files are kept (tests pass an isolated one).
        loader_factory: ``(parent) -> FrameLoader`` (tests may pass one with a fake reader).
        inference_factory: ``(parent) -> InferenceController`` or None for the default.
    """

    def __init__(self, settings: Settings | None = None, *,
                 loader_factory: Callable[[QObject], Any] | None = None,
                 inference_factory: Callable[[QObject], Any] | None = None) -> None:
        super().__init__()
        self.setObjectName("main_window")
        icon = resource("icons", "pose-studio.svg")
        if icon.exists():
            self.setWindowIcon(QIcon(str(icon)))
        self.settings = settings or Settings()
        self.messages: list[tuple[str, str]] = []  # (title, text) of every message shown
        self.session = Session(user=self.settings.user_name())
        self.signals = SessionSignals(self.session, self)
        self.options = OverlayOptions(**{n: self.settings.flag(n, d) for n, d in (
            ("skeleton", True), ("keypoints", True), ("labels", False), ("predictions", True))})
        self.view = FrameView(self)
        self.view.set_options(self.options)
        self.jobs = Jobs(self, on_failed=lambda p, m: self.status(f"{p}: {m}", 8000))
        # Late-bound: tests and the screenshot command replace show_error on the window.
        self.shell = Shell(self, self.session, self.signals, self.view, self.settings, self.jobs,
                           self._status_late, self._error_late)
        self._build_central()
        self._build_docks()
        self.loader = (loader_factory or _default_loader)(self)
        self.inference = self._make_lane(inference_factory)
        self._build_controllers()
        self.actions_by_id: dict[str, QAction] = build_actions(self, self._handlers())
        self.display = Display(self.shell, self.video_list, self.instance_list, self.timeline,
                               self.history_panel, self.actions_by_id)
        self._build_menus()
        self._wire()
        self.runs = install_runs(self)  # Runs, Compare Runs, A/B, Get a Model…
        self.view_tools = install_view_tools(self)  # trails, display, place, prefs, skeleton
        self.team = install_team(self)  # Connect to a Server…, live updates, the Team panel
        self._default_size()
        self._restore_layout()
        self.view.show_message(NO_PROJECT)
        self.display.update_title()
        self.display.update_enabled()
        self.setAcceptDrops(True)
        self._closed = False

    # --- building ------------------------------------------------------------------------------
    def _build_central(self) -> None:
        self.timeline = Timeline(self)
        self.transport = Transport(self)
        self.banner = Banner(self)
        self.notice_banner = NoticeBanner(self)
        central = QWidget(self)
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.notice_banner)
        lay.addWidget(self.banner)
        lay.addWidget(self.view, 1)
        row = QHBoxLayout()
        row.setContentsMargins(6, 4, 6, 0)
        row.addWidget(self.timeline)
        lay.addLayout(row)
        lay.addWidget(self.transport)
        self.setCentralWidget(central)
        self.zoom_label = QLabel("", self)
        self.pos_label = QLabel("", self)
        self.frame_label = QLabel("", self)  # an image set's file name and size
        self.frame_label.setObjectName("frame_label")
        self.statusBar().addPermanentWidget(self.frame_label)
        self.statusBar().addPermanentWidget(self.pos_label)
        self.statusBar().addPermanentWidget(self.zoom_label)

    def _build_docks(self) -> None:
        self.docks: dict[str, QDockWidget] = {}
        self.video_list = VideoList(self)
        self.instance_list = InstanceList(self)
        self.history_panel = HistoryPanel(self)
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.resizeDocks([self._add_dock("videos", "Videos", self.video_list, left)], [220],
                         Qt.Orientation.Horizontal)
        self._add_dock("instances", "Instances", self.instance_list, right)
        self._add_dock("history", "History", self.history_panel, right)

    def _add_dock(self, name: str, title: str, widget: QWidget,
                  area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{name}")
        # A panel taller than its share scrolls instead of raising the window's minimum size
        # (a dozen panels would otherwise not fit a laptop screen).
        scroll = QScrollArea(dock)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(widget)
        dock.setWidget(scroll)
        self.addDockWidget(area, dock)
        self.docks[name] = dock
        return dock

    def add_panel(self, name: str, title: str, widget: QWidget,
                  area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea
                  ) -> QDockWidget:
        """Dock a panel and list it under View ▸ Panels (the extension point for panels)."""
        dock = self._add_dock(name, title, widget, area)
        panels = getattr(self, "panels_menu", None)
        if panels is not None:
            panels.addAction(dock.toggleViewAction())
        return dock

    def _make_lane(self, factory: Callable[[QObject], Any] | None) -> Any:
        try:
            if factory is not None:
                return factory(self)
            from .workers.inference import InferenceController

            return InferenceController(self)
        except Exception:
            log.exception("starting the inference lane failed")
            return None

    def _build_controllers(self) -> None:
        sh = self.shell
        self.model_panel: Any = None
        if self.inference is not None:
            from .widgets.model_panel import ModelPanel

            self.model_panel = ModelPanel(self.settings.qsettings, "model/last", self)
            self.model_panel.status_message.connect(lambda t: self.status(t, 6000))
            self.add_panel("model", "Model", self.model_panel)
        self.review_plot = ReviewPlot(parent=self)
        dock = self.add_panel("review", "Confidence", self.review_plot,
                              Qt.DockWidgetArea.BottomDockWidgetArea)
        self.resizeDocks([dock], [190], Qt.Orientation.Vertical)
        self.opening: OpeningController
        self.playback = PlaybackController(sh, self.loader, self.transport, self.timeline,
                                           lambda: self.opening.ready())
        self.fingerprints = FingerprintController(sh, self.banner, self.goto,
                                                  lambda: self.playback.playing)
        self.opening = OpeningController(sh, self.loader, self.playback, self.fingerprints,
                                         self._default_skeleton)
        self.opening.ask_relink_path = lambda rec: files.relink_path(self, rec)
        self.opening.ask_open_read_only = lambda reason: files.open_read_only(self, reason)
        self.opening.ask_video_target = lambda v, name: files.video_target(self, v, name)
        self.model = ModelController(sh, self.inference, self.model_panel,
                                     lambda: self.playback.playing)
        self.opening.on_stop.append(self.model.cancel_batch)
        self.sources = SourceController(sh, self.loader, self.opening, self.notice_banner,
                                        self.frame_label)
        self.datasets = DatasetController(sh, self.opening, self.sources)
        self.editing: EditController
        self.review = ReviewController(sh, self.review_plot, self.goto,
                                       lambda: self.editing.redraw())
        self.editing = EditController(sh, self.playback, self.opening, self.model,
                                      self.instance_list, self.history_panel,
                                      lambda: self.display.refresh_instances())
        self.labeling = install_labeling(self)  # issue 15's tools: panels, controllers, keys
        if self.model_panel is not None:
            last = self.model_panel.pose_path()
            if last and Path(last).is_file():  # the last model is ready without a click
                QTimer.singleShot(0, self.model_panel.request_load)

    def _handlers(self) -> dict[str, Callable[..., Any]]:
        e, p, m, r, o = self.editing, self.playback, self.model, self.review, self.opening
        v = self.view
        plain: dict[str, Callable[..., Any]] = {
            "open": self.act_open, "new_project": self.act_new_project,
            "add_video": self.act_add_video, "relink_video": o.relink,
            "add_images": self.act_add_images, "add_image_folder": self.act_add_image_folder,
            "save_as": self.act_save_as, "export_dataset": self.datasets.export_dataset,
            "import_dataset": lambda: self.datasets.import_dataset(),
            "close_project": o.close_project,
            "quit": self.close, "undo": e.undo, "redo": e.redo, "accept": e.accept,
            "accept_all": e.accept_all, "add_instance": e.add_instance,
            "delete_instance": e.delete, "cycle_visibility": e.cycle_visibility,
            "nudge_up": lambda: e.nudge_or_step(0, -1), "nudge_down": lambda: e.nudge_or_step(0, 1),
            "nudge_up_10": lambda: e.nudge_or_step(0, -10),
            "nudge_down_10": lambda: e.nudge_or_step(0, 10),
            "next_instance": lambda: e.cycle_instance(1),
            "prev_instance": lambda: e.cycle_instance(-1),
            "next_keypoint": lambda: e.step_keypoint(1),
            "prev_keypoint": lambda: e.step_keypoint(-1),
            "clear_selection": lambda: self.session.select(None), "fit": v.fit,
            "zoom_in": lambda: v.zoom(1.25), "zoom_out": lambda: v.zoom(0.8),
            "heatmap_more": lambda: m.set_heat_opacity(v.heatmap_opacity + 0.1),
            "heatmap_less": lambda: m.set_heat_opacity(v.heatmap_opacity - 0.1),
            "play": p.toggle, "next_frame": lambda: e.nudge_or_step(1),
            "prev_frame": lambda: e.nudge_or_step(-1), "next_10": lambda: e.nudge_or_step(10),
            "prev_10": lambda: e.nudge_or_step(-10), "first_frame": lambda: self.goto(0),
            "last_frame": p.last, "goto_frame": self.act_goto_frame,
            "next_labeled": lambda: r.next_labeled(1), "prev_labeled": lambda: r.next_labeled(-1),
            "next_unlabeled": lambda: r.next_unlabeled(1),
            "prev_unlabeled": lambda: r.next_unlabeled(-1),
            "next_low": lambda: r.next_low(1), "prev_low": lambda: r.next_low(-1),
            "speed_up": p.faster, "speed_down": p.slower,
            "next_video": lambda: o.step_video(1), "prev_video": lambda: o.step_video(-1),
            "predict_frame": m.predict_frame, "snap_peak": e.snap, "train": self.act_train,
            "shortcuts": self.act_shortcuts, "about": self.act_about,
            "show_heatmap": self._toggle_heatmap,
            "move_mode": lambda on: setattr(self.view, "move_mode", bool(on)),
        }
        for name in ("skeleton", "keypoints", "labels", "predictions"):
            plain[f"show_{name}"] = functools.partial(self._toggle, name)
        plain.update(self.labeling.handlers)
        return {k: functools.partial(self.guard, f) for k, f in plain.items()}

    def _build_menus(self) -> None:
        menus = {title: self.menuBar().addMenu(title) for title in MENUS}
        for spec in ACTIONS:
            menus[spec.menu].addAction(self.actions_by_id[spec.id])
            if spec.id == "open":
                self.recent_menu = menus[spec.menu].addMenu("Open &Recent")
                self.recent_menu.aboutToShow.connect(self.fill_recent_menu)
            if spec.id in ("save_as", "export_dataset", "close_project", "redo", "cycle_visibility",
                           "zoom_out", "show_heatmap", "goto_frame", "prev_low", "speed_down",
                           "train"):
                menus[spec.menu].addSeparator()
        menus["&View"].addSeparator()
        self.panels_menu: QMenu = menus["&View"].addMenu("&Panels")
        for dock in self.docks.values():
            self.panels_menu.addAction(dock.toggleViewAction())
        for aid in VIEW_ONLY:
            act = self.actions_by_id[aid]
            act.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.view.addAction(act)
        for name in ("skeleton", "keypoints", "labels", "predictions"):
            act = self.actions_by_id[f"show_{name}"]
            act.blockSignals(True)
            act.setChecked(getattr(self.options, name))
            act.blockSignals(False)

    def _wire(self) -> None:
        self.view.zoom_changed.connect(lambda s: self.zoom_label.setText(f"{s * 100:.0f}%"))
        self.view.hovered.connect(lambda t: self.status(t, 3000))
        self.view.viewport().installEventFilter(self)
        self.video_list.video_activated.connect(
            lambda vid: self.guard(self.opening.show_video, vid))
        self.video_list.relink_requested.connect(lambda vid: self.guard(self.opening.relink, vid))
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)  # text fields in docks keep their keys

    def fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files()
        for path in recent:
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _c=False, p=path: self.open_paths([p]))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear", self.settings.clear_recent)
        else:
            self.recent_menu.addAction("(none)").setEnabled(False)

    def _default_size(self) -> None:
        """Most of the screen, up to 1600x1000 (a saved geometry replaces it)."""
        screen = QApplication.primaryScreen()
        avail = screen.availableGeometry() if screen is not None else None
        if avail is None or avail.width() <= 0:
            self.resize(1280, 800)
            return
        self.resize(min(1600, int(avail.width() * 0.9)), min(1000, int(avail.height() * 0.9)))

    def _restore_layout(self) -> None:
        geo, state = self.settings.geometry(), self.settings.window_state()
        if geo is not None:
            self.restoreGeometry(geo)
        # A layout saved by a version with other panels is ignored (Qt checks the number), so
        # new panels appear where they belong instead of wherever an old layout leaves them.
        if state is None or not self.restoreState(state, LAYOUT_VERSION):
            side = [d for d in (self.docks.get("videos"), self.docks.get("instances")) if d]
            self.resizeDocks(side, [240, 340][:len(side)], Qt.Orientation.Horizontal)
            if "review" in self.docks:
                self.resizeDocks([self.docks["review"]], [200], Qt.Orientation.Vertical)

    # --- messages ------------------------------------------------------------------------------
    def show_error(self, title: str, text: str, *, critical: bool = False) -> None:
        """A message box with the reason (never a traceback)."""
        self.messages.append((title, text))
        log.info("message: %s: %s", title, text)
        (QMessageBox.critical if critical else QMessageBox.warning)(self, title, text)
        self.activateWindow()  # shortcuts keep working after the box (even without a WM)

    def status(self, text: str, ms: int = 4000) -> None:
        self.statusBar().showMessage(text, ms)

    def _status_late(self, text: str, ms: int = 4000) -> None:
        self.status(text, ms)

    def _error_late(self, title: str, text: str) -> None:
        self.show_error(title, text)

    def guard(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a handler: a PoseStudioError becomes a message box; a bug is summarised."""
        try:
            return fn(*args, **kwargs)
        except PoseStudioError as exc:
            self.show_error("Pose Studio", str(exc))
        except Exception as exc:
            log.exception("internal error in %s", getattr(fn, "__name__", fn))
            self.show_error("Internal error", internal_error_text(exc), critical=True)
        return None

    # --- the public surface (command line, drops, tests) ---------------------------------------
    @guarded
    def open_paths(self, paths: Sequence[str | Path]) -> None:
        """Open projects, videos, image sets and dataset files (command line, File ▸ Open,
        drops, recent files); a database URL opens the project on that server."""
        rest = self.team.open_urls_in(paths)
        if rest:
            self.datasets.open_paths(rest)

    def goto(self, frame_idx: int) -> None:
        """Show ``frame_idx`` (clamped); stops playback."""
        self.playback.goto(frame_idx)

    @guarded
    def show_video(self, video_id: int) -> None:
        self.opening.show_video(video_id)

    @property
    def fingerprint_report(self) -> Any:
        return self.fingerprints.report

    def busy(self) -> bool:
        """Background work for the current video is still running (review curves, checks)."""
        return self.jobs.busy or self.review.busy or self.opening.busy

    def _default_skeleton(self) -> Skeleton:
        """The loaded model's skeleton, else COCO-17."""
        info = self.model.info if hasattr(self, "model") else None
        sk = getattr(info, "skeleton", None)
        return sk if isinstance(sk, Skeleton) else COCO17

    # --- view toggles --------------------------------------------------------------------------
    def _toggle(self, name: str, on: bool) -> None:
        setattr(self.options, name, bool(on))
        self.settings.set_flag(name, bool(on))
        self.view.set_options(self.options)
        self.display.refresh_instances()

    def _toggle_heatmap(self, on: bool) -> None:
        self.options.heatmap = bool(on)
        self.view.set_options(self.options)
        self.model.set_heatmap(on)

    # --- file actions --------------------------------------------------------------------------
    def _start_dir(self) -> str:
        """Where file dialogs open: the project's folder, else the last file's."""
        if self.session.project is not None:
            return str(Path(str(self.session.project.path)).parent)
        for f in self.settings.recent_files():
            if Path(f).parent.is_dir():
                return str(Path(f).parent)
        return str(Path.home())

    def act_open(self) -> None:
        paths = files.open_paths(self, self._start_dir())
        if paths:
            self.open_paths(paths)

    def act_new_project(self) -> None:
        path = files.new_project_path(self, self._start_dir())
        if path is not None:
            self.opening.create_project(path)

    def act_add_video(self) -> None:
        if self.session.project is not None:
            paths = files.add_videos(self, self._start_dir())
            if paths:
                self.opening.add_videos(paths)

    def act_add_images(self) -> None:
        paths = files.add_images(self, self._start_dir())
        if paths:
            self.sources.add_image_sets([], paths)

    def act_add_image_folder(self) -> None:
        folder = files.add_image_folder(self, self._start_dir())
        if folder is not None:
            self.sources.add_image_sets([folder], [])

    def act_save_as(self) -> None:
        if self.session.project is None:
            return
        path = files.save_as_path(self, str(self.session.project.path))
        if path is not None:
            new = self.session.save_as(path)
            self.display.update_title()
            self.status(f"saved a copy to {new}; editing it now", 8000)

    def act_goto_frame(self) -> None:
        s = self.session
        if s.video_id is None:
            return
        value, ok = QInputDialog.getInt(self, "Go to frame", f"Frame (0 – {s.frame_count - 1}):",
                                        s.frame_idx, 0, max(0, s.frame_count - 1))
        if ok:
            self.goto(value)

    def act_train(self) -> None:
        if self.session.project is None:
            raise PoseStudioError("open a project with labels first")
        from .dialogs.train_dialog import TrainDialog

        dlg = TrainDialog(str(self.session.project.path), self)
        dlg.model_ready.connect(self._use_trained_model)
        dlg.exec()

    def _use_trained_model(self, onnx_path: str) -> None:
        if self.model_panel is not None:
            self.model_panel.set_pose_path(onnx_path)
            self.model_panel.request_load()

    def act_shortcuts(self) -> None:
        from .dialogs.shortcuts import ShortcutsDialog, entries_from_actions

        ShortcutsDialog(entries_from_actions(self.view_tools.keymap.table()), self).exec()

    def act_about(self) -> None:
        from pose_studio import __version__

        QMessageBox.about(self, "About Pose Studio",
                          f"Pose Studio {__version__}\nPose datasets from video, with undo.")

    # --- Qt events -----------------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and typing_keys.is_typing(obj, event,
                                                                                  self):
            event.accept()  # typing in a text field beats the one-letter shortcuts
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
        """Stop every thread, save the layout, close the project. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self.settings.save_layout(self.saveGeometry(), self.saveState(LAYOUT_VERSION))
            self.settings.sync()
        except Exception:
            log.exception("saving the window layout failed")
        self.playback.closed = True
        self.playback.playing = False
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.jobs.stop_all()
        for lane in (self.loader, self.inference):
            if lane is not None:
                try:
                    lane.shutdown()
                except Exception:
                    log.exception("stopping a worker failed")
        while QApplication.overrideCursor() is not None:
            QApplication.restoreOverrideCursor()
        self.team.stop()  # the listener thread and its connection
        try:
            self.session.close()
        except Exception:
            log.exception("closing the project failed")
        self.signals.detach()


def _default_loader(parent: QObject) -> Any:
    from .workers.decode import FrameLoader

    return FrameLoader(parent)


__all__ = ["MainWindow", "guarded", "internal_error_text", "log_path"]
