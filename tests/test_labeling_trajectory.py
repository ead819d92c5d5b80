"""Each point's trajectory through its labels (``core.motion``), and propagation looking for
the model's point on that path where the flow follows something else."""

from __future__ import annotations

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.candidates import KeypointCandidates
from pose_studio.core.motion import TrajectoryParams, trajectory_estimate
from pose_studio.labeling.flow import propagate
from tests.test_labeling_tools import textured_frame


def _samples(path: list[np.ndarray], times: list[float]) -> tuple[np.ndarray, np.ndarray]:
    return np.array(times, np.float64), np.stack(path)


def test_steady_motion_is_extrapolated_exactly_and_trusted() -> None:
    times = [0.0, -1, -2, -3, -4, -5, -6, -7]
    line = [np.array([[10 + 1.5 * t, 20 - 0.5 * t]]) for t in times]
    curve = [np.array([[3 * t + 0.4 * t * t, 7.0]]) for t in times]
    t, xy = _samples([np.concatenate([a, b]) for a, b in zip(line, curve)], times)
    got, sig = trajectory_estimate(t, xy, 2.0)
    np.testing.assert_allclose(got[0], [13.0, 19.0], atol=1e-9)  # a line, two frames on
    np.testing.assert_allclose(got[1], [6 + 1.6, 7.0], atol=1e-9)  # a parabola, not a line
    # the backtest found no error: only the floor is left
    np.testing.assert_allclose(sig, TrajectoryParams().floor, atol=1e-9)


def test_points_a_person_placed_carry_the_fit() -> None:
    """Accepted proposals are near the path, placed points on it: the fit leans on the
    placed ones and only they are the backtest's yardstick."""
    times = np.arange(0.0, -16, -1)
    path = np.stack([[[5 + 1.2 * t, 3 - 0.4 * t]] for t in times])
    off = path.copy()
    placed = np.zeros((len(times), 1), bool)
    placed[::3] = True  # a person placed every third frame, accepted the others
    off[~placed[:, 0]] += 2.0  # the accepted ones are 2.8 px off, the same way
    truth = path[0, 0] + 2 * (path[0, 0] - path[1, 0])
    got, sig = trajectory_estimate(times, off, 2.0, exact=placed)
    naive, _ = trajectory_estimate(times, off, 2.0)
    assert np.linalg.norm(got[0] - truth) < 0.5 < np.linalg.norm(naive[0] - truth)
    assert sig[0] < 1.0
    # too few placed points to backtest: no estimate, however many accepted ones
    few = np.zeros_like(placed)
    few[:3] = True
    assert not np.isfinite(trajectory_estimate(times, off, 2.0, exact=few)[1]).any()
    # backward (samples after the frame asked for): the same path, the other way
    later = np.arange(3.0, 19.0)
    line = np.stack([[[5 + 1.2 * t, 3 - 0.4 * t]] for t in later])
    back, _ = trajectory_estimate(later, line, 1.0)
    np.testing.assert_allclose(back[0], [5 + 1.2, 3 - 0.4], atol=1e-9)


def test_jerky_motion_is_not_trusted_and_too_few_samples_give_nothing() -> None:
    rng = np.random.default_rng(3)
    times = [0.0, -1, -2, -3, -4, -5, -6]
    steady = [np.array([[2.0 * t, 0.0]]) for t in times]
    jerky = [np.array([[2.0 * t, 0.0]]) + rng.normal(0, 3, (1, 2)) for t in times]
    t, xy = _samples([np.concatenate([a, b]) for a, b in zip(steady, jerky)], times)
    _, sig = trajectory_estimate(t, xy, 1.0)
    assert sig[0] < 0.3 and sig[1] > 3.0  # what the backtest earned
    # a point labeled on two frames only (NaN elsewhere) has no trajectory
    xy2 = xy.copy()
    xy2[2:, 1] = np.nan
    got, sig2 = trajectory_estimate(t, xy2, 1.0)
    assert np.isfinite(sig2[0]) and not np.isfinite(sig2[1]) and np.isnan(got[1]).all()
    assert not np.isfinite(trajectory_estimate(t[:2], xy[:2], 1.0)[1]).any()


