"""Model panel and review plot, on their own (and the panel wired to a real controller)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QSettings, Qt

from pose_studio.gui.widgets.model_panel import ModelPanel, bundled_models, format_progress
from pose_studio.gui.widgets.review_plot import ReviewPlot

pytestmark = pytest.mark.gui


def _models_dir(tmp_path: Path) -> Path:
    d = tmp_path / "models"
    d.mkdir()
    (d / "pose-a.onnx").write_bytes(b"x")
    (d / "pose-a.json").write_text(json.dumps({"family": "heatmap"}))
    (d / "people.onnx").write_bytes(b"x")
    (d / "people.json").write_text(json.dumps({"family": "detector_yolox"}))
    return d


def test_bundled_models_split_pose_and_detectors(tmp_path: Path) -> None:
    pose, det = bundled_models(_models_dir(tmp_path))
    assert [p.name for p in pose] == ["pose-a.onnx"]
    assert [p.name for p in det] == ["people.onnx"]
    assert bundled_models(tmp_path / "nowhere") == ([], [])


def test_format_progress() -> None:
    assert format_progress(120, 1000, 35.2) == "120 / 1000 frames · 35.2 frames/s · 0:25 left"
    assert format_progress(5, 0, 0.0) == "5 frames"


def test_model_panel_load_request_and_settings(qtbot, tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    mdir = _models_dir(tmp_path)
    panel = ModelPanel(settings, "model/last", models_dir=mdir)
    qtbot.addWidget(panel)
    assert panel.pose_path() == str(mdir / "pose-a.onnx")
    assert panel.detector_path() is None
    assert panel.det_combo.findData(str(mdir / "people.onnx")) > 0
    assert not panel.live_button.isEnabled() and not panel.range_button.isEnabled()

    other = tmp_path / "mine.onnx"
    panel.set_pose_path(other)
    panel.det_combo.setCurrentIndex(panel.det_combo.findData(str(mdir / "people.onnx")))
    with qtbot.waitSignal(panel.load_requested) as sig:
        panel.load_button.click()
    assert sig.args == [str(other), str(mdir / "people.onnx"), "auto"]
    settings.sync()

    # A new panel restores the last choice.
    panel2 = ModelPanel(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                        "model/last", models_dir=mdir)
    qtbot.addWidget(panel2)
    assert panel2.pose_path() == str(other)
    assert panel2.detector_path() == str(mdir / "people.onnx")


def test_model_panel_states(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    panel = ModelPanel(models_dir=_models_dir(tmp_path))
    qtbot.addWidget(panel)
    status: list[str] = []
    panel.status_message.connect(status.append)
    info = SimpleNamespace(pose_path="/m/pose-a.onnx", family="heatmap", keypoints=("a",) * 17,
                           providers=("CPUExecutionProvider",), detector_path=None,
                           warnings=("cuda was requested but is not available",))
    panel.set_model_info(info)
    assert panel.model_loaded
    assert "CPU" in panel.info_label.text() and "17 keypoints" in panel.info_label.text()
    assert not panel.warning_label.isHidden() and "cuda" in panel.warning_label.text()
    assert panel.live_button.isEnabled()
    assert not panel.range_button.isEnabled()  # no video yet
    panel.set_video(500, current=40)
    assert panel.range_button.isEnabled()

    with qtbot.waitSignal(panel.live_toggled) as sig:
        panel.live_button.click()
    assert sig.args == [True] and panel.live

    monkeypatch.setattr(panel, "choose_range", lambda: (40, 500))
    with qtbot.waitSignal(panel.run_range_requested) as sig:
        panel.range_button.click()
    assert sig.args == [40, 500]

    panel.set_batch_running(True)
    assert panel.cancel_button.isEnabled() and not panel.range_button.isEnabled()
    assert not panel.pose_combo.isEnabled()
    with qtbot.waitSignal(panel.cancel_requested):
        panel.cancel_button.click()
    panel.set_progress(100, 460, 25.0)
    assert "25.0 frames/s" in panel.progress_text and "100 / 460" in status[-1]
    panel.batch_finished(120, True)
    assert "cancelled" in panel.progress_label.text()
    assert panel.range_button.isEnabled() and not panel.cancel_button.isEnabled()

    panel.set_error("model.onnx: not an ONNX file")
    assert "not an ONNX" in panel.warning_label.text()


def test_model_panel_drives_real_controller(qtbot, tmp_path: Path) -> None:
    from pose_studio.gui.workers.inference import InferenceController
    from tests.support.onnx_models import make_heatmap_model

    model = make_heatmap_model(tmp_path / "m.onnx", k=17, input_hw=(128, 96))
    panel = ModelPanel(models_dir=tmp_path / "none")
    qtbot.addWidget(panel)
    ctl = InferenceController()
    try:
        panel.load_requested.connect(lambda p, d, prov: ctl.load_model(p, d, prov))
        ctl.model_loaded.connect(panel.set_model_info)
        ctl.failed.connect(panel.set_error)
        panel.set_pose_path(model)
        panel.provider_combo.setCurrentIndex(panel.provider_combo.findData("cpu"))
        panel.request_load()
        qtbot.waitUntil(lambda: panel.model_loaded, timeout=15000)
        assert "CPU" in panel.info_label.text()
    finally:
        ctl.shutdown()


# --- review plot ----------------------------------------------------------------------------------
def _arrays(n: int = 200) -> Any:
    labeled = np.zeros(n, bool)
    labeled[[10, 50, 51]] = True
    predicted = np.ones(n, bool)
    predicted[:5] = False
    mn = np.full(n, 0.9, np.float32)
    mn[:5] = np.nan
    mn[30:40] = 0.2
    mn[120:125] = 0.1
    mean = np.where(np.isnan(mn), np.nan, np.minimum(1.0, mn + 0.05)).astype(np.float32)
    return SimpleNamespace(labeled=labeled, predicted=predicted, min_score=mn, mean_score=mean)


def test_review_plot_navigation_and_signals(qtbot) -> None:
    plot = ReviewPlot()
    qtbot.addWidget(plot)
    plot.resize(700, 250)
    plot.show()
    plot.set_arrays(_arrays())
    assert plot.n_frames == 200
    assert "3 labeled" in plot.summary.text() and "2 stretches" in plot.summary.text()
    plot.set_current_frame(0)
    assert plot.next_low_confidence(1) == 30
    assert plot.next_low_confidence(1, current=30) == 120
    assert plot.next_low_confidence(-1, current=199) == 120
    assert plot.next_labeled(1, current=10) == 50
    assert plot.next_unlabeled(1, current=9, predicted_only=True) == 11

    with qtbot.waitSignal(plot.seek_requested) as sig:
        plot.next_low.click()
    assert sig.args == [30]
    with qtbot.waitSignal(plot.seek_requested) as sig:
        plot.next_low.click()
    assert sig.args == [120]

    with qtbot.waitSignal(plot.threshold_changed) as sig:
        plot.threshold_spin.setValue(0.15)
    assert sig.args == [pytest.approx(0.15)]
    assert plot.next_low_confidence(1, current=0) == 120
    assert plot.threshold_line.value() == pytest.approx(0.15)

    # Dragging the frame line asks to seek.
    with qtbot.waitSignal(plot.seek_requested) as sig:
        plot.frame_line.setValue(77.4)
    assert sig.args == [77]
    # The window moving the frame does not echo a seek.
    seen: list[int] = []
    plot.seek_requested.connect(seen.append)
    plot.set_current_frame(150)
    assert seen == [] and plot.frame_line.value() == 150


def test_review_plot_click_seeks(qtbot) -> None:
    plot = ReviewPlot()
    qtbot.addWidget(plot)
    plot.resize(700, 250)
    plot.show()
    qtbot.waitExposed(plot)
    plot.set_arrays(_arrays())
    vb = plot.plot.getPlotItem().getViewBox()
    scene_pt = vb.mapViewToScene(QPointF(100.0, 0.5))
    view_pt = plot.plot.mapFromScene(scene_pt)
    with qtbot.waitSignal(plot.seek_requested, timeout=2000) as sig:
        qtbot.mouseClick(plot.plot.viewport(), Qt.MouseButton.LeftButton, pos=view_pt)
    assert abs(sig.args[0] - 100) <= 2


def test_review_plot_keypoint_scores_and_clear(qtbot) -> None:
    plot = ReviewPlot()
    qtbot.addWidget(plot)
    plot.set_arrays(_arrays(200))
    kp = np.full((200, 3), 0.9, np.float32)
    kp[20:22, 2] = 0.05
    plot.set_keypoint_scores(kp, ["nose", "eye", "ear"])
    assert plot.keypoint_combo.count() == 4 and plot.keypoint_combo.isEnabled()
    plot.keypoint_combo.setCurrentIndex(3)  # "ear"
    assert plot.kp_curve.isVisible()
    assert plot.next_low_confidence(1, current=0) == 20
    with pytest.raises(ValueError):
        plot.set_keypoint_scores(np.zeros(5))
    plot.set_arrays(None)
    assert plot.n_frames == 0 and plot.next_low_confidence(1) is None


def test_keypoint_scores_from_a_project(tmp_path: Path) -> None:
    from pose_studio.app.review import review_scores
    from pose_studio.core.annotation import Instance, InstanceKind
    from pose_studio.core.skeleton import COCO17
    from pose_studio.store.project import Project

    with Project.create(tmp_path / "p.posestudio", COCO17) as proj:
        vid = proj.add_video(tmp_path / "v.mp4", width=64, height=48, frame_count=10, fps=25.0)
        scores = np.linspace(0.1, 0.9, 17).astype(np.float32)
        pred = Instance(xy=np.full((17, 2), 5.0), visibility=np.full(17, 2, np.uint8),
                        kind=InstanceKind.PREDICTED, kp_scores=scores)
        proj.add_predictions(vid, [(3, pred), (3, pred.replace(kp_scores=scores / 2))], None)
        proj.add_instance(vid, 4, Instance(xy=np.zeros((17, 2)), visibility=np.full(17, 2)))
        m, _people, _labels = review_scores(proj, vid)
    assert m.shape == (10, 17)
    np.testing.assert_allclose(m[3], scores / 2, rtol=1e-6)
    assert np.isnan(m[[0, 4]]).all()


def _layout_window(qtbot, qs):
    from pose_studio.gui.main_window import MainWindow
    from pose_studio.gui.settings import Settings

    win = MainWindow(Settings(qs), inference_factory=lambda p: None)
    qtbot.addWidget(win)
    return win


def test_a_dock_layout_saved_by_an_older_version_is_not_restored(qtbot, tmp_path):
    """Panels added since a layout was saved land where this version puts them (tabbed),
    not wherever the old layout's state leaves them."""
    from PySide6.QtCore import QSettings

    from pose_studio.gui.main_window import LAYOUT_VERSION

    qs = QSettings(str(tmp_path / "layout.ini"), QSettings.Format.IniFormat)
    win = _layout_window(qtbot, qs)
    videos, sugg = win.docks["videos"], win.docks["suggestions"]
    assert sugg in win.tabifiedDockWidgets(videos)
    # an "old" layout: the suggestions panel floating on its own, saved under the previous number
    win.removeDockWidget(sugg)
    win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, sugg)
    sugg.show()
    old, current = win.saveState(LAYOUT_VERSION - 1), win.saveState(LAYOUT_VERSION)
    win.close()  # (saves its own layout)
    qs.setValue("window/state", old)
    qs.sync()
    again = _layout_window(qtbot, qs)
    assert again.docks["suggestions"] in again.tabifiedDockWidgets(again.docks["videos"])
    again.close()
    # the same layout saved under this version's number is the user's own and is restored
    qs.setValue("window/state", current)
    qs.sync()
    third = _layout_window(qtbot, qs)
    assert third.dockWidgetArea(third.docks["suggestions"]) == Qt.DockWidgetArea.RightDockWidgetArea
