"""The session: the open project and where the user is in it (Qt-free, GUI thread only).

A :class:`Session` owns the open :class:`~pose_studio.store.project.Project`, the current video
and frame, the pixels shown for that frame (index and read-only array), the selection, the
per-frame arrays of the current video and the undo history. It is the only UI-side writer to
the store: user edits go through :meth:`Session.apply` (one transaction with their journal
entry), undo/redo through :meth:`undo`/:meth:`redo`, videos, indexes, fingerprints and live
predictions through the methods below.

Whoever shows it subscribes (:meth:`subscribe`) and gets ``(topics, frames)`` after each change:
``topics`` a frozenset of :class:`Topic` values and ``frames`` the ``(video_id, frame_idx)``
touched (empty when not about frames). Nothing is re-read that a topic does not name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core import people
from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.edits import Edit, StaleEditError
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.skeleton import Skeleton
from pose_studio.core.skeleton_edit import SkeletonChange
from pose_studio.store.journal import Applied
from pose_studio.store.project import Project
from pose_studio.store.records import VideoRecord

from . import predictions
from .history import History
from .predictions import ModelInfo, Result

log = logging.getLogger(__name__)

__all__ = ["FrameFlags", "Listener", "Session", "ShownFrame", "Topic"]


class Topic(str, Enum):
    PROJECT = "project"      # a project was opened or closed
    VIDEOS = "videos"        # the project's video list changed
    VIDEO = "video"          # the current video changed
    FRAME = "frame"          # the current frame index changed
    PIXELS = "pixels"        # the shown frame's pixels changed
    INSTANCES = "instances"  # instances on ``frames`` changed
    ARRAYS = "arrays"        # per-frame arrays of the current video changed
    SELECTION = "selection"  # selected instance/keypoint changed
    HISTORY = "history"      # the undo history changed
    RUNS = "runs"            # predictions were written (by a model run)
    TRACKS = "tracks"        # track rows changed, or instances joined or left a track
    SKELETON = "skeleton"    # the project's skeleton changed (every instance was rewritten)
    ASSIGNMENTS = "assignments"  # work given to annotators changed (several annotators)
    SUGGESTIONS = "suggestions"  # frame suggestions or their done marks changed elsewhere


Listener = Callable[[frozenset[Topic], tuple[tuple[int, int], ...]], None]
Frames = tuple[tuple[int, int], ...]


@dataclass
class FrameFlags:
    """Per-frame arrays of the current video (the session's copy of the store's summary)."""

    labeled: np.ndarray
    predicted: np.ndarray
    min_score: np.ndarray
    mean_score: np.ndarray

    @classmethod
    def empty(cls, n: int) -> FrameFlags:
        return cls(np.zeros(n, bool), np.zeros(n, bool), np.full(n, np.nan, np.float32),
                   np.full(n, np.nan, np.float32))

    @classmethod
    def from_store(cls, arrays: Any, n: int) -> FrameFlags:
        def take(name: str, dtype: Any, fill: Any) -> np.ndarray:
            out = np.full(n, fill, dtype)
            a = np.asarray(getattr(arrays, name))
            m = min(n, len(a))
            out[:m] = a[:m]
            return out

        return cls(take("labeled", bool, False), take("predicted", bool, False),
                   take("min_score", np.float32, np.nan), take("mean_score", np.float32, np.nan))

    def patch(self, f: int, instances: Iterable[Instance]) -> None:
        """Recompute frame ``f`` from its instances (the store's rule, ``summary.py``)."""
        insts = list(instances)
        preds = [i for i in insts if i.is_prediction]
        self.labeled[f] = any(not i.is_prediction for i in insts)
        self.predicted[f] = bool(preds)
        scores = [s for s in (p.mean_score() for p in preds) if s is not None]
        self.min_score[f] = min(scores) if scores else np.nan
        self.mean_score[f] = float(np.mean(scores)) if scores else np.nan


@dataclass(frozen=True, eq=False)
class ShownFrame:
    """The pixels on screen: the frame they are (``index``), the read-only array, and whether
    they are that exact frame (False: a keyframe preview while scrubbing)."""

    index: int
    pixels: np.ndarray
    exact: bool = True


#: Above this many touched frames of the current video, reload the arrays from the store's
#: summary instead of patching frame by frame.
_PATCH_LIMIT = 32


class Session:
    """See the module docstring.

    Args:
        user: Who edits (recorded with every step); None: ``$POSE_STUDIO_USER`` or the login.
    """

    def __init__(self, user: str | None = None) -> None:
        from pose_studio.store.journal import default_user

        self.user = user or default_user()  # asked once (the login lookup is not free)
        self.project: Project | None = None
        self.video_id: int | None = None
        self.frame_idx = 0
        self.frame_count = 0
        self.fps = 30.0
        self.selected_instance_id: int | None = None
        self.selected_keypoint: int | None = None
        self.frames = FrameFlags.empty(0)
        self.shown: ShownFrame | None = None
        self.history = History(self.user)  # this user's own undo stack
        self.last_frame: dict[int, int] = {}  # video id -> where the user was (per video)
        self._cache_key: tuple[int, int] | None = None
        self._cache: list[Instance] = []
        self._fingerprinted: set[int] | None = None
        self._listeners: list[Listener] = []
        #: Called with each edit the user applied (as stored; not undo/redo): e.g. the window's
        #: propagation learns the model's offsets from drags (``app.model_carry``).
        self.edit_observers: list[Callable[[Edit], object]] = []
        self._merge_seq: int | None = None

    # --- observers -----------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(topics, frames)`` after every change; returns the unsubscriber."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, *topics: Topic, frames: Frames = ()) -> None:
        ts = frozenset(topics)
        for fn in list(self._listeners):
            fn(ts, frames)

    # --- project -------------------------------------------------------------------------------
    @property
    def skeleton(self) -> Skeleton | None:
        return self.project.skeleton if self.project is not None else None

    @property
    def read_only(self) -> bool:
        return self.project is not None and self.project.read_only

    def open(self, project: Project | None) -> None:
        """Take ``project`` (closing the previous one); None closes."""
        old = self.project
        self.project = project
        self.video_id = None
        self.frame_idx = self.frame_count = 0
        self.frames = FrameFlags.empty(0)
        self.shown = None
        self.last_frame = {}
        self._fingerprinted = None
        self._merge_seq = None
        self._invalidate()
        self._clear_selection()
        if old is not None and old is not project:
            try:
                old.close()
            except Exception:  # closing must not stop the switch
                log.exception("closing the previous project failed")
        self.history.load(project)
        self._emit(Topic.PROJECT, Topic.VIDEOS, Topic.VIDEO, Topic.FRAME, Topic.PIXELS,
                   Topic.ARRAYS, Topic.SELECTION, Topic.HISTORY, Topic.INSTANCES)

    def close(self) -> None:
        self.open(None)

    def require(self) -> Project:
        if self.project is None:
            raise PoseStudioError("no project is open")
        return self.project

    def videos(self) -> list[VideoRecord]:
        return list(self.project.videos()) if self.project is not None else []

    def video_record(self, video_id: int | None = None) -> VideoRecord | None:
        vid = self.video_id if video_id is None else video_id
        if vid is None or self.project is None:
            return None
        return next((v for v in self.videos() if int(v.id) == vid), None)

    # --- position ------------------------------------------------------------------------------
    def set_video(self, video_id: int | None, frame_count: int = 0, fps: float = 30.0,
                  frame: int | None = None) -> None:
        """Make ``video_id`` current (None: none); goes to ``frame``, else where the user was
        on this video last, else frame 0."""
        if self.video_id is not None:
            self.last_frame[self.video_id] = self.frame_idx
        self.video_id = video_id
        self.frame_count = max(0, int(frame_count))
        self.fps = float(fps) if fps and fps > 0 else 30.0
        if frame is None:
            frame = self.last_frame.get(video_id, 0) if video_id is not None else 0
        self.frame_idx = self.clamp(frame)
        self.shown = None
        self._fingerprinted = None
        self._merge_seq = None
        self._invalidate()
        self._clear_selection()
        self.reload_arrays(emit=False)
        self._emit(Topic.VIDEO, Topic.ARRAYS, Topic.FRAME, Topic.PIXELS, Topic.INSTANCES,
                   Topic.SELECTION)

    def clamp(self, frame_idx: int) -> int:
        if self.frame_count <= 0:
            return 0
        return max(0, min(self.frame_count - 1, int(frame_idx)))

    def goto(self, frame_idx: int) -> bool:
        """Move to ``frame_idx`` (clamped); False when already there."""
        f = self.clamp(frame_idx)
        if f == self.frame_idx or self.video_id is None:
            return False
        self.frame_idx = f
        self._merge_seq = None  # nudges on another frame are another step
        had = self.selected_instance_id is not None
        self._clear_selection()
        topics = [Topic.FRAME, Topic.INSTANCES]
        if had:
            topics.append(Topic.SELECTION)
        self._emit(*topics, frames=((self.video_id, f),))
        return True

    def show_pixels(self, frame_idx: int, pixels: np.ndarray, exact: bool = True) -> None:
        """The decode lane delivered the pixels of ``frame_idx`` (read-only array)."""
        if pixels.flags.writeable:
            pixels = pixels.copy()
            pixels.setflags(write=False)
        self.shown = ShownFrame(int(frame_idx), pixels, bool(exact))
        self._emit(Topic.PIXELS)

    def shown_exact(self) -> ShownFrame | None:
        """The shown pixels when they are exactly the current frame, else None."""
        s = self.shown
        return s if s is not None and s.exact and s.index == self.frame_idx else None

    # --- selection -----------------------------------------------------------------------------
    def select(self, instance_id: int | None, keypoint: int | None = None) -> None:
        new = (instance_id, keypoint if instance_id is not None else None)
        if new == (self.selected_instance_id, self.selected_keypoint):
            return
        self.selected_instance_id, self.selected_keypoint = new
        self._emit(Topic.SELECTION)

    def _clear_selection(self) -> None:
        self.selected_instance_id = self.selected_keypoint = None

    def selected(self) -> Instance | None:
        return self.instance(self.selected_instance_id)

    def selected_keypoint_of(self) -> tuple[Instance, int] | None:
        inst, k = self.selected(), self.selected_keypoint
        return None if inst is None or k is None else (inst, k)

    # --- reading the current frame -------------------------------------------------------------
    def _invalidate(self) -> None:
        self._cache_key = None
        self._cache = []

    def instances(self, kind: InstanceKind | None = None) -> list[Instance]:
        """Instances on the current frame (read once per change)."""
        if self.project is None or self.video_id is None:
            return []
        key = (self.video_id, self.frame_idx)
        if self._cache_key != key:
            self._cache = list(self.project.instances(self.video_id, self.frame_idx))
            self._cache_key = key
        return list(self._cache) if kind is None else [i for i in self._cache if i.kind is kind]

    def instance(self, instance_id: int | None) -> Instance | None:
        if instance_id is None:
            return None
        return next((i for i in self.instances() if i.id == instance_id), None)

    def visible_predictions(self) -> list[Instance]:
        """Predictions on this frame no label stands for (:mod:`pose_studio.core.people`)."""
        return people.visible_predictions(self.instances())

    def people(self) -> list[Instance]:
        """Labels, then the predictions no label stands for (what the view draws)."""
        return people.people(self.instances())

    # --- per-frame arrays ----------------------------------------------------------------------
    def reload_arrays(self, emit: bool = True) -> None:
        n = self.frame_count
        if self.project is None or self.video_id is None:
            self.frames = FrameFlags.empty(n)
        else:
            self.frames = FrameFlags.from_store(self.project.frame_arrays(self.video_id), n)
        if emit:
            self._emit(Topic.ARRAYS)

    def _frames_changed(self, frames: Iterable[tuple[int, int]]) -> Frames:
        """Bring caches and arrays up to date after a write to ``frames`` (one read of the
        current frame, a few for others, or the whole summary for big changes)."""
        touched = tuple(dict.fromkeys(frames))
        here = [f for v, f in touched if v == self.video_id and 0 <= f < len(self.frames.labeled)]
        self._invalidate()
        if len(here) > _PATCH_LIMIT:
            self.reload_arrays(emit=False)
        else:
            for f in here:
                if f == self.frame_idx:
                    self.frames.patch(f, self.instances())
                elif self.project is not None and self.video_id is not None:
                    self.frames.patch(f, self.project.instances(self.video_id, f))
        if self.selected_instance_id is not None and self.selected() is None:
            self._clear_selection()
        return touched

    # --- writing -------------------------------------------------------------------------------
    def apply(self, edit: Edit) -> Edit:
        """Apply a user edit (one transaction with its history step); returns it as applied
        (added instances with their ids). Consecutive edits with the same merge key fold into
        one step.

        Raises:
            PoseStudioError: read-only project, stale edit, bad value (nothing was written).
        """
        project = self.require()
        self._remember_fingerprint(edit)
        merge = self._merge_seq if edit.merge_key is not None else None
        try:
            done = project.apply_edit(edit, user=self.user, merge_into=merge)
        except StaleEditError:
            # someone else changed these instances: show what the store holds now
            self._merge_seq = None
            touched = self._frames_changed(edit.frames)
            self._emit(Topic.INSTANCES, Topic.ARRAYS, Topic.SELECTION, frames=touched)
            raise
        self._merge_seq = done.entry.seq if edit.merge_key is not None else None
        self.history.record(done.entry)
        had = self.selected_instance_id
        touched = self._frames_changed(done.frames)
        topics = [Topic.INSTANCES, Topic.ARRAYS, Topic.HISTORY]
        if had != self.selected_instance_id:  # the selected instance was deleted
            topics.append(Topic.SELECTION)
        assert done.edit is not None
        if done.edit.track_ids:
            topics.append(Topic.TRACKS)
        self._emit(*topics, frames=touched)
        for observe in self.edit_observers:  # after the view is refreshed: the edit is stored
            try:
                observe(done.edit)
            except Exception:  # an observer's bug must not make a stored edit look failed
                log.exception("edit observer %r failed", observe)
        return done.edit

    def undo(self) -> Applied | None:
        """Undo the newest step (see :meth:`History.undo` for stale steps)."""
        return self._walk(undoing=True)

    def redo(self) -> Applied | None:
        return self._walk(undoing=False)

    def _walk(self, undoing: bool) -> Applied | None:
        project = self.require()
        self._merge_seq = None
        try:
            done = self.history.undo(project, self.user) if undoing else \
                self.history.redo(project, self.user)
        finally:
            self._emit(Topic.HISTORY)
        if done is None:
            return None
        if done.entry.kind == "skeleton":
            self._skeleton_changed()
            return done
        if done.entry.kind == "import":
            self._invalidate()
            self.reload_arrays(emit=False)
            self._emit(Topic.VIDEOS, Topic.INSTANCES, Topic.ARRAYS, Topic.SELECTION,
                       Topic.TRACKS, frames=done.frames)
            return done
        had = self.selected_instance_id
        touched = self._frames_changed(done.frames)
        topics = [Topic.INSTANCES, Topic.ARRAYS]
        if had != self.selected_instance_id:
            topics.append(Topic.SELECTION)
        if done.edit is not None and done.edit.track_ids:
            topics.append(Topic.TRACKS)
        self._emit(*topics, frames=touched)
        return done

    def change_skeleton(self, change: SkeletonChange) -> None:
        """Change the project's skeleton, every instance following (one history step, one
        transaction; ``store/skeleton_change.py``)."""
        from pose_studio.store import skeleton_change

        project = self.require()
        self._merge_seq = None
        done = skeleton_change.apply_change(project, change, user=self.user)
        self.history.record(done.entry)
        self._emit(Topic.HISTORY)
        self._skeleton_changed()

    def _skeleton_changed(self) -> None:
        """Every instance was rewritten: re-read what is shown; a selected keypoint may be
        another one now, so only the instance stays selected."""
        self._invalidate()
        self.reload_arrays(emit=False)
        self.selected_keypoint = None
        if self.selected_instance_id is not None and self.selected() is None:
            self._clear_selection()
        self._emit(Topic.SKELETON, Topic.INSTANCES, Topic.ARRAYS, Topic.SELECTION)

    def _remember_fingerprint(self, edit: Edit) -> None:
        """Store the picture's signature the first time the shown frame gets a user edit, so a
        replaced video is noticed later (its own small transaction, not a history step)."""
        shown, project, vid = self.shown_exact(), self.project, self.video_id
        if shown is None or project is None or vid is None or project.read_only:
            return
        if (vid, shown.index) not in edit.frames:
            return
        if self._fingerprinted is None:
            try:
                self._fingerprinted = set(project.fingerprints(vid))
            except PoseStudioError:
                self._fingerprinted = set()
        if shown.index in self._fingerprinted:
            return
        try:
            from pose_studio.video import frame_signature

            project.set_fingerprints(vid, {shown.index: frame_signature(shown.pixels)})
            self._fingerprinted.add(shown.index)
        except PoseStudioError:
            log.debug("fingerprint not stored", exc_info=True)

    def fingerprints_changed(self) -> None:
        """Fingerprints were written elsewhere (the background check): read them again."""
        self._fingerprinted = None

    # --- videos --------------------------------------------------------------------------------
    def add_video(self, path: str | Path, meta: Any) -> int:
        """Add a video the decode lane opened (its metadata); returns its id."""
        vid = self.require().add_video(
            path, width=int(meta.width), height=int(meta.height),
            frame_count=int(meta.frame_count), fps=float(meta.fps), vfr=bool(meta.vfr),
            codec=str(getattr(meta, "codec", "")), duration_s=float(meta.duration_s),
            kind=str(getattr(meta, "kind", "file") or "file"),
        )
        self._emit(Topic.VIDEOS)
        return int(vid)

    def set_video_index(self, video_id: int, blob: bytes) -> None:
        self.require().set_video_index(video_id, bytes(blob))

    def relink_video(self, video_id: int, path: str | Path) -> None:
        self.require().relink_video(video_id, str(path))
        self._emit(Topic.VIDEOS)

    def save_as(self, path: str | Path) -> Path:
        new = self.require().save_as(path)
        self._emit(Topic.PROJECT)
        return new

    def store_predictions(self, info: ModelInfo, results: Sequence[Result],
                          own_run: int | None = None) -> predictions.LiveWrite:
        """Store live model results for the current video (one route:
        :func:`pose_studio.app.predictions.write_live`: into the shown run when the same model
        made it, else into the model's own live run, ``own_run`` or a new one)."""
        project = self.require()
        if self.video_id is None:
            raise PoseStudioError("no video is shown")
        done = predictions.write_live(project, self.video_id, info, results, own_run)
        if done.note:  # what the video shows changed: every frame may look different
            self.predictions_written(self.video_id)
        else:
            self.predictions_written(self.video_id, [int(r.frame_idx) for r in results])
        return done

    # --- model runs side by side ---------------------------------------------------------------
    def shown_runs(self) -> Any:
        """The current video's shown run (A), second run (B) and whether A was chosen
        (``store.runs.ShownRuns``); None without a video."""
        if self.project is None or self.video_id is None:
            return None
        return self.project.shown_runs(self.video_id)

    def set_shown_runs(self, run: int | str | None, compare: int | str | None = "keep") -> Any:
        """Show ``run`` as A on the current video (``"newest"``: follow the newest run) and
        ``compare`` as B (None: none; ``"keep"``). The arrays, the frame and the review follow
        at once. Not a history step (it is what is shown, not an edit)."""
        project = self.require()
        if self.video_id is None:
            raise PoseStudioError("no video is shown")
        done = project.set_shown_runs(self.video_id, run, compare)
        self._invalidate()
        self.reload_arrays(emit=False)
        topics = [Topic.RUNS, Topic.INSTANCES, Topic.ARRAYS]
        if self.selected_instance_id is not None and self.selected() is None:
            self._clear_selection()  # the selected prediction belongs to the run hidden now
            topics.append(Topic.SELECTION)
        self._emit(*topics, frames=((self.video_id, self.frame_idx),))
        return done

    def predictions_written(self, video_id: int | None,
                            frames: Iterable[int] | None = None) -> None:
        """Predictions were stored for ``video_id`` (a model run, live or batch, or an import
        outside the window): refresh what shows them."""
        if video_id is None or video_id != self.video_id:
            self._emit(Topic.RUNS)
            return
        if frames is None:
            self._invalidate()
            self.reload_arrays(emit=False)
            touched: Frames = ((video_id, self.frame_idx),)
        else:
            touched = self._frames_changed((video_id, int(f)) for f in frames)
        self._emit(Topic.RUNS, Topic.INSTANCES, Topic.ARRAYS, frames=touched)

    def changed_elsewhere(self, frames: dict[int, tuple[int, ...] | None] | None,
                          topics: Iterable[str] = ()) -> None:
        """Another annotator (or process) changed the project: ``frames`` per video (None for
        a video: all of it; ``frames`` None: anything). Re-reads only what is shown."""
        names = set(topics)
        project = self.project
        if project is not None and (frames is None or "skeleton" in names):
            # a skeleton changed elsewhere rewrote every instance: take it, re-read everything
            before = project.skeleton.to_json()
            if project.reload_skeleton().to_json() != before:
                self._skeleton_changed()
        out: set[Topic] = set()
        touched: Frames = ()
        vid = self.video_id
        if frames is None or (vid is not None and vid in frames and frames[vid] is None):
            self._invalidate()
            self.reload_arrays(emit=False)
            out |= {Topic.INSTANCES, Topic.ARRAYS, Topic.RUNS}
            touched = ((vid, self.frame_idx),) if vid is not None else ()
        elif vid is not None and vid in frames:
            had = self.selected_instance_id
            touched = self._frames_changed((vid, int(f)) for f in frames[vid] or ())
            out |= {Topic.INSTANCES, Topic.ARRAYS}
            if had != self.selected_instance_id:
                out.add(Topic.SELECTION)
        if frames is None or names & {"videos", "project"}:
            out.add(Topic.VIDEOS)
        if frames is None or "assignments" in names or out:
            out.add(Topic.ASSIGNMENTS)  # progress follows the labels
        if "runs" in names:
            out.add(Topic.RUNS)
        if frames is None or "suggestions" in names:
            out.add(Topic.SUGGESTIONS)
        if out:
            self._emit(*out, frames=touched)

    def refresh(self) -> None:
        """Re-read everything of the current video (after an import from a dialog)."""
        self._invalidate()
        self.reload_arrays(emit=False)
        self.history.load(self.project)
        here = ((self.video_id, self.frame_idx),) if self.video_id is not None else ()
        self._emit(Topic.VIDEOS, Topic.INSTANCES, Topic.ARRAYS, Topic.HISTORY, Topic.RUNS,
                   Topic.TRACKS, frames=here)
