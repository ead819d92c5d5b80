"""File ▸ Import: any dataset file the format registry reads, into the open project; also "a new
project from this dataset" (what Open of a ``.slp``, a DeepLabCut project or a COCO file offers).

The format is found from the content as soon as a file is chosen (the combo overrides it). The
options are those of ``pose-studio import``: the media folder (where the file's images or videos
are, when not beside it), the category (files with several keypoint layouts), and the video to
put every image on. The work runs on a background thread
(:mod:`pose_studio.app.dataset_import`); the import is one transaction and one history step.
Afterwards the dialog shows the summary and every line of what was not kept (copyable).

``ImportDialog(project, parent=None, *, path=None, user=None)``
    Signal ``imported(object)``: the ``ImportSummary``.
``ImportDialog.for_new_project(path, parent=None, *, project_path=None, user=None)``
    Signal ``created(object)``: the ``NewProjectResult`` (the project is closed; open it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QLabel, QLineEdit, QWidget

from pose_studio.app import dataset_import as di
from pose_studio.core.errors import PoseStudioError

from .task_dialog import Job, TaskDialog, path_row

_MEDIA_TIP = ("Where the file's images or videos are, when they are not beside it "
              "(sub-folders included). Empty: beside the file, or where the file says.")


@dataclass(frozen=True)
class _MediaMissing:
    """What a job returns instead of raising when the file's videos were not found."""

    message: str
    suggestion: Path | None


def _media_asked(fn: Job) -> Job:
    def job(progress: Any, cancel: Any) -> Any:
        try:
            return fn(progress, cancel)
        except di.MissingMediaError as exc:
            return _MediaMissing(str(exc), exc.suggestion)

    return job


def readable_formats() -> list[Any]:
    from pose_studio.formats.registry import all_formats

    return [f for f in all_formats() if f.read is not None]


