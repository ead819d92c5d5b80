"""Editing through the window with real input events; every edit is in the store and undoable."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from pose_studio.core.annotation import Instance, InstanceKind, Visibility
from tests.gui.conftest import K, open_fake, steps, wait_frame
from tests.gui.conftest import add_label as _add_user
from tests.gui.conftest import add_predictions as _add_predictions

pytestmark = pytest.mark.gui


def _stored(win, inst_id: int) -> Instance:
    return win.session.project.instance(inst_id)


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
    assert steps(win) == 1
    win.editing.undo()
    assert _stored(win, inst.id).same_values(inst)
    win.editing.redo()
    assert _stored(win, inst.id).same_values(after)
    assert steps(win) == 1
    # a second drag is a second step
    x2, y2 = after.xy[k]
    _drag(qtbot, view, view.map_image_to_view(x2, y2), view.map_image_to_view(x2 - 5, y2))
    assert steps(win) == 2
    assert win.history_panel.count() == 3  # "<opened>" + two steps
    assert "move left_shoulder" in win.history_panel.item(2).text()


@pytest.mark.parametrize("mods", [Qt.KeyboardModifier.ShiftModifier,
                                  Qt.KeyboardModifier.AltModifier])
def test_shift_or_alt_drag_moves_whole_instance(qtbot, win, mods):
    inst = _add_user(win, 0)
    view = win.view
    x, y = inst.xy[0]
    _drag(qtbot, view, view.map_image_to_view(x, y), view.map_image_to_view(x + 8, y + 4),
          modifiers=mods)
    after = _stored(win, inst.id)
    d = after.xy - inst.xy
    s = view.scale_factor()
    assert np.allclose(d, d[0]) and d[0] == pytest.approx((8, 4), abs=1.5 / s)
    assert steps(win) == 1
    win.editing.undo()
    assert _stored(win, inst.id).same_values(inst)


def test_visibility_cycle_right_click_and_key(qtbot, win):
    inst = _add_user(win, 0)
    view = win.view
    k = 3
    p = view.map_image_to_view(*inst.xy[k]).toPoint()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.RightButton, pos=p)
    assert _stored(win, inst.id).visibility[k] == Visibility.OCCLUDED
    assert win.session.selected_keypoint == k
    qtbot.keyClick(view, Qt.Key.Key_V)
    assert _stored(win, inst.id).visibility[k] == Visibility.UNLABELED
    qtbot.keyClick(view, Qt.Key.Key_V)
    assert _stored(win, inst.id).visibility[k] == Visibility.VISIBLE
    assert steps(win) == 3
    win.editing.undo()
    win.editing.undo()
    win.editing.undo()
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
    assert "left_eye" in item.keypoints[1].toolTip()


def test_arrow_nudges_merge_into_one_step(qtbot, win):
    inst = _add_user(win, 0)
    view = win.view
    k = 7
    p = view.map_image_to_view(*inst.xy[k]).toPoint()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=p)
    assert (win.session.selected_instance_id, win.session.selected_keypoint) == (inst.id, k)
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Left,
                Qt.Key.Key_Down, Qt.Key.Key_Down):
        qtbot.keyClick(view, key)
    assert win.session.frame_idx == 0  # arrows nudged instead of stepping
    after = _stored(win, inst.id)
    assert after.xy[k] == pytest.approx(inst.xy[k] + (1, 1))
    assert steps(win) == 1
    win.editing.undo()
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
    users = win.session.project.instances(win.session.video_id, 0, kind=InstanceKind.USER)
    assert len(users) == 1 and users[0].source_id == p0.id
    assert np.array_equal(users[0].xy, p0.xy)
    # the accepted prediction is no longer drawn, its user copy is
    assert sorted(it.predicted for it in view.instance_items) == [False, True]
    # predictions are unchanged in the store
    assert win.session.project.instance(p0.id).same_values(p0)
    win.session.select(preds[1].id)
    qtbot.keyClick(view, Qt.Key.Key_A)
    assert len(win.session.project.instances(win.session.video_id, 0, kind=InstanceKind.USER)) == 2
    assert steps(win) == 2
    win.editing.undo()
    win.editing.undo()
    assert win.session.project.instances(win.session.video_id, 0, kind=InstanceKind.USER) == []
    assert len(win.view.instance_items) == 2


def test_accept_all_is_one_macro(qtbot, win):
    _add_predictions(win, 0, n=3)
    qtbot.keyClick(win.view, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    users = win.session.project.instances(win.session.video_id, 0, kind=InstanceKind.USER)
    assert len(users) == 3
    assert steps(win) == 1
    assert win.session.frames.labeled[0]
    win.editing.undo()
    assert win.session.project.instances(win.session.video_id, 0, kind=InstanceKind.USER) == []
    assert not win.session.frames.labeled[0]
    win.editing.redo()
    assert len(win.session.project.instances(win.session.video_id, 0, kind=InstanceKind.USER)) == 3


def test_dragging_a_prediction_makes_a_user_copy(qtbot, win):
    (pred,) = _add_predictions(win, 0, n=1)
    view = win.view
    x, y = pred.xy[2]
    _drag(qtbot, view, view.map_image_to_view(x, y), view.map_image_to_view(x + 6, y))
    assert win.session.project.instance(pred.id).same_values(pred)
    (user,) = win.session.project.instances(win.session.video_id, 0, kind=InstanceKind.USER)
    assert user.source_id == pred.id
    assert user.xy[2][0] == pytest.approx(x + 6, abs=1.5 / view.scale_factor())
    assert steps(win) == 1
    lst = win.instance_list
    rows = lambda: [lst.topLevelItem(i).text(1)  # noqa: E731
                    for i in range(lst.topLevelItemCount())]
    assert rows() == ["label (from prediction)", "prediction (labeled)"]
    win.editing.undo()
    (only,) = win.session.project.instances(win.session.video_id, 0)
    assert only.same_values(pred)
    assert rows() == ["prediction"]


def test_add_and_delete_instance_with_undo(qtbot, win):
    view = win.view
    center = view.map_image_to_view(70, 50).toPoint()
    ev = QMouseEvent(QEvent.Type.MouseMove, QPointF(center), QPointF(view.viewport().mapToGlobal(center)),
                     Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), ev)
    qtbot.keyClick(view, Qt.Key.Key_N)
    (added,) = win.session.project.instances(win.session.video_id, 0)
    assert added.kind is InstanceKind.USER
    assert added.xy.mean(axis=0) == pytest.approx((70, 50), abs=1.0)
    assert win.session.selected_instance_id == added.id
    assert win.session.frames.labeled[0]
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert win.session.project.instances(win.session.video_id, 0) == []
    assert steps(win) == 2
    win.editing.undo()
    (back,) = win.session.project.instances(win.session.video_id, 0)
    assert back.same_values(added)
    win.editing.undo()
    assert win.session.project.instances(win.session.video_id, 0) == []
    win.editing.redo()
    (again,) = win.session.project.instances(win.session.video_id, 0)
    assert again.same_values(added)
    # copy from the previous labeled frame on a later frame
    win.goto(10)
    wait_frame(qtbot, win, 10)
    win.actions_by_id["add_instance"].trigger()
    (copy,) = win.session.project.instances(win.session.video_id, 10)
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
    assert win.session.frame_idx == 0
    assert _stored(win, inst.id).same_values(inst)
    wait_frame(qtbot, win, 0)


def test_timeline_marks_labeled_frames(qtbot, win):
    _add_user(win, 3)
    assert win.session.frames.labeled[3]
    assert win.timeline._labeled[3]


def test_label_an_unlabeled_keypoint_at_the_cursor(qtbot, win):
    """A point without a position (COCO's 0, 0) goes under the mouse when made visible."""
    from tests.gui.conftest import pose_xy

    vis = np.full(K, 2, np.uint8)
    vis[9] = 0
    xy = pose_xy(80.0, 60.0)
    xy[9] = 0.0
    inst = _add_user(win, 0, inst=Instance(xy=xy, visibility=vis))
    view = win.view
    win.session.select(inst.id, None)
    for _ in range(10):  # "." walks to keypoint 9 (unlabeled ones included)
        qtbot.keyClick(view, Qt.Key.Key_Period)
    assert win.session.selected_keypoint == 9
    target = view.map_image_to_view(33.0, 44.0).toPoint()
    ev = QMouseEvent(QEvent.Type.MouseMove, QPointF(target), QPointF(view.viewport().mapToGlobal(target)),
                     Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), ev)
    qtbot.keyClick(view, Qt.Key.Key_V)
    after = _stored(win, inst.id)
    assert after.visibility[9] == Visibility.VISIBLE
    assert after.xy[9] == pytest.approx((33.0, 44.0), abs=1.0 / view.scale_factor() + 0.01)
    win.editing.undo()
    assert _stored(win, inst.id).same_values(inst)


