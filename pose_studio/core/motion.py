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

A swinging arm, a stepping leg, a wing: much of what moves fast moves the way it moved a period
ago, and a polynomial cannot see that. So there is one more fit, *repeat*: the point's
positions over the last ``repeat_span`` frames, less their straight-line trend (the walk),
are searched for the stretches of ``repeat_window`` frames most like the newest ones, and what
followed those stretches is what comes next (an analog forecast, as for weather: the nearest
``repeat_neighbours`` weighted by how alike they were). It is backtested like the others, so
motion that does not repeat earns it no trust. It needs one sample per frame, as a carried
track's labels are.
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
    #: the repeat fit (module docstring): frames searched (0: no repeat fit), the length of
    #: a matched stretch, how many of the best matches are averaged
    repeat_span: int = 64
    repeat_window: int = 4
    repeat_neighbours: int = 3


def _fit_predict(t: np.ndarray, x: np.ndarray, w: np.ndarray, deg: int, at: float
                 ) -> np.ndarray | None:
    """Weighted least-squares polynomial of degree ``deg`` through ``(t, x (n, 2))``
    evaluated at ``at``; None unless there are more samples than coefficients."""
    if len(t) < deg + 2:  # one more than the fit needs: no exact fit of noise
        return None
    t0 = t[-1]  # centred on the newest sample: well conditioned
    coef = _wls(np.vander(t - t0, deg + 1), x, w)
    return np.vander(np.array([at - t0]), deg + 1)[0] @ coef  # type: ignore[no-any-return]


