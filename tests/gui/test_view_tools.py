"""The window's viewing and labeling aids with real input: pose trails, the Display panel,
click-to-place, remappable shortcuts and the user name, the skeleton editor."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.edits import Edit
from tests.gui.conftest import K, add_label, add_predictions, open_fake, steps, wait_frame

pytestmark = pytest.mark.gui


@pytest.fixture
def win(qtbot, make_window, fake_video):
    w = make_window()
    open_fake(qtbot, w, fake_video)
    return w


def _click(qtbot, win, x: float, y: float, shift: bool = False) -> None:
    mods = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    qtbot.mouseClick(win.view.viewport(), Qt.MouseButton.LeftButton, mods,
                     win.view.map_image_to_view(x, y).toPoint())


# --- trails ------------------------------------------------------------------------------------------
def _walker(win, f: int, cx: float, cy: float):  # type: ignore[no-untyped-def]
    """One person's label on frame ``f``: the same pose, centred at (cx, cy)."""
    from pose_studio.core.annotation import Instance

    xy = np.stack([np.linspace(-10, 10, K) + cx, np.linspace(-30, 30, K) + cy], 1)
    return add_label(win, f, inst=Instance(xy=xy, visibility=np.full(K, 2, np.uint8)))


def test_trails_follow_the_people_without_a_query_per_frame(qtbot, win):
    for f in range(0, 40):
        _walker(win, f, 40.0 + f, 60.0)
    tools = win.view_tools
    trails = tools.trails
    win.actions_by_id["show_trails"].trigger()
    assert trails.on and win.settings.flag("trails", False)
    tools.trail_spin.setValue(5)
    win.goto(20)
    wait_frame(qtbot, win, 20)
    (t,) = trails.item.trails
    assert t.offsets.tolist() == list(range(-5, 6))
    assert np.allclose(t.xy[:, 0, 0] - t.xy[5, 0, 0], np.arange(-5, 6))  # 1 px a frame
    reads = trails.trails.reads
    for f in (21, 22, 23, 19):
        win.goto(f)
        wait_frame(qtbot, win, f)
    assert trails.trails.reads == reads  # the same chunk: no query per frame shown
    assert trails.item.isVisible()
    # an edit on a neighbouring frame shows in the trail at once
    win.goto(20)
    wait_frame(qtbot, win, 20)
    p = win.session.require()
    (inst,) = p.instances(win.session.video_id, 21)
    win.session.apply(Edit.set_instance(win.session.video_id, 21, inst,
                                        inst.with_keypoint(0, xy=(7.0, 8.0)), "move"))
    (t,) = trails.item.trails
    assert tuple(t.xy[6, 0]) == (7.0, 8.0)
    win.actions_by_id["trail_length"].trigger()  # Shift+T: 5 -> 10
    assert trails.length == 10 and tools.trail_spin.value() == 10
    win.actions_by_id["show_trails"].trigger()
    assert not trails.item.isVisible()


def test_trails_of_the_selected_instance_only(qtbot, win):
    for f in range(0, 12):
        _walker(win, f, 40.0, 40.0)
        _walker(win, f, 120.0, 80.0)
    win.view_tools.trails.set_on(True)
    win.goto(6)
    wait_frame(qtbot, win, 6)
    assert len(win.view_tools.trails.item.trails) == 2
    second = win.session.instances()[1]
    win.session.select(second.id)
    (t,) = win.view_tools.trails.item.trails
    assert t.instance_id == second.id and np.allclose(t.xy[:, :, 0].mean(), 120.0, atol=30)


# --- display ----------------------------------------------------------------------------------------
def test_picture_adjustments_change_only_what_is_shown(qtbot, win):
    add_label(win, 0)
    before = win.view.pixmap_item.pixmap().toImage()
    pixels = win.session.shown.pixels.copy()
    panel = win.view_tools.display_panel
    panel.gamma.set_value(2.0)
    panel.brightness.set_value(30)
    assert win.view.lut is not None
    after = win.view.pixmap_item.pixmap().toImage()
    assert after != before and after.size() == before.size()
    assert np.array_equal(win.session.shown.pixels, pixels)  # the model sees the frame as is
    gamma = panel.gamma.slider  # a focused slider takes the arrow and page keys
    gamma.setFocus()
    before_gamma = gamma.value()
    qtbot.keyClick(gamma, Qt.Key.Key_PageUp)
    assert gamma.value() > before_gamma and win.session.frame_idx == 0
    win.actions_by_id["reset_picture"].trigger()
    assert win.view.lut is None and win.view.pixmap_item.pixmap().toImage() == before
    panel.radius.setValue(9.0)
    panel.width_spin.setValue(4.0)
    item = win.view.instance_items[0]
    assert item.keypoints[0].rect().width() == pytest.approx(18.0)
    assert item.limbs[0][0].pen().widthF() == pytest.approx(4.0)
    assert win.settings.number("point_radius", 0) == 9.0


