"""The instances on the current frame: id (stable: it never renumbers), kind, score, labeled
keypoints, track; the selection follows the view."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from pose_studio.core.annotation import Instance


class InstanceList(QTreeWidget):
    """``instance_selected(id)`` when the user picks a row (-1: none);
    ``instance_activated(id)`` on double-click (accepts a prediction)."""

    instance_selected = Signal(int)
    instance_activated = Signal(int)

    COLUMNS = ("#", "Kind", "Score", "Keypoints", "Track", "By")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("instance_list")
        self.setColumnCount(len(self.COLUMNS))
        self.setHeaderLabels(list(self.COLUMNS))
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        header = self.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # no sideways scrolling
        header.setStretchLastSection(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._ids: list[int] = []
        self._updating = False
        self.itemSelectionChanged.connect(self._on_selection)
        self.itemDoubleClicked.connect(self._on_double)

    def set_instances(self, instances: Sequence[Instance], accepted: set[int] | None = None) -> None:
        self._updating = True
        try:
            self.clear()
            self._ids = []
            accepted = accepted or set()
            users = [i for i in instances if not i.is_prediction]
            preds = [i for i in instances if i.is_prediction]
            for inst in users + preds:
                labeled = int(inst.labeled.sum())
                score = inst.mean_score()
                kind = "prediction" if inst.is_prediction else "label"
                hidden = inst.is_prediction and inst.id in accepted
                if hidden:
                    kind = "prediction (labeled)"
                elif not inst.is_prediction and inst.source_id is not None:
                    kind = "label (from prediction)"
                row = QTreeWidgetItem([
                    "" if inst.id is None else str(inst.id), kind, "" if score is None else f"{score:.2f}",
                    f"{labeled}/{inst.num_keypoints}",
                    "" if inst.track_id is None else str(inst.track_id),
                    "" if inst.is_prediction else (inst.edited_by or ""),
                ])
                if inst.edited_by and not inst.is_prediction:  # several annotators: who, by colour
                    from .team_panel import annotator_color

                    row.setForeground(5, QBrush(annotator_color(inst.edited_by)))
                    row.setToolTip(5, f"last edited by {inst.edited_by}")
                if inst.is_prediction:
                    # Readable blue for predictions; grey for those a label already covers.
                    color = QColor(150, 150, 150) if hidden else QColor(30, 80, 170)
                    for c in range(len(self.COLUMNS)):
                        row.setForeground(c, QBrush(color))
                    row.setToolTip(1, "Under a label: hidden in the frame view" if hidden else
                                   "Model output: A or double-click makes it a label")
                self.addTopLevelItem(row)
                self._ids.append(-1 if inst.id is None else int(inst.id))
        finally:
            self._updating = False

    def select_instance(self, instance_id: int | None) -> None:
        self._updating = True
        try:
            self.clearSelection()
            if instance_id is not None and instance_id in self._ids:
                item = self.topLevelItem(self._ids.index(instance_id))
                if item is not None:
                    item.setSelected(True)
                    self.scrollToItem(item)
        finally:
            self._updating = False

    def _on_selection(self) -> None:
        if self._updating:
            return
        rows = [self.indexOfTopLevelItem(i) for i in self.selectedItems()]
        self.instance_selected.emit(self._ids[rows[0]] if rows else -1)

    def _on_double(self, item: QTreeWidgetItem, _col: int) -> None:
        row = self.indexOfTopLevelItem(item)
        if 0 <= row < len(self._ids):
            self.instance_activated.emit(self._ids[row])
