"""Edit ▸ Skeleton: add, rename, reorder and remove keypoints, edit edges, flip pairs and
colours; OK changes the project's skeleton with every instance following, as ONE history step
(Ctrl+Z takes it back, removed points included).

The dialog edits a :class:`~pose_studio.app.skeleton_draft.SkeletonDraft`; nothing is written
until OK. Removing keypoints that are labeled asks first, saying how many labels and predictions
lose them. Keypoint names are edited in place (double-click, or F2); a colour by double-clicking
its swatch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pose_studio.app.session import Session
from pose_studio.app.skeleton_draft import SkeletonDraft
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.skeleton import SkeletonError
from pose_studio.core.skeleton_edit import NEW
from pose_studio.store import skeleton_change

__all__ = ["SkeletonEditor"]

NAME, COLOUR, PARTNER, LABELED = range(4)


class SkeletonEditor(QDialog):
    """See the module docstring. ``confirm(text) -> bool`` asks before removing labeled points
    (tests replace it); ``messages`` records what was refused."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("skeleton_editor")
        self.setWindowTitle("Edit Skeleton")
        self.session = session
        project = session.require()
        self.draft = SkeletonDraft(project.skeleton)
        self.users, self.preds = skeleton_change.labeled_counts(project)
        self.messages: list[str] = []
        self.confirm: Callable[[str], bool] = self._ask
        self._filling = False

        self.name_edit = QLineEdit(self.draft.name, self)
        self.table = QTableWidget(0, 4, self)
        self.table.setObjectName("skeleton_points")
        self.table.setHorizontalHeaderLabels(["Keypoint", "Colour", "Flip partner", "Labeled"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        for c in (COLOUR, PARTNER, LABELED):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemChanged.connect(self._item_changed)
        self.table.cellDoubleClicked.connect(self._double_clicked)

        add, remove = QPushButton("&Add", self), QPushButton("&Remove", self)
        up, down = QPushButton("Move &Up", self), QPushButton("Move &Down", self)
        add.setToolTip("A new keypoint after the selected one (unlabeled on every instance)")
        remove.setToolTip("Remove the selected keypoint from every instance (undoable)")
        up.setToolTip("Earlier in the order (the order click-to-place follows)")
        add.clicked.connect(self._add_clicked)
        remove.clicked.connect(lambda: self.remove(self.current_key()))
        up.clicked.connect(lambda: self.move_point(self.current_key(), -1))
        down.clicked.connect(lambda: self.move_point(self.current_key(), 1))
        buttons = QHBoxLayout()
        for b in (add, remove, up, down):
            buttons.addWidget(b)
        buttons.addStretch(1)

        edges = QGroupBox("Edges (limbs)", self)
        self.edge_list = QListWidget(edges)
        self.edge_list.setObjectName("skeleton_edges")
        self.edge_a, self.edge_b = QComboBox(edges), QComboBox(edges)
        add_edge, remove_edge = QPushButton("Join", edges), QPushButton("Remove Edge", edges)
        add_edge.clicked.connect(lambda: self.add_edge(self.edge_a.currentData(),
                                                       self.edge_b.currentData()))
        remove_edge.clicked.connect(self._remove_edge_clicked)
        grid = QGridLayout(edges)
        grid.addWidget(self.edge_list, 0, 0, 1, 3)
        grid.addWidget(self.edge_a, 1, 0)
        grid.addWidget(self.edge_b, 1, 1)
        grid.addWidget(add_edge, 1, 2)
        grid.addWidget(remove_edge, 2, 2)

        self.note = QLabel("", self)
        self.note.setWordWrap(True)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                               | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.apply)
        box.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Skeleton name:", self.name_edit)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(self.table, 1)
        left.addLayout(buttons)
        row = QHBoxLayout()
        row.addLayout(left, 3)
        row.addWidget(edges, 2)
        lay = QVBoxLayout(self)
        lay.addLayout(row, 1)
        lay.addWidget(self.note)
        lay.addWidget(box)
        self.resize(860, 560)
        self._fill()
        self.table.selectRow(0)

    # --- showing the draft -----------------------------------------------------------------------
    def _labeled_text(self, source: int) -> str:
        if source == NEW:
            return "new: unlabeled"
        u, p = int(self.users[source]), int(self.preds[source])
        return f"{u} label{'' if u == 1 else 's'}, {p} predicted"

    def _fill(self) -> None:
        d = self.draft
        self._filling = True
        try:
            self.table.setRowCount(len(d.points))
            for r, p in enumerate(d.points):
                name = QTableWidgetItem(p.name)
                name.setData(Qt.ItemDataRole.UserRole, p.key)
                if p.source != NEW and d.original.keypoints[p.source] != p.name:
                    name.setToolTip(f"was {d.original.keypoints[p.source]}")
                swatch = QTableWidgetItem("")
                swatch.setBackground(QBrush(QColor(*p.color)))
                swatch.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                swatch.setToolTip("Double-click to choose the colour")
                count = QTableWidgetItem(self._labeled_text(p.source))
                count.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                self.table.setItem(r, NAME, name)
                self.table.setItem(r, COLOUR, swatch)
                self.table.setItem(r, LABELED, count)
                combo = QComboBox(self.table)
                combo.addItem("—", None)
                for q in d.points:
                    if q.key != p.key:
                        combo.addItem(q.name, q.key)
                partner = d.partner(p.key)
                combo.setCurrentIndex(max(0, combo.findData(partner)) if partner is not None
                                      else 0)
                combo.currentIndexChanged.connect(
                    lambda _i, key=p.key, c=combo: self.set_partner(key, c.currentData()))
                self.table.setCellWidget(r, PARTNER, combo)
            for combo in (self.edge_a, self.edge_b):
                keep = combo.currentData()
                combo.clear()
                for p in d.points:
                    combo.addItem(p.name, p.key)
                if keep is not None and combo.findData(keep) >= 0:
                    combo.setCurrentIndex(combo.findData(keep))
            self.edge_list.clear()
            for a, b in d.edges:
                item = QListWidgetItem(f"{d.point(a).name} — {d.point(b).name}")
                item.setData(Qt.ItemDataRole.UserRole, (a, b))
                self.edge_list.addItem(item)
        finally:
            self._filling = False
        gone = d.removed_names()
        self.note.setText(("Removed: " + ", ".join(gone) + ". ") if gone else "")

    def current_key(self) -> int:
        r = max(0, self.table.currentRow())
        return int(self.draft.points[r].key)

    def _select_key(self, key: int) -> None:
        self.table.selectRow(self.draft.index(key))

    def _refuse(self, exc: PoseStudioError) -> None:
        self.messages.append(str(exc))
        self.note.setText(str(exc))

    # --- editing (each keeps the draft and the table in step) ------------------------------------
    def add(self, name: str, after: int | None = None) -> int | None:
        try:
            key = self.draft.add(name, after=after)
        except SkeletonError as exc:
            self._refuse(exc)
            return None
        self._fill()
        self._select_key(key)
        return key

    def _add_clicked(self) -> None:
        n = len(self.draft.points) + 1
        names = {p.name for p in self.draft.points}
        while f"keypoint_{n}" in names:
            n += 1
        key = self.add(f"keypoint_{n}", after=self.current_key() if self.draft.points else None)
        item = None if key is None else self.table.item(self.draft.index(key), NAME)
        if item is not None:
            self.table.editItem(item)

    def rename(self, key: int, name: str) -> bool:
        try:
            self.draft.rename(key, name)
        except SkeletonError as exc:
            self._refuse(exc)
            self._fill()
            return False
        self._fill()
        return True

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != NAME:
            return
        key = item.data(Qt.ItemDataRole.UserRole)
        if key is not None and item.text() != self.draft.point(int(key)).name:
            self.rename(int(key), item.text())

    def remove(self, key: int) -> None:
        try:
            i = self.draft.index(key)
            self.draft.remove(key)
        except SkeletonError as exc:
            self._refuse(exc)
            return
        self._fill()
        if self.draft.points:
            self.table.selectRow(min(i, len(self.draft.points) - 1))

    def move_point(self, key: int, delta: int) -> None:
        self.draft.move(key, delta)
        self._fill()
        self._select_key(key)

    def set_color(self, key: int, rgb: tuple[int, int, int]) -> None:
        self.draft.set_color(key, rgb)
        self._fill()

    def _double_clicked(self, row: int, col: int) -> None:
        if col != COLOUR:
            return
        p = self.draft.points[row]
        c = QColorDialog.getColor(QColor(*p.color), self, f"Colour of {p.name}")
        if c.isValid():
            self.set_color(p.key, (c.red(), c.green(), c.blue()))

    def set_partner(self, key: int, other: int | None) -> None:
        if self._filling:
            return
        try:
            self.draft.set_partner(key, other)
        except SkeletonError as exc:
            self._refuse(exc)
        self._fill()

    def add_edge(self, a: int | None, b: int | None) -> None:
        if a is None or b is None:
            return
        try:
            self.draft.add_edge(int(a), int(b))
        except SkeletonError as exc:
            self._refuse(exc)
            return
        self._fill()

    def _remove_edge_clicked(self) -> None:
        item = self.edge_list.currentItem()
        if item is not None:
            a, b = item.data(Qt.ItemDataRole.UserRole)
            self.draft.remove_edge(a, b)
            self._fill()

    # --- OK --------------------------------------------------------------------------------------
    def _ask(self, text: str) -> bool:
        return QMessageBox.question(
            self, "Remove keypoints", text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No) == QMessageBox.StandardButton.Yes

    def apply(self) -> bool:
        """Change the project's skeleton (one history step); False when refused or declined."""
        self.draft.name = self.name_edit.text()
        try:
            change = self.draft.change()
        except SkeletonError as exc:
            self._refuse(exc)
            return False
        if change.empty:
            self.accept()
            return True
        gone = list(change.removed)
        if gone:
            n_user = int(np.sum(self.users[gone]))
            n_pred = int(np.sum(self.preds[gone]))
            names = ", ".join(change.before.keypoints[i] for i in gone)
            if (n_user or n_pred) and not self.confirm(
                    f"Remove {names} from every instance? {n_user} labeled and {n_pred} "
                    "predicted points go with it. Edit ▸ Undo (Ctrl+Z) brings them back."):
                return False
        try:
            self.session.change_skeleton(change)
        except PoseStudioError as exc:
            self._refuse(exc)
            QMessageBox.warning(self, "Skeleton not changed", str(exc))
            return False
        self.accept()
        return True
