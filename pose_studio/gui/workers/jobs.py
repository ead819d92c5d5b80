"""Small one-shot background jobs (fingerprint checks, review score matrices).

``BackgroundJob(fn)`` runs ``fn(cancelled)`` on its own QThread; ``cancelled()`` returns True
once :meth:`BackgroundJob.cancel` was called, and a long ``fn`` should return early then.
``done(object)`` carries the result and ``failed(str)`` a user-readable reason; both arrive on
the GUI thread, and never after :meth:`cancel` (late results are dropped, so a job started for
a video that is no longer shown cannot paint over the new one). :meth:`stop` cancels and joins;
the window calls it on close so no thread outlives it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from pose_studio.core.errors import PoseStudioError

log = logging.getLogger(__name__)


class _Runner(QThread):
    result = Signal(object)
    error = Signal(str)

    def __init__(self, fn: Callable[[Callable[[], bool]], Any], flag: threading.Event) -> None:
        super().__init__()
        self._fn = fn
        self._flag = flag

    def run(self) -> None:
        try:
            out = self._fn(self._flag.is_set)
        except PoseStudioError as exc:
            self.error.emit(str(exc))
            return
        except Exception as exc:  # a bug: log it, report it briefly
            log.exception("background job failed")
            self.error.emit(f"internal error: {type(exc).__name__}: {exc}")
            return
        self.result.emit(out)


class BackgroundJob(QObject):
    """See the module docstring."""

    done = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[Callable[[], bool]], Any], parent: QObject | None = None,
                 name: str = "pose-studio-job") -> None:
        super().__init__(parent)
        self._flag = threading.Event()
        self._thread: _Runner | None = _Runner(fn, self._flag)
        self._thread.setObjectName(name)
        self._thread.result.connect(self._on_result)
        self._thread.error.connect(self._on_error)

    def start(self) -> BackgroundJob:
        if self._thread is not None:
            self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def cancel(self) -> None:
        """Ask the job to stop; its result (if any) is dropped."""
        self._flag.set()

    def stop(self, timeout_ms: int = 3000) -> None:
        """Cancel and join (safe twice)."""
        self.cancel()
        th = self._thread
        if th is not None and th.isRunning() and not th.wait(timeout_ms):
            log.warning("background job %s did not stop in %d ms", th.objectName(), timeout_ms)

    def _on_result(self, out: object) -> None:
        if not self._flag.is_set():
            self.done.emit(out)

    def _on_error(self, msg: str) -> None:
        if not self._flag.is_set():
            self.failed.emit(msg)



class Jobs(QObject):
    """Background jobs by purpose: a newer job of a purpose cancels the older one (its result is
    dropped); :meth:`stop_all` joins them all (on close)."""

    def __init__(self, parent: QObject | None = None,
                 on_failed: Callable[[str, str], None] | None = None) -> None:
        super().__init__(parent)
        self._jobs: dict[str, BackgroundJob] = {}
        self._finishing: list[BackgroundJob] = []
        self._on_failed = on_failed
        self.closed = False

    def run(self, purpose: str, fn: Callable[[Callable[[], bool]], Any],
            on_done: Callable[[Any], None],
            on_failed: Callable[[str], None] | None = None) -> None:
        """Run ``fn(cancelled)`` off the GUI thread and hand its result to ``on_done`` (a
        failure's reason to ``on_failed`` too, when given)."""
        if self.closed:
            return
        self.cancel(purpose)
        job = BackgroundJob(fn, self, name=f"pose-studio-{purpose}")
        job.done.connect(on_done)
        if on_failed is not None:
            job.failed.connect(on_failed)
        if self._on_failed is not None:
            cb = self._on_failed
            job.failed.connect(lambda msg, p=purpose: cb(p, msg))
        self._jobs[purpose] = job
        job.start()
        self._finishing = [j for j in self._finishing if j.running]

    def cancel(self, purpose: str | None = None) -> None:
        """Cancel one purpose's job (or all): its result will not arrive."""
        for p in ([purpose] if purpose is not None else list(self._jobs)):
            old = self._jobs.pop(p, None)
            if old is not None:
                old.cancel()
                self._finishing.append(old)

    def stop(self, purpose: str, timeout_ms: int = 3000) -> None:
        """Cancel one purpose's job and wait for its thread (it may be writing)."""
        job = self._jobs.pop(purpose, None)
        if job is not None:
            job.stop(timeout_ms)
            if job.running:
                self._finishing.append(job)

    @property
    def busy(self) -> bool:
        return any(j.running for j in self._jobs.values())

    def stop_all(self) -> None:
        self.closed = True
        for job in [*self._jobs.values(), *self._finishing]:
            job.stop()
        self._jobs.clear()
        self._finishing = []


__all__ = ["BackgroundJob", "Jobs"]
