"""Synthetic people: articulated 3D figures rendered with exact COCO-17 ground truth.

numpy + OpenCV only. Main entry points: :func:`render_clip` (videos), :func:`render_scene`
(random still scenes, the training distribution), :func:`write_clip`.
"""

from __future__ import annotations

from pose_studio.synth.clip import (
    SynthError,
    gt_to_json,
    render_clip,
    render_scene,
    write_clip,
    write_gt,
)
from pose_studio.synth.motion import MOTIONS
from pose_studio.synth.render import STYLES, FrameGT

__all__ = [
    "MOTIONS",
    "STYLES",
    "FrameGT",
    "SynthError",
    "gt_to_json",
    "render_clip",
    "render_scene",
    "write_clip",
    "write_gt",
]
