"""The model's word when the window propagates: re-running the pose model around each carried
person, and learning the model's offset on each track from the points a person drags.

``pose-studio propagate --model`` re-runs a model; the effort benchmark's strategy (c) does
both (docs/LABELING.md: re-detection took it from 6.46 to 5.98 actions a frame, the learned
offsets to 5.64). Without them the window filled from the stored predictions only.

* :func:`redetect_model` loads the model to re-run, in the propagation's worker thread (a copy
  of its own, kept loaded for the next propagation: nothing is shared with the inference
  lane's sessions), or says in one line why it cannot be used (one-stage, other keypoints,
  unreadable).
* :class:`CarryMemory` keeps, per propagated frame and track, where the model put the points
  (``PropagationResult.model``) and how sure each proposed point was, and learns per track
  from every edit in which a person placed points there
  (:func:`pose_studio.core.fusion.learn_offsets`); :func:`with_model` puts the model, the
  offsets and the start's sigmas into a propagation request. Session state only: nothing is
  stored in the project.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from pose_studio.core.annotation import Instance, Provenance
from pose_studio.core.edits import Edit
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.fusion import FusionParams, learn_offsets, person_scale

from .carry import _UNTRACKED, PropagationRequest

__all__ = ["CarryMemory", "placed_moves", "redetect_model", "with_model"]

#: Propagated frames whose model points are kept for learning (the oldest are forgotten).
KEEP_FRAMES = 2000
#: Models kept loaded for re-detection (a fix carried forward after every drag would
#: otherwise load the model each time); an ONNX Runtime session may run in several threads.
KEEP_MODELS = 2
_loaded: OrderedDict[tuple[str, int, int], Any] = OrderedDict()
_loaded_lock = threading.Lock()


def redetect_model(path: str, keypoint_names: tuple[str, ...]) -> tuple[Any, str]:
    """``(model, "")`` for a top-down pose model with exactly these keypoints in this order,
    else ``(None, why)``."""
    from pose_studio.inference import PoseModel, load_model

    try:
        st = os.stat(path)
        key = (str(path), st.st_mtime_ns, st.st_size)  # a file replaced is loaded again
        with _loaded_lock:
            model = _loaded.get(key)
        if model is None:
            model = load_model(path, expect="pose", threads=1)
            with _loaded_lock:
                _loaded[key] = model
                while len(_loaded) > KEEP_MODELS:
                    _loaded.popitem(last=False)
    except PoseStudioError as exc:
        return None, f"the model could not be loaded ({exc})"
    except OSError as exc:
        return None, f"the model could not be loaded ({exc.strerror or exc}: {path})"
    if not isinstance(model, PoseModel) or not model.top_down:
        return None, "the model finds people itself (one-stage): it cannot be re-run on a crop"
    if tuple(model.keypoint_names) != tuple(keypoint_names):
        return None, "the model predicts other keypoints than the project's skeleton"
    return model, ""


def _track_key(track_id: int | None) -> int:
    """An untracked label counts as one track of its own, as ``carry`` counts it."""
    return _UNTRACKED if track_id is None else int(track_id)


def placed_moves(before: Instance, after: Instance) -> np.ndarray:
    """``(K,)`` the points a person moved or placed in an edit from ``before`` to ``after``
    (provenance ``user`` now, and elsewhere than before); a tool's output (propagated,
    interpolated, predicted points) is never one."""
    if before.num_keypoints != after.num_keypoints:
        return np.zeros(after.num_keypoints, bool)
    moved = np.any(np.asarray(after.xy) != np.asarray(before.xy), axis=1)
    return after.labeled & moved & (np.asarray(after.provenance) == int(Provenance.USER))


class CarryMemory:
    """See the module docstring. Belongs to the thread that applies edits (the GUI's)."""

    def __init__(self, fusion: FusionParams | None = None) -> None:
        self.fusion = fusion or FusionParams()
        self._shown: OrderedDict[tuple[int, int, int], np.ndarray] = OrderedDict()
        self._filled: OrderedDict[tuple[int, int, int], int] = OrderedDict()  # -> direction
        self._sigmas: OrderedDict[tuple[int, int, int], np.ndarray] = OrderedDict()
        self._offsets: dict[tuple[int, int], np.ndarray] = {}

    def clear(self) -> None:
        self._shown.clear()
        self._filled.clear()
        self._sigmas.clear()
        self._offsets.clear()

    def filled(self, video_id: int, frame: int, track_id: int | None) -> int | None:
        """The direction (+1/-1) a propagation filled this frame for this track in (None:
        none did, as far as this session knows)."""
        return self._filled.get((video_id, frame, _track_key(track_id)))

    def remember(self, req: PropagationRequest, result: Any) -> None:
        """The frames ``result`` filled, and where the model put each carried person's points
        there."""
        sigmas = getattr(result, "sigmas", {})
        for f, insts in getattr(result, "frames", {}).items():
            for i, (start, inst) in enumerate(zip(req.start, insts)):
                if inst is not None:
                    key = (req.video_id, int(f), _track_key(start.track_id))
                    self._filled[key] = req.direction
                    self._filled.move_to_end(key)
                    if f in sigmas:
                        sig = np.array(sigmas[f][i], np.float64)
                        sig.setflags(write=False)
                        self._sigmas[key] = sig
                        self._sigmas.move_to_end(key)
        for f, raw in getattr(result, "model", {}).items():
            for i, start in enumerate(req.start):
                pts = np.array(raw[i], np.float64)
                if not np.isfinite(pts).any():
                    continue
                pts.setflags(write=False)
                key = (req.video_id, int(f), _track_key(start.track_id))
                self._shown[key] = pts
                self._shown.move_to_end(key)
        for table in (self._shown, self._filled, self._sigmas):
            while len(table) > KEEP_FRAMES:
                table.popitem(last=False)

    def learn(self, edit: Edit) -> int:
        """Learn from the points ``edit`` moved on frames a propagation filled; returns how
        many points taught something."""
        n = 0
        for ch in edit.changes:
            before, after = ch.before, ch.after
            if before is None or after is None or after.is_prediction:
                continue
            model_xy = self._shown.get((ch.video_id, ch.frame_idx, _track_key(after.track_id)))
            if model_xy is None or model_xy.shape != after.xy.shape:
                continue
            moved = placed_moves(before, after)
            if not moved.any():
                continue
            key = (ch.video_id, _track_key(after.track_id))
            new = learn_offsets(self._offsets.get(key), model_xy, after.xy, moved,
                                person_scale(after), self.fusion)
            new.setflags(write=False)
            self._offsets[key] = new
            n += int(moved.sum())
        return n

    def offsets(self, video_id: int, track_id: int | None) -> np.ndarray | None:
        return self._offsets.get((video_id, _track_key(track_id)))

    def start_sigmas(self, video_id: int, frame: int, inst: Instance) -> np.ndarray | None:
        """How sure ``inst``'s points on ``frame`` are, when a propagation proposed them: the
        sigma it proposed each with, a point placed since (provenance ``user``) the
        fusion's ``user_sigma``; None: not known (the caller goes by provenance)."""
        sig = self._sigmas.get((video_id, frame, _track_key(inst.track_id)))
        if sig is None or sig.shape != (inst.num_keypoints,):
            return None
        placed = np.asarray(inst.provenance) == int(Provenance.USER)
        return np.where(placed, self.fusion.user_sigma, sig)


def with_model(req: PropagationRequest, memory: CarryMemory | None,
               model_path: str | None) -> PropagationRequest:
    """``req`` with the model to re-run, each start's learned offset and, where a
    propagation proposed the start, how sure each of its points was."""
    if memory is None:
        return dataclasses.replace(req, model_path=model_path)
    offsets = tuple(memory.offsets(req.video_id, s.track_id) for s in req.start)
    sigmas = tuple(memory.start_sigmas(req.video_id, req.from_frame, s) for s in req.start)
    return dataclasses.replace(req, model_path=model_path, model_offsets=offsets,
                               start_sigmas=sigmas)
