"""The model's word in propagation: heatmap peaks picked by a prior, re-running the model
around the propagated pose, and the model's offset learned from a person's drags."""

from __future__ import annotations

import numpy as np
import pytest

from pose_studio.core.annotation import Instance, InstanceKind, Provenance
from pose_studio.core.candidates import KeypointCandidates, local_peaks, pick
from pose_studio.core.fusion import (
    Estimate,
    FusionParams,
    candidate_estimate,
    learn_offsets,
    model_estimate,
)
from pose_studio.labeling.fill import fill_track
from pose_studio.labeling.flow import propagate
from pose_studio.labeling.model_step import pose_box
from tests.test_labeling_tools import textured_frame

PTS = np.array([[70, 50], [90, 60], [110, 80], [80, 100]], np.float64)
V = np.array([0.37, 0.21])


def truth(f: int) -> np.ndarray:
    return PTS + f * V


def pred(xy: np.ndarray, score: float = 0.9) -> Instance:
    return Instance(xy=xy, visibility=np.full(len(xy), 2), kind=InstanceKind.PREDICTED,
                    kp_scores=np.full(len(xy), score), score=score, bbox=(60, 40, 60, 70))


def cands(peaks: list[list[tuple[float, float, float]]]) -> KeypointCandidates:
    return KeypointCandidates.from_peaks(peaks, 3)


# --- core ----------------------------------------------------------------------------------------
def test_local_peaks_strongest_first_and_separated() -> None:
    yy, xx = np.mgrid[0:20, 0:16]
    m = np.exp(-((xx - 4) ** 2 + (yy - 5) ** 2) / 4.0) + \
        0.5 * np.exp(-((xx - 11.3) ** 2 + (yy - 14) ** 2) / 4.0)
    got = local_peaks(m)
    assert len(got) == 2
    assert got[0][:2] == pytest.approx((4.0, 5.0), abs=0.05)
    assert got[1][:2] == pytest.approx((11.3, 14.0), abs=0.15) and got[1][2] < got[0][2]
    assert local_peaks(m, subpixel=False)[1][:2] == (11.0, 14.0)
    assert local_peaks(m, min_rel=0.6) == got[:1]
    assert local_peaks(np.zeros((4, 4))) == []


def test_candidates_are_validated_and_padded() -> None:
    c = KeypointCandidates.from_peaks([[(1.0, 2.0, 0.9)], [], [(3.0, 4.0, 0.5), (5, 6, 0.2)]], 2)
    assert c.xy.shape == (3, 2, 2) and c.num_keypoints == 3
    assert np.isnan(c.xy[1]).all() and (c.value[1] == 0).all()
    assert c.translated(1.0, -1.0).xy[0, 0].tolist() == [2.0, 1.0]
    bad = KeypointCandidates(np.array([[[1.0, np.nan]]]), np.array([[0.7]]))
    assert bad.value[0, 0] == 0  # a peak without a position is no peak
    with pytest.raises(ValueError):
        KeypointCandidates(np.zeros((2, 3)), np.zeros(2))


def test_pick_lets_the_prior_choose_between_peaks() -> None:
    # keypoint 0: the model's strongest peak is 20 px off, a weaker one where the point is
    c = cands([[(90.0, 60.0, 0.9), (70.0, 50.0, 0.5)], [(90.0, 60.0, 0.9)]])
    sig = np.full((2, 3), 2.0)
    xy, v, s = pick(c, np.array([[70.5, 50.0], [90.0, 60.0]]), np.array([1.0, 1.0]), sig)
    assert xy[0].tolist() == [70.0, 50.0] and v[0] == 0.5 and s[0] == 2.0
    assert xy[1].tolist() == [90.0, 60.0]
    # no prior: the strongest peak, as the model's own prediction
    xy, _, _ = pick(c, np.zeros((2, 2)), np.full(2, np.inf), sig)
    assert xy[0].tolist() == [90.0, 60.0]
    # a prior so vague it cannot tell them apart: the strongest peak too
    xy, _, _ = pick(c, np.array([[70.5, 50.0], [90, 60]]), np.full(2, 500.0), sig)
    assert xy[0].tolist() == [90.0, 60.0]


