"""Storing a model's keypoints in a project with another skeleton, by keypoint names.

BlazePose-33 predictions go into a COCO-17 project through the 17 names both share (the
``BLAZEPOSE33_TO_COCO17`` mapping), Halpe-26 or WholeBody-133 ones likewise. A project keypoint
the model does not have makes the mapping impossible: nothing would be stored for it.
"""

from __future__ import annotations

import numpy as np

from pose_studio.core.annotation import Instance
from pose_studio.core.skeleton import Skeleton
from pose_studio.inference.results import FrameResult


def keypoint_mapping(model: Skeleton, project: Skeleton) -> np.ndarray | None:
    """For each project keypoint, its index among the model's (same name); None when a
    project keypoint has no namesake in the model or the layouts are identical."""
    if model.keypoints == project.keypoints:
        return None
    index = {n: i for i, n in enumerate(model.keypoints)}
    if not all(n in index for n in project.keypoints):
        return None
    return np.asarray([index[n] for n in project.keypoints], dtype=np.int64)


def missing_keypoints(model: Skeleton, project: Skeleton) -> list[str]:
    have = set(model.keypoints)
    return [n for n in project.keypoints if n not in have]


def remap_instance(inst: Instance, idx: np.ndarray) -> Instance:
    kps = None if inst.kp_scores is None else inst.kp_scores[idx]
    prov = None if inst.provenance is None else inst.provenance[idx]
    return inst.replace(xy=inst.xy[idx], visibility=inst.visibility[idx], kp_scores=kps,
                        provenance=prov)


def remap_result(result: FrameResult, idx: np.ndarray) -> FrameResult:
    """The frame's predictions with only (and in the order of) the project's keypoints; the
    model's maps stay as they are."""
    return FrameResult(result.frame_idx, tuple(remap_instance(i, idx) for i in result.instances),
                       result.maps, result.frame_size)
