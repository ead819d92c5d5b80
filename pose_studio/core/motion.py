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
    newest last) evaluated at ``at``; None when the samples are too few or ``at`` is not a
    whole number of frames ahead."""
    if len(t) == 0:
        return None
    got = _repeat_batch(t, x, w, np.array([t[-1]]), np.array([at]), p)[0]
    return got if np.isfinite(got).all() else None


def _repeat_batch(t: np.ndarray, x: np.ndarray, w: np.ndarray, last: np.ndarray,
                  at: np.ndarray, p: TrajectoryParams, since: np.ndarray | None = None
                  ) -> np.ndarray:
    """The repeat fit for several cases at once (the backtests): case ``b`` uses the samples
    in the ``repeat_span`` frames up to ``last[b]`` (and after ``since[b]``) and predicts
    ``at[b]``. Returns ``(B, 2)``, NaN where a case cannot be predicted."""
    span, win = p.repeat_span, p.repeat_window
    n_b = len(last)
    out = np.full((n_b, 2), np.nan)
    h = np.round(at - last).astype(int)
    first = last - span + 1
    inside = (t[None] >= first[:, None] - 1e-9) & (t[None] <= last[:, None] + 1e-9)
    if since is not None:  # as the polynomials' backtests cut them
        inside &= t[None] >= since[:, None] + 1e-9
    ok = (h >= 1) & (np.abs(at - last - h) <= 1e-6) & (inside.sum(1) >= 2 * win + h + 2)
    if not ok.any():
        return out
    cases = np.flatnonzero(ok)
    last, h, inside = last[cases], h[cases], inside[cases]
    # each case's straight-line trend (the walk), centred on its newest sample
    a = np.stack([t[None] - last[:, None], np.ones((len(cases), len(t)))], -1)
    wm = inside * w[None]
    try:
        coef = np.linalg.solve(np.einsum("bn,bnd,bne->bde", wm, a, a),
                               np.einsum("bn,bnd,nc->bdc", wm, a, x))  # (B, 2, 2)
    except np.linalg.LinAlgError:
        return out
    grid = np.full((len(cases), span, 2), np.nan)
    bi, ni = np.nonzero(inside)
    grid[bi, np.round(t[ni] - first[cases][bi]).astype(int)] = x[ni]
    tg = np.arange(span, dtype=np.float64) - (span - 1)
    r = grid - (tg[None, :, None] * coef[:, None, 0] + coef[:, None, 1])  # the swing left
    cur = r[:, -win:]  # (B, win, 2)
    # stretch r[e-win:e] followed, h frames on, by r[e+h-1]
    ends = np.arange(win, span + 1)
    stretch = np.lib.stride_tricks.sliding_window_view(r, win, axis=1)[:, ends - win]
    after_i = np.minimum(ends[None] + h[:, None] - 1, span - 1)  # (B, E)
    after = r[np.arange(len(cases))[:, None], after_i]  # (B, E, 2)
    cur_ok = np.asarray(np.isfinite(cur).all(axis=(1, 2)))
    valid = np.isfinite(stretch).all(axis=(2, 3)) & np.isfinite(after).all(axis=2) & \
        (ends[None] <= span - h[:, None]) & cur_ok[:, None]
    d = ((stretch - cur.transpose(0, 2, 1)[:, None]) ** 2).sum(axis=(2, 3))
    d = np.where(valid, d, np.inf)
    best = np.argsort(d, axis=1, kind="stable")[:, :p.repeat_neighbours]
    rows = np.arange(len(cases))[:, None]
    db = d[rows, best]
    wt = np.where(np.isfinite(db), 1.0 / (np.where(np.isfinite(db), db, 0.0) + 0.5 * win), 0.0)
    # moved by how far the newest sample sits from the end of each stretch
    step = after[rows, best] + (cur[:, -1][:, None] - stretch[rows, best][..., -1])
    step = np.where(wt[..., None] > 0, step, 0.0)
    has = wt.sum(1) > 0
    trend = (at[cases] - last)[:, None] * coef[:, 0] + coef[:, 1]
    pred = trend + (wt[..., None] * step).sum(1) / np.where(has, wt.sum(1), 1.0)[:, None]
    out[cases[has]] = pred[has]
    return out


REPEAT = -1  # the "degree" that stands for the repeat fit


def _predict(t: np.ndarray, x: np.ndarray, w: np.ndarray, deg: int, at: float,
             p: TrajectoryParams) -> np.ndarray | None:
    if deg == REPEAT:
        return _repeat_predict(t, x, w, at, p)
    return _fit_predict(t, x, w, deg, at)


def _repeat_backtest(t: np.ndarray, x: np.ndarray, w: np.ndarray, exact: np.ndarray,
                     span: float, horizon: float, p: TrajectoryParams) -> float | None:
    """RMS error of the repeat fit predicting each of the newest placed samples from the
    samples in ``span`` before it, at least ``horizon`` earlier (None: too few could be
    predicted)."""
    tests = np.flatnonzero(exact)[::-1][:p.backtests]
    end = t[tests] - horizon  # each backtest's newest usable time
    use = (t[None] <= end[:, None] + 1e-9) & (t[None] >= end[:, None] - span + 1e-9)
    some = use.any(1)
    if some.sum() < p.min_backtests:
        return None
    last = np.where(use, t[None], -np.inf).max(1)[some]
    got = _repeat_batch(t, x, w, last, t[tests][some], p, since=(end - span)[some])
    err = np.sum((got - x[tests][some]) ** 2, axis=1)
    err = err[np.isfinite(err)]
    return float(np.sqrt(np.mean(err))) if len(err) >= p.min_backtests else None


def _poly_backtest_all(t: np.ndarray, pos: np.ndarray, w: np.ndarray, ok: np.ndarray,
                       tests: np.ndarray, deg: int, span: float, horizon: np.ndarray,
                       p: TrajectoryParams) -> np.ndarray:
    """The backtest of a polynomial fit for every keypoint at once, all in one batched solve
    (the fits of :func:`_backtest_each`, each centred on its own window's end): ``pos (T, K,
    2)``, ``w`` and ``ok`` ``(T, K)``, ``tests (K, B)`` the placed samples predicted (-1:
    none), ``horizon (K,)``. Returns the RMS per keypoint (NaN: too few backtests)."""
    k, n_b = tests.shape
    has = tests >= 0
    t_test = t[np.maximum(tests, 0)]  # (K, B)
    end = t_test - horizon[:, None]
    use = ok.T[:, None, :] & (t[None, None] <= end[..., None] + 1e-9) & \
        (t[None, None] >= end[..., None] - span + 1e-9) & has[..., None]  # (K, B, T)
    enough = use.sum(-1) >= deg + 2
    wm = np.where(use & enough[..., None], w.T[:, None, :], 0.0)
    a = (t[None, None, :] - end[..., None])[..., None] ** np.arange(deg, -1, -1)  # (K,B,T,d)
    x = np.where(ok[..., None], pos, 0.0)
    lhs = np.einsum("kbt,kbtd,kbte->kbde", wm, a, a)
    lhs[~enough] = np.eye(deg + 1)  # unused: kept solvable
    rhs = np.einsum("kbt,kbtd,tkc->kbdc", wm, a, x)
    try:
        coef = np.linalg.solve(lhs, rhs)  # (K, B, d, 2)
    except np.linalg.LinAlgError:
        return np.array([_poly_backtest_one(t, pos, w, ok, tests, deg, span, horizon, p, j)
                         for j in range(k)])
    at = horizon[:, None, None] ** np.arange(deg, -1, -1)  # t_test - end, (K, 1, d)
    got = np.einsum("kbd,kbdc->kbc", np.broadcast_to(at, (k, n_b, deg + 1)), coef)
    err = np.sum((got - x[np.maximum(tests, 0), np.arange(k)[:, None]]) ** 2, axis=-1)
    n = enough.sum(1)
    total = np.where(enough, err, 0.0).sum(1)
    return np.where(n >= p.min_backtests, np.sqrt(total / np.maximum(n, 1)), np.nan)


def _poly_backtest_one(t: np.ndarray, pos: np.ndarray, w: np.ndarray, ok: np.ndarray,
                       tests: np.ndarray, deg: int, span: float, horizon: np.ndarray,
                       p: TrajectoryParams, j: int) -> float:
    m = ok[:, j]
    idx = np.cumsum(m) - 1  # sample index -> index among the keypoint's samples
    chosen = idx[tests[j][tests[j] >= 0]]
    got = _backtest_each(t[m], pos[m, j], w[m, j], chosen, deg, span, float(horizon[j]), p)
    return np.nan if got is None else got


def _backtest_each(t: np.ndarray, x: np.ndarray, w: np.ndarray, tests: np.ndarray, deg: int,
                   span: float, horizon: float, p: TrajectoryParams) -> float | None:
    """One keypoint's polynomial backtest, fit by fit: predict each sample ``tests`` from the
    samples in ``span`` before it, at least ``horizon`` earlier (the reference, and the way
    out when the batched normal equations are singular)."""
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
    ok = np.asarray(np.isfinite(pos).all(axis=2)) if k else np.zeros((len(t_all), 0), bool)
    placed &= ok
    live = placed.sum(0) >= p.min_backtests + 2
    if not live.any():
        return out, sig
    w_all = np.where(placed, 1.0, p.generated_weight)
    t_last = np.where(ok, t_all[:, None], -np.inf).max(axis=0)
    horizon = np.maximum(target - t_last, 1.0)
    # each keypoint's newest placed samples, the backtests' yardsticks (-1: none)
    tests = np.full((k, p.backtests), -1)
    for j in np.flatnonzero(live):
        idx = np.flatnonzero(placed[:, j])[::-1][:p.backtests]
        tests[j, :len(idx)] = idx
    fits = [(deg, float(span)) for span in p.spans for deg in (1, 2)]
    rms = np.full((len(fits) + 1, k), np.nan)
    for n_fit, (deg, span) in enumerate(fits):
        rms[n_fit] = _poly_backtest_all(t_all, pos, w_all, ok, tests, deg, span, horizon, p)
    integral = p.repeat_span > 0 and bool(np.allclose(t_all, np.round(t_all)))
    fits.append((REPEAT, float(p.repeat_span - 1)))
    for j in np.flatnonzero(live):
        m = ok[:, j]
        t, x, ex, w = t_all[m], pos[m, j], placed[m, j], w_all[m, j]
        if integral:
            got_rms = _repeat_backtest(t, x, w, ex, fits[-1][1], float(horizon[j]), p)
            rms[-1, j] = np.nan if got_rms is None else got_rms
        col = np.where(np.isfinite(rms[:, j]), rms[:, j], np.inf)
        if not np.isfinite(col).any():
            continue
        best = int(np.argmin(col))  # the first of equals, as fits are listed
        deg, span = fits[best]
        use = t >= t[-1] - span + 1e-9
        got = _predict(t[use], x[use], w[use], deg, target, p)
        if got is None:
            continue
        out[j] = got
        sig[j] = float(np.hypot(p.floor, p.inflate * col[best]))
    return out, sig
