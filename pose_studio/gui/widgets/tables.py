"""The read-only, row-selecting table every panel and dialog lists things in."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QWidget


def row_table(headers: Sequence[str], parent: QWidget | None = None, *, rows: int = 0,
              name: str = "", compact: bool = True) -> QTableWidget:
    """A table of ``rows`` x ``headers``: no editing, one whole row selected at a time, no row
    numbers, columns as wide as their contents; ``compact`` rows are one text line high."""
    t = QTableWidget(rows, len(headers), parent)
    if name:
        t.setObjectName(name)
    t.setHorizontalHeaderLabels(list(headers))
    t.verticalHeader().setVisible(False)
    if compact:
        t.verticalHeader().setDefaultSectionSize(t.fontMetrics().height() + 6)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return t