class ImportDialog(TaskDialog):
    """See the module docstring."""

    imported = Signal(object)
    created = Signal(object)

    def __init__(self, project: Any, parent: QWidget | None = None, *,
                 path: str | Path | None = None, user: str | None = None,
                 new_project: str | Path | None = None) -> None:
        new = new_project is not None
        super().__init__(parent, "New project from a dataset" if new else "Import",
                         "Create Project" if new else "Import")
        self._project = project
        self._user = user
        self.new_project = new
        self.file_path = QLineEdit()
        self.file_path.setObjectName("import_file")
        self.format = QComboBox()
        self.format.addItem("Automatic (from the content)", "auto")
        for f in readable_formats():
            self.format.addItem(f.label, f.name)
        self.detected = QLabel()
        self.detected.setObjectName("import_detected")
        self.detected.setWordWrap(True)
        self.media = QLineEdit()
        self.media.setObjectName("import_media")
        self.media.setPlaceholderText("beside the file")
        self.media.setToolTip(_MEDIA_TIP)
        self.media.textChanged.connect(lambda _t: self.media.setStyleSheet(""))
        self.category = QLineEdit()
        self.category.setPlaceholderText("all that fit (files with several layouts: name one)")
        self.form.addRow("File", path_row(self.file_path, ("File…", self._browse_file),
                                          ("Folder…", self._browse_folder)))
        self.form.addRow("Format", self.format)
        self.form.addRow("", self.detected)
        self.media_row = path_row(self.media, ("Browse…", self._browse_media))
        self.form.addRow("Media folder", self.media_row)
        self.form.addRow("Category", self.category)
        self.video = QComboBox()
        self.project_path = QLineEdit()
        self.project_path.setObjectName("import_project_path")
        if new:
            self.form.addRow("Project file", path_row(self.project_path,
                                                      ("Browse…", self._browse_project)))
            self.project_path.setText(str(new_project))
        else:
            self.video.addItem("Automatic (their own image set, or the videos they name)", None)
            for v in project.videos() if project is not None else ():
                self.video.addItem(f"All on {v.id}: {Path(str(v.path)).name}", int(v.id))
            self.form.addRow("Put images on", self.video)
        self.file_path.textChanged.connect(self._detect)
        self.format.currentIndexChanged.connect(lambda _i: self._detect())
        if path is not None:
            self.file_path.setText(str(path))
        else:
            self.file_path.setFocus()
        self._detect()

    @classmethod
    def for_new_project(cls, path: str | Path, parent: QWidget | None = None, *,
                        project_path: str | Path | None = None,
                        user: str | None = None) -> ImportDialog:
        target = project_path or di.project_path_for(path)
        return cls(None, parent, path=path, user=user, new_project=target)

    # --- choosing -----------------------------------------------------------------------------
    def _detect(self) -> None:
        """Say which format the file is (a sniff reads a few KiB)."""
        text = self.file_path.text().strip()
        if not text:
            self.detected.setText("")
            return
        p = Path(text)
        try:
            if not p.exists():
                self.detected.setText("no such file or folder")
                return
            fmt = di.resolve_format(p, "auto")
        except OSError:
            self.detected.setText("not a name the system accepts")
            return
        except PoseStudioError as exc:
            self.detected.setText(str(exc).split(": ")[-1] if "cannot open" in str(exc) else
                                  "not a dataset format Pose Studio reads (choose the format "
                                  "if you know it)")
            return
        chosen = self.format.currentData()
        note = "" if chosen in ("auto", fmt.name) else " (read as the format chosen above)"
        self.detected.setText(f"detected: {fmt.label}{note}")

    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import dataset file", self.file_path.text(),
            "Dataset files (*.json *.slp *.yaml *.yml *.csv *.h5);;All files (*)")
        if path:
            self.file_path.setText(path)

    def _browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Dataset folder (DeepLabCut, YOLO)",
                                                self.file_path.text())
        if path:
            self.file_path.setText(path)

    def _browse_media(self) -> None:
        start = self.media.text() or str(Path(self.file_path.text() or ".").parent)
        path = QFileDialog.getExistingDirectory(self, "Folder with the file's images or videos",
                                                start)
        if path:
            self.media.setText(path)
            self.media.setStyleSheet("")

    def _browse_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New project", self.project_path.text(),
                                              "Pose Studio project (*.posestudio)")
        if path:
            self.project_path.setText(path)

    def request(self) -> di.ImportRequest:
        """The import asked for (ValueError: a choice is missing)."""
        text = self.file_path.text().strip()
        if not text:
            raise ValueError("choose the dataset file (or folder) to import")
        media = self.media.text().strip()
        if media and not Path(media).is_dir():
            raise ValueError(f"the media folder {media} does not exist")
        return di.ImportRequest(Path(text), format=str(self.format.currentData() or "auto"),
                                images_dir=Path(media) if media else None,
                                category=self.category.text().strip() or None,
                                video_id=None if self.new_project else self.video.currentData())

    # --- running ------------------------------------------------------------------------------
    def _make_job(self) -> Job:
        req = self.request()
        user, stage = self._user, self.stage
        if self.new_project:
            target = self.project_path.text().strip()
            if not target:
                raise ValueError("choose the project file to create")

            def make(progress: Any, cancel: Any) -> Any:
                return di.new_project_from(target, req, user=user, progress=progress,
                                           stage=stage, cancel=cancel)

            return _media_asked(make)
        project = self._project

        def job(progress: Any, cancel: Any) -> Any:
            return di.run_import(project, req, user=user, progress=progress, stage=stage,
                                 cancel=cancel)

        return _media_asked(job)

    def show_error(self, message: str) -> None:
        super().show_error(message)
        if "media folder" in self.message.text():
            self.media.setStyleSheet("border: 1px solid #c0392b;")
            self.media.setFocus()

    def _media_missing(self, m: _MediaMissing) -> None:
        """The videos a file names were not found: ask for their folder (filled in when one
        near the file holds them; the user sees it before trying again)."""
        if m.suggestion is not None:
            self.media.setText(str(m.suggestion))
        self.show_error(m.message)

    def _format_label(self, name: str) -> str:
        for f in readable_formats():
            if f.name == name:
                return str(f.label)
        return name

    def _on_success(self, result: object) -> None:
        if isinstance(result, _MediaMissing):
            self._media_missing(result)
            return
        if isinstance(result, di.NewProjectResult):
            report = di.import_report(result.summary, self._format_label(result.summary.format))
            self.message.setText(f"Created {result.path.name} (skeleton {result.skeleton_name}, "
                                 f"{result.keypoints} keypoints). {report.headline}")
            self.show_report(report.text())
            self.finished_ok = True  # the project exists: creating it again makes no sense
            self.created.emit(result)
            return
        report = di.import_report(result, self._format_label(getattr(result, "format", "")))
        n = len(report.not_kept)
        self.message.setText("Imported: " + (f"{n} line{'s' if n != 1 else ''} of what was not "
                                              "kept below." if n else "nothing was dropped.")
                              + " One step of the history: Edit ▸ Undo takes it back.")
        self.show_report(report.text())
        self.imported.emit(result)

    def _set_inputs_enabled(self, enabled: bool) -> None:
        super()._set_inputs_enabled(enabled)
        self.detected.setEnabled(True)
