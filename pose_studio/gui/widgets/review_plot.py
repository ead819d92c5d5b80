"""Confidence over time for the current video (pyqtgraph), for reviewing a model's output.

``ReviewPlot(review=None, parent=None)`` shows a :class:`pose_studio.app.review.Review`: the
per-frame **mean** and **min** person score, the chosen curve ("Score of": one person or one
keypoint) and labeled frames as ticks along the top. A dashed horizontal line is the
low-confidence threshold (draggable); a vertical line follows the current frame (draggable).
The same ``Review`` drives J / Shift+J, so the threshold, the curve and the summary ("N low
(M stretches)") always agree with the keys. Large videos stay fast: curves are clipped to the
view and peak-downsampled.

Signals (out):

* ``seek_requested(int)``: click on the plot, drag of the frame line, or a jump button.
* ``threshold_changed(float)``: the low-confidence threshold moved (line or spin box).
* ``choice_changed(int)``: another curve was chosen (``Review.choice``).

Slots / methods (in): :meth:`set_arrays` (anything with ``labeled``, ``predicted``,
``min_score``, ``mean_score``; None clears), :meth:`set_current_frame`,
:meth:`set_keypoint_scores`, :meth:`set_instance_scores`, :meth:`set_threshold`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pose_studio.app.review import WHOLE_FRAME, Review, person_choice
from pose_studio.core import review

MEAN_COLOR = (90, 150, 255)
MIN_COLOR = (240, 120, 60)
KEYPOINT_COLOR = (200, 90, 220)
LABELED_COLOR = (60, 220, 110)
FRAME_LINE_COLOR = (255, 170, 0)  # visible on light and dark backgrounds


def _swatch(rgb: tuple[int, int, int], text: str) -> str:
    r, g, b = rgb
    return f'<span style="color: rgb({r},{g},{b}); font-weight: bold;">&#9472;&#9472;</span> {text}'


class ReviewPlot(QWidget):
    """See the module docstring."""

    seek_requested = Signal(int)
    threshold_changed = Signal(float)
    choice_changed = Signal(int)

    def __init__(self, review_state: Review | None = None, parent: QWidget | None = None) -> None:
        if isinstance(review_state, QWidget):  # ReviewPlot(parent)
            review_state, parent = None, review_state
        super().__init__(parent)
        self.review = review_state if review_state is not None else Review()
        self._current = 0

        self.plot = pg.PlotWidget()
        self.plot.setBackground(None)
        pi = self.plot.getPlotItem()
        pi.setMenuEnabled(False)
        pi.hideButtons()
        pi.showGrid(x=False, y=True, alpha=0.2)
        pi.setLabel("left", "score")
        # Three fixed ticks stay legible in a short dock (auto ticks overlap below ~120 px).
        pi.getAxis("left").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")], []])
        # No "frame" axis title: the numbers say it, and a short dock needs the height.
        pi.setClipToView(True)
        pi.setDownsampling(auto=True, mode="peak")
        vb = pi.getViewBox()
        vb.setMouseEnabled(x=True, y=False)
        vb.setLimits(yMin=-0.05, yMax=1.15)
        pi.setYRange(-0.03, 1.1, padding=0)  # the 0 tick stays inside the axis
        self.mean_curve = pi.plot([], [], pen=pg.mkPen(MEAN_COLOR, width=1.5), name="mean",
                                  connect="finite")
        self.min_curve = pi.plot([], [], pen=pg.mkPen(MIN_COLOR, width=1), name="min",
                                 connect="finite")
        self.kp_curve = pi.plot([], [], pen=pg.mkPen(KEYPOINT_COLOR, width=1.5),
                                name="keypoint", connect="finite")
        self.kp_curve.setVisible(False)
        self.labeled_ticks = pg.ScatterPlotItem(size=6, symbol="s",
                                                brush=pg.mkBrush(*LABELED_COLOR),
                                                pen=pg.mkPen(None))
        pi.addItem(self.labeled_ticks)
        # Moving the frame line repaints only its strip; cached curves make that ~1 ms instead
        # of redrawing up to a million points (5-8 ms) on every frame of playback.
        for item in (self.mean_curve.curve, self.min_curve.curve, self.kp_curve.curve,
                     self.labeled_ticks):
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.threshold_line = pg.InfiniteLine(pos=self.review.threshold, angle=0,
                                              movable=True, bounds=(0.0, 1.0),
                                              pen=pg.mkPen((220, 60, 60), width=1,
                                                           style=Qt.PenStyle.DashLine))
        self.frame_line = pg.InfiniteLine(pos=0, angle=90, movable=True,
                                          pen=pg.mkPen(FRAME_LINE_COLOR, width=2),
                                          hoverPen=pg.mkPen(FRAME_LINE_COLOR, width=4))
        pi.addItem(self.threshold_line)
        pi.addItem(self.frame_line)
        self.threshold_line.sigPositionChanged.connect(self._on_threshold_line)
        self.frame_line.sigPositionChanged.connect(self._on_frame_line)
        self.plot.scene().sigMouseClicked.connect(self._on_click)

        self.keypoint_combo = QComboBox()
        self.keypoint_combo.addItem("Whole frame", -1)
        self.keypoint_combo.setEnabled(False)
        self.keypoint_combo.setToolTip(
            "Which score to draw in purple and to step through with the low buttons and J / "
            "Shift+J: the whole frame (its lowest keypoint), one person, or one keypoint")
        self.keypoint_combo.currentIndexChanged.connect(self._on_choice)
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.0, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setDecimals(2)
        self.threshold_spin.setValue(self.review.threshold)
        self.threshold_spin.setToolTip("Low-confidence threshold")
        self.threshold_spin.setKeyboardTracking(False)  # commit on Enter: typing is not reset
        self.threshold_spin.valueChanged.connect(self.set_threshold)
        self.prev_low = QToolButton()
        self.prev_low.setText("◀ low")
        self.prev_low.setToolTip("Previous low-confidence stretch")
        self.prev_low.clicked.connect(lambda: self._jump(self.next_low_confidence(-1)))
        self.next_low = QToolButton()
        self.next_low.setText("low ▶")
        self.next_low.setToolTip("Next low-confidence stretch")
        self.next_low.clicked.connect(lambda: self._jump(self.next_low_confidence(1)))
        self.summary = QLabel()
        self.key_label = QLabel(
            "&nbsp;&nbsp;".join((_swatch(MEAN_COLOR, "mean"), _swatch(MIN_COLOR, "min"),
                                 _swatch(KEYPOINT_COLOR, "chosen"),
                                 _swatch(LABELED_COLOR, "labeled")))
        )

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Score of"))
        bar.addWidget(self.keypoint_combo)
        bar.addWidget(QLabel("Low below"))
        bar.addWidget(self.threshold_spin)
        bar.addWidget(self.prev_low)
        bar.addWidget(self.next_low)
        bar.addStretch(1)
        bar.addWidget(self.key_label)
        bar.addSpacing(12)
        bar.addWidget(self.summary)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.plot, 1)
        self.plot.setMinimumHeight(80)
        self._update_summary()

    # --- data --------------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        return self.review.n_frames

    @property
    def threshold(self) -> float:
        return float(self.threshold_spin.value())

    def set_arrays(self, arrays: Any | None) -> None:
        """Show a video's per-frame arrays (``FrameArrays``); None clears the plot."""
        r = self.review
        r.set_arrays(arrays)
        n = r.n_frames
        x = np.arange(n, dtype=np.float64)
        self.mean_curve.setData(x, r.mean_score.astype(np.float64))
        self.min_curve.setData(x, r.min_score.astype(np.float64))
        lab = np.flatnonzero(r.labeled).astype(np.float64)
        self.labeled_ticks.setData(lab, np.full(lab.shape, 1.05))
        self.frame_line.setBounds((0, max(0, n - 1)))
        pi = self.plot.getPlotItem()
        # Every video gets its own x-range (never the previous video's).
        pi.getViewBox().setLimits(xMin=-1, xMax=max(1, n))
        pi.setXRange(0, max(1, n - 1), padding=0.01)
        self._fill_combo()

    def set_keypoint_scores(self, matrix: np.ndarray | None, names: Sequence[str] = ()) -> None:
        """Per-keypoint scores ``(n_frames, K)`` (NaN where none) and the keypoint names."""
        self.review.set_keypoint_scores(matrix, names)
        self._fill_combo()

    def set_instance_scores(self, matrix: np.ndarray | None, labels: Sequence[str] = ()) -> None:
        """Per-person scores ``(n_frames, M)`` (NaN where none), offered as "Person j"."""
        self.review.set_person_scores(matrix, labels)
        self._fill_combo()

    def _fill_combo(self) -> None:
        r = self.review
        keep = r.choice
        combo = self.keypoint_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("Whole frame", WHOLE_FRAME)
        if r.people is not None:
            for j, name in enumerate(r.people_names):
                combo.addItem(name[:1].upper() + name[1:], person_choice(j))
        if r.keypoints is not None:
            for k, name in enumerate(r.keypoint_names):
                combo.addItem(name, k)
        i = combo.findData(keep)
        combo.setCurrentIndex(max(0, i))
        r.choice = int(combo.currentData())
        combo.setEnabled(combo.count() > 1)
        combo.blockSignals(False)
        self._update_keypoint_curve()
        self._update_summary()

    def _on_choice(self, _index: int) -> None:
        self.review.choice = int(self.keypoint_combo.currentData())
        self._update_keypoint_curve()
        self._update_summary()
        self.choice_changed.emit(self.review.choice)

    def selected_scores(self) -> np.ndarray | None:
        """The per-frame scores of the chosen person or keypoint (None: whole frame)."""
        return self.review.chosen_curve()

    def _update_keypoint_curve(self) -> None:
        y = self.selected_scores()
        if y is None:
            self.kp_curve.setVisible(False)
            self.kp_curve.setData([], [])
            return
        y = y.astype(np.float64)
        self.kp_curve.setData(np.arange(y.size, dtype=np.float64), y)
        self.kp_curve.setVisible(True)

    def _update_summary(self) -> None:
        self.summary.setText(self.review.summary())

    # --- frame and threshold -----------------------------------------------------------------
    def set_current_frame(self, idx: int) -> None:
        self._current = int(idx)
        if round(self.frame_line.value()) != self._current:
            self.frame_line.blockSignals(True)
            self.frame_line.setValue(self._current)
            self.frame_line.blockSignals(False)

    def set_threshold(self, value: float) -> None:
        v = float(np.clip(value, 0.0, 1.0))
        changed = abs(v - self.threshold_line.value()) > 1e-9 or abs(
            v - self.threshold_spin.value()) > 1e-9
        self.threshold_line.blockSignals(True)
        self.threshold_line.setValue(v)
        self.threshold_line.blockSignals(False)
        if abs(self.threshold_spin.value() - v) > 1e-9:
            self.threshold_spin.blockSignals(True)
            self.threshold_spin.setValue(v)
            self.threshold_spin.blockSignals(False)
        self.review.threshold = v
        self._update_summary()
        if changed:
            self.threshold_changed.emit(v)

    def _on_threshold_line(self) -> None:
        self.set_threshold(round(float(self.threshold_line.value()), 2))

    def _on_frame_line(self) -> None:
        idx = round(self.frame_line.value())
        if self.n_frames and idx != self._current:
            self._current = idx
            self.seek_requested.emit(idx)

    def _on_click(self, ev: Any) -> None:
        if self.n_frames == 0 or ev.button() != Qt.MouseButton.LeftButton:
            return
        vb = self.plot.getPlotItem().getViewBox()
        pos = ev.scenePos()
        if not vb.sceneBoundingRect().contains(pos):
            return
        x = vb.mapSceneToView(pos).x()
        self._jump(int(np.clip(round(x), 0, self.n_frames - 1)))

    def _jump(self, idx: int | None) -> None:
        if idx is None:
            return
        self.set_current_frame(idx)
        self.seek_requested.emit(int(idx))

    # --- navigation helpers ------------------------------------------------------------------
    def next_low_confidence(self, direction: int = 1, *,
                            current: int | None = None) -> int | None:
        """Start of the next/previous stretch under the threshold (the chosen curve)."""
        return self.review.next_low(self._current if current is None else current, direction)

    def next_labeled(self, direction: int = 1, *, current: int | None = None) -> int | None:
        if not self.n_frames:
            return None
        return review.next_labeled(self.review.labeled,
                                   self._current if current is None else current, direction)

    def next_unlabeled(self, direction: int = 1, *, current: int | None = None,
                       predicted_only: bool = False) -> int | None:
        if not self.n_frames:
            return None
        r = self.review
        return review.next_unlabeled(r.labeled, self._current if current is None else current,
                                     direction, predicted=r.predicted if predicted_only else None)
