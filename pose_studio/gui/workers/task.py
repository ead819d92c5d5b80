"""A one-shot cancellable background task with progress (Orange ``TaskState`` style).

Usage (GUI thread)::

    task = BackgroundTask(lambda progress, cancel: export_coco(project, out, progress=progress,
                                                               cancel=cancel), parent=dialog)
    task.progress.connect(bar.update)          # (done, total), at most ~10 Hz + the last one
    task.succeeded.connect(show_summary)       # (result)
    task.failed.connect(show_error)            # (message): PoseStudioError text, or a bug note
    task.finished.connect(enable_buttons)      # always, after succeeded/failed
    task.start(); task.cancel(); task.wait()

``fn(progress, cancel)`` runs on its own QThread; ``progress(done, total)`` may be called as
often as it likes (throttled here) and ``cancel`` is a ``threading.Event`` it should poll. The
task never touches widgets; results cross as plain Python objects.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from pose_studio.core.errors import PoseStudioError

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
TaskFn = Callable[[ProgressFn, threading.Event], Any]

_LINGERING: list[QThread] = []


class _TaskThread(QThread):
    progress = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: TaskFn, cancel: threading.Event, interval_s: float) -> None:
        super().__init__()
        self._fn = fn
        self._cancel = cancel
        self._interval = interval_s
        self._last = 0.0

    def _progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - self._last >= self._interval:
            self._last = now
            self.progress.emit(int(done), int(total))

    def run(self) -> None:
        try:
            result = self._fn(self._progress, self._cancel)
        except PoseStudioError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:
            log.exception("background task failed")
            self.failed.emit(f"internal error: {type(exc).__name__}: {exc} (details in the log)")
        else:
            self.succeeded.emit(result)


class BackgroundTask(QObject):
    """Runs ``fn(progress, cancel)`` once on a worker thread; see the module docstring."""

    progress = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, fn: TaskFn, parent: QObject | None = None, *,
                 progress_interval_s: float = 0.1) -> None:
        super().__init__(parent)
        self._cancel = threading.Event()
        self._thread = _TaskThread(fn, self._cancel, progress_interval_s)
        self._thread.setParent(self)
        self._thread.progress.connect(self.progress)
        self._thread.succeeded.connect(self.succeeded)
        self._thread.failed.connect(self.failed)
        self._thread.finished.connect(self.finished)
        self._started = False

    @property
    def running(self) -> bool:
        return self._thread.isRunning()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def start(self) -> None:
        if self._started:
            raise RuntimeError("a BackgroundTask runs once")
        self._started = True
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout_ms: int = 5000) -> bool:
        """Join the thread; on timeout keep it referenced so Qt never destroys it running."""
        if not self._started:
            return True
        ok = bool(self._thread.wait(timeout_ms))
        if not ok:
            log.warning("background task did not stop within %d ms", timeout_ms)
            self._thread.setParent(None)  # outlive this object: never destroy a running thread
            _LINGERING.append(self._thread)
        return ok

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel and join."""
        self.cancel()
        return self.wait(timeout_ms)
