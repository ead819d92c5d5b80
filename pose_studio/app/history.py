"""The undo history as the window shows it: the journal kept in the project, plus a cursor.

The store's journal (``pose_studio.store.journal``) is the truth; :class:`History` keeps the
newest :data:`SHOWN` steps of it for the History panel and the Undo/Redo menu texts. Undo and
redo go to the store (one transaction per step), so a step undone in the window is undone on
disk, and the history a reopened project shows is the one it had.

A step whose instances were changed since by something outside the history (a model run, another
tool) cannot apply; it is dropped from the history with the reason, so older steps stay
reachable (as ``QUndoStack`` drops an obsolete command).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from pose_studio.core.edits import StaleEditError
from pose_studio.store.journal import Applied, JournalEntry, drop_step

if TYPE_CHECKING:
    from pose_studio.store.project import Project

__all__ = ["SHOWN", "History"]

#: Done steps kept for the panel (older ones stay in the file and are still undone in turn).
SHOWN = 500


class History:
    """Recent steps of one user (oldest first) and how many of them are done: each annotator
    has their own undo stack (``user``; None: ``$POSE_STUDIO_USER`` or the login)."""

    def __init__(self, user: str | None = None) -> None:
        self.user = user
        self.steps: list[JournalEntry] = []
        self.older = 0  # done steps in the file before ``steps[0]``
        self.dropped: list[str] = []  # why steps were dropped (for the window to say)

    def load(self, project: Project | None) -> None:
        if project is None:
            self.steps, self.older = [], 0
            return
        if self.user is None:
            from pose_studio.store.journal import default_user

            self.user = default_user()
        self.steps = project.history(SHOWN, user=self.user)
        done = sum(1 for s in self.steps if not s.undone)
        from pose_studio.store.journal import count_done

        self.older = max(0, count_done(project, self.user) - done)

    @property
    def done(self) -> int:
        """Index just past the newest done step in :attr:`steps`."""
        return sum(1 for s in self.steps if not s.undone)

    def can_undo(self) -> bool:
        return self.done > 0 or self.older > 0

    def can_redo(self) -> bool:
        return self.done < len(self.steps)

    def undo_text(self) -> str:
        d = self.done
        return self.steps[d - 1].label if d else ""

    def redo_text(self) -> str:
        d = self.done
        return self.steps[d].label if d < len(self.steps) else ""

    def record(self, entry: JournalEntry) -> None:
        """A step was applied (new, or merged into the newest one)."""
        self.steps = [s for s in self.steps if not s.undone]
        if self.steps and self.steps[-1].seq == entry.seq:
            self.steps[-1] = entry
        else:
            self.steps.append(entry)
        if len(self.steps) > SHOWN:
            self.older += len(self.steps) - SHOWN
            self.steps = self.steps[-SHOWN:]

    def _replace(self, entry: JournalEntry) -> None:
        for i, s in enumerate(self.steps):
            if s.seq == entry.seq:
                self.steps[i] = entry
                return

    def undo(self, project: Project, user: str | None = None) -> Applied | None:
        try:
            done = project.undo(user=user)
        except StaleEditError as e:
            self._drop_top(project, undoing=True, why=str(e), user=user)
            raise
        if done is None:
            return None
        if not any(s.seq == done.entry.seq for s in self.steps):  # an older step came in
            self.steps.insert(0, done.entry)
            self.older = max(0, self.older - 1)
        self._replace(done.entry)
        return done

    def redo(self, project: Project, user: str | None = None) -> Applied | None:
        try:
            done = project.redo(user=user)
        except StaleEditError as e:
            self._drop_top(project, undoing=False, why=str(e), user=user)
            raise
        if done is not None:
            self._replace(replace(done.entry))
        return done

    def _drop_top(self, project: Project, *, undoing: bool, why: str,
                  user: str | None = None) -> None:
        seq = drop_step(project, undoing=undoing, user=user or self.user)
        if seq is not None:
            self.steps = [s for s in self.steps if s.seq != seq]
            self.dropped.append(why)
