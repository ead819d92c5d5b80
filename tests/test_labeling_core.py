"""The numpy half of the labeling tools: interpolation, fusion, swaps, proposals, smoothing,
suggestions, identity-switch detection."""

from __future__ import annotations

import numpy as np
import pytest

from pose_studio.core.annotation import Instance, InstanceKind, Provenance
from pose_studio.core.fusion import (
    Estimate,
    FusionParams,
    fill_instance,
    fuse,
    model_estimate,
)
from pose_studio.core.interpolate import (
    InterpolationError,
    interpolate_track,
    interpolation_proposal,
)
from pose_studio.core.proposals import (
    accept_predictions,
    copy_previous_frame,
    delete_predictions,
    delete_track_span,
    paste_pose,
    place_generated,
)
from pose_studio.core.skeleton import COCO17
from pose_studio.core.smoothing import SmoothingError, one_euro, savgol, smooth_track
from pose_studio.core.suggest import diverse, kmeans, low_confidence, rank, temporal_jumps, uniform
from pose_studio.core.swaps import crossed_limbs, detect_swaps, swap_keypoint, swap_sides
from pose_studio.core.tracking import (
    KalmanCV,
    count_id_switches,
    identity_switch_candidates,
    iou_matrix,
    iou_tracker,
)

K = 17


def pose(x0: float = 100.0, y0: float = 50.0, **kw: object) -> Instance:
    """A standing COCO-17 figure (left side at larger x, as when facing the camera)."""
    rows = [(0, 0), (3, -3), (-3, -3), (6, -1), (-6, -1), (15, 20), (-15, 20), (18, 45),
            (-18, 45), (20, 70), (-20, 70), (10, 75), (-10, 75), (11, 110), (-11, 110),
            (12, 145), (-12, 145)]
    xy = np.array(rows, dtype=np.float64) + np.array([x0, y0])
    return Instance(xy=xy, visibility=np.full(K, 2), **kw)  # type: ignore[arg-type]


# --- interpolation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["linear", "cubic"])
def test_interpolation_reproduces_linear_motion_exactly(method: str) -> None:
    v = np.random.default_rng(0).normal(0, 3, (K, 2))
    base = pose()
    keys = {f: base.replace(xy=base.xy + f * v) for f in (0, 7, 20, 31)}
    got = interpolate_track(keys, range(0, 32), method)  # type: ignore[arg-type]
    assert sorted(got) == [f for f in range(1, 31) if f not in keys]
    for f, inst in got.items():
        np.testing.assert_allclose(inst.xy, base.xy + f * v, atol=1e-9)
        assert (inst.provenance == Provenance.INTERPOLATED).all()
        assert inst.kind is InstanceKind.USER


def test_cubic_follows_a_curve_linear_does_not() -> None:
    base = pose()
    keys = {f: base.replace(xy=base.xy + np.array([0.0, 0.2 * f * f])) for f in (0, 10, 20, 30)}
    lin = interpolate_track(keys, [15], "linear")[15]
    cub = interpolate_track(keys, [15], "cubic")[15]
    truth = base.xy[0, 1] + 0.2 * 225
    assert abs(cub.xy[0, 1] - truth) < abs(lin.xy[0, 1] - truth)


def test_point_missing_at_either_end_is_not_invented() -> None:
    a, b = pose(), pose(120)
    vis_b = b.visibility.copy()
    vis_b[9] = 0  # left wrist unlabeled at the second keyframe
    vis_a = a.visibility.copy()
    vis_a[3] = 1  # left ear hidden at the first
    got = interpolate_track({0: a.replace(visibility=vis_a), 4: b.replace(visibility=vis_b)},
                            [2])[2]
    assert got.visibility[9] == 0
    assert got.visibility[3] == 1  # hidden at one end: interpolated, marked hidden
    assert got.visibility[0] == 2


def test_interpolation_proposal_keeps_labels_and_replaces_its_own_output() -> None:
    a, b = pose(track_id=1, id=1), pose(140, track_id=1, id=2)
    old = pose(track_id=1, id=3).replace(
        provenance=np.full(K, int(Provenance.INTERPOLATED)))
    items = [(0, a), (10, b), (5, old)]
    prop = interpolation_proposal(items, (0, 11), "linear")
    assert len(prop.add) == 8 and len(prop.replace) == 1
    assert prop.replace[0].id == 3
    np.testing.assert_allclose(prop.replace[0].xy, (a.xy + b.xy) / 2)
    two = [(0, pose(id=1)), (0, pose(50, id=2)), (4, pose(id=3))]
    with pytest.raises(InterpolationError, match="two untracked"):
        interpolation_proposal(two, (0, 5))


