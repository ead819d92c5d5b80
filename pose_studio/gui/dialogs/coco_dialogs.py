"""Export and import COCO keypoints dialogs; the work runs on a background thread.

``ExportCocoDialog(project, parent=None, *, default_path=None)``
    The options of ``pose-studio export``: source (user / predicted / all), which videos, output
    JSON, write images (PNG or JPEG + quality, folder). Export runs
    :func:`pose_studio.formats.coco.export_coco` in a :class:`BackgroundTask` with a progress bar
    and Cancel (a cancelled export writes no JSON and removes its images).
    Signal ``exported(object)``: the ``ExportSummary`` after a successful export.

``ImportCocoDialog(project, parent=None, *, default_video_id=None)``
    A COCO JSON file, and where its images are: matched to the project's videos by file name /
    ``frame_index`` (default), all on one chosen video, or an image folder (added as a video).
    Runs :func:`pose_studio.formats.coco.import_coco` (all or nothing) in the background.
    Signal ``imported(object)``: the ``ImportSummary``; the window should then refresh its
    views (and clear its undo stack or mark the import, as it sees fit).

Both dialogs are non-modal-safe: closing one while it works cancels (export) or waits for the
work to finish (import: one transaction, never half-written), and never leaves a thread running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from pose_studio.gui.workers.task import BackgroundTask


def _path_row(edit: QLineEdit, browse: Callable[[], None]) -> QWidget:
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(edit, 1)
    b = QPushButton("Browse…")
    b.clicked.connect(browse)
    lay.addWidget(b)
    return w


class _TaskDialog(QDialog):
    """Shared plumbing: a progress bar, a message line, a run button, Cancel/Close."""

    def __init__(self, parent: QWidget | None, title: str, run_text: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._task: BackgroundTask | None = None
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox()
        self.run_button = self.buttons.addButton(run_text, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.run_button.clicked.connect(self._start)
        self.cancel_button.clicked.connect(self._cancel_or_close)
        self.form = QFormLayout()
        lay = QVBoxLayout(self)
        lay.addLayout(self.form)
        lay.addWidget(self.progress_bar)
        lay.addWidget(self.message)
        lay.addWidget(self.buttons)

    # --- subclass hooks ----------------------------------------------------------------------
    def _make_job(self) -> Callable[[Any, threading.Event], Any] | None:
        raise NotImplementedError

    def _on_success(self, result: object) -> None:
        raise NotImplementedError

    # --- running -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True from start until the task's end has been handled (its thread joined)."""
        return self._task is not None

    def _set_inputs_enabled(self, enabled: bool) -> None:
        for i in range(self.form.rowCount()):
            for role in (QFormLayout.ItemRole.FieldRole, QFormLayout.ItemRole.SpanningRole):
                item = self.form.itemAt(i, role)
                w = item.widget() if item is not None else None
                if w is not None:
                    w.setEnabled(enabled)
        self.run_button.setEnabled(enabled)

    def _start(self) -> None:
        if self.running:
            return
        try:
            job = self._make_job()
        except ValueError as exc:
            self._show_error(str(exc))
            return
        if job is None:
            return
        self.message.setText("Working…")
        self.message.setStyleSheet("")
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setVisible(True)
        self._set_inputs_enabled(False)
        task = BackgroundTask(job, self)
        task.progress.connect(self._on_progress)
        task.succeeded.connect(self._on_success)
        task.failed.connect(self._show_error)
        task.finished.connect(lambda t=task: self._on_finished(t))
        self._task = task
        task.start()

    def _on_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress_bar.setRange(0, total)
            self.progress_bar.setValue(done)
            self.progress_bar.setFormat("%v / %m frames")

    def _show_error(self, message: str) -> None:
        self.message.setStyleSheet("color: #c0392b;")
        self.message.setText(message)

    def _on_finished(self, task: BackgroundTask) -> None:
        task.wait(1000)
        if task is not self._task:
            return
        self._task = None
        self.progress_bar.setVisible(False)
        self._set_inputs_enabled(True)
        self.cancel_button.setText("Close")

    def _cancel_or_close(self) -> None:
        if self.running and self._task is not None:
            self._task.cancel()
            self.message.setText("Cancelling…")
            return
        self.reject()

    def shutdown(self) -> None:
        """Cancel any running work and join its thread."""
        if self._task is not None:
            self._task.shutdown(10000)
            self._task = None

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)


