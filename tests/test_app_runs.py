"""Model runs in the application layer, without Qt: live predictions vs the shown run (the same
model writes into the run it made; another model's run never hides what was on screen), the run
picker's rows, A/B toggle and swap, and the comparison report."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pose_studio.app import predictions as pr
from pose_studio.app.runs import ABMemory, compare_predictions, compare_report, run_rows
from pose_studio.app.session import Session, Topic
from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project

K = 17


def _pose(cx: float, jitter: float = 0.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xy = np.stack([np.linspace(cx - 20, cx + 20, K), np.linspace(10, 110, K)], 1)
    return xy + rng.normal(0, jitter, xy.shape) if jitter else xy


def _pred(cx: float, jitter: float = 0.0, seed: int = 0, score: float = 0.8) -> Instance:
    return Instance(xy=_pose(cx, jitter, seed), visibility=np.full(K, 2, np.uint8),
                    kind=InstanceKind.PREDICTED, kp_scores=np.full(K, score), score=score)


def _info(path: str = "/m/pose.onnx", digest: str = "h1", det: str | None = None
          ) -> pr.ModelInfo:
    return pr.ModelInfo(pose_path=path, detector_path=det, family="heatmap",
                        keypoints=COCO17.keypoints, skeleton=COCO17, input_size=(192, 256),
                        providers=("CPUExecutionProvider",), model_hash=digest,
                        params={"input_size": (192, 256)})


def _result(frame: int, *insts: Instance) -> SimpleNamespace:
    return SimpleNamespace(frame_idx=frame, instances=tuple(insts))


@pytest.fixture
def session(tmp_path: Path):
    p = Project.create(tmp_path / "p.posestudio", COCO17)
    p.add_video(tmp_path / "v.mp4", width=200, height=120, frame_count=40, fps=10.0)
    s = Session(user="t")
    s.open(p)
    s.set_video(1, 40, 10.0)
    seen: list[frozenset] = []
    s.subscribe(lambda topics, frames: seen.append(topics))
    s.seen = seen  # type: ignore[attr-defined]
    yield s
    s.close()


def _batch(s: Session, info: pr.ModelInfo, frames: range, cx: float = 100.0) -> int:
    run = pr.record_run(s.project, info, mode="batch", frames=[frames.start, frames.stop])
    pr.write_results(s.project, 1, [_result(f, _pred(cx)) for f in frames], run)
    s.predictions_written(1)
    return run


def test_live_predict_after_a_batch_goes_into_the_batch_run(session: Session) -> None:
    """The bug: after a batch run, "predict this frame" made a live run that became the shown
    run, so the timeline showed that one frame (the batch predictions kept but hidden)."""
    s = session
    info = _info()
    batch = _batch(s, info, range(0, 30))
    assert s.frames.predicted.sum() == 30
    s.goto(5)
    done = s.store_predictions(info, [_result(5, _pred(110.0))])
    assert (done.run_id, done.slot, done.created, done.note) == (batch, "A", False, "")
    assert s.frames.predicted.sum() == 30  # the timeline still shows the whole batch run
    shown = s.project.shown_runs(1)
    assert (shown.run_id, shown.compare_run_id, shown.pinned) == (batch, None, False)
    (p5,) = s.instances(InstanceKind.PREDICTED)
    assert p5.model_run_id == batch and p5.xy[0, 0] == pytest.approx(90.0)  # replaced
    assert len(s.project.model_runs()) == 1


def test_another_model_keeps_what_was_shown_visible(session: Session) -> None:
    s = session
    batch = _batch(s, _info(), range(0, 30))
    other = _info("/m/retrained.onnx", digest="h2")
    s.goto(3)
    first = s.store_predictions(other, [_result(3, _pred(60.0))])
    assert first.created and first.slot == "A" and "stays visible as B" in first.note
    shown = s.project.shown_runs(1)
    assert (shown.run_id, shown.compare_run_id, shown.pinned) == (first.run_id, batch, False)
    # the same model again: its own run, no new record, nothing changes on screen
    s.goto(4)
    again = s.store_predictions(other, [_result(4, _pred(60.0))], own_run=first.run_id)
    assert (again.run_id, again.created, again.note) == (first.run_id, False, "")
    assert {r.run_id: r.frames for r in run_rows(s.project, 1)} == {batch: 30, first.run_id: 2}
    # B on frame 4 is the batch's person, A the new model's
    (b4,) = compare_predictions(s.project, 1, 4, batch)
    assert b4.model_run_id == batch


def test_a_pinned_run_stays_and_the_new_one_is_shown_beside_it(session: Session) -> None:
    s = session
    old = _batch(s, _info(), range(0, 10))
    newer = _batch(s, _info("/m/b.onnx", "h3"), range(10, 20))
    s.set_shown_runs(old)
    assert s.frames.predicted[:10].all() and not s.frames.predicted[10:].any()
    s.goto(25)
    done = s.store_predictions(_info("/m/c.onnx", "h4"), [_result(25, _pred(50.0))])
    shown = s.project.shown_runs(1)
    assert (shown.run_id, shown.compare_run_id, shown.pinned) == (old, done.run_id, True)
    assert done.slot == "B" and "beside the run you chose" in done.note
    # live with B's model writes into B
    again = s.store_predictions(_info("/m/c.onnx", "h4"), [_result(26, _pred(50.0))])
    assert (again.run_id, again.slot) == (done.run_id, "B")
    assert newer != done.run_id


def test_an_empty_live_result_drops_only_that_runs_predictions(session: Session) -> None:
    s = session
    batch = _batch(s, _info(), range(0, 10))
    other = _batch(s, _info("/m/b.onnx", "h3"), range(0, 10))
    s.goto(2)
    done = s.store_predictions(_info("/m/b.onnx", "h3"), [_result(2)])  # nobody found
    assert done.run_id == other
    left = s.project.instances(1, 2, run="all")
    assert [i.model_run_id for i in left] == [batch]  # the other run's prediction stays


def test_a_run_recorded_by_the_command_line_is_the_same_model(session: Session) -> None:
    """``infer``/``demo`` record fewer keys (no mode, family or detector): the same file and
    pose settings still make it the same model."""
    s = session
    info = _info()
    run = s.project.create_model_run(model_path=info.pose_path, model_hash=info.model_hash,
                                     providers=["CPU"], params={"pose": {"input_size": [192, 256]},
                                                                "boxes": "ground truth"})
    s.project.add_predictions(1, [(f, _pred(100.0)) for f in range(10)], run)
    s.predictions_written(1)
    done = s.store_predictions(info, [_result(3, _pred(104.0))])
    assert (done.run_id, done.created) == (run, False)
    other = _info(digest="h-other")
    rec = next(r for r in s.project.model_runs() if r.id == run)
    assert not pr.same_model(rec, other)
    assert not pr.same_model(rec, pr.ModelInfo(**{**other.__dict__, "model_hash": "h1",
                                                 "params": {"input_size": (96, 128)}}))


def test_a_model_with_another_detector_is_another_run(session: Session) -> None:
    s = session
    batch = _batch(s, _info(), range(0, 5))
    done = s.store_predictions(_info(det="/m/det.onnx"), [_result(0, _pred(100.0))])
    assert done.created and done.run_id != batch
    assert pr.same_model(next(r for r in s.project.model_runs() if r.id == batch), _info())


def test_run_rows_and_ab_toggle_and_swap(session: Session) -> None:
    s = session
    a = _batch(s, _info(), range(0, 30))
    b = _batch(s, _info("/m/b.onnx", "h3"), range(0, 10))
    rows = run_rows(s.project, 1)
    assert [r.run_id for r in rows] == [b, a]  # newest first
    assert rows[0].is_a and not rows[1].is_a and rows[0].mode == "batch"
    assert rows[1].span_text == "30 frames (0–29)" and rows[0].name == "b"
    assert rows[0].title == "run 2 · b (batch)"
    mem = ABMemory()
    s.seen.clear()  # type: ignore[attr-defined]
    msg = mem.toggle(s)
    assert "B:" in msg and Topic.ARRAYS in s.seen[-1]  # type: ignore[attr-defined]
    shown = s.project.shown_runs(1)
    assert (shown.run_id, shown.compare_run_id, shown.pinned) == (b, a, False)
    mem.swap(s)
    shown = s.project.shown_runs(1)
    assert (shown.run_id, shown.compare_run_id, shown.pinned) == (a, b, True)
    assert s.frames.predicted.sum() == 30  # the timeline follows A at once
    mem.toggle(s)  # off, remembering B
    assert s.project.shown_runs(1).compare_run_id is None
    _batch(s, _info("/m/c.onnx", "h5"), range(0, 3))  # a newer run appears meanwhile
    mem.toggle(s)  # on again: the same B as before, not the newest
    assert s.project.shown_runs(1).compare_run_id == b
    s.set_shown_runs("newest", compare=None)
    with pytest.raises(PoseStudioError, match="no second run"):
        mem.swap(s)


def test_toggle_without_a_second_run_says_what_to_do(session: Session) -> None:
    mem = ABMemory()
    with pytest.raises(PoseStudioError, match="no predictions yet"):
        mem.toggle(session)
    _batch(session, _info(), range(0, 3))
    with pytest.raises(PoseStudioError, match="one model run"):
        mem.toggle(session)


def test_switching_runs_drops_a_selected_prediction_of_the_hidden_run(session: Session) -> None:
    s = session
    a = _batch(s, _info(), range(0, 5))
    _batch(s, _info("/m/b.onnx", "h3"), range(0, 5))
    (p,) = s.instances(InstanceKind.PREDICTED)
    s.select(p.id, 0)
    s.seen.clear()  # type: ignore[attr-defined]
    s.set_shown_runs(a)
    assert s.selected_instance_id is None and Topic.SELECTION in s.seen[-1]  # type: ignore
    assert [i.model_run_id for i in s.instances(InstanceKind.PREDICTED)] == [a]


def test_compare_report_verdict_and_read_only_arrays(session: Session) -> None:
    s = session
    p = s.project
    for f in range(0, 20):
        p.add_instance(1, f, Instance(xy=_pose(100.0), visibility=np.full(K, 2, np.uint8)))
    old = pr.record_run(p, _info(), mode="batch")
    new = pr.record_run(p, _info("/m/retrained.onnx", "h9"), mode="batch")
    pr.write_results(p, 1, [_result(f, _pred(100.0, jitter=6.0, seed=f)) for f in range(20)], old)
    pr.write_results(p, 1, [_result(f, _pred(100.0, jitter=1.0, seed=f)) for f in range(20)], new)
    steps: list[tuple[int, int]] = []
    rep = compare_report(p, old, new, [1], progress=lambda d, t: steps.append((d, t)))
    assert steps[0] == (0, 6) and steps[-1] == (6, 6)
    c = rep.comparison
    assert c.b.scores.ap > c.a.scores.ap
    assert rep.verdict.startswith("retrained (run 2) is better than pose (run 1): AP")
    assert "20 labeled people, 20 frames" in rep.verdict
    assert [k.name for k in rep.keypoints] == list(COCO17.keypoints)
    assert all(k.delta > 0 for k in rep.keypoints)
    assert c.changed and all(ch.oks_b > ch.oks_a for ch in c.changed)
    assert not c.a.scores.frame_oks.flags.writeable
    # the other way round, the verdict still speaks of the newer run
    rev = compare_report(p, new, old, [1])
    assert rev.verdict.startswith("retrained (run 2) is better")
    assert (rep.change_label, rev.change_label) == ("B − A", "A − B")
    assert rep.change(0.5, 0.7) == pytest.approx(0.2) and rev.change(0.7, 0.5) == pytest.approx(0.2)
    with pytest.raises(PoseStudioError, match="cancelled"):
        compare_report(p, old, new, [1], cancelled=lambda: True)


def test_compare_report_without_labels(session: Session) -> None:
    s = session
    a = _batch(s, _info(), range(0, 5))
    b = _batch(s, _info("/m/b.onnx", "h3"), range(0, 5), cx=130.0)
    rep = compare_report(s.project, a, b, [1])
    assert rep.verdict.startswith("No labels on these frames")
    assert [ch.key.frame_idx for ch in rep.comparison.changed] == [0, 1, 2, 3, 4]


def test_a_runs_model_is_named_by_its_file_and_a_differing_card() -> None:
    from pose_studio.store.runs import model_label

    card = {"pose": {"name": "posestudio-hrnet-coco17"}}
    assert model_label("/m/posestudio-hrnet-coco17.onnx", card) == "posestudio-hrnet-coco17"
    assert model_label("/m/hrnet-int8.onnx", card) == "hrnet-int8 (posestudio-hrnet-coco17)"
    assert model_label("C:\\models\\rtmpose-t-body\\end2end.onnx", {}) == "rtmpose-t-body"
    assert model_label("", card) == "posestudio-hrnet-coco17" and model_label("", None) == ""
    sdk = {"pose": {"name": "end2end"}}  # an SDK archive's pipeline names the file
    assert model_label("/models/rtmpose-t-body/end2end.onnx", sdk) == "rtmpose-t-body"
