"""The application layer without Qt: the session, its topics, and the edit verbs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pose_studio.app import editing as ed
from pose_studio.app.session import Session, Topic
from pose_studio.core.annotation import Instance, InstanceKind, Visibility
from pose_studio.core.edits import Edit, StaleEditError
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project

K = 17


def _inst(cx: float, pred: bool = False, score: float = 0.8) -> Instance:
    xy = np.stack([np.linspace(cx - 20, cx + 20, K), np.linspace(10, 90, K)], 1)
    return Instance(xy=xy, visibility=np.full(K, 2, np.uint8),
                    kind=InstanceKind.PREDICTED if pred else InstanceKind.USER,
                    kp_scores=np.full(K, score) if pred else None, score=score if pred else None)


@pytest.fixture
def session(tmp_path: Path):
    p = Project.create(tmp_path / "p.posestudio", COCO17)
    p.add_video(tmp_path / "v.mp4", width=160, height=120, frame_count=50, fps=25.0)
    s = Session(user="tess")
    s.open(p)
    s.set_video(1, 50, 25.0)
    seen: list[tuple[frozenset[Topic], tuple]] = []
    s.subscribe(lambda t, f: seen.append((t, f)))
    s.seen = seen  # type: ignore[attr-defined]
    pixels = np.zeros((120, 160, 3), np.uint8)
    s.show_pixels(0, pixels)
    yield s
    s.close()


def _predict(s: Session, frame: int, *cxs: float) -> list[Instance]:
    p = s.require()
    run = p.create_model_run(model_path="m.onnx", model_hash="x", providers=["CPU"], params={})
    p.add_predictions(1, [(frame, _inst(cx, pred=True)) for cx in cxs], run)
    s.predictions_written(1, [frame])
    return s.visible_predictions()


def test_accept_then_undo_redo_one_read_per_change(session: Session) -> None:
    preds = _predict(session, 0, 40, 120)
    session.seen.clear()
    applied = ed.run(session, ed.accept(session, preds[0].id))
    assert applied is not None and applied.label == "accept prediction"
    (user,) = session.instances(InstanceKind.USER)
    assert user.source_id == preds[0].id and session.selected_instance_id == user.id
    assert [p.id for p in session.visible_predictions()] == [preds[1].id]
    assert session.frames.labeled[0] and session.history.undo_text() == "accept prediction"
    topics = [t for t, _f in session.seen]
    assert Topic.INSTANCES in topics[0] and Topic.HISTORY in topics[0]
    assert session.seen[0][1] == ((1, 0),)
    assert topics[-1] == frozenset({Topic.SELECTION})
    session.undo()
    assert session.instances(InstanceKind.USER) == [] and not session.frames.labeled[0]
    assert session.selected_instance_id is None  # the accepted copy is gone
    session.redo()
    assert session.instances(InstanceKind.USER)[0].same_values(user)


def test_accept_all_is_one_step_with_a_plural_label(session: Session) -> None:
    _predict(session, 0, 30, 80, 130)
    ed.run(session, ed.accept_all(session))
    assert len(session.instances(InstanceKind.USER)) == 3
    assert [s.label for s in session.history.steps] == ["accept 3 predictions"]
    _predict(session, 0, 30, 80, 130)  # a re-run: covered by the labels, nothing to accept
    assert ed.accept_all(session).why == "no predictions to accept on this frame"


def test_move_nudge_merge_and_where_the_user_was(session: Session) -> None:
    a = ed.run(session, ed.add_at(session, (80.0, 60.0), (160.0, 120.0)))
    inst = a.changes[0].after
    assert np.allclose(inst.xy.mean(axis=0), (80, 60))
    ed.run(session, ed.move_keypoint(session, inst.id, 3, 10.0, 11.0))
    assert session.selected_keypoint == 3
    for dx in (1, 1, -1):
        ed.run(session, ed.nudge(session, dx, 0))
    assert [s.label for s in session.history.steps] == ["add instance", "move left_ear",
                                                        "nudge left_ear"]
    assert session.instance(inst.id).xy[3] == pytest.approx((11.0, 11.0))
    session.goto(30)
    assert session.selected_instance_id is None
    session.set_video(1, 50, 25.0)  # the same video again: back where the user was
    assert session.frame_idx == 30


def test_visibility_cycle_keeps_a_position_it_has(session: Session) -> None:
    a = ed.run(session, ed.add_at(session, (80.0, 60.0), (160.0, 120.0)))
    iid = a.changes[0].after.id
    session.select(iid, 5)
    ed.run(session, ed.nudge(session, 3, 0))
    where = session.instance(iid).xy[5].copy()
    for _ in range(3):  # visible -> occluded -> unlabeled -> visible
        ed.run(session, ed.cycle_visibility(session, iid, 5, cursor=(1.0, 2.0)))
    after = session.instance(iid)
    assert after.visibility[5] == Visibility.VISIBLE
    assert after.xy[5] == pytest.approx(where)  # the nudge survived
    # a point without a position goes under the mouse
    vis = np.full(K, 2, np.uint8)
    vis[9] = 0
    xy = _inst(50).xy.copy()
    xy[9] = 0
    ed.run(session, ed.edit_instance(session, after, after.replace(xy=xy, visibility=vis),
                                     "clear"))
    ed.run(session, ed.cycle_visibility(session, iid, 9, cursor=(33.0, 44.0)))
    assert session.instance(iid).xy[9] == pytest.approx((33.0, 44.0))


def test_read_only_and_preview_refuse_edits(session: Session, tmp_path: Path) -> None:
    session.show_pixels(0, np.zeros((120, 160, 3), np.uint8), exact=False)
    assert "preview" in ed.add_at(session, (5.0, 5.0)).why
    path = session.require().path
    session.close()
    ro = Session()
    ro.open(Project.open(path, read_only=True))
    ro.set_video(1, 50, 25.0)
    assert ed.add_at(ro, (5.0, 5.0)).why == "the project is open read-only"
    ro.close()


def test_a_stale_undo_is_dropped_and_said(session: Session) -> None:
    ed.run(session, ed.add_at(session, (80.0, 60.0), (160.0, 120.0)))
    first = session.history.steps[-1]
    ed.run(session, ed.add_at(session, (40.0, 60.0), (160.0, 120.0)))
    second = session.history.steps[-1]
    victim = session.instances()[-1]
    session.require().delete_instance(victim.id)  # another tool removed it
    with pytest.raises(StaleEditError):
        session.undo()
    assert [s.seq for s in session.history.steps] == [first.seq]
    assert "gone" in session.history.dropped[-1]
    assert second.seq not in [s.seq for s in session.require().history()]
    session.undo()  # the older step is still reachable
    assert session.instances() == []


def test_first_edit_on_a_frame_stores_its_fingerprint(session: Session) -> None:
    from pose_studio.video import frame_signature

    pixels = np.full((120, 160, 3), 7, np.uint8)
    session.show_pixels(0, pixels)
    ed.run(session, ed.add_at(session, (80.0, 60.0), (160.0, 120.0)))
    assert session.require().fingerprints(1) == {0: frame_signature(pixels)}


def test_history_is_there_after_reopen(session: Session) -> None:
    ed.run(session, ed.add_at(session, (80.0, 60.0), (160.0, 120.0)))
    ed.run(session, ed.add_at(session, (30.0, 60.0), (160.0, 120.0)))
    session.undo()
    steps = list(session.history.steps)
    path = session.require().path
    session.close()
    again = Session(user=session.user)  # each user's own undo stack
    again.open(Project.open(path))
    assert again.history.steps == steps and again.history.can_undo() and again.history.can_redo()
    again.set_video(1, 50, 25.0)
    again.undo()
    assert again.instances() == []
    again.close()


def test_batch_edit_over_frames_is_one_step(session: Session) -> None:
    edits = [Edit.add(1, f, _inst(60.0 + f), "add") for f in range(10, 50)]
    session.apply(Edit.batch("interpolate 40 frames", edits))
    assert session.frames.labeled[10:50].all() and not session.frames.labeled[:10].any()
    assert [s.label for s in session.history.steps] == ["interpolate 40 frames"]
    assert session.history.steps[0].where() == "video 1 frames 10-49 (40 frames)"
    session.undo()
    assert not session.frames.labeled.any()


def test_the_app_layer_imports_no_qt() -> None:
    code = ("import sys\n"
            "for m in ('PySide6', 'shiboken6', 'pyqtgraph'): sys.modules[m] = None\n"
            "import pkgutil, importlib, pose_studio.app as a\n"
            "for m in pkgutil.walk_packages(a.__path__, 'pose_studio.app.'):\n"
            "    importlib.import_module(m.name)\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_edit_observers_see_each_applied_edit_and_cannot_break_it(session, caplog) -> None:
    """Observers get the edit as stored (ids given), after the view was told; one that fails
    is logged and the edit stands (it is in the store and the history)."""
    got: list[Edit] = []

    def broken(edit: Edit) -> None:
        raise RuntimeError("observer bug")

    session.edit_observers += [broken, got.append]
    done = session.apply(Edit.add(1, 3, _inst(50.0), "add"))
    assert [e is done for e in got] == [True] and done.changes[0].after.id is not None
    assert len(session.project.instances(1, 3)) == 1
    assert session.history.steps[-1].label == "add"
    assert "edit observer" in caplog.text and "observer bug" in caplog.text
    session.undo()
    assert len(got) == 1  # undo is not an applied edit
