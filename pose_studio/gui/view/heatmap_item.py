"""Heatmap overlay: a colour-mapped image placed in image space through the crop's affine."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPixmapItem

# Anchor colours of an "inferno"-like map (value 0..1 -> RGB).
_ANCHORS = np.array(
    [
        [0.00, 0, 0, 4],
        [0.25, 87, 16, 110],
        [0.50, 188, 55, 84],
        [0.75, 249, 142, 9],
        [1.00, 252, 255, 164],
    ],
    dtype=np.float64,
)


def colormap_lut(n: int = 256) -> np.ndarray:
    """``(n, 3)`` uint8 RGB lookup table."""
    x = np.linspace(0.0, 1.0, n)
    out = np.empty((n, 3), np.uint8)
    for c in range(3):
        out[:, c] = np.interp(x, _ANCHORS[:, 0], _ANCHORS[:, c + 1]).round().astype(np.uint8)
    return out


_LUT = colormap_lut()


def colorize(heatmap: np.ndarray, opacity: float) -> np.ndarray:
    """``(h, w)`` float heatmap -> ``(h, w, 4)`` RGBA uint8; alpha follows the value."""
    hm = np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0)
    top = float(hm.max()) if hm.size else 0.0
    norm = np.clip(hm / top, 0.0, 1.0) if top > 0 else np.zeros_like(hm)
    idx = (norm * 255).astype(np.uint8)
    rgba = np.empty((*hm.shape, 4), np.uint8)
    rgba[..., :3] = _LUT[idx]
    # Transparent below ~12% of the peak so the crop's faint floor does not tint a whole box;
    # then rising steadily so the blob's shoulders stay visible.
    a = np.clip((norm - 0.12) / 0.88, 0.0, 1.0) ** 0.75
    rgba[..., 3] = (a * 255 * float(np.clip(opacity, 0.0, 1.0))).astype(np.uint8)
    return np.ascontiguousarray(rgba)


class HeatmapItem(QGraphicsPixmapItem):
    """Shows one heatmap (or the max over keypoints) with a colour map and opacity."""

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.setZValue(1)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.opacity_value = 0.6

    def clear(self) -> None:
        self.setPixmap(QPixmap())

    def set_heatmap(self, heatmap: np.ndarray, to_image: np.ndarray | None) -> None:
        """Show ``heatmap`` ``(h, w)``; ``to_image`` is the 2x3 affine heatmap px -> image px.

        Heatmap pixel centres are at integer coordinates, like image pixels; the pixmap's top-left
        corner is at (-0.5, -0.5) in heatmap space.
        """
        rgba = colorize(heatmap, self.opacity_value)
        h, w = rgba.shape[:2]
        img = QImage(rgba.data, w, h, int(rgba.strides[0]), QImage.Format.Format_RGBA8888)
        self.setPixmap(QPixmap.fromImage(img))  # fromImage copies: rgba may go
        m = np.eye(3)
        if to_image is not None:
            m[:2] = np.asarray(to_image, dtype=np.float64).reshape(2, 3)
        shift = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]], dtype=np.float64)
        t = m @ shift
        self.setTransform(
            QTransform(t[0, 0], t[1, 0], 0.0, t[0, 1], t[1, 1], 0.0, t[0, 2], t[1, 2], 1.0)
        )