# --- fusion ----------------------------------------------------------------------------------------
def test_fusion_weights_by_confidence_and_leaves_out_a_disagreeing_point() -> None:
    p = FusionParams()
    truth = pose()
    flow = Estimate(truth.xy + 0.3, np.full(K, 0.6), Provenance.PROPAGATED)
    conf = np.full(K, 0.97, np.float32)
    conf[5] = 0.2  # unsure model point
    model_xy = truth.xy.copy()
    model_xy[5] += 8.0  # ... and wrong: barely moves the fused point
    model_xy[15], model_xy[16] = truth.xy[16], truth.xy[15]  # a confident left/right swap
    pred = Instance(xy=model_xy, visibility=np.full(K, 2), kind=InstanceKind.PREDICTED,
                    kp_scores=conf, bbox=(80.0, 40.0, 40.0, 160.0))
    model = model_estimate(pred, p)
    xy, _, w = fuse([flow, model], p)
    assert np.linalg.norm(xy[5] - flow.xy[5]) < 1.0  # unsure model point outweighed
    assert w[1, 15] == 0 and w[1, 16] == 0  # the swapped model points are left out
    np.testing.assert_allclose(xy[15], flow.xy[15])
    # where the flow lost the point, a confident model point takes over
    lost = Estimate(flow.xy, np.where(np.arange(K) == 0, np.inf, 0.6), Provenance.PROPAGATED)
    xy2, _, _ = fuse([lost, model], p)
    np.testing.assert_allclose(xy2[0], truth.xy[0])
    inst = fill_instance([lost, model], p, track_id=4)
    assert inst is not None and inst.track_id == 4
    assert inst.provenance[0] == Provenance.PREDICTED
    assert inst.provenance[1] == Provenance.PROPAGATED
    # two agreeing estimates: inverse-variance average, smaller sigma than either
    a = Estimate(np.zeros((1, 2)), np.array([1.0]), Provenance.PROPAGATED)
    b = Estimate(np.ones((1, 2)), np.array([2.0]), Provenance.PREDICTED)
    xy3, s3, _ = fuse([a, b], p)
    np.testing.assert_allclose(xy3[0], [0.2, 0.2])
    assert s3[0] < 1.0


# --- swaps -----------------------------------------------------------------------------------------
def test_swap_keypoint_and_sides() -> None:
    inst = pose(kind=InstanceKind.PREDICTED, kp_scores=np.linspace(0, 1, K))
    one = swap_keypoint(inst, 15, COCO17)
    np.testing.assert_array_equal(one.xy[15], inst.xy[16])
    np.testing.assert_array_equal(one.xy[16], inst.xy[15])
    assert one.kp_scores[15] == inst.kp_scores[16]  # type: ignore[index]
    assert one.provenance[15] == Provenance.USER and one.provenance[0] == Provenance.PREDICTED
    both = swap_sides(swap_sides(inst, COCO17), COCO17)
    np.testing.assert_array_equal(both.xy, inst.xy)
    with pytest.raises(Exception, match="no left/right partner"):
        swap_keypoint(inst, 0, COCO17)


def test_swap_detection_crossed_limbs_and_a_side_that_jumps() -> None:
    good = pose()
    crossed = swap_keypoint(swap_keypoint(good, 13, COCO17), 15, COCO17)
    pairs = [p for p, _ in crossed_limbs(crossed, COCO17)]
    assert (13, 14) in pairs and (15, 16) in pairs
    assert crossed_limbs(good, COCO17) == []
    track = [(f, good.translated(f, 0)) for f in range(5)]
    track[3] = (3, swap_keypoint(track[3][1], 15, COCO17))
    found = detect_swaps(track, COCO17)
    assert any(c.frame == 3 and c.pair == (15, 16) and c.reason == "side jumps" for c in found)


# --- proposals -------------------------------------------------------------------------------------
def test_bulk_operations_return_what_to_change() -> None:
    preds = [(f, pose(kind=InstanceKind.PREDICTED, score=s, id=10 + f, track_id=f % 2))
             for f, s in enumerate([0.9, 0.2, 0.7, 0.95])]
    user = [(0, pose(source_id=10, id=50, track_id=0))]
    items = preds + user
    acc = accept_predictions(items, min_score=0.5, frames=(0, 4))
    assert [f for f, _ in acc.add] == [2, 3]  # frame 0 already accepted, frame 1 too low
    assert all(i.source_id is not None and not i.is_prediction for _, i in acc.add)
    low = delete_predictions(items, below=0.5)
    assert [i.id for i in low.delete] == [11]
    span = delete_predictions(items, frames=(1, 3))
    assert [i.id for i in span.delete] == [11, 12]
    tr = delete_track_span(items, 0, (0, 3))
    assert sorted(i.id for i in tr.delete) == [10, 12, 50]  # type: ignore[type-var]
    pasted = paste_pose(pose(200), user[0][1], 0)
    assert pasted.replace[0].id == 50 and pasted.replace[0].xy[0, 0] == 200
    new = paste_pose(pose(200), None, 7)
    assert new.add[0][0] == 7 and new.add[0][1].id is None
    prev = [pose(track_id=1, id=1), pose(track_id=2, id=2)]
    cur = [pose(track_id=1, id=3)]
    cp = copy_previous_frame(prev, cur, 8)
    assert [i.track_id for _, i in cp.add] == [2] and cp.add[0][0] == 8


