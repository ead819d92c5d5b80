"""Proposals (what a labeling tool wants to change, ``core.proposals.Proposal``) as ONE edit.

The labeling tools of ``core`` and ``labeling`` return proposals: instances to add, replace and
delete on one video. :func:`proposal_edit` turns one into an :class:`~pose_studio.core.edits.Edit`
batch against the instances as stored (their ``before`` states), so it is applied in one
transaction, recorded as one history step, and undone as one. :func:`video_items` reads what the
tools look at.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pose_studio.core.annotation import Instance
from pose_studio.core.edits import Change, Edit
from pose_studio.core.proposals import Proposal

__all__ = ["Items", "Stored", "edit_counts", "frames_text", "proposal_edit", "stored_by_id",
           "video_items"]

Items = list[tuple[int, Instance]]


@dataclass(frozen=True)
class Stored:
    """An instance as stored, and its frame."""

    frame: int
    instance: Instance


def video_items(project: Any, video_id: int, frames: tuple[int, int] | None = None,
                source: str = "all", run: Any = "shown") -> Items:
    """``(frame, instance)`` of one video in frame order (optionally a half-open range);
    predictions of the video's shown model run unless ``run`` names another (or ``"all"``)."""
    out: Items = []
    gen = project.iter_instances(source, video_id, run=run)
    try:
        for _, f, inst in gen:
            if frames is None or frames[0] <= f < frames[1]:
                out.append((f, inst))
    finally:
        gen.close()  # ends the read transaction now, not when the generator is collected
    return out


def stored_by_id(items: Iterable[tuple[int, Instance]]) -> dict[int, Stored]:
    return {int(i.id): Stored(f, i) for f, i in items if i.id is not None}


def proposal_edit(video_id: int, proposal: Proposal, stored: Mapping[int, Stored],
                  label: str) -> Edit | None:
    """The edit that makes ``proposal`` (None when it is empty). ``stored`` maps the ids of
    the instances it replaces or deletes to their stored state (their frame and ``before``).

    Raises:
        KeyError: a replaced or deleted instance is not in ``stored``.
    """
    changes: list[Change] = []
    for inst in proposal.delete:
        assert inst.id is not None
        s = stored[int(inst.id)]
        changes.append(Change(video_id, s.frame, s.instance, None))
    for inst in proposal.replace:
        assert inst.id is not None
        s = stored[int(inst.id)]
        if not inst.same_values(s.instance):
            changes.append(Change(video_id, s.frame, s.instance, inst))
    for f, inst in proposal.add:
        changes.append(Change(video_id, int(f), None, inst.replace(id=None)))
    if not changes:
        return None
    return Edit(label, tuple(changes))


def frames_text(frames: Iterable[int]) -> str:
    fs = sorted(set(frames))
    if not fs:
        return "no frames"
    return f"frame {fs[0]}" if len(fs) == 1 else f"frames {fs[0]}–{fs[-1]} ({len(fs)} frames)"


def edit_counts(edit: Edit | None) -> str:
    """``3 added, 2 replaced, 0 deleted`` (instances) for a command's report."""
    if edit is None:
        return "0 added, 0 replaced, 0 deleted"
    add = sum(c.before is None for c in edit.changes)
    rem = sum(c.after is None for c in edit.changes)
    return f"{add} added, {len(edit.changes) - add - rem} replaced, {rem} deleted"
