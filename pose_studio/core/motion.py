"""A keypoint's own trajectory as an estimate: where its recent labels say it goes next.

Optical flow needs the point to be seen; the model guesses where it is not. A point behind the
torso, or one the flow loses, still moves on the path it was on: a head and a torso carried
by a walk move nearly in a straight line, a swinging limb on a curve. So each keypoint's last
labeled positions (a person's labels, or what a person accepted) are fitted by least squares
with a line and with a parabola over time, and extrapolated to the frame asked for.

How far to trust it is measured, not assumed: each fit is *backtested* on the point's own
history (fit on the samples up to ``horizon`` frames before a known one, predict that one;
the RMS of those errors is the estimate's sigma). A steady point is trusted to a fraction of
a pixel, a jerky one or one with noisy labels barely counts; of the line and the parabola the
one that predicted the recent frames better is used. With too few samples to backtest there
is no estimate. Pure numpy; nothing here looks at the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TrajectoryParams", "trajectory_estimate"]


@dataclass(frozen=True)
class TrajectoryParams:
    """``window``: labeled frames used (the nearest ones); ``floor``: the smallest sigma
    (px, placement precision); ``inflate``: the backtest RMS is multiplied by it (a few
    backtests underestimate the spread); ``backtests``: how many of the newest samples are
    predicted from the ones before them."""

    window: int = 8
    floor: float = 0.25
    inflate: float = 1.5
    backtests: int = 4


def _fit_predict(t: np.ndarray, x: np.ndarray, deg: int, at: float) -> np.ndarray | None:
    """Least-squares polynomial of degree ``deg`` through ``(t, x (n, 2))`` evaluated at
    ``at``; None with too few samples."""
    if len(t) < deg + 1:
        return None
    t0 = t[-1]  # centred on the newest sample: well conditioned
    a = np.vander(t - t0, deg + 1)
    coef, *_ = np.linalg.lstsq(a, x, rcond=None)
    return np.vander(np.array([at - t0]), deg + 1)[0] @ coef  # type: ignore[no-any-return]


def _backtest(t: np.ndarray, x: np.ndarray, deg: int, horizon: float, n: int
              ) -> float | None:
    """RMS error of predicting each of the ``n`` newest samples from the samples at least
    ``horizon`` earlier (None: no sample could be predicted)."""
    errs = []
    for i in range(len(t) - 1, max(len(t) - 1 - n, 0) - 1, -1):
        use = t <= t[i] - horizon + 1e-9
        if use.sum() < deg + 2:  # one more than the fit needs: no exact fit of noise
            continue
        p = _fit_predict(t[use], x[use], deg, float(t[i]))
        if p is not None:
            errs.append(float(np.sum((p - x[i]) ** 2)))
    return float(np.sqrt(np.mean(errs))) if errs else None


def trajectory_estimate(times: np.ndarray, xy: np.ndarray, at: float,
                        params: TrajectoryParams | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Each keypoint extrapolated from its own history (see the module docstring).

    Args:
        times: ``(T,)`` frame times of the samples (any order, any spacing).
        xy: ``(T, K, 2)`` positions, NaN where a sample has no point.
        at: The time to predict.

    Returns:
        ``xy (K, 2)`` and ``sigma (K,)`` (px; inf and NaN where there is no estimate).
    """
    p = params or TrajectoryParams()
    t_all = np.asarray(times, np.float64)
    pos = np.asarray(xy, np.float64)
    k = pos.shape[1] if pos.ndim == 3 else 0
    out = np.full((k, 2), np.nan)
    sig = np.full(k, np.inf)
    order = np.argsort(t_all, kind="stable")
    t_all, pos = t_all[order], pos[order]
    for j in range(k):
        ok = np.isfinite(pos[:, j]).all(axis=1)
        t, x = t_all[ok], pos[ok, j]
        # the window nearest to the frame asked for
        near = np.argsort(np.abs(t - at), kind="stable")[:p.window]
        near.sort()
        t, x = t[near], x[near]
        if len(t) < 3:
            continue
        horizon = float(max(np.min(np.abs(at - t)), 1.0))
        best: tuple[float, int] | None = None
        for deg in (1, 2):
            rms = _backtest(t, x, deg, horizon, p.backtests)
            if rms is not None and (best is None or rms < best[0]):
                best = (rms, deg)
        if best is None:
            continue
        got = _fit_predict(t, x, best[1], at)
        if got is None:
            continue
        out[j] = got
        sig[j] = float(np.hypot(p.floor, p.inflate * best[0]))
    return out, sig
