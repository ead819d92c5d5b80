"""Export/import dialogs over the format registry (real project, background task), shortcuts
help, train dialog."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pose_studio.core.annotation import Instance
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.skeleton import COCO17
from pose_studio.gui.dialogs.export_dialog import ExportDialog
from pose_studio.gui.dialogs.import_dialog import ImportDialog
from pose_studio.gui.dialogs.shortcuts import ShortcutsDialog
from pose_studio.gui.dialogs.train_dialog import TrainDialog
from pose_studio.gui.workers.task import BackgroundTask

pytestmark = pytest.mark.gui


def _until(qtbot, cond, timeout: int = 10000) -> None:
    qtbot.waitUntil(lambda: bool(cond()), timeout=timeout)


def _project(tmp_path: Path, name: str, video: Path | None = None, labels: bool = True) -> Any:
    from pose_studio.store.project import Project
    from pose_studio.video import open_video
    from tests.support.videos import make_indexed_video

    if video is None:
        video = make_indexed_video(tmp_path / "clip.mp4", 12, size=(160, 120))
    with open_video(video) as r:
        m = r.meta
        index = r.index_bytes()
    proj = Project.create(tmp_path / f"{name}.posestudio", COCO17)
    vid = proj.add_video(video, width=m.width, height=m.height, frame_count=m.frame_count,
                         fps=m.fps, vfr=m.vfr, codec=m.codec, duration_s=m.duration_s,
                         index=index)
    if labels:
        rng = np.random.default_rng(1)
        for f in (2, 5, 9):
            pts = np.column_stack([rng.uniform(20, 140, 17), rng.uniform(10, 110, 17),
                                   np.full(17, 2)])
            proj.add_instance(vid, f, Instance.from_points(pts))
    return proj, vid, video


# --- background task ------------------------------------------------------------------------------
def test_background_task_progress_result_and_error(qtbot) -> None:
    def work(progress, cancel):
        for i in range(1000):
            progress(i + 1, 1000)
        return "done"

    task = BackgroundTask(work)
    seen: list[tuple[int, int]] = []
    task.progress.connect(lambda d, t: seen.append((d, t)))
    with qtbot.waitSignal(task.succeeded) as sig:
        task.start()
    assert sig.args == ["done"]
    assert task.wait(2000)
    qtbot.wait(20)
    assert seen[-1] == (1000, 1000) and len(seen) < 50  # throttled

    bad = BackgroundTask(lambda p, c: (_ for _ in ()).throw(PoseStudioError("file x: bad")))
    with qtbot.waitSignal(bad.failed) as sig:
        bad.start()
    assert sig.args == ["file x: bad"]
    assert bad.wait(2000)


def test_background_task_cancel(qtbot) -> None:
    def work(progress, cancel: threading.Event):
        while not cancel.wait(0.01):
            pass
        return "stopped"

    task = BackgroundTask(work)
    task.start()
    qtbot.wait(30)
    assert task.shutdown(3000)  # True: the work saw the cancel and the thread ended


# --- export / import over the format registry -------------------------------------------------
def test_export_dialog_writes_a_file_pycocotools_loads(qtbot, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    proj, vid, _ = _project(tmp_path, "a")
    try:
        dlg = ExportDialog(proj)
        qtbot.addWidget(dlg)
        assert dlg.format_name() == "coco"
        assert dlg.out_path.text() == str(tmp_path / "a.coco.json")  # beside the project
        out = tmp_path / "out" / "labels.json"
        out.parent.mkdir()
        dlg.out_path.setText(str(out))
        dlg._default_images_dir()
        assert dlg.images_dir.text() == str(out.parent / "images")
        dlg.write_images.setChecked(True)
        assert not dlg.jpeg_quality.isEnabled()
        dlg.image_format.setCurrentIndex(dlg.image_format.findData("jpg"))
        assert dlg.jpeg_quality.isEnabled()
        dlg.jpeg_quality.setValue(80)
        assert dlg.selected_video_ids() == [vid]
        with qtbot.waitSignal(dlg.exported, timeout=20000) as sig:
            dlg.run_button.click()
        result = sig.args[0]
        assert result.annotations == 3 and result.files_written == 3
        coco = COCO(str(out))
        assert len(coco.getAnnIds()) == 3 and len(coco.getImgIds()) == 3
        files = sorted(p.suffix for p in (out.parent / "images").rglob("*") if p.is_file())
        assert files == [".jpg"] * 3
        _until(qtbot, lambda: not dlg.running)
        assert "Exported 3 annotations" in dlg.message.text()
        assert dlg.run_button.isEnabled()
    finally:
        proj.close()


def test_export_dialog_format_follows_the_name_and_slp_embeds(qtbot, tmp_path: Path) -> None:
    proj, _, _ = _project(tmp_path, "a")
    try:
        dlg = ExportDialog(proj)
        qtbot.addWidget(dlg)
        dlg.set_format("yolo")
        assert dlg.out_path.text() == str(tmp_path / "a-yolo")  # a folder format
        dlg.out_path.setText(str(tmp_path / "b.slp"))
        dlg._out_edited(dlg.out_path.text())
        assert dlg.format_name() == "slp"
        dlg.write_images.setChecked(True)  # SLEAP embeds images only in a .pkg.slp
        assert dlg.out_path.text() == str(tmp_path / "b.pkg.slp")
        dlg.write_images.setChecked(False)
        assert dlg.out_path.text() == str(tmp_path / "b.slp")
        with qtbot.waitSignal(dlg.exported, timeout=20000) as sig:
            dlg.run_button.click()
        assert sig.args[0].format == "slp" and (tmp_path / "b.slp").is_file()
        _until(qtbot, lambda: not dlg.running)
        assert dlg.report.isHidden()  # SLEAP carried everything this project has
        dlg.set_format("yolo")
        dlg.out_path.setText(str(tmp_path / "y"))
        with qtbot.waitSignal(dlg.exported, timeout=20000):
            dlg.run_button.click()
        _until(qtbot, lambda: not dlg.running)
        # what was not written is listed, copyable
        assert not dlg.report.isHidden() and "not written: images" in dlg.report.toPlainText()
        assert (tmp_path / "y" / "data.yaml").is_file()
    finally:
        proj.close()


def test_export_dialog_asks_before_replacing_and_never_writes_a_source(qtbot,
                                                                       tmp_path: Path) -> None:
    proj, _, video = _project(tmp_path, "a")
    try:
        out = tmp_path / "old.json"
        out.write_text("keep me")
        dlg = ExportDialog(proj, default_path=out)
        qtbot.addWidget(dlg)
        asked: list[list[str]] = []
        dlg.ask_replace = lambda lines: asked.append(list(lines)) or False
        dlg.run_button.click()
        assert len(asked) == 1 and str(out) in asked[0][0]
        assert out.read_text() == "keep me" and not dlg.running
        assert "Nothing was written" in dlg.message.text()
        dlg.ask_replace = lambda lines: True
        with qtbot.waitSignal(dlg.exported, timeout=20000):
            dlg.run_button.click()
        assert out.read_text().startswith("{")
        _until(qtbot, lambda: not dlg.running)
        # the project's own files and its sources: refused, whatever the answer would be
        for target in (video, proj.path):
            dlg.out_path.setText(str(target))
            dlg.run_button.click()
            assert "never written over" in dlg.message.text(), dlg.message.text()
            assert not dlg.running
        assert video.stat().st_size > 100
    finally:
        proj.close()


def test_export_dialog_errors_and_cancel(qtbot, tmp_path: Path, monkeypatch) -> None:
    from pose_studio.app import dataset_export as dx
    from pose_studio.app.dataset_import import Cancelled

    proj, _vid, _ = _project(tmp_path, "a", labels=False)
    try:
        dlg = ExportDialog(proj)
        qtbot.addWidget(dlg)
        assert "nothing to export" in dlg.counts_label.text()
        dlg.out_path.setText(str(tmp_path / "missing-folder" / "x.json"))
        dlg.run_button.click()
        assert "does not exist" in dlg.message.text() and not dlg.running

        dlg.videos.item(0).setCheckState(dlg.videos.item(0).checkState().Unchecked)
        dlg.run_button.click()
        assert "at least one video" in dlg.message.text()
        dlg.videos.item(0).setCheckState(dlg.videos.item(0).checkState().Checked)

        calls: list[Any] = []

        def slow_export(project, req, *, progress, stage, cancel):
            calls.append(req)
            stage("writing slowly…")
            for i in range(1000):
                if cancel.is_set():
                    raise Cancelled()
                progress(i, 1000)
                time.sleep(0.005)
            raise AssertionError("not cancelled")

        monkeypatch.setattr(dx, "run_export", slow_export)
        dlg.out_path.setText(str(tmp_path / "y.json"))
        dlg.source.setCurrentIndex(dlg.source.findData("all"))
        dlg.run_button.click()
        _until(qtbot, lambda: dlg.progress_bar.maximum() == 1000)
        assert not dlg.run_button.isEnabled() and "slowly" in dlg.message.text()
        dlg.cancel_button.click()
        _until(qtbot, lambda: not dlg.running and "nothing was written" in dlg.message.text())
        assert calls[0].source == "all" and calls[0].video_ids is None  # every video
        assert calls[0].images is False and not (tmp_path / "y.json").exists()
    finally:
        proj.close()


def test_import_dialog_detects_the_format_and_reports_what_was_not_kept(qtbot,
                                                                        tmp_path: Path) -> None:
    from tests.support.image_sets import write_coco, write_mixed_set

    root = write_mixed_set(tmp_path / "set")
    path = write_coco(root)
    from pose_studio.store.project import Project

    proj = Project.create(tmp_path / "p.posestudio", COCO17)
    try:
        dlg = ImportDialog(proj, user="ann")
        qtbot.addWidget(dlg)
        assert dlg.copy_button.isHidden() and dlg.run_button.isDefault()  # no report yet
        dlg.run_button.click()
        assert "choose the dataset file" in dlg.message.text()
        dlg.file_path.setText(str(path))
        assert dlg.detected.text() == "detected: COCO keypoints"
        with qtbot.waitSignal(dlg.imported, timeout=20000) as sig:
            dlg.run_button.click()
        assert sig.args[0].n_user == 4
        _until(qtbot, lambda: not dlg.running)
        report = dlg.report.toPlainText().splitlines()
        assert report[0].startswith("Imported 4 labels and 0 predictions on 4 frames")
        assert [r for r in report if r.startswith("not kept:")] == \
            [f"not kept: {n}" for n in sig.args[0].not_kept] and len(sig.args[0].not_kept) == 1
        assert "'hand'" in report[-1]
        dlg.copy_report()
        from PySide6.QtGui import QGuiApplication

        assert QGuiApplication.clipboard().text() == dlg.report.toPlainText()
        steps = proj.history(5)
        assert [(s.kind, s.label, s.made_by) for s in steps] == \
            [("import", "import labels.json", "ann")]

        bad = tmp_path / "bad.json"
        bad.write_text('{"images": 3, "annotations": [], "categories": []}')
        dlg.file_path.setText(str(bad))
        dlg.run_button.click()
        _until(qtbot, lambda: not dlg.running and "bad.json" in dlg.message.text())
        assert "\n" not in dlg.message.text() and "Traceback" not in dlg.message.text()
        assert len(proj.history(5)) == 1  # nothing written
    finally:
        proj.close()


# --- shortcuts ------------------------------------------------------------------------------------
def test_shortcuts_dialog_lists_and_filters(qtbot) -> None:
    dlg = ShortcutsDialog([("Undo", "Ctrl+Z", "Undo the last edit"),
                           ("Next frame", "Right", "Step forward"),
                           ("Play", "Space", "Play or pause")])
    qtbot.addWidget(dlg)
    assert len(dlg.visible_rows()) == 3
    dlg.filter.setText("forward")
    assert dlg.visible_rows() == [("Next frame", "Right", "Step forward")]
    dlg.filter.setText("ctrl+z")
    assert [r[0] for r in dlg.visible_rows()] == ["Undo"]
    dlg.filter.setText("")
    assert len(dlg.visible_rows()) == 3
    with pytest.raises(ValueError):
        ShortcutsDialog(entries=[("too", "short")])


def test_shortcuts_dialog_reads_the_action_table(qtbot) -> None:
    from PySide6.QtWidgets import QWidget

    from pose_studio.gui.actions import ACTIONS, MOUSE_GESTURES

    parent = QWidget()
    qtbot.addWidget(parent)
    dlg = ShortcutsDialog(parent)
    assert dlg.parent() is parent
    assert ShortcutsDialog(None, parent).parent() is parent  # (entries, parent) order
    rows = dlg.visible_rows()
    assert len(rows) == len(ACTIONS) + len(MOUSE_GESTURES) and len(ACTIONS) > 5
    assert not dlg.table.isColumnHidden(0)
    dlg.filter.setText("shift + drag")  # mouse gestures are listed too, as written
    assert [r[1] for r in dlg.visible_rows()] == ["Shift + drag"]


def test_shortcuts_dialog_fits_its_columns(qtbot) -> None:
    """It used to open 640 px wide and cut the key and action columns."""
    dlg = ShortcutsDialog(None)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    t = dlg.table
    fixed = sum(t.columnWidth(c) for c in range(3))
    screen = dlg.screen().availableGeometry().width()
    if screen >= fixed + 600:
        assert t.viewport().width() >= fixed + 200  # room for the descriptions, which wrap
    else:  # a small screen: as wide as it allows
        assert dlg.width() >= 0.9 * screen
    for c in (0, 2):  # no cut menu names or keys (long actions wrap onto a second line)
        widest = max(t.fontMetrics().horizontalAdvance(t.item(r, c).text())
                     for r in range(t.rowCount()))
        assert t.columnWidth(c) >= widest


# --- training -------------------------------------------------------------------------------------
FAKE_TRAINER = r"""
import json, sys, time
mode = sys.argv[1]
out = sys.argv[2]
def say(**ev):
    print(json.dumps(ev), flush=True)
