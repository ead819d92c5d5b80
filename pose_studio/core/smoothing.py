"""Smoothing predicted keypoints over time, per track: One-Euro or Savitzky-Golay.

As DeepLabCut's ``filterpredictions``: the result is a NEW set of predictions (new instances,
no ids), to be stored as a new model run; the model's own output is never changed in place.
Each keypoint is smoothed over the runs of consecutive frames where it is labeled; gaps are
not bridged, and a point's visibility and score stay as they were.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind, Provenance
from pose_studio.core.errors import PoseStudioError

Method = Literal["one-euro", "savgol"]


class SmoothingError(PoseStudioError):
    """Smoothing parameters that cannot be used."""


def savgol_coefficients(window: int, order: int) -> np.ndarray:
    """Centre-point Savitzky-Golay weights (least-squares polynomial of ``order`` over an odd
    ``window``)."""
    if window < 3 or window % 2 == 0:
        raise SmoothingError(f"Savitzky-Golay window must be odd and at least 3, not {window}")
    if not 0 <= order < window:
        raise SmoothingError(f"Savitzky-Golay order must be in 0..{window - 1}, not {order}")
    half = window // 2
    x = np.arange(-half, half + 1, dtype=np.float64)
    a = np.vander(x, order + 1, increasing=True)
    return np.linalg.pinv(a)[0]


def savgol(x: np.ndarray, window: int = 7, order: int = 2) -> np.ndarray:
    """Savitzky-Golay filter along axis 0 of ``x`` (T, D); near the ends (and for runs shorter
    than the window) a polynomial is fitted to the points available."""
    x = np.asarray(x, dtype=np.float64)
    t = len(x)
    out = np.empty_like(x)
    half = window // 2
    coef = savgol_coefficients(window, order)
    for i in range(t):
        if half <= i < t - half:
            out[i] = coef @ x[i - half:i + half + 1]
            continue
        lo, hi = max(0, i - half), min(t, i + half + 1)
        xs = np.arange(lo, hi, dtype=np.float64) - i
        deg = min(order, len(xs) - 1)
        a = np.vander(xs, deg + 1, increasing=True)
        out[i] = (np.linalg.pinv(a)[0]) @ x[lo:hi]
    return out


def one_euro(x: np.ndarray, *, fps: float = 25.0, min_cutoff: float = 1.0, beta: float = 0.05,
             d_cutoff: float = 1.0) -> np.ndarray:
    """One-Euro filter (Casiez et al. 2012) along axis 0 of ``x`` (T, D): a low-pass whose
    cutoff rises with speed (``min_cutoff + beta * |speed|``, Hz, speed in units/s), so slow
    jitter is smoothed and fast motion is followed with little lag."""
    x = np.asarray(x, dtype=np.float64)
    if min_cutoff <= 0 or d_cutoff <= 0 or fps <= 0 or beta < 0:
        raise SmoothingError("One-Euro needs positive fps, min_cutoff and d_cutoff, beta >= 0")
    te = 1.0 / fps

    def alpha(cutoff: np.ndarray | float) -> np.ndarray | float:
        r = 2 * np.pi * cutoff * te
        return r / (r + 1)

    out = np.empty_like(x)
    if len(x) == 0:
        return out
    out[0] = x[0]
    dx_prev = np.zeros(x.shape[1:])
    for i in range(1, len(x)):
        dx = (x[i] - out[i - 1]) / te
        dx_hat = alpha(d_cutoff) * dx + (1 - alpha(d_cutoff)) * dx_prev
        a = alpha(min_cutoff + beta * np.abs(dx_hat))
        out[i] = a * x[i] + (1 - a) * out[i - 1]
        dx_prev = dx_hat
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    out, start = [], None
    for i, m in enumerate(mask):
        if m and start is None:
            start = i
        elif not m and start is not None:
            out.append((start, i))
            start = None
    if start is not None:
        out.append((start, len(mask)))
    return out


def smooth_track(
    track: Sequence[tuple[int, Instance]],
    method: Method = "savgol",
    *,
    window: int = 7,
    order: int = 2,
    fps: float = 25.0,
    min_cutoff: float = 1.0,
    beta: float = 0.05,
) -> list[tuple[int, Instance]]:
    """New predictions for one track (``(frame, instance)``; one instance per frame).

    Frames that are not consecutive break a run, as unlabeled points do.
    """
    if method not in ("one-euro", "savgol"):
        raise SmoothingError(f"unknown smoothing {method!r}: use one-euro or savgol")
    seq = sorted(track, key=lambda t: t[0])
    if not seq:
        return []
    frames = np.array([f for f, _ in seq])
    if len(np.unique(frames)) != len(frames):
        raise SmoothingError("a track has two instances on one frame; smooth one track at a time")
    xy = np.stack([i.xy for _, i in seq])  # (T, K, 2)
    lab = np.stack([i.labeled for _, i in seq])  # (T, K)
    out = xy.copy()
    contiguous = np.concatenate([[False], np.diff(frames) == 1])
    for k in range(xy.shape[1]):
        mask = lab[:, k].copy()
        for a, b in _runs(mask):
            # split at frame gaps inside the run
            cuts = [a] + [i for i in range(a + 1, b) if not contiguous[i]] + [b]
            for s, e in itertools.pairwise(cuts):
                if e - s < 2:
                    continue
                seg = xy[s:e, k]
                if method == "savgol":
                    out[s:e, k] = savgol(seg, window, order) if e - s > order else seg
                else:
                    out[s:e, k] = one_euro(seg, fps=fps, min_cutoff=min_cutoff, beta=beta)
    res = []
    for t, (f, inst) in enumerate(seq):
        res.append((f, Instance(xy=out[t], visibility=inst.visibility,
                                kind=InstanceKind.PREDICTED, kp_scores=inst.kp_scores,
                                provenance=np.full(inst.num_keypoints, int(Provenance.PREDICTED)),
                                score=inst.score, bbox=inst.bbox, track_id=inst.track_id)))
    return res
