"""The per-edit path (both backends; on a server, pipelined: ``server_pipe.py``): summaries
stay exact when an update skips their refresh, a refused edit leaves nothing and the next one
goes through, and an idle pooled connection the server dropped is replaced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.edits import Edit, StaleEditError
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project, server

K = COCO17.num_keypoints


@pytest.fixture
def project(tmp_path: Path, project_target: str):
    p = Project.create(project_target, COCO17)
    p.add_video(tmp_path / "v.mp4", width=100, height=100, frame_count=50, fps=25.0)
    yield p
    p.close()


def _pred(score: float) -> Instance:
    return Instance(xy=np.full((K, 2), 10.0), visibility=np.full(K, 2, np.uint8),
                    kind=InstanceKind.PREDICTED, kp_scores=np.full(K, score, np.float32))


def test_summaries_follow_what_they_count_and_skip_what_they_do_not(project: Project) -> None:
    user = project.apply_edit(Edit.add(1, 2, Instance(
        xy=np.full((K, 2), 5.0), visibility=np.full(K, 2, np.uint8)), "add"), user="a")
    pred = project.apply_edit(Edit.add(1, 3, _pred(0.5), "add"), user="a")
    u = user.edit.changes[0].after
    moved = project.apply_edit(Edit.set_instance(1, 2, u, u.translated(3, 0), "move"), user="a")
    assert moved.frames == ((1, 2),)  # a quiet update is still announced
    p = pred.edit.changes[0].after
    project.apply_edit(Edit.set_instance(1, 3, p, p.replace(kp_scores=np.full(
        K, 0.25, np.float32)), "rescore"), user="a")  # the score is counted: refreshed
    arrays = project.frame_arrays(1)
    assert arrays.labeled[2] and not arrays.labeled[3]
    assert arrays.predicted[3] and arrays.mean_score[3] == pytest.approx(0.25)
    cur = project.instances(1, 3)[0]
    project.apply_edit(Edit.set_instance(1, 3, cur, cur.replace(kind=InstanceKind.USER),
                                         "accept"), user="a")  # kind changes: refreshed
    arrays = project.frame_arrays(1)
    assert arrays.labeled[3] and not arrays.predicted[3]


def test_a_refused_edit_leaves_nothing_and_the_next_goes_through(project: Project) -> None:
    first = project.apply_edit(Edit.add(1, 0, Instance(
        xy=np.full((K, 2), 5.0), visibility=np.full(K, 2, np.uint8)), "add"), user="a")
    old = first.edit.changes[0].after
    project.apply_edit(Edit.set_instance(1, 0, old, old.translated(1, 0), "move"), user="a")
    steps = len(project.history())
    for _ in range(8):  # past psycopg's prepare threshold: statements stay usable
        with pytest.raises(StaleEditError):
            project.apply_edit(Edit.set_instance(1, 0, old, old.translated(0, 9), "late"),
                               user="b")
    assert len(project.history()) == steps
    now = project.instances(1, 0)[0]
    assert now.xy[0, 0] == pytest.approx(6.0) and now.version == 2
    done = project.apply_edit(Edit.set_instance(1, 0, now, now.translated(0, 1), "ok"),
                              user="b")
    assert done.edit.changes[0].after.version == 3
    assert project.instances(1, 0)[0].version == 3


@pytest.mark.postgres
def test_a_dropped_idle_connection_is_replaced(tmp_path: Path, server_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    project = Project.create(server_url, COCO17)  # a file has no connection to drop
    project.add_video(tmp_path / "v.mp4", width=100, height=100, frame_count=50, fps=25.0)
    added = project.apply_edit(Edit.add(1, 0, Instance(
        xy=np.full((K, 2), 5.0), visibility=np.full(K, 2, np.uint8)), "add"), user="a")
    monkeypatch.setattr(server, "IDLE_PING_S", 0.0)  # every pooled connection counts as idle
    url = project._url
    assert url is not None
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                     "datname = current_database() AND pid <> pg_backend_pid()")
    inst = project.instance(added.edit.changes[0].after.id)  # no error: a new connection
    project.apply_edit(Edit.set_instance(1, 0, inst, inst.translated(1, 0), "move"), user="a")
    assert project.instances(1, 0)[0].version == 2
    project.close()


def test_an_edit_on_an_older_version_with_the_same_values_applies(project: Project) -> None:
    """The before state matches by value but names an older version (moved away and back):
    the update queued ahead for that version matched nothing, the one sent after it does."""
    first = project.apply_edit(Edit.add(1, 0, Instance(
        xy=np.full((K, 2), 5.0), visibility=np.full(K, 2, np.uint8)), "add"), user="a")
    v1 = first.edit.changes[0].after
    v2 = project.apply_edit(Edit.set_instance(1, 0, v1, v1.translated(1, 0), "there"),
                            user="a").edit.changes[0].after
    project.apply_edit(Edit.set_instance(1, 0, v2, v2.translated(-1, 0), "back"), user="a")
    done = project.apply_edit(Edit.set_instance(1, 0, v1, v1.translated(0, 2), "late"),
                              user="b")
    assert done.edit.changes[0].after.version == 4
    stored = project.instances(1, 0)[0]
    assert stored.version == 4 and stored.xy[0, 1] == pytest.approx(7.0)


def test_one_edit_of_several_instances_writes_each_once(project: Project) -> None:
    added = [project.apply_edit(Edit.add(1, f, Instance(
        xy=np.full((K, 2), float(f)), visibility=np.full(K, 2, np.uint8)), "add"),
        user="a").edit.changes[0].after for f in range(3)]
    edit = Edit.batch("move all", [Edit.set_instance(1, f, a, a.translated(1, 1), "m")
                                   for f, a in enumerate(added)])
    done = project.apply_edit(edit, user="a")
    assert [c.after.version for c in done.edit.changes] == [2, 2, 2]
    assert [i.version for f in range(3) for i in project.instances(1, f)] == [2, 2, 2]
    assert [i.xy[0, 0] for f in range(3) for i in project.instances(1, f)] == [1.0, 2.0, 3.0]
    assert project.undo(user="a").entry.label == "move all"
    assert [i.xy[0, 0] for f in range(3) for i in project.instances(1, f)] == [0.0, 1.0, 2.0]
