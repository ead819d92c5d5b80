"""The open project and the window's position in it (GUI thread only).

:class:`Document` is the single writer of user edits: every change goes straight to the store in
its own transaction (there is no unsaved state), then the document tells the views what changed.
Undo commands (:mod:`pose_studio.gui.undo`) call these methods too, so undo/redo are saved the
same way.

It also keeps the per-frame arrays (labeled / predicted / scores) of the current video for the
timeline and review navigation, patched in place after each edit rather than re-queried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from pose_studio.core.annotation import Instance, InstanceKind

if TYPE_CHECKING:
    from pose_studio.core.skeleton import Skeleton

log = logging.getLogger(__name__)


@dataclass
class FrameState:
    """Mutable per-frame arrays of the current video (a GUI-side copy of the store's)."""

    labeled: np.ndarray
    predicted: np.ndarray
    min_score: np.ndarray
    mean_score: np.ndarray

    @classmethod
    def empty(cls, n: int) -> FrameState:
        return cls(
            np.zeros(n, bool), np.zeros(n, bool), np.full(n, np.nan, np.float32),
            np.full(n, np.nan, np.float32),
        )

    @classmethod
    def from_store(cls, arrays: Any, n: int) -> FrameState:
        def take(name: str, dtype: Any, fill: Any) -> np.ndarray:
            a = getattr(arrays, name, None)
            out = np.full(n, fill, dtype)
            if a is not None:
                a = np.asarray(a)
                m = min(n, len(a))
                out[:m] = a[:m]
            return out

        return cls(
            take("labeled", bool, False), take("predicted", bool, False),
            take("min_score", np.float32, np.nan), take("mean_score", np.float32, np.nan),
        )


def _iou(a: Any, b: Any) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    ax, ay, aw, ah = (float(v) for v in a)
    bx, by, bw, bh = (float(v) for v in b)
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class Document(QObject):
    """The open project, current video/frame and selection.

    Signals:
        project_changed: A project was opened or closed.
        videos_changed: The project's video list changed (added, relinked).
        video_changed(int): The current video changed (-1: none).
        frame_changed(int): The current frame changed.
        instances_changed(int, int): Instances on ``(video_id, frame_idx)`` changed in the store.
        frame_arrays_changed(int): The per-frame arrays of a video changed (-1: all of them).
        selection_changed: Selected instance/keypoint changed.
    """

    project_changed = Signal()
    videos_changed = Signal()
    video_changed = Signal(int)
    frame_changed = Signal(int)
    instances_changed = Signal(int, int)
    frame_arrays_changed = Signal(int)
    selection_changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project: Any = None
        self.video_id: int | None = None
        self.frame_idx: int = 0
        self.frame_count: int = 0
        self.fps: float = 30.0
        self.selected_instance_id: int | None = None
        self.selected_keypoint: int | None = None
        self.frames: FrameState = FrameState.empty(0)
        self._cache_key: tuple[int, int] | None = None
        self._cache: list[Instance] = []

    # --- project ---------------------------------------------------------------------------------
    @property
    def skeleton(self) -> Skeleton | None:
        return self.project.skeleton if self.project is not None else None

    def set_project(self, project: Any) -> None:
        """Take ownership of ``project`` (closing the previous one)."""
        old = self.project
        self.project = project
        self.video_id = None
        self.frame_idx = 0
        self.frame_count = 0
        self.frames = FrameState.empty(0)
        self._invalidate()
        self._clear_selection(emit=False)
        if old is not None and old is not project:
            try:
                old.close()
            except Exception:  # closing must not stop the switch
                log.exception("closing the previous project failed")
        self.project_changed.emit()
        self.videos_changed.emit()
        self.video_changed.emit(-1)

    def close_project(self) -> None:
        self.set_project(None)

    def videos(self) -> list[Any]:
        return list(self.project.videos()) if self.project is not None else []

    def video(self) -> Any:
        if self.project is None or self.video_id is None:
            return None
        return self.project.video(self.video_id)

    # --- position --------------------------------------------------------------------------------
    def set_video(self, video_id: int | None, frame_count: int, fps: float) -> None:
        self.video_id = video_id
        self.frame_count = max(0, int(frame_count))
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.frame_idx = 0
        self._invalidate()
        self._clear_selection(emit=False)
        self.reload_frame_arrays(emit=False)
        self.video_changed.emit(-1 if video_id is None else video_id)
        self.frame_arrays_changed.emit(-1 if video_id is None else video_id)
        self.frame_changed.emit(self.frame_idx)

    def clamp(self, frame_idx: int) -> int:
        if self.frame_count <= 0:
            return 0
        return max(0, min(self.frame_count - 1, int(frame_idx)))

    def set_frame(self, frame_idx: int) -> bool:
        """Move to ``frame_idx`` (clamped); False when it is already there."""
        f = self.clamp(frame_idx)
        if f == self.frame_idx:
            return False
        self.frame_idx = f
        self._clear_selection(emit=True, keep_instance=False)
        self.frame_changed.emit(f)
        return True

    # --- per-frame arrays ------------------------------------------------------------------------
    def reload_frame_arrays(self, emit: bool = True) -> None:
        n = self.frame_count
        if self.project is None or self.video_id is None:
            self.frames = FrameState.empty(n)
        else:
            self.frames = FrameState.from_store(self.project.frame_arrays(self.video_id), n)
        if emit:
            self.frame_arrays_changed.emit(-1 if self.video_id is None else self.video_id)

    def _patch_frame(self, video_id: int, frame_idx: int) -> None:
        if video_id != self.video_id or not (0 <= frame_idx < len(self.frames.labeled)):
            return
        insts = self.project.instances(video_id, frame_idx)
        users = [i for i in insts if i.kind is InstanceKind.USER]
        preds = [i for i in insts if i.kind is InstanceKind.PREDICTED]
        self.frames.labeled[frame_idx] = bool(users)
        self.frames.predicted[frame_idx] = bool(preds)
        scores = [s for s in (p.mean_score() for p in preds) if s is not None]
        self.frames.min_score[frame_idx] = min(scores) if scores else np.nan
        self.frames.mean_score[frame_idx] = float(np.mean(scores)) if scores else np.nan
        self.frame_arrays_changed.emit(video_id)

    # --- instances -------------------------------------------------------------------------------
    def _invalidate(self) -> None:
        self._cache_key = None
        self._cache = []

    def instances(self, kind: InstanceKind | None = None) -> list[Instance]:
        """Instances on the current frame (cached until the next change)."""
        if self.project is None or self.video_id is None:
            return []
        key = (self.video_id, self.frame_idx)
        if self._cache_key != key:
            self._cache = list(self.project.instances(self.video_id, self.frame_idx))
            self._cache_key = key
        if kind is None:
            return list(self._cache)
        return [i for i in self._cache if i.kind is kind]

    def instance(self, instance_id: int | None) -> Instance | None:
        if instance_id is None:
            return None
        for inst in self.instances():
            if inst.id == instance_id:
                return inst
        return None

    #: A prediction whose box overlaps a label's this much is that person again (e.g. after the
    #: model was re-run over labeled frames, which replaces the prediction the label came from).
    COVERED_IOU = 0.6

    def visible_predictions(self) -> list[Instance]:
        """Predictions on this frame not yet accepted into a user instance (nor covered by one)."""
        users = self.instances(InstanceKind.USER)
        accepted = {i.source_id for i in users if i.source_id}
        boxes = [b for b in (u.box() for u in users) if b is not None]
        out = []
        for p in self.instances(InstanceKind.PREDICTED):
            if p.id in accepted:
                continue
            pb = p.box()
            if pb is not None and any(_iou(pb, b) >= self.COVERED_IOU for b in boxes):
                continue
            out.append(p)
        return out

    def _changed(self, video_id: int, frame_idx: int) -> None:
        if (video_id, frame_idx) == self._cache_key:
            self._invalidate()
        self._patch_frame(video_id, frame_idx)
        self.instances_changed.emit(video_id, frame_idx)

    def _require(self) -> Any:
        if self.project is None:
            raise RuntimeError("no project is open")
        return self.project

    def add_instance(self, video_id: int, frame_idx: int, inst: Instance) -> Instance:
        out = self._require().add_instance(video_id, frame_idx, inst)
        self._changed(video_id, frame_idx)
        return out

    def update_instance(self, video_id: int, frame_idx: int, inst: Instance) -> Instance:
        out = self._require().update_instance(inst)
        self._changed(video_id, frame_idx)
        return out

    def delete_instance(self, video_id: int, frame_idx: int, instance_id: int) -> Instance:
        out = self._require().delete_instance(instance_id)
        if self.selected_instance_id == instance_id:
            self._clear_selection(emit=True)
        self._changed(video_id, frame_idx)
        return out

    def restore_instance(self, video_id: int, frame_idx: int, inst: Instance) -> Instance:
        out = self._require().restore_instance(video_id, frame_idx, inst)
        self._changed(video_id, frame_idx)
        return out if isinstance(out, Instance) else inst

    def instances_written(self, video_id: int, frame_idx: int) -> None:
        """Someone else (the inference lane) wrote instances on one frame."""
        self._changed(video_id, frame_idx)

    def predictions_written(self, video_id: int) -> None:
        """A worker wrote predictions for ``video_id``: refresh arrays and the frame."""
        if video_id != self.video_id:
            return
        self._invalidate()
        self.reload_frame_arrays()
        self.instances_changed.emit(video_id, self.frame_idx)

    # --- selection -------------------------------------------------------------------------------
    def select(self, instance_id: int | None, keypoint: int | None = None) -> None:
        if (instance_id, keypoint) == (self.selected_instance_id, self.selected_keypoint):
            return
        self.selected_instance_id = instance_id
        self.selected_keypoint = keypoint if instance_id is not None else None
        self.selection_changed.emit()

    def _clear_selection(self, emit: bool, keep_instance: bool = False) -> None:
        changed = self.selected_instance_id is not None or self.selected_keypoint is not None
        if not keep_instance:
            self.selected_instance_id = None
        self.selected_keypoint = None
        if emit and changed:
            self.selection_changed.emit()

    def selected(self) -> Instance | None:
        return self.instance(self.selected_instance_id)