def export_message(result: Any) -> str:
    """What an export wrote, in words (and that the images it names were not written, when
    they were not)."""
    if getattr(result, "cancelled", False):
        return "Export cancelled: nothing was written."
    n_ann = getattr(result, "n_annotations", 0)
    n_img = getattr(result, "n_images", 0)
    path = getattr(result, "path", "")
    written = getattr(result, "images_written", 0)
    text = f"Exported {_plural(n_ann, 'annotation')} on {_plural(n_img, 'frame')} to {path}"
    if written:
        return text + f", with {_plural(written, 'image file')}."
    if n_img:
        return (text + ". The JSON names each frame's image file (file_name), but no image "
                "was written: tick \"Write the frames as image files\" to write them too.")
    return text + "."


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class ExportCocoDialog(_TaskDialog):
    """See the module docstring."""

    exported = Signal(object)

    def __init__(self, project: Any, parent: QWidget | None = None, *,
                 default_path: str | Path | None = None,
                 export_fn: Callable[..., Any] | None = None) -> None:
        super().__init__(parent, "Export COCO keypoints", "Export")
        self._project = project
        self._export_fn = export_fn
        self.source = QComboBox()
        for label, value in (("User labels", "user"), ("Predictions", "predicted"),
                             ("Labels and predictions", "all")):
            self.source.addItem(label, value)
        self.videos = QListWidget()
        self.videos.setMaximumHeight(120)
        for v in project.videos():
            item = QListWidgetItem(f"{v.id}: {Path(v.path).name}")
            item.setData(Qt.ItemDataRole.UserRole, v.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.videos.addItem(item)
        if default_path is None:
            default_path = Path(project.path).with_suffix(".coco.json")
        self.out_path = QLineEdit(str(default_path))
        self.write_images = QCheckBox("Write the frames as image files")
        self.images_dir = QLineEdit()
        self.image_format = QComboBox()
        self.image_format.addItem("PNG (lossless)", "png")
        self.image_format.addItem("JPEG", "jpg")
        self.jpeg_quality = QSpinBox()
        self.jpeg_quality.setRange(1, 100)
        self.jpeg_quality.setValue(95)
        self.jpeg_quality.setSuffix(" quality")
        fmt_row = QWidget()
        fl = QHBoxLayout(fmt_row)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.addWidget(self.image_format)
        fl.addWidget(self.jpeg_quality)
        self.counts_label = QLabel()
        self.counts_label.setObjectName("export_counts")
        self.counts_label.setWordWrap(True)
        try:
            self._counts: dict[str, int] | None = dict(project.counts())
        except Exception:  # an older store without counts(): just no summary
            self._counts = None
        self.form.addRow("Export", self.source)
        self.form.addRow("", self.counts_label)
        self.form.addRow("Videos", self.videos)
        self.source.currentIndexChanged.connect(self._update_counts)
        self._update_counts()
        self.form.addRow("JSON file", _path_row(self.out_path, self._browse_out))
        self.form.addRow("", self.write_images)
        self.form.addRow("Image folder", _path_row(self.images_dir, self._browse_images))
        self.form.addRow("Image format", fmt_row)
        self.write_images.toggled.connect(self._update_enabled)
        self.image_format.currentIndexChanged.connect(self._update_enabled)
        self.out_path.textChanged.connect(self._default_images_dir)
        self._default_images_dir()
        self._update_enabled()

    # --- options -----------------------------------------------------------------------------
    def _update_counts(self) -> None:
        """What the chosen source holds (all videos), so an empty export is no surprise."""
        c = self._counts
        if c is None:
            self.counts_label.setText("")
            return
        src = self.source.currentData()
        parts, n = [], 0
        if src in ("user", "all"):
            n += c.get("user_instances", 0)
            parts.append(f"{_plural(c.get('user_instances', 0), 'labeled instance')} on "
                         f"{_plural(c.get('labeled_frames', 0), 'frame')}")
        if src in ("predicted", "all"):
            n += c.get("predicted_instances", 0)
            parts.append(f"{_plural(c.get('predicted_instances', 0), 'predicted instance')} on "
                         f"{_plural(c.get('predicted_frames', 0), 'frame')}")
        text = " and ".join(parts) + " in the project"
        if n == 0:
            text = f"<span style='color:#b9770e'>⚠ nothing to export: {text}</span>"
        self.counts_label.setText(text)

    def _default_images_dir(self) -> None:
        if not self.images_dir.isModified():
            out = Path(self.out_path.text() or ".")
            self.images_dir.setText(str(out.parent / "images"))

    def _update_enabled(self) -> None:
        on = self.write_images.isChecked() and not self.running
        self.images_dir.setEnabled(on)
        self.image_format.setEnabled(on)
        self.jpeg_quality.setEnabled(on and self.image_format.currentData() == "jpg")

    def _set_inputs_enabled(self, enabled: bool) -> None:
        super()._set_inputs_enabled(enabled)
        if enabled:
            self._update_enabled()

    def _browse_out(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export COCO JSON", self.out_path.text(),
                                              "COCO JSON (*.json)")
        if path:
            self.out_path.setText(path)

    def _browse_images(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Image folder", self.images_dir.text())
        if path:
            self.images_dir.setText(path)
            self.images_dir.setModified(True)

    def selected_video_ids(self) -> list[int]:
        return [int(self.videos.item(i).data(Qt.ItemDataRole.UserRole))
                for i in range(self.videos.count())
                if self.videos.item(i).checkState() == Qt.CheckState.Checked]

    def options(self) -> dict[str, Any]:
        """The keyword arguments for ``export_coco`` (raises ValueError on a bad choice)."""
        out = self.out_path.text().strip()
        if not out:
            raise ValueError("choose the JSON file to write")
        ids = self.selected_video_ids()
        if not ids:
            raise ValueError("choose at least one video")
        opts: dict[str, Any] = {
            "out_path": out,
            "source": self.source.currentData(),
            "video_ids": ids,
            "images_dir": None,
            "image_format": self.image_format.currentData(),
            "jpeg_quality": self.jpeg_quality.value(),
        }
        if self.write_images.isChecked():
            images = self.images_dir.text().strip()
            if not images:
                raise ValueError("choose the image folder")
            Path(images).mkdir(parents=True, exist_ok=True)
            opts["images_dir"] = images
        return opts

    def _make_job(self) -> Callable[[Any, threading.Event], Any]:
        opts = self.options()
        fn: Callable[..., Any]
        if self._export_fn is not None:
            fn = self._export_fn
        else:
            from pose_studio.formats.coco import export_coco as fn
        project = self._project
        out = opts.pop("out_path")

        def job(progress: Any, cancel: threading.Event) -> Any:
            return fn(project, out, progress=progress, cancel=cancel, **opts)

        return job

    def _on_success(self, result: object) -> None:
        self.message.setText(export_message(result))
        if not getattr(result, "cancelled", False):
            self.exported.emit(result)


class ImportCocoDialog(_TaskDialog):
    """See the module docstring."""

    imported = Signal(object)

    def __init__(self, project: Any, parent: QWidget | None = None, *,
                 default_video_id: int | None = None,
                 import_fn: Callable[..., Any] | None = None) -> None:
        super().__init__(parent, "Import COCO keypoints", "Import")
        self._project = project
        self._import_fn = import_fn
        self.json_path = QLineEdit()
        self.by_name = QRadioButton("Match images to the project's videos by file name")
        self.to_video = QRadioButton("Put every image on video")
        self.from_folder = QRadioButton("Images are in folder (added as a video)")
        self.mode = QButtonGroup(self)
        for i, b in enumerate((self.by_name, self.to_video, self.from_folder)):
            self.mode.addButton(b, i)
        self.video = QComboBox()
        for v in project.videos():
            self.video.addItem(f"{v.id}: {Path(v.path).name}", v.id)
            if v.id == default_video_id:
                self.video.setCurrentIndex(self.video.count() - 1)
        self.folder = QLineEdit()
        self.by_name.setChecked(True)
        self.form.addRow("COCO JSON", _path_row(self.json_path, self._browse_json))
        self.form.addRow(self.by_name)
        self.form.addRow(self.to_video, self.video)
        self.form.addRow(self.from_folder, _path_row(self.folder, self._browse_folder))
        self.mode.idToggled.connect(lambda *_: self._update_enabled())
        self._update_enabled()

    def _update_enabled(self) -> None:
        self.video.setEnabled(self.to_video.isChecked() and not self.running
                              and self.video.count() > 0)
        self.folder.setEnabled(self.from_folder.isChecked() and not self.running)

    def _set_inputs_enabled(self, enabled: bool) -> None:
        super()._set_inputs_enabled(enabled)
        for b in (self.by_name, self.to_video, self.from_folder):
            b.setEnabled(enabled)
        if enabled:
            self._update_enabled()

    def _browse_json(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import COCO JSON", self.json_path.text(),
                                              "COCO JSON (*.json);;All files (*)")
        if path:
            self.json_path.setText(path)

    def _browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Image folder", self.folder.text())
        if path:
            self.folder.setText(path)
            self.from_folder.setChecked(True)

    def options(self) -> dict[str, Any]:
        src = self.json_path.text().strip()
        if not src:
            raise ValueError("choose the COCO JSON file to import")
        opts: dict[str, Any] = {"path": src, "video_id": None, "image_folder": None}
        if self.to_video.isChecked():
            if self.video.count() == 0:
                raise ValueError("the project has no video to put the images on")
            opts["video_id"] = int(self.video.currentData())
        elif self.from_folder.isChecked():
            folder = self.folder.text().strip()
            if not folder:
                raise ValueError("choose the image folder")
            opts["image_folder"] = folder
        return opts

    def _make_job(self) -> Callable[[Any, threading.Event], Any]:
        opts = self.options()
        fn: Callable[..., Any]
        if self._import_fn is not None:
            fn = self._import_fn
        else:
            from pose_studio.formats.coco import import_coco as fn
        project = self._project
        path = opts.pop("path")

        def job(progress: Any, cancel: threading.Event) -> Any:
            return fn(project, path, **opts)

        return job

    def _cancel_or_close(self) -> None:
        if self.running:  # one transaction: it cannot be cut short, only waited for
            self.message.setText("The import finishes as one transaction; please wait…")
            return
        self.reject()

    def _on_success(self, result: object) -> None:
        n_user = getattr(result, "n_user", 0)
        n_pred = getattr(result, "n_predicted", 0)
        n_img = getattr(result, "n_images", 0)
        skipped = getattr(result, "skipped", 0)
        mapping = getattr(result, "keypoint_mapping", "")
        lines = [f"Imported {n_user} labels and {n_pred} predictions on {n_img} frames."]
        if skipped:
            lines.append(f"Skipped {skipped} annotations (no labeled keypoints, crowd or "
                         "box-only).")
        if mapping and mapping != "identical":
            lines.append(f"Keypoints were matched {mapping}.")
        lines.extend(str(n) for n in getattr(result, "notes", ()))
        self.message.setText("\n".join(lines))
        self.imported.emit(result)
