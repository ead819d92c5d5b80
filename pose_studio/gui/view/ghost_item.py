"""Ghosts: poses a tool proposes (interpolation) drawn on the frame until they are accepted.

Dashed, translucent and white-rimmed, so they read as "not there yet"; they take no mouse
events (the frame's labels stay editable under them). :class:`GhostLayer` owns the items in
the view's scene and shows the ghosts of the current frame.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsScene,
)

from pose_studio.core.annotation import Instance
from pose_studio.core.skeleton import Skeleton

GHOST_RGB = (120, 235, 255)
GHOST_OPACITY = 0.75
GHOST_RADIUS = 4.0
GHOST_Z = 8  # above predictions (5), under labels (10)


class GhostLayer:
    """The ghost items of one frame in ``scene``."""

    def __init__(self, scene: QGraphicsScene) -> None:
        self.scene = scene
        self.items: list[QGraphicsItem] = []
        self.shown: tuple[Instance, ...] = ()

    def show(self, skeleton: Skeleton | None, instances: Sequence[Instance]) -> None:
        self.clear()
        if skeleton is None:
            return
        color = QColor(*GHOST_RGB)
        line_pen = QPen(color, 2.0, Qt.PenStyle.DashLine)
        line_pen.setCosmetic(True)
        rim = QPen(QColor(255, 255, 255), 1.0)
        rim.setCosmetic(True)
        r = GHOST_RADIUS
        for inst in instances:
            vis = inst.visibility
            for a, b in skeleton.edges:
                if a < len(vis) and b < len(vis) and vis[a] > 0 and vis[b] > 0:
                    line = QGraphicsLineItem(inst.xy[a, 0], inst.xy[a, 1], inst.xy[b, 0],
                                             inst.xy[b, 1])
                    line.setPen(line_pen)
                    self._add(line)
            for k in range(min(skeleton.num_keypoints, inst.num_keypoints)):
                if vis[k] == 0:
                    continue
                dot = QGraphicsEllipseItem(QRectF(-r, -r, 2 * r, 2 * r))
                dot.setPos(float(inst.xy[k, 0]), float(inst.xy[k, 1]))
                dot.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
                dot.setPen(rim)
                dot.setBrush(QBrush(color) if vis[k] == 2 else QBrush(Qt.BrushStyle.NoBrush))
                self._add(dot)
        self.shown = tuple(instances)

    def _add(self, item: QGraphicsItem) -> None:
        item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        item.setAcceptHoverEvents(False)
        item.setOpacity(GHOST_OPACITY)
        item.setZValue(GHOST_Z)
        item.setData(0, "decoration")  # a click on a ghost is a click on the frame
        self.scene.addItem(item)
        self.items.append(item)

    def clear(self) -> None:
        for item in self.items:
            self.scene.removeItem(item)
        self.items = []
        self.shown = ()

    def set_visible(self, on: bool) -> None:
        for item in self.items:
            item.setVisible(on)


__all__ = ["GhostLayer"]
