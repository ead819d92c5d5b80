"""Brightness, contrast and gamma for dark footage: a 256-entry table applied to the picture
shown, never to the session's pixels (the model, fingerprints and exports see the frame as
decoded).

One table for all three (gamma first, then contrast about mid-grey, then brightness), applied
with ``cv2.LUT`` (about 1 ms for a 1080p frame on one core; a numpy lookup takes ~10x that).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Adjust", "apply", "table"]


@dataclass(frozen=True)
class Adjust:
    """``brightness`` -100..100 (added levels), ``contrast`` 0.2..3 (slope about mid-grey),
    ``gamma`` 0.2..3 (above 1 lifts the shadows)."""

    brightness: float = 0.0
    contrast: float = 1.0
    gamma: float = 1.0

    @property
    def identity(self) -> bool:
        return self.brightness == 0.0 and self.contrast == 1.0 and self.gamma == 1.0


def table(a: Adjust) -> np.ndarray | None:
    """The uint8 lookup table for ``a`` (None: the picture is shown as it is)."""
    if a.identity:
        return None
    x = np.arange(256, dtype=np.float64) / 255.0
    y = np.power(x, 1.0 / max(a.gamma, 1e-3)) * 255.0
    y = (y - 127.5) * a.contrast + 127.5 + a.brightness
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def apply(frame: np.ndarray, lut: np.ndarray | None) -> np.ndarray:
    """``frame`` through ``lut`` (a new array; ``frame`` is left as it is)."""
    if lut is None:
        return frame
    out: np.ndarray = cv2.LUT(np.ascontiguousarray(frame), lut)
    return out
