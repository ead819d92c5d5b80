"""Edits as frozen, invertible values.

An :class:`Edit` is a label and a tuple of :class:`Change` values, one per instance: the instance
as it was (``before``, None when it did not exist) and as it will be (``after``, None when it is
deleted). Setting an instance, adding, deleting, and a batch over many frames are all the same
type, so a batch is ONE history step and is applied in ONE transaction, and the inverse of any
edit is the same changes swapped and in reverse order.

Applying an edit (:func:`apply`) first checks that the store still holds each change's
``before`` state (optimistic concurrency): an edit made against a stale view of the store is
refused with :class:`StaleEditError` and nothing is written. The check is on values: an
instance changed and changed back by someone else is not stale (nothing would be lost). The
store also carries a version per instance (``Instance.version``): the refusal names who
changed it and which version it is at, and the store's write names the version it checked, so
a concurrent writer cannot slip in between the check and the write. The store runs :func:`apply` inside
one transaction through the narrow :class:`InstanceStore` protocol
(``pose_studio.store.journal``), and records the edit in its journal in the same transaction.

New editing tools build edits with :meth:`Edit.set_instance`, :meth:`Edit.add`,
:meth:`Edit.delete` and combine them with :meth:`Edit.batch` (e.g. an interpolation over 100
frames is one batch: one undo step, one transaction).

Tracks (identities) are rows of their own: an edit may also create, rename or delete tracks
(:class:`TrackChange`, a name before and after). Applying creates and renames first, then the
instance changes, then the deletions, so instances never point at a track that is not there;
a track is deleted only when no instance points at it any more (the edit moves them first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

import numpy as np

from pose_studio.core.annotation import Instance
from pose_studio.core.errors import PoseStudioError

__all__ = ["Change", "Edit", "InstanceStore", "StaleEditError", "TrackChange", "TrackStore",
           "apply", "same_state"]


class StaleEditError(PoseStudioError):
    """An edit made against a state of the store that is no longer there."""


def same_state(a: Instance | None, b: Instance | None) -> bool:
    """Both absent, or equal values and ids (what "the store still holds it" means)."""
    if a is None or b is None:
        return a is None and b is None
    return a.same_values(b)


@dataclass(frozen=True, eq=False)
class Change:
    """One instance on one frame before and after an edit (None: absent)."""

    video_id: int
    frame_idx: int
    before: Instance | None
    after: Instance | None

    def __post_init__(self) -> None:
        if self.before is None and self.after is None:
            raise ValueError("a change needs a before or an after state")
        if self.before is not None and self.before.id is None:
            raise ValueError("the before state of a change must be a stored instance (with id)")
        if (self.before is not None and self.after is not None
                and self.after.id is not None and self.after.id != self.before.id):
            raise ValueError("a change keeps the instance id")

    @property
    def instance_id(self) -> int | None:
        inst = self.before if self.before is not None else self.after
        assert inst is not None
        return inst.id

    def inverse(self) -> Change:
        return Change(self.video_id, self.frame_idx, self.after, self.before)

    def equals(self, other: Change) -> bool:
        return ((self.video_id, self.frame_idx) == (other.video_id, other.frame_idx)
                and same_state(self.before, other.before) and same_state(self.after, other.after))


@dataclass(frozen=True)
class TrackChange:
    """A track row before and after an edit: its name, None where it does not exist (a
    creation has ``before`` None, a deletion ``after`` None, a rename both)."""

    track_id: int
    before: str | None
    after: str | None

    def __post_init__(self) -> None:
        if self.before is None and self.after is None:
            raise ValueError("a track change needs a before or an after name")

    def inverse(self) -> TrackChange:
        return TrackChange(self.track_id, self.after, self.before)


@dataclass(frozen=True, eq=False)
class Edit:
    """A labelled, invertible set of changes (one history step).

    Attributes:
        label: What the user did, for the history ("move left_wrist", "accept 2 predictions").
        changes: In the order they are applied.
        merge_key: Consecutive edits with the same key merge into one step (nudges with the arrow
            keys, repeated snaps); None never merges.
        tracks: Track rows created, renamed or deleted (see the module docstring).
    """

    label: str
    changes: tuple[Change, ...]
    merge_key: str | None = None
    tracks: tuple[TrackChange, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(self.changes))
        object.__setattr__(self, "tracks", tuple(self.tracks))
        if not self.changes and not self.tracks:
            raise ValueError("an edit needs at least one change")

    # --- construction --------------------------------------------------------------------------
    @classmethod
    def set_instance(cls, video_id: int, frame_idx: int, before: Instance, after: Instance,
                     label: str, *, merge_key: str | None = None) -> Edit:
        """Replace a stored instance's values (the id stays)."""
        if after.id is None:
            after = after.replace(id=before.id)
        return cls(label, (Change(video_id, frame_idx, before, after),), merge_key)

    @classmethod
    def add(cls, video_id: int, frame_idx: int, instances: Sequence[Instance] | Instance,
            label: str) -> Edit:
        """Add instances to a frame (ids are given by the store when applied, unless set)."""
        items = [instances] if isinstance(instances, Instance) else list(instances)
        return cls(label, tuple(Change(video_id, frame_idx, None, i) for i in items))

    @classmethod
    def delete(cls, video_id: int, frame_idx: int, instances: Sequence[Instance] | Instance,
               label: str) -> Edit:
        """Delete stored instances from a frame."""
        items = [instances] if isinstance(instances, Instance) else list(instances)
        return cls(label, tuple(Change(video_id, frame_idx, i, None) for i in items))

    @classmethod
    def batch(cls, label: str, edits: Iterable[Edit]) -> Edit:
        """Many edits (on any frames) as one step: their changes (and track changes) in
        order."""
        items = list(edits)
        changes = tuple(c for e in items for c in e.changes)
        return cls(label, changes, tracks=tuple(t for e in items for t in e.tracks))

    @classmethod
    def track_rows(cls, label: str, tracks: Sequence[TrackChange],
                   changes: Sequence[Change] = ()) -> Edit:
        """Track rows created, renamed or deleted, with the instance changes that go with them
        (one step)."""
        return cls(label, tuple(changes), tracks=tuple(tracks))

    # --- algebra -------------------------------------------------------------------------------
    def inverse(self) -> Edit:
        """The edit that undoes this one (changes swapped, in reverse order)."""
        return Edit(self.label, tuple(c.inverse() for c in reversed(self.changes)),
                    tracks=tuple(t.inverse() for t in reversed(self.tracks)))

    def merged(self, later: Edit) -> Edit | None:
        """This edit followed by ``later`` as one edit, when their merge keys allow it.

        Only single-instance edits on the same instance merge: the result goes from this edit's
        ``before`` to ``later``'s ``after`` under ``later``'s label.
        """
        if self.merge_key is None or later.merge_key != self.merge_key:
            return None
        if self.tracks or later.tracks:
            return None
        if len(self.changes) != 1 or len(later.changes) != 1:
            return None
        a, b = self.changes[0], later.changes[0]
        if (a.video_id, a.frame_idx, a.instance_id) != (b.video_id, b.frame_idx, b.instance_id):
            return None
        if a.before is None or b.after is None or not same_state(a.after, b.before):
            return None
        return Edit(later.label, (Change(a.video_id, a.frame_idx, a.before, b.after),),
                    self.merge_key)

    def equals(self, other: Edit) -> bool:
        return (self.label == other.label and self.merge_key == other.merge_key
                and self.tracks == other.tracks
                and len(self.changes) == len(other.changes)
                and all(a.equals(b) for a, b in zip(self.changes, other.changes)))

    # --- where ---------------------------------------------------------------------------------
    @property
    def frames(self) -> list[tuple[int, int]]:
        """``(video_id, frame_idx)`` touched, in first-touched order."""
        return list(dict.fromkeys((c.video_id, c.frame_idx) for c in self.changes))

    @property
    def instance_ids(self) -> list[int]:
        return [i for i in (c.instance_id for c in self.changes) if i is not None]

    @property
    def track_ids(self) -> list[int]:
        """Tracks this edit touches: rows changed, and tracks instances join or leave."""
        ids = [t.track_id for t in self.tracks]
        for c in self.changes:
            a = c.before.track_id if c.before is not None else None
            b = c.after.track_id if c.after is not None else None
            if a != b or c.before is None or c.after is None:
                ids += [t for t in (a, b) if t is not None]
        return list(dict.fromkeys(ids))

    def where(self) -> str:
        """``video 1 frame 30`` / ``video 1 frames 10-99 (40 frames)`` / ``2 videos``."""
        if not self.changes and self.tracks:
            return "tracks"
        return describe_where(self.frames)