def test_generated_instances_never_overwrite_a_label() -> None:
    label = pose(track_id=1, id=5)
    gen = [(3, pose(130, track_id=1)), (4, pose(131, track_id=1))]
    prop = place_generated(gen, [(3, label)])
    assert [f for f, _ in prop.add] == [4] and not prop.replace


# --- smoothing -------------------------------------------------------------------------------------
def test_smoothing_makes_new_predictions_and_reduces_jitter() -> None:
    rng = np.random.default_rng(1)
    # Savitzky-Golay on a moving person; One-Euro (which lags on steady motion by design) on
    # a person standing still
    for method, speed in (("savgol", 2.0), ("one-euro", 0.0)):
        truth = [pose(100 + speed * f) for f in range(40)]
        noisy = [(f, t.replace(xy=t.xy + rng.normal(0, 1.5, (K, 2)), id=f + 1, model_run_id=3,
                               kind=InstanceKind.PREDICTED, score=0.9))
                 for f, t in enumerate(truth)]
        out = smooth_track(noisy, method, window=9, min_cutoff=0.5, beta=0.01)  # type: ignore[arg-type]
        err_in = np.mean([np.abs(i.xy - t.xy).mean() for (_, i), t in zip(noisy, truth)])
        err_out = np.mean([np.abs(i.xy - t.xy).mean() for (_, i), t in zip(out, truth)][5:-5])
        assert err_out < 0.7 * err_in, method
        assert all(i.id is None and i.model_run_id is None and i.is_prediction for _, i in out)
    # Savitzky-Golay keeps a quadratic exactly
    t = np.arange(20, dtype=np.float64)[:, None]
    np.testing.assert_allclose(savgol(0.5 * t**2 - t, 7, 2), 0.5 * t**2 - t, atol=1e-9)
    assert np.allclose(one_euro(np.ones((10, 2))), 1.0)
    with pytest.raises(SmoothingError):
        savgol(t, 4, 2)


# --- tracking bits and suggestions -----------------------------------------------------------------
def test_iou_matrix_kalman_and_switch_counting() -> None:
    m = iou_matrix(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 10, 10], [20, 20, 5, 5]]))
    np.testing.assert_allclose(m, [[50 / 150, 0.0]])
    kf = KalmanCV.start(np.array([0.0, 10.0]), q=0.5, r=0.5)
    for i in range(1, 15):
        kf.predict()
        kf.update(np.array([2.0 * i, 10.0 - i]))
    np.testing.assert_allclose(kf.predicted(), [30.0, -5.0], atol=0.5)
    assert count_id_switches({0: [0, 1], 1: [0, 1], 2: [0, 1]},
                             {0: [5, 6], 1: [6, 5], 2: [6, 5]}) == 2


def test_iou_tracker_and_identity_switch_candidates() -> None:
    frames = {f: [pose(50 + 3 * f), pose(300 - 3 * f)] for f in range(10)}
    ids = iou_tracker(frames)
    assert ids[0] == [0, 1] and ids[9] == [0, 1]
    items = [(f, i.replace(track_id=t)) for f in frames for i, t in zip(frames[f], ids[f])]
    assert identity_switch_candidates(items, COCO17.sigmas) == []
    jumped = [(f, i.replace(xy=i.xy + np.array([0, 120])) if f == 6 and i.track_id == 0 else i)
              for f, i in items]
    found = identity_switch_candidates(jumped, COCO17.sigmas)
    assert any(c.frame == 6 and c.tracks == (0,) and c.reason == "jump" for c in found)


def test_suggestions_rank_by_score_one_entry_per_frame() -> None:
    preds = [(f, pose(kind=InstanceKind.PREDICTED, kp_scores=np.full(K, s), track_id=1))
             for f, s in enumerate([0.9, 0.3, 0.8, 0.95])]
    low = low_confidence(1, preds, 2)
    assert [s.frame for s in low] == [1, 2]
    spike = temporal_jumps(1, [(f, pose(100 + 3 * f + (60 if f == 5 else 0), track_id=1))
                               for f in range(10)])
    assert rank(spike)[0].frame == 5 and {s.frame for s in spike} <= {5, 6}
    step = temporal_jumps(1, [(f, pose(100 + (60 if f >= 5 else 0), track_id=1))
                              for f in range(10)])
    assert [s.frame for s in step] == [5]
    assert temporal_jumps(1, [(f, pose(100 + 9 * f, track_id=1)) for f in range(10)]) == []
    assert [s.frame for s in uniform(1, 101, 5)] == [0, 25, 50, 75, 100]
    merged = rank(low + uniform(1, 4, 4))
    assert len({s.frame for s in merged}) == len(merged)
    assert merged[0].frame == 1 and "uniform" in merged[0].reason
    feats = np.concatenate([np.zeros((30, 4)), np.ones((10, 4)) * 5, np.full((5, 4), -5.0)])
    _, labels = kmeans(feats, 3, seed=0)
    assert len(set(labels[:30])) == 1 and len(set(labels[30:40])) == 1
    picks = diverse(1, list(range(45)), feats, 3)
    assert {p.frame // 100 for p in picks} == {0} and len({labels[p.frame] for p in picks}) == 3
