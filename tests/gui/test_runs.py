"""The window's model-run parts: the run picker, A/B in two colours with a legend and keys,
the comparison view (background job, progress, cancel, click to go there), live predictions
vs the shown run, the Model panel's top-down warning and "Get a model…" (a local HTTP server on
127.0.0.1 serving archives built here; never the network)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt

from pose_studio.app import predictions as pr
from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.skeleton import COCO17
from pose_studio.gui.controllers.runs import A_RGB, B_RGB, TINT_A, TINT_B
from pose_studio.gui.widgets.timeline import score_colors
from pose_studio.inference.catalogue import CatalogueEntry
from tests.gui.conftest import K, add_label, open_fake, pose_xy, wait_frame
from tests.support import onnx_models as om
from tests.support.http_server import LocalServer

pytestmark = pytest.mark.gui


def _run(win: Any, name: str, frames: range, cx: float = 80.0) -> int:
    """A model run's predictions written straight into the store (as a batch would)."""
    s = win.session
    p = s.project
    rid = p.create_model_run(model_path=f"/models/{name}", model_hash=name, providers=["CPU"],
                             params={"mode": "batch", "pose": {}})
    p.add_predictions(s.video_id, [(f, Instance(
        xy=pose_xy(cx, 60.0), visibility=np.full(K, 2, np.uint8), kind=InstanceKind.PREDICTED,
        kp_scores=np.linspace(0.5, 0.9, K), score=0.7)) for f in frames], rid)
    s.predictions_written(s.video_id)
    return int(rid)


def _click_row(qtbot: Any, panel: Any, run: int | None) -> None:
    tree = panel.tree
    row = panel.row_ids().index(run)
    item = tree.topLevelItem(row)
    rect = tree.visualItemRect(item)
    x = tree.header().sectionPosition(2) + 4
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center().__class__(
        x, rect.center().y()))


def _settled(qtbot: Any, win: Any) -> None:
    """The run list and B's timeline row (read on a background job) have arrived."""
    qtbot.waitUntil(lambda: not win.runs.busy, timeout=5000)


def _shown(win: Any) -> tuple[Any, Any, bool]:
    s = win.session.shown_runs()
    return s.run_id, s.compare_run_id, s.pinned