# --- click to place -------------------------------------------------------------------------------
def test_click_to_place_from_nothing(qtbot, win):
    win.actions_by_id["place_mode"].trigger()
    tools = win.view_tools
    assert win.view.place_mode and tools.place.on and win.docks["place"].isVisible()
    assert tools.place.hint.isVisible() and "nose" in tools.place.hint.text()
    _click(qtbot, win, 30, 20)
    (inst,) = win.session.instances()
    assert inst.visibility.tolist() == [2] + [0] * (K - 1)
    assert win.session.selected_instance_id == inst.id
    _click(qtbot, win, 32, 18)  # left_eye
    win.actions_by_id["next_keypoint"].trigger()  # "." skips right_eye
    assert tools.place.state.part == 3
    _click(qtbot, win, 40, 19, shift=True)  # left_ear, occluded
    inst = win.session.instances()[0]
    assert inst.visibility[:4].tolist() == [2, 2, 0, 1]
    assert steps(win) == 3  # one history step per click
    assert tools.place_panel.rows()[2].startswith("○") and tools.place_panel.rows()[0][0] == "✓"
    tools.place_panel.list.setCurrentRow(10)  # pick a part from the list
    assert tools.place.state.part == 10
    win.actions_by_id["undo"].trigger()
    assert win.session.instances()[0].visibility[3] == 0
    assert tools.place.state.part == 10  # the user's pick stays
    tools.place.pick(None)  # no pick: after an undo the first unlabeled part comes up
    win.actions_by_id["undo"].trigger()  # left_eye taken back
    assert tools.place.state.part == 1
    win.actions_by_id["redo"].trigger()
    win.actions_by_id["clear_selection"].trigger()  # Escape leaves the mode, keeps the selection
    assert not win.view.place_mode and not win.actions_by_id["place_mode"].isChecked()
    assert win.session.selected_instance_id == inst.id
    _click(qtbot, win, 100, 100)  # a plain click again: selects nothing, places nothing
    assert len(win.session.instances()) == 1 and win.session.history.done == 2


def test_place_on_a_prediction_and_complete_instances(qtbot, win):
    (pred, _other) = add_predictions(win, 0)
    win.session.select(pred.id)
    win.view_tools.place.set_on(True)
    win.view_tools.place.pick(4)
    _click(qtbot, win, 10, 10)
    (user,) = win.session.instances(InstanceKind.USER)
    assert user.source_id == pred.id and tuple(np.round(user.xy[4])) == (10, 10)
    assert win.view_tools.place.state.part is None  # the copy has every point: complete
    _click(qtbot, win, 60, 50)  # so the next click starts a new instance
    assert len(win.session.instances(InstanceKind.USER)) == 2


def test_click_to_place_on_an_image_set(qtbot, make_window, tmp_path):
    from tests.support.videos import make_image_folder

    folder = make_image_folder(tmp_path / "shots", 3)
    win = make_window(fake=False)
    win.open_paths([str(folder)])
    qtbot.waitUntil(lambda: win.view.frame_idx == 0 and win.session.frame_count == 3,
                    timeout=10000)
    win.view_tools.place.set_on(True)
    _click(qtbot, win, 5, 5)
    win.goto(2)
    wait_frame(qtbot, win, 2, timeout=10000)
    assert win.view_tools.place.state.part == 0  # a new frame: a new instance from the start
    _click(qtbot, win, 6, 6)
    assert win.session.require().labeled_frames(win.session.video_id) == [0, 2]


