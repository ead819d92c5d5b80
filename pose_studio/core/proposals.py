"""Proposals: what a labeling tool wants to change, as a value, before anything is written.

A :class:`Proposal` lists instances to add (with their frame), instances to replace (same store
id, new values) and instances to delete (in full, so the change can be undone). Every tool of
issue 15 returns one; the CLI writes it in one transaction, and the window's undo journal can
wrap it as one edit. Also here: the bulk operations over a frame range, and copy/paste of poses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind, Provenance

#: ``(frame, instance)`` pairs of one video.
Items = Sequence[tuple[int, Instance]]


@dataclass(frozen=True)
class Proposal:
    """Changes to one video: ``add`` ((frame, new instance without id)), ``replace``
    (instances with their store id and new values), ``delete`` (stored instances)."""

    add: tuple[tuple[int, Instance], ...] = ()
    replace: tuple[Instance, ...] = ()
    delete: tuple[Instance, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.add or self.replace or self.delete)

    def counts(self) -> str:
        return f"{len(self.add)} added, {len(self.replace)} replaced, {len(self.delete)} deleted"

    def merged(self, other: Proposal) -> Proposal:
        return Proposal(self.add + other.add, self.replace + other.replace,
                        self.delete + other.delete)


def _in(frame: int, frames: tuple[int, int] | None) -> bool:
    return frames is None or frames[0] <= frame < frames[1]


def accept_predictions(items: Items, *, min_score: float = 0.0,
                       frames: tuple[int, int] | None = None) -> Proposal:
    """Accept (as user instances linked to them) the predictions in ``frames`` (half-open)
    whose score is at least ``min_score`` and that no user instance was accepted from yet."""
    taken = {i.source_id for _, i in items if not i.is_prediction and i.source_id is not None}
    add = []
    for f, inst in items:
        if not inst.is_prediction or not _in(f, frames) or inst.id in taken:
            continue
        s = inst.mean_score()
        if s is None or s < min_score:
            continue
        add.append((f, inst.as_user_copy()))
    return Proposal(add=tuple(add))


def delete_predictions(items: Items, *, below: float | None = None,
                       frames: tuple[int, int] | None = None) -> Proposal:
    """Delete the predictions in ``frames`` (all of them, or those scoring under ``below``;
    a prediction without a score counts as 0)."""
    out = []
    for f, inst in items:
        if not inst.is_prediction or not _in(f, frames):
            continue
        s = inst.mean_score()
        if below is None or (s if s is not None else 0.0) < below:
            out.append(inst)
    return Proposal(delete=tuple(out))


def delete_track_span(items: Items, track_id: int, frames: tuple[int, int] | None = None, *,
                      kind: InstanceKind | None = None) -> Proposal:
    """Delete the instances of track ``track_id`` in ``frames`` (user and predicted, or only
    ``kind``)."""
    return Proposal(delete=tuple(
        inst for f, inst in items
        if inst.track_id == track_id and _in(f, frames) and (kind is None or inst.kind is kind)
    ))


def copy_pose(src: Instance, *, track_id: int | None = None) -> Instance:
    """A pose to paste: a new user instance with ``src``'s keypoints (ids and links dropped;
    ``track_id`` given or kept)."""
    return Instance(xy=src.xy, visibility=src.visibility, kind=InstanceKind.USER,
                    provenance=np.full(src.num_keypoints, int(Provenance.USER)),
                    bbox=src.bbox, track_id=src.track_id if track_id is None else track_id)


def paste_pose(src: Instance, onto: Instance | None, frame: int) -> Proposal:
    """Paste ``src``'s keypoints: onto an existing user instance (replacing its points,
    keeping its id and track), or as a new instance on ``frame``."""
    pose = copy_pose(src)
    if onto is None or onto.is_prediction:
        tid = onto.track_id if onto is not None else pose.track_id
        return Proposal(add=((frame, pose.replace(track_id=tid)),))
    return Proposal(replace=(onto.replace(xy=pose.xy, visibility=pose.visibility,
                                          provenance=pose.provenance),))


def copy_previous_frame(previous: Iterable[Instance], current: Iterable[Instance], frame: int
                        ) -> Proposal:
    """"Copy the previous frame's instances": its user instances are added to ``frame``,
    except tracks that already have a user instance there."""
    have = {i.track_id for i in current if not i.is_prediction and i.track_id is not None}
    add = [(frame, copy_pose(i)) for i in previous
           if not i.is_prediction and (i.track_id is None or i.track_id not in have)]
    return Proposal(add=tuple(add))


def is_keyframe(inst: Instance) -> bool:
    """A user instance with at least one point the user placed, or one the user accepted from
    a prediction (``source_id``: a person said it is right); not one only a tool generated."""
    if inst.is_prediction:
        return False
    if inst.source_id is not None:
        return True
    prov = np.asarray(inst.provenance)
    return bool((inst.labeled & (prov == int(Provenance.USER))).any())


def place_generated(generated: Iterable[tuple[int, Instance]], items: Items) -> Proposal:
    """Put generated user instances (interpolated, propagated) on their frames: a frame where
    the same track already has a keyframe (:func:`is_keyframe`) is left alone; an earlier
    generated instance of the same track there is replaced (so running a tool again updates
    its own output and never a person's labels). Untracked instances are added."""
    by_key: dict[tuple[int, int], list[Instance]] = {}
    for f, inst in items:
        if not inst.is_prediction and inst.track_id is not None:
            by_key.setdefault((f, inst.track_id), []).append(inst)
    add, replace = [], []
    for f, inst in generated:
        old = by_key.get((f, inst.track_id), []) if inst.track_id is not None else []
        if any(is_keyframe(o) for o in old):
            continue
        if old:
            replace.append(old[0].replace(xy=inst.xy, visibility=inst.visibility,
                                          provenance=inst.provenance))
        else:
            add.append((f, inst))
    return Proposal(add=tuple(add), replace=tuple(replace))
