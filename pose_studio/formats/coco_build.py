"""Building a COCO keypoints dict from core values (no project, no video: pure and fast).

Layout written by :func:`pose_studio.formats.coco.export_coco`:

* ``categories``: one entry, the project skeleton (``keypoints`` names, 1-based ``skeleton``).
* ``images``: one per exported frame, ``id`` from 1, ``file_name`` =
  ``<video-dir>/<frame:06d>.<ext>`` (``video-dir`` is the video's stem, made unique when two
  videos share one), ``width``, ``height``, plus ``frame_index``, ``video`` (the path as the
  project stores it) and ``video_id``.
* ``annotations``: ``id`` from 1, ``keypoints`` as floats ``x, y, v`` with ``v`` in {0, 1, 2} and
  ``x = y = 0`` where ``v = 0``, ``num_keypoints`` (labeled count), ``bbox``, ``area`` (= bbox
  w·h, the OKS scale for pose-only data), ``iscrowd`` 0, ``track_id`` (null when untracked),
  ``source`` (``user``/``predicted``), and for predictions ``score`` and ``keypoint_scores``.
  ``keypoint_provenance`` (per-keypoint :class:`Provenance` codes) is written when any keypoint
  differs from its kind's default (e.g. interpolated or accepted-from-prediction points).

The ``bbox`` is the instance's own box when it has one, else the keypoint extent padded on
each side by ``bbox_padding`` (default 10 %) of its longer side, at least 2 px; both are
clipped to the image (see :func:`pose_studio.core.oks.keypoint_extent_bbox`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind, Provenance
from pose_studio.core.oks import DEFAULT_BBOX_PADDING, MIN_BBOX_PADDING_PX
from pose_studio.core.output import commit_temp, remove_quietly, temp_path_for
from pose_studio.core.skeleton import Skeleton

#: Written into ``info.format`` so an import can recognise its own files.
FORMAT_TAG = "pose-studio-coco/1"
CATEGORY_ID = 1


@dataclass(frozen=True)
class ExportImage:
    """One exported frame (a COCO ``images`` entry)."""

    image_id: int
    video_id: int
    frame_idx: int
    file_name: str
    width: int
    height: int
    video: str  # the video path as the project stores it

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.image_id,
            "file_name": self.file_name,
            "width": self.width,
            "height": self.height,
            "frame_index": self.frame_idx,
            "video": self.video,
            "video_id": self.video_id,
        }


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def video_dir_names(videos: Sequence[tuple[int, str]]) -> dict[int, str]:
    """Folder name per video id: the file stem (sanitised), ``<stem>-v<id>`` where stems clash.

    Args:
        videos: ``(video_id, path)`` pairs; a folder of images uses the folder name.
    """
    stems: dict[int, str] = {}
    for vid, path in videos:
        p = Path(str(path).rstrip("/\\"))
        stem = p.stem if p.suffix else p.name
        stems[vid] = _UNSAFE.sub("_", stem).strip("._") or "video"
    counts: dict[str, int] = {}
    for s in stems.values():
        counts[s.lower()] = counts.get(s.lower(), 0) + 1
    return {vid: (s if counts[s.lower()] == 1 else f"{s}-v{vid}") for vid, s in stems.items()}


def frame_file_name(video_dir: str, frame_idx: int, ext: str) -> str:
    """``<video_dir>/<frame:06d>.<ext>`` (forward slashes on every platform)."""
    return f"{video_dir}/{frame_idx:06d}.{ext}"


def coco_category(skeleton: Skeleton) -> dict[str, Any]:
    cat = skeleton.coco_category(CATEGORY_ID)
    cat["name"] = "person" if skeleton.name in ("coco17", "halpe26", "wholebody133") else (
        skeleton.name or "object"
    )
    cat["supercategory"] = cat["name"]
    return cat


def _default_provenance(kind: InstanceKind) -> int:
    return int(Provenance.USER if kind is InstanceKind.USER else Provenance.PREDICTED)


def annotation_dicts(
    items: Sequence[tuple[int, Instance]],
    image_sizes: Mapping[int, tuple[int, int]],
    *,
    first_id: int,
    bbox_padding: float = DEFAULT_BBOX_PADDING,
) -> list[dict[str, Any]]:
    """COCO annotations for ``(image_id, instance)`` pairs, numbered from ``first_id``.

    The numeric work is vectorised over the chunk (instances must share one keypoint count).
    """
    n = len(items)
    if n == 0:
        return []
    k = items[0][1].num_keypoints
    xy = np.empty((n, k, 2), dtype=np.float64)
    vis = np.empty((n, k), dtype=np.uint8)
    for i, (_, inst) in enumerate(items):
        xy[i] = inst.xy
        vis[i] = inst.visibility
    # A non-finite coordinate cannot be written (JSON has no NaN): such a point is unlabeled.
    labeled = (vis > 0) & np.isfinite(xy).all(axis=2)
    vis = np.where(labeled, vis, 0).astype(np.uint8)
    flat = np.zeros((n, k, 3), dtype=np.float64)
    flat[..., :2] = np.where(labeled[..., None], xy, 0.0)
    flat[..., 2] = vis
    num_kp = labeled.sum(axis=1)

    # Padded keypoint extent (only used where an instance has no box of its own).
    big = np.where(labeled[..., None], xy, np.inf)
    small = np.where(labeled[..., None], xy, -np.inf)
    lo = big.min(axis=1)
    hi = small.max(axis=1)
    has_kp = num_kp > 0
    lo = np.where(has_kp[:, None], lo, 0.0)
    hi = np.where(has_kp[:, None], hi, 0.0)
    if bbox_padding > 0:
        pad = np.maximum((hi - lo).max(axis=1) * bbox_padding, MIN_BBOX_PADDING_PX)
        pad = np.where(has_kp, pad, 0.0)
    else:
        pad = np.zeros(n)
    boxes = np.column_stack([lo[:, 0] - pad, lo[:, 1] - pad, hi[:, 0] + pad, hi[:, 1] + pad])
    for i, (_, inst) in enumerate(items):
        if inst.bbox is not None:
            bx, by, bw, bh = inst.bbox
            boxes[i] = (bx, by, bx + bw, by + bh)
    sizes = np.array([image_sizes[img] for img, _ in items], dtype=np.float64)
    boxes[:, 0] = np.clip(boxes[:, 0], 0.0, sizes[:, 0])
    boxes[:, 2] = np.clip(boxes[:, 2], 0.0, sizes[:, 0])
    boxes[:, 1] = np.clip(boxes[:, 1], 0.0, sizes[:, 1])
    boxes[:, 3] = np.clip(boxes[:, 3], 0.0, sizes[:, 1])
    wh = boxes[:, 2:] - boxes[:, :2]
    bbox = np.column_stack([boxes[:, :2], wh])
    area = wh[:, 0] * wh[:, 1]

    # Prediction scores, vectorised: instance score, else mean labeled keypoint score, else 1.
    pred = np.array([inst.kind is InstanceKind.PREDICTED for _, inst in items])
    kp_scores = np.zeros((n, k), dtype=np.float64)
    has_kps = np.zeros(n, dtype=bool)
    scores = np.full(n, np.nan)
    for i, (_, inst) in enumerate(items):
        if pred[i]:
            if inst.kp_scores is not None:
                kp_scores[i] = inst.kp_scores
                has_kps[i] = True
            if inst.score is not None:
                scores[i] = inst.score
    kp_scores = np.nan_to_num(kp_scores, nan=0.0, posinf=1.0, neginf=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_kp = (kp_scores * labeled).sum(axis=1) / labeled.sum(axis=1)
    scores = np.where(np.isnan(scores) & has_kps, mean_kp, scores)
    scores = np.where(np.isfinite(scores), scores, 1.0)

    kps_l = flat.reshape(n, 3 * k).tolist()
    bbox_l = bbox.tolist()
    area_l = area.tolist()
    num_l = num_kp.tolist()
    score_l = scores.tolist()
    kp_scores_l = kp_scores.tolist() if has_kps.any() else []
    out: list[dict[str, Any]] = []
    for i, (image_id, inst) in enumerate(items):
        ann: dict[str, Any] = {
            "id": first_id + i,
            "image_id": image_id,
            "category_id": CATEGORY_ID,
            "keypoints": kps_l[i],
            "num_keypoints": num_l[i],
            "bbox": bbox_l[i],
            "area": area_l[i],
            "iscrowd": 0,
            "track_id": inst.track_id,
            "source": inst.kind.value,
        }
        if pred[i]:
            ann["score"] = score_l[i]
            if has_kps[i]:
                ann["keypoint_scores"] = kp_scores_l[i]
        prov = inst.provenance
        if prov is not None and bool((prov != _default_provenance(inst.kind)).any()):
            ann["keypoint_provenance"] = prov.tolist()
        out.append(ann)
    return out


def build_coco_dict(
    skeleton: Skeleton,
    images: Sequence[ExportImage],
    annotations: Iterable[tuple[int, Instance]],
    *,
    bbox_padding: float = DEFAULT_BBOX_PADDING,
    info: Mapping[str, Any] | None = None,
    chunk: int = 4096,
) -> dict[str, Any]:
    """The whole COCO dict for ``images`` and ``(image_id, instance)`` pairs."""
    sizes = {im.image_id: (im.width, im.height) for im in images}
    anns: list[dict[str, Any]] = []
    buf: list[tuple[int, Instance]] = []
    for item in annotations:
        buf.append(item)
        if len(buf) >= chunk:
            anns += annotation_dicts(buf, sizes, first_id=len(anns) + 1, bbox_padding=bbox_padding)
            buf = []
    anns += annotation_dicts(buf, sizes, first_id=len(anns) + 1, bbox_padding=bbox_padding)
    return {
        "info": {"format": FORMAT_TAG, "skeleton": skeleton.name, **(info or {})},
        "images": [im.to_dict() for im in images],
        "annotations": anns,
        "categories": [coco_category(skeleton)],
    }


def write_json_atomic(obj: Any, path: str | os.PathLike[str]) -> int:
    """Write ``obj`` as compact JSON via a temp file in the same folder and ``os.replace``.

    A crash leaves either the old file or the new one, never half a file. Returns the byte count.
    """
    target = Path(path)
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("utf-8")
    tmp = temp_path_for(target)  # the user's normal permissions (mkstemp's 0600 would stick)
    try:
        with open(tmp, "wb") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        remove_quietly([tmp])
        raise
    commit_temp(tmp, target)
    return len(text)
