"""Review navigation: pure functions over per-frame arrays."""

from __future__ import annotations

import numpy as np
import pytest

from pose_studio.core import review


def test_runs() -> None:
    m = np.array([0, 1, 1, 0, 1, 0, 0, 1], dtype=bool)
    assert review.runs(m) == [(1, 3), (4, 5), (7, 8)]
    assert review.runs(np.zeros(0, bool)) == []
    assert review.runs(np.ones(3, bool)) == [(0, 3)]


def test_next_flagged_run_starts() -> None:
    m = np.zeros(20, bool)
    m[3:8] = True
    m[12:14] = True
    # Forward from before, inside, and at the start of a run.
    assert review.next_flagged(m, 0, 1) == 3
    assert review.next_flagged(m, 3, 1) == 12
    assert review.next_flagged(m, 5, 1) == 12
    assert review.next_flagged(m, 12, 1) is None
    assert review.next_flagged(m, 12, 1, wrap=True) == 3
    # Backward: to this run's start from its middle, else the previous run's start.
    assert review.next_flagged(m, 13, -1) == 12
    assert review.next_flagged(m, 12, -1) == 3
    assert review.next_flagged(m, 3, -1) is None
    assert review.next_flagged(m, 3, -1, wrap=True) == 12


def test_next_flagged_every_frame() -> None:
    m = np.zeros(10, bool)
    m[[2, 3, 7]] = True
    assert review.next_flagged(m, 2, 1, skip_run=False) == 3
    assert review.next_flagged(m, 7, -1, skip_run=False) == 3
    assert review.next_flagged(m, -5, 1, skip_run=False) == 2
    assert review.next_flagged(m, 100, -1, skip_run=False) == 7
    assert review.next_flagged(np.zeros(5, bool), 0, 1) is None
    with pytest.raises(ValueError):
        review.next_flagged(np.zeros((2, 2), bool), 0)


def test_low_confidence_ignores_nan_and_excluded() -> None:
    s = np.array([0.9, np.nan, 0.2, 0.1, 0.8, 0.3, np.nan], dtype=np.float32)
    labeled = np.array([0, 0, 0, 0, 0, 1, 0], bool)
    mask = review.low_confidence_mask(s, 0.5)
    assert mask.tolist() == [False, False, True, True, False, True, False]
    assert review.next_low_confidence(s, 0, 1) == 2
    assert review.next_low_confidence(s, 2, 1) == 5
    assert review.next_low_confidence(s, 2, 1, exclude=labeled) is None
    assert review.next_low_confidence(s, 6, -1, threshold=0.25) == 2
    assert review.next_low_confidence(s, 6, -1, threshold=0.25, skip_run=False) == 3


def test_labeled_unlabeled() -> None:
    labeled = np.array([1, 1, 0, 0, 1, 0], bool)
    predicted = np.array([1, 1, 1, 0, 1, 1], bool)
    assert review.next_labeled(labeled, 1, 1) == 4
    assert review.next_labeled(labeled, 4, 1) is None
    assert review.next_labeled(labeled, 4, 1, wrap=True) == 0
    assert review.next_unlabeled(labeled, 0, 1) == 2
    assert review.next_unlabeled(labeled, 2, 1) == 3
    assert review.next_unlabeled(labeled, 2, 1, predicted=predicted) == 5
    assert review.next_unlabeled(labeled, 5, -1, predicted=predicted) == 2


def test_keypoint_score_matrix() -> None:
    items = [
        (0, np.array([0.5, 0.9])),
        (0, np.array([0.7, 0.1])),
        (2, np.array([0.3, 0.4])),
        (2, None),
        (9, np.array([0.1, 0.1])),  # out of range: skipped
        (1, np.array([0.1, 0.1, 0.1])),  # wrong length: skipped
    ]
    m = review.keypoint_score_matrix(items, 3, 2)
    assert m.dtype == np.float32
    np.testing.assert_allclose(m[0], [0.5, 0.1])
    assert np.isnan(m[1]).all()
    np.testing.assert_allclose(m[2], [0.3, 0.4])
    mx = review.keypoint_score_matrix(items, 3, 2, reduce="max")
    np.testing.assert_allclose(mx[0], [0.7, 0.9])
