"""Seekbar with labeled/predicted marks and a per-frame confidence strip; while a second model
run is shown (A/B), a row for each run in its colour.

Per-frame arrays are reduced to one value per pixel column with ``np.*.reduceat`` (O(frames),
vectorised: a few ms for a million frames) and cached as a small image; painting only blits that
image and draws the cursor, so seeking never walks the frames.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

LABELED_RGB = (60, 220, 110)
PREDICTED_RGB = (90, 150, 255)
EMPTY_RGB = (52, 52, 58)
NO_SCORE_RGB = (40, 40, 46)


def bin_starts(n_frames: int, n_bins: int) -> np.ndarray:
    """Start frame of each of ``n_bins`` columns covering ``n_frames`` (unique, increasing)."""
    if n_frames <= 0 or n_bins <= 0:
        return np.zeros(0, np.int64)
    starts = np.floor(np.arange(n_bins) * (n_frames / n_bins)).astype(np.int64)
    return np.unique(np.clip(starts, 0, n_frames - 1))


def reduce_columns(
    labeled: np.ndarray, predicted: np.ndarray, min_score: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-column ``(first_frame, any_labeled, any_predicted, min_score)``."""
    n = len(labeled)
    starts = bin_starts(n, n_bins)
    if starts.size == 0:
        e = np.zeros(0)
        return starts, e.astype(bool), e.astype(bool), e.astype(np.float32)
    lab = np.maximum.reduceat(np.asarray(labeled, bool).view(np.uint8), starts).astype(bool)
    pred = np.maximum.reduceat(np.asarray(predicted, bool).view(np.uint8), starts).astype(bool)
    s = np.asarray(min_score, np.float32)
    s = np.where(np.isnan(s), np.float32(np.inf), s)
    mins = np.minimum.reduceat(s, starts)
    mins = np.where(np.isinf(mins), np.nan, mins).astype(np.float32)
    return starts, lab, pred, mins


def score_colors(scores: np.ndarray) -> np.ndarray:
    """Red (0) -> yellow (0.5) -> green (1) per score; dark where NaN."""
    s = np.clip(np.nan_to_num(scores, nan=0.0), 0.0, 1.0)
    r = np.where(s < 0.5, 230, 230 - (s - 0.5) * 2 * 170)
    g = np.where(s < 0.5, 60 + s * 2 * 150, 210)
    b = np.full_like(s, 60)
    out = np.stack([r, g, b], axis=-1).astype(np.uint8)
    out[np.isnan(scores)] = NO_SCORE_RGB
    return out


