"""Application entry points: ``run_app`` (the window) and ``screenshot`` (docs, tests)."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from pose_studio.core.errors import PoseStudioError
from pose_studio.core.paths import resource

log = logging.getLogger(__name__)

APP_NAME = "Pose Studio"
ORG_NAME = "PoseStudio"


def ensure_app(argv: Sequence[str] | None = None) -> QApplication:
    """The process's QApplication (created once, with name, icon and style)."""
    app = QApplication.instance()
    if app is None:
        QCoreApplication.setOrganizationName(ORG_NAME)
        QCoreApplication.setApplicationName(APP_NAME)
        app = QApplication(list(argv) if argv is not None else [sys.argv[0] if sys.argv else "pose-studio"])
        app.setApplicationDisplayName(APP_NAME)
        app.setDesktopFileName("pose-studio")
        icon = resource("icons", "pose-studio.svg")
        if icon.exists():
            app.setWindowIcon(QIcon(str(icon)))
        app.setStyle("Fusion")
        qss = resource("style.qss")
        if qss.exists():
            try:
                app.setStyleSheet(qss.read_text(encoding="utf-8"))
            except OSError:
                log.warning("could not read %s", qss)
    assert isinstance(app, QApplication)
    return app


#: Packages the window never needs (the command line; training runs in its own process).
_NOT_PRELOADED = ("pose_studio.cli", "pose_studio.__main__", "pose_studio.train.")
_TRAIN_NEEDED = ("pose_studio.train.api", "pose_studio.train.errors", "pose_studio.train.bundle")


def preload() -> list[str]:
    """Import now every module of the package the window may import later (dialogs, the COCO
    exporter, the model engine...), so that installing another version into the same
    environment while the window is open cannot pull a module from under it (Export failed
    with ``ModuleNotFoundError`` that way). Returns the modules that could not be imported
    (an optional dependency missing)."""
    import pose_studio

    missing = []
    for m in pkgutil.walk_packages(pose_studio.__path__, "pose_studio."):
        name = m.name
        if name.startswith(_NOT_PRELOADED) and name not in _TRAIN_NEEDED:
            continue
        try:
            importlib.import_module(name)
        except ImportError as exc:
            log.info("not preloaded: %s (%s)", name, exc)
            missing.append(name)
    return missing


def _install_excepthook() -> None:
    """Unexpected exceptions in slots: log the traceback, show a short message, keep running."""

    def hook(etype: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(etype, KeyboardInterrupt):
            sys.__excepthook__(etype, value, tb)
            return
        if isinstance(value, PoseStudioError):
            text, title = str(value), APP_NAME
        else:
            from .main_window import internal_error_text

            log.error("internal error:\n%s", "".join(traceback.format_exception(etype, value, tb)))
            text = internal_error_text(value)
            title = "Internal error"
        app = QApplication.instance()
        if app is not None:
            parent = QApplication.activeWindow()
            QMessageBox.critical(parent, title, text)

    sys.excepthook = hook


def _quit_on_signals(win: Any) -> None:
    """Ctrl+C in the terminal or SIGTERM closes the window properly (threads stopped, project
    checkpointed) instead of killing the process mid-write."""
    import signal

    def close(*_: object) -> None:
        QTimer.singleShot(0, win.close)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, close)
        except (ValueError, OSError):  # not the main thread, or not supported here
            return
    # Python only runs signal handlers between bytecodes: wake the interpreter regularly.
    timer = QTimer(win)
    timer.timeout.connect(lambda: None)
    timer.start(250)


def run_app(paths: list[str]) -> int:
    """Open the window on ``paths`` (videos and/or one project) and run the event loop."""
    app = ensure_app()
    _install_excepthook()
    from .main_window import MainWindow

    win = MainWindow()
    _quit_on_signals(win)
    win.show()
    win.raise_()
    win.activateWindow()  # shortcuts work at once, even without a window manager
    if paths:
        QTimer.singleShot(0, lambda: win.open_paths(list(paths)))
    QTimer.singleShot(200, preload)  # once the window is up
    try:
        return int(app.exec())
    finally:
        win.shutdown()


