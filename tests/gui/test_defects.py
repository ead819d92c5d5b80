"""The defects a new user hit (issue #12), one test each, through the window (order and ids,
never wall time)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import Qt

from pose_studio.core.annotation import Instance, InstanceKind
from tests.gui.conftest import (
    K,
    add_label,
    add_predictions,
    displayed_index,
    open_fake,
    pose_xy,
    wait_frame,
)

pytestmark = pytest.mark.gui


@pytest.fixture
def win(qtbot, make_window, fake_video):
    w = make_window()
    open_fake(qtbot, w, fake_video)
    return w


def _predict(win, frames, score=0.9, low_kp: dict | None = None) -> None:
    """Predictions on ``frames``: one person each, all keypoints at ``score`` except
    ``low_kp[frame] = (keypoint, score)``."""
    s = win.session
    run = s.project.create_model_run(model_path="m", model_hash="h", providers=[], params={})
    items = []
    for f in frames:
        ks = np.full(K, score, np.float32)
        if low_kp and f in low_kp:
            ks[low_kp[f][0]] = low_kp[f][1]
        items.append((f, Instance(xy=pose_xy(80, 60), visibility=np.full(K, 2, np.uint8),
                                  kind=InstanceKind.PREDICTED, kp_scores=ks)))
    s.project.add_predictions(s.video_id, items, run)
    s.predictions_written(s.video_id)


def test_1_2_3_j_follows_the_panel_and_single_keypoints(qtbot, win):
    _predict(win, range(0, 60), score=0.9, low_kp={40: (15, 0.05)})  # one bad ankle on 40
    plot = win.review_plot
    qtbot.waitUntil(lambda: plot.keypoint_combo.count() > 1, timeout=5000)  # scores computed
    # 2: the frame's score is its lowest keypoint: J finds the single bad ankle
    win.view.setFocus()
    qtbot.keyClick(win.view, Qt.Key.Key_J)
    wait_frame(qtbot, win, 40)
    assert "1 low (1 stretches)" in plot.summary.text()
    # the low keypoint is ringed on the frame
    item = win.view.instance_items[0]
    assert item.keypoints[15].pen().color().getRgb()[:3] == (235, 40, 40)
    # 1: "Low below 0.95" makes every unlabeled predicted frame low, for J too
    plot.threshold_spin.setValue(0.95)
    assert "60 low" in plot.summary.text()
    win.goto(10)
    wait_frame(qtbot, win, 10)
    qtbot.keyClick(win.view, Qt.Key.Key_J, Qt.KeyboardModifier.ShiftModifier)
    wait_frame(qtbot, win, 0)
    # 3: "Score of" a keypoint: the summary and J follow it
    plot.threshold_spin.setValue(0.5)
    plot.keypoint_combo.setCurrentIndex(plot.keypoint_combo.findData(16))  # right ankle: fine
    assert "0 low (0 stretches)" in plot.summary.text()
    qtbot.keyClick(win.view, Qt.Key.Key_J)
    assert win.session.frame_idx == 0 and "no frame under" in win.statusBar().currentMessage()


def test_4_new_project_shows_nothing_of_the_last_and_says_why_keys_do_nothing(
        qtbot, win, tmp_path):
    add_label(win, 0)
    win.opening.create_project(tmp_path / "other.posestudio")
    assert win.view.frame is None and win.view.instance_items == []
    assert "no video" in win.view.message_item.text()
    assert not win.actions_by_id["add_instance"].isEnabled()
    assert win.instance_list.topLevelItemCount() == 0 and win.timeline.n_frames == 0
    win.actions_by_id["predict_frame"].setEnabled(True)  # even if triggered: a reason, no error
    win.editing.add_instance()
    assert "open a video first" in win.statusBar().currentMessage()


def test_7_instance_list_after_delete_and_no_duplicates(qtbot, win):
    a = add_label(win, 0, 50)
    add_label(win, 0, 110)
    lst = win.instance_list
    assert lst.topLevelItemCount() == 2
    win.session.select(a.id)
    qtbot.keyClick(win.view, Qt.Key.Key_Delete)
    assert lst.topLevelItemCount() == 1
    win.editing.undo()
    assert lst.topLevelItemCount() == 2
    ids = [lst.topLevelItem(i).text(0) for i in range(2)]
    assert len(set(ids)) == 2 and str(a.id) in ids  # "#" is the id: stable, no renumbering


def test_7_plot_range_follows_the_video(qtbot, make_window, tmp_path):
    win = make_window()  # the fake reader makes 200-frame videos
    short = tmp_path / "short.mp4"
    short.write_bytes(b"\0")
    win.open_paths([str(short)])
    qtbot.waitUntil(lambda: win.session.frame_count == 200, timeout=5000)
    plot = win.review_plot
    assert plot.plot.getPlotItem().getViewBox().viewRange()[0][1] == pytest.approx(199, abs=3)
    win.session.set_video(None)
    assert plot.n_frames == 0


def test_7_model_panel_forgets_the_last_project_run(qtbot, tmp_path):
    from pose_studio.gui.widgets.model_panel import ModelPanel

    panel = ModelPanel(models_dir=tmp_path / "none")
    qtbot.addWidget(panel)
    panel.set_batch_running(True)
    panel.set_progress(40, 100, 10.0)
    panel.batch_finished(40, True)
    assert panel.progress_bar.value() == 40  # after Cancel: how far it got, not 0 %
    assert "cancelled" in panel.progress_label.text()
    panel.reset_run_state()
    assert panel.progress_label.text() == "" and panel.progress_bar.value() == 0


def test_8_export_says_what_it_wrote(qtbot, tmp_path):
    from dataclasses import replace

    from pose_studio.app.dataset_export import ExportResult, export_message

    r = ExportResult(tmp_path / "a.json", "COCO keypoints", 3, 2, 0, (), format="coco")
    text = export_message(r)
    assert "ExportResult" not in text and "Exported 3 annotations on 2 frames" in text
    assert "no image was written" in text
    assert "with 2 image files" in export_message(replace(r, files_written=2))


def test_11_play_button_uses_the_style_icons(qtbot, win):
    b = win.transport.play_button
    play = b.icon().cacheKey()
    assert not b.icon().isNull() and b.text() == ""
    win.actions_by_id["play"].trigger()
    assert b.icon().cacheKey() != play and b.property("playing")
    win.actions_by_id["play"].trigger()
    assert not b.property("playing")


def test_12_a_bare_video_opens_without_a_dialog_and_a_drop_asks(qtbot, make_window, tmp_path,
                                                                fake_video, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: pytest.fail("no save dialog for a bare video"))
    win = make_window()
    open_fake(qtbot, win, fake_video)
    assert displayed_index(win) == 0
    assert Path(win.session.project.path) == fake_video.with_suffix(".posestudio")
    asked = []
    win.opening.ask_video_target = lambda videos, name: asked.append(name) or None
    other = tmp_path / "other.mp4"
    other.write_bytes(b"\0")
    win.open_paths([str(other)])
    assert asked == ["clip.posestudio"] and len(win.session.videos()) == 1  # declined
    win.opening.ask_video_target = lambda videos, name: "new"
    win.open_paths([str(other)])
    qtbot.waitUntil(lambda: win.session.video_id is not None and win.view.frame_idx == 0,
                    timeout=5000)
    assert Path(win.session.project.path).name == "other.posestudio"


def test_13_each_video_remembers_its_frame(qtbot, make_window, tmp_path):
    win = make_window()
    paths = []
    for name in ("a.mp4", "b.mp4"):
        p = tmp_path / name
        p.write_bytes(b"\0")
        paths.append(str(p))
    win.open_paths(paths)
    qtbot.waitUntil(lambda: len(win.session.videos()) == 2 and not win.opening.busy
                    and win.view.frame_idx == 0, timeout=5000)
    a, b = (v.id for v in win.session.videos())
    win.goto(42)
    wait_frame(qtbot, win, 42)
    win.show_video(a)
    qtbot.waitUntil(lambda: win.session.video_id == a and win.view.frame_idx == 0, timeout=5000)
    win.goto(7)
    wait_frame(qtbot, win, 7)
    win.show_video(b)
    qtbot.waitUntil(lambda: win.session.video_id == b, timeout=5000)
    wait_frame(qtbot, win, 42)
    assert displayed_index(win) == 42


def test_14_wording(qtbot, win, tmp_path):
    from pose_studio.gui.actions import ACTIONS_BY_ID
    from pose_studio.gui.widgets.model_panel import RangeDialog
    from pose_studio.gui.widgets.video_list import details

    add_predictions(win, 0, n=1)
    qtbot.keyClick(win.view, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    assert win.session.history.steps[-1].label == "accept 1 prediction"
    assert "Pose Studio" not in win.windowTitle()  # the desktop adds the application name
    assert win.windowTitle() == "clip.posestudio — clip.mp4"
    folder = SimpleNamespace(kind="images", width=64, height=48, frame_count=30, fps=30.0)
    assert details(folder) == "image set: 30 images, 64×48"
    assert "1.5×" in ACTIONS_BY_ID["speed_up"].tip and "double" not in ACTIONS_BY_ID["speed_up"].tip
    dlg = RangeDialog(100, 10)
    qtbot.addWidget(dlg)
    dlg.start.setValue(10)
    dlg.last.setValue(19)
    assert dlg.value() == (10, 20)  # "Last frame" 19 is included
    row = win.video_list.item(0)
    assert not row.font().bold() and not row.icon().isNull()  # marked by an icon, not cut short


def test_history_panel_updates_only_what_changed(qtbot, win):
    """One edit adds one row; undo greys it; the rows before stay the same objects."""
    add_label(win, 0)
    win.session.select(win.session.instances()[0].id, 3)
    for key in (Qt.Key.Key_V, Qt.Key.Key_V):
        qtbot.keyClick(win.view, key)
    panel = win.history_panel
    assert panel.count() == 3
    first = panel.item(1)
    win.editing.undo()
    assert panel.item(1) is first and panel.item(2).font().italic()
    assert panel.selectedItems()[0] is first
    panel.goto_requested.emit(0)  # click "<opened>": everything undone
    assert [panel.item(i).font().italic() for i in (1, 2)] == [True, True]
    assert win.session.instances()[0].visibility[3] == 2
