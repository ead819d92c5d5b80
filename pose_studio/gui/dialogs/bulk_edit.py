"""Bulk Edit Frame Range: choose the edit, the frames, the score or the track; OK makes ONE
undo step (``app/bulk.py``). Everything is reachable from the keyboard (Tab, arrows, Enter)."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from pose_studio.app.bulk import OPS, BulkRequest


class BulkEditDialog(QDialog):
    """``request()`` after ``exec()`` returned true."""

    def __init__(self, frame_count: int, frame: int, tracks: Mapping[int, str],
                 track: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bulk_edit_dialog")
        self.setWindowTitle("Bulk edit frame range")
        form = QFormLayout(self)
        self.op = QComboBox(self)
        for key, text in OPS.items():
            self.op.addItem(text, key)
        form.addRow("Edit:", self.op)
        last = max(0, frame_count - 1)
        self.first = QSpinBox(self)
        self.first.setRange(0, last)
        self.first.setValue(min(frame, last))
        self.last = QSpinBox(self)
        self.last.setRange(0, last)
        self.last.setValue(last)
        form.addRow("From frame:", self.first)
        form.addRow("To frame (included):", self.last)
        self.score = QDoubleSpinBox(self)
        self.score.setRange(0.0, 1.0)
        self.score.setSingleStep(0.05)
        self.score.setDecimals(2)
        self.score.setValue(0.5)
        form.addRow("Score:", self.score)
        self.track = QComboBox(self)
        for tid, name in tracks.items():
            self.track.addItem(f"{name} (track {tid})", tid)
        if track is not None and track in tracks:
            self.track.setCurrentIndex(list(tracks).index(track))
        form.addRow("Track:", self.track)
        self.note = QLabel("One undo step (Ctrl+Z takes it back).", self)
        form.addRow(self.note)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                               | QDialogButtonBox.StandardButton.Cancel, parent=self)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        form.addRow(box)
        self.op.currentIndexChanged.connect(self._sync)
        self._sync()

    def _sync(self) -> None:
        op = self.op.currentData()
        self.score.setEnabled(op in ("accept_above", "delete_below"))
        self.track.setEnabled(op == "delete_track")

    def request(self) -> BulkRequest:
        a, b = sorted((int(self.first.value()), int(self.last.value())))
        tid = self.track.currentData() if self.track.count() else None
        return BulkRequest(str(self.op.currentData()), (a, b + 1), float(self.score.value()),
                           None if tid is None else int(tid))


__all__ = ["BulkEditDialog"]
