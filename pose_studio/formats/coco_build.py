"""Building a COCO keypoints dict from a :class:`~pose_studio.formats.dataset.Dataset` (pure).

Layout written:

* ``categories``: the dataset's categories with the ids, supercategories and other fields the
  file they came from gave (else ids from 1), each with the skeleton's ``keypoints`` names and
  1-based ``skeleton``; one ``person``/skeleton-named category when the dataset has none.
  A ``wholebody133`` skeleton is written as COCO-WholeBody: 17 body points in ``keypoints``,
  the rest in ``foot_kpts``, ``face_kpts``, ``lefthand_kpts``, ``righthand_kpts``.
* ``images``: image sets' images under their own relative path and size (every image that has
  annotations, regions or an id from the file it came from); video frames as
  ``<video-dir>/<frame:06d>.<ext>`` (or the file name another tool gave that frame) with
  ``frame_index``, ``video`` and ``video_id``. Ids as the source file gave them, new ids after.
* ``annotations``: ``keypoints`` as floats ``x, y, v`` (``x = y = 0`` where ``v = 0`` unless the
  source file wrote coordinates there), ``num_keypoints``, ``bbox`` (the instance's own box, else
  the keypoint extent padded on each side by ``bbox_padding`` of its longer side, at least 2 px,
  clipped to the image), ``area`` (the source file's, else the box's), ``iscrowd``, ``track_id``,
  ``source`` (``user``/``predicted``), ``score``/``keypoint_scores`` for predictions,
  ``keypoint_provenance`` when any point is not its kind's default, and every field the source
  file carried (segmentation, attributes...). Regions (crowd, box-only, annotations without
  keypoints) are written back as the annotations they were.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.oks import DEFAULT_BBOX_PADDING, MIN_BBOX_PADDING_PX
from pose_studio.core.output import write_bytes_atomic
from pose_studio.core.skeleton import Skeleton
from pose_studio.formats.coco_layouts import WHOLEBODY_PARTS
from pose_studio.formats.dataset import Annotation, Dataset, Region

__all__ = ["FORMAT_TAG", "ImageOut", "build_coco_dict", "frame_file_name", "video_dir_names",
           "write_json_atomic"]

#: Written into ``info.format`` so an import can recognise its own files.
FORMAT_TAG = "pose-studio-coco/1"
#: Fields this writer computes; kept fields of the same name do not override them.
_COMPUTED = frozenset({"id", "image_id", "category_id", "keypoints", "num_keypoints", "bbox",
                       "score", "keypoint_scores", "keypoint_provenance", "source", "track_id",
                       "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts"})
_TRACK = re.compile(r"^(?:.*/)?track (-?\d+)$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ImageOut:
    """One image entry of the file and where its pixels come from."""

    image_id: Any
    source: str  # dataset source key
    index: int  # frame index in the source
    file_name: str
    width: int
    height: int
    entry: dict[str, Any]


def video_dir_names(videos: Sequence[tuple[int, str]]) -> dict[int, str]:
    """Folder name per video id: the file stem (sanitised), ``<stem>-v<id>`` where stems clash."""
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


class _Ids:
    """Ids as the source gave them when unique, new integer ids after the largest."""

    def __init__(self, wanted: Sequence[Any]) -> None:
        seen: set[Any] = set()
        self.keep: set[Any] = set()
        for w in wanted:
            if isinstance(w, (int, str)) and not isinstance(w, bool) and w not in seen:
                seen.add(w)
                self.keep.add(w)
            elif w in seen:
                self.keep.discard(w)
        ints = [w for w in self.keep if isinstance(w, int)]
        self.next = max(ints, default=0) + 1
        self.used: set[Any] = set()

    def take(self, wanted: Any) -> Any:
        if wanted in self.keep and wanted not in self.used:
            self.used.add(wanted)
            return wanted
        while self.next in self.keep:
            self.next += 1
        out = self.next
        self.next += 1
        return out


def _own(extra: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in extra.items() if not k.startswith("_")} if extra else {}


def build_coco_dict(
    dataset: Dataset,
    *,
    bbox_padding: float = DEFAULT_BBOX_PADDING,
    image_ext: str = "png",
    chunk: int = 4096,
) -> tuple[dict[str, Any], list[ImageOut]]:
    """The COCO dict for ``dataset`` and its image entries (to write their pixels)."""
    sk = dataset.skeleton
    wholebody = sk.name == "wholebody133" and sk.num_keypoints == 133
    images = _images(dataset, image_ext)
    where = {(im.source, im.index): im for im in images}
    categories, cat_id = _categories(dataset, sk, wholebody)
    track_ids, listed = _track_ids(dataset.tracks)
    ann_ids = _Ids([a.extra.get("id") for f in dataset.frames for a in f.annotations if a.extra]
                   + [r.extra.get("id") for f in dataset.frames for r in f.regions if r.extra])
    anns: list[dict[str, Any]] = []
    buf: list[tuple[ImageOut, Annotation]] = []
    for f in dataset.frames:
        im = where[(f.source, f.index)]
        for a in f.annotations:
            buf.append((im, a))
            if len(buf) >= chunk:
                anns += _annotations(buf, sk, wholebody, cat_id, track_ids, ann_ids, bbox_padding)
                buf = []
    anns += _annotations(buf, sk, wholebody, cat_id, track_ids, ann_ids, bbox_padding)
    for f in dataset.frames:
        im = where[(f.source, f.index)]
        anns += [_region(r, im, sk, wholebody, cat_id, ann_ids) for r in f.regions]
    kept = dataset.info.get("coco") or {}
    info = dict(kept.get("info") or {}) if isinstance(kept.get("info"), dict) else {}
    info.update({"format": FORMAT_TAG, "skeleton": sk.name, **(dataset.info.get("export") or {})})
    if listed:
        info["tracks"] = [{"id": i, "name": n} for n, i in listed]
    out: dict[str, Any] = {"info": info}
    if isinstance(kept.get("licenses"), list):
        out["licenses"] = kept["licenses"]
    out.update({"images": [im.entry for im in images], "annotations": anns,
                "categories": categories})
    return out, images


# --- images and categories --------------------------------------------------------------------------
def _images(dataset: Dataset, ext: str) -> list[ImageOut]:
    labeled = {(f.source, f.index): f for f in dataset.frames}
    dirs = video_dir_names([(i, s.path or s.key) for i, s in enumerate(dataset.sources)])
    wanted: list[tuple[Any, Any]] = []  # (source, index) -> wanted id, in output order
    for n, s in enumerate(dataset.sources):
        if s.kind == "images":
            for i, e in enumerate(s.images):
                if (s.key, i) in labeled or (e.extra and e.extra.get("id") is not None):
                    wanted.append(((n, i), e.extra.get("id") if e.extra else None))
        else:
            for f in sorted((f for f in dataset.frames if f.source == s.key),
                            key=lambda f: f.index):
                wanted.append(((n, f.index), f.extra.get("id") if f.extra else None))
    ids = _Ids([w for _, w in wanted])
    out = []
    for (n, i), want in wanted:
        s = dataset.sources[n]
        image_id = ids.take(want)
        if s.kind == "images":
            e = s.images[i]
            w, h = int(e.width or 0), int(e.height or 0)
            kept = _own(e.extra)
            # the name the dataset file gave it (relative to another folder), else its path
            kept_name = kept.get("file_name")
            name = kept_name if isinstance(kept_name, str) and kept_name else e.path
            entry = {"id": image_id, "file_name": name, "width": w, "height": h}
            entry.update({k: v for k, v in kept.items() if k not in entry})
            frame = labeled.get((s.key, i))
            if frame is not None:
                entry.update({k: v for k, v in _own(frame.extra).items() if k not in entry})
            out.append(ImageOut(image_id, s.key, i, name, w, h, entry))
            continue
        frame = labeled[(s.key, i)]
        fx = _own(frame.extra)
        name = fx.get("file_name")
        if not isinstance(name, str) or not name:
            name = frame_file_name(dirs[n], i, ext)
        w, h = int(s.width or 0), int(s.height or 0)
        entry = {"id": image_id, "file_name": name, "width": w, "height": h, "frame_index": i,
                 "video": str(s.extra.get("stored_path") or s.path or s.key),
                 "video_id": s.extra.get("video_id", n + 1)}
        entry.update({k: v for k, v in fx.items() if k not in entry})
        out.append(ImageOut(image_id, s.key, i, name, w, h, entry))
    return out


def _default_category_name(sk: Skeleton) -> str:
    return "person" if sk.name in ("coco17", "halpe26", "wholebody133", "halpe136") else (
        sk.name or "object")


def _categories(dataset: Dataset, sk: Skeleton,
                wholebody: bool) -> tuple[list[dict[str, Any]], dict[str | None, Any]]:
    names = list(dataset.categories)
    if any(a.category is None for f in dataset.frames for a in f.annotations) or any(
            r.category is None for f in dataset.frames for r in f.regions) or not names:
        default = _default_category_name(sk)
        if default not in names:
            names.append(default)
    else:
        default = names[0]
    kept = dataset.info.get("categories") or {}
    ids = _Ids([(kept.get(n) or {}).get("id") for n in names])
    kp_names = list(sk.keypoints[:17]) if wholebody else list(sk.keypoints)
    edges = [[a + 1, b + 1] for a, b in sk.edges if not wholebody or (a < 17 and b < 17)]
    out: list[dict[str, Any]] = []
    by_name: dict[str | None, Any] = {}
    for n in names:
        facts = dict(kept.get(n) or {})
        cid = ids.take(facts.get("id"))
        by_name[n] = cid
        cat = {"id": cid, "name": n,
               **({} if facts else {"supercategory": n}),  # a file's category: as it was
               "keypoints": kp_names,
               "skeleton": facts["skeleton"] if facts.get("keypoints") == kp_names
               and "skeleton" in facts else edges}
        cat.update({k: v for k, v in facts.items() if k not in cat})
        out.append(cat)
    by_name[None] = by_name[default]
    return out, by_name


def _track_ids(tracks: Sequence[str]) -> tuple[dict[str, int], list[tuple[str, int]]]:
    """Track name -> the id written: ``track N`` / ``<seq>/track N`` (as imported) -> N; other
    names get unused ids and are listed in ``info.tracks`` so an import restores them."""
    out: dict[str, int] = {}
    for t in tracks:
        m = _TRACK.match(t)
        if m:
            out[t] = int(m.group(1))
    used = set(out.values())
    nxt = max(used, default=0) + 1
    listed = []
    for t in tracks:
        if t not in out:
            while nxt in used:
                nxt += 1
            out[t] = nxt
            used.add(nxt)
            listed.append((t, nxt))
    return out, listed


# --- annotations -----------------------------------------------------------------------------------
def _annotations(
    items: Sequence[tuple[ImageOut, Annotation]],
    sk: Skeleton,
    wholebody: bool,
    cat_id: Mapping[str | None, Any],
    track_ids: Mapping[str, int],
    ann_ids: _Ids,
    bbox_padding: float,
) -> list[dict[str, Any]]:
    """Annotation dicts for a chunk, the numeric work vectorised over it."""
    n = len(items)
    if n == 0:
        return []
    k = sk.num_keypoints
    pts = np.stack([a.points for _, a in items])
    xy, vis = pts[..., :2], np.nan_to_num(pts[..., 2]).astype(np.uint8)
    labeled = (vis > 0) & np.isfinite(xy).all(axis=2)
    vis = np.where(labeled, vis, 0).astype(np.uint8)
    keep_v0 = np.array([bool(a.extra.get("_v0_xy")) if a.extra else False for _, a in items])
    write_xy = np.where(labeled[..., None] | (keep_v0[:, None, None] & np.isfinite(xy)),
                        xy, 0.0)
    flat = np.concatenate([write_xy, vis[..., None].astype(np.float64)], axis=2)
    for i, (_, a) in enumerate(items):  # COCO-WholeBody's confidences kept as the v value
        raw_v = a.extra.get("_v") if a.extra else None
        if isinstance(raw_v, dict):
            for key, val in raw_v.items():
                j = int(key)
                if 0 <= j < k and vis[i, j] == 2:
                    flat[i, j, 2] = float(val)

    boxes = _boxes(items, xy, labeled, bbox_padding)
    wh = boxes[:, 2:] - boxes[:, :2]
    bbox = np.column_stack([boxes[:, :2], wh])
    area = wh[:, 0] * wh[:, 1]
    pred = np.array([a.kind is InstanceKind.PREDICTED for _, a in items])
    kp_scores = np.zeros((n, k), dtype=np.float64)
    has_kps = np.zeros(n, dtype=bool)
    scores = np.full(n, np.nan)
    for i, (_, a) in enumerate(items):
        if pred[i]:
            if a.kp_scores is not None:
                kp_scores[i] = a.kp_scores
                has_kps[i] = True
            if a.score is not None:
                scores[i] = a.score
    kp_scores = np.nan_to_num(kp_scores, nan=0.0, posinf=1.0, neginf=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_kp = (kp_scores * labeled).sum(axis=1) / labeled.sum(axis=1)
    scores = np.where(np.isnan(scores) & has_kps, mean_kp, scores)
    scores = np.where(np.isfinite(scores), scores, 1.0)

    body = 17 if wholebody else k
    num_l = labeled[:, :body].sum(axis=1).tolist()
    flat_l = flat.reshape(n, 3 * k).tolist()
    bbox_l, area_l, score_l = bbox.tolist(), area.tolist(), scores.tolist()
    kp_scores_l = kp_scores.tolist() if has_kps.any() else []
    out: list[dict[str, Any]] = []
    for i, (im, a) in enumerate(items):
        kept = _own(a.extra)
        n_kp = num_l[i]
        file_n = kept.get("num_keypoints")
        if type(file_n) is int and (file_n > 0) == (n_kp > 0):
            n_kp = file_n  # the file's own count (some count only part of the points)
        box = list(a.bbox) if a.bbox is not None else bbox_l[i]
        ann: dict[str, Any] = {
            "id": ann_ids.take(kept.get("id")),
            "image_id": im.image_id,
            "category_id": cat_id[a.category],
            "keypoints": flat_l[i][:3 * body],
            "num_keypoints": n_kp,
            "bbox": box,
            "area": area_l[i] if a.bbox is None else box[2] * box[3],
            "iscrowd": 0,
        }
        if wholebody:
            start = 17
            for key, count in WHOLEBODY_PARTS[1:]:
                ann[key] = flat_l[i][3 * start:3 * (start + count)]
                start += count
        ann["track_id"] = track_ids.get(a.track) if a.track is not None else None
        ann["source"] = a.kind.value
        if pred[i]:
            ann["score"] = score_l[i]
            if has_kps[i]:
                ann["keypoint_scores"] = kp_scores_l[i]
        prov = a.provenance
        default = 0 if a.kind is InstanceKind.USER else 1
        if prov is not None and bool((prov != default).any()):
            ann["keypoint_provenance"] = prov.tolist()
        for key, v in kept.items():
            if key not in _COMPUTED:
                ann[key] = v
        if wholebody:
            _wholebody_flags(ann, kept)
        out.append(ann)
    return out


def _boxes(items: Sequence[tuple[ImageOut, Annotation]], xy: np.ndarray, labeled: np.ndarray,
           padding: float) -> np.ndarray:
    """``(n, 4)`` x0, y0, x1, y1: own boxes, else the padded keypoint extent; clipped."""
    n = len(items)
    big = np.where(labeled[..., None], xy, np.inf)
    small = np.where(labeled[..., None], xy, -np.inf)
    has = np.asarray(labeled.any(axis=1), dtype=bool)
    lo = np.where(has[:, None], big.min(axis=1), 0.0)
    hi = np.where(has[:, None], small.max(axis=1), 0.0)
    if padding > 0:
        pad = np.maximum((hi - lo).max(axis=1) * padding, MIN_BBOX_PADDING_PX)
        pad = np.where(has, pad, 0.0)
    else:
        pad = np.zeros(n)
    boxes = np.column_stack([lo[:, 0] - pad, lo[:, 1] - pad, hi[:, 0] + pad, hi[:, 1] + pad])
    own = np.zeros(n, dtype=bool)
    for i, (_, a) in enumerate(items):
        if a.bbox is not None:
            bx, by, bw, bh = a.bbox
            boxes[i] = (bx, by, bx + bw, by + bh)
            own[i] = True
    sizes = np.array([(im.width, im.height) for im, _ in items], dtype=np.float64)
    # Clip derived boxes to the image; own boxes as the file gave them (tools allow a box
    # that leaves the image, and COCO's official boxes sometimes do by a fraction).
    clip = ~own & (sizes[:, 0] > 0)
    for c, dim in ((0, 0), (2, 0), (1, 1), (3, 1)):
        boxes[clip, c] = np.clip(boxes[clip, c], 0.0, sizes[clip, dim])
    return boxes


def _wholebody_flags(ann: dict[str, Any], kept: Mapping[str, Any]) -> None:
    """COCO-WholeBody's ``*_valid`` flags and part boxes, for instances that did not bring them."""
    for part, key in (("foot", "foot_kpts"), ("face", "face_kpts"),
                      ("lefthand", "lefthand_kpts"), ("righthand", "righthand_kpts")):
        arr = np.asarray(ann[key], dtype=np.float64).reshape(-1, 3)
        lab = np.asarray(arr[:, 2] > 0, dtype=bool)
        ann.setdefault(f"{part}_valid", bool(lab.any()))
        if part != "foot" and f"{part}_box" not in kept:
            if lab.any():
                pts = arr[lab][:, :2]
                x0, y0 = pts.min(axis=0)
                x1, y1 = pts.max(axis=0)
                ann[f"{part}_box"] = [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]
            else:
                ann[f"{part}_box"] = [0.0, 0.0, 0.0, 0.0]


