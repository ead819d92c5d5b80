"""Review navigation over per-frame arrays: pure numpy, no Qt.

The window's "next/previous low-confidence frame" and "next/previous labeled/unlabeled frame"
actions and the review plot work on the per-frame arrays the store gives
(``Project.frame_arrays(video_id)``: ``labeled``, ``predicted`` bool; ``min_score``,
``mean_score`` float32 with NaN where a frame has no prediction). Everything here takes plain
arrays so it can be tested without a project or a window.

Jumps come in two flavours:

* ``skip_run=False``: the nearest flagged frame strictly after/before ``current``.
* ``skip_run=True`` (the default for review): the *start of a run* of flagged frames, so a
  stretch of 40 bad frames is one stop, not 40. Forward goes to the first run that starts after
  ``current``; backward goes to the start of the nearest run that starts before ``current``
  (so from the middle of a run it goes to that run's start first).

All functions return ``None`` when there is nowhere to go (no wrap-around unless asked).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = [
    "DEFAULT_LOW_CONFIDENCE",
    "keypoint_score_matrix",
    "low_confidence_mask",
    "next_flagged",
    "next_labeled",
    "next_low_confidence",
    "next_unlabeled",
    "runs",
]

#: Score under which a predicted frame counts as "low confidence" by default.
DEFAULT_LOW_CONFIDENCE = 0.5


def _as_mask(mask: np.ndarray | Iterable[bool]) -> np.ndarray:
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 1:
        raise ValueError(f"expected a 1-D per-frame mask, got shape {m.shape}")
    return m


def runs(mask: np.ndarray | Iterable[bool]) -> list[tuple[int, int]]:
    """Half-open ``(start, stop)`` ranges of consecutive True frames, in order."""
    m = _as_mask(mask)
    if m.size == 0:
        return []
    padded = np.concatenate(([False], m, [False])).astype(np.int8)
    d = np.diff(padded)
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1)
    return [(int(a), int(b)) for a, b in zip(starts, stops)]


def next_flagged(
    mask: np.ndarray | Iterable[bool],
    current: int,
    direction: int = 1,
    *,
    skip_run: bool = True,
    wrap: bool = False,
) -> int | None:
    """The next (``direction > 0``) or previous flagged frame from ``current``.

    Args:
        mask: Per-frame booleans.
        current: The frame shown now (may be outside ``[0, len)``).
        direction: ``+1`` forward, ``-1`` backward.
        skip_run: Stop only at the first frame of each run of flagged frames.
        wrap: Continue from the other end when nothing is found.

    Returns:
        A frame index, or None when no flagged frame lies in that direction.
    """
    m = _as_mask(mask)
    n = m.size
    if n == 0 or not m.any():
        return None
    targets = m
    if skip_run:
        starts = m.copy()
        starts[1:] &= ~m[:-1]
        targets = starts
    idx = np.flatnonzero(targets)
    if direction >= 0:
        pos = int(np.searchsorted(idx, current, side="right"))
        if pos < idx.size:
            return int(idx[pos])
        return int(idx[0]) if wrap and int(idx[0]) != current else None
    pos = int(np.searchsorted(idx, current, side="left")) - 1
    if pos >= 0:
        return int(idx[pos])
    return int(idx[-1]) if wrap and int(idx[-1]) != current else None


def low_confidence_mask(
    scores: np.ndarray,
    threshold: float = DEFAULT_LOW_CONFIDENCE,
    *,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Frames whose score is below ``threshold`` (NaN, i.e. no prediction, never counts).

    Args:
        scores: Per-frame scores (e.g. ``min_score`` or ``mean_score``), NaN where none.
        threshold: Scores strictly below this are low.
        exclude: Optional per-frame mask of frames to leave out (e.g. ``labeled``: frames the
            user has already fixed).
    """
    s = np.asarray(scores, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        m = np.isfinite(s) & (s < threshold)
    if exclude is not None:
        ex = _as_mask(exclude)
        if ex.shape != m.shape:
            raise ValueError(f"exclude has {ex.size} frames, scores {m.size}")
        m &= ~ex
    return m


def next_low_confidence(
    scores: np.ndarray,
    current: int,
    direction: int = 1,
    *,
    threshold: float = DEFAULT_LOW_CONFIDENCE,
    exclude: np.ndarray | None = None,
    skip_run: bool = True,
    wrap: bool = False,
) -> int | None:
    """Next/previous frame (run start by default) whose score is below ``threshold``."""
    mask = low_confidence_mask(scores, threshold, exclude=exclude)
    return next_flagged(mask, current, direction, skip_run=skip_run, wrap=wrap)


def next_labeled(
    labeled: np.ndarray, current: int, direction: int = 1, *, wrap: bool = False
) -> int | None:
    """Next/previous frame with a user label (every labeled frame is a stop)."""
    return next_flagged(labeled, current, direction, skip_run=False, wrap=wrap)


def next_unlabeled(
    labeled: np.ndarray,
    current: int,
    direction: int = 1,
    *,
    predicted: np.ndarray | None = None,
    wrap: bool = False,
) -> int | None:
    """Next/previous frame without a user label.

    With ``predicted`` given, only frames that have a prediction but no label count (the
    "review the model's output" walk); every such frame is a stop.
    """
    lab = _as_mask(labeled)
    mask = ~lab
    if predicted is not None:
        pred = _as_mask(predicted)
        if pred.shape != lab.shape:
            raise ValueError(f"predicted has {pred.size} frames, labeled {lab.size}")
        mask &= pred
    return next_flagged(mask, current, direction, skip_run=False, wrap=wrap)


def keypoint_score_matrix(
    items: Iterable[tuple[int, np.ndarray | None]],
    n_frames: int,
    n_keypoints: int,
    *,
    reduce: str = "min",
) -> np.ndarray:
    """An ``(n_frames, n_keypoints)`` float32 score matrix from ``(frame_idx, kp_scores)`` items.

    Several instances on one frame are combined with ``reduce`` (``"min"`` or ``"max"``);
    frames with no item are NaN. Items whose scores are None or of the wrong length, or whose
    frame is out of range, are skipped.
    """
    if reduce not in ("min", "max"):
        raise ValueError(f"reduce must be 'min' or 'max', not {reduce!r}")
    out = np.full((max(n_frames, 0), n_keypoints), np.nan, dtype=np.float32)
    fn = np.fmin if reduce == "min" else np.fmax  # fmin/fmax ignore the NaN fill
    for frame_idx, scores in items:
        if scores is None or not 0 <= frame_idx < n_frames:
            continue
        s = np.asarray(scores, dtype=np.float32).reshape(-1)
        if s.size != n_keypoints:
            continue
        out[frame_idx] = fn(out[frame_idx], s)
    return out
