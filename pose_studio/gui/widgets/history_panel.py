"""The History panel: the steps kept in the project, newest last, and where "now" is.

Shows :class:`~pose_studio.app.history.History` (what the project's journal holds): one row per
step ("move left_wrist · video 1 frame 30 · ann, 14:02"), undone steps greyed. Clicking a row
asks to go back or forward to just after that step (``goto_requested(n_done)``); the top row
("<opened>" or "… N older steps") is the state before every shown step.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

from pose_studio.app.history import History
from pose_studio.store.journal import JournalEntry


class HistoryPanel(QListWidget):
    """``goto_requested(int)``: make the first ``n`` shown steps done (and the rest undone)."""

    goto_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("history_panel")
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setUniformItemSizes(True)
        self._updating = False
        self._keys: list[tuple[int, str, bool, float, int]] = []  # what each step row shows
        self.itemClicked.connect(self._clicked)

    def show_history(self, history: History) -> None:
        """Show ``history``, touching only the rows that changed (one edit: one row)."""
        self._updating = True
        try:
            top = (f"… {history.older} older step{'s' if history.older != 1 else ''}"
                   if history.older else "<opened>")
            if self.count() == 0:
                self.addItem(QListWidgetItem(top))
            elif self.item(0).text() != top:
                self.item(0).setText(top)
            keys = [(st.seq, st.label, st.undone, st.made_at, st.n_frames) for st in
                    history.steps]
            for i, (st, key) in enumerate(zip(history.steps, keys)):
                if i < len(self._keys) and self._keys[i] == key:
                    continue
                item = self.item(i + 1)
                if item is None:
                    item = QListWidgetItem()
                    self.addItem(item)
                self._fill(item, st)
            while self.count() > len(keys) + 1:
                self.takeItem(self.count() - 1)
            self._keys = keys
            self.clearSelection()
            current = self.item(history.done)
            if current is not None:
                current.setSelected(True)
                self.scrollToItem(current)
        finally:
            self._updating = False

    def _fill(self, item: QListWidgetItem, s: JournalEntry) -> None:
        when = time.strftime("%H:%M", time.localtime(s.made_at))
        item.setText(f"{s.label}  ·  {s.where()}  ·  {s.made_by}, {when}")
        item.setToolTip(f"step {s.seq}: {s.label}\n{s.where()}\nby {s.made_by} at "
                        f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(s.made_at))}"
                        + (f"\nundone by {s.undone_by}" if s.undone else ""))
        f = QFont(self.font())
        f.setItalic(s.undone)
        item.setFont(f)
        item.setForeground(QBrush(QColor(150, 150, 150)) if s.undone else
                           self.palette().text())

    def _clicked(self, item: QListWidgetItem) -> None:
        if not self._updating:
            self.goto_requested.emit(self.row(item))
