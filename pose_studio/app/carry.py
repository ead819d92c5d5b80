"""Carrying a fix through time, as edits: interpolation between a track's keyframes and
optical-flow propagation from a labeled frame (with confidence-weighted filling).

Both compute with the labeling algorithms (``core.interpolate``, ``labeling.flow``; this module
only calls them) and end as ONE :class:`~pose_studio.core.edits.Edit` over every frame they
fill: one transaction, one history step, one undo. Generated instances never overwrite a
person's label (``core.proposals.place_generated``): a frame where the track already has a
keyframe is left alone, and earlier generated instances of the track are updated.

* Interpolation is cheap: :func:`interpolation` returns the plan and the poses per frame, which
  the window draws as ghosts until the user accepts the span (then it computes again against the
  store as it is, so nothing stale is written).
* Propagation reads frames: :func:`propagation_request` gathers every input on the calling
  thread as frozen values (instances are immutable with read-only arrays), :func:`run_propagation`
  runs in a worker with progress and cancel (it opens its own video reader), and
  :func:`propagation_plan` turns the result into the edit on the calling thread again, against
  the store as it is then. The result says where points stopped and why.

Untracked labels: one untracked label per frame counts as one track (so propagating a single
animal again updates its own earlier output); several untracked labels on a frame only fill
frames without labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from pose_studio.core.annotation import Instance
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.fusion import FusionParams, label_sigmas
from pose_studio.core.interpolate import interpolation_proposal
from pose_studio.core.proposals import Proposal, is_keyframe, place_generated

from .editing import Plan, plural, refusal
from .proposal_edits import Items, frames_text, proposal_edit, stored_by_id, video_items
from .session import Session

__all__ = [
    "DEFAULT_PROPAGATE_FRAMES",
    "HISTORY_FRAMES",
    "Interpolation",
    "PropagationRequest",
    "interpolation",
    "interpolation_for",
    "propagation_plan",
    "propagation_request",
    "propagation_request_for",
    "run_propagation",
]

Method = Literal["linear", "cubic"]
#: How far one propagation goes at most (it stops earlier at the track's next label).
DEFAULT_PROPAGATE_FRAMES = 30
#: How many frames behind the start propagation reads a track's labels from (its motion and
#: each point's trajectory: ``labeling.flow.propagate``'s ``history``): two to four swings of
#: a limb, for the repeat fit of ``core.motion`` to find the last swing like this one in.
HISTORY_FRAMES = 64
#: Stand-in track id for "the one untracked label of each frame" (never stored).
_UNTRACKED = -1


# --- interpolation -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Interpolation:
    """An interpolation over one video: the plan (its edit, or why there is none) and the
    poses it would write, per frame (what the window draws as ghosts)."""

    video_id: int
    method: Method
    track_id: int | None
    frames: tuple[int, int]
    plan: Plan
    ghosts: Mapping[int, tuple[Instance, ...]] = field(default_factory=dict)

    @property
    def span(self) -> tuple[int, int] | None:
        """First and last frame it fills (None: nothing)."""
        return (min(self.ghosts), max(self.ghosts)) if self.ghosts else None


def interpolation_for(project: Any, video_id: int, frames: tuple[int, int],
                      method: Method = "linear", track_id: int | None = None) -> Interpolation:
    """Interpolate every track (or only ``track_id``) between its keyframes in ``frames``
    (half-open)."""
    items = video_items(project, video_id, frames, "user")
    try:
        prop = interpolation_proposal(items, frames, method, track_id)
    except PoseStudioError as exc:
        return Interpolation(video_id, method, track_id, frames, Plan(why=str(exc)))
    stored = stored_by_id(items)
    ghosts: dict[int, list[Instance]] = {}
    for f, inst in prop.add:
        ghosts.setdefault(int(f), []).append(inst)
    for inst in prop.replace:
        ghosts.setdefault(stored[int(inst.id)].frame, []).append(inst)  # type: ignore[arg-type]
    n = len(ghosts)
    label = f"interpolate {plural(n, 'frame')} ({method})"
    edit = proposal_edit(video_id, prop, stored, label)
    if edit is None:
        why = ("nothing to interpolate: a track needs labels on two frames with frames "
               "between them" if not prop.add and not prop.replace else
               "the interpolated frames already hold exactly these poses")
        return Interpolation(video_id, method, track_id, frames, Plan(why=why))
    plan = Plan(edit, done=f"interpolated {frames_text(ghosts)} ({method}; one step: Ctrl+Z "
                           "takes it back)")
    return Interpolation(video_id, method, track_id, frames, plan,
                         {f: tuple(v) for f, v in sorted(ghosts.items())})


def interpolation(s: Session, method: Method = "linear") -> Interpolation | Plan:
    """Interpolate the shown video: the selected instance's track, else every track (untracked
    labels as one when no frame has two)."""
    why = refusal(s)
    if why is not None:
        return Plan(why=why)
    assert s.project is not None and s.video_id is not None
    sel = s.selected()
    track = sel.track_id if sel is not None else None
    return interpolation_for(s.project, s.video_id, (0, s.frame_count), method, track)


# --- propagation ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class PropagationRequest:
    """Everything a propagation reads, gathered on the calling thread (frozen values)."""

    video_id: int
    video_path: str
    index: bytes | None
    from_frame: int
    to_frame: int
    start: tuple[Instance, ...]
    history: tuple[tuple[Instance | None, ...], ...]
    predictions: Mapping[int, tuple[Instance, ...]] | None
    sigmas: np.ndarray
    keypoint_names: tuple[str, ...]
    flow: Any = None  # labeling.flow.FlowParams (None: its defaults)
    #: The skeleton's left/right permutation: a partner's heatmap peak counts as a (weaker)
    #: candidate for a keypoint, so the flow can settle a side confusion.
    flip_perm: np.ndarray | None = None
    #: The pose model to re-run around each carried person (``app.model_carry``; None: fill
    #: from the stored predictions only).
    model_path: str | None = None
    #: Per start instance, the model's offset on its track learned from a person's drags
    #: (read-only ``(K, 2)``, None: none yet); empty: none.
    model_offsets: tuple[np.ndarray | None, ...] = ()
    #: Per start instance, how sure each of its points is (px; None or empty: by provenance,
    #: ``core.fusion.label_sigmas``): the sigma a propagation proposed it with, where known.
    start_sigmas: tuple[np.ndarray | None, ...] = ()

    @property
    def n_frames(self) -> int:
        return abs(self.to_frame - self.from_frame)

    @property
    def direction(self) -> int:
        return 1 if self.to_frame > self.from_frame else -1


def _key(inst: Instance, single_untracked: bool) -> int | None:
    if inst.track_id is not None:
        return inst.track_id
    return _UNTRACKED if single_untracked else None


def _single_untracked(items: Items) -> bool:
    """No frame holds two untracked labels (then they count as one track)."""
    seen: set[int] = set()
    for f, inst in items:
        if not inst.is_prediction and inst.track_id is None:
            if f in seen:
                return False
            seen.add(f)
    return True


def propagation_request_for(project: Any, video: Any, from_frame: int, direction: int, *,
                            max_frames: int = DEFAULT_PROPAGATE_FRAMES,
                            to_frame: int | None = None, track_id: int | None = None,
                            instance_id: int | None = None, fill: bool = True,
                            stop_at_labels: bool = True, flow: Any = None
                            ) -> PropagationRequest:
    """The inputs to carry the labels of ``from_frame`` (only ``track_id``'s, or only instance
    ``instance_id``) ``direction`` (+1/-1) up to ``to_frame``, else up to ``max_frames`` frames.
    With ``stop_at_labels`` it stops before the next frame where a carried track already has a
    label (that label is the better start from there); else it carries on past it (labels are
    left alone either way).

    Raises:
        PoseStudioError: nothing to carry, or nowhere to carry it (the reason says which).
    """
    n = int(video.frame_count)
    d = 1 if direction >= 0 else -1
    if not 0 <= from_frame < n:
        raise PoseStudioError(f"frame {from_frame} is outside video {video.id} (0..{n - 1})")
    far = to_frame if to_frame is not None else from_frame + d * max_frames
    far = max(0, min(n - 1, far))
    if far == from_frame:
        raise PoseStudioError(f"frame {from_frame} is the {'last' if d > 0 else 'first'} "
                              "frame: there is nothing to carry it to")
    lo, hi = min(from_frame, far) - HISTORY_FRAMES, max(from_frame, far) + HISTORY_FRAMES + 1
    items = video_items(project, int(video.id), (max(0, lo), min(n, hi)))
    single = _single_untracked(items)
    here = [i for f, i in items if f == from_frame and is_keyframe(i)]
    if instance_id is not None:
        here = [i for i in here if i.id == instance_id]
    elif track_id is not None:
        here = [i for i in here if i.track_id == track_id]
    if not here:
        raise PoseStudioError(
            f"frame {from_frame} has no label to propagate"
            + (f" of track {track_id}" if track_id is not None else "")
            + " (a point placed by a person; interpolated or propagated instances, and "
              "predictions, are not used as a start: accept or correct one first)")
    keys = [_key(i, single) for i in here]
    # stop before the next frame where a carried track (or, untracked, any label) is labeled
    stop = far
    for f, inst in items if stop_at_labels else ():
        if inst.is_prediction or (f - from_frame) * d <= 0 or (stop - f) * d < 0:
            continue
        k = _key(inst, single)
        if (k is None and None in keys) or (k is not None and k in keys and is_keyframe(inst)):
            stop = f - d
    if stop == from_frame:
        raise PoseStudioError(f"frame {from_frame + d} already has this label: move past it "
                              "to propagate further")
    labels_at: dict[int, list[Instance]] = {}
    for f, inst in items:
        if not inst.is_prediction:
            labels_at.setdefault(f, []).append(inst)
    history = []
    for k in keys:
        behind: list[Instance | None] = []
        for back in range(from_frame - d, from_frame - (HISTORY_FRAMES + 1) * d, -d):
            same = [i for i in labels_at.get(back, ()) if k is not None and _key(i, single) == k]
            behind.append(same[0] if len(same) == 1 else None)
        history.append(tuple(behind))
    preds: Mapping[int, tuple[Instance, ...]] | None = None
    if fill:
        grouped: dict[int, list[Instance]] = {}
        for f, inst in items:
            if inst.is_prediction and (f - from_frame) * d > 0 and (stop - f) * d >= 0:
                grouped.setdefault(f, []).append(inst)
        # read-only: the request crosses to the worker thread
        preds = MappingProxyType({f: tuple(v) for f, v in grouped.items()})  # type: ignore[assignment]
    sk = project.skeleton
    sig = np.array(sk.sigma_array(), dtype=np.float64)
    sig.setflags(write=False)
    return PropagationRequest(
        int(video.id), str(video.path), project.video_index(int(video.id)), from_frame, stop,
        tuple(here), tuple(history), preds, sig, tuple(sk.keypoints), flow,
        sk.flip_permutation())


def propagation_request(s: Session, direction: int, *,
                        max_frames: int = DEFAULT_PROPAGATE_FRAMES,
                        fill: bool = True) -> PropagationRequest | Plan:
    """Carry the shown frame's labels (the selected one only, when one is selected)."""
    why = refusal(s)
    if why is not None:
        return Plan(why=why)
    rec = s.video_record()
    assert s.project is not None and rec is not None
    if rec.missing:
        return Plan(why=f"the video file is missing ({rec.stored_path}): relink it first")
    sel = s.selected()
    try:
        return propagation_request_for(
            s.project, rec, s.frame_idx, direction, max_frames=max_frames, fill=fill,
            instance_id=sel.id if sel is not None and is_keyframe(sel) else None)
    except PoseStudioError as exc:
        return Plan(why=str(exc))


