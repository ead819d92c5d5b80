"""Bulk edits over a frame range of one video, each ONE history step: accept the predictions
above a score, delete the predictions under a score, delete every prediction in the range,
delete a track's span (its labels and predictions).

Predictions are the video's shown model run's (what the window shows). Accepting skips the
predictions a label already stands for (``core.people``: accepted from it, or overlapping it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pose_studio.core import people
from pose_studio.core import proposals as pr
from pose_studio.core.annotation import Instance

from .editing import Plan, plural, refusal
from .proposal_edits import frames_text, proposal_edit, stored_by_id, video_items
from .session import Session

__all__ = ["OPS", "BulkRequest", "bulk", "bulk_plan"]

#: ``op`` -> what it does (the dialog's choices, in order).
OPS: dict[str, str] = {
    "accept_above": "Accept predictions scoring at least",
    "delete_below": "Delete predictions scoring under",
    "delete_range": "Delete every prediction",
    "delete_track": "Delete the track's instances (labels and predictions)",
}


@dataclass(frozen=True)
class BulkRequest:
    """One bulk edit: ``op`` (a key of :data:`OPS`) over ``frames`` (half-open) with a score
    threshold or a track."""

    op: str
    frames: tuple[int, int]
    score: float = 0.5
    track_id: int | None = None


def _visible(items: list[tuple[int, Instance]]) -> list[tuple[int, Instance]]:
    """The predictions no label stands for, and the labels (frame by frame)."""
    by_frame: dict[int, list[Instance]] = {}
    for f, inst in items:
        by_frame.setdefault(f, []).append(inst)
    out = []
    for f, insts in by_frame.items():
        shown = {id(p) for p in people.visible_predictions(insts)}
        out += [(f, i) for i in insts if not i.is_prediction or id(i) in shown]
    return out


def bulk_plan(project: Any, video_id: int, req: BulkRequest) -> Plan:
    """The edit of ``req`` on ``video_id`` (or why there is none)."""
    lo, hi = req.frames
    if hi <= lo:
        return Plan(why=f"the frame range {lo}–{hi - 1} is empty")
    where = frames_text(range(lo, hi))
    items = video_items(project, video_id, (lo, hi))
    if req.op == "accept_above":
        prop = pr.accept_predictions(_visible(items), min_score=req.score)
        label = f"accept {plural(len(prop.add), 'prediction')} ≥ {req.score:.2f}"
        nothing = f"no prediction scoring {req.score:.2f} or more left to accept in {where}"
    elif req.op == "delete_below":
        prop = pr.delete_predictions(items, below=req.score)
        label = f"delete {plural(len(prop.delete), 'prediction')} < {req.score:.2f}"
        nothing = f"no prediction scoring under {req.score:.2f} in {where}"
    elif req.op == "delete_range":
        prop = pr.delete_predictions(items)
        label = f"delete {plural(len(prop.delete), 'prediction')}"
        nothing = f"no predictions in {where}"
    elif req.op == "delete_track":
        if req.track_id is None:
            return Plan(why="choose a track whose span to delete")
        prop = pr.delete_track_span(items, req.track_id)
        label = f"delete track {req.track_id} span ({plural(len(prop.delete), 'instance')})"
        nothing = f"track {req.track_id} has no instances in {where}"
    else:
        return Plan(why=f"unknown bulk edit {req.op!r}")
    edit = proposal_edit(video_id, prop, stored_by_id(items), label)
    if edit is None:
        return Plan(why=nothing)
    return Plan(edit, done=f"{label} in {where} (one step: Ctrl+Z takes it back)")


def bulk(s: Session, req: BulkRequest) -> Plan:
    why = refusal(s)
    if why is not None:
        return Plan(why=why)
    assert s.project is not None and s.video_id is not None
    return bulk_plan(s.project, s.video_id, req)
