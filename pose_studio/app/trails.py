"""Pose trails: where the people shown on this frame were over the last and next N frames.

:class:`Trails` keeps the people of the current video's frames in chunks of
:data:`CHUNK` frames, each read with ONE query the first time a trail needs it and kept until
an edit, a model run or an undo touches one of its frames (the session's change
notifications say which). Drawing a trail is then array work: no query per frame shown, none
per paint.

Who is the same person on another frame: an instance with a track is followed by its track; an
untracked one is followed frame by frame to the nearest untracked person (centre of the labeled
keypoints) within half its size, so a single person, or people who stay apart, get trails
without tracking.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from pose_studio.core import people as people_rule
from pose_studio.core.annotation import Instance

__all__ = ["CHUNK", "MAX_LENGTH", "Trail", "Trails"]

#: Frames read per query.
CHUNK = 128
#: The longest trail (frames each way) the window offers.
MAX_LENGTH = 60
#: A person may move this fraction of its size between frames and still be followed.
_REACH = 0.5
_MIN_REACH_PX = 12.0

Reader = Callable[[int, int, int], Sequence[tuple[int, Instance]]]  # (video, start, stop)


@dataclass(frozen=True, eq=False)
class Trail:
    """One person's keypoints on other frames.

    Attributes:
        offsets: ``(m,)`` frame offsets from the current frame (negative: before), ascending;
            0 is the instance itself (the trails pass through it).
        xy: ``(m, K, 2)`` positions.
        labeled: ``(m, K)`` which keypoints are labeled there.
        instance_id: The instance on the current frame it belongs to.
        predicted: That instance is a prediction.
    """

    offsets: np.ndarray
    xy: np.ndarray
    labeled: np.ndarray
    instance_id: int | None
    predicted: bool


@dataclass(frozen=True, eq=False)
class _People:
    """The people on one frame as arrays (built once per frame when its chunk is read)."""

    xy: np.ndarray  # (c, K, 2)
    labeled: np.ndarray  # (c, K) bool
    track: np.ndarray  # (c,) int64, -1: untracked
    centre: np.ndarray  # (c, 2) mean of the labeled keypoints (NaN: none)
    reach: np.ndarray  # (c,) how far the person may move to the next frame

    @classmethod
    def of(cls, insts: Sequence[Instance]) -> _People:
        if not insts:
            return _NOBODY
        insts = [i for i in insts if i.num_keypoints == insts[0].num_keypoints]
        xy = np.stack([i.xy for i in insts])
        lab = np.stack([i.labeled for i in insts])
        centre, reach = _centre_reach(xy, lab)
        return cls(xy, lab, np.array([-1 if i.track_id is None else i.track_id for i in insts],
                                     np.int64), centre, reach)


def _centre_reach(xy: np.ndarray, lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per person (``xy (c, K, 2)``): the labeled keypoints' mean, and half the person's size
    (at least a few pixels): how far it may move between frames and still be followed."""
    n = lab.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(lab[..., None], xy, 0.0).sum(1) / n[:, None]
    big = np.where(lab[..., None], xy, -np.inf).max(1)
    small = np.where(lab[..., None], xy, np.inf).min(1)
    size = np.where(n > 1, (big - small).max(1), 0.0)
    return centre, np.maximum(_MIN_REACH_PX, _REACH * size)


_NOBODY = _People(np.zeros((0, 0, 2)), np.zeros((0, 0), bool), np.zeros(0, np.int64),
                  np.zeros((0, 2)), np.zeros(0))