def run_propagation(req: PropagationRequest, *,
                    progress: Callable[[int, int], None] | None = None,
                    cancel: Callable[[], bool] | None = None,
                    open_reader: Callable[[str, bytes | None], Any] | None = None,
                    redetect_model: Any = None) -> Any:
    """Run the propagation (any thread: it opens and closes its own reader). Returns the
    ``labeling.flow.PropagationResult`` (cancelled: the frames done so far).

    ``redetect_model``: a loaded top-down pose model with the project's keypoints, re-run on a
    crop around where the flow puts each person on every frame (``inference.redetect``); its
    heatmap peak that agrees with the flow is taken. Owned by the calling thread's caller."""
    from pose_studio.labeling.flow import propagate

    if open_reader is None:
        from pose_studio.video import open_video

        def open_reader(path: str, index: bytes | None) -> Any:
            return open_video(path, index=index)

    reader = open_reader(req.video_path, req.index)
    try:
        redetect = None
        if redetect_model is not None:
            from pose_studio.inference.redetect import CropRedetector

            redetect = CropRedetector(redetect_model, reader.get)
        return propagate(reader.get, list(req.start), req.from_frame, req.to_frame,
                         predictions=req.predictions, sigmas=req.sigmas,
                         keypoint_names=req.keypoint_names,
                         flip_perm=req.flip_perm, redetect=redetect,
                         model_offsets=list(req.model_offsets) or None,
                         start_sigmas=_start_sigmas(req),
                         history=[list(h) for h in req.history], params=req.flow,
                         progress=progress, cancel=cancel)
    finally:
        reader.close()


