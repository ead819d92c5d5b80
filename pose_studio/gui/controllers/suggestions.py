"""Suggestions in the window: find frames to check (in a worker), keep them in the project with
done marks, and step through them across videos (``app/suggestions.py``).

Finding reads the project and frames off the GUI thread (read-only; a result for a project that
is no longer open is dropped); storing and done marks happen here, on the GUI thread, through
the app layer. Done marks are review state, not edits: they are not in the undo history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from pose_studio.app import suggestions as sug
from pose_studio.app.session import Frames, Topic

from ..widgets.suggestions_panel import SuggestionsPanel
from .base import Shell
from .tool_jobs import Outcome, ToolJobs

FIND = "suggestions"


class SuggestionsController(QObject):
    """See the module docstring. ``show(video_id, frame)`` brings the view there (switching
    video when needed)."""

    def __init__(self, shell: Shell, jobs: ToolJobs, panel: SuggestionsPanel,
                 show: Callable[[int, int], None]) -> None:
        super().__init__(shell.window)
        self.shell = shell
        self.s = shell.session
        self.jobs = jobs
        self.panel = panel
        self.show = show
        self.records: list[sug.SuggestionRecord] = []
        self.open_reader: Callable[[str, bytes | None], Any] | None = None  # tests: a fake
        panel.find_requested.connect(self.find)
        panel.goto_requested.connect(show)
        panel.done_toggled.connect(self.set_done)
        panel.step_requested.connect(self.step)
        shell.signals.changed.connect(self._on_changed)

    def reload(self) -> None:
        self.records = sug.stored(self.s)
        names = {int(v.id): Path(str(v.path)).name for v in self.s.videos()}
        self.panel.set_suggestions(self.records, names)
        self.panel.select(self.s.video_id, self.s.frame_idx)

    def find(self, kinds: Sequence[str] | None = None, count: int | None = None) -> None:
        """Look for frames of ``kinds`` (default: the panel's) on every video."""
        proj = self.s.project
        if proj is None:
            self.shell.status("open a project first", 4000)
            return
        kinds = tuple(kinds if kinds is not None else self.panel.kinds())
        n = int(count if count is not None else self.panel.count.value())
        if not kinds:
            self.shell.status("tick at least one kind of suggestion", 4000)
            return
        vids = [int(v.id) for v in self.s.videos()]
        opener = self.open_reader

        def work(progress: Any, stopped: Any) -> Any:
            return sug.compute(proj, kinds, n, video_ids=vids, progress=progress,
                               cancel=stopped, open_reader=opener)

        self.panel.set_busy(True)
        self.jobs.start(FIND, "finding frames to check", len(vids), work,
                        lambda out: self._found(proj, vids, out))

    def _found(self, proj: Any, vids: list[int], out: Outcome) -> None:
        self.panel.set_busy(False)
        if out.error is not None:
            self.shell.error("Find frames", out.error)
            return
        if out.stopped or self.s.project is not proj:
            self.shell.status("search stopped: the suggestions are unchanged", 4000)
            return
        n = sug.keep(self.s, vids, out.value)
        self.reload()
        self.shell.status(f"{n} frames to check (H / Shift+H step through them; Ctrl+D marks "
                          "one done)", 8000)

    def set_done(self, video_id: int, frame: int, done: bool) -> None:
        if sug.mark_done(self.s, video_id, frame, done):
            self.reload()

    def toggle_done(self) -> None:
        """Ctrl+D: this frame's suggestion done (or not done again)."""
        s = self.s
        here = next((r for r in self.records if (r.video_id, r.frame) ==
                     (s.video_id, s.frame_idx)), None)
        if here is None:
            self.shell.status("this frame is not a suggestion", 3000)
            return
        self.set_done(here.video_id, here.frame, not here.done)
        self.shell.status(f"frame {here.frame}: {'not ' if here.done else ''}done", 3000)

    def step(self, direction: int) -> None:
        s = self.s
        order = [int(v.id) for v in s.videos()]
        r = sug.step(self.records, order, s.video_id, s.frame_idx, direction)
        if r is None:
            self.shell.status("no suggestions left to check (Find Frames to Check: "
                              "Ctrl+Shift+G)" if self.records else
                              "no suggestions yet: Navigate ▸ Find Frames to Check "
                              "(Ctrl+Shift+G)", 5000)
            return
        self.show(r.video_id, r.frame)
        self.panel.select(r.video_id, r.frame)
        self.shell.status(f"suggested: {r.reason} (score {r.score:.2f}; Ctrl+D marks it done)",
                          8000)

    def _on_changed(self, topics: frozenset[Topic], _frames: Frames) -> None:
        if Topic.PROJECT in topics:
            self.jobs.cancel(FIND)
            self.panel.set_busy(False)
            self.reload()
        elif Topic.VIDEOS in topics or Topic.SUGGESTIONS in topics:
            self.reload()  # (SUGGESTIONS: found or marked done by someone else)
        elif Topic.FRAME in topics or Topic.VIDEO in topics:
            self.panel.select(self.s.video_id, self.s.frame_idx)


__all__ = ["SuggestionsController"]