def _swing(t: np.ndarray, period: float = 15.3) -> np.ndarray:
    """A walk with an arm swinging across it: a drift plus two harmonics, a period that is
    not a whole number of frames."""
    a = 2 * np.pi * t / period
    return np.stack([40 + 0.8 * t + 12 * np.sin(a) + 4 * np.sin(2 * a + 0.5),
                     60 + 9 * np.cos(a) - 0.2 * t], -1)


def test_a_repeating_swing_is_predicted_from_the_swings_before() -> None:
    times = -np.arange(64.0)
    rng = np.random.default_rng(1)
    for ahead in (1.0, 3.0):
        xy = (_swing(times) + rng.normal(0, 0.3, (64, 2)))[:, None]  # placed to 0.3 px
        truth = _swing(np.array([ahead]))[0]
        got, sig = trajectory_estimate(times, xy, ahead)
        poly, poly_sig = trajectory_estimate(times, xy, ahead, TrajectoryParams(repeat_span=0))
        err, poly_err = np.linalg.norm(got[0] - truth), np.linalg.norm(poly[0] - truth)
        assert err < 0.35 * poly_err and err < 2.2 * ahead  # 1.8 / 4.6 px against 6.3 / 16
        assert sig[0] < 0.5 * poly_sig[0]  # and its backtest says so
    # a gap in the labels (frames nobody labeled) leaves the stretches around it usable
    holed = _swing(times)[:, None].copy()
    holed[20:26] = np.nan
    got, sig = trajectory_estimate(times, holed, 1.0)
    assert np.linalg.norm(got[0] - _swing(np.array([1.0]))[0]) < 2.0 and sig[0] < 5.0


def test_the_repeat_fit_earns_no_trust_where_motion_does_not_repeat() -> None:
    times = -np.arange(64.0)
    for seed in range(5):  # a random walk: nothing in its past is like what comes next
        walk = np.cumsum(np.random.default_rng(seed).normal(0, 1.5, (65, 2)), 0)[::-1]
        got, sig = trajectory_estimate(times, walk[1:, None], 1.0)
        assert sig[0] > max(2.0, float(np.linalg.norm(got[0] - walk[0])))
    # samples that are not one per frame: no repeat fit (the polynomials alone)
    half = -np.arange(64.0) / 2
    xy = _swing(half)[:, None]
    np.testing.assert_array_equal(trajectory_estimate(half, xy, 0.5)[0],
                                  trajectory_estimate(half, xy, 0.5,
                                                      TrajectoryParams(repeat_span=0))[0])


def test_propagation_looks_for_a_hidden_point_on_its_path() -> None:
    """Keypoint 0 is behind the textured square (which moves by V): the flow follows the
    square, while the point moves on by U, as its labels on the frames before show. The model
    has two peaks for it: a strong one on the square and a weaker one on the point's path;
    with the labels behind the start, the trajectory picks the one on the path."""
    v = np.array([0.37, 0.21])
    u = np.array([4.0, -3.0])
    base = np.array([[70, 50], [90, 60], [110, 80], [80, 100]], np.float64)

    def true_xy(f: int) -> np.ndarray:
        xy = base + f * v
        xy[0] = base[0] + f * u
        return xy

    def inst(f: int) -> Instance:
        return Instance(xy=true_xy(f), visibility=np.full(4, 2), track_id=1)

    preds, peaks = {}, {}
    for f in range(1, 4):
        t = true_xy(f)
        on_square = base[0] + f * v
        preds[f] = [Instance(xy=t, visibility=np.full(4, 2), kind=InstanceKind.PREDICTED,
                             kp_scores=np.full(4, 0.9), score=0.9, bbox=(60, 40, 30, 35),
                             track_id=1)]
        peaks[f] = [KeypointCandidates.from_peaks(
            [[(*on_square, 0.9), (*t[0], 0.6)], [(*t[1], 0.9)], [(*t[2], 0.9)],
             [(*t[3], 0.9)]], 2)]
    history = [[inst(-b) for b in range(1, 7)]]
    kw = {"predictions": preds, "candidates": peaks}
    blind = propagate(textured_frame, [inst(0)], 0, 3, **kw)  # type: ignore[arg-type]
    seen = propagate(textured_frame, [inst(0)], 0, 3, history=history, **kw)  # type: ignore[arg-type]
    off = propagate(textured_frame, [inst(0)], 0, 3, history=history, trajectory=None,
                    **kw)  # type: ignore[arg-type]
    for f in range(1, 4):
        np.testing.assert_allclose(blind.model[f][0, 0], base[0] + f * v)  # the square's peak
        np.testing.assert_allclose(seen.model[f][0, 0], true_xy(f)[0])  # the path's peak
    def err(res: object) -> float:
        return float(np.linalg.norm(res.frames[3][0].xy[0] - true_xy(3)[0]))  # type: ignore[attr-defined]

    assert err(seen) < err(blind) - 1.0  # the proposal follows the model's point on the path
    assert np.linalg.norm(off.model[1][0, 0] - true_xy(1)[0]) > 1.0  # velocity alone: no