def test_run_picker_ab_legend_and_keys(qtbot, make_window, fake_video) -> None:
    win = make_window()
    open_fake(qtbot, win, fake_video)
    panel, tl = win.runs.panel, win.timeline
    win.docks["runs"].raise_()  # its tab, beside the Confidence panel's
    qtbot.waitUntil(panel.tree.isVisible, timeout=3000)
    base = _run(win, "base.onnx", range(0, 50))
    new = _run(win, "retrained.onnx", range(0, 10), cx=90.0)
    qtbot.waitUntil(lambda: panel.row_ids() == [new, base], timeout=3000)
    assert panel.follow.isChecked() and _shown(win) == (new, None, False)
    assert tl._predicted.sum() == 10  # the newest run is shown
    assert "retrained" in panel.summary.text() and "(newest)" in panel.summary.text()
    # choosing the older run: the timeline, the Confidence panel's arrays and the frame follow
    _click_row(qtbot, panel, base)
    qtbot.waitUntil(lambda: _shown(win) == (base, None, True), timeout=3000)
    assert tl._predicted.sum() == 50  # at once; the list follows
    _settled(qtbot, win)
    assert not panel.follow.isChecked()
    assert tl._predicted.sum() == 50 and win.review.review.predicted.sum() == 50
    win.goto(20)
    wait_frame(qtbot, win, 20)
    assert [it.instance.model_run_id for it in win.view.instance_items] == [base]
    # B beside it: a second colour, drawn only; a timeline row; a legend
    item = panel.tree.topLevelItem(panel.row_ids().index(new))
    item.setCheckState(1, Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: _shown(win) == (base, new, True), timeout=3000)
    _settled(qtbot, win)
    assert tl._compare is not None and tl._compare.sum() == 10 and len(tl.rows) == 5
    img = tl.grab().toImage()  # a row per run in its colour, and the confidence strip below
    x, h = tl._x_of(5), tl.height()
    rows = [img.pixelColor(x, int((a + b) / 2 * h)).getRgb()[:3]
            for a, b in zip(tl.rows, tl.rows[1:])]
    strip = tuple(int(v) for v in score_colors(np.array([tl._min_score[5]]))[0])
    assert rows[1:] == [A_RGB, B_RGB, strip], rows
    assert win.runs.legend.isVisible() and "retrained" in win.runs.legend.text()
    win.view.zoom(3.0)  # zooming and panning scroll the picture, never the legend
    win.view.horizontalScrollBar().setValue(win.view.horizontalScrollBar().value() + 150)
    assert win.view.viewport().geometry().contains(win.runs.legend.geometry())
    win.goto(3)
    wait_frame(qtbot, win, 3)
    items = win.view.instance_items
    assert [(it.instance.model_run_id, it.tint, it.passive) for it in items] == [
        (base, TINT_A, False), (new, TINT_B, True)]
    assert "second run (B)" in items[1].tooltip_text(0)
    # B hides B and brings the same one back; Shift+B swaps
    qtbot.keyClick(win.view, Qt.Key.Key_B)
    assert _shown(win) == (base, None, True) and tl._compare is None  # at once
    assert not win.runs.legend.isVisible()
    assert [it.tint for it in win.view.instance_items] == [None]
    qtbot.keyClick(win.view, Qt.Key.Key_B)
    assert _shown(win) == (base, new, True)
    qtbot.keyClick(win.view, Qt.Key.Key_B, Qt.KeyboardModifier.ShiftModifier)
    assert _shown(win) == (new, base, True) and tl._predicted.sum() == 10
    _settled(qtbot, win)
    assert tl._compare.sum() == 50 and panel.row_ids() == [new, base]
    # clicking B's row shows it as A (and the old A stays as B)
    _click_row(qtbot, panel, base)
    qtbot.waitUntil(lambda: _shown(win) == (base, new, True), timeout=3000)
    # following the newest again (B was the newest: the old A becomes B)
    panel.follow.setChecked(True)
    qtbot.waitUntil(lambda: _shown(win) == (new, base, False), timeout=3000)
    # a newer run while following: it is shown at once (the list follows soon)
    third = _run(win, "third.onnx", range(0, 5))
    assert _shown(win)[0] == third and tl._predicted.sum() == 5
    qtbot.waitUntil(lambda: panel.row_ids() == [third, new, base], timeout=3000)


def test_keys_say_why_when_there_is_no_second_run(qtbot, make_window, fake_video) -> None:
    win = make_window()
    open_fake(qtbot, win, fake_video)
    qtbot.keyClick(win.view, Qt.Key.Key_B)
    assert "no predictions yet" in win.statusBar().currentMessage()
    _run(win, "one.onnx", range(0, 5))
    qtbot.keyClick(win.view, Qt.Key.Key_B, Qt.KeyboardModifier.ShiftModifier)
    assert "no second run" in win.statusBar().currentMessage()
    assert win.messages == []  # status lines, not message boxes


