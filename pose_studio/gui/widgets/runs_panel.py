"""The Runs panel: the model runs with predictions on the current video, which one it shows (A)
and which second run beside it (B, in a second colour).

Clicking a run shows it as A at once (the choice is pinned: newer runs do not replace it until
"Follow the newest run" is ticked again); ticking a run's B box shows it beside A. Rows come
from :func:`pose_studio.app.runs.run_rows` (newest first).

Requests are sent from the event loop (never from inside the tree's own signal: the answer
rebuilds the list). Signals (out): ``show_requested(object)`` (run id, None for imported predictions, or
``"newest"``), ``compare_requested(object)`` (run id, or None: no B), ``swap_requested()``,
``compare_view_requested()``.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer, Signal, SignalInstance
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pose_studio.app.runs import RunRow

#: The two runs' colours (predictions, timeline rows, legend). Labels keep the skeleton's.
A_RGB = (40, 225, 235)
B_RGB = (255, 80, 200)

COLUMNS = ("A", "B", "Run", "Model", "Mode", "Date", "Frames", "People")
_NONE = -1  # item data for "predictions without a run"


def swatch(rgb: tuple[int, int, int], text: str = "■") -> str:
    """Rich text: ``text`` in the colour ``rgb``."""
    return f"<span style='color: rgb({rgb[0]},{rgb[1]},{rgb[2]})'>{text}</span>"


class RunsPanel(QWidget):
    """See the module docstring."""

    show_requested = Signal(object)
    compare_requested = Signal(object)
    swap_requested = Signal()
    compare_view_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runs_panel")
        self._filling = False
        self._rows: list[RunRow] = []
        self.summary = QLabel("No video.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.follow = QCheckBox("Follow the newest run")
        self.follow.setToolTip("Show each new model run as it is made (untick: keep the run "
                               "you chose)")
        self.follow.toggled.connect(self._on_follow)
        self.tree = QTreeWidget()
        self.tree.setObjectName("runs_tree")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setToolTip("Click a run to show it (A); tick B to show a second run beside "
                             "it in another colour")
        head = self.tree.header()
        head.setStretchLastSection(False)
        for c in range(len(COLUMNS)):
            head.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.tree.setMinimumHeight(44)  # it shares the bottom area with the Confidence plot
        self.tree.itemClicked.connect(self._on_clicked)
        self.tree.itemActivated.connect(self._on_clicked)
        self.tree.itemChanged.connect(self._on_changed)
        self.swap_button = QPushButton("Swap A/B")
        self.swap_button.setToolTip("Show B as A and A as B (Shift+B)")
        self.swap_button.clicked.connect(self.swap_requested)
        self.compare_button = QPushButton("Compare A and B…")
        self.compare_button.setToolTip("Did the newer model get better, and where: OKS AP "
                                       "against your labels, per keypoint, frames that changed")
        self.compare_button.clicked.connect(self.compare_view_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.follow)
        buttons.addStretch(1)
        buttons.addWidget(self.swap_button)
        buttons.addWidget(self.compare_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(3)
        lay.addWidget(self.summary)
        lay.addWidget(self.tree, 1)
        lay.addLayout(buttons)
        self.set_rows([], pinned=False, has_video=False)

    # --- state in ------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[RunRow], pinned: bool, has_video: bool = True) -> None:
        """Show the runs of the current video (``pinned``: A was chosen, not the newest)."""
        self._rows = list(rows)
        self._filling = True
        try:
            self.tree.clear()
            bold = QFont()
            bold.setBold(True)
            for r in rows:
                item = QTreeWidgetItem(["", "", r.key, r.name or "?", r.mode, r.date_text,
                                        r.span_text, str(r.predictions)])
                item.setData(0, Qt.ItemDataRole.UserRole,
                             _NONE if r.run_id is None else int(r.run_id))
                flags = item.flags() | Qt.ItemFlag.ItemIsUserCheckable
                if r.run_id is None or r.is_a:  # A is shown already; imported predictions
                    flags &= ~Qt.ItemFlag.ItemIsUserCheckable  # cannot be B (the store's None)
                item.setFlags(flags)
                if r.run_id is not None and not r.is_a:
                    item.setCheckState(1, Qt.CheckState.Checked if r.is_b
                                       else Qt.CheckState.Unchecked)
                if r.is_a:
                    item.setText(0, "●")
                    item.setForeground(0, QBrush(QColor(*A_RGB)))
                    for c in range(len(COLUMNS)):
                        item.setFont(c, bold)
                if r.is_b:
                    item.setForeground(1, QBrush(QColor(*B_RGB)))
                tip = r.model_path + (f"\ndetector: {r.detector}" if r.detector else "")
                for c in range(2, len(COLUMNS)):
                    item.setToolTip(c, tip)
                self.tree.addTopLevelItem(item)
            self.follow.setChecked(not pinned)
            self.follow.setEnabled(bool(rows))
        finally:
            self._filling = False
        a = next((r for r in rows if r.is_a), None)
        b = next((r for r in rows if r.is_b), None)
        if not has_video:
            text = "No video."
        elif not rows:
            text = "No model runs on this video yet: run a model (Model panel)."
        else:
            text = (f"{swatch(A_RGB)} A: {a.title if a else 'none'}"
                    + (" (chosen)" if pinned else " (newest)"))
            if b is not None:
                text += f" &nbsp; {swatch(B_RGB)} B: {b.title}"
        self.summary.setText(text)
        self.swap_button.setEnabled(b is not None)
        self.compare_button.setEnabled(len([r for r in rows if r.run_id is not None]) >= 2
                                       or (a is not None and b is not None))

    def row_ids(self) -> list[int | None]:
        """The listed runs, top to bottom (None: imported predictions)."""
        return [r.run_id for r in self._rows]

    # --- user ----------------------------------------------------------------------------------
    @staticmethod
    def _run_of(item: QTreeWidgetItem) -> int | None:
        v = int(item.data(0, Qt.ItemDataRole.UserRole))
        return None if v == _NONE else v

    def _on_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        if self._filling or column == 1:
            return  # the B box has its own meaning
        run = self._run_of(item)
        row = next((r for r in self._rows if r.run_id == run), None)
        if row is not None and not (row.is_a and not self.follow.isChecked()):
            self._later(self.show_requested, run)

    def _on_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._filling or column != 1:
            return
        on = item.checkState(1) == Qt.CheckState.Checked
        self._later(self.compare_requested, self._run_of(item) if on else None)

    def _on_follow(self, on: bool) -> None:
        if not self._filling and on:
            self._later(self.show_requested, "newest")
        elif not self._filling and not on:
            a = next((r for r in self._rows if r.is_a), None)
            if a is not None:
                self._later(self.show_requested, a.run_id)  # keep this one: pin it

    def _later(self, signal: SignalInstance, value: object) -> None:
        QTimer.singleShot(0, self, lambda: signal.emit(value))


__all__ = ["A_RGB", "B_RGB", "COLUMNS", "RunsPanel", "swatch"]
