"""One route for predictions: one rule for people (batch = live), one run record, the filter."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from pose_studio.app import predictions as pr
from pose_studio.app.session import Session
from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.people import person_boxes
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project

K = 17


def _inst(cx: float, pred: bool = False, vis: int = K, score: float = 0.8,
          source: int | None = None) -> Instance:
    xy = np.stack([np.linspace(cx - 20, cx + 20, K), np.linspace(10, 90, K)], 1)
    v = np.zeros(K, np.uint8)
    v[:vis] = 2
    return Instance(xy=xy, visibility=v, kind=InstanceKind.PREDICTED if pred else
                    InstanceKind.USER, kp_scores=np.full(K, score) if pred else None,
                    score=score if pred else None, source_id=source)


def test_batch_and_live_see_the_same_people(tmp_path: Path) -> None:
    """The batch path used to miss the label-overlap rule: a re-run cropped a labeled person
    twice when an older prediction (not linked to the label) overlapped it."""
    with Project.create(tmp_path / "p.posestudio", COCO17) as p:
        p.add_video(tmp_path / "v.mp4", width=200, height=120, frame_count=20, fps=10.0)
        run = p.create_model_run(model_path="m", model_hash="h", providers=[], params={})
        p.add_predictions(1, [(5, _inst(50, pred=True)), (5, _inst(150, pred=True))], run)
        p.add_instance(1, 5, _inst(51))  # relabeled by hand over the first prediction
        s = Session()
        s.open(p)
        s.set_video(1, 20, 10.0, frame=5)
        live = person_boxes(s.instances())
        batch = pr.people_boxes(p, 1, 0, 20)
        assert live is not None and live.shape == (2, 4)
        assert sorted(batch) == [5] and np.array_equal(batch[5], live)
        s.close()


def test_one_run_record_and_the_keep_rule(tmp_path: Path) -> None:
    info = pr.ModelInfo(pose_path="/m/pose.onnx", detector_path=None, family="heatmap",
                        keypoints=COCO17.keypoints, skeleton=COCO17, input_size=(192, 256),
                        providers=("CPUExecutionProvider",), model_hash="abc",
                        params={"input_size": [192, 256]})
    assert info.needs_boxes
    with Project.create(tmp_path / "p.posestudio", COCO17) as p:
        p.add_video(tmp_path / "v.mp4", width=200, height=120, frame_count=20, fps=10.0)
        live = pr.record_run(p, info, mode="live")
        batch = pr.record_run(p, info, mode="batch", frames=[0, 20])
        runs = {r.id: r for r in p.model_runs()}
        assert runs[live].params["mode"] == "live" and runs[batch].params["frames"] == [0, 20]
        assert set(runs[live].params) <= set(runs[batch].params)  # the same record, plus range
        results = [
            SimpleNamespace(frame_idx=1, instances=(_inst(50, True), _inst(150, True, vis=2))),
            SimpleNamespace(frame_idx=2, instances=(_inst(50, True, score=0.05),)),
        ]
        p.add_predictions(1, [(2, _inst(90, pred=True))], live)
        assert pr.write_results(p, 1, results, batch) == (2, 2)
        (kept,) = p.instances(1, 1)
        assert kept.model_run_id == batch and kept.labeled.sum() == K
        assert p.instances(1, 2) == []  # junk only: the frame's old predictions went too
        assert pr.min_keypoints(17) == 4 and pr.min_keypoints(5) == 3
