"""Gestures on the frame view as small tool objects (see :mod:`.base`)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt

from .base import Target, Tool
from .drag_keypoint import DragKeypoint
from .move_instance import MoveInstance


def pick_tool(target: Target, k: int, scene_pos: QPointF, button: Qt.MouseButton,
              modifiers: Qt.KeyboardModifier, move_mode: bool) -> Tool | None:
    """The tool that takes a press on keypoint ``k`` of ``target`` (None: not a drag).

    Shift-drag (or Alt-drag, or any drag in "move instance" mode) moves the whole instance:
    most Linux window managers take Alt-drag for themselves, Shift they leave alone.
    """
    if button != Qt.MouseButton.LeftButton:
        return None
    whole = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.AltModifier
    if move_mode or modifiers & whole:
        return MoveInstance(target, scene_pos)
    return DragKeypoint(target, k, scene_pos)


__all__ = ["DragKeypoint", "MoveInstance", "pick_tool"]
