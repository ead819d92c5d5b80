"""Identities across frames: a pose tracker with optimal assignment.

Each track carries a constant-velocity Kalman filter over its keypoints and box
(:class:`pose_studio.core.tracking.KalmanCV`). On every frame the tracks' predicted poses are
compared with the frame's instances by a similarity that mixes OKS (pose), box IoU and a centre
distance scaled by the track's size and how long it has been unseen; the assignment that
maximises total similarity is found with ``scipy.optimize.linear_sum_assignment`` (the
Hungarian method: greedy matching gives the wrong pairs exactly when people cross, which is when
it matters). Instances left over start tracks (births); a track unseen for ``max_age`` frames
ends (death); until then it keeps being predicted, so a person who reappears after a short
occlusion gets their old identity back (re-identification).

Works the same for top-down and one-stage predictions: it needs keypoints and a box (derived
from the keypoints when the instance has none). Pure: instances in, track numbers out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from pose_studio.core.annotation import Instance
from pose_studio.core.tracking import (
    KalmanCV,
    box_area,
    instance_box,
    iou_matrix,
    pose_oks_matrix,
)

__all__ = ["PoseTracker", "TrackerParams", "track_frames"]


@dataclass(frozen=True)
class TrackerParams:
    """How the tracker weighs evidence (defaults tuned on synthetic crossing clips).

    Attributes:
        max_age: Frames a track may go unseen and still be re-identified.
        min_similarity: Pairs less similar than this are never matched.
        min_score: Instances under this score do not start tracks (they may still continue one).
        w_oks, w_iou, w_dist: Weights of pose OKS, box IoU and centre closeness.
        motion: ``kalman`` (constant velocity, filtered) or ``velocity`` (last displacement).
        age_penalty: Similarity lost per unseen frame (prefers tracks seen recently).
    """

    max_age: int = 25
    min_similarity: float = 0.12
    min_score: float = 0.0
    w_oks: float = 0.5
    w_iou: float = 0.2
    w_dist: float = 0.3
    motion: Literal["kalman", "velocity"] = "kalman"
    age_penalty: float = 0.01
    kalman_q: float = 0.6
    kalman_r: float = 1.5


def _measure(inst: Instance) -> np.ndarray:
    """The filtered vector: keypoints (NaN where unlabeled) then box centre and size."""
    xy = np.where(inst.labeled[:, None], inst.xy, np.nan).reshape(-1)
    b = instance_box(inst)
    return np.concatenate([xy, [b[0] + b[2] / 2, b[1] + b[3] / 2, b[2], b[3]]])


@dataclass
class _Track:
    number: int
    filt: KalmanCV
    seen: np.ndarray  # keypoints observed at least once
    last: np.ndarray  # last measurement
    prev: np.ndarray | None = None
    age: int = 0  # frames since last matched
    hits: int = 1

    def predicted(self, motion: str) -> np.ndarray:
        if motion == "kalman":
            return self.filt.x[:, 0]
        v = np.zeros_like(self.last) if self.prev is None else np.nan_to_num(self.last - self.prev)
        return self.last + self.age * v


@dataclass
class PoseTracker:
    """Online tracker: call :meth:`step` with each frame's instances in frame order."""

    sigmas: np.ndarray
    params: TrackerParams = field(default_factory=TrackerParams)
    _tracks: list[_Track] = field(default_factory=list, init=False)
    _next: int = field(default=0, init=False)
    _last_frame: int | None = field(default=None, init=False)

    def _advance(self, frames: int) -> None:
        for _ in range(max(frames, 0)):
            for t in self._tracks:
                t.filt.predict()
                t.age += 1
        self._tracks = [t for t in self._tracks if t.age <= self.params.max_age]

    def similarity(self, instances: Sequence[Instance]) -> np.ndarray:
        """``(tracks, instances)`` similarity of the live tracks' predictions (0..1)."""
        p = self.params
        k = len(self.sigmas)
        if not self._tracks or not instances:
            return np.zeros((len(self._tracks), len(instances)))
        pred = np.array([t.predicted(p.motion) for t in self._tracks])
        t_xy = pred[:, : 2 * k].reshape(-1, k, 2)
        t_box = np.stack([pred[:, -4] - pred[:, -2] / 2, pred[:, -3] - pred[:, -1] / 2,
                          pred[:, -2], pred[:, -1]], 1)
        t_area = np.array([box_area(b) for b in t_box])
        t_mask = np.array([t.seen for t in self._tracks]) & np.isfinite(t_xy).all(-1)
        d_xy = np.array([i.xy for i in instances])
        d_mask = np.array([i.labeled for i in instances])
        d_box = np.array([instance_box(i) for i in instances])
        o = pose_oks_matrix(np.nan_to_num(t_xy), t_mask, t_area, d_xy, d_mask, self.sigmas)
        iou = iou_matrix(t_box, d_box)
        ages = np.array([t.age for t in self._tracks], dtype=np.float64)
        tc = pred[:, -4:-2]
        dc = d_box[:, :2] + d_box[:, 2:] / 2
        scale = np.sqrt(t_area) * (0.5 + 0.1 * ages)
        dist = np.exp(-((tc[:, None] - dc[None]) ** 2).sum(-1) / (2 * scale[:, None] ** 2))
        s = p.w_oks * o + p.w_iou * iou + p.w_dist * dist
        return s - p.age_penalty * ages[:, None]

    def step(self, frame: int, instances: Sequence[Instance]) -> list[int]:
        """Track numbers (stable over the video, from 0) for ``instances`` of ``frame``."""
        p = self.params
        if self._last_frame is not None:
            self._advance(frame - self._last_frame)
        self._last_frame = frame
        s = self.similarity(instances)
        out = [-1] * len(instances)
        if s.size:
            rows, cols = linear_sum_assignment(-s)
            for r, c in zip(rows, cols):
                if s[r, c] < p.min_similarity:
                    continue
                t = self._tracks[r]
                z = _measure(instances[c])
                t.filt.update(z)
                # velocity (for motion="velocity") only from consecutive sightings
                t.prev = t.last if t.age == 1 else None
                t.last = np.where(np.isnan(z), t.last, z)
                t.seen = t.seen | instances[c].labeled
                t.age = 0
                t.hits += 1
                out[c] = t.number
        for c, inst in enumerate(instances):
            if out[c] != -1:
                continue
            score = inst.mean_score()
            if score is not None and score < p.min_score:
                continue
            z = _measure(inst)
            filt = KalmanCV.start(z, q=p.kalman_q, r=p.kalman_r)
            self._tracks.append(_Track(self._next, filt, inst.labeled.copy(),
                                       np.nan_to_num(z)))
            out[c] = self._next
            self._next += 1
        return out


def track_frames(
    frames: Mapping[int, Sequence[Instance]],
    sigmas: Sequence[float] | np.ndarray,
    params: TrackerParams | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> dict[int, list[int]]:
    """Track numbers for every instance: ``{frame: [number per instance, same order]}``
    (-1: left untracked, an instance under ``min_score`` that continues no track).

    Frames are processed in order; a gap in the frame numbers counts as unseen frames.
    ``cancel()`` returning True stops early (the frames done so far are returned).
    """
    tr = PoseTracker(np.asarray(sigmas, dtype=np.float64), params or TrackerParams())
    out: dict[int, list[int]] = {}
    order = sorted(frames)
    for n, f in enumerate(order):
        if cancel is not None and cancel():
            break
        out[f] = tr.step(f, frames[f])
        if progress is not None:
            progress(n + 1, len(order))
    return out
