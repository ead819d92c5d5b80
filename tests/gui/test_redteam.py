"""Regressions from the usability pass: scrub previews, fingerprint check, focus, review curves."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QLineEdit

from pose_studio.app.editing import refusal
from pose_studio.core.annotation import Instance, InstanceKind
from tests.gui.conftest import FakeReader, displayed_index, open_fake, wait_frame
from tests.gui.conftest import add_label as _add_user
from tests.gui.conftest import add_predictions as _add_predictions

pytestmark = pytest.mark.gui

K = 17


class GopReader(FakeReader):
    """A fake long-GOP file: keyframes every 50 frames, nothing cached."""

    GOP = 50

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.cache: set[int] = set()

    def keyframe_for(self, i: int) -> int:
        return (i // self.GOP) * self.GOP


def _gop_window(qtbot, tmp_path: Path, video: Path):
    from pose_studio.gui.main_window import MainWindow
    from pose_studio.gui.settings import Settings
    from pose_studio.gui.workers.decode import FrameLoader

    qs = QSettings(str(tmp_path / "gop.ini"), QSettings.Format.IniFormat)
    win = MainWindow(Settings(qs), loader_factory=lambda p: FrameLoader(
        p, reader_factory=lambda path, index: GopReader(path)), inference_factory=lambda p: None)
    win.show_error = lambda title, text, critical=False: win.messages.append((title, text))
    qtbot.addWidget(win)
    win.resize(900, 650)
    win.show()
    return win


def _move(widget, x: int, y: int) -> None:
    ev = QMouseEvent(QEvent.Type.MouseMove, QPointF(x, y), QPointF(widget.mapToGlobal(QPoint(x, y))),
                     Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def test_scrub_shows_a_marked_keyframe_preview_and_the_exact_frame_on_release(
        qtbot, tmp_path, fake_video):
    win = _gop_window(qtbot, tmp_path, fake_video)
    try:
        open_fake(qtbot, win, fake_video)
        _add_user(win, 130)
        tl = win.timeline
        y = tl.height() // 2
        qtbot.mousePress(tl, Qt.MouseButton.LeftButton, pos=QPoint(tl._x_of(5), y))
        _move(tl, tl._x_of(130), y)
        target = tl.frame_at(tl._x_of(130))
        key = (target // 50) * 50
        # while dragging: the keyframe is shown, marked, overlays hidden, edits refused
        qtbot.waitUntil(lambda: win.view.frame_idx == key, timeout=3000)
        assert win.session.frame_idx == target != key
        assert win.view.approximate and win.view.preview_label.isVisible()
        assert f"frame {target}" in win.view.preview_label.text()
        assert all(not it.isVisible() for it in win.view.instance_items)
        assert "preview" in (refusal(win.session) or "")
        # release: the exact frame replaces the preview
        qtbot.mouseRelease(tl, Qt.MouseButton.LeftButton, pos=QPoint(tl._x_of(130), y))
        wait_frame(qtbot, win, target)
        assert displayed_index(win) == target
        assert not win.view.approximate and not win.view.preview_label.isVisible()
        assert win.view.instance_items and all(it.isVisible() for it in win.view.instance_items)
        assert refusal(win.session) is None
    finally:
        win.shutdown()


def test_fingerprint_check_runs_in_the_background_and_lists_moved_labels(
        qtbot, make_window, fake_video, monkeypatch):
    from pose_studio.video import fingerprint
    from tests.support.videos import draw_index_frame

    win = make_window()
    open_fake(qtbot, win, fake_video)
    proj_path = Path(win.session.project.path)
    vid = win.session.video_id
    good = fingerprint(draw_index_frame(4, (160, 120)))
    wrong = fingerprint(draw_index_frame(90, (160, 120))) ^ 0x0F0F0F0F0F0F0F0F
    win.session.project.set_fingerprints(vid, {4: good, 7: wrong})
    _add_user(win, 7)
    win.shutdown()
    fake_video.write_bytes(b"\2" * 64)  # the file changed since it was added: check it

    threads: list[str] = []
    import pose_studio.app.fingerprint_check as fpmod

    orig = fpmod.verify_fingerprints

    def spy(*a, **k):
        threads.append(threading.current_thread().name)
        return orig(*a, **k)

    monkeypatch.setattr(fpmod, "verify_fingerprints", spy)
    win2 = make_window()
    win2.open_paths([str(proj_path)])
    qtbot.waitUntil(lambda: win2.fingerprint_report is not None, timeout=5000)
    assert threads and threads[0] != threading.main_thread().name
    rep = win2.fingerprint_report
    assert rep.bad_frames == (7,) and rep.checked == 2
    assert win2.banner.isVisible() and "1 frame " in win2.banner.label.text()
    win2.fingerprints.next_bad_frame()
    wait_frame(qtbot, win2, 7)
    win2.fingerprints.show_list()
    lst = win2.fingerprints.dialog.list
    assert lst.count() == 1 and "1 label" in lst.item(0).text()
    assert not win2.fingerprints.dialog.isModal()
    # a frame the video no longer has (it got shorter) counts too
    r = fpmod.verify_fingerprints(lambda: FakeReader("x.mp4"), 1, {4: good, 500: good})
    assert r.bad_frames == (500,) and r.missing == (500,)


def test_tab_cycles_instances_only_in_the_frame_view(qtbot, make_window, fake_video):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    a = _add_user(win, 0, 50)
    b = _add_user(win, 0, 110)
    win.view.setFocus()
    qtbot.waitUntil(win.view.hasFocus)
    qtbot.keyClick(win.view, Qt.Key.Key_Tab)
    assert win.session.selected_instance_id == a.id
    qtbot.keyClick(win.view, Qt.Key.Key_Tab)
    assert win.session.selected_instance_id == b.id
    qtbot.keyClick(win.view, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert win.session.selected_instance_id == a.id
    # elsewhere, Tab is focus navigation again (no selection change)
    win.session.select(None)
    win.transport.frame_spin.setFocus()
    qtbot.waitUntil(win.transport.frame_spin.hasFocus)
    qtbot.keyClick(win.transport.frame_spin, Qt.Key.Key_Tab)
    assert win.session.selected_instance_id is None


def test_next_unlabeled_predicted_frame_key(qtbot, make_window, fake_video):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    for f in (3, 4, 9):
        _add_predictions(win, f, n=1)
    _add_user(win, 4)
    win.view.setFocus()
    qtbot.keyClick(win.view, Qt.Key.Key_U)
    wait_frame(qtbot, win, 3)
    qtbot.keyClick(win.view, Qt.Key.Key_U)
    wait_frame(qtbot, win, 9)  # 4 is labeled: skipped
    qtbot.keyClick(win.view, Qt.Key.Key_U, Qt.KeyboardModifier.ShiftModifier)
    wait_frame(qtbot, win, 3)


def test_per_person_confidence_curve(qtbot, make_window, fake_video):
    from pose_studio.app.review import review_scores

    win = make_window()
    open_fake(qtbot, win, fake_video)
    proj, vid = win.session.project, win.session.video_id
    run = proj.create_model_run(model_path="m.onnx", model_hash="x", providers=["CPU"], params={})
    items = []
    for f in range(20):
        for cx, s in ((40.0, 0.9), (120.0, 0.2 if f >= 10 else 0.8)):  # the right one drops
            xy = np.stack([np.full(K, cx), np.linspace(20, 100, K)], 1)
            items.append((f, Instance(xy=xy, visibility=np.full(K, 2, np.uint8),
                                      kind=InstanceKind.PREDICTED, kp_scores=np.full(K, s),
                                      score=s)))
    proj.add_predictions(vid, items, run)
    kp, inst, labels = review_scores(proj, vid, 200, K)
    assert inst.shape == (200, 2) and labels[0].startswith("person 1")
    assert np.allclose(inst[:20, 0], 0.9) and np.allclose(inst[10:20, 1], 0.2)
    assert np.isnan(inst[20:]).all() and np.allclose(kp[15], 0.2)
    # the window computes them in the background after predictions arrive
    win.session.predictions_written(vid)
    plot = win.review_plot
    qtbot.waitUntil(lambda: plot.keypoint_combo.findData(-3) >= 0, timeout=5000)
    plot.keypoint_combo.setCurrentIndex(plot.keypoint_combo.findData(-3))  # person 2
    assert plot.kp_curve.isVisible()
    plot.set_current_frame(0)
    assert plot.next_low_confidence(1) == 10  # follows the chosen person, not the frame


def test_heatmap_floor_is_transparent():
    from pose_studio.gui.view.heatmap_item import colorize

    hm = np.full((8, 8), 0.05, np.float32)
    hm[4, 4] = 1.0
    hm[4, 5] = 0.5
    rgba = colorize(hm, 0.6)
    assert rgba[0, 0, 3] == 0  # the faint floor does not tint the crop
    assert rgba[4, 4, 3] > rgba[4, 5, 3] > 0


def test_failed_open_clears_the_busy_status(qtbot, make_window, fake_video, tmp_path):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"junk")
    win.open_paths([str(broken)])
    qtbot.waitUntil(lambda: bool(win.messages), timeout=5000)
    assert "opening" not in win.statusBar().currentMessage()
    wait_frame(qtbot, win, 0)  # the previous video came back


def test_selecting_a_keypoint_explains_the_keys(qtbot, make_window, fake_video):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    inst = _add_user(win, 0)
    win.session.select(inst.id, 0)
    msg = win.statusBar().currentMessage()
    assert "nose" in msg and "V cycles visibility" in msg


def test_choosing_a_model_file_loads_it(qtbot, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from pose_studio.gui.widgets.model_panel import ModelPanel

    panel = ModelPanel(None)
    qtbot.addWidget(panel)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("/x/pose.onnx", ""))
    with qtbot.waitSignal(panel.load_requested) as sig:
        panel._browse_pose()
    assert sig.args[0] == "/x/pose.onnx"


def test_line_edit_keeps_its_keys(qtbot, make_window):
    """Window shortcuts must not eat typing in a text field of a dock (e.g. a filter box)."""
    win = make_window()
    edit = QLineEdit(win)
    win.add_panel("probe", "Probe", edit)
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus)
    qtbot.keyClicks(edit, "ua")
    assert edit.text() == "ua"


def test_batch_without_detector_crops_the_people_already_there(qtbot, make_window, fake_video):
    """A top-down model with no detector must not replace three people by one whole-frame pose."""
    from pose_studio.app.predictions import people_boxes

    win = make_window()
    open_fake(qtbot, win, fake_video)
    preds = _add_predictions(win, 5, n=2)
    user = _add_user(win, 5, inst=preds[0].as_user_copy())  # accepted
    _add_user(win, 6, 40)
    _add_predictions(win, 150, n=1)  # outside the range
    boxes = people_boxes(win.session.project, win.session.video_id, 0, 100)
    assert sorted(boxes) == [5, 6]
    assert boxes[5].shape == (2, 4)  # the label and the other prediction, not the accepted one
    b = user.box()
    assert np.allclose(boxes[5][0], (b[0], b[1], b[0] + b[2], b[1] + b[3]))
    assert (boxes[6][:, 2] > boxes[6][:, 0]).all()


def test_a_prediction_under_a_label_is_hidden_after_a_rerun(qtbot, make_window, fake_video):
    """Re-running the model replaces the prediction a label came from; the new one for the same
    person must not be drawn on top of the label again."""
    win = make_window()
    open_fake(qtbot, win, fake_video)
    preds = _add_predictions(win, 0, n=2)
    user = _add_user(win, 0, inst=preds[0].as_user_copy().replace(
        source_id=None))  # as if its prediction had been replaced
    shown = win.session.visible_predictions()
    assert [p.id for p in shown] == [preds[1].id]
    kinds = [win.instance_list.topLevelItem(i).text(1)
             for i in range(win.instance_list.topLevelItemCount())]
    assert kinds.count("prediction (labeled)") == 1 and user.id is not None


def test_hovering_a_keypoint_names_it_in_the_status_bar(qtbot, make_window, fake_video):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    preds = _add_predictions(win, 0, n=1)
    item = win.view.item_for(int(preds[0].id))
    assert item is not None
    win.view.item_hover(item, 5)
    msg = win.statusBar().currentMessage()
    assert "left_shoulder" in msg and "prediction" in msg and "score" in msg and "<" not in msg


def test_train_dialog_does_not_offer_a_missing_bundled_model(qtbot, tmp_path, monkeypatch):
    from pose_studio.gui.dialogs.train_dialog import TrainDialog
    from pose_studio.train import api

    monkeypatch.setattr(api, "bundled_weights", lambda: None)
    dlg = TrainDialog(str(tmp_path / "p.posestudio"), None, torch_available=True)
    qtbot.addWidget(dlg)
    assert dlg.init.currentData() is None  # from scratch
    assert not dlg.init.model().item(0).isEnabled()
    assert "not installed" in dlg.init.itemText(0)


def test_typing_a_threshold_is_not_eaten_by_shortcuts(qtbot, make_window, fake_video):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    spin = win.review_plot.threshold_spin
    le = spin.lineEdit()
    le.setFocus()
    qtbot.waitUntil(le.hasFocus)
    le.selectAll()
    qtbot.keyClicks(le, "0.35")
    qtbot.keyClick(le, Qt.Key.Key_Return)
    assert spin.value() == pytest.approx(0.35)
    assert win.session.selected_keypoint is None  # "." did not select a keypoint


def test_close_project_leaves_nothing_stale(qtbot, make_window, fake_video):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    _add_predictions(win, 0, n=2)
    win.goto(30)
    wait_frame(qtbot, win, 30)
    assert win.instance_list.topLevelItemCount() == 0  # frame 30 has none
    win.goto(0)
    wait_frame(qtbot, win, 0)
    assert win.instance_list.topLevelItemCount() == 2
    win.actions_by_id["close_project"].trigger()
    assert win.instance_list.topLevelItemCount() == 0
    assert win.timeline.n_frames == 0 and win.review_plot.n_frames == 0
    assert win.transport.time_label.text() == "0:00.000"
    assert not win.actions_by_id["export_dataset"].isEnabled()
    assert not win.actions_by_id["play"].isEnabled()


def test_selected_instance_is_boxed_and_a_click_inside_the_box_deselects(qtbot, make_window,
                                                                          fake_video):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    a = _add_user(win, 0, 80, 60)
    item = win.view.item_for(int(a.id))
    assert not item.sel_box.isVisible()
    win.session.select(a.id)
    assert item.sel_box.isVisible()
    r = item.sel_box.rect()
    assert r.contains(QPointF(*a.xy[0]))
    # a click on empty space inside the box (not on a keypoint) clears the selection
    xs, ys = a.xy[:, 0], a.xy[:, 1]
    p = QPointF(r.left() + 1.0, r.top() + 1.0)
    assert np.min(np.hypot(xs - p.x(), ys - p.y())) > 5
    vp = win.view.map_image_to_view(p.x(), p.y()).toPoint()
    qtbot.mouseClick(win.view.viewport(), Qt.MouseButton.LeftButton, pos=vp)
    assert win.session.selected_instance_id is None
    assert not item.sel_box.isVisible()


def test_export_dialog_says_what_will_be_exported(qtbot, make_window, fake_video):
    from pose_studio.gui.dialogs.export_dialog import ExportDialog

    win = make_window()
    open_fake(qtbot, win, fake_video)
    dlg = ExportDialog(win.session.project, win)
    qtbot.addWidget(dlg)
    assert "nothing to export" in dlg.counts_label.text()
    _add_user(win, 3)
    _add_predictions(win, 4, n=2)
    dlg = ExportDialog(win.session.project, win)
    qtbot.addWidget(dlg)
    assert "1 labeled instance on 1 frame " in dlg.counts_label.text()
    dlg.source.setCurrentIndex(dlg.source.findData("predicted"))
    assert "2 predicted instances on 1 frame " in dlg.counts_label.text()
