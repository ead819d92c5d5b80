"""Storing a model's keypoints in a project with another skeleton, by keypoint names.

BlazePose-33 predictions go into a COCO-17 project through the 17 names both share (the
``BLAZEPOSE33_TO_COCO17`` mapping), Halpe-26 or WholeBody-133 ones likewise. A project keypoint
the model does not have makes the mapping impossible: nothing would be stored for it.

:func:`names_mapping` / :func:`fill_instance` are the lenient form the window uses for a project
whose skeleton the user edited: a project keypoint the model lacks is stored unlabeled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pose_studio.core.annotation import Instance, Provenance
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


def names_mapping(model_names: Sequence[str], project: Skeleton) -> np.ndarray | None:
    """For each project keypoint, the index of the model keypoint with its name, or -1 when
    the model has none (the point is stored unlabeled); None when the names are the same.

    A project whose skeleton was edited (a keypoint added, one removed or renamed) still takes a
    model's output by name: a point is never stored under another keypoint's name because the
    counts happen to match."""
    names = tuple(str(n) for n in model_names)
    if names == project.keypoints:
        return None
    index = {n: i for i, n in enumerate(names)}
    return np.asarray([index.get(n, -1) for n in project.keypoints], dtype=np.int64)


def fill_instance(inst: Instance, idx: np.ndarray) -> Instance:
    """``inst`` in the project's layout by ``idx`` (:func:`names_mapping`); -1 entries are
    unlabeled (no position, visibility 0, score 0)."""
    have = idx >= 0
    src = np.where(have, idx, 0)
    xy = np.where(have[:, None], inst.xy[src], 0.0)
    vis = np.where(have, inst.visibility[src], 0).astype(np.uint8)
    kps = None if inst.kp_scores is None else np.where(have, inst.kp_scores[src], 0.0)
    code = int(Provenance.PREDICTED if inst.is_prediction else Provenance.USER)
    prov = None if inst.provenance is None else np.where(have, inst.provenance[src], code)
    return inst.replace(xy=xy, visibility=vis, kp_scores=kps, provenance=prov)


def fill_result(result: FrameResult, idx: np.ndarray) -> FrameResult:
    """:func:`fill_instance` for every instance of a frame's result (the maps stay)."""
    return FrameResult(result.frame_idx, tuple(fill_instance(i, idx) for i in result.instances),
                       result.maps, result.frame_size)