def _follow(track: np.ndarray, centre: np.ndarray, reach: np.ndarray, there: _People
            ) -> np.ndarray:
    """For each person being followed (``track`` -1: untracked, ``centre`` (a, 2), ``reach``),
    which person on the next frame continues them (-1: nobody): the same track, else the
    nearest untracked person (by the centre of their labeled keypoints) within reach."""
    out = np.full(len(track), -1, np.int64)
    if not there.track.size:
        return out
    same = track[:, None] == there.track[None, :]  # (a, c)
    tracked = track >= 0
    hit = same.any(1) & tracked
    out[hit] = same[hit].argmax(1)
    d = np.hypot(centre[:, None, 0] - there.centre[None, :, 0],
                 centre[:, None, 1] - there.centre[None, :, 1])
    d[:, there.track >= 0] = np.inf  # someone else's track is someone else
    d[~np.isfinite(d)] = np.inf
    best = d.argmin(1)
    near = ~tracked & (d[np.arange(len(track)), best] < reach)
    out[near] = best[near]
    return out


class Trails:
    """See the module docstring.

    Args:
        read: ``read(video_id, start, stop)`` -> ``(frame, instance)`` of those frames (the
            labels and the shown run's predictions): ``store.frame_range.instances_between``.
    """

    def __init__(self, read: Reader) -> None:
        self._read = read
        self._video: int | None = None
        self._chunks: dict[int, dict[int, _People]] = {}
        self.reads = 0  # queries made (tests check that showing frames does not add any)

    # --- the cache -------------------------------------------------------------------------------
    def clear(self) -> None:
        self._video = None
        self._chunks.clear()

    def invalidate(self, frames: Iterable[tuple[int, int]] = ()) -> None:
        """Frames that changed (``(video, frame)``); none given: everything may have."""
        touched = list(frames)
        if not touched:
            self._chunks.clear()
            return
        for v, f in touched:
            if v == self._video:
                self._chunks.pop(f // CHUNK, None)

    def _people(self, video_id: int, frame: int) -> _People:
        if video_id != self._video:
            self._video = video_id
            self._chunks.clear()
        c = frame // CHUNK
        chunk = self._chunks.get(c)
        if chunk is None:
            self.reads += 1
            by_frame: dict[int, list[Instance]] = {}
            for f, inst in self._read(video_id, c * CHUNK, (c + 1) * CHUNK):
                by_frame.setdefault(f, []).append(inst)
            chunk = {f: _People.of(people_rule.people(insts)) for f, insts in by_frame.items()}
            self._chunks[c] = chunk
        return chunk.get(frame, _NOBODY)

    # --- trails ----------------------------------------------------------------------------------
    def trails(self, video_id: int, frame: int, anchors: Sequence[Instance], length: int,
               frame_count: int) -> list[Trail]:
        """The trails of ``anchors`` (instances on ``frame``) over ``length`` frames each way
        (all anchors are followed together: one array step per frame)."""
        length = max(0, min(MAX_LENGTH, int(length)))
        anchors = [a for a in anchors if a.labeled.any()]
        if not anchors or length == 0:
            return []
        k = anchors[0].num_keypoints
        anchors = [a for a in anchors if a.num_keypoints == k]
        xy0 = np.stack([a.xy for a in anchors])
        c0, r0 = _centre_reach(xy0, np.stack([a.labeled for a in anchors]))
        track = np.array([-1 if a.track_id is None else a.track_id for a in anchors], np.int64)
        steps: list[list[tuple[int, np.ndarray, np.ndarray]]] = [
            [(0, a.xy, a.labeled)] for a in anchors]
        for direction in (-1, 1):
            centre, reach = c0.copy(), r0.copy()
            for d in range(1, length + 1):
                g = frame + direction * d
                if not 0 <= g < frame_count:
                    break
                there = self._people(video_id, g)
                if there.xy.shape[1:] != (k, 2):
                    continue
                found = _follow(track, centre, reach, there)
                for i in np.flatnonzero(found >= 0).tolist():
                    j = int(found[i])
                    steps[i].append((direction * d, there.xy[j], there.labeled[j]))
                    centre[i], reach[i] = there.centre[j], there.reach[j]
        out = []
        for a, st in zip(anchors, steps):
            if len(st) == 1:
                continue
            st.sort(key=lambda t: t[0])
            out.append(Trail(np.array([t[0] for t in st], np.int64), np.stack([t[1] for t in st]),
                             np.stack([t[2] for t in st]), a.id, a.is_prediction))
        return out