class Timeline(QWidget):
    """Click or drag to seek. ``seek_requested(frame)`` while dragging, ``released`` at the end."""

    seek_requested = Signal(int)
    scrub_started = Signal()
    scrub_finished = Signal()

    ROWS = (0.0, 0.3, 0.6, 1.0)  # row boundaries: labeled, predicted, confidence
    ROWS_AB = (0.0, 0.25, 0.45, 0.65, 1.0)  # labeled, A predicted, B predicted, confidence

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        self.setMinimumHeight(34)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Timeline: green = labeled, blue = predicted, strip = lowest confidence")
        self.n_frames = 0
        self.current = 0
        self._labeled = np.zeros(0, bool)
        self._predicted = np.zeros(0, bool)
        self._min_score = np.zeros(0, np.float32)
        self._compare: np.ndarray | None = None  # B's predicted frames (A/B), else None
        self._pred_rgb = PREDICTED_RGB
        self._b_rgb = PREDICTED_RGB
        self._image: QImage | None = None
        self._image_buf: np.ndarray | None = None
        self._scrubbing = False

    def sizeHint(self) -> QSize:
        return QSize(600, 38)

    # --- data ------------------------------------------------------------------------------------
    def set_arrays(
        self, labeled: np.ndarray, predicted: np.ndarray, min_score: np.ndarray
    ) -> None:
        self.n_frames = len(labeled)
        self._labeled = labeled
        self._predicted = predicted
        self._min_score = min_score
        self._image = None
        self.update()

    def set_compare(self, predicted_b: np.ndarray | None,
                    colours: tuple[tuple[int, int, int], tuple[int, int, int]] | None = None
                    ) -> None:
        """Show a second run's predicted frames in a row of their own (None: one run);
        ``colours``: (A, B) row colours."""
        self._compare = None if predicted_b is None else np.asarray(predicted_b, bool)
        a, b = colours if colours is not None and predicted_b is not None else \
            (PREDICTED_RGB, PREDICTED_RGB)
        self._pred_rgb, self._b_rgb = a, b
        self._image = None
        self.update()

    @property
    def rows(self) -> tuple[float, ...]:
        return self.ROWS if self._compare is None else self.ROWS_AB

    def set_current(self, frame_idx: int) -> None:
        if frame_idx != self.current:
            old = self._x_of(self.current)
            self.current = frame_idx
            new = self._x_of(frame_idx)
            h = self.height()
            self.update(QRect(min(old, new) - 3, 0, abs(new - old) + 7, h))

    # --- geometry --------------------------------------------------------------------------------
    def _track(self) -> QRect:
        return self.rect().adjusted(1, 1, -1, -1)

    def _x_of(self, frame_idx: int) -> int:
        r = self._track()
        if self.n_frames <= 1:
            return r.left()
        return r.left() + round((frame_idx + 0.5) * r.width() / self.n_frames)

    def frame_at(self, x: float) -> int:
        r = self._track()
        if self.n_frames <= 0 or r.width() <= 0:
            return 0
        f = int((x - r.left()) * self.n_frames / r.width())
        return max(0, min(self.n_frames - 1, f))

    # --- painting --------------------------------------------------------------------------------
    def _build_image(self) -> None:
        r = self._track()
        w = max(1, r.width())
        ab = self._compare is not None
        buf = np.empty((4 if ab else 3, w, 3), np.uint8)
        buf[:] = EMPTY_RGB
        if self.n_frames > 0:
            starts, lab, pred, mins = reduce_columns(
                self._labeled, self._predicted, self._min_score, w
            )
            col_frame = (np.arange(w) * (self.n_frames / w)).astype(np.int64)
            col_bin = np.searchsorted(starts, col_frame, side="right") - 1
            buf[0][lab[col_bin]] = LABELED_RGB
            buf[1][pred[col_bin]] = self._pred_rgb
            if self._compare is not None:
                b = np.zeros(self.n_frames, bool)
                m = min(self.n_frames, len(self._compare))
                b[:m] = self._compare[:m]
                bcol = np.maximum.reduceat(b.view(np.uint8), starts).astype(bool)
                buf[2][bcol[col_bin]] = self._b_rgb
            buf[-1] = score_colors(mins[col_bin])
        self._image_buf = np.ascontiguousarray(buf)
        self._image = QImage(
            self._image_buf.data, w, buf.shape[0], int(self._image_buf.strides[0]),
            QImage.Format.Format_RGB888
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        try:
            r = self._track()
            if self._image is None or self._image.width() != max(1, r.width()):
                self._build_image()
            assert self._image is not None
            h = r.height()
            rows = self.rows
            for row in range(len(rows) - 1):
                y0 = r.top() + round(rows[row] * h)
                y1 = r.top() + round(rows[row + 1] * h)
                p.drawImage(QRect(r.left(), y0, r.width(), max(1, y1 - y0 - 1)), self._image,
                            QRect(0, row, self._image.width(), 1))
            if self.n_frames > 0:
                x = self._x_of(self.current)
                p.setPen(QPen(QColor(255, 255, 255), 2))
                p.drawLine(x, 0, x, self.height())
        finally:
            p.end()

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._image = None
        super().resizeEvent(event)

    # --- mouse -----------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.n_frames > 0:
            self._scrubbing = True
            self.scrub_started.emit()
            self.seek_requested.emit(self.frame_at(event.position().x()))
            event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._scrubbing and event.buttons() & Qt.MouseButton.LeftButton:
            self.seek_requested.emit(self.frame_at(event.position().x()))
        elif self.n_frames > 0:
            f = self.frame_at(event.position().x())
            self.setToolTip(self._tip(f))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._scrubbing and event.button() == Qt.MouseButton.LeftButton:
            self._scrubbing = False
            self.seek_requested.emit(self.frame_at(event.position().x()))
            self.scrub_finished.emit()

    def _tip(self, f: int) -> str:
        parts = [f"frame {f}"]
        if f < len(self._labeled) and self._labeled[f]:
            parts.append("labeled")
        ab = self._compare is not None
        if f < len(self._predicted) and self._predicted[f]:
            s = self._min_score[f]
            what = "A predicted" if ab else "predicted"
            parts.append(f"{what} (min score {s:.2f})" if np.isfinite(s) else what)
        if self._compare is not None and f < len(self._compare) and self._compare[f]:
            parts.append("B predicted")
        return ", ".join(parts)
