"""The window: opening, seeing the right frame, stepping/seeking, errors, settings, close."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent

from pose_studio.app.session import Topic
from tests.gui.conftest import add_label, displayed_index, open_fake, wait_frame

pytestmark = pytest.mark.gui


def test_open_video_creates_project_and_shows_frame_zero(qtbot, make_window, fake_video, tmp_path):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    assert (tmp_path / "clip.posestudio").exists()
    assert win.session.project is not None
    assert [Path(v.path).name for v in win.session.videos()] == ["clip.mp4"]
    assert displayed_index(win) == 0
    assert win.video_list.count() == 1
    assert "clip.posestudio" in win.windowTitle()
    # the frame index built by the decode lane was stored for the next open
    qtbot.waitUntil(lambda: win.session.project.video_index(win.session.video_id) == b"fake-index")


def test_step_and_seek_land_on_exact_frames(qtbot, make_window, fake_video):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    win.view.setFocus()
    steps = [
        (Qt.Key.Key_Right, Qt.KeyboardModifier.NoModifier, 1),
        (Qt.Key.Key_Right, Qt.KeyboardModifier.NoModifier, 2),
        (Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier, 12),
        (Qt.Key.Key_PageDown, Qt.KeyboardModifier.NoModifier, 22),
        (Qt.Key.Key_Left, Qt.KeyboardModifier.NoModifier, 21),
        (Qt.Key.Key_PageUp, Qt.KeyboardModifier.NoModifier, 11),
        (Qt.Key.Key_End, Qt.KeyboardModifier.NoModifier, 199),
        (Qt.Key.Key_Right, Qt.KeyboardModifier.NoModifier, 199),  # clamped
        (Qt.Key.Key_Home, Qt.KeyboardModifier.NoModifier, 0),
    ]
    for key, mod, want in steps:
        qtbot.keyClick(win.view, key, mod)
        wait_frame(qtbot, win, want)
        assert displayed_index(win) == want, (key, want)
    # seeking through the frame box, the timeline and goto()
    win.transport.frame_spin.setValue(137)
    wait_frame(qtbot, win, 137)
    assert displayed_index(win) == 137
    tl = win.timeline
    x = tl._x_of(50)
    qtbot.mouseClick(tl, Qt.MouseButton.LeftButton, pos=QPoint(x, tl.height() // 2))
    target = tl.frame_at(x)
    assert abs(target - 50) <= 1
    wait_frame(qtbot, win, target)
    assert displayed_index(win) == target
    win.goto(73)
    wait_frame(qtbot, win, 73)
    assert displayed_index(win) == 73
    assert win.transport.frame_spin.value() == 73
    assert win.transport.time_label.text() == "0:02.920"


def test_rapid_requests_end_on_the_newest_frame(qtbot, make_window, fake_video):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    for f in range(0, 120, 3):
        win.goto(f)
    wait_frame(qtbot, win, 117)
    qtbot.wait(50)
    assert win.view.frame_idx == 117
    assert displayed_index(win) == 117


def test_playback_advances_and_stops(qtbot, make_window, fake_video):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    win.actions_by_id["play"].trigger()
    qtbot.waitUntil(lambda: win.session.frame_idx >= 5, timeout=3000)
    win.actions_by_id["play"].trigger()
    assert not win.playback.playing
    f = win.session.frame_idx
    wait_frame(qtbot, win, f)
    assert displayed_index(win) == f


def test_broken_video_shows_message_not_traceback(qtbot, make_window, tmp_path, captured_boxes):
    win = make_window()
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    win.open_paths([str(bad)])
    qtbot.waitUntil(lambda: len(captured_boxes) == 1, timeout=5000)
    _kind, _title, text = captured_boxes[0]
    assert "broken.mp4" in text and "Traceback" not in text
    assert win.session.videos() == []
    # the window is still usable
    good = tmp_path / "clip.mp4"
    good.write_bytes(b"\0")
    win.open_paths([str(good)])
    qtbot.waitUntil(lambda: win.view.frame_idx == 0, timeout=5000)


def test_missing_file_and_broken_project_show_messages(qtbot, make_window, tmp_path, captured_boxes):
    win = make_window()
    win.open_paths([str(tmp_path / "nope.mp4")])
    assert captured_boxes and "nope.mp4" in captured_boxes[-1][2]
    bad = tmp_path / "bad.posestudio"
    bad.write_bytes(b"this is not sqlite" * 20)
    win.open_paths([str(bad)])
    assert len(captured_boxes) == 2
    _kind, _title, text = captured_boxes[-1]
    assert "bad.posestudio" in text and "Traceback" not in text
    assert win.session.project is None


def test_internal_error_is_summarised_with_where_the_log_is(qtbot, make_window, captured_boxes,
                                                              monkeypatch, tmp_path):
    import logging

    win = make_window()

    def boom(*a, **k):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(win.opening, "create_project", boom)
    handler = logging.FileHandler(tmp_path / "pose-studio.log")
    logging.getLogger().addHandler(handler)
    try:
        win.open_paths([__file__])
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    kind, _title, text = captured_boxes[-1]
    assert kind == "critical" and text.startswith("Internal error: ZeroDivisionError")
    assert "Traceback" not in text
    assert f"Details are in the log: {tmp_path / 'pose-studio.log'}" in text


def test_reopen_project_and_missing_video_relink(qtbot, make_window, fake_video, tmp_path):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    proj = Path(win.session.project.path)
    win.shutdown()
    moved = tmp_path / "sub" / "moved.mp4"
    moved.parent.mkdir()
    fake_video.rename(moved)
    win2 = make_window()
    asked = []
    win2.opening.ask_relink_path = lambda rec: asked.append(rec.id) or moved
    win2.open_paths([str(proj)])
    qtbot.waitUntil(lambda: win2.view.frame_idx == 0, timeout=5000)
    assert asked == [1] or len(asked) == 1
    assert Path(win2.session.videos()[0].path) == moved
    assert str(proj) in win2.settings.recent_files()[0]


def test_several_videos_in_one_project(qtbot, make_window, tmp_path):
    win = make_window()
    paths = []
    for name in ("a.mp4", "b.mp4"):
        p = tmp_path / name
        p.write_bytes(b"\0")
        paths.append(str(p))
    win.open_paths(paths)
    qtbot.waitUntil(lambda: len(win.session.videos()) == 2 and win.view.frame_idx == 0
                    and not win.opening.busy, timeout=5000)
    assert win.video_list.count() == 2
    first = win.session.videos()[0].id
    second = win.session.videos()[1].id
    assert win.session.video_id == second
    win.show_video(first)
    qtbot.waitUntil(lambda: win.session.video_id == first and win.view.frame_idx == 0, timeout=5000)


def test_wheel_zooms_at_cursor_and_fit(qtbot, make_window, fake_video):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    view = win.view
    anchor = view.map_image_to_view(40.0, 30.0)
    s0 = view.scale_factor()
    ev = QWheelEvent(anchor, QPointF(view.viewport().mapToGlobal(anchor.toPoint())), QPoint(0, 0),
                     QPoint(0, 240), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                     Qt.ScrollPhase.NoScrollPhase, False)
    view.wheelEvent(ev)
    assert view.scale_factor() == pytest.approx(s0 * 1.25 ** 2, rel=1e-6)
    after = view.mapToScene(anchor.toPoint())
    assert abs(after.x() - 40.0) < 1.0 / s0 and abs(after.y() - 30.0) < 1.0 / s0
    win.actions_by_id["fit"].trigger()
    assert view.scale_factor() == pytest.approx(s0, rel=1e-6)


def test_layout_is_remembered(qtbot, make_window):
    win = make_window()
    win.docks["history"].hide()
    win.shutdown()
    state = win.settings.window_state()
    assert state is not None
    win2 = type(win)(win.settings, loader_factory=None, inference_factory=lambda p: None)
    qtbot.addWidget(win2)
    try:
        assert win2.docks["history"].isHidden()
    finally:
        win2.shutdown()


def test_close_stops_every_thread(qtbot, make_window, fake_video):
    from tests.gui import conftest

    win = make_window()
    open_fake(qtbot, win, fake_video)
    assert win.loader.running and conftest.running_threads(conftest._started, wait_ms=0)
    win.close()
    assert not win.loader.running and win.session.project is None
    assert conftest.running_threads(conftest._started, wait_ms=500) == []


def test_shortcut_table_has_no_clashes():
    from pose_studio.gui.actions import ACTIONS, find_clashes, shortcut_table

    assert find_clashes() == []
    ids = [a.id for a in ACTIONS]
    assert len(ids) == len(set(ids))
    rows = shortcut_table()
    assert ("Edit", "Undo", "Ctrl+Z") in rows


def test_drop_files_onto_window_opens_them(qtbot, make_window, fake_video):
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    win = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(fake_video))])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    win.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    win.dropEvent(drop)
    qtbot.waitUntil(lambda: win.view.frame_idx == 0 and win.session.video_id is not None, timeout=5000)
    assert displayed_index(win) == 0


def test_recent_files_menu_lists_opened_project(qtbot, make_window, fake_video):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    win.fill_recent_menu()
    texts = [a.text() for a in win.recent_menu.actions()]
    assert str(Path(win.session.project.path).resolve()) in texts


def test_playback_moves_the_session_with_the_frames_shown(qtbot, make_window, fake_video):
    """Order, not time: frames arrive in playback order, the session follows each one, and
    stopping shows the frame the session is on (the pacing is the decode lane's, tested there)."""
    win = make_window(reader_delay=0.02)
    open_fake(qtbot, win, fake_video)
    shown: list[tuple[int, int]] = []
    win.signals.changed.connect(
        lambda t, f: shown.append((win.session.frame_idx, win.session.shown.index))
        if win.session.shown is not None and Topic.PIXELS in t else None)
    win.actions_by_id["play"].trigger()
    assert win.playback.playing
    qtbot.waitUntil(lambda: len(shown) >= 6, timeout=5000)
    win.actions_by_id["play"].trigger()
    assert not win.playback.playing
    played = [p for _f, p in shown]
    assert played == sorted(played) and played[0] > 0
    assert all(f == p for f, p in shown)  # the session is on the frame whose pixels show
    wait_frame(qtbot, win, win.session.frame_idx)
    assert displayed_index(win) == win.session.frame_idx


def test_timeline_reduces_a_million_frames():
    import numpy as np

    from pose_studio.gui.widgets.timeline import Timeline, reduce_columns

    n = 1_000_000
    lab = np.zeros(n, bool)
    lab[123_456] = True
    pred = np.ones(n, bool)
    score = np.full(n, 0.9, np.float32)
    score[777_777] = 0.1
    score[:10] = np.nan
    starts, col_lab, col_pred, mins = reduce_columns(lab, pred, score, 1000)
    assert len(starts) == 1000
    assert col_lab.sum() == 1 and col_lab[123] and col_pred.all()
    assert mins[777] == pytest.approx(0.1) and mins[500] == pytest.approx(0.9)
    tl = Timeline()
    tl.resize(1600, 36)
    tl.set_arrays(lab, pred, score)
    tl._build_image()  # bench/gui.py measures its time; here it must just work at this size
    assert tl.frame_at(tl._x_of(500_000)) == pytest.approx(500_000, abs=n / 1500)


def test_dialog_actions_open_their_dialogs(qtbot, make_window, fake_video, monkeypatch):
    from PySide6.QtWidgets import QDialog

    opened: list[str] = []

    def fake_exec(self):
        opened.append(type(self).__name__)
        return 0

    monkeypatch.setattr(QDialog, "exec", fake_exec)
    win = make_window()
    open_fake(qtbot, win, fake_video)
    for name in ("shortcuts", "export_dataset", "import_dataset", "train"):
        win.actions_by_id[name].trigger()
    assert opened == ["ShortcutsDialog", "ExportDialog", "ImportDialog", "TrainDialog"]
    assert win.messages == []


def test_typing_a_frame_number_and_return(qtbot, make_window, fake_video):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    win.transport.frame_spin.setFocus()
    win.transport.frame_spin.selectAll()
    qtbot.keyClicks(win.transport.frame_spin, "57")
    qtbot.keyClick(win.transport.frame_spin, Qt.Key.Key_Return)
    wait_frame(qtbot, win, 57)
    assert displayed_index(win) == 57
    assert win.messages == []


def test_overlay_toggles_are_remembered(qtbot, make_window):
    win = make_window()
    win.actions_by_id["show_labels"].setChecked(True)
    win.actions_by_id["show_predictions"].setChecked(False)
    win.shutdown()
    win2 = type(win)(win.settings, inference_factory=lambda p: None)
    qtbot.addWidget(win2)
    try:
        assert win2.options.labels and not win2.options.predictions
        assert win2.actions_by_id["show_labels"].isChecked()
        assert not win2.actions_by_id["show_predictions"].isChecked()
    finally:
        win2.shutdown()


def test_thread_guard_sees_a_dangling_thread(qtbot):
    from PySide6.QtCore import QThread

    from tests.gui import conftest

    th = QThread()
    th.start()  # recorded by the guard's patched start()
    try:
        assert any("test_thread_guard_sees_a_dangling_thread" in w
                   for w in conftest.running_threads(conftest._started, wait_ms=10))
    finally:
        th.quit()
        th.wait()
    assert conftest.running_threads(conftest._started, wait_ms=10) == []


def test_undo_redo_shortcuts(qtbot, make_window, fake_video):
    import numpy as np

    from pose_studio.core.annotation import Instance

    win = make_window()
    open_fake(qtbot, win, fake_video)
    inst = add_label(win, 0, inst=Instance(xy=np.full((17, 2), 50.0),
                                          visibility=np.full(17, 2, np.uint8)))
    win.session.select(inst.id, 0)
    qtbot.keyClick(win.view, Qt.Key.Key_V)
    assert win.session.project.instance(inst.id).visibility[0] == 1
    qtbot.keyClick(win.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.session.project.instance(inst.id).visibility[0] == 2
    qtbot.keyClick(win.view, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert win.session.project.instance(inst.id).visibility[0] == 1
    qtbot.keyClick(win.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(win.view, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert win.session.project.instance(inst.id).visibility[0] == 1


def test_failed_add_keeps_the_current_video_working(qtbot, make_window, fake_video, tmp_path,
                                                    captured_boxes):
    win = make_window()
    open_fake(qtbot, win, fake_video)
    win.goto(30)
    wait_frame(qtbot, win, 30)
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"x")
    win.open_paths([str(bad)])
    qtbot.waitUntil(lambda: len(captured_boxes) == 1, timeout=5000)
    qtbot.waitUntil(lambda: win.view.frame_idx == 30, timeout=5000)
    assert displayed_index(win) == 30
    win.goto(31)
    wait_frame(qtbot, win, 31)
    assert displayed_index(win) == 31