def test_pick_resolves_a_left_right_confusion_with_the_partners_peaks() -> None:
    # both maps peak on the right ankle; the left one is only the right map's second peak
    c = cands([[(30.0, 100.0, 0.9)], [(30.0, 100.0, 0.95), (12.0, 101.0, 0.4)]])
    flip = np.array([1, 0])
    prior = np.array([[12.5, 100.5], [30.0, 100.0]])
    sig = np.full((2, 3), 2.0)
    xy, v, _ = pick(c, prior, np.array([1.5, 1.5]), sig, flip_perm=flip, partner_weight=0.5)
    assert xy[0].tolist() == [12.0, 101.0] and v[0] == pytest.approx(0.2)
    assert xy[1].tolist() == [30.0, 100.0]
    xy, _, _ = pick(c, prior, np.array([1.5, 1.5]), sig)  # without the partner's peaks
    assert xy[0].tolist() == [30.0, 100.0]


def test_candidate_estimate_keeps_the_prediction_where_there_are_no_peaks() -> None:
    fu = FusionParams()
    p = pred(np.array([[90.0, 60.0], [10.0, 10.0]]))
    c = cands([[(90.0, 60.0, 0.9), (70.0, 50.0, 0.6)], []])
    prior = Estimate(np.array([[70.0, 51.0], [0.0, 0.0]]), np.array([1.0, np.inf]),
                     Provenance.PROPAGATED)
    est = candidate_estimate(p, c, prior, fu)
    assert est.xy[0].tolist() == [70.0, 50.0]
    assert est.sigma[0] > model_estimate(p, fu).sigma[0]  # a weaker peak is less sure
    assert est.xy[1].tolist() == [10.0, 10.0] and est.sigma[1] == model_estimate(p, fu).sigma[1]
    assert est.source == Provenance.PREDICTED
    # candidates of another skeleton are ignored
    other = KeypointCandidates.from_peaks([[(1.0, 1.0, 0.9)]] * 3, 1)
    assert candidate_estimate(p, other, prior, fu).xy.tolist() == p.xy.tolist()


def test_learn_offsets_from_dragged_points_only() -> None:
    fu = FusionParams(offset_rate=0.5, offset_max=0.1)
    model = np.array([[10.0, 10.0], [20.0, 20.0], [30.0, 30.0]])
    placed = model + np.array([[2.0, 0.0], [0.0, -1.0], [30.0, 0.0]])
    dragged = np.array([True, False, True])
    off = learn_offsets(None, model, placed, dragged, scale=100.0, params=fu)
    assert off.tolist() == [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]  # point 2: a swap, not bias
    again = learn_offsets(off, model, placed, dragged, scale=100.0, params=fu)
    assert again[0].tolist() == [1.5, 0.0] and off[0].tolist() == [1.0, 0.0]
    nan_model = model.copy()
    nan_model[0] = np.nan
    assert learn_offsets(off, nan_model, placed, dragged, 100.0, fu)[0].tolist() == [1.0, 0.0]
    est = Estimate(model, np.ones(3), Provenance.PREDICTED)
    assert est.shifted(again).xy[0].tolist() == [11.5, 10.0]


def test_pose_box_needs_most_of_the_skeleton() -> None:
    xy = np.array([[0.0, 0.0], [10.0, 5.0], [4.0, 20.0], [np.nan, np.nan], [3.0, 3.0]])
    assert pose_box(xy, np.ones(5, bool)).tolist() == [0.0, 0.0, 10.0, 20.0]  # type: ignore[union-attr]
    assert pose_box(xy, np.array([1, 1, 0, 0, 0], bool)) is None
    assert pose_box(np.zeros((5, 2)), np.ones(5, bool)) is None  # no extent


# --- propagation and filling -----------------------------------------------------------------------
def test_propagation_picks_the_models_peak_that_the_flow_supports() -> None:
    start = Instance(xy=truth(0), visibility=np.full(4, 2))
    # the model puts keypoint 0 on keypoint 1 every frame; its map also peaks at the truth
    preds, peaks = {}, {}
    for f in range(1, 6):
        t = truth(f)
        wrong = t.copy()
        wrong[0] = t[1]
        preds[f] = [pred(wrong)]
        peaks[f] = [cands([[(*t[1], 0.9), (*(t[0] + 0.1), 0.6)], [(*t[1], 0.9)],
                           [(*t[2], 0.9)], [(*t[3], 0.9)]])]
    plain = propagate(textured_frame, [start], 0, 5, predictions=preds)
    got = propagate(textured_frame, [start], 0, 5, predictions=preds, candidates=peaks)
    assert np.allclose(plain.model[5][0, 0], truth(5)[1])  # the model's own (wrong) point
    assert np.allclose(got.model[5][0, 0], truth(5)[0] + 0.1)  # its peak the flow agrees with
    assert np.linalg.norm(got.frames[5][0].xy - truth(5), axis=1).max() < 0.5  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="candidate sets"):
        propagate(textured_frame, [start], 0, 2, predictions=preds,
                  candidates={1: peaks[1] * 2})