def test_visibility_cycle_back_to_visible_keeps_a_nudge(qtbot, win):
    """V V V (visible -> occluded -> unlabeled -> visible) leaves a nudged point where it was,
    wherever the mouse is."""
    inst = _add_user(win, 0)
    view = win.view
    win.session.select(inst.id, 4)
    qtbot.keyClick(view, Qt.Key.Key_Right)  # nudge
    nudged = _stored(win, inst.id).xy[4].copy()
    corner = view.map_image_to_view(2.0, 2.0).toPoint()
    QApplication.sendEvent(view.viewport(), QMouseEvent(
        QEvent.Type.MouseMove, QPointF(corner), QPointF(view.viewport().mapToGlobal(corner)),
        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))
    for _ in range(3):
        qtbot.keyClick(view, Qt.Key.Key_V)
    after = _stored(win, inst.id)
    assert after.visibility[4] == Visibility.VISIBLE
    assert after.xy[4] == pytest.approx(nudged)
    assert [s.label for s in win.session.history.steps] == [
        "nudge right_ear", "right_ear occluded", "right_ear unlabeled", "right_ear visible"]


def test_locked_project_opens_read_only_and_refuses_edits(qtbot, make_window, fake_video):
    from pose_studio.store.project import Project

    first = make_window()
    open_fake(qtbot, first, fake_video)
    inst = _add_user(first, 0)
    path = first.session.project.path
    first.shutdown()
    holder = Project.open(path)  # another writer holds the project
    try:
        second = make_window()
        asked = []
        second.opening.ask_open_read_only = lambda reason: asked.append(reason) or True
        second.open_paths([str(path)])
        qtbot.waitUntil(lambda: second.view.frame_idx == 0, timeout=5000)
        assert second.session.project.read_only
        assert asked and "Traceback" not in asked[0]
        second.session.select(inst.id, 0)
        qtbot.keyClick(second.view, Qt.Key.Key_V)
        assert second.session.project.instance(inst.id).same_values(inst)
        assert steps(second) == 0
    finally:
        holder.close()


