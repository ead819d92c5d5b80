from __future__ import annotations

import numpy as np
import pytest

from pose_studio.core.annotation import Instance, InstanceKind, Provenance, Visibility


def _inst(**kw: object) -> Instance:
    pts = np.array([[10, 20, 2], [30, 40, 1], [0, 0, 0]], dtype=float)
    return Instance.from_points(pts, **kw)  # type: ignore[arg-type]


def test_arrays_are_read_only_copies() -> None:
    xy = np.array([[1.0, 2.0], [3.0, 4.0]])
    inst = Instance(xy=xy, visibility=[2, 2])
    xy[0, 0] = 99
    assert inst.xy[0, 0] == 1.0
    with pytest.raises(ValueError):
        inst.xy[0, 0] = 5


def test_visibility_cycle_is_2_1_0() -> None:
    v = Visibility.VISIBLE
    seq = [v := v.next_in_cycle() for _ in range(3)]
    assert seq == [Visibility.OCCLUDED, Visibility.UNLABELED, Visibility.VISIBLE]


def test_with_keypoint_marks_user_provenance_and_keeps_original() -> None:
    pred = _inst(kind=InstanceKind.PREDICTED, kp_scores=[0.9, 0.5, 0.1], id=7)
    assert (pred.provenance == Provenance.PREDICTED).all()
    moved = pred.with_keypoint(1, xy=(31.5, 41.0))
    assert moved.xy[1].tolist() == [31.5, 41.0]
    assert pred.xy[1].tolist() == [30.0, 40.0]
    assert moved.provenance.tolist() == [1, 0, 1]  # type: ignore[union-attr]


def test_keypoint_bbox_ignores_unlabeled() -> None:
    assert _inst().keypoint_bbox() == (10.0, 20.0, 20.0, 20.0)
    empty = Instance.from_points([[0, 0, 0]])
    assert empty.keypoint_bbox() is None


def test_accept_prediction_links_and_drops_scores() -> None:
    pred = _inst(kind=InstanceKind.PREDICTED, kp_scores=[0.9, 0.5, 0.1], score=0.8, id=42)
    user = pred.as_user_copy()
    assert user.kind is InstanceKind.USER and user.source_id == 42 and user.id is None
    assert user.kp_scores is None and user.score is None
    assert np.array_equal(user.xy, pred.xy)


def test_translated_moves_labeled_points_only() -> None:
    t = _inst(bbox=(0, 0, 5, 5)).translated(1, -1)
    assert t.xy.tolist() == [[11, 19], [31, 39], [0, 0]]
    assert t.bbox == (1.0, -1.0, 5.0, 5.0)


def test_same_values_detects_differences() -> None:
    a = _inst()
    assert a.same_values(_inst())
    assert not a.same_values(a.with_keypoint(0, visibility=1))
    assert not a.same_values(a.replace(track_id=3))