def test_compare_view_job_progress_cancel_and_click_to_go(qtbot, make_window,
                                                          fake_video) -> None:
    win = make_window()
    open_fake(qtbot, win, fake_video)
    for f in range(0, 10):
        add_label(win, f, cx=80.0, cy=60.0)  # the same people as the base run
    base = _run(win, "base.onnx", range(0, 40))
    new = _run(win, "retrained.onnx", range(0, 10), cx=86.0)
    cmp = win.runs.compare
    steps: list[tuple[int, int]] = []
    win.runs._progress.step.connect(lambda _t, d, t: steps.append((d, t)))
    win.actions_by_id["compare_runs"].trigger()  # no B yet: the other run is picked as B
    assert _shown(win) == (new, base, False)
    assert win.runs.compare_dock.isVisible() and cmp.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: cmp.report is not None, timeout=10000)
    assert not cmp.cancel_button.isEnabled() and steps[-1] == (6, 6)
    text = cmp.verdict.text()
    assert text.startswith("retrained (run 2) is worse than base (run 1)"), text
    assert "10 labeled people, 10 frames" in text
    assert cmp.summary.rowCount() == 2 and cmp.summary.item(1, 1).text() == "1.000"  # B: base
    assert cmp.keypoints.rowCount() == K and cmp.keypoints.item(0, 0).text() == "nose"
    # A (run 2) is the newer run: changes read A − B, negative where it got worse
    assert cmp.keypoints.horizontalHeaderItem(3).text() == "A − B"
    assert float(cmp.keypoints.item(0, 3).text()) < 0
    assert win.runs.compare_dock.height() >= 300  # room for its tables
    frames = cmp.changed_frames()
    assert frames[:10] == [(win.session.video_id, f) for f in range(10)]  # labeled first
    assert frames[10][1] >= 10  # then where the runs disagree (B has none there)
    # click a listed frame: the window goes there, both runs drawn
    rect = cmp.changed.visualItemRect(cmp.changed.item(4, 1))
    qtbot.mouseClick(cmp.changed.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    wait_frame(qtbot, win, 4)
    assert {it.tint for it in win.view.instance_items if it.predicted} == {TINT_A, TINT_B}
    # cancel: the job's result never arrives
    cmp.compute_button.click()
    assert cmp.cancel_button.isEnabled()
    cmp.cancel_button.click()
    assert cmp.verdict.text() == "Comparison cancelled." and not cmp.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not win.jobs.busy, timeout=10000)
    qtbot.wait(50)
    assert cmp.verdict.text() == "Comparison cancelled."


def _info(path: Path, **kw: Any) -> pr.ModelInfo:
    return pr.ModelInfo(pose_path=str(path), detector_path=kw.pop("det", None), family="x",
                        keypoints=COCO17.keypoints, skeleton=COCO17, input_size=(48, 64),
                        providers=("CPUExecutionProvider",), **kw)


def test_live_predict_after_a_batch_stays_in_the_batch_run(qtbot, make_window, fake_video,
                                                           tmp_path) -> None:
    """The bug: "predict this frame" after a batch run made a new run that became the shown
    run, so the timeline showed one frame."""
    planted = [(6.0 + i % 4, 4.0 + i % 6) for i in range(17)]
    model = om.make_heatmap_model(tmp_path / "tiny.onnx", k=17, input_hw=(64, 48), stride=4,
                                  planted=planted)
    win = make_window(inference=True)
    open_fake(qtbot, win, fake_video)
    win.model_panel.set_pose_path(model)
    win.model_panel.request_load()
    # the tiny model, not whatever the window may have loaded before it
    qtbot.waitUntil(lambda: win.inference.model_info is not None
                    and win.inference.model_info.pose_path == str(model), timeout=15000)
    info = win.inference.model_info
    s = win.session
    batch = pr.record_run(s.project, info, mode="batch", frames=[0, 30])
    pr.write_results(s.project, s.video_id, [SimpleNamespace(frame_idx=f, instances=(Instance(
        xy=pose_xy(80.0, 60.0), visibility=np.full(K, 2, np.uint8), kind=InstanceKind.PREDICTED,
        kp_scores=np.full(K, 0.9), score=0.9),)) for f in range(30)], batch)
    s.predictions_written(s.video_id)
    old5 = s.project.instances(s.video_id, 5, kind=InstanceKind.PREDICTED)
    win.goto(5)
    wait_frame(qtbot, win, 5)
    win.actions_by_id["predict_frame"].trigger()
    qtbot.waitUntil(lambda: [i.id for i in s.project.instances(
        s.video_id, 5, kind=InstanceKind.PREDICTED)] != [i.id for i in old5], timeout=10000)
    assert {i.model_run_id for i in s.instances(InstanceKind.PREDICTED)} == {batch}
    assert s.frames.predicted.sum() == 30 and win.timeline._predicted.sum() == 30
    assert _shown(win) == (batch, None, False) and len(s.project.model_runs()) == 1
    assert f"run {batch}, shown as A" in win.statusBar().currentMessage()
    # another model: its own live run, shown as A; the batch run stays visible as B
    other = om.make_heatmap_model(tmp_path / "other.onnx", k=17, input_hw=(64, 48), stride=4,
                                  planted=[(p[0] + 1, p[1]) for p in planted])
    win.model_panel.set_pose_path(other)
    win.model_panel.request_load()
    qtbot.waitUntil(lambda: win.inference.model_info is not None
                    and win.inference.model_info.pose_path == str(other), timeout=15000)
    win.goto(6)
    wait_frame(qtbot, win, 6)
    win.actions_by_id["predict_frame"].trigger()
    qtbot.waitUntil(lambda: len(s.project.model_runs()) == 2, timeout=10000)
    qtbot.waitUntil(lambda: _shown(win)[1] == batch, timeout=3000)
    live = max(r.id for r in s.project.model_runs())
    assert _shown(win) == (live, batch, False)
    assert "stays visible as B" in win.statusBar().currentMessage()
    qtbot.waitUntil(lambda: win.timeline._compare is not None, timeout=3000)
    assert win.timeline._compare.sum() == 30