def describe_where(frames: Sequence[tuple[int, int]]) -> str:
    """Human text for the frames an edit touched."""
    if not frames:
        return "nowhere"
    videos = sorted({v for v, _ in frames})
    if len(videos) > 1:
        return f"{len(videos)} videos, {len(frames)} frames"
    fs = sorted({f for _, f in frames})
    if len(fs) == 1:
        return f"video {videos[0]} frame {fs[0]}"
    return f"video {videos[0]} frames {fs[0]}-{fs[-1]} ({len(fs)} frames)"


class InstanceStore(Protocol):
    """What :func:`apply` needs from a store, inside the caller's transaction."""

    def current(self, instance_id: int) -> tuple[int, int, Instance] | None:
        """``(video_id, frame_idx, instance)`` as stored, or None when absent."""
        ...

    def insert(self, video_id: int, frame_idx: int, inst: Instance) -> Instance:
        """Store a new instance (keeping ``inst.id`` when set); returns it with its id."""
        ...

    def update(self, video_id: int, frame_idx: int, inst: Instance) -> Instance | None:
        """Replace the stored values; may return the instance as stored (its new version)."""
        ...

    def remove(self, instance_id: int) -> None: ...


class TrackStore(Protocol):
    """What :func:`apply` needs for edits with :attr:`Edit.tracks`."""

    def track_name(self, track_id: int) -> str | None:
        """The stored name, None when there is no such track."""
        ...

    def put_track(self, track_id: int, name: str) -> None:
        """Create the track with this id, or rename it."""
        ...

    def drop_track(self, track_id: int) -> None:
        """Delete the track (refused while instances point at it)."""
        ...


