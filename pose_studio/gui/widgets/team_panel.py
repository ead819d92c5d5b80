"""The Team panel (several annotators on a server project): whether others' edits arrive
live, an annotator filter for the frame view, and the work assigned to me with its progress."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

EVERYONE = "Everyone"


def annotator_color(name: str) -> QColor:
    """A steady, readable colour per annotator name (the same in every window)."""
    h = 0
    for ch in name:
        h = (h * 31 + ord(ch)) & 0xFFFFFF
    return QColor.fromHsv(h % 360, 160, 170)


class TeamPanel(QWidget):
    """Emits ``annotator_changed(name or "")``, ``goto(video, frame)`` and
    ``mark_done(assignment id, done)``; the window fills it."""

    annotator_changed = Signal(str)
    goto = Signal(int, int)
    mark_done = Signal(int, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("team_panel")
        self.live_label = QLabel("live updates: off (a project file open for writing)", self)
        self.live_label.setWordWrap(True)
        self.annotator = QComboBox(self)
        self.annotator.setObjectName("team_annotator")
        self.annotator.addItem(EVERYONE)
        self.annotator.setToolTip("Show the labels last edited by one annotator (predictions "
                                  "stay); the Instances panel colours labels by annotator")
        self.annotator.currentTextChanged.connect(
            lambda t: self.annotator_changed.emit("" if t == EVERYONE else t))
        self.mine = QListWidget(self)
        self.mine.setObjectName("team_assignments")
        self.mine.itemDoubleClicked.connect(self._on_double)
        self.mine.currentRowChanged.connect(lambda _row: self._sync_button())
        self.done_button = QPushButton("Mark Done", self)
        self.done_button.clicked.connect(self._on_done)
        row = QHBoxLayout()
        row.addWidget(QLabel("Show labels by:", self))
        row.addWidget(self.annotator, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.live_label)
        lay.addLayout(row)
        lay.addWidget(QLabel("Assigned to me:", self))
        lay.addWidget(self.mine, 1)
        lay.addWidget(self.done_button)
        self._items: list[Any] = []

    def set_annotators(self, names: Sequence[str]) -> None:
        current = self.annotator.currentText()
        self.annotator.blockSignals(True)
        self.annotator.clear()
        self.annotator.addItems([EVERYONE, *names])
        self.annotator.setCurrentText(current if current in names else EVERYONE)
        self.annotator.blockSignals(False)
        if self.annotator.currentText() != current:
            self.annotator_changed.emit("")

    def set_assignments(self, items: Sequence[Any]) -> None:
        """``team.Assignment`` rows of the user (done ones last, greyed)."""
        self._items = sorted(items, key=lambda a: (a.done, a.video_id, a.first_frame or 0))
        self.mine.clear()
        for a in self._items:
            pct = f"{a.labeled}/{a.frames} frames labeled" if a.frames else "no frames"
            text = f"{a.where()}: {pct}" + (" — done" if a.done else "")
            if a.note:
                text += f" ({a.note})"
            it = QListWidgetItem(text, self.mine)
            it.setData(Qt.ItemDataRole.UserRole, a.id)
            if a.done:
                it.setForeground(QBrush(QColor(140, 140, 140)))
        if not self._items:
            QListWidgetItem("nothing assigned to you", self.mine).setFlags(
                Qt.ItemFlag.NoItemFlags)
        self._sync_button()

    def set_live(self, text: str) -> None:
        self.live_label.setText(text)

    def _current(self) -> Any:
        row = self.mine.currentRow()
        return self._items[row] if 0 <= row < len(self._items) else None

    def _sync_button(self) -> None:
        a = self._current()
        self.done_button.setEnabled(a is not None)
        self.done_button.setText("Not Done Yet" if a is not None and a.done else "Mark Done")

    def _on_double(self, item: QListWidgetItem) -> None:
        a = self._current()
        if a is not None:
            self.goto.emit(int(a.video_id), int(a.first_frame or 0))

    def _on_done(self) -> None:
        a = self._current()
        if a is not None:
            self.mark_done.emit(int(a.id), not a.done)
