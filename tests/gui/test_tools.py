"""Gesture tools on a bare FrameView (no window): one drag, one intent, in order."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from pose_studio.core.annotation import Instance
from pose_studio.core.skeleton import COCO17

pytestmark = pytest.mark.gui


def _drag(qtbot, view, start: QPointF, end: QPointF,
          modifiers=Qt.KeyboardModifier.NoModifier, steps: int = 4) -> None:
    vp = view.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, modifiers, start.toPoint())
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        QApplication.sendEvent(vp, QMouseEvent(
            QEvent.Type.MouseMove, QPointF(p.toPoint()), QPointF(vp.mapToGlobal(p.toPoint())),
            Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton, modifiers))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, modifiers, end.toPoint())


@pytest.fixture
def view(qtbot):
    from pose_studio.gui.view.frame_view import FrameView

    v = FrameView()
    qtbot.addWidget(v)
    v.resize(640, 480)
    v.show()
    frame = np.full((120, 160, 3), 80, np.uint8)
    frame.setflags(write=False)
    v.set_frame(frame, 0)
    xy = np.stack([np.linspace(30, 130, 17), np.linspace(20, 100, 17)], 1)
    v.set_instances(COCO17, [Instance(xy=xy, visibility=np.full(17, 2, np.uint8), id=7)])
    events: list[tuple] = []
    v.keypoint_moved.connect(lambda *a: events.append(("moved", *a)))
    v.instance_moved.connect(lambda *a: events.append(("instance", *a)))
    v.selection_requested.connect(lambda *a: events.append(("select", *a)))
    v.visibility_requested.connect(lambda *a: events.append(("visibility", *a)))
    v.events = events  # type: ignore[attr-defined]
    return v


def test_a_drag_is_one_intent_after_the_selection(qtbot, view) -> None:
    x, y = view.instance_items[0].keypoint_pos(4).toTuple()
    _drag(qtbot, view, view.map_image_to_view(x, y), view.map_image_to_view(x + 10, y + 5))
    assert [e[0] for e in view.events] == ["select", "moved"]
    assert view.events[0][1:] == (7, 4)
    _kind, iid, k, nx, ny = view.events[1]
    assert (iid, k) == (7, 4)
    tol = 1.5 / view.scale_factor()
    assert nx == pytest.approx(x + 10, abs=tol) and ny == pytest.approx(y + 5, abs=tol)
    assert not view.dragging


def test_a_click_without_moving_says_nothing_but_the_selection(qtbot, view) -> None:
    p = view.map_image_to_view(*view.instance_items[0].keypoint_pos(2).toTuple()).toPoint()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=p)
    assert view.events == [("select", 7, 2)]


@pytest.mark.parametrize("mods", [Qt.KeyboardModifier.ShiftModifier,
                                  Qt.KeyboardModifier.AltModifier])
def test_shift_or_alt_drag_moves_the_whole_instance(qtbot, view, mods) -> None:
    x, y = view.instance_items[0].keypoint_pos(0).toTuple()
    _drag(qtbot, view, view.map_image_to_view(x, y), view.map_image_to_view(x + 8, y - 4), mods)
    assert [e[0] for e in view.events] == ["select", "instance"]
    assert view.events[0][1:] == (7, -1)
    _kind, iid, dx, dy = view.events[1]
    tol = 1.5 / view.scale_factor()
    assert iid == 7 and dx == pytest.approx(8, abs=tol) and dy == pytest.approx(-4, abs=tol)


def test_move_mode_turns_a_plain_drag_into_a_whole_move(qtbot, view) -> None:
    view.move_mode = True
    x, y = view.instance_items[0].keypoint_pos(3).toTuple()
    _drag(qtbot, view, view.map_image_to_view(x, y), view.map_image_to_view(x - 6, y))
    assert [e[0] for e in view.events] == ["select", "instance"]


def test_right_click_asks_for_visibility(qtbot, view) -> None:
    p = view.map_image_to_view(*view.instance_items[0].keypoint_pos(5).toTuple()).toPoint()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.RightButton, pos=p)
    assert view.events == [("select", 7, 5), ("visibility", 7, 5)]


def test_low_score_keypoints_are_ringed(qtbot, view) -> None:
    from pose_studio.core.annotation import InstanceKind

    scores = np.full(17, 0.9, np.float32)
    scores[[15, 16]] = 0.1
    pred = Instance(xy=np.full((17, 2), 50.0), visibility=np.full(17, 2, np.uint8),
                    kind=InstanceKind.PREDICTED, kp_scores=scores, id=9)
    view.options.low_score = 0.5
    view.set_instances(COCO17, [pred])
    item = view.instance_items[0]
    rims = [kp.pen().color().getRgb()[:3] for kp in item.keypoints]
    assert rims[15] == rims[16] == (235, 40, 40)
    assert all(r != (235, 40, 40) for r in rims[:15])