def _wait(ms: int, until: Any = None) -> None:
    """Run the event loop for up to ``ms`` milliseconds (or until ``until()`` is true)."""
    import time

    app = QApplication.instance()
    assert app is not None
    end = time.monotonic() + ms / 1000.0
    while time.monotonic() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        if until is not None and until():
            return
        time.sleep(0.005)


def screenshot(
    path_or_none: str | Path | None,
    frame: int | None,
    out_png: str | Path,
    *,
    size: tuple[int, int] = (1400, 860),
    timeout_s: float = 30.0,
    model: str | Path | None = None,
    heatmap: bool = False,
) -> None:
    """Render the main window offscreen (``grab()``) on a project or video and save a PNG.

    A video without a project is opened in a temporary project (never beside the video).
    ``model`` loads a pose model first (the Model panel shows it); ``heatmap`` then overlays
    its heatmaps on the frame (needs ``model``).

    Raises:
        PoseStudioError: the file cannot be opened or the image cannot be written.
    """
    import tempfile

    ensure_app()
    from .main_window import MainWindow
    from .settings import Settings

    out = Path(out_png)
    with tempfile.TemporaryDirectory(prefix="pose-studio-shot-") as tmp:
        from PySide6.QtCore import QSettings

        qs = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        win = MainWindow(Settings(qs))
        errors: list[str] = []

        def collect(title: str, text: str, *, critical: bool = False) -> None:
            errors.append(text)

        win.show_error = collect  # type: ignore[method-assign]
        try:
            win.resize(*size)
            win.show()
            _wait(50)
            if path_or_none is not None:
                p = Path(path_or_none)
                if p.suffix.lower() == ".posestudio":
                    win.open_paths([str(p)])
                else:  # a temporary project, never one beside the video
                    win.opening.create_project(Path(tmp) / (p.stem + ".posestudio"))
                    win.guard(win.opening.add_videos, [p])
                s = win.session
                _wait(int(timeout_s * 1000),
                      lambda: bool(errors) or (s.shown is not None and not win.opening.busy))
                if errors:
                    raise PoseStudioError(errors[0])
                if frame is not None:
                    win.goto(int(frame))
                    _wait(int(timeout_s * 1000),
                          lambda: bool(errors) or s.shown_exact() is not None)
                    if errors:
                        raise PoseStudioError(errors[0])
                if model is not None:
                    _load_model_for_shot(win, Path(model), heatmap, errors, timeout_s)
                _wait(int(timeout_s * 1000), lambda: not win.busy())  # the review curves
                _wait(300)
            pix = win.grab()
            out.parent.mkdir(parents=True, exist_ok=True)
            if not pix.save(str(out), "PNG"):
                raise PoseStudioError(f"cannot write the screenshot {out}")
        finally:
            win.shutdown()
            win.close()
            win.deleteLater()
            _wait(20)


def _load_model_for_shot(win: Any, model: Path, heatmap: bool, errors: list[str],
                         timeout_s: float) -> None:
    if not model.is_file():
        raise PoseStudioError(f"cannot load the model {model}: no such file")
    panel = getattr(win, "model_panel", None)
    if panel is None or win.inference is None:
        raise PoseStudioError("model inference is not available (onnxruntime missing?)")
    panel.set_pose_path(str(model))
    panel.request_load()
    _wait(int(timeout_s * 1000), lambda: bool(errors) or win.model.ready())
    if errors:
        raise PoseStudioError(errors[0])
    if heatmap:
        win.actions_by_id["show_heatmap"].setChecked(True)
        _wait(int(timeout_s * 1000), lambda: bool(errors) or win.view.has_heatmap())
        if errors:
            raise PoseStudioError(errors[0])


__all__ = ["ensure_app", "preload", "run_app", "screenshot"]
