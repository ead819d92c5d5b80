"""Issue 15's tools in the window, installed by :func:`install` (two lines in the main window):
the Tracks and Suggestions panels, the labeling, tracks and suggestions controllers, the tool
progress in the status bar, and the handlers of their actions (``actions.py``: the Label and
Tracks menus, Colour by Track, the suggestion keys).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt

from ..widgets.suggestions_panel import SuggestionsPanel
from ..widgets.task_progress import TaskProgress
from ..widgets.tracks_panel import TracksPanel
from .labeling import LabelingController
from .suggestions import SuggestionsController
from .tool_jobs import ToolJobs
from .tracks import TracksController


@dataclass
class LabelingTools:
    """What :func:`install` built."""

    jobs: ToolJobs
    progress: TaskProgress
    labeling: LabelingController
    tracks: TracksController
    suggestions: SuggestionsController
    handlers: dict[str, Callable[..., Any]]


def install(window: Any) -> LabelingTools:
    """Build the tools into ``window`` (a ``MainWindow`` whose editing controller exists)."""
    shell = window.shell
    progress = TaskProgress(window)
    window.statusBar().addPermanentWidget(progress)
    jobs = ToolJobs(shell, progress)
    labeling = LabelingController(shell, window.editing, jobs)

    def pose_model() -> str | None:
        """The Model panel's pose model, re-run around each propagated person."""
        ctl = getattr(window, "model", None)
        info = ctl.info if ctl is not None else None
        return info.pose_path if info is not None and info.top_down else None

    labeling.model_path = pose_model
    tracks_panel = TracksPanel(window)
    dock = window.add_panel("tracks", "Tracks", tracks_panel)
    beside = window.docks.get("model") or window.docks.get("history")
    if beside is not None:  # tabbed: the right column stays short enough for small screens
        window.tabifyDockWidget(beside, dock)
        dock.raise_()
    tracks = TracksController(shell, window.editing, jobs, tracks_panel, window.goto)
    sug_panel = SuggestionsPanel(window)
    sdock = window.add_panel("suggestions", "Suggestions", sug_panel,
                             Qt.DockWidgetArea.LeftDockWidgetArea)
    if "videos" in window.docks:  # navigation across videos, beside the video list
        window.tabifyDockWidget(window.docks["videos"], sdock)
        window.docks["videos"].raise_()

    def show(video_id: int, frame: int) -> None:
        s = window.session
        if video_id != s.video_id:
            window.opening.show_video(video_id, goto=frame)
        else:
            window.goto(frame)

    suggestions = SuggestionsController(shell, jobs, sug_panel, show)

    def find_suggestions() -> None:
        sdock.show()
        sdock.raise_()
        suggestions.find()

    def color_by_track(on: bool) -> None:
        window.options.color_by_track = bool(on)
        window.view.set_options(window.options)
        window.display.refresh_instances()

    lab, tr, su = labeling, tracks, suggestions
    handlers: dict[str, Callable[..., Any]] = {
        "swap_keypoint": lab.swap_keypoint, "swap_sides": lab.swap_sides,
        "copy_pose": lab.copy_pose, "paste_pose": lab.paste_pose,
        "copy_previous": lab.copy_previous,
        "interpolate": lambda: lab.interpolate("linear"),
        "interpolate_cubic": lambda: lab.interpolate("cubic"),
        "accept_ghosts": lab.accept_ghosts,
        "propagate_forward": lambda: lab.propagate(1),
        "propagate_backward": lambda: lab.propagate(-1),
        "carry_fixes": lab.set_carry_fixes,
        "stop_tool": lab.stop, "bulk_edit": lab.bulk_edit,
        "run_tracker": tr.run_tracker, "swap_identities": tr.swap_identities,
        "smooth_run": tr.smooth,
        "rename_track": tr.rename, "merge_tracks": tr.merge, "split_track": tr.split,
        "delete_track": tr.delete, "next_switch": lambda: tr.step_switch(1),
        "prev_switch": lambda: tr.step_switch(-1), "color_by_track": color_by_track,
        "next_suggestion": lambda: su.step(1), "prev_suggestion": lambda: su.step(-1),
        "suggestion_done": su.toggle_done, "find_suggestions": find_suggestions,
    }
    return LabelingTools(jobs, progress, labeling, tracks, suggestions, handlers)


__all__ = ["LabelingTools", "install"]
