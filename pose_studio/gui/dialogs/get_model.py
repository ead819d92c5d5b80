"""Model ▸ Get a Model…: the catalogue of published models, downloaded with progress and cancel.

The list is :func:`pose_studio.inference.catalogue.load_catalogue` (name, what it is for,
license, size, whether it is here already). Download runs
:func:`pose_studio.inference.download.get_model` on a worker thread: progress in MB, Cancel
keeps what arrived and the next Download resumes it, the sha256 is recorded at the first
download and checked afterwards, archives are unpacked with their ``pipeline.json`` and the
model is loaded once before it is installed. Errors (no network, a server error, a wrong
archive, a changed file) are one line in the dialog. On success ``model_ready(path, kind, name)``
makes it selectable in the Model panel.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pose_studio.gui.widgets.tables import row_table
from pose_studio.inference.catalogue import CatalogueEntry, default_models_dir, load_catalogue
from pose_studio.inference.download import get_model, installed

from ..workers.task import BackgroundTask

COLUMNS = ("Name", "For", "License", "Size", "Here")


def _mb(n_kib: int) -> str:
    return f"{n_kib / 1024:.1f} MB"


class GetModelDialog(QDialog):
    """See the module docstring. ``entries``/``folder``/``mirror``: tests and offline mirrors
    (default: the built-in catalogue, :func:`default_models_dir`, the publishers' servers)."""

    model_ready = Signal(str, str, str)  # (model file, "pose" | "detector", catalogue name)

    def __init__(self, parent: QWidget | None = None, *,
                 entries: list[CatalogueEntry] | None = None, folder: str | Path | None = None,
                 mirror: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("get_model_dialog")
        self.setWindowTitle("Get a model")
        self.resize(860, 460)
        self.entries = list(entries) if entries is not None else load_catalogue()
        self.task: BackgroundTask | None = None
        self.result: Any = None
        self._name = ""
        self.table = row_table(COLUMNS, rows=len(self.entries), name="catalogue_table",
                               compact=False)
        self.table.setWordWrap(True)  # what a model is for may take two lines
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        head.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        head.resizeSection(2, 190)  # licenses are long: the full text is in the tooltip
        self.table.itemSelectionChanged.connect(self._update_enabled)
        self.table.cellDoubleClicked.connect(lambda *_: self.download())
        self.folder = QLineEdit(str(folder) if folder is not None else str(default_models_dir()))
        self.folder.editingFinished.connect(self._fill_here)
        browse = QToolButton()
        browse.setText("…")
        browse.setToolTip("Choose the folder models are downloaded into")
        browse.clicked.connect(self._browse)
        self.mirror = QLineEdit(mirror or "")
        self.mirror.setPlaceholderText("the publisher's server (or an offline mirror's URL)")
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Download into", row)
        form.addRow("Mirror", self.mirror)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.message = QLabel("Choose a model. Top-down pose models need a person detector "
                              "(the ones marked \"detector\").")
        self.message.setObjectName("get_model_message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button = QPushButton("Download")
        self.download_button.setDefault(True)
        self.download_button.clicked.connect(self.download)
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addLayout(form)
        lay.addWidget(self.message)
        lay.addLayout(buttons)
        self._fill()
        self._update_enabled()

    # --- the list ------------------------------------------------------------------------------
    def _fill(self) -> None:
        for r, e in enumerate(self.entries):
            kind = "detector: " if e.kind == "detector" else ""
            cells = (e.name, kind + e.purpose, e.license, f"{e.size_mb:g} MB", "")
            for c, text in enumerate(cells):
                it = QTableWidgetItem(text)
                it.setToolTip(f"{e.name}: {e.purpose}\nlicense: {e.license}\n"
                              f"{e.url(self.mirror_url())}")
                if c == 3:
                    it.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                        | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, it)
        self._fill_here()
        self.table.resizeRowsToContents()

    def _fill_here(self) -> None:
        try:
            here = installed(self.folder_path())
        except OSError:
            here = {}
        for r, e in enumerate(self.entries):
            item = self.table.item(r, 4)
            if item is not None:
                item.setText("✓" if e.name in here else "")

    def folder_path(self) -> Path:
        return Path(self.folder.text().strip() or str(default_models_dir())).expanduser()

    def mirror_url(self) -> str | None:
        return self.mirror.text().strip() or None

    def select(self, name: str) -> None:
        for r, e in enumerate(self.entries):
            if e.name == name:
                self.table.selectRow(r)
                return

    def selected(self) -> CatalogueEntry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows else None

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Download models into",
                                                str(self.folder_path()))
        if path:
            self.folder.setText(path)
            self._fill_here()

    # --- downloading ---------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.task is not None and self.task.running

    def _update_enabled(self) -> None:
        busy = self.task is not None
        self.download_button.setEnabled(not busy and self.selected() is not None)
        self.cancel_button.setEnabled(busy)
        self.table.setEnabled(not busy)
        self.folder.setEnabled(not busy)
        self.mirror.setEnabled(not busy)

    def download(self) -> None:
        entry = self.selected()
        if entry is None or self.task is not None:
            return
        folder, mirror = self.folder_path(), self.mirror_url()
        self._name = entry.name
        self.result = None

        def work(progress: Any, cancel: threading.Event) -> Any:
            # bytes as KiB: Qt's int is 32-bit and a model may be over 2 GB
            def report(done: int, total: int | None) -> None:
                progress(done >> 10, (total or 0) >> 10)

            return get_model(entry, folder, mirror=mirror, progress=report, cancel=cancel)

        task = BackgroundTask(work, self)
        task.progress.connect(self._on_progress)
        task.succeeded.connect(self._on_done)
        task.failed.connect(self._on_failed)
        task.finished.connect(self._on_finished)
        self.task = task
        self.progress.setRange(0, 0)
        self.progress.setFormat("")
        self.message.setText(f"Downloading {entry.name} from {entry.url(mirror)}…")
        self._update_enabled()
        task.start()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.message.setText(f"Cancelling {self._name}…")

    def _on_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
            self.progress.setFormat(f"{_mb(done)} of {_mb(total)}")
        else:
            self.progress.setRange(0, 0)
        self.message.setText(f"Downloading {self._name}: {_mb(done)}"
                             + (f" of {_mb(total)}" if total > 0 else ""))

    def _on_done(self, result: Any) -> None:
        self.result = result
        entry = next((e for e in self.entries if e.name == result.name), None)
        kind = entry.kind if entry is not None else "pose"
        how = ("already here, its file checked" if result.already_there else
               f"downloaded ({result.size / 1e6:.1f} MB"
               + (f", resumed at {result.resumed_from / 1e6:.1f} MB" if result.resumed_from
                  else "") + ", sha256 " + ("recorded" if result.first_download else "checked")
               + ")")
        what = f" — {result.description}" if result.description else ""
        where = "detector list" if kind == "detector" else "pose model list"
        self.message.setText(f"{result.name} {how}{what}. Selected in the Model panel's "
                             f"{where}: press Load model.")
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat("done")
        self._fill_here()
        self.model_ready.emit(str(result.model_file), kind, result.name)

    def _on_failed(self, message: str) -> None:
        cancelled = self.task is not None and self.task.cancelled
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        if cancelled:
            self.message.setText(f"{self._name}: cancelled; what arrived is kept, Download "
                                 f"resumes it.")
        else:
            self.message.setText(message.replace("with --mirror", "in the Mirror field")
                                 .replace("--mirror", "the Mirror field")
                                 .replace("run the same command again", "Download again"))

    def _on_finished(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            task.wait()
            task.deleteLater()
        self._update_enabled()

    # --- closing -------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel a download and join its thread (what arrived is kept for a resume)."""
        if self.task is not None:
            self.task.shutdown()

    def reject(self) -> None:
        self.shutdown()
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)


__all__ = ["GetModelDialog"]
