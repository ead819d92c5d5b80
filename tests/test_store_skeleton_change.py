"""Changing the project skeleton: every instance follows, one history step, undo is exact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.edits import Edit, StaleEditError
from pose_studio.core.skeleton import COCO17, Skeleton, SkeletonError
from pose_studio.core.skeleton_edit import NEW, Columns, SkeletonChange, remap, restore
from pose_studio.store import SCHEMA_VERSION, Project, ProjectError
from pose_studio.store import skeleton_change as sc

K = 17


def _inst(seed: int, kind: InstanceKind = InstanceKind.USER, score: float | None = 0.5,
          k: int = K) -> Instance:
    rng = np.random.default_rng(seed)
    pred = kind is InstanceKind.PREDICTED
    return Instance(xy=rng.uniform(0, 100, (k, 2)), visibility=rng.integers(0, 3, k),
                    kind=kind, kp_scores=rng.uniform(0, 1, k).astype(np.float32) if pred else None,
                    score=score if pred else None, provenance=rng.integers(0, 4, k),
                    bbox=(1.0, 2.0, 30.0, 40.0) if seed % 2 else None)


def _edited(before: Skeleton) -> SkeletonChange:
    """Remove left_ear (3), rename nose -> snout, add neck after the nose and mid_hip at the end,
    swap the eyes."""
    names = list(before.keypoints)
    keep = [0, 2, 1, *range(4, K)]  # right_eye before left_eye, no left_ear
    new_names = ["snout", "neck", *[names[i] for i in keep[1:]], "mid_hip"]
    source = (0, NEW, *keep[1:], NEW)
    index = {n: j for j, n in enumerate(new_names)}
    edges = [(index["snout"], index["neck"]), (index["left_shoulder"], index["right_shoulder"])]
    colors = [(255, 0, 0) if n == "snout" else (10, 20, 30) for n in new_names]
    after = Skeleton("coco17-custom", tuple(new_names), tuple(edges),
                     ((index["left_eye"], index["right_eye"]),), colors=tuple(colors))
    return SkeletonChange(before, after, source)


@pytest.fixture
def project(tmp_path: Path):
    p = Project.create(tmp_path / "p.posestudio", COCO17)
    p.add_video(tmp_path / "v.mp4", width=100, height=100, frame_count=50, fps=25.0)
    p.apply_edit(Edit.add(1, 3, [_inst(1), _inst(2)], "add"))
    run = p.create_model_run(model_path="m.onnx", model_hash="x", providers=["CPU"], params={})
    p.add_predictions(1, [(4, _inst(3, InstanceKind.PREDICTED, score=None)),
                          (5, _inst(4, InstanceKind.PREDICTED))], run)
    yield p
    p.close()


def _all(p: Project) -> list[tuple[int, int, Instance]]:
    return list(p.iter_instances("all", run="all"))


def _same(a: list[tuple[int, int, Instance]], b: list[tuple[int, int, Instance]]) -> bool:
    return [(v, f) for v, f, _ in a] == [(v, f) for v, f, _ in b] and all(
        x[2].same_values(y[2]) for x, y in zip(a, b))


def test_change_as_a_value() -> None:
    ch = _edited(COCO17)
    assert ch.removed == (3,) and ch.added == (1, 17)
    assert ch.renamed() == [("nose", "snout")] and ch.moves_keypoints()
    text = ch.describe()
    assert text.startswith("skeleton: add neck, mid_hip; remove left_ear; rename nose → snout; reorder")
    assert "edges" in text and "colours" in text
    assert SkeletonChange.by_name(COCO17, ch.after).source[2:] == ch.source[2:]
    with pytest.raises(SkeletonError, match="two new"):
        SkeletonChange(COCO17, ch.after, (0, 0, *ch.source[2:]))  # nose twice
    with pytest.raises(SkeletonError, match="source for each"):
        SkeletonChange(COCO17, ch.after, (0,))
    rng = np.random.default_rng(0)
    cols = Columns(rng.uniform(0, 9, (4, K, 2)), rng.integers(0, 3, (4, K)).astype(np.uint8),
                   rng.integers(0, 4, (4, K)).astype(np.uint8),
                   rng.uniform(0, 1, (4, K)).astype(np.float32))
    new, gone = remap(ch, cols)
    assert new.xy.shape == (4, K + 1, 2) and gone.xy.shape == (4, 1, 2)
    assert (new.vis[:, 1] == 0).all() and np.array_equal(new.xy[:, 2], cols.xy[:, 2])
    back = restore(ch, new, gone)
    for a, b in zip((back.xy, back.vis, back.prov, back.kps), (cols.xy, cols.vis, cols.prov,
                                                               cols.kps)):
        assert np.array_equal(a, b)


def test_apply_undo_redo_reopen(project: Project) -> None:
    before = _all(project)
    arrays = project.frame_arrays(1)
    ch = _edited(COCO17)
    done = sc.apply_change(project, ch, user="erin")
    assert done.entry.kind == "skeleton" and done.entry.made_by == "erin"
    assert done.entry.label == ch.describe() and done.entry.where() == "the project"
    assert project.skeleton == ch.after
    after = _all(project)
    for (_v, _f, old), (_v2, _f2, new) in zip(before, after):
        assert new.id == old.id and new.num_keypoints == K + 1 and new.kind is old.kind
        assert np.array_equal(new.xy[0], old.xy[0]) and np.array_equal(new.xy[2], old.xy[2])
        assert np.array_equal(new.xy[3], old.xy[1])  # left_eye moved after right_eye
        assert new.visibility[1] == 0 and new.provenance[1] == 0  # neck: unlabeled
        assert (new.kp_scores is None) == (old.kp_scores is None)
    # the scoreless prediction's summary follows its labeled keypoints (left_ear gone, neck 0)
    pred = next(i for _v, f, i in after if f == 4)
    assert project.frame_arrays(1).min_score[4] == pytest.approx(pred.mean_score(), rel=1e-6)
    # edits now need the new layout, and an undo of this edit, then of the change, is exact
    moved = after[0][2].with_keypoint(1, xy=(5.0, 6.0), visibility=2)
    project.apply_edit(Edit.set_instance(1, 3, after[0][2], moved, "move neck"))
    with pytest.raises(ProjectError, match="keypoints"):
        project.apply_edit(Edit.add(1, 9, _inst(9), "old layout"))
    project.undo()
    project.undo(user="erin")  # each user undoes their own steps
    assert project.skeleton == COCO17 and _same(_all(project), before)
    back = project.frame_arrays(1)
    assert np.array_equal(back.min_score, arrays.min_score, equal_nan=True)
    project.redo(user="erin")
    assert project.skeleton == ch.after and _same(_all(project), after)
    path = project.path
    project.close()
    with Project.open(path) as p:
        assert p.skeleton == ch.after and _same(_all(p), after)
        assert [e.kind for e in p.history()] == ["edit", "skeleton", "edit"]
        assert p.history()[-1].undone
        p.undo(user="erin")
        assert p.skeleton == COCO17 and _same(_all(p), before)
    with Project.open(path) as p:
        assert p.skeleton == COCO17


def test_refusals_write_nothing(project: Project, tmp_path: Path) -> None:
    before = _all(project)
    with pytest.raises(ProjectError, match="unchanged"):
        sc.apply_change(project, SkeletonChange(COCO17, COCO17, tuple(range(K))))
    ch = _edited(COCO17)
    sc.apply_change(project, ch)
    with pytest.raises(StaleEditError, match="changed since"):
        sc.apply_change(project, ch)  # made against the old skeleton
    project.undo()
    assert _same(_all(project), before) and len(project.history()) == 2
    path = project.path
    project.close()
    with Project.open(path, read_only=True) as ro, pytest.raises(ProjectError, match="read-only"):
        sc.apply_change(ro, ch)
    with Project.open(path) as p:
        assert p.skeleton == COCO17 and _same(_all(p), before)


def test_import_before_a_change_still_undoes(project: Project) -> None:
    """The change keeps the rows' times, so the import's step still recognises its rows."""
    with project.import_transaction("import") as w:
        w.add_instances([(1, 20 + f, _inst(40 + f)) for f in range(3)])
    start = _all(project)
    sc.apply_change(project, _edited(COCO17))
    project.undo()
    assert _same(_all(project), start)
    project.undo()  # the import
    assert all(f < 20 for _v, f, _i in _all(project))


def test_predictions_made_after_the_change_come_back_unlabeled_where_removed(
        project: Project) -> None:
    ch = _edited(COCO17)
    sc.apply_change(project, ch)
    run = project.create_model_run(model_path="n.onnx", model_hash="y", providers=["CPU"],
                                   params={})
    new = _inst(7, InstanceKind.PREDICTED, k=K + 1)
    project.add_predictions(1, [(30, new)], run)
    project.undo()
    (got,) = [i for _v, f, i in _all(project) if f == 30]
    assert got.num_keypoints == K and got.visibility[3] == 0  # left_ear: it never had one
    assert np.array_equal(got.xy[1], new.xy[3]) and np.array_equal(got.xy[0], new.xy[0])


def test_labeled_counts(project: Project) -> None:
    users, preds = sc.labeled_counts(project)
    insts = [i for _v, _f, i in _all(project)]
    assert users.tolist() == sum((i.visibility > 0).astype(int) for i in insts
                                 if not i.is_prediction).tolist()
    assert preds.sum() == sum(int((i.visibility > 0).sum()) for i in insts if i.is_prediction)


def test_payload_is_checked(project: Project) -> None:
    ch = _edited(COCO17)
    blob = sc.encode(ch, np.array([5]), Columns(np.ones((1, 1, 2)), np.ones((1, 1), np.uint8),
                                                np.zeros((1, 1), np.uint8),
                                                np.zeros((1, 1), np.float32)))
    change, ids, cols = sc.decode(blob)
    assert change.after == ch.after and ids.tolist() == [5] and cols.xy.shape == (1, 1, 2)
    for bad in (b"nope", blob[:-9], sc.MAGIC + b"\x78\x9c garbage"):
        with pytest.raises(ProjectError, match="damaged"):
            sc.decode(bad)


def test_a_version_8_file_takes_skeleton_steps(project: Project) -> None:
    """The upgrade rebuilds the journal with its rows and its seq counter."""
    project.apply_edit(Edit.add(1, 7, _inst(5), "b"))
    project.undo()
    path = project.path
    project.close()
    con = sqlite3.connect(path)  # back to the version-8 journal table (kind edit or import)
    con.executescript(
        "DELETE FROM edit_journal WHERE undone = 1;"
        "CREATE TABLE j7 AS SELECT * FROM edit_journal; DROP TABLE edit_journal;"
        "CREATE TABLE edit_journal (seq INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "
        "kind VARCHAR NOT NULL, label TEXT NOT NULL, made_by TEXT NOT NULL, "
        "made_at FLOAT NOT NULL, undone INTEGER NOT NULL, undone_by TEXT, undone_at FLOAT, "
        "video_id INTEGER, first_frame INTEGER, last_frame INTEGER, n_frames INTEGER NOT NULL, "
        "n_instances INTEGER NOT NULL, merge_key TEXT, payload BLOB NOT NULL, stash BLOB, "
        "CONSTRAINT journal_kind CHECK (kind IN ('edit', 'import')), "
        "CONSTRAINT journal_undone CHECK (undone IN (0, 1)));"
        "INSERT INTO edit_journal SELECT * FROM j7; DROP TABLE j7;"
        "UPDATE sqlite_sequence SET seq = 2 WHERE name = 'edit_journal';"
        "UPDATE schema_version SET version = 8;"
        # and without what version 10 added (several annotators)
        "DROP TABLE assignments; DROP TABLE run_chunks;"
        "ALTER TABLE instances DROP COLUMN version; ALTER TABLE instances DROP COLUMN edited_by;")
    with pytest.raises(sqlite3.IntegrityError):
        con.execute("INSERT INTO edit_journal (kind, label, made_by, made_at, undone, n_frames, "
                    "n_instances, payload) VALUES ('skeleton', '', '', 0, 0, 0, 0, x'')")
    con.close()
    with Project.open(path) as p:
        assert [e.label for e in p.history()] == ["add"]
        sc.apply_change(p, _edited(COCO17))
        assert [e.seq for e in p.history()] == [1, 3]  # seq 2 is never handed out again
        p.undo()
        p.undo()
        assert [f for _v, f, _i in p.iter_instances("all", run="all")] == [4, 5]
        assert p.skeleton == COCO17
    con = sqlite3.connect(path)
    assert con.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    con.close()
