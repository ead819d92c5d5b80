"""Identities as edits: rename, merge, split and delete tracks, swap two identities from a frame
on, and run the tracker over a video's predictions. Each is ONE history step (the track rows
change with the instances, ``core.edits.TrackChange``), so undo restores names, rows and every
instance's track.

Tracks on predictions are history steps too: the tracker only sets ``track_id`` (nothing else
about a prediction changes), and the user expects Ctrl+Z to take a tracking run back. A later
model run that deletes those predictions makes the step stale; undo then says so and drops it,
as for any edit (``app/history.py``).

The tracker itself (``labeling.tracker``) runs in a worker: :func:`tracker_request` reads the
predictions into frozen values, :func:`run_tracker` assigns numbers (any thread),
:func:`tracker_plan` builds the edit against the store as it is then (an edit made against
predictions that changed meanwhile is refused by the store, never half-written).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pose_studio.core.annotation import Instance
from pose_studio.core.edits import Change, Edit, TrackChange
from pose_studio.core.tracking import SwitchCandidate, identity_switch_candidates
from pose_studio.store.tracks import (
    TrackSpan,
    next_track_id,
    track_counts,
    track_instances,
    track_spans,
)

from .editing import Plan, plural, refusal
from .proposal_edits import video_items
from .session import Session

__all__ = [
    "TrackerRequest",
    "delete_track",
    "identity_switches",
    "merge_tracks",
    "rename_track",
    "run_tracker",
    "spans",
    "split_track",
    "swap_identities",
    "tracker_plan",
    "tracker_request",
]


def _names(project: Any) -> dict[int, str]:
    return {int(t.id): str(t.name) for t in project.tracks()}


def spans(s: Session) -> list[TrackSpan]:
    """Every track with its span on the shown video (the Tracks panel's rows)."""
    if s.project is None:
        return []
    return track_spans(s.project, s.video_id)


def _writable(project: Any) -> str | None:
    if project is None:
        return "open a project first"
    if project.read_only:
        return "the project is open read-only"
    return None


def rename_track(project: Any, track_id: int, name: str) -> Plan:
    why = _writable(project)
    if why is not None:
        return Plan(why=why)
    names = _names(project)
    new = " ".join(str(name).split())
    if track_id not in names:
        return Plan(why=f"there is no track {track_id}")
    if not new:
        return Plan(why="a track needs a name")
    if new == names[track_id]:
        return Plan(why=f"track {track_id} is called {new!r} already")
    if new in (n for t, n in names.items() if t != track_id):
        return Plan(why=f"another track is called {new!r}: choose another name (or merge)")
    label = f"rename track {names[track_id]!r} to {new!r}"
    return Plan(Edit.track_rows(label, [TrackChange(track_id, names[track_id], new)]),
                done=f"renamed {names[track_id]!r} to {new!r}")


def _retrack(items: Sequence[tuple[int, int, Instance]], mapping: Mapping[int | None, int | None]
             ) -> list[Change]:
    out = []
    for v, f, inst in items:
        if inst.track_id in mapping and mapping[inst.track_id] != inst.track_id:
            out.append(Change(v, f, inst, inst.replace(track_id=mapping[inst.track_id])))
    return out


def merge_tracks(project: Any, keep: int, other: int) -> Plan:
    """``other``'s instances (every video, every run) join ``keep``; ``other`` is deleted.
    Refused where both are on one frame (two labels, or two predictions of one run)."""
    why = _writable(project)
    if why is not None:
        return Plan(why=why)
    names = _names(project)
    if keep == other:
        return Plan(why="choose two different tracks to merge")
    for t in (keep, other):
        if t not in names:
            return Plan(why=f"there is no track {t}")
    items = track_instances(project, [keep, other])
    seen: dict[tuple[int, int, bool, int | None], int] = {}
    for v, f, inst in items:
        key = (v, f, inst.is_prediction, inst.model_run_id if inst.is_prediction else None)
        if key in seen and seen[key] != inst.track_id:
            what = "predictions" if inst.is_prediction else "labels"
            return Plan(why=f"{names[keep]!r} and {names[other]!r} both have {what} on video "
                            f"{v} frame {f}: they are two people there (split or swap first)")
        seen[key] = int(inst.track_id)  # type: ignore[arg-type]
    changes = _retrack(items, {other: keep})
    label = f"merge track {names[other]!r} into {names[keep]!r}"
    return Plan(Edit.track_rows(label, [TrackChange(other, names[other], None)], changes),
                done=f"merged {names[other]!r} into {names[keep]!r} "
                     f"({plural(len(changes), 'instance')})")


def split_track(project: Any, track_id: int, video_id: int, frame: int) -> Plan:
    """The track's instances on ``video_id`` from ``frame`` on become a new track."""
    why = _writable(project)
    if why is not None:
        return Plan(why=why)
    names = _names(project)
    if track_id not in names:
        return Plan(why=f"there is no track {track_id}")
    on_video = track_instances(project, [track_id], video_id)
    after = [t for t in on_video if t[1] >= frame]
    if not after or len(after) == len(on_video):
        side = "from" if not after else "before"
        return Plan(why=f"track {names[track_id]!r} has nothing {side} frame {frame} on this "
                        "video: there is nothing to split")
    (new,) = next_track_id(project)
    name = f"{names[track_id]} from {frame}"
    changes = _retrack(after, {track_id: new})
    label = f"split track {names[track_id]!r} at frame {frame}"
    return Plan(Edit.track_rows(label, [TrackChange(new, None, name)], changes),
                done=f"frames {frame}– of {names[track_id]!r} are now track {name!r}")


def delete_track(project: Any, track_id: int) -> Plan:
    """Delete the track; its instances stay, untracked."""
    why = _writable(project)
    if why is not None:
        return Plan(why=why)
    names = _names(project)
    if track_id not in names:
        return Plan(why=f"there is no track {track_id}")
    changes = _retrack(track_instances(project, [track_id]), {track_id: None})
    label = f"delete track {names[track_id]!r}"
    return Plan(Edit.track_rows(label, [TrackChange(track_id, names[track_id], None)], changes),
                done=f"deleted track {names[track_id]!r} ({plural(len(changes), 'instance')} "
                     "kept, untracked)")


def _centre(inst: Instance) -> np.ndarray:
    pts = inst.xy[inst.labeled]
    return pts.mean(axis=0) if len(pts) else np.zeros(2)


def swap_identities(s: Session, other: int | None = None) -> Plan:
    """Swap the selected instance's track with another's (``other``, else the only other
    tracked person on the frame, else the nearest) on this frame and every later one of the
    video: one step."""
    why = refusal(s)
    if why is not None:
        return Plan(why=why)
    assert s.project is not None and s.video_id is not None
    sel = s.selected()
    if sel is None or sel.track_id is None:
        return Plan(why="select a tracked instance first (its identity is swapped with "
                        "another's from this frame on)")
    a = int(sel.track_id)
    if other is None:
        others = [p for p in s.people() if p.track_id is not None and p.track_id != a]
        if not others:
            return Plan(why="no other tracked person on this frame to swap identities with")
        c = _centre(sel)
        others.sort(key=lambda p: float(np.linalg.norm(_centre(p) - c)))
        other = int(others[0].track_id)  # type: ignore[arg-type]
    if other == a:
        return Plan(why="choose two different tracks")
    names = _names(s.project)
    items = track_instances(s.project, [a, other], s.video_id, s.frame_idx)
    changes = _retrack(items, {a: other, other: a})
    label = f"swap identities {names.get(a, a)!r} ↔ {names.get(other, other)!r} from " \
            f"frame {s.frame_idx}"
    return Plan(Edit(label, tuple(changes)), select=(sel.id, None),
                done=f"swapped {names.get(a, a)!r} and {names.get(other, other)!r} from frame "
                     f"{s.frame_idx} on ({plural(len(changes), 'instance')})")


# --- the tracker ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class TrackerRequest:
    """A video's predictions (the shown run's, in frame order) and the tracker's settings."""

    video_id: int
    frames: tuple[tuple[int, tuple[Instance, ...]], ...]
    sigmas: np.ndarray
    params: Any = None  # labeling.tracker.TrackerParams (None: its defaults)
    frame_range: tuple[int, int] | None = None
    run: Any = field(default="shown")

    @property
    def n_predictions(self) -> int:
        return sum(len(p) for _, p in self.frames)


def tracker_request(project: Any, video_id: int, frames: tuple[int, int] | None = None, *,
                    run: Any = "shown", params: Any = None) -> TrackerRequest:
    grouped: dict[int, list[Instance]] = {}
    for f, inst in video_items(project, video_id, frames, "predicted", run=run):
        grouped.setdefault(f, []).append(inst)
    sig = np.array(project.skeleton.sigma_array(), dtype=np.float64)
    sig.setflags(write=False)
    return TrackerRequest(video_id, tuple((f, tuple(v)) for f, v in sorted(grouped.items())),
                          sig, params, frames, run)


def run_tracker(req: TrackerRequest, *, progress: Callable[[int, int], None] | None = None,
                cancel: Callable[[], bool] | None = None) -> dict[int, list[int]]:
    """Track numbers per frame (any thread; see ``labeling.tracker.track_frames``)."""
    from pose_studio.labeling.tracker import track_frames

    return track_frames(dict(req.frames), req.sigmas, req.params, progress=progress,
                        cancel=cancel)


def tracker_plan(project: Any, req: TrackerRequest, numbers: Mapping[int, Sequence[int]], *,
                 first_id: int | None = None, prefix: str = "track") -> Plan:
    """The edit that gives the predictions their tracks: new track rows, ``track_id`` set
    (-1: untracked), labels accepted from a prediction follow it (unless a person gave them
    another track), and tracks nothing points at any more are deleted. One step."""
    why = _writable(project)
    if why is not None:
        return Plan(why=why)
    used = sorted({n for f, _ in req.frames for n in numbers.get(f, []) if n >= 0})
    if not used:
        return Plan(why="no predictions to track on this video (run the model first)")
    start = first_id if first_id is not None else next_track_id(project)[0]
    new_id = {n: start + i for i, n in enumerate(used)}
    pred_after: dict[int, int | None] = {}
    changes: list[Change] = []
    for f, preds in req.frames:
        for inst, n in zip(preds, numbers.get(f, [])):
            tid = new_id.get(n)
            if inst.id is not None:
                pred_after[int(inst.id)] = tid
            if tid != inst.track_id:
                changes.append(Change(req.video_id, f, inst, inst.replace(track_id=tid)))
    old_of = {int(p.id): p.track_id for _, ps in req.frames for p in ps if p.id is not None}
    for f, user in video_items(project, req.video_id, req.frame_range, "user"):
        src = user.source_id
        if src is None or src not in pred_after:
            continue
        follows = user.track_id is None or user.track_id == old_of.get(src)
        if follows and user.track_id != pred_after[src]:
            changes.append(Change(req.video_id, f, user, user.replace(track_id=pred_after[src])))
    # tracks the change leaves empty are deleted with it (no clutter from re-runs)
    moved: dict[int, int] = {}
    for c in changes:
        if c.before is not None and c.before.track_id is not None:
            moved[c.before.track_id] = moved.get(c.before.track_id, 0) + 1
    names = _names(project)
    emptied = [TrackChange(t, names[t], None) for t, n in track_counts(project, moved).items()
               if n <= moved.get(t, 0) and t in names]
    created = [TrackChange(new_id[n], None, f"{prefix} {new_id[n]}") for n in used]
    label = f"track {plural(req.n_predictions, 'prediction')} ({plural(len(used), 'track')})"
    return Plan(Edit.track_rows(label, created + emptied, changes),
                done=f"tracked {plural(req.n_predictions, 'prediction')}: "
                     f"{plural(len(used), 'track')} (one step: Ctrl+Z takes it back)")


def identity_switches(project: Any, video_id: int) -> list[SwitchCandidate]:
    """Likely identity switches on the video (``core.tracking``), in frame order."""
    items = [(f, i) for f, i in video_items(project, video_id) if i.track_id is not None]
    cands = identity_switch_candidates(items, project.skeleton.sigma_array())
    return sorted(cands, key=lambda c: (c.frame, -c.score))
