"""Labeling tools off the GUI thread: progress, Stop, and stale results dropped by request id.

:meth:`ToolJobs.start` runs ``fn(progress, stopped)`` through the window's
:class:`~pose_studio.gui.workers.jobs.Jobs` (one job per purpose; closing the window stops and
joins them). ``fn`` gets only frozen values (its request) and returns a value; ``progress(done,
total)`` is relayed to the GUI thread by a queued signal; ``stopped()`` turns True when the user
presses Stop (the tool returns what it has: propagation keeps the frames done) or when the job
is superseded. Each start has a request id: a result whose id is no longer the purpose's current
one (another request came, the video changed, the project closed) is dropped unseen.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from pose_studio.core.errors import PoseStudioError

from ..widgets.task_progress import TaskProgress
from .base import Shell

log = logging.getLogger(__name__)

ToolFn = Callable[[Callable[[int, int], None], Callable[[], bool]], Any]


@dataclass(frozen=True)
class Outcome:
    """What a tool job gave: its ``value``, or the ``error`` text; ``stopped`` by the user."""

    value: Any = None
    error: str | None = None
    stopped: bool = False


class ToolJobs(QObject):
    """See the module docstring."""

    progress = Signal(str, int, int, int)  # purpose, request id, done, total (queued)

    def __init__(self, shell: Shell, widget: TaskProgress) -> None:
        super().__init__(shell.window)
        self.shell = shell
        self.widget = widget
        self._next = 0
        self._current: dict[str, int] = {}
        self._stop: dict[str, threading.Event] = {}
        self.progress.connect(self._on_progress)
        widget.stop_requested.connect(self.stop)

    def current(self, purpose: str) -> int | None:
        """The request id of the purpose's running job (None: none runs)."""
        return self._current.get(purpose)

    @property
    def running(self) -> list[str]:
        return list(self._current)

    def start(self, purpose: str, text: str, total: int, fn: ToolFn,
              on_done: Callable[[Outcome], None]) -> int:
        """Run ``fn`` for ``purpose`` (a running one is superseded: its result is dropped)."""
        self.cancel(purpose)
        self._next += 1
        rid = self._next
        stop = threading.Event()
        self._current[purpose] = rid
        self._stop[purpose] = stop
        relay = self.progress
        last = [-1]

        def progress(done: int, tot: int) -> None:
            step = (100 * done) // max(tot, 1)  # at most ~100 updates, whatever the length
            if step != last[0] or done >= tot:
                last[0] = step
                relay.emit(purpose, rid, int(done), int(tot))

        def work(cancelled: Callable[[], bool]) -> tuple[int, Outcome]:
            stopped = lambda: stop.is_set() or cancelled()  # noqa: E731
            try:
                value = fn(progress, stopped)
            except PoseStudioError as exc:
                return rid, Outcome(error=str(exc))
            except Exception as exc:  # a bug: logged, reported in one line
                log.exception("%s failed", purpose)
                return rid, Outcome(error=f"internal error: {type(exc).__name__}: {exc} "
                                          "(details in the log)")
            return rid, Outcome(value, stopped=stop.is_set())

        def done(out: tuple[int, Outcome]) -> None:
            got, outcome = out
            if self._current.get(purpose) != got:
                return  # stale: superseded, or the video/project changed
            self._current.pop(purpose, None)
            self._stop.pop(purpose, None)
            self.widget.finish(purpose)
            on_done(outcome)

        self.widget.start(purpose, text, total)
        self.shell.jobs.run(purpose, work, done)
        return rid

    def stop(self, purpose: str | None = None) -> bool:
        """The user's Stop: the tool returns what it has (its result still arrives)."""
        purposes = [purpose] if purpose else list(self._stop)
        hit = False
        for p in purposes:
            ev = self._stop.get(p)
            if ev is not None:
                ev.set()
                hit = True
        return hit

    def cancel(self, purpose: str | None = None) -> None:
        """Drop the job(s): their results will not arrive."""
        for p in [purpose] if purpose else list(self._current):
            if self._current.pop(p, None) is not None:
                ev = self._stop.pop(p, None)
                if ev is not None:
                    ev.set()
                self.shell.jobs.cancel(p)
                self.widget.finish(p)

    def _on_progress(self, purpose: str, rid: int, done: int, total: int) -> None:
        if self._current.get(purpose) == rid:
            self.widget.set_progress(purpose, done, total)


__all__ = ["Outcome", "ToolJobs"]
