"""The Tracks panel: the project's tracks with their spans on the shown video, buttons for the
track verbs, and the likely identity switches to step through.

Plain widget: it shows values and reports intents; ``TracksController`` does the rest.

Signals:
    track_chosen(int): a track row was selected (-1: none).
    track_activated(int): a track row was double-clicked (go to its first frame here).
    action_requested(str): a button's action id (``run_tracker``, ``rename_track``,
        ``merge_tracks``, ``split_track``, ``delete_track``, ``swap_identities``), the same ids
        as the window's actions.
    switch_activated(int): a likely identity switch was chosen (its frame).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pose_studio.core.tracking import SwitchCandidate
from pose_studio.gui.widgets.tables import row_table
from pose_studio.store.tracks import TrackSpan

from ..view.track_colors import track_color

#: (action id, button text) in button order.
BUTTONS: tuple[tuple[str, str], ...] = (
    ("run_tracker", "Track predictions"),
    ("swap_identities", "Swap identities"),
    ("rename_track", "Rename…"),
    ("merge_tracks", "Merge into…"),
    ("split_track", "Split here"),
    ("delete_track", "Delete"),
)


def _swatch(track_id: int) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(QColor(*track_color(track_id)))
    return QIcon(pix)


class TracksPanel(QWidget):
    """See the module docstring."""

    track_chosen = Signal(int)
    track_activated = Signal(int)
    action_requested = Signal(str)
    switch_activated = Signal(int)

    COLUMNS = ("Track", "Frames here", "Labels", "Predictions")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tracks_panel")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.table = row_table(self.COLUMNS, self, name="tracks_table")
        self.table.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        lay.addWidget(self.table, 3)
        grid = QGridLayout()
        self.buttons: dict[str, QPushButton] = {}
        for n, (aid, text) in enumerate(BUTTONS):
            b = QPushButton(text, self)
            b.setObjectName(f"tracks_{aid}")
            b.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            b.clicked.connect(lambda _c=False, a=aid: self.action_requested.emit(a))
            grid.addWidget(b, n // 3, n % 3)
            self.buttons[aid] = b
        lay.addLayout(grid)
        self.switch_label = QLabel("Likely identity switches", self)
        lay.addWidget(self.switch_label)
        self.switches = QListWidget(self)
        self.switches.setObjectName("tracks_switches")
        self.switches.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        lay.addWidget(self.switches, 2)
        self._ids: list[int] = []
        self._switch_frames: list[int] = []
        self._updating = False
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.itemDoubleClicked.connect(
            lambda item: self.track_activated.emit(self._ids[item.row()]))
        self.switches.itemActivated.connect(self._on_switch)
        self.switches.itemClicked.connect(self._on_switch)

    # --- tracks ----------------------------------------------------------------------------------
    def set_tracks(self, spans: Sequence[TrackSpan], current: int | None = None) -> None:
        """Show ``spans`` (tracks on this video first, then the others greyed)."""
        self._updating = True
        try:
            rows = sorted(spans, key=lambda t: (not t.on_video, t.track_id))
            self.table.setRowCount(len(rows))
            self._ids = [t.track_id for t in rows]
            grey = QColor(140, 140, 140)
            for r, t in enumerate(rows):
                cells = (t.name, t.span_text(), str(t.n_user) if t.on_video else "",
                         str(t.n_predicted) if t.on_video else "")
                for c, text in enumerate(cells):
                    item = self.table.item(r, c)
                    if item is None:
                        item = QTableWidgetItem()
                        self.table.setItem(r, c, item)
                    item.setText(text)
                    item.setToolTip(f"track {t.track_id}: {t.name}")
                    if not t.on_video:
                        item.setForeground(grey)
                    else:
                        item.setForeground(self.palette().text())
                    if c == 0:
                        item.setIcon(_swatch(t.track_id))
            self.select_track(current)
        finally:
            self._updating = False

    def select_track(self, track_id: int | None) -> None:
        was = self._updating
        self._updating = True
        try:
            if track_id in self._ids:
                self.table.selectRow(self._ids.index(track_id))  # type: ignore[arg-type]
            else:
                self.table.clearSelection()
        finally:
            self._updating = was

    def chosen(self) -> int | None:
        rows = {i.row() for i in self.table.selectedItems()}
        return self._ids[min(rows)] if rows else None

    def track_ids(self) -> list[int]:
        """Track ids in row order (tests)."""
        return list(self._ids)

    def _on_selection(self) -> None:
        if not self._updating:
            t = self.chosen()
            self.track_chosen.emit(-1 if t is None else t)

    # --- identity switches -----------------------------------------------------------------------
    def set_switches(self, cands: Sequence[SwitchCandidate] | None,
                     names: dict[int, str] | None = None) -> None:
        """Show the likely switches (None: being computed)."""
        self.switches.clear()
        self._switch_frames = []
        if cands is None:
            self.switch_label.setText("Likely identity switches (looking…)")
            return
        names = names or {}
        self.switch_label.setText(f"Likely identity switches ({len(cands)}; Ctrl+J steps)")
        for c in cands:
            who = ", ".join(names.get(t, str(t)) for t in c.tracks)
            item = QListWidgetItem(f"frame {c.frame}: {who} ({c.reason}, {c.score:.2f})")
            self.switches.addItem(item)
            self._switch_frames.append(int(c.frame))

    def switch_frames(self) -> list[int]:
        return list(self._switch_frames)

    def _on_switch(self, item: QListWidgetItem) -> None:
        self.switch_activated.emit(self._switch_frames[self.switches.row(item)])


__all__ = ["BUTTONS", "TracksPanel"]
