"""Reviewing a model's output: per-frame scores, the low-confidence threshold, navigation.

One :class:`Review` holds what the Confidence panel shows and what J / Shift+J use, so they
always agree: the threshold ("Low below"), the curve chosen ("Score of": the whole frame, one
person, or one keypoint) and the scores behind them.

"Whole frame" is the frame's lowest *keypoint* score over its shown predicted keypoints, so a
single bad point (two ankles on one spot) makes its frame low even when the person's mean score
is high; until the per-keypoint scores are computed (:func:`review_scores`, a background job)
it falls back to the lowest person score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pose_studio.core import review as nav

__all__ = ["MAX_INSTANCE_CURVES", "WHOLE_FRAME", "Review", "person_choice", "review_scores"]

#: :attr:`Review.choice` for the whole frame; ``k >= 0`` is keypoint ``k``; see
#: :func:`person_choice` for people.
WHOLE_FRAME = -1
MAX_INSTANCE_CURVES = 8


def person_choice(j: int) -> int:
    """:attr:`Review.choice` value for person ``j``."""
    return -2 - j


def review_scores(project: Any, video_id: int, n_frames: int | None = None,
                  n_keypoints: int | None = None, cancelled: Callable[[], bool] | None = None,
                  ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One pass over a video's predictions: ``(keypoint_matrix, instance_matrix, labels)``.

    ``keypoint_matrix`` is ``(n_frames, K)``: per keypoint, the lowest score over the frame's
    predictions where it is shown (visibility > 0), NaN elsewhere. ``instance_matrix`` is
    ``(n_frames, M)``, the score of each person over time: by track when the predictions carry
    track ids, else by position (left to right: "person 1" is the leftmost), at most
    :data:`MAX_INSTANCE_CURVES`. Safe on a worker thread; returns what it has when
    ``cancelled()`` turns true.
    """
    if n_frames is None:
        n_frames = int(project.video(video_id).frame_count)
    if n_keypoints is None:
        n_keypoints = int(project.skeleton.num_keypoints)
    kp = np.full((n_frames, n_keypoints), np.nan, np.float32)
    per_frame: dict[int, list[tuple[Any, float, float]]] = {}
    tracks: set[int] = set()
    for i, (_v, f, inst) in enumerate(project.iter_instances("predicted", video_id)):
        if cancelled is not None and i % 4096 == 0 and cancelled():
            break
        if not 0 <= f < n_frames:
            continue
        ks = inst.kp_scores
        lab = inst.labeled
        if ks is not None and len(ks) == n_keypoints:
            kp[f] = np.fmin(kp[f], np.where(lab, np.asarray(ks, np.float32), np.nan))
        sc = inst.mean_score()
        if sc is None:
            continue
        x = float(np.nanmean(inst.xy[lab, 0])) if lab.any() else 0.0
        if inst.track_id is not None:
            tracks.add(int(inst.track_id))
        per_frame.setdefault(f, []).append((inst.track_id, x, float(sc)))
    if tracks:
        order = sorted(tracks)[:MAX_INSTANCE_CURVES]
        col = {t: j for j, t in enumerate(order)}
        labels = [f"track {t}" for t in order]
        inst_m = np.full((n_frames, len(order)), np.nan, np.float32)
        for f, items in per_frame.items():
            for t, _x, sc in items:
                if t is not None and int(t) in col:
                    inst_m[f, col[int(t)]] = sc
    else:
        m = min(MAX_INSTANCE_CURVES, max((len(v) for v in per_frame.values()), default=0))
        labels = [f"person {j + 1} (from left)" for j in range(m)]
        inst_m = np.full((n_frames, m), np.nan, np.float32)
        for f, items in per_frame.items():
            for j, (_t, _x, sc) in enumerate(sorted(items, key=lambda it: it[1])[:m]):
                inst_m[f, j] = sc
    return kp, inst_m, labels


def _lowest(kp: np.ndarray) -> np.ndarray:
    """Per frame, the lowest finite value of a row (NaN when none)."""
    with np.errstate(invalid="ignore"):
        filled = np.where(np.isnan(kp), np.inf, kp).min(axis=1) if kp.shape[1] else \
            np.full(kp.shape[0], np.inf)
    return np.where(np.isinf(filled), np.nan, filled).astype(np.float32)


