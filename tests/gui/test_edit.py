"""Editing through the window with real input events; every edit is in the store and undoable."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from pose_studio.core.annotation import Instance, InstanceKind, Visibility
from tests.gui.conftest import open_fake, wait_frame

pytestmark = pytest.mark.gui

K = 17


def _pose(cx: float, cy: float) -> np.ndarray:
    rng = np.random.default_rng(int(cx * 7 + cy))
    return np.stack([cx + rng.uniform(-25, 25, K), cy + rng.uniform(-35, 35, K)], axis=1)


def _add_user(win, frame: int, cx: float = 80.0, cy: float = 60.0, vis=None) -> Instance:
    v = np.full(K, 2, np.uint8) if vis is None else np.asarray(vis, np.uint8)
    inst = Instance(xy=_pose(cx, cy), visibility=v)
    return win.doc.add_instance(win.doc.video_id, frame, inst)


def _add_predictions(win, frame: int, n: int = 2) -> list[Instance]:
    proj = win.doc.project
    # one model run for all of them: each run's predictions are kept side by side and a video
    # shows one run (a new run per frame would show only its own frame)
    same = [r.id for r in proj.model_runs() if r.model_path == "m.onnx"]
    run = same[0] if same else proj.create_model_run(model_path="m.onnx", model_hash="x",
                                                     providers=["CPU"], params={})
    items = []
    for i in range(n):
        xy = _pose(50.0 + 40 * i, 60.0)
        items.append((frame, Instance(xy=xy, visibility=np.full(K, 2, np.uint8),
                                      kind=InstanceKind.PREDICTED,
                                      kp_scores=np.linspace(0.3, 0.9, K), score=0.7)))
    proj.add_predictions(win.doc.video_id, items, run)
    win.doc.predictions_written(win.doc.video_id)
    return proj.instances(win.doc.video_id, frame, kind=InstanceKind.PREDICTED)


def _stored(win, inst_id: int) -> Instance:
    return win.doc.project.instance(inst_id)


def _drag(qtbot, view, start: QPointF, end: QPointF, modifiers=Qt.KeyboardModifier.NoModifier,
          steps: int = 5) -> None:
    vp = view.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, modifiers, start.toPoint())
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        ev = QMouseEvent(QEvent.Type.MouseMove, QPointF(p.toPoint()),
                         QPointF(vp.mapToGlobal(p.toPoint())), Qt.MouseButton.NoButton,
                         Qt.MouseButton.LeftButton, modifiers)
        QApplication.sendEvent(vp, ev)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, modifiers, end.toPoint())


@pytest.fixture
def win(qtbot, make_window, fake_video):
    w = make_window()
    open_fake(qtbot, w, fake_video)
    return w


def test_drag_keypoint_one_undo_step(qtbot, win):
    inst = _add_user(win, 0)
    view = win.view
    assert len(view.instance_items) == 1
    k = 5
    x, y = inst.xy[k]
    start = view.map_image_to_view(x, y)
    end = view.map_image_to_view(x + 20, y + 10)
    _drag(qtbot, view, start, end)
    after = _stored(win, inst.id)
    s = view.scale_factor()
    assert after.xy[k] == pytest.approx((x + 20, y + 10), abs=1.5 / s)
    others = np.delete(np.arange(K), k)
    assert np.array_equal(after.xy[others], inst.xy[others])
    assert win.undo_stack.count() == 1
    win.undo_stack.undo()
    assert _stored(win, inst.id).same_values(inst)
    win.undo_stack.redo()
    assert _stored(win, inst.id).same_values(after)
    assert win.undo_stack.count() == 1
    # a second drag is a second step
    x2, y2 = after.xy[k]
    _drag(qtbot, view, view.map_image_to_view(x2, y2), view.map_image_to_view(x2 - 5, y2))
    assert win.undo_stack.count() == 2
    assert win.undo_view.model().rowCount() == 3  # "<opened>" + two commands


def test_alt_drag_moves_whole_instance(qtbot, win):
    inst = _add_user(win, 0)
    view = win.view
    x, y = inst.xy[0]
    _drag(qtbot, view, view.map_image_to_view(x, y), view.map_image_to_view(x + 8, y + 4),
          modifiers=Qt.KeyboardModifier.AltModifier)
    after = _stored(win, inst.id)
    d = after.xy - inst.xy
    s = view.scale_factor()
    assert np.allclose(d, d[0]) and d[0] == pytest.approx((8, 4), abs=1.5 / s)
    assert win.undo_stack.count() == 1
    win.undo_stack.undo()
    assert _stored(win, inst.id).same_values(inst)


def test_visibility_cycle_right_click_and_key(qtbot, win):
    inst = _add_user(win, 0)
    view = win.view
    k = 3
    p = view.map_image_to_view(*inst.xy[k]).toPoint()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.RightButton, pos=p)
    assert _stored(win, inst.id).visibility[k] == Visibility.OCCLUDED
    assert win.doc.selected_keypoint == k
    qtbot.keyClick(view, Qt.Key.Key_V)
    assert _stored(win, inst.id).visibility[k] == Visibility.UNLABELED
    qtbot.keyClick(view, Qt.Key.Key_V)
    assert _stored(win, inst.id).visibility[k] == Visibility.VISIBLE
    assert win.undo_stack.count() == 3
    win.undo_stack.undo()
    win.undo_stack.undo()
    win.undo_stack.undo()
    assert _stored(win, inst.id).same_values(inst)


def test_occluded_is_hollow_and_unlabeled_hidden(qtbot, win):
    vis = np.full(K, 2, np.uint8)
    vis[1], vis[2] = 1, 0
    _add_user(win, 0, vis=vis)
    item = win.view.instance_items[0]
    assert item.keypoints[0].brush().style() != Qt.BrushStyle.NoBrush
    assert item.keypoints[1].brush().style() == Qt.BrushStyle.NoBrush
    assert item.keypoints[1].isVisible()
    assert not item.keypoints[2].isVisible()
    assert "left_eye" in item.keypoints[1].toolTip() or "eye" in item.keypoints[1].toolTip()


def test_arrow_nudges_merge_into_one_step(qtbot, win):
    inst = _add_user(win, 0)
    view = win.view
    k = 7
    p = view.map_image_to_view(*inst.xy[k]).toPoint()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=p)
    assert (win.doc.selected_instance_id, win.doc.selected_keypoint) == (inst.id, k)
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Left,
                Qt.Key.Key_Down, Qt.Key.Key_Down):
        qtbot.keyClick(view, key)
    assert win.doc.frame_idx == 0  # arrows nudged instead of stepping
    after = _stored(win, inst.id)
    assert after.xy[k] == pytest.approx(inst.xy[k] + (1, 1))
    assert win.undo_stack.count() == 1
    win.undo_stack.undo()
    assert _stored(win, inst.id).same_values(inst)
    # Escape clears the selection: arrows step frames again
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    wait_frame(qtbot, win, 1)


def test_accept_prediction_double_click_and_key(qtbot, win):
    preds = _add_predictions(win, 0, n=2)
    view = win.view
    assert len(view.instance_items) == 2
    assert all(it.predicted for it in view.instance_items)
    p0 = preds[0]
    pt = view.map_image_to_view(*p0.xy[0]).toPoint()
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pt)
    users = win.doc.project.instances(win.doc.video_id, 0, kind=InstanceKind.USER)
    assert len(users) == 1 and users[0].source_id == p0.id
    assert np.array_equal(users[0].xy, p0.xy)
    # the accepted prediction is no longer drawn, its user copy is
    assert sorted(it.predicted for it in view.instance_items) == [False, True]
    # predictions are unchanged in the store
    assert win.doc.project.instance(p0.id).same_values(p0)
    win.doc.select(preds[1].id)
    qtbot.keyClick(view, Qt.Key.Key_A)
    assert len(win.doc.project.instances(win.doc.video_id, 0, kind=InstanceKind.USER)) == 2
    assert win.undo_stack.count() == 2
    win.undo_stack.undo()
    win.undo_stack.undo()
    assert win.doc.project.instances(win.doc.video_id, 0, kind=InstanceKind.USER) == []
    assert len(win.view.instance_items) == 2


def test_accept_all_is_one_macro(qtbot, win):
    _add_predictions(win, 0, n=3)
    qtbot.keyClick(win.view, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    users = win.doc.project.instances(win.doc.video_id, 0, kind=InstanceKind.USER)
    assert len(users) == 3
    assert win.undo_stack.count() == 1
    assert win.doc.frames.labeled[0]
    win.undo_stack.undo()
    assert win.doc.project.instances(win.doc.video_id, 0, kind=InstanceKind.USER) == []
    assert not win.doc.frames.labeled[0]
    win.undo_stack.redo()
    assert len(win.doc.project.instances(win.doc.video_id, 0, kind=InstanceKind.USER)) == 3


def test_dragging_a_prediction_makes_a_user_copy(qtbot, win):
    (pred,) = _add_predictions(win, 0, n=1)
    view = win.view
    x, y = pred.xy[2]
    _drag(qtbot, view, view.map_image_to_view(x, y), view.map_image_to_view(x + 6, y))
    assert win.doc.project.instance(pred.id).same_values(pred)
    (user,) = win.doc.project.instances(win.doc.video_id, 0, kind=InstanceKind.USER)
    assert user.source_id == pred.id
    assert user.xy[2][0] == pytest.approx(x + 6, abs=1.5 / view.scale_factor())
    assert win.undo_stack.count() == 1
    lst = win.instance_list
    rows = lambda: [lst.topLevelItem(i).text(1)  # noqa: E731
                    for i in range(lst.topLevelItemCount())]
    assert rows() == ["label (from prediction)", "prediction (labeled)"]
    win.undo_stack.undo()
    (only,) = win.doc.project.instances(win.doc.video_id, 0)
    assert only.same_values(pred)
    assert rows() == ["prediction"]


def test_add_and_delete_instance_with_undo(qtbot, win):
    view = win.view
    center = view.map_image_to_view(70, 50).toPoint()
    ev = QMouseEvent(QEvent.Type.MouseMove, QPointF(center), QPointF(view.viewport().mapToGlobal(center)),
                     Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), ev)
    qtbot.keyClick(view, Qt.Key.Key_N)
    (added,) = win.doc.project.instances(win.doc.video_id, 0)
    assert added.kind is InstanceKind.USER
    assert added.xy.mean(axis=0) == pytest.approx((70, 50), abs=1.0)
    assert win.doc.selected_instance_id == added.id
    assert win.doc.frames.labeled[0]
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert win.doc.project.instances(win.doc.video_id, 0) == []
    assert win.undo_stack.count() == 2
    win.undo_stack.undo()
    (back,) = win.doc.project.instances(win.doc.video_id, 0)
    assert back.same_values(added)
    win.undo_stack.undo()
    assert win.doc.project.instances(win.doc.video_id, 0) == []
    win.undo_stack.redo()
    (again,) = win.doc.project.instances(win.doc.video_id, 0)
    assert again.same_values(added)
    # copy from the previous labeled frame on a later frame
    win.goto(10)
    wait_frame(qtbot, win, 10)
    win.actions_by_id["add_instance"].trigger()
    (copy,) = win.doc.project.instances(win.doc.video_id, 10)
    d = copy.xy - added.xy
    assert np.allclose(d, d[0])


def test_undo_returns_to_the_edited_frame(qtbot, win):
    inst = _add_user(win, 0)
    k = 1
    qtbot.mouseClick(win.view.viewport(), Qt.MouseButton.RightButton,
                     pos=win.view.map_image_to_view(*inst.xy[k]).toPoint())
    win.goto(40)
    wait_frame(qtbot, win, 40)
    win.actions_by_id["undo"].trigger()
    assert win.doc.frame_idx == 0
    assert _stored(win, inst.id).same_values(inst)
    wait_frame(qtbot, win, 0)


def test_timeline_marks_labeled_frames(qtbot, win):
    _add_user(win, 3)
    assert win.doc.frames.labeled[3]
    assert win.timeline._labeled[3]


def test_label_an_unlabeled_keypoint_at_the_cursor(qtbot, win):
    vis = np.full(K, 2, np.uint8)
    vis[9] = 0
    inst = _add_user(win, 0, vis=vis)
    view = win.view
    win.doc.select(inst.id, None)
    for _ in range(10):  # "." walks to keypoint 9 (unlabeled ones included)
        qtbot.keyClick(view, Qt.Key.Key_Period)
    assert win.doc.selected_keypoint == 9
    target = view.map_image_to_view(33.0, 44.0).toPoint()
    ev = QMouseEvent(QEvent.Type.MouseMove, QPointF(target), QPointF(view.viewport().mapToGlobal(target)),
                     Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), ev)
    qtbot.keyClick(view, Qt.Key.Key_V)
    after = _stored(win, inst.id)
    assert after.visibility[9] == Visibility.VISIBLE
    assert after.xy[9] == pytest.approx((33.0, 44.0), abs=1.0 / view.scale_factor() + 0.01)
    win.undo_stack.undo()
    assert _stored(win, inst.id).same_values(inst)


def test_locked_project_opens_read_only_and_refuses_edits(qtbot, make_window, fake_video):
    from pose_studio.store.project import Project

    first = make_window()
    open_fake(qtbot, first, fake_video)
    inst = _add_user(first, 0)
    path = first.doc.project.path
    first.shutdown()
    holder = Project.open(path)  # another writer holds the project
    try:
        second = make_window()
        asked = []
        second.ask_open_read_only = lambda reason: asked.append(reason) or True
        second.open_paths([str(path)])
        qtbot.waitUntil(lambda: second.view.frame_idx == 0, timeout=5000)
        assert second.doc.project.read_only
        assert asked and "Traceback" not in asked[0]
        second.doc.select(inst.id, 0)
        qtbot.keyClick(second.view, Qt.Key.Key_V)
        assert second.doc.project.instance(inst.id).same_values(inst)
        assert second.undo_stack.count() == 0
    finally:
        holder.close()


def test_first_edit_stores_fingerprint_and_drift_is_reported(qtbot, win):
    from pose_studio.video import fingerprint, frame_signature

    inst = _add_user(win, 0)
    win.doc.select(inst.id, 2)
    qtbot.keyClick(win.view, Qt.Key.Key_V)
    fps = win.doc.project.fingerprints(win.doc.video_id)
    assert fps == {0: frame_signature(win.view.frame)}  # the signature, not the old hash
    # pretend the video changed under the labels of frame 3 (signature of another picture)
    # and of frame 5 (an old-style 64-bit hash, still checked)
    frame0 = win.view.frame
    win.doc.project.set_fingerprints(win.doc.video_id, {3: frame_signature(frame0),
                                                        5: fingerprint(frame0) ^ -1})
    win._fingerprints = win.doc.project.fingerprints(win.doc.video_id)
    win.goto(3)
    wait_frame(qtbot, win, 3)
    assert "looks different" in win.statusBar().currentMessage()
    win.statusBar().clearMessage()
    win.goto(5)
    wait_frame(qtbot, win, 5)
    assert "looks different" in win.statusBar().currentMessage()


def test_overlay_items_are_reused_between_frames(qtbot, win):
    a = _add_user(win, 0, 60, 50)
    b = _add_user(win, 1, 90, 70)
    item = win.view.instance_items[0]
    win.goto(1)
    wait_frame(qtbot, win, 1)
    assert win.view.instance_items[0] is item
    assert item.instance_id == b.id
    assert item.keypoints[4].pos().x() == pytest.approx(b.xy[4][0])
    assert item.keypoints[4].pos().y() == pytest.approx(b.xy[4][1])
    win.goto(0)
    wait_frame(qtbot, win, 0)
    assert item.instance_id == a.id and item.keypoints[4].pos().x() == pytest.approx(a.xy[4][0])


def test_undo_of_a_vanished_instance_reports_and_drops_the_step(qtbot, win, captured_boxes):
    inst = _add_user(win, 0)
    win.doc.select(inst.id, 0)
    qtbot.keyClick(win.view, Qt.Key.Key_V)
    assert win.undo_stack.count() == 1
    win.doc.project.delete_instance(inst.id)  # e.g. another tool removed it
    win.actions_by_id["undo"].trigger()
    assert captured_boxes and "cannot" in captured_boxes[-1][2]
    assert "Traceback" not in captured_boxes[-1][2]
    assert win.undo_stack.count() == 0  # the step that can no longer apply is gone
