"""The model families, in the order files are matched against them.

Order matters where layouts overlap: names first (mmdeploy ``dets``), then shapes that are
specific (MoveNet's ``[1, 1, K, 3]``, raw detector heads) before the general ones (SimCC's two
rank-3 outputs, any rank-4 heatmap), so that e.g. an RTMDet cut before its decoding is never
read as a 4-keypoint heatmap model.
"""

from __future__ import annotations

from pose_studio.inference.families.base import FamilyAdapter, FamilySpec, Preprocessing, Probe
from pose_studio.inference.families.blazepose import BlazeposeAdapter
from pose_studio.inference.families.heatmap import HeatmapAdapter
from pose_studio.inference.families.mmdeploy import End2endDetectorAdapter, RtmoAdapter
from pose_studio.inference.families.movenet import MovenetAdapter
from pose_studio.inference.families.raw_heads import NanodetHeadsAdapter, RtmdetHeadsAdapter
from pose_studio.inference.families.simcc import SimccAdapter
from pose_studio.inference.families.yolo import (
    YoloDetectorAdapter,
    YoloPoseAdapter,
    YoloxAdapter,
    match_yolo,
)

__all__ = ["ADAPTERS", "MATCHERS", "FamilyAdapter", "FamilySpec", "Preprocessing", "Probe",
           "adapter_for", "detect_family"]

#: family name -> adapter class
ADAPTERS: dict[str, type[FamilyAdapter]] = {a.family: a for a in (
    End2endDetectorAdapter, RtmoAdapter, BlazeposeAdapter, MovenetAdapter, YoloPoseAdapter,
    YoloDetectorAdapter, YoloxAdapter, RtmdetHeadsAdapter, NanodetHeadsAdapter, SimccAdapter,
    HeatmapAdapter)}

#: matchers in order (one for the three YOLO-layout families)
MATCHERS = (
    End2endDetectorAdapter.match, RtmoAdapter.match, BlazeposeAdapter.match,
    MovenetAdapter.match, match_yolo, RtmdetHeadsAdapter.match, NanodetHeadsAdapter.match,
    SimccAdapter.match, HeatmapAdapter.match,
)


def adapter_for(family: str) -> type[FamilyAdapter]:
    return ADAPTERS[family]


def detect_family(probe: Probe) -> FamilySpec:
    """The family of a probed model (only the stated family's layout when a card names one).

    Raises:
        ValueError: the outputs fit no family (or not the stated one); says why.
    """
    for match in MATCHERS:
        spec = match(probe)
        if spec is not None:
            return spec
    tried = list(dict.fromkeys(probe.tried))
    why = "; ".join(tried) if tried else \
        "no output has the shape of a pose or detector family"
    if probe.family:
        raise ValueError(f"the outputs do not fit the family {probe.family!r} stated by the "
                         f"card: {why}")
    raise ValueError(why)
