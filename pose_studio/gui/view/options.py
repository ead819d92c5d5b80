"""What the frame view draws (the View menu toggles and the review threshold)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class OverlayOptions:
    """What to draw.

    Attributes:
        low_score: Predicted keypoints scoring under this are ringed in red (the Confidence
            panel's "Low below"); None draws no rings.
        color_by_track: Limbs of a tracked instance take its track's colour (the keypoints
            keep their left/right colours).
        point_radius: A label's keypoint radius in screen pixels (predictions: 0.7 of it).
        line_width: A label's limb width in screen pixels (predictions: 0.75 of it).
    """

    skeleton: bool = True
    keypoints: bool = True
    labels: bool = False
    predictions: bool = True
    heatmap: bool = False
    low_score: float | None = None
    color_by_track: bool = True
    point_radius: float = 5.0
    line_width: float = 2.0


__all__ = ["OverlayOptions"]
