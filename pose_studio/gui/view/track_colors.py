"""One colour per track (the view's limbs and the Tracks panel's swatches agree)."""

from __future__ import annotations

#: Distinct, readable on video; none is the left/right orange or blue of the keypoints.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (145, 30, 180), (70, 240, 240),
    (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40),
    (255, 250, 200), (128, 0, 0), (170, 255, 195), (128, 128, 0),
)


def track_color(track_id: int) -> tuple[int, int, int]:
    return PALETTE[(int(track_id) - 1) % len(PALETTE)]


__all__ = ["PALETTE", "track_color"]