def _wls(a: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least squares ``a @ coef ~ x`` by the normal equations (a few columns of
    distinct frame times: well posed, and many times faster than ``lstsq`` at this size,
    which matters: the fits run for every point of every person on every frame)."""
    aw = a.T * w
    try:
        return np.linalg.solve(aw @ a, aw @ x)  # type: ignore[no-any-return]
    except np.linalg.LinAlgError:
        sw = np.sqrt(w)[:, None]
        return np.linalg.lstsq(a * sw, x * sw, rcond=None)[0]  # type: ignore[no-any-return]


def _repeat_predict(t: np.ndarray, x: np.ndarray, w: np.ndarray, at: float,
                    p: TrajectoryParams) -> np.ndarray | None:
    """The repeat fit (module docstring) through ``(t, x (n, 2))`` (integer frame times, the
    newest last, all within ``repeat_span``) evaluated at ``at``; None when the samples are
    too few or ``at`` is not a whole number of frames ahead."""
    win = p.repeat_window
    if len(t) == 0:
        return None
    h = round(float(at - t[-1]))
    if h < 1 or abs(at - t[-1] - h) > 1e-6 or len(t) < 2 * win + h + 2:
        return None
    t0 = t[-1] - p.repeat_span + 1
    keep = t >= t0 - 1e-9
    t, x, w = t[keep], x[keep], w[keep]
    if len(t) < 2 * win + h + 2:
        return None
    idx = np.round(t - t0).astype(int)
    grid = np.full((p.repeat_span, 2), np.nan)
    grid[idx] = x
    coef = _wls(np.vander(t - t[-1], 2), x, w)
    tg = np.arange(p.repeat_span, dtype=np.float64) - (p.repeat_span - 1)
    r = grid - np.vander(tg, 2) @ coef  # what is left when the walk is taken out
    cur = r[-win:]
    if not np.isfinite(cur).all():
        return None
    # stretch r[e-win:e] followed, h frames on, by r[e+h-1]; e up to len - h
    ends = np.arange(win, p.repeat_span - h + 1)
    wins = np.lib.stride_tricks.sliding_window_view(r, win, axis=0)  # (n-win+1, 2, win)
    stretch = wins[ends - win]
    after = r[ends + h - 1]
    ok = np.isfinite(stretch).all(axis=(1, 2)) & np.isfinite(after).all(axis=1)
    if not ok.any():
        return None
    d = ((stretch[ok] - cur.T[None]) ** 2).sum(axis=(1, 2))
    best = np.argsort(d, kind="stable")[:p.repeat_neighbours]
    # moved by how far the newest sample sits from the end of each stretch
    step = after[ok][best] + (cur[-1] - stretch[ok][best][:, :, -1])
    wt = 1.0 / (d[best] + 0.5 * win)
    trend = np.array([at - t[-1], 1.0]) @ coef
    return trend + (wt[:, None] * step).sum(0) / wt.sum()  # type: ignore[no-any-return]


REPEAT = -1  # the "degree" that stands for the repeat fit


def _predict(t: np.ndarray, x: np.ndarray, w: np.ndarray, deg: int, at: float,
             p: TrajectoryParams) -> np.ndarray | None:
    if deg == REPEAT:
        return _repeat_predict(t, x, w, at, p)
    return _fit_predict(t, x, w, deg, at)


def _backtest(t: np.ndarray, x: np.ndarray, w: np.ndarray, exact: np.ndarray, deg: int,
              span: float, horizon: float, p: TrajectoryParams) -> float | None:
    """RMS error of predicting each of the newest placed samples from the samples in
    ``span`` before it, at least ``horizon`` earlier (None: too few could be predicted)."""
    tests = np.flatnonzero(exact)[::-1][:p.backtests]
    if deg != REPEAT:
        return _poly_backtest(t, x, w, tests, deg, span, horizon, p)
    errs = []
    for i in tests:
        use = (t <= t[i] - horizon + 1e-9) & (t >= t[i] - horizon - span + 1e-9)
        got = _predict(t[use], x[use], w[use], deg, float(t[i]), p)
        if got is not None:
            errs.append(float(np.sum((got - x[i]) ** 2)))
    return float(np.sqrt(np.mean(errs))) if len(errs) >= p.min_backtests else None


def _poly_backtest(t: np.ndarray, x: np.ndarray, w: np.ndarray, tests: np.ndarray, deg: int,
                   span: float, horizon: float, p: TrajectoryParams) -> float | None:
    """:func:`_backtest` of a polynomial, all its backtests solved at once (the same fits as
    :func:`_fit_predict`, each centred on its own window's end)."""
    end = t[tests] - horizon  # (B,) the newest time each backtest may use
    use = (t[None] <= end[:, None] + 1e-9) & (t[None] >= end[:, None] - span + 1e-9)
    enough = use.sum(1) >= deg + 2
    if enough.sum() < p.min_backtests:
        return None
    end, use, tests = end[enough], use[enough], tests[enough]
    a = (t[None, :] - end[:, None])[..., None] ** np.arange(deg, -1, -1)  # (B, n, d)
    wm = use * w[None]
    lhs = np.einsum("bn,bnd,bne->bde", wm, a, a)
    rhs = np.einsum("bn,bnd,nc->bdc", wm, a, x)
    try:
        coef = np.linalg.solve(lhs, rhs)
    except np.linalg.LinAlgError:
        return _backtest_each(t, x, w, tests, deg, span, horizon, p)
    at = (t[tests] - end)[:, None] ** np.arange(deg, -1, -1)  # (B, d)
    got = np.einsum("bd,bdc->bc", at, coef)
    return float(np.sqrt(np.mean(np.sum((got - x[tests]) ** 2, axis=1))))


def _backtest_each(t: np.ndarray, x: np.ndarray, w: np.ndarray, tests: np.ndarray, deg: int,
                   span: float, horizon: float, p: TrajectoryParams) -> float | None:
    errs = []
    for i in tests:
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
        fits = [(deg, float(span)) for span in p.spans for deg in (1, 2)]
        if p.repeat_span > 0 and np.allclose(t, np.round(t)):
            fits.append((REPEAT, float(p.repeat_span - 1)))
        best: tuple[float, int, float] | None = None
        for deg, span in fits:
            rms = _backtest(t, x, w, ex, deg, span, horizon, p)
            if rms is not None and (best is None or rms < best[0]):
                best = (rms, deg, span)
        if best is None:
            continue
        use = t >= t[-1] - best[2] + 1e-9
        got = _predict(t[use], x[use], w[use], best[1], target, p)
        if got is None:
            continue
        out[j] = got
        sig[j] = float(np.hypot(p.floor, p.inflate * best[0]))
    return out, sig
