"""The edit journal: one transaction per edit, undo/redo across reopen, who and when, imports."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.edits import Edit, StaleEditError
from pose_studio.core.skeleton import COCO17
from pose_studio.store import SCHEMA_VERSION, Project, ProjectError
from pose_studio.store import journal as jr
from pose_studio.store.edit_codec import decode_edit, encode_edit
from tests.support.backends import raw_execute
from tests.support.old_projects import old_project

K = 17


def _inst(seed: int, kind: InstanceKind = InstanceKind.USER) -> Instance:
    rng = np.random.default_rng(seed)
    pred = kind is InstanceKind.PREDICTED
    return Instance(xy=rng.uniform(0, 100, (K, 2)), visibility=rng.integers(0, 3, K),
                    kind=kind, kp_scores=rng.uniform(0, 1, K) if pred else None,
                    score=0.5 if pred else None, bbox=(1.0, 2.0, 30.0, 40.0) if seed % 2 else None)


@pytest.fixture
def project(tmp_path: Path, project_target: str):
    p = Project.create(project_target, COCO17)
    p.add_video(tmp_path / "v.mp4", width=100, height=100, frame_count=50, fps=25.0)
    yield p
    p.close()


def _all(p: Project) -> list[tuple[int, int, Instance]]:
    return list(p.iter_instances("all"))


def test_edit_undo_redo_and_who(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(jr.USER_ENV, "alice")
    a = project.apply_edit(Edit.add(1, 3, [_inst(1), _inst(2)], "add 2 instances"))
    assert a.frames == ((1, 3),) and a.edit is not None
    added = [c.after for c in a.edit.changes]
    assert all(i is not None and i.id is not None for i in added)
    (entry,) = project.history()
    assert (entry.label, entry.made_by, entry.kind, entry.undone) == (
        "add 2 instances", "alice", "edit", False)
    assert entry.where() == "video 1 frame 3" and entry.n_instances == 2
    moved = added[0].with_keypoint(0, xy=(5.0, 6.0))  # type: ignore[union-attr]
    project.apply_edit(Edit.set_instance(1, 3, added[0], moved, "move nose"), user="bob")
    assert project.instance(moved.id).same_values(moved)
    # each annotator undoes their own steps: carol has none, bob's undo takes his move back
    assert project.undo(user="carol") is None
    undone = project.undo(user="bob")
    assert undone is not None and undone.entry.label == "move nose"
    assert undone.entry.undone and undone.entry.undone_by == "bob"
    assert project.instance(moved.id).same_values(added[0])
    project.undo()  # alice's (the environment's user) add
    assert _all(project) == [] and project.frame_arrays(1).labeled.sum() == 0
    assert project.undo() is None
    project.redo()
    assert project.redo() is None  # alice has nothing more to redo; bob has
    project.redo(user="bob")
    assert project.instance(moved.id).same_values(moved)
    assert project.redo(user="bob") is None
    assert [e.made_by for e in project.history()] == ["alice", "bob"]


def test_a_new_edit_drops_the_redo_list(project: Project) -> None:
    project.apply_edit(Edit.add(1, 0, _inst(1), "a"))
    project.apply_edit(Edit.add(1, 1, _inst(2), "b"))
    project.undo()
    project.apply_edit(Edit.add(1, 2, _inst(3), "c"))
    assert [(e.label, e.undone) for e in project.history()] == [("a", False), ("c", False)]


def test_history_and_undo_survive_reopen(tmp_path: Path, project: Project) -> None:
    project.apply_edit(Edit.add(1, 7, _inst(4), "add instance"))
    applied = project.apply_edit(Edit.add(1, 8, _inst(5), "add another"))
    project.undo()
    before = project.history()
    path = project.target
    project.close()
    with Project.open(path) as again:
        assert again.history() == before
        again.redo()
        assert again.instances(1, 8)[0].same_values(applied.edit.changes[0].after)
        again.undo()
        again.undo()
        assert _all(again) == []


def test_a_stale_edit_is_refused_and_writes_nothing(project: Project) -> None:
    a = project.apply_edit(Edit.add(1, 3, _inst(1), "add"))
    inst = a.edit.changes[0].after
    project.update_instance(inst.with_keypoint(2, xy=(1.0, 1.0)))  # outside the history
    stale = Edit.set_instance(1, 3, inst, inst.with_keypoint(4, xy=(9.0, 9.0)), "move eye")
    with pytest.raises(StaleEditError, match="was changed since"):
        project.apply_edit(stale)
    assert len(project.history()) == 1
    assert project.instance(inst.id).xy[4] == pytest.approx(inst.xy[4])
    project.delete_instance(inst.id)
    with pytest.raises(StaleEditError, match=r"undo 'add'.*gone"):
        project.undo()
    assert not project.history()[0].undone


def test_a_failing_change_rolls_the_whole_batch_back(project: Project) -> None:
    ok = Edit.add(1, 3, _inst(1), "one")
    bad = Edit.add(1, 99, _inst(2), "outside the video")
    with pytest.raises(ProjectError, match="frame 99"):
        project.apply_edit(Edit.batch("both", [ok, bad]))
    assert _all(project) == [] and project.history() == []


def test_nudges_merge_into_one_step(project: Project) -> None:
    a = project.apply_edit(Edit.add(1, 0, _inst(1), "add"))
    inst = a.edit.changes[0].after
    seq = None
    cur = inst
    for dx in (1.0, 1.0, -3.0):
        nxt = cur.with_keypoint(5, xy=(cur.xy[5, 0] + dx, cur.xy[5, 1]))
        r = project.apply_edit(Edit.set_instance(1, 0, cur, nxt, "nudge", merge_key="n:5"),
                               merge_into=seq)
        seq = r.entry.seq
        cur = nxt
    assert [e.label for e in project.history()] == ["add", "nudge"]
    project.undo()
    assert project.instance(inst.id).same_values(inst)


def test_codec_roundtrip_and_damage(project: Project) -> None:
    pred = _inst(3, InstanceKind.PREDICTED).replace(id=12, track_id=None, model_run_id=None)
    user = _inst(4).replace(id=13, source_id=12)
    e = Edit.batch("x", [Edit.delete(1, 2, pred, "d"), Edit.add(1, 2, user, "a"),
                         Edit.set_instance(1, 5, user, user.translated(1, 2), "s")])
    assert decode_edit(encode_edit(e)).equals(e)
    with pytest.raises(ProjectError, match="damaged"):
        decode_edit(b"PSE1garbage")
    with pytest.raises(ProjectError, match="damaged"):
        decode_edit(encode_edit(e)[:-20])
    project.apply_edit(Edit.add(1, 0, _inst(1), "add"))
    raw_execute(project, "UPDATE edit_journal SET payload = ?", (b"\x00",))
    with pytest.raises(ProjectError, match="damaged"):
        project.undo()


def test_an_import_is_one_step(project: Project, tmp_path: Path) -> None:
    project.apply_edit(Edit.add(1, 0, _inst(1), "label"))
    with project.import_transaction("import poses.json", user="dave") as w:
        vid = w.add_video(tmp_path / "imgs", width=64, height=48, frame_count=5, fps=1.0,
                          index=b"idx", kind="images")
        w.add_instances([(1, f, _inst(10 + f)) for f in range(4)]
                        + [(vid, 2, _inst(30, InstanceKind.PREDICTED))])
        w.set_fingerprints(vid, {2: b"\x01" * 20})
    hist = project.history()
    assert [(e.kind, e.label, e.made_by, e.n_instances) for e in hist[1:]] == [
        ("import", "import poses.json", "dave", 5)]
    after = _all(project)
    project.undo(user="dave")  # dave's step (each user undoes their own)
    assert [(v, f) for v, f, _ in _all(project)] == [(1, 0)]
    assert [v.id for v in project.videos()] == [1]
    project.redo(user="dave")
    again = _all(project)
    assert [(v, f, i.id) for v, f, i in again] == [(v, f, i.id) for v, f, i in after]
    assert all(a[2].same_values(b[2]) for a, b in zip(after, again))
    assert project.video_index(vid) == b"idx" and project.fingerprints(vid) == {2: b"\x01" * 20}
    assert project.frame_arrays(vid).predicted[2] and project.frame_arrays(1).labeled[3]
    # an import's rows changed since: its undo is refused, nothing moves
    (_v, _f, first) = next(t for t in again if t[1] == 1 and t[0] == 1)
    project.update_instance(first.translated(1, 1))
    with pytest.raises(StaleEditError, match="changed or deleted"):
        project.undo(user="dave")
    assert len(_all(project)) == 6


def test_add_video_alone_is_not_a_step(project: Project, tmp_path: Path) -> None:
    with project.import_transaction() as w:
        w.add_video(tmp_path / "w.mp4", width=8, height=8, frame_count=3, fps=1.0)
    assert project.history() == []


def _make_v4(path: Path) -> None:
    with old_project(path, 4):
        pass


def _journal_ddl(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        cols = con.execute("PRAGMA table_info(edit_journal)").fetchall()
        return repr([(c[1], c[2], c[3], c[5]) for c in cols])
    finally:
        con.close()


def test_an_older_file_gets_an_empty_journal(tmp_path: Path) -> None:
    old = tmp_path / "old.posestudio"
    _make_v4(old)
    with Project.open(old) as p:
        assert p.history() == []
        p.apply_edit(Edit.add(1, 4, _inst(1), "add"))
        p.undo()
    con = sqlite3.connect(old)
    assert con.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    con.close()
    fresh = tmp_path / "new.posestudio"
    Project.create(fresh, COCO17).close()
    assert _journal_ddl(old) == _journal_ddl(fresh)


def test_read_only_project_refuses_edits_and_undo(project: Project, tmp_path: Path) -> None:
    project.apply_edit(Edit.add(1, 0, _inst(1), "add"))
    path = project.target
    project.close()
    with Project.open(path, read_only=True) as ro:
        assert len(ro.history()) == 1
        with pytest.raises(ProjectError, match="read-only"):
            ro.undo()
        with pytest.raises(ProjectError, match="read-only"):
            ro.apply_edit(Edit.add(1, 1, _inst(2), "add"))


def test_undoing_a_new_model_run_shows_the_previous_run_again(tmp_path: Path) -> None:
    """Undo of a step that brought a model run (an import of results, a smoothed copy) must not
    leave the video showing a run with nothing in it; redo shows the new run again."""
    from pose_studio.labeling.project_io import write_new_run

    def preds(shift: float) -> list[tuple[int, Instance]]:
        return [(f, Instance(xy=np.full((17, 2), 10.0 + shift), visibility=np.full(17, 2),
                             kind=InstanceKind.PREDICTED, kp_scores=np.full(17, 0.9), score=0.9))
                for f in range(5)]

    with Project.create(tmp_path / "p.posestudio", COCO17) as p:
        vid = p.add_video(tmp_path / "v.mp4", width=64, height=64, frame_count=5, fps=5.0)
        first = p.create_model_run(model_path="m.onnx", model_hash="h", providers=[], params={})
        p.add_predictions(vid, preds(0.0), first)
        second = write_new_run(p, vid, preds(1.0), model_path="m.onnx", model_hash="",
                               params={}, label="smooth")
        assert p.shown_runs(vid).run_id == second
        p.undo()
        assert p.shown_runs(vid).run_id == first
        assert p.frame_arrays(vid).predicted.sum() == 5  # the timeline shows the first run
        p.redo()
        assert p.shown_runs(vid).run_id == second
        assert p.frame_arrays(vid).predicted.sum() == 5
