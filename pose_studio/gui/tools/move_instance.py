"""Drag a whole instance (Shift-drag, Alt-drag, or any drag in "move instance" mode)."""

from __future__ import annotations

from PySide6.QtCore import QPointF

from .base import InstanceDropped, Target


class MoveInstance:
    """The instance follows the mouse; :class:`InstanceDropped` on release if it moved."""

    def __init__(self, target: Target, scene_pos: QPointF) -> None:
        self.target = target
        self._start = QPointF(scene_pos)

    def move(self, scene_pos: QPointF) -> None:
        self.target.preview_offset(scene_pos - self._start)

    def release(self, scene_pos: QPointF) -> InstanceDropped | None:
        d = scene_pos - self._start
        if d.manhattanLength() <= 1e-9:
            self.target.preview_offset(QPointF(0, 0))
            return None
        return InstanceDropped(self.target.instance_id, d.x(), d.y())

    def cancel(self) -> None:
        self.target.preview_offset(QPointF(0, 0))
