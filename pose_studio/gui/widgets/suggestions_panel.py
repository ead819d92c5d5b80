"""The Suggestions panel: which kinds to look for, the frames found (across videos) with their
done marks, and next/previous.

Plain widget: it shows :class:`~pose_studio.store.suggestions.SuggestionRecord` values and
reports intents; ``SuggestionsController`` computes, stores and navigates.

Signals:
    find_requested(object, int): kinds (tuple of str) and how many per source.
    goto_requested(int, int): video id and frame of a row (double-click or Enter).
    done_toggled(int, int, bool): a row's done box was (un)ticked.
    step_requested(int): +1 next, -1 previous (the buttons).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pose_studio.app.suggestions import DEFAULT_KINDS, KINDS
from pose_studio.gui.widgets.tables import row_table
from pose_studio.store.suggestions import SuggestionRecord

#: The check boxes' words (the tooltips say more).
SHORT = {"uniform": "uniform", "diverse": "diverse (k-means)", "confidence": "low confidence",
         "jumps": "temporal jumps", "swaps": "left/right swaps",
         "identities": "identity switches"}


class SuggestionsPanel(QWidget):
    """See the module docstring."""

    find_requested = Signal(object, int)
    goto_requested = Signal(int, int)
    done_toggled = Signal(int, int, bool)
    step_requested = Signal(int)

    COLUMNS = ("Done", "Video", "Frame", "Why", "Score")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("suggestions_panel")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        grid = QGridLayout()
        self.kind_boxes: dict[str, QCheckBox] = {}
        for n, (kind, text) in enumerate(KINDS.items()):
            box = QCheckBox(SHORT.get(kind, kind), self)
            box.setToolTip(text)
            box.setObjectName(f"suggest_{kind}")
            box.setChecked(kind in DEFAULT_KINDS)
            grid.addWidget(box, n // 2, n % 2)
            self.kind_boxes[kind] = box
        lay.addLayout(grid)
        row = QHBoxLayout()
        per = QLabel("Per source:", self)
        per.setToolTip("how many frames each ranked source suggests per video (uniform, "
                       "diverse, low confidence)")
        row.addWidget(per)
        self.count = QSpinBox(self)
        self.count.setRange(1, 1000)
        self.count.setValue(20)
        row.addWidget(self.count)
        self.find_button = QPushButton("Find frames", self)
        self.find_button.setObjectName("suggest_find")
        self.find_button.clicked.connect(self._on_find)
        row.addWidget(self.find_button)
        row.addStretch(1)
        self.hide_done = QCheckBox("Hide done", self)
        self.hide_done.toggled.connect(lambda _on: self._fill())
        row.addWidget(self.hide_done)
        lay.addLayout(row)
        self.table = row_table(self.COLUMNS, self, name="suggestions_table")
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        lay.addWidget(self.table, 1)
        nav = QHBoxLayout()
        self.summary = QLabel("", self)
        self.summary.setWordWrap(True)
        nav.addWidget(self.summary, 1)
        for d, text, tip in ((-1, "◀ Previous", "Previous suggestion not done (Shift+H)"),
                             (1, "Next ▶", "Next suggestion not done (H)")):
            b = QPushButton(text, self)
            b.setToolTip(tip)
            b.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            b.clicked.connect(lambda _c=False, step=d: self.step_requested.emit(step))
            nav.addWidget(b)
        lay.addLayout(nav)
        self._records: list[SuggestionRecord] = []
        self._names: dict[int, str] = {}
        self._shown: list[SuggestionRecord] = []
        self._updating = False
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemActivated.connect(self._on_activated)
        self.table.itemDoubleClicked.connect(self._on_activated)

    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k, b in self.kind_boxes.items() if b.isChecked())

    def _on_find(self) -> None:
        self.find_requested.emit(self.kinds(), int(self.count.value()))

    def set_busy(self, busy: bool) -> None:
        self.find_button.setEnabled(not busy)
        self.find_button.setText("Looking…" if busy else "Find frames")

    def set_suggestions(self, records: Sequence[SuggestionRecord],
                        video_names: Mapping[int, str]) -> None:
        self._records = list(records)
        self._names = dict(video_names)
        self._fill()

    def _fill(self) -> None:
        self._updating = True
        try:
            shown = [r for r in self._records if not (self.hide_done.isChecked() and r.done)]
            self._shown = shown
            self.table.setRowCount(len(shown))
            for row, r in enumerate(shown):
                done = QTableWidgetItem()
                done.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled
                              | Qt.ItemFlag.ItemIsSelectable)
                done.setCheckState(Qt.CheckState.Checked if r.done else Qt.CheckState.Unchecked)
                if r.done and r.done_by:
                    done.setToolTip(f"done by {r.done_by}")
                self.table.setItem(row, 0, done)
                cells = (self._names.get(r.video_id, str(r.video_id)), str(r.frame), r.reason,
                         f"{r.score:.2f}")
                for c, text in enumerate(cells, start=1):
                    item = QTableWidgetItem(text)
                    item.setToolTip(r.reason if c == 3 else text)
                    self.table.setItem(row, c, item)
            n_done = sum(r.done for r in self._records)
            self.summary.setText(f"{len(self._records)} frames, {n_done} done"
                                 if self._records else "no suggestions yet: Find frames")
        finally:
            self._updating = False

    def select(self, video_id: int | None, frame: int) -> None:
        """Highlight the row of ``(video_id, frame)`` if it is listed."""
        for row, r in enumerate(self._shown):
            if (r.video_id, r.frame) == (video_id, frame):
                self.table.selectRow(row)
                item = self.table.item(row, 0)
                if item is not None:
                    self.table.scrollToItem(item)
                return
        self.table.clearSelection()

    def rows(self) -> list[tuple[int, int, bool]]:
        """``(video, frame, done)`` as shown (tests)."""
        return [(r.video_id, r.frame, r.done) for r in self._shown]

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._updating or item.column() != 0:
            return
        r = self._shown[item.row()]
        self.done_toggled.emit(r.video_id, r.frame, item.checkState() == Qt.CheckState.Checked)

    def _on_activated(self, item: QTableWidgetItem) -> None:
        r = self._shown[item.row()]
        self.goto_requested.emit(r.video_id, r.frame)


__all__ = ["SuggestionsPanel"]
