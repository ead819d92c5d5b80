"""Confidence over time for the current video (pyqtgraph), for reviewing a model's output.

``ReviewPlot(parent=None)``

Curves: per-frame **mean** and **min** prediction score (``Project.frame_arrays``); optionally
one keypoint's score (``set_keypoint_scores`` with an ``(n_frames, K)`` matrix, e.g. from
:func:`pose_studio.core.review.keypoint_score_matrix`). Labeled frames are ticks along the top.
A dashed horizontal line is the low-confidence threshold (draggable); a vertical line follows
the current frame (draggable). Large videos stay fast: curves are clipped to the view and
peak-downsampled.

Signals (out):

* ``seek_requested(int)``: click on the plot, drag of the frame line, or a jump button.
* ``threshold_changed(float)``: the low-confidence threshold moved (line or spin box).

Slots / methods (in): :meth:`set_arrays` (a ``FrameArrays`` or anything with ``labeled``,
``predicted``, ``min_score``, ``mean_score``; None clears), :meth:`set_current_frame`,
:meth:`set_keypoint_scores`, :meth:`set_threshold`.

:func:`keypoint_scores` builds the per-keypoint matrix from a project (one pass over the
video's predictions; call it after a batch, or lazily when the user first picks a keypoint).

Navigation helpers for the window's actions (return a frame or None; pure logic lives in
:mod:`pose_studio.core.review`): :meth:`next_low_confidence`, :meth:`next_labeled`,
:meth:`next_unlabeled` (``predicted_only=True``: frames with predictions but no label).
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

from pose_studio.core import review

MEAN_COLOR = (90, 150, 255)
MIN_COLOR = (240, 120, 60)
KEYPOINT_COLOR = (200, 90, 220)
LABELED_COLOR = (60, 220, 110)
FRAME_LINE_COLOR = (255, 170, 0)  # visible on light and dark backgrounds


def _swatch(rgb: tuple[int, int, int], text: str) -> str:
    r, g, b = rgb
    return f'<span style="color: rgb({r},{g},{b}); font-weight: bold;">&#9472;&#9472;</span> {text}'


def keypoint_scores(project: Any, video_id: int, n_frames: int | None = None,
                    n_keypoints: int | None = None) -> np.ndarray:
    """``(n_frames, K)`` min-over-instances keypoint scores of a video's predictions (NaN: none).

    Works from a worker thread too (the store reads through a per-thread connection).
    """
    if n_frames is None:
        n_frames = int(project.video(video_id).frame_count)
    if n_keypoints is None:
        n_keypoints = int(project.skeleton.num_keypoints)
    items = ((f, inst.kp_scores) for _v, f, inst in project.iter_instances("predicted", video_id))
    return review.keypoint_score_matrix(items, n_frames, n_keypoints)


MAX_INSTANCE_CURVES = 8


def review_scores(project: Any, video_id: int, n_frames: int | None = None,
                  n_keypoints: int | None = None,
                  cancelled: Any = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One pass over a video's predictions: ``(keypoint_matrix, instance_matrix, labels)``.

    ``keypoint_matrix`` is ``(n_frames, K)`` (min over instances); ``instance_matrix`` is
    ``(n_frames, M)``, the score of each person over time: by track when the predictions carry
    track ids, else by position in the frame (left to right: "person 1" is the leftmost), at
    most :data:`MAX_INSTANCE_CURVES`. NaN where none. Safe on a worker thread; returns early
    (what it has so far) when ``cancelled()`` turns true.
    """
    if n_frames is None:
        n_frames = int(project.video(video_id).frame_count)
    if n_keypoints is None:
        n_keypoints = int(project.skeleton.num_keypoints)
    kp = np.full((n_frames, n_keypoints), np.nan, np.float32)
    per_frame: dict[int, list[tuple[Any, float, float]]] = {}
    tracks: set[int] = set()
    for i, (_v, f, inst) in enumerate(project.iter_instances("predicted", video_id)):
        if cancelled is not None and i % 4096 == 0 and cancelled():
            break
        if not 0 <= f < n_frames:
            continue
        ks = inst.kp_scores
        if ks is not None and len(ks) == n_keypoints:
            kp[f] = np.fmin(kp[f], np.asarray(ks, np.float32))
        sc = inst.mean_score()
        if sc is None:
            continue
        lab = inst.labeled
        x = float(np.nanmean(inst.xy[lab, 0])) if lab.any() else 0.0
        if inst.track_id is not None:
            tracks.add(int(inst.track_id))
        per_frame.setdefault(f, []).append((inst.track_id, x, float(sc)))
    if tracks:
        order = sorted(tracks)[:MAX_INSTANCE_CURVES]
        col = {t: j for j, t in enumerate(order)}
        labels = [f"track {t}" for t in order]
        inst_m = np.full((n_frames, len(order)), np.nan, np.float32)
        for f, items in per_frame.items():
            for t, _x, sc in items:
                if t is not None and int(t) in col:
                    inst_m[f, col[int(t)]] = sc
    else:
        m = min(MAX_INSTANCE_CURVES, max((len(v) for v in per_frame.values()), default=0))
        labels = [f"person {j + 1} (from left)" for j in range(m)]
        inst_m = np.full((n_frames, m), np.nan, np.float32)
        for f, items in per_frame.items():
            for j, (_t, _x, sc) in enumerate(sorted(items, key=lambda it: it[1])[:m]):
                inst_m[f, j] = sc
    return kp, inst_m, labels


