"""The OpenCV/SciPy half of the labeling tools: tracker, optical-flow propagation, filling."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pose_studio.core.annotation import Instance, InstanceKind, Provenance
from pose_studio.core.skeleton import COCO17
from pose_studio.core.tracking import count_id_switches, iou_tracker
from pose_studio.labeling.fill import fill_track
from pose_studio.labeling.flow import propagate
from pose_studio.labeling.tracker import TrackerParams, track_frames

K = 17
RNG_TEX = np.random.default_rng(0)
TEXTURE = cv2.GaussianBlur((RNG_TEX.random((90, 90)) * 255).astype(np.float32), (0, 0), 1.5)


def textured_frame(i: int, v: tuple[float, float] = (0.37, 0.21), size: tuple[int, int] = (200, 160)
                   ) -> np.ndarray:
    """A textured square on a flat background, moved by ``i * v`` pixels (sub-pixel)."""
    img = np.full((size[1], size[0]), 128, np.float32)
    m = np.float32([[1, 0, 50 + v[0] * i], [0, 1, 35 + v[1] * i]])
    cv2.warpAffine(TEXTURE, m, size, dst=img, flags=cv2.INTER_CUBIC,
                   borderMode=cv2.BORDER_TRANSPARENT)
    return np.clip(img, 0, 255).astype(np.uint8)


def figure(x: float, y: float, s: float = 1.0) -> np.ndarray:
    rows = [(0, 0), (3, -3), (-3, -3), (6, -1), (-6, -1), (15, 20), (-15, 20), (18, 45),
            (-18, 45), (20, 70), (-20, 70), (10, 75), (-10, 75), (11, 110), (-11, 110),
            (12, 145), (-12, 145)]
    return np.array(rows, np.float64) * s + (x, y)


def det(xy: np.ndarray, score: float = 0.9) -> Instance:
    x0, y0 = xy.min(0)
    x1, y1 = xy.max(0)
    return Instance(xy=xy, visibility=np.full(K, 2), kind=InstanceKind.PREDICTED,
                    kp_scores=np.full(K, score), score=score,
                    bbox=(x0 - 5, y0 - 5, x1 - x0 + 10, y1 - y0 + 10))


def crossing(apart: bool, n: int = 60, seed: int = 0) -> tuple[dict[int, list[Instance]],
                                                              dict[int, list[int]]]:
    """Two people walking towards each other and past; detections shuffled every frame, with
    keypoint noise. ``apart``: on rows more than a body apart; else on one row, the farther
    one hidden (no detection) for 4 frames while they overlap."""
    rng = np.random.default_rng(seed)
    frames: dict[int, list[Instance]] = {}
    truth: dict[int, list[int]] = {}
    for f in range(n):
        people = [(0, figure(40 + 5 * f, 40)), (1, figure(340 - 5 * f, 40 + (250 if apart else 8)))]
        dets = []
        for pid, xy in people:
            if not apart and pid == 1 and abs((40 + 5 * f) - (340 - 5 * f)) < 25:
                continue  # hidden behind person 0
            dets.append((pid, det(xy + rng.normal(0, 1.5, xy.shape))))
        order = rng.permutation(len(dets))
        frames[f] = [dets[i][1] for i in order]
        truth[f] = [dets[i][0] for i in order]
    return frames, truth


# --- tracker ---------------------------------------------------------------------------------------
def test_tracker_keeps_identities_apart_and_through_a_crossing() -> None:
    frames, truth = crossing(apart=True)
    ours = track_frames(frames, COCO17.sigmas)
    assert count_id_switches(truth, ours) == 0
    assert len({t for v in ours.values() for t in v}) == 2
    frames, truth = crossing(apart=False)
    ours = track_frames(frames, COCO17.sigmas)
    base = iou_tracker(frames)
    # re-identified after the short occlusion, with its old id
    assert count_id_switches(truth, ours) == 0
    assert len({t for v in ours.values() for t in v}) == 2
    assert count_id_switches(truth, base) > 0  # the IoU tracker gives them a new identity


def test_tracker_births_deaths_and_min_score() -> None:
    frames = {f: [det(figure(50 + f, 40))] for f in range(10)}
    frames.update({f: [det(figure(300, 40), 0.1)] for f in range(40, 45)})
    got = track_frames(frames, COCO17.sigmas, TrackerParams(max_age=5, min_score=0.5))
    assert {got[f][0] for f in range(10)} == {0}
    assert all(got[f] == [-1] for f in range(40, 45))  # under min_score: starts no track
    got = track_frames(frames, COCO17.sigmas, TrackerParams(max_age=5))
    assert got[40] == [1]  # the first track died after 5 unseen frames; a new one is born
    calls: list[int] = []
    part = track_frames(frames, COCO17.sigmas, progress=lambda d, t: calls.append(d),
                        cancel=lambda: len(calls) >= 3)
    assert len(part) == 3


# --- optical flow ----------------------------------------------------------------------------------
def test_propagation_follows_subpixel_motion_of_a_textured_object() -> None:
    pts = np.array([[70, 50], [90, 60], [110, 80], [80, 100], [120, 110]], np.float64)
    start = Instance(xy=pts, visibility=np.full(5, 2))
    progress: list[tuple[int, int]] = []
    res = propagate(textured_frame, [start], 0, 30, progress=lambda d, t: progress.append((d, t)))
    errs = [np.linalg.norm(res.frames[f][0].xy - (pts + np.multiply(f, (0.37, 0.21))), axis=1)  # type: ignore[union-attr]
            for f in range(1, 31)]
    assert float(np.median(errs)) < 0.5
    assert progress[-1] == (30, 30) and not res.stops
    assert (res.frames[30][0].provenance == Provenance.PROPAGATED).all()  # type: ignore[union-attr]
    # backward: from frame 30 to 0
    back = propagate(textured_frame, [res.frames[30][0]], 30, 0)  # type: ignore[list-item]
    assert float(np.median(np.linalg.norm(back.frames[0][0].xy - pts, axis=1))) < 0.5  # type: ignore[union-attr]


def test_propagation_stops_with_an_object_that_stops() -> None:
    def frame(i: int) -> np.ndarray:
        return textured_frame(min(i, 10), v=(1.5, 0.0))

    pts = np.array([[70, 50], [90, 60], [110, 80]], np.float64)
    start = Instance(xy=pts, visibility=np.full(3, 2))
    for preds in (None, {}):  # flow only, and filling with no prediction at hand
        res = propagate(frame, [start], 0, 20, predictions=preds)
        err = np.linalg.norm(res.frames[20][0].xy - (pts + np.array([15.0, 0.0])), axis=1)  # type: ignore[union-attr]
        assert err.max() < 0.1


def test_unreliable_points_stop_and_say_where_and_why() -> None:
    def frame(i: int) -> np.ndarray:
        img = textured_frame(i)
        if i >= 5:
            img[:, 130:] = 128  # the texture under the last point is wiped out
        return img

    pts = np.array([[70, 50], [90, 60], [135, 110]], np.float64)
    res = propagate(frame, [Instance(xy=pts, visibility=np.full(3, 2))], 0, 10)
    assert [(s.keypoint, s.frame) for s in res.stops] == [(2, 5)]
    assert res.stops[0].reason
    assert res.frames[10][0].visibility.tolist() == [2, 2, 0]  # type: ignore[union-attr]
    cancelled = propagate(frame, [Instance(xy=pts, visibility=np.full(3, 2))], 0, 10,
                          cancel=lambda: True)
    assert cancelled.cancelled and not cancelled.frames


def test_fill_trusts_a_confident_model_and_outvotes_a_doubtful_one() -> None:
    pts = np.array([[70, 50], [90, 60], [110, 80], [80, 100]], np.float64)
    truth = {f: pts + np.multiply(f, (0.37, 0.21)) for f in range(11)}
    start = Instance(xy=truth[0], visibility=np.full(4, 2))
    # flat frames: the flow loses everything, so only the model can carry the points
    flat = propagate(lambda i: np.full((160, 200), 128, np.uint8), [start], 0, 5,
                     predictions={f: [det4(truth[f], 0.97)] for f in range(1, 6)})
    got = flat.frames[5][0]
    assert got is not None and np.allclose(got.xy, truth[5], atol=0.6)
    assert (flat.frames[1][0].provenance == Provenance.PREDICTED).all()  # type: ignore[union-attr]
    assert {s.frame for s in flat.stops} == {1}  # the flow gave up on the first flat frame
    # textured frames, a model point 6 px off with low confidence: the flow's point stays
    wrong = {f: [det4(truth[f] + (6.0, 0.0), 0.3)] for f in range(1, 11)}
    res = propagate(textured_frame, [start], 0, 10, predictions=wrong)
    assert np.linalg.norm(res.frames[10][0].xy - truth[10], axis=1).max() < 1.0  # type: ignore[union-attr]


def det4(xy: np.ndarray, score: float) -> Instance:
    return Instance(xy=xy, visibility=np.full(len(xy), 2), kind=InstanceKind.PREDICTED,
                    kp_scores=np.full(len(xy), score), score=score, bbox=(60, 40, 60, 70))


@pytest.mark.parametrize("with_model", [False, True])
def test_fill_between_keyframes(with_model: bool) -> None:
    pts = np.array([[70, 50], [90, 60], [110, 80], [80, 100]], np.float64)
    truth = {f: pts + np.multiply(f, (0.37, 0.21)) for f in range(21)}
    keys = {f: Instance(xy=truth[f], visibility=np.full(4, 2), track_id=3) for f in (0, 20)}
    preds = {f: [det4(truth[f] + 0.2, 0.95)] for f in range(21)} if with_model else None
    got = fill_track(textured_frame, keys, range(21), predictions=preds)
    assert sorted(got) == list(range(1, 20))
    for f, filled in got.items():
        assert filled.instance.track_id == 3
        assert np.linalg.norm(filled.instance.xy - truth[f], axis=1).max() < 0.5
        assert np.isfinite(filled.sigma).all()


def test_keypoint_names_set_how_far_each_source_is_trusted() -> None:
    """The same flow and model on two keypoints: one named an elbow (the flow on a thin fast
    limb is worth less: ``core.fusion.PART_SCALES``) leans further to the model than one whose
    name says nothing; without names, or with the scaling off, both are fused alike."""
    from pose_studio.core.fusion import FusionParams

    pts = np.array([[70, 50], [90, 60], [110, 80], [80, 100]], np.float64)
    truth = {f: pts + np.multiply(f, (0.37, 0.21)) for f in range(3)}
    start = Instance(xy=truth[0], visibility=np.full(4, 2))
    model = {f: [det4(truth[f] + (1.5, 0.0), 0.8)] for f in range(1, 3)}  # 1.5 px off

    def pull(names: list[str] | None, **fusion: bool) -> np.ndarray:
        res = propagate(textured_frame, [start], 0, 1, predictions=model,
                        keypoint_names=names, fusion=FusionParams(**fusion))
        got = res.frames[1][0]
        assert got is not None
        return (got.xy[:, 0] - truth[1][:, 0]) / 1.5  # 0: the flow's point, 1: the model's

    plain = pull(None)
    assert (plain > 0).all() and (plain < 0.5).all()  # the flow's point weighs most
    named = pull(["left_elbow", "tail", "tail_tip", "forearm"])
    assert named[0] > 2 * plain[0]  # the elbow takes more of the model's point
    np.testing.assert_array_equal(named[1:], plain[1:])  # no part word (forearm is no "ear")
    np.testing.assert_array_equal(pull(["left_elbow"] * 4, part_scaled=False), plain)