def _start_sigmas(req: PropagationRequest) -> list[np.ndarray] | None:
    if not any(s is not None for s in req.start_sigmas):
        return None
    fu = FusionParams()
    return [label_sigmas(inst, fu) if sig is None else sig
            for inst, sig in zip(req.start, req.start_sigmas)]


def stops_text(req: PropagationRequest, result: Any, limit: int = 2) -> str:
    """Where points stopped, e.g. ``2 points stopped: left_wrist at frame 57 (forward-backward
    error 2.3 px), ...``; empty when none did."""
    stops = list(result.stops)
    if not stops:
        return ""
    parts = []
    for st in stops[:limit]:
        who = req.start[st.instance]
        name = req.keypoint_names[st.keypoint] if st.keypoint < len(req.keypoint_names) \
            else f"keypoint {st.keypoint}"
        owner = f"track {who.track_id} " if who.track_id is not None and len(req.start) > 1 \
            else ""
        parts.append(f"{owner}{name} at frame {st.frame} ({st.reason})")
    more = f", and {len(stops) - limit} more" if len(stops) > limit else ""
    if not req.predictions:  # no model to fill with: a lost point stops there
        return f"{plural(len(stops), 'point')} stopped: " + ", ".join(parts) + more
    # filling: a point the flow lost goes on where the model (or its own motion) is sure
    return (f"the flow lost {plural(len(stops), 'point')} (" + ", ".join(parts) + more
            + "); the model's confident points carried them on")


