"""The keyboard shortcuts help dialog (Help ▸ Keyboard Shortcuts, usually F1 or ``?``).

``ShortcutsDialog(parent=None, entries=None)`` (positional in either order): ``entries`` is a
sequence of ``(name, shortcut, description)`` tuples, or ``(group, name, shortcut,
description)``; with None it reads the window's action table (:data:`pose_studio.gui.actions.ACTIONS`). A filter box
narrows the table by any column; :meth:`ShortcutsDialog.visible_rows` gives what is shown (tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

Entry = tuple[str, str, str, str]  # group, name, shortcut, description
MOUSE_GROUP = "Mouse"  # rows whose "shortcut" is a gesture, shown as written


def _native(shortcut: str) -> str:
    """Portable key text (``Ctrl+Z``) in the platform's style (``⌘Z`` on macOS)."""
    # Sequences are joined with ", "; a lone "," is a key itself (Ctrl+, too).
    parts = [p.strip() or p for p in shortcut.split(", ") if p] if shortcut else []
    out = []
    for p in parts:
        seq = QKeySequence(p)
        out.append(seq.toString(QKeySequence.SequenceFormat.NativeText) or p)
    return ", ".join(out)


def entries_from_actions(keys: Mapping[str, Sequence[str]] | None = None) -> list[Entry]:
    """Rows from the window's action table (empty if it is not available); ``keys``: each
    action's keys now (the user's remapping), else the table's defaults."""
    try:
        from pose_studio.gui.actions import ACTIONS
    except ImportError:
        return []
    from pose_studio.gui.actions import MOUSE_GESTURES

    rows: list[Entry] = []
    for spec in ACTIONS:
        group = spec.menu.replace("&", "")
        now = keys.get(spec.id, spec.shortcuts) if keys is not None else spec.shortcuts
        rows.append((group, spec.label.rstrip("…"), ", ".join(now), spec.tip))
    for gesture, what in MOUSE_GESTURES:
        rows.append((MOUSE_GROUP, what, gesture, ""))
    return rows


def _normalise(entries: Sequence[Sequence[str]]) -> list[Entry]:
    rows: list[Entry] = []
    for e in entries:
        if len(e) == 3:
            rows.append(("", str(e[0]), str(e[1]), str(e[2])))
        elif len(e) == 4:
            rows.append((str(e[0]), str(e[1]), str(e[2]), str(e[3])))
        else:
            raise ValueError(f"shortcut entry needs 3 or 4 fields, got {e!r}")
    return rows


class ShortcutsDialog(QDialog):
    """See the module docstring."""

    def __init__(self, first: QWidget | Sequence[Sequence[str]] | None = None,
                 second: QWidget | Sequence[Sequence[str]] | None = None, *,
                 parent: QWidget | None = None,
                 entries: Sequence[Sequence[str]] | None = None) -> None:
        # Positional arguments in either order: (parent, entries) or (entries, parent).
        for arg in (first, second):
            if isinstance(arg, QWidget):
                parent = arg
            elif arg is not None:
                entries = arg
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = _normalise(entries) if entries is not None else entries_from_actions()
        self._rows = rows
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter (action, key or description)")
        self.filter.setClearButtonEnabled(True)
        self.table = QTableWidget(len(rows), 4)
        self.table.setHorizontalHeaderLabels(["Menu", "Action", "Shortcut", "Description"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        for r, (group, name, keys, desc) in enumerate(rows):
            shown = keys if group == MOUSE_GROUP else _native(keys)
            for c, text in enumerate((group, name, shown, desc)):
                item = QTableWidgetItem(text)
                if c == 2:
                    item.setData(Qt.ItemDataRole.UserRole, keys)
                self.table.setItem(r, c, item)
        header = self.table.horizontalHeader()
        for c in range(3):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        if not any(g for g, *_ in rows):
            self.table.hideColumn(0)
        self._fit_width()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.filter)
        lay.addWidget(self.table, 1)
        lay.addWidget(buttons)
        self.filter.textChanged.connect(self._apply_filter)

    def _fit_width(self) -> None:
        """Wide enough for every column (the descriptions wrap), within the screen."""
        t = self.table
        t.resizeColumnsToContents()
        header = t.horizontalHeader()
        # A long mouse-gesture text wraps instead of widening the Action column for everyone.
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        t.setColumnWidth(1, min(t.columnWidth(1), 300))
        fixed = sum(t.columnWidth(c) for c in range(3) if not t.isColumnHidden(c))
        want = fixed + 460 + t.verticalScrollBar().sizeHint().width() + 48
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        limit = int(screen.width() * 0.95) if screen is not None else want
        self.resize(max(640, min(want, limit)), 560)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # Row heights for wrapped text, once the columns have their final widths.
        QTimer.singleShot(0, self.table, self.table.resizeRowsToContents)

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for r, row in enumerate(self._rows):
            hay = " ".join((*row, row[2] if row[0] == MOUSE_GROUP else _native(row[2]))).lower()
            self.table.setRowHidden(r, bool(needle) and needle not in hay)

    def visible_rows(self) -> list[tuple[str, str, str]]:
        """(name, shortcut as given, description) of the rows shown now."""
        return [(g_n_k_d[1], g_n_k_d[2], g_n_k_d[3]) for r, g_n_k_d in enumerate(self._rows)
                if not self.table.isRowHidden(r)]