def test_corpus_dance_the_repeat_fit_follows_real_motion_better() -> None:
    """A real dancer (SLEAP's test video, 450 frames of its model's predictions, one person):
    each point one frame ahead from the 64 frames before, with and without the repeat fit.
    Measured on every fifth frame: median 5.8 -> 4.4 px, 90th percentile 23.8 -> 19.3 px."""
    from pose_studio.core.annotation import InstanceKind as Kind
    from pose_studio.formats.registry import ReadOptions, get_format
    from tests.support.realworld import realworld

    p = realworld("data/sleap/slp_hdf5/dance.mp4.labels.slp")
    fmt = get_format("slp")
    assert fmt.read is not None
    ds = fmt.read(p, ReadOptions(images_dir=p.parent.parent / "videos"))
    pts: dict[int, np.ndarray] = {}
    for fr in ds.frames:
        pred = [a for a in fr.annotations if a.kind is Kind.PREDICTED]
        if len(pred) == 1:
            pts[fr.index] = np.where(pred[0].points[:, 2:3] > 0, pred[0].points[:, :2], np.nan)
    xy = np.stack([pts.get(f, np.full((17, 2), np.nan)) for f in range(max(pts) + 1)])
    times = -np.arange(64.0)
    with_repeat, without = [], []
    for f in range(64, len(xy), 5):  # every fifth frame: the same picture, in seconds
        behind = xy[f - 64:f][::-1]
        got, _ = trajectory_estimate(times, behind, 1.0)
        poly, _ = trajectory_estimate(times, behind, 1.0, TrajectoryParams(repeat_span=0))
        ok = np.isfinite(xy[f]).all(1) & np.isfinite(got).all(1) & np.isfinite(poly).all(1)
        with_repeat += list(np.linalg.norm(got[ok] - xy[f][ok], axis=1))
        without += list(np.linalg.norm(poly[ok] - xy[f][ok], axis=1))
    assert len(with_repeat) > 1000
    assert np.median(with_repeat) < 0.85 * np.median(without)
    assert np.percentile(with_repeat, 90) < np.percentile(without, 90)


def test_batched_backtests_equal_the_fit_by_fit_reference() -> None:
    """The polynomial backtests of every keypoint are one batched solve; on random tracks
    (gaps, accepted and placed samples) they equal the fit-by-fit reference."""
    from pose_studio.core import motion

    rng = np.random.default_rng(5)
    p = TrajectoryParams()
    compared = 0
    for _ in range(40):
        n, k = int(rng.integers(6, 70)), int(rng.integers(1, 5))
        t = -np.sort(rng.choice(90, n, replace=False))[::-1].astype(float)
        pos = rng.normal(0, 3, (n, k, 2)).cumsum(0)
        ok = rng.random((n, k)) > 0.1
        pos[~ok] = np.nan
        w = np.where(rng.random((n, k)) < 0.5, 1.0, p.generated_weight)
        placed = ok & (rng.random((n, k)) < 0.6)
        tests = np.full((k, p.backtests), -1)
        for j in range(k):
            idx = np.flatnonzero(placed[:, j])[::-1][:p.backtests]
            tests[j, :len(idx)] = idx
        horizon = rng.integers(1, 4, k).astype(float)
        for deg in (1, 2):
            for span in (6.0, 24.0):
                got = motion._poly_backtest_all(t, pos, w, ok, tests, deg, span, horizon, p)
                for j in range(k):
                    want = motion._poly_backtest_one(t, pos, w, ok, tests, deg, span, horizon,
                                                     p, j)
                    assert np.isnan(got[j]) == np.isnan(want)
                    if not np.isnan(want):
                        assert abs(got[j] - want) < 1e-9 * max(1.0, want)
                        compared += 1
    assert compared > 100