class ReviewPlot(QWidget):
    """See the module docstring."""

    seek_requested = Signal(int)
    threshold_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._n = 0
        self._current = 0
        self._labeled = np.zeros(0, bool)
        self._predicted = np.zeros(0, bool)
        self._min = np.zeros(0, np.float32)
        self._mean = np.zeros(0, np.float32)
        self._kp: np.ndarray | None = None
        self._kp_names: list[str] = []
        self._inst: np.ndarray | None = None
        self._inst_names: list[str] = []

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
        self.threshold_line = pg.InfiniteLine(pos=review.DEFAULT_LOW_CONFIDENCE, angle=0,
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
            "Which score to draw in purple and to step through with the low buttons (J / Shift+J"
            " use the frame's minimum): one person over time, or one keypoint")
        self.keypoint_combo.currentIndexChanged.connect(self._update_keypoint_curve)
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.0, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setDecimals(2)
        self.threshold_spin.setValue(review.DEFAULT_LOW_CONFIDENCE)
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
        return self._n

    @property
    def threshold(self) -> float:
        return float(self.threshold_spin.value())

    def set_arrays(self, arrays: Any | None) -> None:
        """Show a video's per-frame arrays (``FrameArrays``); None clears the plot."""
        if arrays is None:
            self._n = 0
            self._labeled = np.zeros(0, bool)
            self._predicted = np.zeros(0, bool)
            self._min = np.zeros(0, np.float32)
            self._mean = np.zeros(0, np.float32)
            self._kp = None
        else:
            self._labeled = np.asarray(arrays.labeled, bool)
            self._predicted = np.asarray(arrays.predicted, bool)
            self._min = np.asarray(arrays.min_score, np.float32)
            self._mean = np.asarray(arrays.mean_score, np.float32)
            self._n = int(self._labeled.shape[0])
            if self._kp is not None and self._kp.shape[0] != self._n:
                self._kp = None
            if self._inst is not None and self._inst.shape[0] != self._n:
                self._inst = None
            self._inst = None
        x = np.arange(self._n, dtype=np.float64)
        self.mean_curve.setData(x, self._mean.astype(np.float64))
        self.min_curve.setData(x, self._min.astype(np.float64))
        lab = np.flatnonzero(self._labeled).astype(np.float64)
        self.labeled_ticks.setData(lab, np.full(lab.shape, 1.05))
        self.frame_line.setBounds((0, max(0, self._n - 1)))
        if self._n:
            self.plot.getPlotItem().setXRange(0, max(1, self._n - 1), padding=0.01)
            self.plot.getPlotItem().getViewBox().setLimits(xMin=-1, xMax=self._n)
        self._update_keypoint_curve()
        self._update_summary()

    def set_keypoint_scores(self, matrix: np.ndarray | None, names: Sequence[str] = ()) -> None:
        """Per-keypoint scores ``(n_frames, K)`` (NaN where none) and the keypoint names."""
        if matrix is None:
            self._kp = None
            self._kp_names = []
        else:
            m = np.asarray(matrix, np.float32)
            if m.ndim != 2:
                raise ValueError(f"keypoint scores must be (frames, keypoints), got {m.shape}")
            self._kp = m
            self._kp_names = [names[k] if k < len(names) else f"keypoint {k}"
                              for k in range(m.shape[1])]
        self._fill_combo()

    def set_instance_scores(self, matrix: np.ndarray | None, labels: Sequence[str] = ()) -> None:
        """Per-person scores ``(n_frames, M)`` (NaN where none), one curve each (see
        :func:`review_scores`), offered as "person j" in the curve list."""
        if matrix is None:
            self._inst = None
            self._inst_names = []
        else:
            m = np.asarray(matrix, np.float32)
            if m.ndim != 2:
                raise ValueError(f"instance scores must be (frames, instances), got {m.shape}")
            self._inst = m
            self._inst_names = [labels[j] if j < len(labels) else f"person {j + 1}"
                                for j in range(m.shape[1])]
        self._fill_combo()

    # Combo data: -1 whole frame, k >= 0 keypoint k, -2 - j person j.
    def _fill_combo(self) -> None:
        keep = self.keypoint_combo.currentData()
        combo = self.keypoint_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("Whole frame", -1)
        if self._inst is not None:
            for j, name in enumerate(self._inst_names):
                combo.addItem(name[:1].upper() + name[1:], -2 - j)
        if self._kp is not None:
            for k, name in enumerate(self._kp_names):
                combo.addItem(name, k)
        i = combo.findData(keep)
        combo.setCurrentIndex(max(0, i))
        combo.setEnabled(combo.count() > 1)
        combo.blockSignals(False)
        self._update_keypoint_curve()

    def selected_scores(self) -> np.ndarray | None:
        """The per-frame scores of the chosen person or keypoint (None: whole frame)."""
        k = self.keypoint_combo.currentData()
        if k is None or int(k) == -1:
            return None
        k = int(k)
        if k >= 0:
            return self._kp[:, k] if self._kp is not None and k < self._kp.shape[1] else None
        j = -2 - k
        return self._inst[:, j] if self._inst is not None and j < self._inst.shape[1] else None

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
        if not self._n:
            self.summary.setText("")
            return
        low = review.low_confidence_mask(self._min, self.threshold, exclude=self._labeled)
        n_runs = len(review.runs(low))
        self.summary.setText(
            f"{int(self._predicted.sum())} predicted · {int(self._labeled.sum())} labeled · "
            f"{int(low.sum())} low ({n_runs} stretches)"
        )

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
        self._update_summary()
        if changed:
            self.threshold_changed.emit(v)

    def _on_threshold_line(self) -> None:
        self.set_threshold(round(float(self.threshold_line.value()), 2))

    def _on_frame_line(self) -> None:
        idx = round(self.frame_line.value())
        if self._n and idx != self._current:
            self._current = idx
            self.seek_requested.emit(idx)

    def _on_click(self, ev: Any) -> None:
        if self._n == 0 or ev.button() != Qt.MouseButton.LeftButton:
            return
        vb = self.plot.getPlotItem().getViewBox()
        pos = ev.scenePos()
        if not vb.sceneBoundingRect().contains(pos):
            return
        x = vb.mapSceneToView(pos).x()
        self._jump(int(np.clip(round(x), 0, self._n - 1)))

    def _jump(self, idx: int | None) -> None:
        if idx is None:
            return
        self.set_current_frame(idx)
        self.seek_requested.emit(int(idx))

    def frame_at_x(self, x: float) -> int:
        """The frame for a plot x coordinate (clipped)."""
        return int(np.clip(round(x), 0, max(0, self._n - 1)))

    # --- navigation helpers ------------------------------------------------------------------
    def next_low_confidence(self, direction: int = 1, *, current: int | None = None,
                            use_min: bool = True, skip_labeled: bool = True) -> int | None:
        """Start of the next/previous stretch whose score is under the threshold."""
        if not self._n:
            return None
        scores = self._min if use_min else self._mean
        sel = self.selected_scores()
        if sel is not None:
            scores = sel
        return review.next_low_confidence(
            scores, self._current if current is None else current, direction,
            threshold=self.threshold, exclude=self._labeled if skip_labeled else None,
        )

    def next_labeled(self, direction: int = 1, *, current: int | None = None) -> int | None:
        if not self._n:
            return None
        return review.next_labeled(self._labeled, self._current if current is None else current,
                                   direction)

    def next_unlabeled(self, direction: int = 1, *, current: int | None = None,
                       predicted_only: bool = False) -> int | None:
        if not self._n:
            return None
        return review.next_unlabeled(
            self._labeled, self._current if current is None else current, direction,
            predicted=self._predicted if predicted_only else None,
        )