say(event="data", train=12, val=3, device="cpu")
print("a log line that is not JSON", flush=True)
if mode == "slow":
    time.sleep(30)
for step in range(1, 7):
    say(event="step", epoch=1 + (step - 1) // 3, step=step, steps_per_epoch=3, total_steps=6,
        loss=1.0 / step, lr=1e-3, elapsed_s=0.1)
    if step % 3 == 0:
        say(event="epoch", epoch=step // 3, epochs=2, step=step, loss=1.0 / step,
            val_ap=0.2 * step, val_ap50=0.5, val_ap75=0.1, best_ap=0.2 * step, elapsed_s=0.2)
if mode == "fail":
    say(event="error", message="no labeled instances in the project")
    sys.exit(1)
say(event="exported", onnx=out + "/retrained.onnx", card=out + "/retrained.json", val_ap=1.2)
say(event="done", best_ap=1.2, epochs=2, step=6, onnx=out + "/retrained.onnx")
"""


def _fake_command(tmp_path: Path, mode: str):
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)

    def command(project_path, out_dir, **opts):
        command.opts = opts  # type: ignore[attr-defined]
        return [sys.executable, str(script), mode, str(out_dir)]

    return command


def test_train_dialog_plots_progress_and_offers_model(qtbot, tmp_path: Path) -> None:
    cmd = _fake_command(tmp_path, "ok")
    dlg = TrainDialog(tmp_path / "p.posestudio", command_fn=cmd, torch_available=True,
                      out_dir=tmp_path / "run")
    qtbot.addWidget(dlg)
    dlg.epochs.setValue(2)
    dlg.time_budget.setValue(5)
    with qtbot.waitSignal(dlg.training_finished, timeout=20000) as sig:
        dlg.start_button.click()
    assert sig.args[0] is True, sig.args
    assert cmd.opts["epochs"] == 2 and cmd.opts["time_budget_min"] == 5.0
    assert dlg.loss_x == [1, 2, 3, 4, 5, 6] and dlg.loss_y[-1] == pytest.approx(1 / 6)
    assert dlg.val_x == [1, 2] and dlg.val_y == pytest.approx([0.6, 1.2])
    assert dlg.exported_model == str(tmp_path / "run" / "retrained.onnx")
    assert not dlg.use_button.isHidden()
    with qtbot.waitSignal(dlg.model_ready) as sig2:
        dlg.use_button.click()
    assert sig2.args == [str(tmp_path / "run" / "retrained.onnx")]


def test_train_dialog_error_and_cancel(qtbot, tmp_path: Path) -> None:
    dlg = TrainDialog(tmp_path / "p.posestudio", command_fn=_fake_command(tmp_path, "fail"),
                      torch_available=True, out_dir=tmp_path / "run")
    qtbot.addWidget(dlg)
    with qtbot.waitSignal(dlg.training_finished, timeout=20000) as sig:
        dlg.start_button.click()
    assert sig.args[0] is False and "no labeled instances" in sig.args[1]
    assert dlg.use_button.isHidden()

    dlg2 = TrainDialog(tmp_path / "p.posestudio", command_fn=_fake_command(tmp_path, "slow"),
                       torch_available=True, out_dir=tmp_path / "run2")
    qtbot.addWidget(dlg2)
    dlg2.start_button.click()
    _until(qtbot, lambda: dlg2.events)  # the "data" line arrived
    with qtbot.waitSignal(dlg2.training_finished, timeout=10000) as sig:
        dlg2.cancel_button.click()
    assert sig.args[0] is False and "cancelled" in sig.args[1]
    assert not dlg2.running


def test_train_dialog_without_torch_says_how_to_install(qtbot, tmp_path: Path) -> None:
    dlg = TrainDialog(tmp_path / "p.posestudio", torch_available=False)
    qtbot.addWidget(dlg)
    assert 'pip install "pose-studio[train]"' in dlg.status.text()
    assert not dlg.start_button.isEnabled()
    dlg.start()
    assert not dlg.running
