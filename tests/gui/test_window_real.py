"""The window on a real encoded video and a real (tiny) ONNX model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from pose_studio.core.annotation import InstanceKind
from tests.gui.conftest import add_label, displayed_index, open_fake, steps, wait_frame
from tests.support.onnx_models import make_heatmap_model, make_not_onnx
from tests.support.videos import make_indexed_video

pytestmark = pytest.mark.gui


def test_real_video_exact_frames(qtbot, make_window, tmp_path):
    video = make_indexed_video(tmp_path / "real.mp4", 48, size=(160, 120), codec="h264",
                               gop=12, bframes=2)
    win = make_window(fake=False)
    win.open_paths([str(video)])
    qtbot.waitUntil(lambda: win.view.frame_idx == 0 and win.session.video_id is not None,
                    timeout=10000)
    assert displayed_index(win) == 0
    assert win.session.frame_count == 48
    for target in (1, 2, 13, 47, 30, 29, 11, 12, 0):
        win.goto(target)
        wait_frame(qtbot, win, target, timeout=10000)
        assert displayed_index(win) == target
    qtbot.keyClick(win.view, Qt.Key.Key_Right)
    wait_frame(qtbot, win, 1, timeout=10000)
    assert displayed_index(win) == 1
    # the index the decode lane built is kept in the project
    qtbot.waitUntil(lambda: bool(win.session.project.video_index(win.session.video_id)), timeout=10000)


def _load_model(qtbot, win, path: Path) -> None:
    win.model_panel.set_pose_path(path)
    win.model_panel.request_load()


def test_model_predicts_frame_heatmap_and_broken_model(qtbot, make_window, fake_video, tmp_path,
                                                      captured_boxes):
    model = make_heatmap_model(tmp_path / "tiny.onnx", k=17, input_hw=(64, 48), stride=4,
                               planted=[(6.0 + i % 4, 4.0 + i % 6) for i in range(17)])
    win = make_window(inference=True)
    open_fake(qtbot, win, fake_video)
    # a broken model: a message with the reason, the window stays usable
    bad = make_not_onnx(tmp_path / "bad.onnx")
    _load_model(qtbot, win, bad)
    qtbot.waitUntil(lambda: len(captured_boxes) >= 1, timeout=10000)
    assert "bad.onnx" in captured_boxes[-1][2] and "Traceback" not in captured_boxes[-1][2]
    _load_model(qtbot, win, model)
    qtbot.waitUntil(lambda: win.inference.model_info is not None, timeout=15000)
    win.goto(5)
    wait_frame(qtbot, win, 5)
    win.actions_by_id["predict_frame"].trigger()
    qtbot.waitUntil(
        lambda: len(win.session.project.instances(win.session.video_id, 5, kind=InstanceKind.PREDICTED))
        > 0, timeout=10000)
    assert win.session.frames.predicted[5]
    qtbot.waitUntil(lambda: any(it.predicted for it in win.view.instance_items), timeout=3000)
    # heatmap overlay from the model output, placed in image space
    win.actions_by_id["show_heatmap"].setChecked(True)
    qtbot.waitUntil(win.view.has_heatmap, timeout=10000)
    item = next(it for it in win.view.heatmap_items if not it.pixmap().isNull())
    rect = item.mapRectToScene(item.boundingRect())
    img = win.view.image_rect()
    assert rect.intersects(img)
    assert rect.width() > 10 and rect.height() > 10
    # accept it: a user instance linked to the prediction
    qtbot.keyClick(win.view, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    users = win.session.project.instances(win.session.video_id, 5, kind=InstanceKind.USER)
    assert users and all(u.source_id is not None for u in users)
    assert np.isfinite(users[0].xy).all()


def test_vfr_video_shows_frame_timestamps(qtbot, make_window, tmp_path):
    from pose_studio.video import open_video

    video = make_indexed_video(tmp_path / "vfr.mp4", 30, size=(96, 64), codec="h264", vfr=True)
    with open_video(video) as reader:
        assert reader.meta.vfr
        want = [reader.timestamp(i) for i in range(30)]
    win = make_window(fake=False)
    win.open_paths([str(video)])
    qtbot.waitUntil(lambda: win.view.frame_idx == 0 and win.playback.times is not None,
                    timeout=10000)
    for f in (7, 19):
        win.goto(f)
        wait_frame(qtbot, win, f, timeout=10000)
        m, s = divmod(want[f], 60.0)
        assert win.transport.time_label.text() == f"{int(m)}:{s:06.3f}"
        assert displayed_index(win) == f
    assert abs(want[19] - 19 / win.session.fps) > 1e-3  # really variable


def test_screenshot_command_renders_the_window(qtbot, tmp_path, _dangling_qthreads):
    from PySide6.QtGui import QImage

    from pose_studio.cli.main import main

    video = make_indexed_video(tmp_path / "shot.mp4", 20, size=(160, 120), codec="mjpeg")
    out = tmp_path / "docs" / "window.png"
    assert main(["screenshot", str(video), "--frame", "7", "--out", str(out),
                 "--size", "900x600"]) == 0
    img = QImage(str(out))
    # the requested size, or the window's minimum where that is larger
    assert 900 <= img.width() <= 1100 and 600 <= img.height() <= 700
    assert not (tmp_path / "shot.posestudio").exists()  # a temporary project, not beside it
    assert main(["screenshot", str(tmp_path / "missing.mp4"), "--out", str(out)]) == 1


def test_snap_keypoint_to_heatmap_peaks(qtbot, make_window, fake_video, tmp_path):
    from pose_studio.core.annotation import Instance
    from pose_studio.core.poses import local_peaks
    from tests.support.onnx_models import gaussian_maps

    k = 5
    h, w = 16, 12
    maps = gaussian_maps(17, (h, w), [(6.0, 8.0)] * 17, sigma=1.0)
    maps[k] = gaussian_maps(1, (h, w), [(3.0, 4.0)], sigma=1.0)[0]
    maps[k] += 0.6 * gaussian_maps(1, (h, w), [(8.0, 11.0)], sigma=1.0)[0]
    model = make_heatmap_model(tmp_path / "two_peaks.onnx", k=17, input_hw=(64, 48), stride=4,
                               planted=maps)
    win = make_window(inference=True)
    open_fake(qtbot, win, fake_video)
    rng = np.random.default_rng(3)
    inst = add_label(win, 0, inst=Instance(
        xy=np.stack([rng.uniform(40, 100, 17), rng.uniform(30, 90, 17)], 1),
        visibility=np.full(17, 2, np.uint8)))
    _load_model(qtbot, win, model)
    qtbot.waitUntil(lambda: win.inference.model_info is not None, timeout=15000)
    win.session.select(inst.id, k)
    qtbot.keyClick(win.view, Qt.Key.Key_S)  # computes the heatmap, then snaps
    qtbot.waitUntil(lambda: steps(win) == 1, timeout=10000)
    res = win.model.last_result
    a = np.asarray(res.maps[0].map_to_image).reshape(2, 3)
    first = a @ np.array([3.0, 4.0, 1.0])
    second = a @ np.array([8.0, 11.0, 1.0])
    assert [p[:2] for p in local_peaks(maps[k])] == [(3.0, 4.0), (8.0, 11.0)]
    assert win.session.project.instance(inst.id).xy[k] == pytest.approx(first, abs=0.05)
    qtbot.keyClick(win.view, Qt.Key.Key_S)
    assert win.session.project.instance(inst.id).xy[k] == pytest.approx(second, abs=0.05)
    qtbot.keyClick(win.view, Qt.Key.Key_S)
    assert win.session.project.instance(inst.id).xy[k] == pytest.approx(first, abs=0.05)
    assert steps(win) == 1  # one step for the whole cycle
    win.editing.undo()
    assert win.session.project.instance(inst.id).same_values(inst)


def test_image_folder_and_empty_video(qtbot, make_window, tmp_path, captured_boxes):
    from tests.support.videos import make_image_folder

    folder = make_image_folder(tmp_path / "shots", 12)
    win = make_window(fake=False)
    win.open_paths([str(folder)])
    qtbot.waitUntil(lambda: win.view.frame_idx == 0 and win.session.frame_count == 12, timeout=10000)
    assert (tmp_path / "shots.posestudio").exists()
    win.goto(10)
    wait_frame(qtbot, win, 10, timeout=10000)
    assert displayed_index(win) == 10
    # a video without frames: a message, and the project keeps working
    empty = make_indexed_video(tmp_path / "empty.mp4", 0, size=(64, 48))
    win.open_paths([str(empty)])
    qtbot.waitUntil(lambda: bool(captured_boxes) or len(win.session.videos()) == 2, timeout=10000)
    qtbot.wait(200)
    if captured_boxes:
        assert "empty.mp4" in captured_boxes[-1][2] and "Traceback" not in captured_boxes[-1][2]
    else:  # accepted as a 0-frame video: showing it must not break the window
        assert win.session.frame_count == 0
    win.show_video(win.session.videos()[0].id)  # back to the folder: where the user was on it
    qtbot.waitUntil(lambda: win.session.frame_count == 12 and win.view.frame_idx == 10,
                    timeout=10000)
    assert displayed_index(win) == 10
