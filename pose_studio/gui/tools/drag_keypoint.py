"""Drag one keypoint: the items move while dragging; one intent on release (one edit)."""

from __future__ import annotations

from PySide6.QtCore import QPointF

from .base import KeypointDropped, Target


class DragKeypoint:
    """Press on a keypoint, move, release: :class:`KeypointDropped` if it moved at all."""

    def __init__(self, target: Target, k: int, scene_pos: QPointF) -> None:
        self.target = target
        self.k = k
        self._press = QPointF(scene_pos)
        self._start = target.keypoint_pos(k)
        self._moved = False

    def _pos(self, scene_pos: QPointF) -> QPointF:
        return self._start + (scene_pos - self._press)

    def move(self, scene_pos: QPointF) -> None:
        new = self._pos(scene_pos)
        if not self._moved and (new - self._start).manhattanLength() < 1e-9:
            return
        self._moved = True
        self.target.preview_keypoint(self.k, new)

    def release(self, scene_pos: QPointF) -> KeypointDropped | None:
        if not self._moved:
            return None
        p = self.target.keypoint_pos(self.k)  # where the preview left it
        return KeypointDropped(self.target.instance_id, self.k, p.x(), p.y())

    def cancel(self) -> None:
        if self._moved:
            self.target.preview_keypoint(self.k, self._start)
        self._moved = False
