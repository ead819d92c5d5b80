"""Pose trails drawn in the frame view: one faded polyline per keypoint through the frames
before (solid) and after (dashed) the current one, fading with the distance in frames, with a
dot on each frame's position (the spacing shows the speed).

One item draws every trail, under the instances and over the picture, and never takes the
mouse. Segments are grouped by colour and frame distance when the trails are set, in numpy
(``pyqtgraph.arrayToQPath`` builds each group's path from arrays), so setting and painting cost
a few dozen calls whatever the number of segments. While playing (``fast``) the trails are drawn
without antialiasing and without the dots.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from pose_studio.app.trails import Trail

__all__ = ["TrailItem"]

MAX_ALPHA = 210  # the nearest frames' opacity (of 255)
MIN_ALPHA = 30
LEVELS = 6  # opacity steps from the nearest frames to the farthest

_Group = tuple[QPen, QPen, QPainterPath, np.ndarray, np.ndarray]


class TrailItem(QGraphicsItem):
    """See the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(3)  # above the picture and heatmaps, under the instances (5, 10)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setData(0, "decoration")  # a click on it is a click on the frame
        self.fast = False
        self._trails: list[Trail] = []
        self._groups: list[_Group] = []
        self._rect = QRectF()
        self._pen_cache: dict[tuple[object, ...], tuple[QPen, QPen]] = {}

    @property
    def trails(self) -> list[Trail]:
        return list(self._trails)

    @staticmethod
    def _segments(trails: Sequence[Trail], n_colors: int) -> tuple[np.ndarray, ...]:
        """``(a (s, 2), b (s, 2), end (s, 2), keypoint (s,), far offset (s,))`` of every
        segment: entry ``i`` to ``i + 1`` of a trail, for each keypoint labeled at both."""
        parts: list[tuple[np.ndarray, ...]] = []
        for t in trails:
            n_k = min(t.xy.shape[1], n_colors)
            offs = t.offsets
            lab = t.labeled[:, :n_k]
            ii, kk = np.nonzero(lab[:-1] & lab[1:])
            if ii.size == 0:
                continue
            a, b = t.xy[ii, kk], t.xy[ii + 1, kk]
            o0, o1 = offs[ii], offs[ii + 1]
            near_is_0 = np.abs(o0) < np.abs(o1)
            far = np.where(near_is_0, o1, o0)
            end = np.where(near_is_0[:, None], b, a)  # the dot goes on the far end
            parts.append((a, b, end, kk, far))
        if not parts:
            z2, z1 = np.zeros((0, 2)), np.zeros(0, np.int64)
            return z2, z2, z2, z1, z1
        return tuple(np.concatenate(p) for p in zip(*parts))

    def set_trails(self, trails: Sequence[Trail], colors: Sequence[Sequence[int]], length: int,
                   width: float = 1.5) -> None:
        """Show ``trails`` (keypoint ``k`` in ``colors[k]``) of up to ``length`` frames."""
        self.prepareGeometryChange()
        self._trails = list(trails)
        rgb = np.asarray(colors, np.int64).reshape(-1, 3)
        palette, colour_of = np.unique(rgb, axis=0, return_inverse=True) if len(rgb) else \
            (np.zeros((0, 3), np.int64), np.zeros(0, np.int64))
        a, b, end, kk, far = self._segments(self._trails, len(rgb))
        self._groups = []
        if far.size:
            span = max(1, int(length))
            # LEVELS opacities per side, whatever the length: a few dozen groups at most
            level = np.minimum(LEVELS - 1, (np.abs(far) - 1) * LEVELS // span)
            key = (colour_of.reshape(-1)[kk] * LEVELS + level) * 2 + (far > 0)
            order = np.lexsort((key, -level))  # the farthest first: the near on top
            key, a, b, end, level = key[order], a[order], b[order], end[order], level[order]
            cuts = np.flatnonzero(np.diff(key)) + 1
            for idx in np.split(np.arange(key.size), cuts):
                k0 = int(key[idx[0]])
                line, dot = self._pens(tuple(int(v) for v in palette[k0 // 2 // LEVELS]),
                                       int(level[idx[0]]), bool(k0 % 2), float(width))
                xy = np.empty((2 * idx.size, 2))
                xy[0::2], xy[1::2] = a[idx], b[idx]
                path = pg.arrayToQPath(xy[:, 0], xy[:, 1], connect="pairs", finiteCheck=False)
                self._groups.append((line, dot, path, np.ascontiguousarray(end[idx, 0]),
                                     np.ascontiguousarray(end[idx, 1])))
            pts = np.concatenate([a, b])
            lo, hi = pts.min(0), pts.max(0)
            self._rect = QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]).adjusted(-8, -8, 8, 8)
        else:
            self._rect = QRectF()
        self.update()

    def _pens(self, rgb: tuple[int, ...], level: int, ahead: bool, width: float
              ) -> tuple[QPen, QPen]:
        """The line and dot pens of a group (made once: frames after frames reuse them)."""
        key = (rgb, level, ahead, width)
        pens = self._pen_cache.get(key)
        if pens is None:
            color = QColor(int(rgb[0]), int(rgb[1]), int(rgb[2]))
            color.setAlpha(int(MAX_ALPHA - (MAX_ALPHA - MIN_ALPHA) * level / max(1, LEVELS - 1)))
            line = QPen(color, width)
            line.setCosmetic(True)
            if ahead:  # after the current frame: dashed
                line.setStyle(Qt.PenStyle.DashLine)
            dot = QPen(color, width * 2.5)
            dot.setCosmetic(True)
            dot.setCapStyle(Qt.PenCapStyle.SquareCap)  # round antialiased points cost 10x
            pens = self._pen_cache[key] = (line, dot)
        return pens

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if not self._groups:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, not self.fast)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for line, dot, path, x, y in self._groups:
            painter.setPen(line)
            painter.drawPath(path)
            if not self.fast:  # the dots only when the picture stands still
                painter.setPen(dot)
                painter.drawPointsNp(x, y)  # type: ignore[arg-type]