def propagation_plan(project: Any, req: PropagationRequest, result: Any,
                     model_why: str = "") -> Plan:
    """The edit that writes ``result`` against the store as it is now. With ``req.model_path``
    its status line says first whether the model was re-run, or (``model_why``: why not)
    that the stored predictions filled instead."""
    gen = [(int(f), inst) for f, insts in sorted(result.frames.items())
           for inst in insts if inst is not None]
    lo, hi = min(req.from_frame, req.to_frame), max(req.from_frame, req.to_frame) + 1
    items = [(f, i) for f, i in video_items(project, req.video_id, (lo, hi), "user")
             if f != req.from_frame]
    single = _single_untracked(items) and all(i.track_id is None for i in req.start) \
        and len(req.start) == 1
    if single:  # the untracked label as a track of its own, so its earlier output is updated
        gen = [(f, i.replace(track_id=_UNTRACKED)) for f, i in gen]
        keyed = [(f, i.replace(track_id=_UNTRACKED) if i.track_id is None else i)
                 for f, i in items]
        prop = place_generated(gen, keyed)
        prop = Proposal(tuple((f, i.replace(track_id=None)) for f, i in prop.add),
                        tuple(i.replace(track_id=None) if i.track_id == _UNTRACKED else i
                              for i in prop.replace))
    else:
        prop = place_generated(gen, items)
    done_frames = len(result.frames)
    where = f"frames {req.from_frame}→{req.from_frame + req.direction * done_frames}"
    label = f"propagate {plural(len(req.start), 'label')} {where}"
    edit = proposal_edit(req.video_id, prop, stored_by_id(items), label)
    stops = stops_text(req, result)
    cancelled = " (cancelled: kept the frames done)" if result.cancelled else ""
    if edit is None:
        return Plan(why=f"propagation changed nothing{cancelled}"
                        + (f": {stops}" if stops else ""))
    model = "" if req.model_path is None else \
        f" (filled from the stored predictions: {model_why})" if model_why else \
        " (the model re-run around each person)"
    done = f"propagated {where}{model}{cancelled}" + (f"; {stops}" if stops else
                                                      "; every point held")
    return Plan(edit, done=done)


def _start_summary(req: PropagationRequest) -> str:
    return f"{plural(len(req.start), 'label')} of frame {req.from_frame}"


def describe_request(req: PropagationRequest) -> str:
    """``propagating 1 label of frame 12 → 42``."""
    return f"propagating {_start_summary(req)} → {req.to_frame}"


def generated_frames(result: Any) -> Sequence[int]:
    return sorted(result.frames)
