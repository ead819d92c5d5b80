"""A keypoint's own trajectory as an estimate: where its recent labels say it goes next.

Optical flow needs the point to be seen; the model guesses where it is not. A point behind the
torso, or one the flow loses, still moves on the path it was on: a head and a torso carried
by a walk move nearly in a straight line, a swinging limb on a curve. So each keypoint's
labeled positions on the frames around are fitted by least squares with a line and with a
parabola over time, over a short and a longer span, and extrapolated to the frame asked for.

Not every label is as good: a point a person placed is where it belongs, a point they
accepted from a proposal (propagated, predicted) is only near it (measured on the effort
benchmark's calibration clips: 0.7-0.8 px off on the face, about 2 px on the torso), and a
path through those would carry their errors on. With ``exact`` (the samples a person
placed) the others weigh ``generated_weight`` in the fit and are never the yardstick.

How far to trust it is measured, not assumed: each fit is *backtested* on the point's own
history (fit on the samples up to ``horizon`` frames before a placed one, predict that one;
the RMS of those errors is the estimate's sigma), and of the fits the one that predicted
best is used. A steady point is trusted to a fraction of a pixel, a jerky one barely counts.
With too few placed samples to backtest there is no estimate. Pure numpy; nothing here looks
at the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TrajectoryParams", "trajectory_estimate"]


@dataclass(frozen=True)
class TrajectoryParams:
    """``spans``: the fits' spans in frames back from the newest sample; ``floor``: the
    smallest sigma (px, placement precision); ``inflate``: the backtest RMS is multiplied by
    it (a few backtests underestimate the spread); ``backtests``: how many of the newest
    placed samples are predicted from the ones before them (at least ``min_backtests``);
    ``generated_weight``: the weight in the fit of a sample a person did not place."""

    spans: tuple[int, ...] = (6, 24)
    floor: float = 0.25
    inflate: float = 2.5
    backtests: int = 4
    min_backtests: int = 2
    generated_weight: float = 0.1


def _fit_predict(t: np.ndarray, x: np.ndarray, w: np.ndarray, deg: int, at: float
                 ) -> np.ndarray | None:
    """Weighted least-squares polynomial of degree ``deg`` through ``(t, x (n, 2))``
    evaluated at ``at``; None unless there are more samples than coefficients."""
    if len(t) < deg + 2:  # one more than the fit needs: no exact fit of noise
        return None
    t0 = t[-1]  # centred on the newest sample: well conditioned
    sw = np.sqrt(w)[:, None]
    a = np.vander(t - t0, deg + 1)
    coef, *_ = np.linalg.lstsq(a * sw, x * sw, rcond=None)
    return np.vander(np.array([at - t0]), deg + 1)[0] @ coef  # type: ignore[no-any-return]


def _backtest(t: np.ndarray, x: np.ndarray, w: np.ndarray, exact: np.ndarray, deg: int,
              span: float, horizon: float, p: TrajectoryParams) -> float | None:
    """RMS error of predicting each of the newest placed samples from the samples in
    ``span`` before it, at least ``horizon`` earlier (None: too few could be predicted)."""
    errs = []
    for i in np.flatnonzero(exact)[::-1][:p.backtests]:
        use = (t <= t[i] - horizon + 1e-9) & (t >= t[i] - horizon - span + 1e-9)
        got = _fit_predict(t[use], x[use], w[use], deg, float(t[i]))
        if got is not None:
            errs.append(float(np.sum((got - x[i]) ** 2)))
    return float(np.sqrt(np.mean(errs))) if len(errs) >= p.min_backtests else None


def trajectory_estimate(times: np.ndarray, xy: np.ndarray, at: float,
                        params: TrajectoryParams | None = None,
                        exact: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each keypoint extrapolated from its own history (see the module docstring).

    Args:
        times: ``(T,)`` frame times of the samples (any order, any spacing), all before
            ``at`` (or all after it: the path is then extrapolated backward).
        xy: ``(T, K, 2)`` positions, NaN where a sample has no point.
        at: The time to predict.
        exact: ``(T, K)`` the samples a person placed (default: all of them).

    Returns:
        ``xy (K, 2)`` and ``sigma (K,)`` (px; inf and NaN where there is no estimate).
    """
    p = params or TrajectoryParams()
    pos = np.asarray(xy, np.float64)
    k = pos.shape[1] if pos.ndim == 3 else 0
    # time runs away from ``at``: the newest sample last, whichever way the path goes
    ahead = 1.0 if len(times) == 0 or at >= float(np.max(times)) else -1.0
    t_all = np.asarray(times, np.float64) * ahead
    target = at * ahead
    placed = np.ones(pos.shape[:2], bool) if exact is None else np.asarray(exact, bool)
    order = np.argsort(t_all, kind="stable")
    t_all, pos, placed = t_all[order], pos[order], placed[order]
    out = np.full((k, 2), np.nan)
    sig = np.full(k, np.inf)
    for j in range(k):
        ok = np.isfinite(pos[:, j]).all(axis=1)
        t, x, ex = t_all[ok], pos[ok, j], placed[ok, j]
        if ex.sum() < p.min_backtests + 2:
            continue
        w = np.where(ex, 1.0, p.generated_weight)
        horizon = float(max(target - t[-1], 1.0))
        best: tuple[float, int, float] | None = None
        for span in p.spans:
            for deg in (1, 2):
                rms = _backtest(t, x, w, ex, deg, float(span), horizon, p)
                if rms is not None and (best is None or rms < best[0]):
                    best = (rms, deg, float(span))
        if best is None:
            continue
        use = t >= t[-1] - best[2] + 1e-9
        got = _fit_predict(t[use], x[use], w[use], best[1], target)
        if got is None:
            continue
        out[j] = got
        sig[j] = float(np.hypot(p.floor, p.inflate * best[0]))
    return out, sig
