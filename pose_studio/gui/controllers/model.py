"""The model: loading it, live and "predict this frame" inference, heatmaps, batch runs.

The inference lane (``gui/workers/inference.py``) owns the ONNX sessions on its own thread;
this controller sends it the shown frame (read-only pixels from the session) with the boxes of
the people on it (:mod:`pose_studio.core.people`, the same rule as batch runs) and stores live
results through the session (:mod:`pose_studio.app.predictions`: one route, one run record).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject

from pose_studio.app.models import model_name
from pose_studio.app.predictions import ModelInfo
from pose_studio.app.session import Frames, Topic
from pose_studio.core import people, poses
from pose_studio.core.annotation import Instance
from pose_studio.core.errors import PoseStudioError
from pose_studio.inference.keypoint_map import fill_instance, names_mapping

from .base import Shell

log = logging.getLogger(__name__)


class ModelController(QObject):
    """See the module docstring. ``lane`` may be None (no inference in this installation)."""

    def __init__(self, shell: Shell, lane: Any, panel: Any,
                 is_playing: Callable[[], bool]) -> None:
        super().__init__(shell.window)
        self.shell = shell
        self.session = shell.session
        self.lane = lane
        self.panel = panel
        self.is_playing = is_playing
        self.live = False
        self.heatmap = False
        self.last_result: Any = None
        self.on_snap_ready: Callable[[], None] | None = None
        self._pending: tuple[int, int] | None = None  # (video, frame) of "predict this frame"
        self._snap_pending = False
        self._run_id: int | None = None
        shell.signals.changed.connect(self._on_changed)
        if lane is not None:
            lane.result_ready.connect(self._on_result)
            lane.predictions_written.connect(self._on_written)
            lane.failed.connect(self._on_failed)
            lane.batch_finished.connect(self._on_batch_finished)
            lane.model_loaded.connect(self._on_loaded)
        if panel is not None:
            panel.load_requested.connect(self._load)
            panel.live_toggled.connect(self._on_live)
            panel.run_range_requested.connect(self.run_range)
            if lane is not None:
                panel.cancel_requested.connect(lane.cancel_batch)
                lane.model_loaded.connect(panel.set_model_info)
                lane.failed.connect(panel.set_error)
                lane.busy_changed.connect(panel.set_batch_running)
                lane.progress.connect(panel.set_progress)
                lane.batch_finished.connect(panel.batch_finished)

    @property
    def info(self) -> ModelInfo | None:
        return self.lane.model_info if self.lane is not None else None

    def ready(self) -> bool:
        return self.info is not None

    def wants_inference(self) -> bool:
        return self.live or self.heatmap or self._pending is not None or self._snap_pending

    def _on_changed(self, topics: frozenset[Topic], _frames: Frames) -> None:
        s = self.session
        if Topic.PROJECT in topics:
            self._run_id = None
            if self.panel is not None:
                self.panel.reset_run_state()
        if Topic.VIDEO in topics:
            self.last_result = None
            if self.panel is not None:
                self.panel.set_video(s.frame_count, s.frame_idx)
        if Topic.FRAME in topics:
            self.shell.view.set_heatmaps([])
            if self.panel is not None:
                self.panel.set_current_frame(s.frame_idx)
        if Topic.PIXELS in topics and s.shown_exact() is not None and self.wants_inference():
            self.request()  # newest wins in the lane: never queues up
        if Topic.SELECTION in topics and self.heatmap and self.last_result is not None:
            self.show_heatmap(self.last_result)

    def boxes(self) -> np.ndarray | None:
        """Person boxes for a top-down model loaded without a detector: the people on the
        frame, so heatmaps follow the people being corrected. None: the model finds people
        itself, or takes the whole frame."""
        info = self.info
        if info is None or not info.needs_boxes:
            return None
        return people.person_boxes(self.session.instances())

    def request(self) -> None:
        """Ask the lane for the shown frame (heatmap, live, "predict" or snap)."""
        shown = self.session.shown_exact()
        if self.lane is None or shown is None:
            return
        if not self.ready():
            self.shell.status("load a model first (Model panel)", 4000)
            return
        self.lane.infer_frame(shown.index, shown.pixels, self.boxes())

    def _load(self, pose: str, detector: object, provider: str) -> None:
        if self.lane is not None:
            self.lane.load_model(pose, detector, provider)

    def _on_loaded(self, info: ModelInfo) -> None:
        self._run_id = None  # a new model gets its own model run on first write
        self.shell.status(f"model loaded: {model_name(info.pose_path)} on "
                          f"{', '.join(info.providers) or 'CPU'}", 8000)
        if self.wants_inference():
            self.request()

    def _on_live(self, on: bool) -> None:
        self.live = bool(on)
        if on:
            self.request()

    def predict_frame(self) -> None:
        if self.lane is None:
            raise PoseStudioError("model inference is not available")
        if not self.ready():
            raise PoseStudioError("no model is loaded: choose one in the Model panel and load it")
        s = self.session
        if s.shown_exact() is None or s.video_id is None:
            self.shell.status("wait for the frame to be shown", 4000)
            return
        self._pending = (s.video_id, s.frame_idx)
        self.request()

    def compute_for_snap(self) -> None:
        """Compute the heatmap of the shown frame; ``on_snap_ready`` is called with it."""
        if not self.ready():
            raise PoseStudioError("load a heatmap model first (Model panel) to snap to peaks")
        self._snap_pending = True
        self.request()
        self.shell.status("computing the heatmap… (the keypoint snaps when it is ready)", 4000)

    def run_range(self, start: int, stop: int) -> None:
        s = self.session
        rec = s.video_record()
        if self.lane is None or rec is None or s.project is None:
            return
        if not self.ready():
            self.shell.error("Model", "load a model before running it on a range of frames")
            return
        self.lane.start_batch(s.project, int(rec.id), str(rec.path),
                              s.project.video_index(int(rec.id)), int(start), int(stop))

    def cancel_batch(self) -> None:
        if self.lane is not None:
            self.lane.cancel_batch()

    # --- results -------------------------------------------------------------------------------
    def result_for_frame(self) -> Any:
        """The last result, when it is for the current frame."""
        r = self.last_result
        return r if r is not None and r.frame_idx == self.session.frame_idx else None

    def _on_result(self, _req_id: int, frame_idx: int, result: Any) -> None:
        s = self.session
        if frame_idx != s.frame_idx:
            return
        self.last_result = result
        if self.heatmap:
            self.show_heatmap(result)
        here = (s.video_id, frame_idx)
        if self.live or self._pending == here:
            self._pending = None
            self._write(result)
        if self._snap_pending:
            self._snap_pending = False
            if self.on_snap_ready is not None:
                self.on_snap_ready()

    def _write(self, result: Any) -> None:
        s, info = self.session, self.info
        if s.project is None or s.video_id is None or s.read_only or info is None:
            return
        try:
            done = s.store_predictions(info, [result], self._run_id)
        except PoseStudioError as exc:
            self.shell.error("Model", str(exc))
            return
        if done.created or self._run_id is None:
            self._run_id = done.run_id  # this model's own live run (when it made no shown run)
        kept = len(result.instances) - done.dropped
        why = f" ({done.dropped} too weak to keep)" if done.dropped else ""
        where = f"; {done.note}" if done.note else f" (run {done.run_id}, shown as {done.slot})"
        self.shell.status(f"{kept} instance(s) predicted on frame {result.frame_idx}{why}{where}",
                          8000)

    def _by_name(self) -> np.ndarray | None:
        """For each project keypoint, the model's (-1: it has none); None: the same layout.
        A skeleton the user edited names its keypoints otherwise than the model."""
        info, sk = self.info, self.session.skeleton
        if info is None or sk is None or not info.keypoints:
            return None
        return names_mapping(info.keypoints, sk)

    def peaks(self, inst: Instance, k: int) -> list[tuple[float, float, float]]:
        """Heatmap peaks of keypoint ``k`` for the predicted person nearest ``inst``."""
        res = self.result_for_frame()
        if res is None:
            return []
        idx = self._by_name()
        mk = k if idx is None else int(idx[k])
        if mk < 0:
            return []  # the model has no such keypoint
        cands = [(pred if idx is None else fill_instance(pred, idx), m.keypoint_map(mk),
                  np.asarray(m.map_to_image))
                 for pred, m in zip(res.instances, res.maps) if m is not None]
        return poses.peaks_for(inst, k, cands)

    def has_maps(self) -> bool:
        res = self.result_for_frame()
        return res is not None and any(m is not None for m in getattr(res, "maps", ()))

    def set_heatmap(self, on: bool) -> None:
        self.heatmap = bool(on)
        if on:
            res = self.result_for_frame()
            if res is not None:
                self.show_heatmap(res)
            else:
                self.request()

    def show_heatmap(self, result: Any) -> None:
        k = self.session.selected_keypoint
        idx = self._by_name()
        if k is not None and idx is not None:
            k = int(idx[k]) if int(idx[k]) >= 0 else None  # the model's own channel, else all
        maps = [(m.keypoint_map(k), np.asarray(m.map_to_image))
                for m in getattr(result, "maps", ()) or () if m is not None]
        self.shell.view.set_heatmaps(maps)
        if not maps:
            self.shell.status("this model gives no heatmaps (one-stage model)", 4000)

    def set_heat_opacity(self, v: float) -> None:
        view = self.shell.view
        view.heatmap_opacity = float(min(1.0, max(0.1, v)))
        if self.last_result is not None:
            self.show_heatmap(self.last_result)
        self.shell.status(f"heatmap opacity {view.heatmap_opacity:.0%}", 4000)

    def _on_written(self, video_id: int) -> None:
        self.session.predictions_written(int(video_id))

    def _on_failed(self, message: str) -> None:
        self._pending = None
        self._snap_pending = False
        self.shell.error("Model", message)

    def _on_batch_finished(self, n_frames: int, cancelled: bool) -> None:
        self.session.predictions_written(self.session.video_id)
        self.shell.status(f"{'cancelled after' if cancelled else 'predicted'} {n_frames} "
                          "frames", 8000)
