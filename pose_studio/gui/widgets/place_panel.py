"""The Place panel of click-to-place labeling: the body parts in skeleton order, the unlabeled
ones of the instance being labeled marked, the part the next click places highlighted. Clicking
a row picks that part.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

__all__ = ["PlacePanel"]

TODO = "○"
DONE = "✓"


class PlacePanel(QWidget):
    """See the module docstring.

    Signals:
        part_picked(int): the user chose the part the next click places.
        auto_advance_toggled(bool).
    """

    part_picked = Signal(int)
    auto_advance_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("place_panel")
        self.header = QLabel("", self)
        self.header.setWordWrap(True)
        self.list = QListWidget(self)
        self.list.setObjectName("place_parts")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setMinimumHeight(self.list.fontMetrics().height() * 10)
        self.only_todo = QCheckBox("Only unlabeled", self)
        self.auto = QCheckBox("Auto-advance", self)
        self.auto.setToolTip("After a click, go on with the next unlabeled part")
        self.auto.setChecked(True)
        self.hint = QLabel("Click places the highlighted part (Shift+click: occluded). "
                           ". and , pick the next or previous part; Ctrl+Z takes the last "
                           "point back; Esc leaves the mode.", self)
        self.hint.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.header)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.only_todo)
        lay.addWidget(self.auto)
        lay.addWidget(self.hint)
        for label in (self.header, self.hint):  # wrap instead of widening the dock
            label.setMinimumWidth(150)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._names: list[str] = []
        self._labeled: list[bool] = []
        self._part: int | None = None
        self._filling = False
        self.list.currentRowChanged.connect(self._row_changed)
        self.only_todo.toggled.connect(lambda _on: self._fill())
        self.auto.toggled.connect(self.auto_advance_toggled.emit)

    def show_state(self, names: Sequence[str], labeled: Sequence[bool], part: int | None,
                   target: str, active: bool) -> None:
        """The parts, which are labeled, the one the next click places, and on what."""
        self._names = list(names)
        self._labeled = list(labeled)
        self._part = part
        done = sum(self._labeled)
        nxt = self._names[part] if part is not None and part < len(self._names) else \
            "— (complete: the next click starts a new instance)"
        state = "" if active else "Click-to-place is off (Edit ▸ Click-to-Place, K). "
        self.header.setText(f"{state}Placing on {target}: {done} of {len(self._names)} "
                            f"placed. Next: {nxt}")
        self._fill()

    def _fill(self) -> None:
        self._filling = True
        try:
            self.list.clear()
            only = self.only_todo.isChecked()
            for k, name in enumerate(self._names):
                lab = self._labeled[k] if k < len(self._labeled) else False
                if only and lab and k != self._part:
                    continue
                item = QListWidgetItem(f"{DONE if lab else TODO}  {k + 1:>2}. {name}")
                item.setData(Qt.ItemDataRole.UserRole, k)
                if lab:
                    item.setForeground(QBrush(QColor(140, 140, 140)))
                if k == self._part:
                    f = QFont(item.font())
                    f.setBold(True)
                    item.setFont(f)
                self.list.addItem(item)
                if k == self._part:
                    self.list.setCurrentItem(item)
        finally:
            self._filling = False

    def _row_changed(self, row: int) -> None:
        if self._filling or row < 0:
            return
        k = self.list.item(row).data(Qt.ItemDataRole.UserRole)
        if k != self._part:
            self.part_picked.emit(int(k))

    def rows(self) -> list[str]:
        """The rows shown (tests)."""
        return [self.list.item(i).text() for i in range(self.list.count())]