@dataclass
class Review:
    """Scores of the current video and the review choices (see the module docstring)."""

    threshold: float = nav.DEFAULT_LOW_CONFIDENCE
    choice: int = WHOLE_FRAME
    labeled: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    predicted: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    min_score: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    mean_score: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    keypoints: np.ndarray | None = None  # (n, K)
    keypoint_names: list[str] = field(default_factory=list)
    people: np.ndarray | None = None  # (n, M)
    people_names: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return int(self.labeled.shape[0])

    def set_arrays(self, arrays: Any | None) -> None:
        """Per-frame arrays (``labeled``, ``predicted``, ``min_score``, ``mean_score``)."""
        if arrays is None:
            self.labeled = np.zeros(0, bool)
            self.predicted = np.zeros(0, bool)
            self.min_score = self.mean_score = np.zeros(0, np.float32)
        else:
            self.labeled = np.asarray(arrays.labeled, bool)
            self.predicted = np.asarray(arrays.predicted, bool)
            self.min_score = np.asarray(arrays.min_score, np.float32)
            self.mean_score = np.asarray(arrays.mean_score, np.float32)
        n = self.n_frames
        if self.keypoints is not None and self.keypoints.shape[0] != n:
            self.keypoints = None
        if self.people is not None and self.people.shape[0] != n:
            self.people = None

    def set_keypoint_scores(self, matrix: np.ndarray | None, names: Sequence[str] = ()) -> None:
        if matrix is None:
            self.keypoints, self.keypoint_names = None, []
            return
        m = np.asarray(matrix, np.float32)
        if m.ndim != 2:
            raise ValueError(f"keypoint scores must be (frames, keypoints), got {m.shape}")
        self.keypoints = m
        self.keypoint_names = [names[k] if k < len(names) else f"keypoint {k}"
                               for k in range(m.shape[1])]

    def set_person_scores(self, matrix: np.ndarray | None, labels: Sequence[str] = ()) -> None:
        if matrix is None:
            self.people, self.people_names = None, []
            return
        m = np.asarray(matrix, np.float32)
        if m.ndim != 2:
            raise ValueError(f"instance scores must be (frames, instances), got {m.shape}")
        self.people = m
        self.people_names = [labels[j] if j < len(labels) else f"person {j + 1}"
                             for j in range(m.shape[1])]

    # --- what the choice means -----------------------------------------------------------------
    def chosen_curve(self) -> np.ndarray | None:
        """The chosen person's or keypoint's scores (None for the whole frame)."""
        c = self.choice
        if c >= 0:
            return self.keypoints[:, c] if self.keypoints is not None and \
                c < self.keypoints.shape[1] else None
        j = -2 - c
        if c <= -2 and self.people is not None and j < self.people.shape[1]:
            return self.people[:, j]
        return None

    def frame_scores(self) -> np.ndarray:
        """Per frame: the lowest shown keypoint score (else the lowest person score)."""
        if self.keypoints is not None and self.keypoints.shape[0] == self.n_frames:
            low = _lowest(self.keypoints)
            return np.where(np.isnan(low), self.min_score, low).astype(np.float32)
        return self.min_score

    def scores(self) -> np.ndarray:
        """The scores J and the summary use: the chosen curve, else the whole frame."""
        curve = self.chosen_curve()
        return curve if curve is not None else self.frame_scores()

    def low_mask(self) -> np.ndarray:
        """Frames under the threshold, labeled frames left out (already fixed)."""
        if not self.n_frames:
            return np.zeros(0, bool)
        return nav.low_confidence_mask(self.scores(), self.threshold, exclude=self.labeled)

    def next_low(self, current: int, direction: int = 1) -> int | None:
        """Start of the next/previous stretch of low frames from ``current``."""
        if not self.n_frames:
            return None
        return nav.next_flagged(self.low_mask(), current, direction)

    def summary(self) -> str:
        if not self.n_frames:
            return ""
        low = self.low_mask()
        return (f"{int(self.predicted.sum())} predicted · {int(self.labeled.sum())} labeled · "
                f"{int(low.sum())} low ({len(nav.runs(low))} stretches)")
