"""Pose trails drawn in the frame view: one faded polyline per keypoint through the frames
before (solid) and after (dotted) the current one, fading with the distance in frames.

One item draws every trail (no item per segment), under the instances and over the picture;
it never takes the mouse.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from pose_studio.app.trails import Trail

__all__ = ["TrailItem"]

MAX_ALPHA = 210  # the nearest frames' opacity (of 255)
MIN_ALPHA = 30


class TrailItem(QGraphicsItem):
    """See the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(3)  # above the picture and heatmaps, under the instances (5, 10)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setData(0, "decoration")  # a click on it is a click on the frame
        self._trails: list[Trail] = []
        self._colors: list[QColor] = []
        self._length = 1
        self._width = 1.5
        self._rect = QRectF()

    def set_trails(self, trails: Sequence[Trail], colors: Sequence[Sequence[int]], length: int,
                   width: float = 1.5) -> None:
        """Show ``trails`` (keypoint ``k`` in ``colors[k]``) of up to ``length`` frames."""
        self.prepareGeometryChange()
        self._trails = list(trails)
        self._colors = [QColor(int(c[0]), int(c[1]), int(c[2])) for c in colors]
        self._length = max(1, int(length))
        self._width = float(width)
        pts = [t.xy[t.labeled] for t in self._trails if t.labeled.any()]
        if pts:
            allp = np.concatenate(pts)
            x0, y0 = allp.min(axis=0)
            x1, y1 = allp.max(axis=0)
            self._rect = QRectF(x0, y0, x1 - x0, y1 - y0).adjusted(-8, -8, 8, 8)
        else:
            self._rect = QRectF()
        self.update()

    @property
    def trails(self) -> list[Trail]:
        return list(self._trails)

    def boundingRect(self) -> QRectF:
        return self._rect

    def _pen(self, k: int, d: int) -> QPen:
        """Keypoint ``k``'s colour, fading with ``d`` frames from now; dotted ahead."""
        span = self._length + 1
        color = QColor(self._colors[k])
        color.setAlpha(int(MIN_ALPHA + (MAX_ALPHA - MIN_ALPHA) * (1 - min(abs(d), span) / span)))
        pen = QPen(color, self._width)
        pen.setCosmetic(True)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        if d > 0:
            pen.setStyle(Qt.PenStyle.DotLine)
        return pen

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if not self._trails:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for t in self._trails:
            offs = t.offsets.tolist()
            n_k = min(t.xy.shape[1], len(self._colors))
            lab = t.labeled
            for i in range(len(offs) - 1):
                d0, d1 = offs[i], offs[i + 1]
                far = d0 if abs(d0) > abs(d1) else d1  # the segment fades with its far end
                both = np.flatnonzero(lab[i, :n_k] & lab[i + 1, :n_k])
                for k in both.tolist():
                    pen = self._pen(k, far)
                    painter.setPen(pen)
                    a, b = t.xy[i, k], t.xy[i + 1, k]
                    painter.drawLine(QLineF(float(a[0]), float(a[1]), float(b[0]), float(b[1])))
                    # a dot on each frame's position shows the speed along the trail
                    end = a if far == d0 else b
                    pen.setStyle(Qt.PenStyle.SolidLine)
                    pen.setWidthF(self._width * 2.5)
                    painter.setPen(pen)
                    painter.drawPoint(QPointF(float(end[0]), float(end[1])))
