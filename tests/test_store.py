"""Project store: round trips, undo, bulk predictions, per-frame arrays, threads, import."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pose_studio.core.annotation import FrameRef, Instance, InstanceKind
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project, ProjectError

K = COCO17.num_keypoints
N_FRAMES = 3000


def user_instance(rng: np.random.Generator, **kw: object) -> Instance:
    vis = np.tile(np.array([0, 1, 2], np.uint8), K)[:K]  # every visibility
    prov = np.tile(np.array([0, 1, 2, 3], np.uint8), K)[:K]  # every provenance
    return Instance(xy=rng.random((K, 2)) * 640 - 3.25, visibility=vis, provenance=prov, **kw)


def predicted_instance(rng: np.random.Generator, score: float | None = 0.5, **kw: object) -> Instance:
    return Instance(
        xy=rng.random((K, 2)) * 640, visibility=rng.integers(0, 3, K).astype(np.uint8),
        kind=InstanceKind.PREDICTED, kp_scores=rng.random(K).astype(np.float32), score=score,
        bbox=(float(rng.random()), 2.5, 100.25, 200.125), **kw,
    )


@pytest.fixture
def project(tmp_path: Path, project_target: str) -> Project:
    """A project with one video, as a file and (with a test server) in a PostgreSQL database."""
    p = Project.create(project_target, COCO17)
    p.add_video(tmp_path / "v.mp4", width=640, height=480, frame_count=N_FRAMES, fps=30.0,
                vfr=False, codec="h264", duration_s=100.0, index=b"\x00idx\xff")
    yield p
    p.close()


def test_create_names_file_and_keeps_skeleton(tmp_path: Path) -> None:
    with Project.create(tmp_path / "a", COCO17) as p:
        assert p.path == tmp_path / "a.posestudio"
        assert not p.read_only
    with Project.open(tmp_path / "a.posestudio") as p:
        assert p.skeleton == COCO17
    with pytest.raises(ProjectError, match="already exists"):
        Project.create(tmp_path / "a.posestudio", COCO17)


def test_user_and_predicted_round_trip_every_field(project: Project, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    track = project.create_track("mouse-1")
    run = project.create_model_run(model_path="m.onnx", model_hash="sha256:ab", providers=["CPU"],
                                   params={"batch": 8, "thr": 0.3})
    project.add_predictions(1, [(7, predicted_instance(rng, track_id=track))], run)
    pred = project.instances(1, 7, "predicted")[0]
    user = user_instance(rng, bbox=(1.5, 2.5, 30.0, 40.0), track_id=track, source_id=pred.id)
    stored = project.add_instance(1, 7, user)
    assert stored.id is not None and stored.id != pred.id
    no_score = predicted_instance(rng, score=None)
    project.add_predictions(1, [(8, no_score)], run)
    path = project.target
    project.close()
    with Project.open(path) as p:
        got_user = p.instances(1, 7, InstanceKind.USER)
        assert len(got_user) == 1 and got_user[0].same_values(stored)  # bit-exact, ids included
        assert np.array_equal(got_user[0].xy, user.xy)
        assert set(got_user[0].visibility.tolist()) == {0, 1, 2}
        assert set(got_user[0].provenance.tolist()) == {0, 1, 2, 3}
        got_pred = p.instances(1, 7, "predicted")[0]
        assert got_pred.same_values(pred)
        assert got_pred.model_run_id == run and got_pred.track_id == track
        assert got_pred.kp_scores is not None and got_pred.kp_scores.dtype == np.float32
        assert [i.id for i in p.instances(1, 7)] == sorted([pred.id, stored.id])
        p8 = p.instances(1, 8)[0]
        assert p8.score is None and p8.bbox is not None
        assert np.array_equal(p8.kp_scores, no_score.kp_scores)
        assert p.frame_of_instance(stored.id) == FrameRef(1, 7)
        assert p.tracks()[0].name == "mouse-1"
        mr = p.model_runs()[0]
        assert (mr.model_hash, mr.providers, mr.params) == ("sha256:ab", ("CPU",), {"batch": 8, "thr": 0.3})
        # frame 8's summary score is the mean labeled keypoint score when there is no score
        fa = p.frame_arrays(1)
        m = no_score.visibility > 0
        assert fa.min_score[8] == pytest.approx(float(no_score.kp_scores[m].mean()), rel=1e-6)


def test_video_record_index_and_fingerprints(project: Project, tmp_path: Path) -> None:
    v = project.video(1)
    assert (v.width, v.height, v.frame_count, v.fps, v.vfr, v.codec, v.duration_s) == (
        640, 480, N_FRAMES, 30.0, False, "h264", 100.0)
    # a file keeps the path relative to itself; a server project, which has no folder, the
    # absolute path
    stored = str(tmp_path / "v.mp4") if project.is_server else "v.mp4"
    assert v.path == tmp_path / "v.mp4" and v.stored_path == stored and v.missing
    assert project.video_index(1) == b"\x00idx\xff"
    project.set_video_index(1, b"new")
    assert project.video_index(1) == b"new"
    fps = {0: 0, 1: 2**64 - 1, 2: 2**63, 5: 12345}
    project.set_fingerprints(1, fps)
    project.set_fingerprints(1, {5: 7})
    assert project.fingerprints(1) == {**fps, 5: 7}
    with pytest.raises(ProjectError, match="already in project"):
        project.add_video(tmp_path / "v.mp4", width=1, height=1, frame_count=1, fps=1.0,
                          vfr=False, codec="x", duration_s=1.0, index=None)
    with pytest.raises(ProjectError, match="no video with id 9"):
        project.video(9)
    rng = np.random.default_rng(9)
    project.add_instance(1, 3, user_instance(rng))
    project.add_predictions(1, [(4, predicted_instance(rng))], None)
    project.remove_video(1)  # cascades to instances, fingerprints and summaries
    assert project.videos() == [] and project.counts()["user_instances"] == 0
    assert project.counts()["predicted_instances"] == 0 and project.fingerprints(1) == {}


def test_update_delete_restore_keep_ids(project: Project) -> None:
    rng = np.random.default_rng(1)
    a = project.add_instance(1, 10, user_instance(rng))
    t_created, t_updated = project.instance_times(a.id)
    moved = a.with_keypoint(3, xy=(1.0, 2.0), visibility=1).replace(bbox=(0.0, 0.0, 5.0, 5.0))
    time.sleep(0.01)
    assert project.update_instance(moved) is moved
    got = project.instances(1, 10)[0]
    assert got.same_values(moved)
    t2_created, t2_updated = project.instance_times(a.id)
    assert t2_created == t_created and t2_updated > t_updated

    deleted = project.delete_instance(a.id)
    assert deleted.same_values(moved)
    assert project.instances(1, 10) == []
    assert not project.frame_arrays(1).labeled[10]
    b = project.add_instance(1, 10, user_instance(rng))
    assert b.id != a.id  # ids are never reused, so undo can put a back
    project.restore_instance(1, 10, deleted)
    assert {i.id for i in project.instances(1, 10)} == {a.id, b.id}
    assert project.instance(a.id).same_values(moved)
    # redo of an undone add: same id again
    project.delete_instance(b.id)
    project.add_instance(1, 10, b)
    assert project.instance(b.id).id == b.id
    with pytest.raises(ProjectError, match="already in use"):
        project.add_instance(1, 11, b)
    with pytest.raises(ProjectError, match="no instance"):
        project.delete_instance(99999)
    with pytest.raises(ProjectError, match="no instance"):
        project.update_instance(moved.replace(id=99999))


def test_bad_edits_are_refused_and_change_nothing(project: Project) -> None:
    rng = np.random.default_rng(2)
    before = project.counts()
    with pytest.raises(ProjectError, match="17"):
        project.add_instance(1, 0, Instance(xy=np.zeros((5, 2)), visibility=np.full(5, 2)))
    with pytest.raises(ProjectError, match="outside video"):
        project.add_instance(1, N_FRAMES, user_instance(rng))
    with pytest.raises(ProjectError, match="no video"):
        project.add_instance(42, 0, user_instance(rng))
    with pytest.raises(ProjectError, match="does not exist"):
        project.add_instance(1, 0, user_instance(rng, track_id=777))
    bad = user_instance(rng).with_keypoint(2, xy=(float("nan"), 1.0), visibility=2)
    with pytest.raises(ProjectError, match="non-finite"):
        project.add_instance(1, 0, bad)
    with pytest.raises(ProjectError, match="outside video"):
        project.add_predictions(1, [(0, predicted_instance(rng)), (-1, predicted_instance(rng))], None)
    assert project.counts() == before


def test_predictions_replace_and_append(project: Project) -> None:
    rng = np.random.default_rng(3)
    user = project.add_instance(1, 5, user_instance(rng))
    run1 = project.create_model_run(model_path="a", model_hash="1", providers=[], params={})
    assert project.add_predictions(1, [(5, predicted_instance(rng)), (5, predicted_instance(rng)),
                                       (6, predicted_instance(rng))], run1) == 3
    run2 = project.create_model_run(model_path="b", model_hash="2", providers=[], params={})
    new = predicted_instance(rng, score=0.9)
    project.add_predictions(1, [(5, new)], run2)  # the newest run is shown; run 1 is kept
    preds5 = project.instances(1, 5, "predicted")
    assert len(preds5) == 1 and preds5[0].model_run_id == run2
    assert np.array_equal(preds5[0].xy, new.xy)
    assert project.instances(1, 6, "predicted") == []  # run 2 did not predict frame 6
    assert len(project.instances(1, 6, "predicted", run=run1)) == 1
    assert len(project.instances(1, 5, "predicted", run="all")) == 3
    assert project.instances(1, 5, "user")[0].id == user.id
    project.add_predictions(1, [(5, predicted_instance(rng, score=0.1))], run2, replace=False)
    assert len(project.instances(1, 5, "predicted")) == 2
    fa = project.frame_arrays(1)
    assert fa.min_score[5] == pytest.approx(0.1) and fa.mean_score[5] == pytest.approx(0.5)
    assert not fa.predicted[6]  # the arrays count the shown run
    assert project.delete_predictions(1, [5]) == 4  # every run's predictions on frame 5
    assert not project.frame_arrays(1).predicted[5]
    assert project.delete_predictions(1) == 1
    assert project.counts()["predicted_instances"] == 0


def _reference_arrays(project: Project, video_id: int, n: int) -> dict[str, np.ndarray]:
    """Slow per-frame reference built from instances()."""
    labeled = np.zeros(n, bool)
    predicted = np.zeros(n, bool)
    mn = np.full(n, np.nan, np.float32)
    mean = np.full(n, np.nan, np.float32)
    for f in range(n):
        insts = project.instances(video_id, f)
        labeled[f] = any(i.kind is InstanceKind.USER for i in insts)
        preds = [i for i in insts if i.is_prediction]
        predicted[f] = bool(preds)
        scores = [s for s in (i.mean_score() for i in preds) if s is not None]
        if scores:
            mn[f] = np.float32(min(scores))
            mean[f] = np.float32(np.mean(scores))
    return {"labeled": labeled, "predicted": predicted, "min_score": mn, "mean_score": mean}


def test_frame_arrays_match_slow_reference(project: Project) -> None:
    rng = np.random.default_rng(4)
    run = project.create_model_run(model_path="a", model_hash="1", providers=[], params={})
    ids = [project.add_instance(1, int(f), user_instance(rng)).id
           for f in rng.integers(0, N_FRAMES, 10)]
    for step in range(60):
        op = rng.integers(0, 8)
        if op in (0, 6, 7) or not ids:
            ids.append(project.add_instance(1, int(rng.integers(0, N_FRAMES)),
                                            user_instance(rng)).id)
        elif op == 1:
            project.delete_instance(ids.pop(int(rng.integers(0, len(ids)))))
        elif op == 2:
            iid = ids.pop(int(rng.integers(0, len(ids))))  # now a prediction: may be replaced
            project.update_instance(project.instance(iid).replace(kind=InstanceKind.PREDICTED,
                                                                  score=float(rng.random())))
        elif op == 5:
            project.delete_predictions(1, rng.integers(0, N_FRAMES, 30).tolist())
        else:
            # clustered frames so several predictions share frames and chunks
            frames = rng.integers(0, N_FRAMES, int(rng.integers(1, 200)))
            frames[: len(frames) // 2] = frames[0]
            items = [(int(f), predicted_instance(rng, score=None if rng.random() < 0.2
                                                 else float(rng.random()))) for f in frames]
            project.add_predictions(1, items, run, replace=bool(step % 2))
    fa = project.frame_arrays(1)
    ref = _reference_arrays(project, 1, N_FRAMES)
    assert len(fa) == N_FRAMES
    assert fa.predicted.sum() > 100 and fa.labeled.sum() > 3
    np.testing.assert_array_equal(fa.labeled, ref["labeled"])
    np.testing.assert_array_equal(fa.predicted, ref["predicted"])
    np.testing.assert_allclose(fa.min_score, ref["min_score"], rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(fa.mean_score, ref["mean_score"], rtol=1e-5, equal_nan=True)
    assert project.labeled_frames(1) == np.flatnonzero(ref["labeled"]).tolist()


def test_iter_instances_order_and_filters(project: Project, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    v2 = project.add_video(tmp_path / "w.mp4", width=10, height=10, frame_count=50, fps=25.0,
                           vfr=True, codec="vp9", duration_s=2.0, index=None)
    project.add_instance(v2, 3, user_instance(rng))
    project.add_instance(1, 9, user_instance(rng))
    project.add_instance(1, 2, user_instance(rng))
    project.add_predictions(1, [(4, predicted_instance(rng))], None)
    allv = [(v, f, i.kind.value) for v, f, i in project.iter_instances("all")]
    assert allv == [(1, 2, "user"), (1, 4, "predicted"), (1, 9, "user"), (v2, 3, "user")]
    assert [(v, f) for v, f, _ in project.iter_instances("user", video_id=1)] == [(1, 2), (1, 9)]
    assert [f for _, f, _ in project.iter_instances("predicted")] == [4]
    with pytest.raises(ProjectError, match="unknown instance source"):
        list(project.iter_instances("mine"))  # type: ignore[arg-type]


def test_import_transaction_is_all_or_nothing(project: Project, tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    before = (project.counts(), len(project.videos()), len(project.tracks()))
    with pytest.raises(ProjectError, match="outside video"), project.import_transaction() as w:
        vid = w.add_video(tmp_path / "imgs", width=64, height=64, frame_count=10, fps=1.0,
                          kind="images")
        w.create_track("t")
        for f in range(10):
            w.add_instance(vid, f, user_instance(rng))
        w.add_instance(vid, 10, user_instance(rng))  # out of range: everything rolls back
    assert (project.counts(), len(project.videos()), len(project.tracks())) == before
    with project.import_transaction() as w:
        vid = w.add_video(tmp_path / "imgs", width=64, height=64, frame_count=10, fps=1.0,
                          kind="images")
        added = [w.add_instance(vid, f, user_instance(rng)) for f in range(10)]
    assert project.counts()["user_instances"] == 10
    assert project.frame_arrays(vid).labeled.all()
    assert project.instance(added[3].id).same_values(added[3])
    assert project.video(vid).kind == "images"
    # bulk form with a model run; a colliding explicit id rolls the whole block back
    preds = [(vid, f, predicted_instance(rng)) for f in range(10)]
    with pytest.raises(ProjectError), project.import_transaction() as w:
        run = w.create_model_run(model_path="coco-import:x.json", model_hash="h", providers=(),
                                 params={})
        w.add_instances([*preds, (vid, 0, user_instance(rng, id=added[0].id))])
    assert project.counts()["predicted_instances"] == 0 and project.model_runs() == []
    with project.import_transaction() as w:
        run = w.create_model_run(model_path="coco-import:x.json", model_hash="h", providers=(),
                                 params={})
        assert w.add_instances([(v, f, i.replace(model_run_id=run)) for v, f, i in preds]) == 10
    assert project.frame_arrays(vid).predicted.all()
    got = project.instances(vid, 4, "predicted")[0]
    assert got.model_run_id == run and np.array_equal(got.xy, preds[4][2].xy)


def test_worker_thread_writes_while_gui_thread_reads_and_edits(project: Project) -> None:
    rng = np.random.default_rng(7)
    base = predicted_instance(rng, score=0.5)
    errors: list[BaseException] = []
    run = project.create_model_run(model_path="a", model_hash="1", providers=[], params={})

    def worker() -> None:
        try:
            for b in range(20):
                project.add_predictions(1, [(b * 50 + i, base) for i in range(50)], run)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=worker)
    t.start()
    edits = 0
    while t.is_alive() or edits < 10:
        fa = project.frame_arrays(1)
        n = int(fa.predicted.sum())
        assert n % 50 == 0  # whole batches only: readers never see half a transaction
        inst = project.add_instance(1, 2000 + edits, user_instance(rng))
        project.update_instance(inst.translated(1.0, 0.0))
        edits += 1
    t.join()
    assert not errors
    fa = project.frame_arrays(1)
    assert fa.predicted[:1000].all() and not fa.predicted[1000:].any()
    assert fa.labeled[2000:2000 + edits].all()
    assert project.counts()["predicted_instances"] == 1000


_finite = st.floats(allow_nan=False, allow_infinity=False)
_finite32 = st.floats(allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_instance_round_trips_bit_exact(project: Project, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(list(InstanceKind)))
    inst = Instance(
        xy=np.array(data.draw(st.lists(_finite, min_size=2 * K, max_size=2 * K))).reshape(K, 2),
        visibility=data.draw(st.lists(st.integers(0, 2), min_size=K, max_size=K)),
        kind=kind,
        provenance=data.draw(st.lists(st.integers(0, 3), min_size=K, max_size=K)),
        kp_scores=data.draw(st.none() | st.lists(_finite32, min_size=K, max_size=K)),
        score=data.draw(st.none() | _finite),
        bbox=data.draw(st.none() | st.tuples(_finite, _finite, _finite, _finite)),
        source_id=data.draw(st.none() | st.integers(1, 2**62)),
    )
    frame = data.draw(st.integers(0, N_FRAMES - 1))
    stored = project.add_instance(1, frame, inst)
    got = project.instance(stored.id)
    assert got.same_values(stored)
    assert np.array_equal(got.xy, inst.xy) and got.xy.tobytes() == inst.xy.tobytes()
    if inst.kp_scores is not None:
        assert got.kp_scores is not None and got.kp_scores.tobytes() == inst.kp_scores.tobytes()
    assert project.frame_of_instance(stored.id) == FrameRef(1, frame)
