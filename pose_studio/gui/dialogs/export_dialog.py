"""File ▸ Export: the project in any format the registry writes (COCO, SLEAP, DeepLabCut, YOLO).

The options of ``pose-studio export``: the format (also taken from the output's name: ``.slp``,
``.json``), labels / predictions / both, which videos, the output file or folder, and whether
the images are written too (COCO: into a folder, PNG or JPEG; YOLO and DeepLabCut: into their
layout; SLEAP: embedded, a ``.pkg.slp``). Before anything runs, the checks of
:func:`pose_studio.app.dataset_export.preflight`: the project file and its sources are never
written over, and what exists is replaced only after the user confirms. The export itself runs
on a background thread with progress and Cancel; it first checks that the sources are the files
that were labeled, and says what changed when one is not.

``ExportDialog(project, parent=None, *, default_path=None)``
    Signal ``exported(object)``: the :class:`~pose_studio.app.dataset_export.ExportResult`.
    ``ask_replace(lines) -> bool``: the confirmation (tests replace it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QSpinBox,
    QWidget,
)

from pose_studio.app import dataset_export as dx
from pose_studio.core.errors import PoseStudioError

from .task_dialog import Job, TaskDialog, path_row

_IMAGES_TEXT = {
    "coco": "Write the images too (into the image folder below)",
    "slp": "Embed the images (a .pkg.slp file)",
    "dlc": "Write the images too (into labeled-data/)",
    "yolo": "Write the images too (into images/<split>/)",
}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class ExportDialog(TaskDialog):
    """See the module docstring."""

    exported = Signal(object)

    def __init__(self, project: Any, parent: QWidget | None = None, *,
                 default_path: str | Path | None = None) -> None:
        super().__init__(parent, "Export", "Export")
        self._project = project
        self.ask_replace = self._ask_replace
        self.format = QComboBox()
        for f in dx.writers():
            self.format.addItem(f.label, f.name)
        self.source = QComboBox()
        for label, value in (("User labels", "user"), ("Predictions", "predicted"),
                             ("Labels and predictions", "all")):
            self.source.addItem(label, value)
        self.counts_label = QLabel()
        self.counts_label.setObjectName("export_counts")
        self.counts_label.setWordWrap(True)
        try:
            self._counts: dict[str, int] | None = dict(project.counts())
        except Exception:  # an older store without counts(): just no summary
            self._counts = None
        self.videos = QListWidget()
        self.videos.setMaximumHeight(110)
        for v in project.videos():
            kind = "image set" if v.kind == "images" else "video"
            item = QListWidgetItem(f"{v.id}: {Path(str(v.path)).name} ({kind})")
            item.setData(Qt.ItemDataRole.UserRole, int(v.id))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.videos.addItem(item)
        self.out_path = QLineEdit()
        self.out_path.setObjectName("export_out")
        self.write_images = QCheckBox()
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
        self.form.addRow("Format", self.format)
        self.form.addRow("Export", self.source)
        self.form.addRow("", self.counts_label)
        self.form.addRow("Videos", self.videos)
        self.form.addRow("Output", path_row(self.out_path, ("Browse…", self._browse_out)))
        self.form.addRow("", self.write_images)
        self.images_row = path_row(self.images_dir, ("Browse…", self._browse_images))
        self.form.addRow("Image folder", self.images_row)
        self.form.addRow("Video frames as", fmt_row)
        self._auto_out = True
        self.source.currentIndexChanged.connect(self._update_counts)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.out_path.textEdited.connect(self._out_edited)
        self.write_images.toggled.connect(self._images_toggled)
        self.image_format.currentIndexChanged.connect(self._update_enabled)
        if default_path is not None:
            self._auto_out = False
            self.out_path.setText(str(default_path))
            fmt = dx.format_for_output(default_path)
            if fmt is not None:
                self.set_format(fmt)
        self._format_changed()
        self._update_counts()

    # --- options -----------------------------------------------------------------------------
    def format_name(self) -> str:
        return str(self.format.currentData())

    def set_format(self, name: str) -> None:
        i = self.format.findData(name)
        if i >= 0:
            self.format.setCurrentIndex(i)

    def _format_changed(self) -> None:
        name = self.format_name()
        if self._auto_out:
            self.out_path.setText(str(dx.default_output(self._project.path, name)))
        self.write_images.setText(_IMAGES_TEXT.get(name, "Write the images too"))
        self._default_images_dir()
        self._update_enabled()

    def _out_edited(self, text: str) -> None:
        """A name that says its format (``.slp``, ``.json``) chooses it."""
        self._auto_out = False
        fmt = dx.format_for_output(text)
        if fmt is not None and fmt != self.format_name():
            self.format.blockSignals(True)
            self.set_format(fmt)
            self.format.blockSignals(False)
            self.write_images.setText(_IMAGES_TEXT.get(fmt, "Write the images too"))
            self._update_enabled()
        self._default_images_dir()

    def _images_toggled(self, on: bool) -> None:
        """SLEAP embeds images only in a ``.pkg.slp``: the name follows the box."""
        if self.format_name() == "slp":
            text = self.out_path.text()
            low = text.lower()
            if on and low.endswith(".slp") and not low.endswith(".pkg.slp"):
                self.out_path.setText(text[:-4] + ".pkg.slp")
            elif not on and low.endswith(".pkg.slp"):
                self.out_path.setText(text[:-8] + ".slp")
        self._update_enabled()

    def _default_images_dir(self) -> None:
        if not self.images_dir.isModified():
            out = Path(self.out_path.text() or ".")
            self.images_dir.setText(str(out.parent / "images"))

    def _update_enabled(self) -> None:
        if self.running:
            return
        name = self.format_name()
        on = self.write_images.isChecked()
        self.form.setRowVisible(self.images_row, name == "coco")  # the others have a layout
        self.images_dir.setEnabled(on and name == "coco")
        self.image_format.setEnabled(on and name in ("coco", "dlc", "yolo"))
        self.jpeg_quality.setEnabled(on and self.image_format.isEnabled()
                                     and self.image_format.currentData() == "jpg")

    def _set_inputs_enabled(self, enabled: bool) -> None:
        super()._set_inputs_enabled(enabled)
        if enabled:
            self._update_enabled()

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

    def _browse_out(self) -> None:
        name = self.format_name()
        if name in dx.FOLDER_FORMATS:
            path = QFileDialog.getExistingDirectory(self, "Export into folder (it is created)",
                                                    str(Path(self.out_path.text()).parent))
            if path:
                path = str(Path(path) / Path(self.out_path.text()).name)
        else:
            path, _ = QFileDialog.getSaveFileName(self, "Export to", self.out_path.text())
        if path:
            self._auto_out = False
            self.out_path.setText(path)
            self._out_edited(path)

    def _browse_images(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Image folder", self.images_dir.text())
        if path:
            self.images_dir.setText(path)
            self.images_dir.setModified(True)

    def selected_video_ids(self) -> list[int]:
        return [int(self.videos.item(i).data(Qt.ItemDataRole.UserRole))
                for i in range(self.videos.count())
                if self.videos.item(i).checkState() == Qt.CheckState.Checked]

    def request(self, force: bool = False) -> dx.ExportRequest:
        """The export asked for (ValueError: a choice is missing)."""
        out = self.out_path.text().strip()
        if not out:
            raise ValueError("choose where to write the export")
        ids = self.selected_video_ids()
        if not ids:
            raise ValueError("choose at least one video")
        all_ids = [int(v.id) for v in self._project.videos()]
        images = self.images_dir.text().strip()
        if self.write_images.isChecked() and self.format_name() == "coco" and not images:
            raise ValueError("choose the image folder")
        return dx.ExportRequest(
            Path(out), format=self.format_name(), source=str(self.source.currentData()),
            video_ids=None if sorted(ids) == sorted(all_ids) else tuple(ids),
            images=self.write_images.isChecked(),
            images_dir=Path(images) if images else None,
            image_format=str(self.image_format.currentData()),
            jpeg_quality=self.jpeg_quality.value(), force=force)

    # --- running -----------------------------------------------------------------------------
    def _ask_replace(self, lines: Sequence[str]) -> bool:
        text = "The export would replace:\n\n" + "\n".join(f"• {x}" for x in lines) + \
            "\n\nReplace?"
        ans = QMessageBox.question(self, "Replace?", text,
                                   QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                   QMessageBox.StandardButton.No)
        return ans == QMessageBox.StandardButton.Yes

    def _make_job(self) -> Job | None:
        req = self.request()
        try:
            replaced = dx.preflight(self._project, req)
        except PoseStudioError as exc:
            self.show_error(str(exc))
            return None
        if replaced:
            if not self.ask_replace(replaced):
                self.message.setStyleSheet("")
                self.message.setText("Nothing was written.")
                return None
            req = self.request(force=True)
        project, stage = self._project, self.stage

        def job(progress: Any, cancel: Any) -> Any:
            return dx.run_export(project, req, progress=progress, stage=stage, cancel=cancel)

        return job

    def _on_success(self, result: object) -> None:
        assert isinstance(result, dx.ExportResult)
        self.message.setStyleSheet("")
        self.message.setText(dx.export_message(result))
        if result.cancelled:
            return
        if result.not_written:
            self.show_report("\n".join([dx.export_message(result)] +
                                       [f"not written: {n}" for n in result.not_written]))
        self.exported.emit(result)
