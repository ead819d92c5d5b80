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