def test_model_panel_reads_top_down_and_warns_without_a_detector(qtbot, tmp_path) -> None:
    from pose_studio.gui.widgets.model_panel import ModelPanel

    panel = ModelPanel(models_dir=tmp_path)
    qtbot.addWidget(panel)
    info = _info(tmp_path / "td.onnx", top_down=True, warnings=(pr.NO_DETECTOR_WARNING,))
    assert info.needs_boxes
    panel.set_model_info(info)
    text = panel.warning_label.text()
    assert panel.warning_label.isVisibleTo(panel) and "No person detector" in text
    assert "Get a Model" in panel.warning_label.toolTip()
    assert pr.NO_DETECTOR_WARNING not in text and "top-down" in panel.info_label.text()
    panel.set_model_info(_info(tmp_path / "td.onnx", top_down=True, det=str(tmp_path / "d.onnx")))
    assert not panel.warning_label.isVisibleTo(panel)
    panel.set_model_info(_info(tmp_path / "os.onnx", top_down=False,
                               det=str(tmp_path / "d.onnx")))
    assert not panel.warning_label.isVisibleTo(panel)
    assert "one-stage" in panel.info_label.text() and "not used" in panel.info_label.text()


# --- Get a model… -------------------------------------------------------------------------------
@pytest.fixture
def server():
    s = LocalServer()
    yield s
    s.close()


@pytest.fixture(scope="module")
def sdk_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """An mmdeploy SDK archive (end2end.onnx + pipeline.json), padded past a few download
    chunks so that a transfer can be caught half-way."""
    d = tmp_path_factory.mktemp("sdk")
    om.make_simcc_model(d / "end2end.onnx", input_hw=(64, 48))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.write(d / "end2end.onnx", "rtmpose-x/end2end.onnx")
        z.writestr("rtmpose-x/pipeline.json", json.dumps({"pipeline": {"tasks": []}}))
        z.writestr("rtmpose-x/padding.bin", np.random.default_rng(0).bytes(400_000))
    return buf.getvalue()


def _entry(server: LocalServer, path: str, name: str, kind: str = "pose") -> CatalogueEntry:
    return CatalogueEntry(name=name, kind=kind, purpose="people, 17 keypoints (test)",
                          license="Apache-2.0", size_mb=0.4, base=server.base, path=path)


def _dialog(qtbot: Any, win: Any, entries: list[CatalogueEntry], folder: Path) -> Any:
    from pose_studio.gui.dialogs.get_model import GetModelDialog

    dlg = GetModelDialog(win, entries=entries, folder=folder)
    dlg.model_ready.connect(win.runs.model_ready)
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def _download(qtbot: Any, dlg: Any, name: str) -> None:
    dlg.select(name)
    qtbot.mouseClick(dlg.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.task is None, timeout=15000)