def test_first_edit_stores_fingerprint_and_drift_is_reported(qtbot, win):
    from pose_studio.video import fingerprint, frame_signature

    inst = _add_user(win, 0)
    win.session.select(inst.id, 2)
    qtbot.keyClick(win.view, Qt.Key.Key_V)
    fps = win.session.project.fingerprints(win.session.video_id)
    assert fps == {0: frame_signature(win.view.frame)}  # the signature, not the old hash
    # pretend the video changed under the labels of frame 3 (signature of another picture)
    # and of frame 5 (an old-style 64-bit hash, still checked)
    frame0 = win.view.frame
    win.session.project.set_fingerprints(win.session.video_id, {3: frame_signature(frame0),
                                                        5: fingerprint(frame0) ^ -1})
    win.fingerprints.stored = win.session.project.fingerprints(win.session.video_id)
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
    win.session.select(inst.id, 0)
    qtbot.keyClick(win.view, Qt.Key.Key_V)
    assert steps(win) == 1
    win.session.project.delete_instance(inst.id)  # e.g. another tool removed it
    win.actions_by_id["undo"].trigger()
    assert captured_boxes and "cannot" in captured_boxes[-1][2]
    assert "Traceback" not in captured_boxes[-1][2]
    assert steps(win) == 0  # the step that can no longer apply is gone
