"""The session seen from Qt: one signal carrying what changed.

:class:`SessionSignals` subscribes to a :class:`~pose_studio.app.session.Session` and re-emits
each change as ``changed(topics, frames)`` (a frozenset of ``Topic`` and a tuple of
``(video_id, frame_idx)``). The session lives on the GUI thread, so the signal is delivered
synchronously, in order; widgets connect to it instead of calling back into the session.
This module is the only place that emits it.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from pose_studio.app.session import Frames, Session, Topic

__all__ = ["SessionSignals"]


class SessionSignals(QObject):
    """``changed(frozenset[Topic], tuple[tuple[int, int], ...])`` after every session change."""

    changed = Signal(object, object)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._unsubscribe = session.subscribe(self._relay)

    def _relay(self, topics: frozenset[Topic], frames: Frames) -> None:
        self.changed.emit(topics, frames)

    def detach(self) -> None:
        self._unsubscribe()
