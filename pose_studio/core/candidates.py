"""Keypoint candidates: the other places a heatmap model considered for each keypoint.

A heatmap model's prediction is the highest peak of each keypoint's map, but the map often
has more than one peak: a wrist map with a second bump on the other wrist, an ankle map that
peaks on the wrong ankle while the right one is the second peak. Measured on the bundled
model (rendered people, ~100 px tall): the argmax is more than 5 px off on 20% of wrists and
40% of ankles, while the nearest of the map's peaks is that far off on 5%.

:class:`KeypointCandidates` keeps those peaks (image pixels, strongest first) next to a
prediction, and :func:`pick` chooses, per keypoint, the one that agrees best with a prior (where
the point should be from what is known around this frame: the flow from a label, the motion,
the interpolation between labels): each peak is a hypothesis weighed by its height, the prior
by its uncertainty. With the flip partner's peaks among the hypotheses, a left/right confusion
of the model (both ankles on one point) is resolved by where each ankle was a frame ago.

Pure numpy; the peaks are found by :func:`local_peaks` (also what the window's "snap to the
heatmap's peak" steps through).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["KeypointCandidates", "local_peaks", "pick"]


def local_peaks(
    m: np.ndarray, max_peaks: int = 5, min_rel: float = 0.1, min_sep: float = 2.0,
    *, subpixel: bool = True,
) -> list[tuple[float, float, float]]:
    """Local maxima ``(x, y, value)`` of a 2-D map, strongest first, sub-pixel refined by a
    parabola through the neighbours (``subpixel``; else on the pixel).

    A peak must be at least ``min_rel`` of the map's maximum and ``min_sep`` map pixels away
    from a stronger peak (plateaus and shoulders count once).
    """
    h, w = m.shape
    if m.size == 0 or not np.isfinite(m).any():
        return []
    top = float(np.nanmax(m))
    if top <= 0:
        return []
    p = np.pad(np.nan_to_num(m, nan=-np.inf), 1, constant_values=-np.inf)
    c = p[1:-1, 1:-1]
    is_max = c >= top * min_rel
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                is_max &= c >= p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
    ys, xs = np.nonzero(is_max)
    order = np.argsort(-c[ys, xs], kind="stable")
    out: list[tuple[float, float, float]] = []
    for j in order:
        y, x = int(ys[j]), int(xs[j])
        if any(math.hypot(x - px, y - py) < min_sep for px, py, _ in out):
            continue
        fx, fy = float(x), float(y)
        if subpixel and 0 < x < w - 1:
            left, right = m[y, x - 1], m[y, x + 1]
            den = left - 2 * m[y, x] + right
            if den < 0:
                fx += float(np.clip(0.5 * (left - right) / den, -0.5, 0.5))
        if subpixel and 0 < y < h - 1:
            u, d = m[y - 1, x], m[y + 1, x]
            den = u - 2 * m[y, x] + d
            if den < 0:
                fy += float(np.clip(0.5 * (u - d) / den, -0.5, 0.5))
        out.append((fx, fy, float(m[y, x])))
        if len(out) >= max_peaks:
            break
    return out


@dataclass(frozen=True, eq=False)
class KeypointCandidates:
    """Up to M peaks per keypoint of one predicted instance, in image pixels.

    Attributes:
        xy: ``(K, M, 2)``; NaN where a keypoint has fewer peaks.
        value: ``(K, M)`` the map's height there (the model's confidence in that place),
            strongest first; 0 where there is no peak.
    """

    xy: np.ndarray
    value: np.ndarray

    def __post_init__(self) -> None:
        xy = np.array(self.xy, dtype=np.float64)
        val = np.array(self.value, dtype=np.float64)
        if xy.ndim != 3 or xy.shape[2] != 2 or val.shape != xy.shape[:2]:
            raise ValueError(f"candidates need xy (K, M, 2) and value (K, M), got "
                             f"{xy.shape} and {val.shape}")
        bad = ~np.isfinite(xy).all(axis=2) | ~np.isfinite(val) | (val <= 0)
        xy[bad] = np.nan
        val[bad] = 0.0
        xy.flags.writeable = False
        val.flags.writeable = False
        object.__setattr__(self, "xy", xy)
        object.__setattr__(self, "value", val)

    @property
    def num_keypoints(self) -> int:
        return int(self.xy.shape[0])

    @classmethod
    def from_peaks(cls, peaks: list[list[tuple[float, float, float]]], max_peaks: int
                   ) -> KeypointCandidates:
        """From per keypoint ``[(x, y, value), ...]`` lists (image pixels)."""
        k = len(peaks)
        xy = np.full((k, max_peaks, 2), np.nan)
        val = np.zeros((k, max_peaks))
        for j, pk in enumerate(peaks):
            for m, (x, y, v) in enumerate(pk[:max_peaks]):
                xy[j, m] = (x, y)
                val[j, m] = v
        return cls(xy, val)

    def translated(self, dx: float, dy: float) -> KeypointCandidates:
        return KeypointCandidates(self.xy + np.array([dx, dy]), self.value)


def pick(
    cands: KeypointCandidates,
    prior_xy: np.ndarray,
    prior_sigma: np.ndarray,
    peak_sigma: np.ndarray,
    *,
    flip_perm: np.ndarray | None = None,
    partner_weight: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per keypoint, the candidate most likely to be the point given a prior.

    Each peak ``c`` with height ``v`` is a hypothesis "the point is at c" with prior odds
    ``v`` (the flip partner's peaks, when ``flip_perm`` is given, with ``partner_weight * v``:
    a map that peaks on the other side is a confusion, not a sighting). The prior position
    ``prior_xy`` with uncertainty ``prior_sigma`` is then evidence with likelihood
    ``N(prior; c, prior_sigma² + peak_sigma(v)²)``. The hypothesis with the highest posterior
    wins. Where the prior is unknown (``prior_sigma`` inf) the strongest own peak wins.

    Args:
        peak_sigma: ``(K, M)`` the position uncertainty of each own peak (px), e.g. from its
            height by :func:`pose_studio.core.fusion.model_sigma`; the partner's peaks use the
            partner's row.

    Returns:
        ``xy (K, 2)`` (NaN where a keypoint has no peak), the chosen peak's height ``(K,)`` as
        the model's confidence there (partner peaks scaled by ``partner_weight``), and its
        sigma ``(K,)``.
    """
    k, m = cands.value.shape
    px = np.asarray(prior_xy, np.float64).reshape(k, 2)
    ps = np.asarray(prior_sigma, np.float64).reshape(k)
    psig = np.asarray(peak_sigma, np.float64).reshape(k, m)
    hx, hv, hs = cands.xy, cands.value, psig
    if flip_perm is not None:
        fp = np.asarray(flip_perm, np.intp)
        own_side = fp != np.arange(k)
        extra_v = np.where(own_side[:, None], cands.value[fp] * partner_weight, 0.0)
        hx = np.concatenate([hx, cands.xy[fp]], axis=1)
        hv = np.concatenate([hv, extra_v], axis=1)
        hs = np.concatenate([hs, psig[fp]], axis=1)
    out_xy = np.full((k, 2), np.nan)
    out_v = np.zeros(k)
    out_s = np.full(k, np.inf)
    for j in range(k):
        ok = (hv[j] > 0) & np.isfinite(hs[j])
        if not ok.any():
            continue
        idx = np.flatnonzero(ok)
        if not (np.isfinite(ps[j]) and np.isfinite(px[j]).all()):
            best = idx[int(np.argmax(hv[j, idx]))]
        else:
            var = ps[j] ** 2 + hs[j, idx] ** 2
            d2 = ((hx[j, idx] - px[j]) ** 2).sum(axis=1)
            score = np.log(hv[j, idx]) - 0.5 * d2 / var - np.log(var)
            best = idx[int(np.argmax(score))]
        out_xy[j] = hx[j, best]
        out_v[j] = hv[j, best]
        out_s[j] = hs[j, best]
    return out_xy, out_v, out_s
