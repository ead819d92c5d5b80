"""Import COCO dialog (see :mod:`pose_studio.gui.dialogs.coco_dialogs`)."""

from __future__ import annotations

from pose_studio.gui.dialogs.coco_dialogs import ImportCocoDialog

__all__ = ["ImportCocoDialog"]
