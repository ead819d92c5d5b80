"""Pose trails: where the people shown on this frame were over the last and next N frames.

:class:`Trails` keeps the people of the current video's frames in chunks of
:data:`CHUNK` frames, each read with ONE query the first time a trail needs it and kept until
an edit, a model run or an undo touches one of its frames (the session's change
notifications say which). Drawing a trail is then array work: no query per frame shown, none
per paint.

Who is the same person on another frame: an instance with a track is followed by its track; an
untracked one is followed frame by frame to the nearest person (mean distance of the keypoints
both have labeled) within half its size, so a single person, or people who stay apart, get
trails without tracking.
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


def _centre_and_reach(inst: Instance) -> tuple[np.ndarray, float] | None:
    lab = inst.labeled
    if not lab.any():
        return None
    pts = inst.xy[lab]
    size = float(np.ptp(pts, axis=0).max()) if len(pts) > 1 else 0.0
    return pts.mean(axis=0), max(_MIN_REACH_PX, _REACH * size)


def _distance(a: Instance, b: Instance) -> float:
    both = a.labeled & b.labeled
    if not both.any() or a.num_keypoints != b.num_keypoints:
        return float("inf")
    return float(np.linalg.norm(a.xy[both] - b.xy[both], axis=1).mean())


class Trails:
    """See the module docstring.

    Args:
        read: ``read(video_id, start, stop)`` -> ``(frame, instance)`` of those frames (the
            labels and the shown run's predictions): ``store.frame_range.instances_between``.
    """

    def __init__(self, read: Reader) -> None:
        self._read = read
        self._video: int | None = None
        self._chunks: dict[int, dict[int, list[Instance]]] = {}
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

    def people_on(self, video_id: int, frame: int) -> list[Instance]:
        """The people on ``frame`` (labels, then the predictions no label stands for)."""
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
            chunk = {f: people_rule.people(insts) for f, insts in by_frame.items()}
            self._chunks[c] = chunk
        return chunk.get(frame, [])

    # --- trails ----------------------------------------------------------------------------------
    def trails(self, video_id: int, frame: int, anchors: Sequence[Instance], length: int,
               frame_count: int) -> list[Trail]:
        """The trails of ``anchors`` (instances on ``frame``) over ``length`` frames each way."""
        length = max(0, min(MAX_LENGTH, int(length)))
        out = []
        for a in anchors:
            steps: list[tuple[int, Instance]] = []
            for direction in (-1, 1):
                prev = a
                for d in range(1, length + 1):
                    g = frame + direction * d
                    if not 0 <= g < frame_count:
                        break
                    found = self._follow(a, prev, self.people_on(video_id, g))
                    if found is not None:
                        steps.append((direction * d, found))
                        prev = found
            if not steps:
                continue
            steps.append((0, a))
            steps.sort(key=lambda t: t[0])
            k = a.num_keypoints
            same = [(d, i) for d, i in steps if i.num_keypoints == k]
            if not same:
                continue
            out.append(Trail(np.array([d for d, _ in same], np.int64),
                             np.stack([i.xy for _, i in same]),
                             np.stack([i.labeled for _, i in same]),
                             a.id, a.is_prediction))
        return out

    @staticmethod
    def _follow(anchor: Instance, prev: Instance, candidates: Sequence[Instance]
                ) -> Instance | None:
        if anchor.track_id is not None:
            return next((c for c in candidates if c.track_id == anchor.track_id), None)
        cr = _centre_and_reach(prev)
        if cr is None:
            return None
        best, best_d = None, cr[1]
        for c in candidates:
            if c.track_id is not None and c.track_id != anchor.track_id:
                continue  # someone else's track
            d = _distance(prev, c)
            if d < best_d:
                best, best_d = c, d
        return best
