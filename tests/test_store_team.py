"""Several annotators on one project (file and PostgreSQL): versions and conflicts under
concurrency, each user's own undo, assignments, copies between the backends."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from pose_studio.cli.main import main
from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.edits import Edit, StaleEditError
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project, ProjectError
from pose_studio.store.copy import copy_project

K = COCO17.num_keypoints


def _inst(seed: int, kind: InstanceKind = InstanceKind.USER) -> Instance:
    rng = np.random.default_rng(seed)
    pred = kind is InstanceKind.PREDICTED
    return Instance(xy=rng.uniform(0, 100, (K, 2)), visibility=np.full(K, 2, np.uint8),
                    kind=kind, kp_scores=rng.uniform(0, 1, K) if pred else None,
                    score=0.6 if pred else None)


@pytest.fixture
def project(tmp_path: Path, project_target: str):
    p = Project.create(project_target, COCO17)
    p.add_video(tmp_path / "v.mp4", width=100, height=100, frame_count=400, fps=25.0)
    yield p
    p.close()


def test_versions_and_who_and_a_stale_edit_names_them(project: Project) -> None:
    a = project.apply_edit(Edit.add(1, 3, _inst(1), "add"), user="ann")
    mine = a.edit.changes[0].after
    assert (mine.version, mine.edited_by) == (1, "ann")
    seen_by_bob = project.instances(1, 3)[0]
    project.apply_edit(Edit.set_instance(1, 3, mine, mine.translated(1, 0), "move"), user="ann")
    stored = project.instances(1, 3)[0]
    assert (stored.version, stored.edited_by) == (2, "ann")
    with pytest.raises(StaleEditError, match=r"changed since by ann \(now version 2; the edit "
                                             r"was made on version 1\)"):
        project.apply_edit(Edit.set_instance(1, 3, seen_by_bob, seen_by_bob.translated(0, 5),
                                             "move"), user="bob")
    assert project.instances(1, 3)[0].same_values(stored)  # nothing of bob's was written


def test_each_user_undoes_only_their_own_steps(project: Project) -> None:
    project.apply_edit(Edit.add(1, 0, _inst(1), "ann adds"), user="ann")
    project.apply_edit(Edit.add(1, 1, _inst(2), "bob adds"), user="bob")
    assert project.undo(user="ann").entry.label == "ann adds"  # not bob's newer step
    assert [f for _v, f, _i in project.iter_instances()] == [1]
    project.apply_edit(Edit.add(1, 2, _inst(3), "bob again"), user="bob")
    # bob's new step dropped only bob's redo list: ann can still redo
    assert project.redo(user="ann").entry.label == "ann adds"
    assert [e.label for e in project.history(10, user="bob")] == ["bob adds", "bob again"]


def test_concurrent_annotators_lose_nothing(project: Project, backend: str) -> None:
    """8 writers edit the same 4 instances from their own (possibly stale) reads: every edit
    is either applied or refused as stale, and the final state is the last applied edit of
    each instance: no lost update, every conflict reported."""
    base = [project.apply_edit(Edit.add(1, f, _inst(f), "seed"), user="seed").edit
            .changes[0].after for f in range(4)]
    ids = [b.id for b in base]
    edits_each = 15 if backend == "sqlite" else 40
    log: list[tuple[int, int, float]] = []  # (instance id, version written, x written)
    refused: list[str] = []
    lock = threading.Lock()

    def annotator(n: int) -> None:
        p = Project.open(project.target) if backend == "postgresql" else project
        rng = np.random.default_rng(n)
        try:
            for _ in range(edits_each):
                i = int(rng.integers(0, 4))
                seen = next(x for x in p.instances(1, i) if x.id == ids[i])
                x = float(rng.uniform(0, 100))
                moved = seen.with_keypoint(0, xy=(x, 1.0))
                try:
                    done = p.apply_edit(Edit.set_instance(1, i, seen, moved, f"a{n}"),
                                        user=f"a{n}")
                except StaleEditError as e:
                    with lock:
                        refused.append(str(e))
                    continue
                after = done.edit.changes[0].after
                with lock:
                    log.append((ids[i], int(after.version), x))
        finally:
            if p is not project:
                p.close()

    threads = [threading.Thread(target=annotator, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(log) + len(refused) == 8 * edits_each
    assert all("changed since" in r or "at the same moment" in r for r in refused)
    for i, iid in enumerate(ids):
        mine = sorted((v, x) for j, v, x in log if j == iid)
        final = project.instance(iid)
        # versions count every applied edit exactly once: none was lost or applied twice
        assert [v for v, _ in mine] == list(range(2, 2 + len(mine)))
        assert final.version == 1 + len(mine)
        if mine:
            assert final.xy[0, 0] == mine[-1][1]
        assert project.frame_arrays(1).labeled[i]


def test_assignments_and_their_progress(project: Project) -> None:
    a = project.assign(1, "ann", (0, 100), note="the first hundred")
    b = project.assign(1, "bob")
    with pytest.raises(ProjectError, match="not a range"):
        project.assign(1, "bob", (300, 500))
    for f in (0, 5, 99, 100):
        project.apply_edit(Edit.add(1, f, _inst(f), "add"), user="ann")
    (mine,) = project.assignments("ann")
    assert (mine.id, mine.frames, mine.labeled, mine.done, mine.note) == (
        a, 100, 3, False, "the first hundred")
    project.mark_done(a)
    assert project.assignments("ann")[0].done
    assert [x.id for x in project.assignments()] == [a, b]
    assert project.assignments("bob")[0].labeled == 4
    assert project.annotators() == ["ann", "bob"]
    project.remove_assignment(b)
    assert project.assignments("bob") == []


def _journal(p: Project) -> list[tuple[object, ...]]:
    from pose_studio.store.journal import entry_edit

    out = []
    for e in p.history():
        payload = entry_edit(p, e.seq) if e.kind == "edit" else None
        out.append((e.seq, e.kind, e.label, e.made_by, e.made_at, e.undone, e.undone_by,
                    e.video_id, e.first_frame, e.last_frame, e.n_instances,
                    None if payload is None else [(c.video_id, c.frame_idx,
                                                   c.before and c.before.id,
                                                   c.after and c.after.id)
                                                  for c in payload.changes]))
    return out


def _coco(target: str, out: Path) -> dict[str, object]:
    assert main(["export", target, "--out", str(out), "--source", "all"]) == 0
    data = json.loads(out.read_text())
    data.get("info", {}).pop("project", None)  # names where it came from
    data.get("info", {}).get("export", {}).pop("project", None)
    return data


@pytest.mark.postgres
def test_copy_file_to_server_and_back_is_lossless(tmp_path: Path, server_url: str) -> None:
    project_target = server_url
    src = tmp_path / "src.posestudio"
    with Project.create(src, COCO17) as p:
        p.add_video(tmp_path / "v.mp4", width=100, height=100, frame_count=50, fps=25.0)
        run = p.create_model_run(model_path="m.onnx", model_hash="h", providers=["cpu"],
                                 params={"batch": 8})
        p.add_predictions(1, [(f, _inst(f, InstanceKind.PREDICTED)) for f in range(20)], run)
        a = p.apply_edit(Edit.add(1, 3, _inst(3), "add"), user="ann").edit.changes[0].after
        p.apply_edit(Edit.set_instance(1, 3, a, a.translated(2, 2), "move"), user="ann")
        p.apply_edit(Edit.add(1, 7, _inst(7), "add"), user="bob")
        p.undo(user="bob")
        doomed = p.add_instance(1, 9, _inst(9))
        p.delete_instance(doomed.id)  # its id must not come back on either side
        p.assign(1, "ann", (0, 10))
    back = tmp_path / "back.posestudio"
    copy_project(src, project_target)
    copy_project(project_target, back)
    with Project.open(src) as p1, Project.open(project_target) as p2, Project.open(back) as p3:
        assert _journal(p1) == _journal(p2) == _journal(p3)
        assert [x.id for x in p1.videos()] == [x.id for x in p3.videos()]
        assert p3.video(1).stored_path == "v.mp4" and p2.video(1).stored_path == str(
            tmp_path / "v.mp4")
        assert p2.assignments()[0].labeled == p1.assignments()[0].labeled == 1
    exported = _coco(str(src), tmp_path / "a.json")
    assert exported == _coco(str(back), tmp_path / "c.json")
    assert exported["annotations"] == _coco(project_target, tmp_path / "b.json")["annotations"]
    with Project.open(project_target) as p2, Project.open(back) as p3:
        for p in (p2, p3):  # ids continue after the source's, never reusing one
            assert p.add_instance(1, 11, _inst(11)).id == doomed.id + 1
        assert p3.redo(user="bob") is not None  # the history works on the copy
    with pytest.raises(ProjectError, match="already"):
        copy_project(src, project_target)


def test_commands_take_a_database_url(tmp_path: Path, project_target: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The same commands on a file and on a server; copy and assign are new ones."""
    assert main(["new", project_target]) == 0
    with Project.open(project_target) as p:
        p.add_video(tmp_path / "v.mp4", width=64, height=48, frame_count=30, fps=10.0)
    assert main(["assign", project_target, "--to", "ann", "--video", "1", "--frames", "0:10",
                 "--note", "start here"]) == 0
    assert main(["assign", project_target]) == 0
    out = capsys.readouterr().out
    assert "ann" in out and "video 1 frames 0-9" in out and "0/10 frames labeled" in out
    assert main(["assign", project_target, "--done", "1"]) == 0
    assert main(["info", project_target, "--json"]) == 0
    copy = tmp_path / "copy.posestudio"
    assert main(["copy", project_target, str(copy)]) == 0
    assert "copied" in capsys.readouterr().out
    assert main(["assign", str(copy), "--json"]) == 0
    (row,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert (row["assignee"], row["done"], row["frames"]) == ("ann", True, 10)
    assert main(["copy", project_target, str(copy)]) == 1  # the target must be new
    assert "already exists" in capsys.readouterr().err


def test_target_reopens_where_location_hides_the_password(tmp_path: Path) -> None:
    """``location`` masks a server URL's password (titles, messages); ``target`` is what opens
    the project again, so a second connection needs no password from the environment."""
    from sqlalchemy.engine import make_url

    from pose_studio.store.project_base import ProjectBase

    p = object.__new__(ProjectBase)
    p._path = tmp_path / "x"
    p._url = make_url("postgresql+psycopg://ann:s3cret@db.example:5433/poses")
    assert "s3cret" not in p.location and "***" in p.location
    assert p.target == "postgresql+psycopg://ann:s3cret@db.example:5433/poses"
    p._url = None
    assert p.target == p.location == str(tmp_path / "x")
