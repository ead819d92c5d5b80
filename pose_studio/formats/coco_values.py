"""One COCO annotation into dataset values: points on the skeleton, regions, tracks (pure)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from pose_studio.core.oks import MIN_BBOX_PADDING_PX
from pose_studio.formats.coco_fields import (
    PART_KEYS,
    IdKey,
    Problems,
    RawAnnotation,
    RawImage,
    id_key,
)
from pose_studio.formats.coco_layouts import KeypointMap, Layout
from pose_studio.formats.dataset import JsonExtra, Region

__all__ = [
    "annotation_points",
    "image_extra",
    "is_derived_box",
    "layout_points",
    "listed_track_names",
    "provenance",
    "region",
    "track_name",
    "v0_coords",
    "with_raw",
]


def layout_points(a: RawAnnotation, layout: Layout, probs: Problems) -> np.ndarray | None:
    """The annotation's points as ``(n, 3)`` rows in the layout's order (WholeBody parts joined;
    ``x, y`` pairs get ``v = 2``, or 0 where both are 0)."""
    n = layout.num_points
    if layout.wholebody:
        pieces = []
        for key, count in (("keypoints", 17), *((p, c) for p, c in zip(
                PART_KEYS, (6, 68, 21, 21)))):
            arr = a.keypoints if key == "keypoints" else (a.parts or {}).get(key)
            if arr is None:
                pieces.append(np.zeros((count, 3)))
            elif arr.size != 3 * count:
                probs.add(f"{a.where}: '{key}' has {arr.size} values, expected {3 * count}")
                return None
            else:
                pieces.append(arr.reshape(count, 3))
        return np.concatenate(pieces)
    kps = a.keypoints
    if kps is None:
        return np.zeros((n, 3))
    if kps.size == 3 * n:
        return kps.reshape(n, 3)
    if kps.size == 2 * n:  # X-AnyLabeling without visibility
        xy = kps.reshape(n, 2)
        unl = ((xy[:, 0] == 0) & (xy[:, 1] == 0)) | np.isnan(xy).any(axis=1)
        return np.column_stack([xy, np.where(unl, 0.0, 2.0)])
    probs.add(f"{a.where}: 'keypoints' has {kps.size} values, expected {3 * n} "
              f"({n} keypoints x 3)")
    return None


def annotation_points(
    a: RawAnnotation, flat: np.ndarray, kmap: KeypointMap, k: int, probs: Problems
) -> tuple[np.ndarray, np.ndarray | None, int, int, int, dict[int, float]] | None:
    """``(points (K, 3) on the skeleton, kp scores, NaN points, v=-1 points, lost points,
    {skeleton index: v} of points whose v was a fraction)``."""
    arr = flat
    n_file = arr.shape[0]
    v = arr[:, 2]
    n_nan = n_neg = 0
    valid = (v == 0) | (v == 1) | (v == 2)
    all_valid = bool(valid.all())
    if not (all_valid and np.isfinite(arr).all()):  # the common case skips all of this
        if np.isnan(v).any():
            probs.add(f"{a.where}: a keypoint visibility is NaN")
            return None
        nan_pt = np.isnan(arr[:, :2]).any(axis=1)
        n_nan = int((nan_pt & (v > 0)).sum())
        neg = v == -1  # DeepLabCut's converter: -1 for points it could not place
        n_neg = int(neg.sum())
        v = np.where(nan_pt | neg, 0.0, v)
        valid = (v == 0) | (v == 1) | (v == 2)
        all_valid = bool(valid.all())
    kp_file = a.kp_scores
    if kp_file is not None and kp_file.size != n_file:
        probs.add(f"{a.where}: 'keypoint_scores' must be {n_file} numbers")
        return None
    raw_v: dict[int, float] = {}
    if not all_valid:
        if a.predicted and ((v >= 0) & (v <= 1)).all():  # results-style confidences in v
            kp_file = v.copy() if kp_file is None else kp_file
            v = np.full(n_file, 2.0)
        elif ((v > 0) & (v <= 2) | valid).all():
            # COCO-WholeBody's face and hand points carry an annotation confidence in v:
            # labeled; the value itself is kept for the export.
            for i in np.flatnonzero(~valid):
                if kmap.target[i] >= 0:
                    raw_v[int(kmap.target[i])] = float(v[i])
            v = np.where(valid, v, 2.0)
        else:
            probs.add(f"{a.where}: keypoint visibility must be 0, 1 or 2, found "
                      f"{v[~valid][0]:g}")
            return None
    if a.provenance is not None and a.provenance.size != n_file:
        probs.add(f"{a.where}: 'keypoint_provenance' must be {n_file} codes")
        return None
    keep = kmap.kept
    lost = int(((v > 0) & ~keep).sum())
    points = np.full((k, 3), np.nan)
    points[:, 2] = 0.0
    tgt = kmap.target[keep]
    points[tgt, :2] = arr[keep, :2]
    points[tgt, 2] = v[keep]
    kp_scores = None
    if a.predicted:
        kp_scores = np.zeros(k, dtype=np.float32)
        if kp_file is not None:
            kp_scores[tgt] = kp_file[keep]
        else:
            kp_scores[points[:, 2] > 0] = 1.0 if a.score is None else a.score
    return points, kp_scores, n_nan, n_neg, lost, raw_v


def provenance(a: RawAnnotation, kmap: KeypointMap, k: int) -> np.ndarray | None:
    if a.provenance is None:
        return None
    default = 1 if a.predicted else 0
    out = np.full(k, default, dtype=np.uint8)
    keep = kmap.kept
    out[kmap.target[keep]] = a.provenance[keep]
    return out


def v0_coords(flat: np.ndarray, layout: Layout) -> bool:
    """The file wrote coordinates for unlabeled points (CVAT does): keep them on export."""
    unl = flat[:, 2] == 0
    xy = flat[unl, :2]
    return bool(unl.any() and np.isfinite(xy).all() and (xy != 0).any())


def region(a: RawAnnotation, category: str) -> Region:
    """A region keeps the annotation's point arrays as written when any value is set (crowd
    annotations may carry keypoints), so the export gives them back."""
    extra = a.extra
    arrays = [("keypoints", a.keypoints), *((a.parts or {}).items())]
    for key, arr in arrays:
        if arr is not None and np.nan_to_num(arr).any():
            extra = with_raw(extra, f'"{key}":[{",".join(_num(x) for x in arr)}]')
    if a.crowd and (not extra or '"iscrowd"' not in extra):
        extra = with_raw(extra, '"iscrowd":1')
    return Region(a.bbox, category, JsonExtra(extra) if extra else {})


def with_raw(extra: str | None, item: str) -> str:
    return "{" + item + "}" if not extra else extra[:-1] + "," + item + "}"


def _num(x: float) -> str:
    if math.isnan(x):
        return "null"
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def is_derived_box(points: np.ndarray, bbox: tuple[float, float, float, float],
                    im: RawImage, padding: float) -> bool:
    """A box that is just Pose Studio's export rule applied to the keypoints (dropped on import,
    so "no box" stays "follow the keypoints")."""
    # The rule of core.oks.keypoint_extent_bbox, on lists: much faster for 17 points.
    rows = points[points[:, 2] > 0, :2].tolist()
    if not rows:
        return False
    xs, ys = [r[0] for r in rows], [r[1] for r in rows]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    pad = max(padding * max(x1 - x0, y1 - y0), MIN_BBOX_PADDING_PX) if padding > 0 else 0.0
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    if im.width and im.height:
        w, h = float(im.width), float(im.height)
        x0, x1 = min(max(x0, 0.0), w), min(max(x1, 0.0), w)
        y0, y1 = min(max(y0, 0.0), h), min(max(y1, 0.0), h)
    derived = (x0, y0, x1 - x0, y1 - y0)
    return max(abs(x - y) for x, y in zip(derived, bbox)) <= 1e-6


def listed_track_names(info: Any) -> dict[IdKey, str]:
    """``info.tracks`` of Pose Studio's exports: ``[{"id": 3, "name": "mouse A"}, ...]``."""
    out: dict[IdKey, str] = {}
    listed = info.get("tracks") if isinstance(info, dict) else None
    if isinstance(listed, list):
        for t in listed:
            if not isinstance(t, dict):
                continue
            tid = id_key(t.get("id"))  # None for lists, dicts...: never used as a key
            if tid is not None and isinstance(t.get("name"), str):
                out[tid] = t["name"]
    return out


_TRACK_NAME = re.compile(r"^track (-?\d+)$")


def track_name(track: IdKey, im: RawImage, listed: Mapping[IdKey, str]) -> str:
    """A track's name in the project: ``info.tracks``' name, a string id as it is, an int id
    as ``track N``; PoseTrack numbers tracks per sequence, so its ids are ``<vid_id>/track N``."""
    if track in listed:
        return listed[track]
    if isinstance(track, str):
        return track
    vid = None
    if im.extra and '"vid_id"' in im.extra:
        vid = JsonExtra(im.extra).get("vid_id")
    return f"{vid}/track {track}" if isinstance(vid, (str, int)) else f"track {track}"


def image_extra(im: RawImage) -> Mapping[str, Any]:
    """The image's kept fields; Pose Studio's own frame hints under ``_match``."""
    if im.frame_index is None and im.video is None:
        return JsonExtra(im.extra) if im.extra else {}
    extra = dict(JsonExtra(im.extra)) if im.extra else {}
    extra["_match"] = {"frame_index": im.frame_index, "video": im.video}
    return extra
