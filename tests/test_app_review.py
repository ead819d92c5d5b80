"""Review scores and navigation: J, the panel's summary and its curve all use one Review."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from pose_studio.app.review import WHOLE_FRAME, Review, person_choice, review_scores
from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project

K = 17


def _arrays(n: int = 100) -> SimpleNamespace:
    labeled = np.zeros(n, bool)
    labeled[50] = True
    mn = np.full(n, 0.9, np.float32)
    mn[20:25] = 0.6
    return SimpleNamespace(labeled=labeled, predicted=np.ones(n, bool), min_score=mn,
                           mean_score=mn)


def test_threshold_and_choice_drive_navigation_and_summary() -> None:
    r = Review()
    r.set_arrays(_arrays())
    assert r.next_low(0) is None and r.summary().endswith("0 low (0 stretches)")
    r.threshold = 0.95  # "Low below 0.95": every predicted, unlabeled frame is low
    assert r.next_low(10) == 51 and r.next_low(51, -1) == 0
    assert "99 low (2 stretches)" in r.summary()
    r.threshold = 0.7
    assert r.next_low(0) == 20 and "5 low (1 stretches)" in r.summary()
    kp = np.full((100, K), 0.9, np.float32)
    kp[70, 15] = 0.1  # one ankle: the person's mean is fine, the keypoint is not
    r.set_keypoint_scores(kp, COCO17.keypoints)
    assert r.next_low(30) == 70  # whole frame = its lowest keypoint score
    r.choice = 16  # right ankle: fine everywhere
    assert r.next_low(0) is None and "0 low" in r.summary()
    r.choice = 15
    assert r.next_low(0) == 70 and "1 low (1 stretches)" in r.summary()
    people = np.full((100, 2), 0.9, np.float32)
    people[80:90, 1] = 0.3
    r.set_person_scores(people, ["person 1", "person 2"])
    r.choice = person_choice(1)
    assert r.next_low(0) == 80
    r.choice = WHOLE_FRAME
    r.set_arrays(None)
    assert r.next_low(0) is None and r.summary() == ""


def test_review_scores_use_shown_keypoints_only(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p.posestudio", COCO17) as p:
        p.add_video(tmp_path / "v.mp4", width=64, height=48, frame_count=10, fps=25.0)
        scores = np.linspace(0.1, 0.9, K).astype(np.float32)
        vis = np.full(K, 2, np.uint8)
        vis[0] = 0  # the model dropped the nose: its low score is not a shown error
        pred = Instance(xy=np.full((K, 2), 5.0), visibility=vis, kind=InstanceKind.PREDICTED,
                        kp_scores=scores)
        p.add_predictions(1, [(3, pred), (3, pred.replace(kp_scores=scores / 2))], None)
        kp, inst, labels = review_scores(p, 1)
    assert kp.shape == (10, K) and np.isnan(kp[3, 0])
    np.testing.assert_allclose(kp[3, 1:], scores[1:] / 2, rtol=1e-6)
    assert inst.shape == (10, 2) and labels[0].startswith("person 1")
