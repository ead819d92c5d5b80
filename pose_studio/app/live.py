"""Others' edits, live: the project's change feed (``store/live.py``) applied to the session.

:class:`LiveUpdates` belongs to the GUI thread: :meth:`poll` (a timer calls it, a few times a
second) drains what the listener thread received and tells the session, which re-reads what
is shown (the current frame, the timeline's arrays, the panels) and publishes the usual topics.
"""

from __future__ import annotations

from typing import Any

from pose_studio.store.live import Change, ChangeFeed

from .session import Session

__all__ = ["LiveUpdates"]


class LiveUpdates:
    """Follows the session's project (see the module docstring)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._feed: ChangeFeed | None = None
        self._project: Any = None
        self.last: Change | None = None  # the newest change applied (for a status line)

    @property
    def listening(self) -> bool:
        return self._feed is not None and self._feed.active

    @property
    def problem(self) -> str | None:
        return None if self._feed is None else self._feed.problem

    def follow(self) -> None:
        """(Re)start listening when the session's project changed; stop when it closed."""
        project = self.session.project
        if project is self._project:
            return
        self.stop()
        self._project = project
        if project is not None:
            feed = ChangeFeed(project)
            if feed.start():
                self._feed = feed

    def stop(self) -> None:
        if self._feed is not None:
            self._feed.stop()
        self._feed = None
        self._project = None

    def poll(self) -> list[Change]:
        """Apply what arrived; returns it (oldest first)."""
        self.follow()
        if self._feed is None:
            return []
        changes = self._feed.poll()
        if not changes:
            return []
        if any(c.everything for c in changes):
            self.session.changed_elsewhere(None)
        else:
            merged: dict[int, set[int] | None] = {}
            topics: set[str] = set()
            for c in changes:
                topics |= c.topics
                for v, fs in c.frames.items():
                    have = merged.get(v, set())
                    if fs is None or have is None:
                        merged[v] = None
                    else:
                        merged[v] = have | set(fs)
            self.session.changed_elsewhere(
                {v: None if fs is None else tuple(sorted(fs)) for v, fs in merged.items()},
                topics)
        self.last = changes[-1]
        return changes
