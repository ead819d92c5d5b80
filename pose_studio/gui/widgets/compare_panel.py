"""The Compare Runs panel: did the retrained model get better, and where.

Shows a :class:`pose_studio.app.runs.CompareReport` of the video's two shown runs (A and B):
one verdict line, each run's OKS AP against the user's labels, per-keypoint OKS of A and B, and
the frames that changed most (click one to go there, with both runs drawn). The report is
computed by a background job (the runs controller); this widget only shows it.

Signals (out): ``compute_requested(bool)`` (True: all videos), ``cancel_requested()``,
``frame_requested(int, int)`` (video id, frame).
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pose_studio.gui.widgets.tables import row_table

from .runs_panel import A_RGB, B_RGB, swatch

GAIN_RGB = (70, 200, 110)
LOSS_RGB = (235, 80, 70)


def _num(v: float) -> str:
    return "–" if not math.isfinite(v) or v < 0 else f"{v:.3f}"


def _delta(v: float) -> str:
    return "–" if not math.isfinite(v) else f"{v:+.3f}"


def _item(text: str, tip: str = "", align_right: bool = True) -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if align_right:
        it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if tip:
        it.setToolTip(tip)
    return it


def _tint(item: QTableWidgetItem, d: float) -> None:
    """Gains green, losses red, stronger for bigger changes."""
    if not math.isfinite(d) or abs(d) < 0.005:
        return
    rgb = GAIN_RGB if d > 0 else LOSS_RGB
    alpha = int(60 + 160 * min(1.0, abs(d) / 0.3))
    item.setBackground(QBrush(QColor(rgb[0], rgb[1], rgb[2], alpha)))


def _swatch_icon(rgb: tuple[int, int, int]) -> QIcon:
    pix = QPixmap(10, 10)
    pix.fill(QColor(*rgb))
    return QIcon(pix)


def _table(headers: list[str]) -> QTableWidget:
    t = row_table(headers, compact=False)
    t.horizontalHeader().setStretchLastSection(True)
    t.verticalHeader().setDefaultSectionSize(20)
    return t


class ComparePanel(QWidget):
    """See the module docstring."""

    compute_requested = Signal(bool)
    cancel_requested = Signal()
    frame_requested = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compare_panel")
        self.report: Any = None
        self.runs_label = QLabel("Show two runs (A and B) to compare them.")
        self.runs_label.setTextFormat(Qt.TextFormat.RichText)
        self.scope = QComboBox()
        self.scope.addItem("This video", False)
        self.scope.addItem("All videos", True)
        self.scope.setToolTip("Which labels to score against")
        self.compute_button = QPushButton("Compare")
        self.compute_button.clicked.connect(
            lambda: self.compute_requested.emit(bool(self.scope.currentData())))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.progress.setMaximumWidth(140)
        self.progress.setVisible(False)
        self.verdict = QLabel("Compare scores A and B against your labels (OKS AP, per keypoint) "
                              "and lists the frames that changed most.")
        self.verdict.setObjectName("compare_verdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict.setStyleSheet("font-weight: bold;")
        self.summary = _table(["Run", "AP", "AP50", "AP75", "mean OKS", "predicted frames"])
        self.summary.setToolTip("COCO keypoint AP of each run against your labels (OKS .50:.95)"
                                "; mean OKS per labeled person (0 when missed)")
        self.keypoints = _table(["Keypoint", "A", "B", "B − A"])
        self.keypoints.setToolTip("Mean per-keypoint OKS term over your labels")
        self.changed = _table(["Video", "Changed frame", "OKS A", "OKS B", "B − A", "A ≈ B"])
        self.changed.setObjectName("compare_changed")
        self.changed.horizontalHeader().setStretchLastSection(False)
        self.changed.setToolTip("Labeled frames whose OKS changed most, then unlabeled frames "
                                "where the runs disagree most. Click to go there.")
        self.changed.cellClicked.connect(self._on_frame_clicked)
        self.changed.cellActivated.connect(self._on_frame_clicked)
        top = QHBoxLayout()
        top.addWidget(self.runs_label, 1)
        top.addWidget(self.scope)
        top.addWidget(self.compute_button)
        top.addWidget(self.cancel_button)
        top.addWidget(self.progress)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.summary)
        ll.addWidget(self.keypoints, 1)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.changed, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(3)
        lay.addLayout(top)
        lay.addWidget(self.verdict)
        lay.addWidget(split, 1)
        self.summary.setMaximumHeight(3 * 20 + 8 + self.summary.horizontalHeader().sizeHint()
                                      .height())
        for t in (self.summary, self.keypoints, self.changed):
            t.setMinimumHeight(44)  # the panel shares the bottom area with the Confidence plot
        self.runs_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.runs_label.setMinimumWidth(120)
        self.set_runs(None, None)

    # --- state in ------------------------------------------------------------------------------
    def set_runs(self, a_title: str | None, b_title: str | None) -> None:
        """The runs a comparison would use (the video's A and B)."""
        if a_title and b_title:
            self.runs_label.setText(f"{swatch(A_RGB)} A: {a_title} &nbsp; vs &nbsp; "
                                    f"{swatch(B_RGB)} B: {b_title}")
        else:
            self.runs_label.setText("Show two runs (A and B, Runs panel or B) to compare them.")
        self.compute_button.setEnabled(bool(a_title and b_title)
                                       and not self.cancel_button.isEnabled())

    def set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        self.compute_button.setEnabled(not busy)
        self.scope.setEnabled(not busy)
        self.progress.setVisible(busy)
        if busy:
            self.progress.setFormat("%p%")
            self.progress.setRange(0, 0)
            self.verdict.setText("Comparing…")

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(min(done, max(1, total)))

    def set_error(self, message: str) -> None:
        self.set_busy(False)
        self.verdict.setText(message)

    def set_stale(self) -> None:
        """The runs changed since the report: say so (the figures are of the old runs)."""
        if self.report is not None and not self.cancel_button.isEnabled():
            self.verdict.setText(self.verdict.text().split("  (")[0]
                                 + "  (the runs changed since: Compare again)")

    def set_report(self, report: Any, video_names: dict[int, str] | None = None) -> None:
        """Show a :class:`~pose_studio.app.runs.CompareReport`."""
        self.report = report
        self.set_busy(False)
        c = report.comparison
        self.verdict.setText(report.verdict)
        self.summary.setRowCount(0)
        for slot, rgb, e in (("A", A_RGB, c.a), ("B", B_RGB, c.b)):
            s = e.scores
            mean = float(s.label_oks.mean()) if len(s.label_oks) else float("nan")
            r = self.summary.rowCount()
            self.summary.insertRow(r)
            name = _item(f"{slot}: run {'none' if e.run_id is None else e.run_id} · {e.name}",
                         align_right=False)
            name.setIcon(_swatch_icon(rgb))
            self.summary.setItem(r, 0, name)
            for col, v in enumerate((s.ap, s.ap50, s.ap75, mean), start=1):
                self.summary.setItem(r, col, _item(_num(v)))
            self.summary.setItem(r, 5, _item(str(e.predicted_frames)))
        label = report.change_label
        self.keypoints.horizontalHeaderItem(3).setText(label)  # type: ignore[union-attr]
        self.changed.horizontalHeaderItem(4).setText(label)  # type: ignore[union-attr]
        tip = (f"{label}: the newer run's OKS minus the older's (green: the newer run is "
               "better)")
        self.keypoints.horizontalHeaderItem(3).setToolTip(tip)  # type: ignore[union-attr]
        self.changed.horizontalHeaderItem(4).setToolTip(tip)  # type: ignore[union-attr]
        self.keypoints.setRowCount(0)
        for row in report.keypoints:
            r = self.keypoints.rowCount()
            self.keypoints.insertRow(r)
            self.keypoints.setItem(r, 0, _item(row.name, align_right=False))
            self.keypoints.setItem(r, 1, _item(_num(row.oks_a)))
            self.keypoints.setItem(r, 2, _item(_num(row.oks_b)))
            change = report.change(row.oks_a, row.oks_b)
            d = _item(_delta(change))
            _tint(d, change)
            self.keypoints.setItem(r, 3, d)
        names = video_names or {}
        multi = len(report.video_ids) > 1
        self.changed.setColumnHidden(0, not multi)
        self.changed.setRowCount(0)
        for ch in c.changed:
            r = self.changed.rowCount()
            self.changed.insertRow(r)
            vid = _item(names.get(ch.key.video_id, str(ch.key.video_id)), align_right=False)
            vid.setData(Qt.ItemDataRole.UserRole, ch.key.video_id)
            self.changed.setItem(r, 0, vid)
            frame = _item(str(ch.key.frame_idx))
            frame.setData(Qt.ItemDataRole.UserRole, ch.key.frame_idx)
            self.changed.setItem(r, 1, frame)
            self.changed.setItem(r, 2, _item(_num(ch.oks_a)))
            self.changed.setItem(r, 3, _item(_num(ch.oks_b)))
            change = report.change(ch.oks_a, ch.oks_b)
            d = _item(_delta(change), "unlabeled frame: no OKS" if math.isnan(change) else "")
            _tint(d, change)
            self.changed.setItem(r, 4, d)
            self.changed.setItem(r, 5, _item(f"{ch.agreement:.2f}",
                                             "how alike the two runs' predictions are (1: same)"))

    def changed_frames(self) -> list[tuple[int, int]]:
        """``(video, frame)`` of the listed frames, top to bottom."""
        out = []
        for r in range(self.changed.rowCount()):
            v, f = self.changed.item(r, 0), self.changed.item(r, 1)
            if v is None or f is None:
                continue
            out.append((int(v.data(Qt.ItemDataRole.UserRole)),
                        int(f.data(Qt.ItemDataRole.UserRole))))
        return out

    def _on_frame_clicked(self, row: int, _col: int) -> None:
        frames = self.changed_frames()
        if 0 <= row < len(frames):
            self.frame_requested.emit(*frames[row])


__all__ = ["ComparePanel"]