def test_get_a_model_downloads_and_selects_it(qtbot, make_window, server, sdk_zip,
                                              _isolated_models_dir) -> None:
    win = make_window(inference=True)
    server.files["mm/rtmpose-x.zip"] = sdk_zip
    dlg = _dialog(qtbot, win, [_entry(server, "mm/rtmpose-x.zip", "rtmpose-x"),
                               _entry(server, "det.zip", "person-det", "detector")],
                  _isolated_models_dir)
    assert [dlg.table.item(r, 0).text() for r in range(2)] == ["rtmpose-x", "person-det"]
    assert dlg.table.item(1, 1).text().startswith("detector: ")
    assert dlg.table.item(0, 2).text() == "Apache-2.0" and dlg.table.item(0, 3).text() == "0.4 MB"
    assert not dlg.download_button.isEnabled()  # nothing chosen yet
    _download(qtbot, dlg, "rtmpose-x")
    assert dlg.result is not None and dlg.result.first_download
    assert "sha256 recorded" in dlg.message.text() and "press Load model" in dlg.message.text()
    assert dlg.table.item(0, 4).text() == "✓"
    mp = win.model_panel
    assert mp.pose_path() == str(dlg.result.model_file)
    assert mp.pose_combo.currentText() == "rtmpose-x (downloaded)"
    # a fresh panel (the next start) lists it too
    from pose_studio.gui.widgets.model_panel import ModelPanel

    fresh = ModelPanel()
    qtbot.addWidget(fresh)
    assert fresh.pose_combo.findText("rtmpose-x (downloaded)") >= 0
    # again: nothing fetched, its file checked
    _download(qtbot, dlg, "rtmpose-x")
    assert dlg.result.already_there and "its file checked" in dlg.message.text()
    assert len(server.ranges) == 1


def test_get_a_model_errors_are_one_line(qtbot, make_window, server, tmp_path) -> None:
    win = make_window()
    server.mode["err.zip"] = "error"
    server.files["err.zip"] = b""
    server.files["html.zip"] = b"<html>login page</html>"
    nowhere = CatalogueEntry(name="offline", kind="pose", purpose="p", license="MIT",
                             size_mb=1, base="http://127.0.0.1:9", path="x.zip")
    dlg = _dialog(qtbot, win, [_entry(server, "err.zip", "err"),
                               _entry(server, "html.zip", "html"), nowhere], tmp_path)
    for name, words in (("err", "answered 500"), ("html", "not a zip archive"),
                        ("offline", "cannot reach 127.0.0.1:9")):
        _download(qtbot, dlg, name)
        msg = dlg.message.text()
        assert words in msg and "\n" not in msg and "Traceback" not in msg, msg
        assert "--mirror" not in msg  # the dialog's words, not the command line's
    assert "in the Mirror field" in dlg.message.text()
    assert not any(p.is_dir() and not p.name.startswith(".") for p in tmp_path.iterdir())
    assert win.model_panel is None  # no inference here: nothing to select, nothing broke


def test_get_a_model_cancel_keeps_what_arrived_and_resumes(qtbot, make_window, server,
                                                           sdk_zip, tmp_path) -> None:
    win = make_window()
    server.files["m.zip"] = sdk_zip
    server.mode["m.zip"] = "gate"  # half the file, then the server waits for the test
    dlg = _dialog(qtbot, win, [_entry(server, "m.zip", "m")], tmp_path)
    dlg.select("m")
    dlg.download_button.click()
    part = tmp_path / ".partial" / "m.zip.part"
    # a chunk arrived (the file is written a chunk at a time; the bar is throttled)
    qtbot.waitUntil(lambda: part.is_file() and part.stat().st_size > 0, timeout=10000)
    assert not dlg.download_button.isEnabled() and dlg.cancel_button.isEnabled()
    dlg.cancel_button.click()
    server.gate.set()
    qtbot.waitUntil(lambda: dlg.task is None, timeout=10000)
    assert "cancelled; what arrived is kept, Download resumes it" in dlg.message.text()
    have = part.stat().st_size
    assert 0 < have < len(sdk_zip) and not (tmp_path / "m").exists()
    server.mode["m.zip"] = "ok"
    _download(qtbot, dlg, "m")
    assert server.ranges[-1] == f"bytes={have}-"
    assert dlg.result.resumed_from == have and f"resumed at {have / 1e6:.1f} MB" in \
        dlg.message.text()
    assert (tmp_path / "m" / "end2end.onnx").is_file()
