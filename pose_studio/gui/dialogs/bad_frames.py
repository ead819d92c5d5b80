"""A non-modal list of the frames whose labels no longer match the video; double-click jumps."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget


class BadFramesDialog(QDialog):
    """``set_rows([(frame, text), ...])``; activating a row calls ``goto(frame)``."""

    def __init__(self, goto: Callable[[int], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Labels that no longer match the video")
        self.setModal(False)
        self.list = QListWidget(self)
        self.list.setObjectName("bad_frames_list")
        self.list.itemActivated.connect(
            lambda it: goto(int(it.data(Qt.ItemDataRole.UserRole))))
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Double-click a frame to go there:", self))
        lay.addWidget(self.list)
        self.resize(420, 360)

    def set_rows(self, rows: Sequence[tuple[int, str]]) -> None:
        self.list.clear()
        for f, text in rows:
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, f)
            self.list.addItem(item)
