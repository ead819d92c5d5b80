"""Shows the session: applies each change to the widgets that show what it names.

The topics say what to redraw, so one edit reads the frame's instances once (the session's
cache) and nothing is repainted that did not change. Empty states say what to do next (no
project, a project without a video, a missing video file).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction

from pose_studio.app.editing import keypoint_name
from pose_studio.app.frame_info import image_set_sizes
from pose_studio.app.session import Frames, Topic
from pose_studio.core.annotation import Instance, InstanceKind, Visibility

from ..view.skeleton_item import Tint
from ..widgets.history_panel import HistoryPanel
from ..widgets.instance_list import InstanceList
from ..widgets.timeline import Timeline
from ..widgets.video_list import VideoList
from .base import Shell

NO_PROJECT = ("Open a video, an image folder, a dataset file (COCO, SLEAP, DeepLabCut, YOLO) or a "
              "project: File ▸ Open (Ctrl+O), or drop them here")
NO_VIDEO = ("This project has no video yet: File ▸ Add Video (Ctrl+Shift+O) or Add Images, or "
            "drop videos, images or a folder here")
#: Actions that need a video shown.
VIDEO_ACTIONS = ("relink_video", "play", "next_frame", "prev_frame", "next_10", "prev_10",
                 "first_frame", "last_frame", "goto_frame", "add_instance", "accept_all",
                 "predict_frame", "next_low", "prev_low", "next_labeled", "prev_labeled",
                 "next_unlabeled", "prev_unlabeled", "toggle_ab", "swap_ab", "compare_runs")
PROJECT_ACTIONS = ("add_video", "add_images", "add_image_folder", "save_as", "close_project",
                   "export_dataset", "import_dataset")


class Display(QObject):
    """See the module docstring."""

    def __init__(self, shell: Shell, videos: VideoList, instances: InstanceList,
                 timeline: Timeline, history: HistoryPanel, actions: dict[str, QAction]) -> None:
        super().__init__(shell.window)
        self.shell = shell
        self.session = shell.session
        self.videos = videos
        self.instances = instances
        self.timeline = timeline
        self.history = history
        self.actions = actions
        self._sizes: dict[object, dict[tuple[int, int], int]] = {}  # image sets' sizes
        #: ``overlay(shown predictions) -> (more predictions, {id: Tint})`` while two
        #: model runs are shown (set by the runs controller); the second run's are drawn only.
        self.overlay: Callable[[list[Instance]],
                               tuple[list[Instance], dict[int, Tint]]] | None = None
        shell.signals.changed.connect(self.on_changed)

    def on_changed(self, topics: frozenset[Topic], frames: Frames) -> None:
        s, view = self.session, self.shell.view
        if Topic.VIDEOS in topics:
            videos = s.videos()
            self.videos.set_videos(videos, s.video_id,
                                   image_set_sizes(s.project, videos, self._sizes))
        if Topic.PROJECT in topics or Topic.VIDEO in topics:
            self.videos.set_current(s.video_id)
            self.update_title()
            self.update_enabled()
            if s.video_id is None:
                view.clear_frame(NO_PROJECT if s.project is None else NO_VIDEO)
        if Topic.PIXELS in topics:
            self._show_pixels()
        if Topic.ARRAYS in topics:
            f = s.frames
            self.timeline.set_arrays(f.labeled, f.predicted, f.min_score)
        here = (s.video_id, s.frame_idx)
        if Topic.FRAME in topics or (Topic.INSTANCES in topics and (not frames or here in frames)):
            self.refresh_instances()
        elif Topic.SELECTION in topics:
            sel = (s.selected_instance_id, s.selected_keypoint)
            view.update_selection(sel)
            self.instances.select_instance(s.selected_instance_id)
        if Topic.SELECTION in topics:
            self.describe_selection()
        if Topic.HISTORY in topics:
            self.history.show_history(s.history)
            self.update_enabled()

    def _show_pixels(self) -> None:
        s, view = self.session, self.shell.view
        shown = s.shown
        if shown is None:
            return
        view.set_frame(shown.pixels, shown.index)
        view.set_approximate(None if shown.exact else
                             f"≈ preview: keyframe {shown.index}, not frame {s.frame_idx} "
                             "(release to load it)")

    def refresh_instances(self) -> None:
        s, view = self.session, self.shell.view
        if view.dragging:
            return  # the gesture's edit refreshes when it lands
        if s.project is None or s.video_id is None:
            view.set_instances(None, [])
            self.instances.set_instances([])
            return
        users = s.instances(InstanceKind.USER)
        preds = s.visible_predictions()
        sel = (s.selected_instance_id, s.selected_keypoint)
        extra, tints = self.overlay(preds) if self.overlay is not None else ([], {})
        view.set_instances(s.skeleton, [*preds, *extra, *users], sel, tints,
                           {i.id for i in extra if i.id is not None})
        shown = {p.id for p in preds}
        covered = {i.id for i in s.instances(InstanceKind.PREDICTED) if i.id not in shown}
        self.instances.set_instances(s.instances(), covered)  # type: ignore[arg-type]
        self.instances.select_instance(s.selected_instance_id)

    def describe_selection(self) -> None:
        """One status line on what is selected and what the keys do with it."""
        s = self.session
        inst = s.selected()
        if inst is None:
            return
        k = s.selected_keypoint
        what = "prediction" if inst.is_prediction else "label"
        if k is None:
            sc = inst.mean_score()
            score = f" (score {sc:.2f})" if sc is not None else ""
            hint = ("A or double-click accepts it" if inst.is_prediction
                    else "Shift-drag moves it, Delete removes it")
            self.shell.status(f"{what}{score} selected: {hint}", 6000)
            return
        vis = Visibility(int(inst.visibility[k])).name.lower()
        kp_score = ""
        if inst.kp_scores is not None and k < len(inst.kp_scores):
            v = float(inst.kp_scores[k])
            if math.isfinite(v):
                kp_score = f", score {v:.2f}"
        self.shell.status(f"{keypoint_name(s, k)} of a {what} ({vis}{kp_score}): drag or arrows "
                          "to move, V cycles visibility, Esc deselects", 6000)

    def update_title(self) -> None:
        """Project and video names (Qt adds the application name on desktops that show one)."""
        s = self.session
        parts: list[str] = []
        if s.project is not None:
            parts.append(Path(str(s.project.path)).name)
            rec = s.video_record()
            if rec is not None:
                parts.append(Path(str(rec.path)).name)
            if s.project.read_only:
                parts.append("(read-only)")
        self.shell.window.setWindowTitle(" — ".join(parts))

    def update_enabled(self) -> None:
        a, s = self.actions, self.session
        has_project = s.project is not None
        has_video = has_project and s.video_id is not None
        a["undo"].setEnabled(s.history.can_undo())
        a["redo"].setEnabled(s.history.can_redo())
        a["undo"].setText(f"&Undo {s.history.undo_text()}".strip())
        a["redo"].setText(f"&Redo {s.history.redo_text()}".strip())
        for name in PROJECT_ACTIONS:
            a[name].setEnabled(has_project)
        for name in VIDEO_ACTIONS:
            a[name].setEnabled(has_video)