def _what(c: Change) -> str:
    return f"instance {c.instance_id} on video {c.video_id} frame {c.frame_idx}"


def _by_whom(now: Instance, seen: Instance) -> str:
    """`` by bob (now version 5; the edit was made on version 4)`` as far as known."""
    by = f" by {now.edited_by}" if now.edited_by else ""
    if now.version is not None and seen.version is not None and now.version != seen.version:
        by += f" (now version {now.version}; the edit was made on version {seen.version})"
    return by


def apply(edit: Edit, store: InstanceStore, action: str | None = None) -> Edit:
    """Apply ``edit`` change by change, checking each ``before`` against ``store`` first.

    Run it inside one transaction: on :class:`StaleEditError` (or any error) the caller rolls
    everything back. Returns the edit as applied: added instances carry their store ids, so its
    :meth:`Edit.inverse` deletes exactly them. ``action`` names it in errors (default: the
    label, e.g. "cannot move nose: ...").
    """
    what = action or edit.label
    tracks = cast(TrackStore, store)
    if edit.tracks and not hasattr(store, "track_name"):
        raise TypeError("this store cannot apply track changes")
    for t in edit.tracks:
        if t.after is not None:
            _track_step(t, tracks, what)
    prefetch = getattr(store, "prefetch", None)
    if prefetch is not None and len(edit.changes) > 16:  # one query for many befores
        prefetch([c.before.id for c in edit.changes if c.before is not None])
    done: list[Change] = []
    for c in edit.changes:
        iid = c.instance_id
        cur = store.current(iid) if iid is not None else None
        if c.before is None:
            if cur is not None:
                raise StaleEditError(
                    f"cannot {what}: {_what(c)} already exists; nothing was changed")
        else:
            if cur is None:
                raise StaleEditError(
                    f"cannot {what}: {_what(c)} is gone (deleted since); nothing was changed")
            v, f, inst = cur
            if (v, f) != (c.video_id, c.frame_idx) or not same_state(inst, c.before):
                raise StaleEditError(f"cannot {what}: {_what(c)} was changed since"
                                     f"{_by_whom(inst, c.before)}; nothing was changed")
        if c.after is None:
            assert iid is not None
            store.remove(iid)
            done.append(c)
        elif c.before is None:
            stored = store.insert(c.video_id, c.frame_idx, c.after)
            done.append(Change(c.video_id, c.frame_idx, None, stored))
        else:
            after = c.after if c.after.id is not None else c.after.replace(id=iid)
            after = store.update(c.video_id, c.frame_idx, after) or after
            done.append(Change(c.video_id, c.frame_idx, c.before, after))
    for t in edit.tracks:
        if t.after is None:
            _track_step(t, tracks, what)
    return Edit(edit.label, tuple(done), edit.merge_key, edit.tracks)


def _track_step(t: TrackChange, store: TrackStore, what: str) -> None:
    """Check a track change's ``before`` against the store, then make it."""
    cur = store.track_name(t.track_id)
    if cur != t.before:
        state = "exists already" if t.before is None else (
            "is gone (deleted since)" if cur is None else f"was renamed to {cur!r} since")
        raise StaleEditError(f"cannot {what}: track {t.track_id} {state}; nothing was changed")
    if t.after is None:
        store.drop_track(t.track_id)
    else:
        store.put_track(t.track_id, t.after)


def changed_points(before: Instance, after: Instance) -> np.ndarray:
    """Indices of keypoints whose position or visibility differ (for history text)."""
    moved = ~np.all(before.xy == after.xy, axis=1) | (before.visibility != after.visibility)
    return np.flatnonzero(moved)
