"""Model runs side by side: every run's predictions are kept, a video shows its newest run (or
the one chosen) and the frame summaries, ``instances`` and exports follow it; accepted labels
keep their link; old files are migrated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.skeleton import COCO17
from pose_studio.inference.pipeline import stream_to_project
from pose_studio.inference.results import FrameResult
from pose_studio.store import SCHEMA_VERSION, Project, ProjectError
from pose_studio.store.codec import INSERT_COLUMNS, instance_row
from tests.support.old_projects import old_project

K = 17


def pred(x: float, score: float = 0.8) -> Instance:
    xy = np.stack([np.full(K, x), np.linspace(10, 90, K)], 1)
    return Instance(xy=xy, visibility=np.full(K, 2, np.uint8), kind=InstanceKind.PREDICTED,
                    kp_scores=np.full(K, score, np.float32), score=score,
                    bbox=(x - 5, 5, 10, 90))


@pytest.fixture
def project(tmp_path: Path, project_target: str) -> Project:
    p = Project.create(project_target, COCO17)
    p.add_video(tmp_path / "v.mp4", width=640, height=480, frame_count=600, fps=30.0,
                vfr=False, codec="h264", duration_s=20.0, index=None)
    yield p
    p.close()


def _run(p: Project, name: str) -> int:
    return p.create_model_run(model_path=f"/m/{name}.onnx", model_hash=name, providers=["cpu"],
                              params={"pose": {"name": name}})


def test_runs_are_kept_and_the_newest_is_shown(project: Project) -> None:
    r1, r2 = _run(project, "old"), _run(project, "retrained")
    project.add_predictions(1, [(f, pred(10.0)) for f in range(0, 300)], r1)
    accepted = project.add_instance(1, 5, project.instances(1, 5, "predicted")[0].as_user_copy())
    assert project.shown_runs(1).run_id == r1
    project.add_predictions(1, [(f, pred(20.0)) for f in range(100, 400)], r2)
    # both runs are there; the newest is shown, and arrays/instances/exports follow it
    s = project.shown_runs(1)
    assert (s.run_id, s.pinned) == (r2, False)
    fa = project.frame_arrays(1)
    assert fa.predicted[100:400].all() and not fa.predicted[:100].any()
    assert [i.model_run_id for i in project.instances(1, 150, "predicted")] == [r2]
    assert len(project.instances(1, 150, "predicted", run="all")) == 2
    assert project.instances(1, 50, "predicted", run=r1)[0].xy[0, 0] == 10.0
    shown = {i.model_run_id for _, _, i in project.iter_instances("predicted")}
    assert shown == {r2}
    assert {i.model_run_id for _, _, i in project.iter_instances("predicted", run="all")} == \
        {r1, r2}
    # the label accepted from run 1 keeps its link: the prediction is still there
    src = project.instance(accepted.source_id)  # type: ignore[arg-type]
    assert src.model_run_id == r1 and src.is_prediction
    infos = {i.run_id: i for i in project.run_infos(1)}
    assert (infos[r1].frames, infos[r2].frames) == (300, 300)
    assert infos[r2].model_name == "retrained" and infos[r1].last_frame == 299


def test_the_user_picks_a_run_and_a_second_one(project: Project) -> None:
    r1, r2 = _run(project, "a"), _run(project, "b")
    project.add_predictions(1, [(f, pred(10.0, 0.4)) for f in range(0, 10)], r1)
    project.add_predictions(1, [(f, pred(20.0, 0.9)) for f in range(5, 20)], r2)
    s = project.set_shown_runs(1, r1, compare=r2)
    assert (s.run_id, s.compare_run_id, s.pinned) == (r1, r2, True)
    fa = project.frame_arrays(1)
    assert fa.predicted[:10].all() and not fa.predicted[10:].any()
    assert fa.mean_score[3] == pytest.approx(0.4)
    fb = project.run_frame_arrays(1, r2)  # the second run's timeline
    assert np.flatnonzero(fb.predicted).tolist() == list(range(5, 20))
    assert fb.mean_score[7] == pytest.approx(0.9) and len(fb) == 600
    # a newer run does not take over a pinned choice
    r3 = _run(project, "c")
    project.add_predictions(1, [(f, pred(30.0)) for f in range(0, 3)], r3)
    assert project.shown_runs(1).run_id == r1 and project.frame_arrays(1).predicted[:10].all()
    # "newest" follows the newest run again
    s = project.set_shown_runs(1, "newest")
    assert (s.run_id, s.pinned, s.compare_run_id) == (r3, False, r2)
    assert project.frame_arrays(1).predicted.sum() == 3
    with pytest.raises(ProjectError, match=r"no model run 99 .*runs with predictions there: "):
        project.set_shown_runs(1, 99)
    assert project.shown_runs(1).run_id == r3  # nothing changed
    project.set_shown_runs(1, r2, compare=None)
    assert project.shown_runs(1).compare_run_id is None


def test_deleting_a_run_falls_back_to_the_newest_left(project: Project) -> None:
    r1, r2 = _run(project, "a"), _run(project, "b")
    project.add_predictions(1, [(1, pred(10.0))], r1)
    project.add_predictions(1, [(2, pred(20.0))], r2)
    assert project.delete_predictions(1, run=r2) == 1
    assert project.shown_runs(1).run_id == r1 and project.frame_arrays(1).predicted[1]
    assert project.delete_predictions(1) == 1
    assert project.shown_runs(1).run_id is None and not project.frame_arrays(1).predicted.any()


def test_a_runs_empty_frames_drop_only_its_own_predictions(project: Project) -> None:
    r1, r2 = _run(project, "a"), _run(project, "b")
    project.add_predictions(1, [(f, pred(10.0)) for f in range(4)], r1)
    project.add_predictions(1, [(f, pred(20.0)) for f in range(4)], r2)
    results = [FrameResult(f, (pred(30.0),) if f % 2 else ()) for f in range(4)]
    stream_to_project(project, 1, results, r2)
    assert [len(project.instances(1, f, "predicted", run=r1)) for f in range(4)] == [1] * 4
    assert [len(project.instances(1, f, "predicted")) for f in range(4)] == [0, 1, 0, 1]
    assert project.instances(1, 1, "predicted")[0].xy[0, 0] == 30.0  # replaced in its run


def test_interactive_and_imported_predictions_follow_the_newest(project: Project) -> None:
    r1, r2 = _run(project, "batch"), _run(project, "live")
    project.add_predictions(1, [(f, pred(10.0)) for f in range(5)], r1)
    project.add_instance(1, 7, pred(20.0).replace(model_run_id=r2))  # one prediction, run 2
    assert project.shown_runs(1).run_id == r2
    assert np.flatnonzero(project.frame_arrays(1).predicted).tolist() == [7]
    with project.import_transaction() as w:
        r3 = w.create_model_run(model_path="results.json", model_hash="", providers=[],
                                params={})
        w.add_instances([(1, 9, pred(40.0).replace(model_run_id=r3))])
    assert project.shown_runs(1).run_id == r3
    assert np.flatnonzero(project.frame_arrays(1).predicted).tolist() == [9]


def test_a_v4_file_is_migrated_to_its_newest_run(tmp_path: Path) -> None:
    """Before format 5 a new run replaced the predictions on the frames it predicted: runs
    lived on different frames and every prediction was counted. The upgrade keeps them all
    and shows the newest run."""
    assert SCHEMA_VERSION >= 5
    path = tmp_path / "v4.posestudio"
    with old_project(path, 4, size=(640, 480)) as conn:
        for run in (1, 2):
            conn.exec_driver_sql("INSERT INTO model_runs (model_path, model_hash, "
                                 "providers_json, params_json, created_at) "
                                 "VALUES (?, '', '[]', '{}', 0)", (f"m{run}.onnx",))
        rows = [instance_row(pred(10.0), 1, f, 0.0, model_run_id=1, new_id=True)
                for f in range(0, 10)]
        rows += [instance_row(pred(20.0), 1, f, 0.0, model_run_id=2, new_id=True)
                 for f in range(10, 15)]
        cols = INSERT_COLUMNS[:20]  # format 4 had no version and edited_by
        conn.exec_driver_sql(f"INSERT INTO instances ({', '.join(cols)}) VALUES "
                             f"({', '.join('?' * len(cols))})", [r[:20] for r in rows])
        from pose_studio.store import summary

        summary.rebuild_all(conn)  # as format 4 kept them: every prediction counted
    with Project.open(path) as p:
        assert p.shown_runs(1).run_id == 2
        fa = p.frame_arrays(1)
        assert np.flatnonzero(fa.predicted).tolist() == list(range(10, 15))
        assert len(list(p.iter_instances("predicted", run="all"))) == 15
        assert {i.run_id: i.frames for i in p.run_infos()} == {1: 10, 2: 5}
