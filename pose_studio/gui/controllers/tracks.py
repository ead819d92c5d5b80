"""Tracks in the window: the Tracks panel, the track verbs (``app/tracks.py``: rename, merge,
split, delete, swap identities; one undo step each), the tracker run on the shown run in a
worker, and stepping through likely identity switches.

The track a verb acts on: the one chosen in the panel, else the selected instance's.
Likely switches are computed off the GUI thread after the tracks change (a newer computation
cancels the older one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QInputDialog

from pose_studio.app import tracks
from pose_studio.app.session import Frames, Topic
from pose_studio.core import review as nav
from pose_studio.core.smoothing import Method
from pose_studio.core.tracking import SwitchCandidate

from ..widgets.tracks_panel import TracksPanel
from .base import Shell
from .editing import EditController
from .tool_jobs import Outcome, ToolJobs

TRACK = "track"
SMOOTH = "smooth"
SWITCHES = "identity-switches"


class TracksController(QObject):
    """See the module docstring. ``goto(frame)`` moves the view."""

    def __init__(self, shell: Shell, editing: EditController, jobs: ToolJobs,
                 panel: TracksPanel, goto: Callable[[int], None]) -> None:
        super().__init__(shell.window)
        self.shell = shell
        self.s = shell.session
        self.editing = editing
        self.jobs = jobs
        self.panel = panel
        self.goto = goto
        self.switches: list[SwitchCandidate] = []
        self.switch_timer = QTimer(self)
        self.switch_timer.setSingleShot(True)
        self.switch_timer.setInterval(400)
        self.switch_timer.timeout.connect(self.find_switches)
        # Tests and the screenshot command answer these instead of a dialog.
        self.ask_name: Callable[[str], str | None] = self._ask_name
        self.ask_track: Callable[[str, dict[int, str]], int | None] = self._ask_track
        panel.action_requested.connect(self._on_action)
        panel.track_activated.connect(self._goto_track)
        panel.switch_activated.connect(goto)
        shell.signals.changed.connect(self._on_changed)

    @property
    def busy(self) -> bool:
        return self.switch_timer.isActive() or self.jobs.current(TRACK) is not None

    # --- which track -----------------------------------------------------------------------------
    def current_track(self) -> int | None:
        chosen = self.panel.chosen()
        if chosen is not None:
            return chosen
        sel = self.s.selected()
        return sel.track_id if sel is not None else None

    def _need_track(self) -> int | None:
        tid = self.current_track()
        if tid is None:
            self.shell.status("choose a track in the Tracks panel, or select a tracked instance",
                              5000)
        return tid

    # --- verbs -----------------------------------------------------------------------------------
    def rename(self) -> None:
        tid = self._need_track()
        if tid is None or self.s.project is None:
            return
        names = {t.id: t.name for t in self.s.project.tracks()}
        name = self.ask_name(names.get(tid, ""))
        if name is not None:
            self.editing.run(tracks.rename_track(self.s.project, tid, name))

    def merge(self) -> None:
        tid = self._need_track()
        if tid is None or self.s.project is None:
            return
        names = {t.id: t.name for t in self.s.project.tracks()}
        others = {t: n for t, n in names.items() if t != tid}
        if not others:
            self.shell.status("there is no other track to merge into", 4000)
            return
        keep = self.ask_track(f"Merge {names.get(tid, tid)!r} into:", others)
        if keep is not None:
            self.editing.run(tracks.merge_tracks(self.s.project, keep, tid))

    def split(self) -> None:
        tid = self._need_track()
        s = self.s
        if tid is None or s.project is None or s.video_id is None:
            return
        self.editing.run(tracks.split_track(s.project, tid, s.video_id, s.frame_idx))

    def delete(self) -> None:
        tid = self._need_track()
        if tid is None or self.s.project is None:
            return
        self.editing.run(tracks.delete_track(self.s.project, tid))

    def swap_identities(self) -> None:
        """The selected instance's track with the one chosen in the panel, else with the
        nearest other tracked person's."""
        sel, chosen = self.s.selected(), self.panel.chosen()
        other = chosen if sel is not None and chosen is not None and chosen != sel.track_id \
            else None
        self.editing.run(tracks.swap_identities(self.s, other))

    def _on_action(self, aid: str) -> None:
        handler = {"run_tracker": self.run_tracker, "rename_track": self.rename,
                   "merge_tracks": self.merge, "split_track": self.split,
                   "delete_track": self.delete, "swap_identities": self.swap_identities}[aid]
        handler()

    def _goto_track(self, tid: int) -> None:
        for sp in tracks.spans(self.s):
            if sp.track_id == tid and sp.first is not None:
                self.goto(sp.first)
                return
        self.shell.status("that track is not on this video", 4000)

    # --- the tracker -----------------------------------------------------------------------------
    def run_tracker(self) -> None:
        s = self.s
        if s.project is None or s.video_id is None:
            self.shell.status("open a video with predictions first", 4000)
            return
        req = tracks.tracker_request(s.project, s.video_id)
        if not req.frames:
            self.shell.status("no predictions on this video to track (run the model first)",
                              6000)
            return

        def work(progress: Any, stopped: Any) -> Any:
            return tracks.run_tracker(req, progress=progress, cancel=stopped)

        self.jobs.start(TRACK, f"tracking {req.n_predictions} predictions", len(req.frames),
                        work, lambda out: self._tracked(req, out))

    def _tracked(self, req: tracks.TrackerRequest, out: Outcome) -> None:
        s = self.s
        if out.error is not None:
            self.shell.error("Track predictions", out.error)
            return
        if out.stopped:
            self.shell.status("tracking stopped: nothing changed", 5000)
            return
        if s.project is None or s.video_id != req.video_id:
            return
        self.editing.run(tracks.tracker_plan(s.project, req, out.value))

    # --- smoothing into a new run --------------------------------------------------------------
    def smooth(self) -> None:
        """The shown run's tracks, smoothed into a new model run (the source run is kept)."""
        from pose_studio.app.smoothing import SmoothRequest, smooth_run

        s = self.s
        if s.project is None or s.video_id is None or s.read_only:
            self.shell.status("open a project (for writing) with predictions first", 4000)
            return
        method = self.ask_smoothing()
        if method is None:
            return
        proj, req = s.project, SmoothRequest(s.video_id, "shown", method)

        user = s.user

        def work(progress: Any, stopped: Any) -> Any:
            return smooth_run(proj, req, user)

        self.jobs.start(SMOOTH, "smoothing the shown run", 1, work,
                        self._smoothed)

    def ask_smoothing(self) -> Method | None:
        """Which filter (None: cancelled); replaced in tests."""
        methods: dict[str, Method] = {"One-Euro filter (follows fast moves)": "one-euro",
                                      "Savitzky-Golay, 7 frames (offline, symmetric)": "savgol"}
        label, ok = QInputDialog.getItem(
            self.shell.window, "Smooth predictions",
            "Smooth each track of the shown run into a NEW model run\n"
            "(the shown run stays as it is; choose it again in the Runs panel):",
            list(methods), 0, False)
        return methods[label] if ok else None

    def _smoothed(self, out: Outcome) -> None:
        if out.error is not None:
            self.shell.error("Smooth predictions", out.error)
        elif out.value is not None and self.s.project is not None:
            self.s.refresh()  # a new run and one step of the history
            self.shell.status(out.value.message() + " (Ctrl+Z takes it back)", 8000)

    # --- likely identity switches ----------------------------------------------------------------
    def find_switches(self) -> None:
        s = self.s
        proj, vid = s.project, s.video_id
        if proj is None or vid is None:
            self.switches = []
            self.panel.set_switches([])
            return
        self.panel.set_switches(None)

        def work(_cancelled: Callable[[], bool]) -> Any:
            return vid, tracks.identity_switches(proj, vid)

        def done(out: Any) -> None:
            v, cands = out
            if v != self.s.video_id:
                return
            self.switches = list(cands)
            names = {sp.track_id: sp.name for sp in tracks.spans(self.s)}
            self.panel.set_switches(self.switches, names)

        self.shell.jobs.run(SWITCHES, work, done)

    def step_switch(self, direction: int) -> None:
        frames = sorted({c.frame for c in self.switches})
        if not frames:
            self.shell.status("no likely identity switches on this video (Track predictions "
                              "first, or none were found)", 5000)
            return
        flags = np.zeros(max(self.s.frame_count, frames[-1] + 1), bool)
        flags[frames] = True
        target = nav.next_flagged(flags, self.s.frame_idx, direction, skip_run=False, wrap=True)
        if target is not None:
            self.goto(int(target))
            hits = [c for c in self.switches if c.frame == target]
            self.shell.status("; ".join(f"frame {c.frame}: tracks "
                                        f"{', '.join(map(str, c.tracks))} ({c.reason})"
                                        for c in hits), 6000)

    # --- session ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        sel = self.s.selected()
        self.panel.set_tracks(tracks.spans(self.s), self.panel.chosen()
                              or (sel.track_id if sel is not None else None))

    def _on_changed(self, topics: frozenset[Topic], _frames: Frames) -> None:
        if Topic.PROJECT in topics or Topic.VIDEO in topics:
            self.jobs.cancel(TRACK)
            self.shell.jobs.cancel(SWITCHES)
            self.switches = []
        if topics & {Topic.PROJECT, Topic.VIDEO, Topic.TRACKS, Topic.RUNS}:
            self.refresh()
            if self.s.video_id is not None:
                self.switch_timer.start()
            else:
                self.panel.set_switches([])
        elif Topic.SELECTION in topics:
            sel = self.s.selected()
            if sel is not None and sel.track_id is not None:
                self.panel.select_track(sel.track_id)

    # --- dialogs ---------------------------------------------------------------------------------
    def _ask_name(self, current: str) -> str | None:
        text, ok = QInputDialog.getText(self.shell.window, "Rename track", "Name:", text=current)
        self.shell.window.activateWindow()  # the keys work again at once (even without a WM)
        return text if ok else None

    def _ask_track(self, prompt: str, choices: dict[int, str]) -> int | None:
        labels = [f"{n} (track {t})" for t, n in choices.items()]
        item, ok = QInputDialog.getItem(self.shell.window, "Merge track", prompt, labels, 0,
                                        False)
        self.shell.window.activateWindow()
        return list(choices)[labels.index(item)] if ok and item in labels else None


__all__ = ["TracksController"]
