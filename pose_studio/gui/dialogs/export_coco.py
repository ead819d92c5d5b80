"""Export COCO dialog (see :mod:`pose_studio.gui.dialogs.coco_dialogs`)."""

from __future__ import annotations

from pose_studio.gui.dialogs.coco_dialogs import ExportCocoDialog

__all__ = ["ExportCocoDialog"]