# --- preferences -------------------------------------------------------------------------------------
def test_shortcuts_are_remapped_with_clashes_refused(qtbot, win, captured_boxes, monkeypatch):
    from pose_studio.gui.dialogs.preferences import PreferencesDialog
    from pose_studio.gui.dialogs.shortcuts import ShortcutsDialog, entries_from_actions

    def edit(dlg: PreferencesDialog) -> int:
        assert not dlg.set_keys("accept", ["Ctrl+E"])  # Export…'s
        assert "Export" in captured_boxes[-1][2] and "File" in captured_boxes[-1][2]
        assert dlg.set_keys("show_trails", ["Y", "Ctrl+Alt+T"])
        assert dlg.set_keys("export_dataset", [])  # free Ctrl+E ...
        assert dlg.set_keys("accept", ["A", "Ctrl+E"])  # ... then it can be taken
        dlg.name_edit.setText("  Ada  ")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(PreferencesDialog, "exec", edit)
    win.actions_by_id["preferences"].trigger()
    acts = win.actions_by_id
    assert [s.toString() for s in acts["show_trails"].shortcuts()] == ["Y", "Ctrl+Alt+T"]
    assert acts["export_dataset"].shortcuts() == []
    assert QKeySequence("Ctrl+E") in acts["accept"].shortcuts()
    assert win.session.user == "Ada" and win.settings.user_name() == "Ada"
    rows = {r[1]: r[2] for r in entries_from_actions(win.view_tools.keymap.table())}
    assert rows["Show Pose Trails"] == "Y, Ctrl+Alt+T"  # F1 shows the keys now
    opened: list[object] = []
    monkeypatch.setattr(ShortcutsDialog, "exec", lambda self: opened.append(self) or 0)
    win.act_shortcuts()
    assert ("Show Pose Trails", "Y, Ctrl+Alt+T") in [(r[0], r[1]) for r in opened[0].visible_rows()]
    # an edit is recorded with the name
    win.session.select(add_label(win, 0).id)
    win.editing.delete()
    assert win.session.require().history()[-1].made_by == "Ada"
    # the keys are in the settings (another window reads them); Reset All gives the defaults back
    from pose_studio.gui.keymap import Keymap

    win.settings.sync()
    path = win.settings.qsettings.fileName()
    assert Keymap(QSettings(path, QSettings.Format.IniFormat)).keys("show_trails") == (
        "Y", "Ctrl+Alt+T")

    def reset(dlg: PreferencesDialog) -> int:
        dlg.reset_all()
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(PreferencesDialog, "exec", reset)
    win.actions_by_id["preferences"].trigger()
    assert [s.toString() for s in win.actions_by_id["show_trails"].shortcuts()] == ["T"]
    win.settings.sync()
    qs = QSettings(path, QSettings.Format.IniFormat)
    assert [k for k in qs.allKeys() if k.startswith("shortcuts/")] == []


# --- skeleton editor ---------------------------------------------------------------------------------
def test_skeleton_editor_changes_the_project_as_one_step(qtbot, win, monkeypatch):
    from pose_studio.gui.dialogs.skeleton_editor import SkeletonEditor

    first = add_label(win, 0)
    asked: list[str] = []

    def edit(dlg: SkeletonEditor) -> int:
        dlg.confirm = lambda text: asked.append(text) or True
        neck = dlg.add("neck", after=dlg.draft.key_of("nose"))
        assert neck is not None
        dlg.rename(dlg.draft.key_of("nose"), "snout")
        assert not dlg.rename(dlg.draft.key_of("snout"), "neck")  # taken: refused, said
        assert "already" in dlg.messages[-1]
        dlg.remove(dlg.draft.key_of("left_ear"))
        dlg.add_edge(neck, dlg.draft.key_of("left_shoulder"))
        dlg.set_color(neck, (250, 0, 250))
        assert dlg.table.rowCount() == K
        assert dlg.apply()
        return dlg.result()

    monkeypatch.setattr(SkeletonEditor, "exec", edit)
    win.actions_by_id["edit_skeleton"].trigger()
    assert asked and "left_ear" in asked[0] and "1 labeled" in asked[0]
    sk = win.session.skeleton
    assert sk.keypoints[:2] == ("snout", "neck") and "left_ear" not in sk.keypoints
    item = win.view.instance_items[0]
    assert item.skeleton == sk and not item.keypoints[1].isVisible()  # neck: unlabeled
    assert win.history_panel is not None and win.session.history.undo_text().startswith(
        "skeleton:")
    win.actions_by_id["undo"].trigger()
    assert win.session.skeleton.keypoints[0] == "nose"
    assert win.session.instances()[0].same_values(first)
    assert win.view.instance_items[0].skeleton == win.session.skeleton