def _region(r: Region, im: ImageOut, sk: Skeleton, wholebody: bool,
            cat_id: Mapping[str | None, Any], ann_ids: _Ids) -> dict[str, Any]:
    kept = _own(r.extra)
    bbox = list(r.bbox) if r.bbox is not None else [0.0, 0.0, 0.0, 0.0]
    body = 17 if wholebody else sk.num_keypoints
    raw = kept.get("keypoints")
    # a region kept from a file of another keypoint count (the skeleton was edited since): none
    kps: list[Any] = raw if isinstance(raw, list) and len(raw) == 3 * body else [0] * (3 * body)
    ann: dict[str, Any] = {
        "id": ann_ids.take(kept.get("id")),
        "image_id": im.image_id,
        "category_id": cat_id[r.category],
        "keypoints": kps,
        "num_keypoints": sum(1 for v in kps[2::3] if type(v) in (int, float) and v > 0),
        "bbox": bbox,
        "area": bbox[2] * bbox[3],
        "iscrowd": 0,
    }
    if wholebody:
        for key, count in WHOLEBODY_PARTS[1:]:
            ann[key] = kept.get(key) if isinstance(kept.get(key), list) else [0] * (3 * count)
    for key, v in kept.items():
        if key not in ("id", "image_id", "category_id", "keypoints", "num_keypoints"):
            ann[key] = v
    return ann


def write_json_atomic(obj: Any, path: str | os.PathLike[str]) -> int:
    """Write ``obj`` as compact JSON, all or nothing (``core.output.write_bytes_atomic``: a
    crash leaves the old file or the new one, never half a file). Returns the byte count.

    Raises:
        ValueError: ``obj`` holds a NaN or infinity (nothing is written).
        OutputError: a write error (disk full...), worded for the user.
    """
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("utf-8")
    return write_bytes_atomic(path, text, fsync=True)