def test_propagation_reruns_the_model_around_the_carried_pose() -> None:
    start = Instance(xy=truth(0), visibility=np.full(4, 2), track_id=7)
    calls: list[tuple[int, np.ndarray]] = []

    def redetect(frame: int, boxes: np.ndarray) -> list[tuple[Instance, KeypointCandidates | None] | None]:
        calls.append((frame, boxes.copy()))
        return [(pred(truth(frame) + 0.2), None) for _ in boxes]

    res = propagate(textured_frame, [start], 0, 4, redetect=redetect)
    assert [f for f, _ in calls] == [1, 2, 3, 4]
    t4 = truth(4)
    box = np.array([*t4.min(0), *t4.max(0)])
    np.testing.assert_allclose(calls[-1][1][0], box, atol=1.0)  # the carried pose's own box
    np.testing.assert_allclose(res.model[4][0], t4 + 0.2)
    # a pose with too few points is no box: the stored predictions are used instead
    few = Instance(xy=truth(0), visibility=np.array([2, 0, 2, 0]))
    calls.clear()
    res = propagate(textured_frame, [few], 0, 2, redetect=redetect,
                    predictions={f: [pred(truth(f) + 0.3)] for f in (1, 2)})
    assert [f for f, _ in calls] == [2]  # frame 1 filled in the pose, frame 2 can crop it
    np.testing.assert_allclose(res.model[1][0][0], truth(1)[0] + 0.3)
    # no model at all: nothing recorded
    assert propagate(textured_frame, [start], 0, 2).model == {}


def test_propagation_adds_the_learned_offset_to_the_model() -> None:
    start = Instance(xy=truth(0), visibility=np.full(4, 2))

    def flat(i: int) -> np.ndarray:
        return np.full((160, 200), 128, np.uint8)  # nothing to follow: the model decides

    bias = np.array([3.0, -2.0])
    preds = {f: [pred(truth(f) + bias, 0.97)] for f in range(1, 4)}
    off = np.tile(-bias, (4, 1))
    res = propagate(flat, [start], 0, 3, predictions=preds, model_offsets=[off])
    np.testing.assert_allclose(res.model[3][0], truth(3) + bias)  # recorded before the offset
    assert np.linalg.norm(res.frames[3][0].xy - truth(3), axis=1).max() < 0.6  # type: ignore[union-attr]
    raw = propagate(flat, [start], 0, 3, predictions=preds)
    assert np.linalg.norm(raw.frames[3][0].xy - truth(3) - bias, axis=1).max() < 0.6  # type: ignore[union-attr]


def test_fill_uses_peaks_redetection_and_offsets() -> None:
    keys = {f: Instance(xy=truth(f), visibility=np.full(4, 2), track_id=3) for f in (0, 10)}
    seen: list[int] = []

    def redetect(frame: int, boxes: np.ndarray) -> list[tuple[Instance, KeypointCandidates | None] | None]:
        seen.append(frame)
        return [(pred(truth(frame) + 1.0), None) for _ in boxes]

    got = fill_track(textured_frame, keys, range(11), redetect=redetect,
                     model_offset=np.full((4, 2), -1.0))
    assert sorted(seen) == list(range(1, 10))
    for f, filled in got.items():
        assert filled.model is not None
        np.testing.assert_allclose(filled.model, truth(f) + 1.0)
        assert np.linalg.norm(filled.instance.xy - truth(f), axis=1).max() < 0.5
    assert fill_track(textured_frame, keys, [5])[5].model is None


def test_part_scales_read_the_keypoint_names() -> None:
    from pose_studio.core.fusion import PART_SCALES, part_scales

    table = dict(PART_SCALES)
    got = part_scales(["nose", "left_elbow", "Right Ankle", "leftWrist", "L_HIP", "eyes",
                       "forearm", "tail"], 8)
    assert got.shape == (4, 8)
    for j, part in enumerate(("nose", "elbow", "ankle", "wrist", "hip", "eye")):
        assert tuple(got[:, j]) == table[part], part
    np.testing.assert_array_equal(got[:, 6:], 1.0)  # forearm is no ear; tail is no part
    np.testing.assert_array_equal(part_scales(None, 3), 1.0)
    np.testing.assert_array_equal(part_scales(["left_elbow"], 2)[:, 1], 1.0)  # fewer names
