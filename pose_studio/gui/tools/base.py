"""A gesture is a small object: it takes a press, follows the moves, and on release says what
the user did as a plain value (an *intent*). It never edits anything itself: the frame view
emits the intent as a signal and the window turns it into an edit through ``app.editing``.

A new gesture is a new :class:`Tool` plus one line in :func:`pose_studio.gui.tools.pick_tool`
(which tool takes a press, by button, modifiers and mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QPointF


@dataclass(frozen=True)
class KeypointDropped:
    """A keypoint was dragged to ``(x, y)`` (image coordinates)."""

    instance_id: int
    keypoint: int
    x: float
    y: float


@dataclass(frozen=True)
class InstanceDropped:
    """A whole instance was dragged by ``(dx, dy)``."""

    instance_id: int
    dx: float
    dy: float


Intent = KeypointDropped | InstanceDropped


class Target(Protocol):
    """What a tool works on: one drawn instance (``InstanceItem``)."""

    instance_id: int

    def preview_keypoint(self, k: int, pos: QPointF) -> None: ...
    def preview_offset(self, d: QPointF) -> None: ...
    def keypoint_pos(self, k: int) -> QPointF: ...


class Tool(Protocol):
    """One gesture in progress (made by :func:`pick_tool` on a press)."""

    def move(self, scene_pos: QPointF) -> None: ...
    def release(self, scene_pos: QPointF) -> Intent | None: ...
    def cancel(self) -> None: ...


__all__ = ["InstanceDropped", "Intent", "KeypointDropped", "Target", "Tool"]
