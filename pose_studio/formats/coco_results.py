"""COCO results lists as a registered format: predictions onto images already in the project.

A results list is what evaluators take and models write: ``[{"image_id", "category_id",
"keypoints", "score"}, ...]`` (keypoint results: the third value of each point is its
confidence) or ``[{"image_id", "category_id", "bbox", "score"}, ...]`` (detections). It names
images only by id, so it lands on the frames whose image ids the project kept when their dataset
was imported. Every entry becomes a prediction (a detection one without keypoints, with its box
and score) of one model run that names the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core.annotation import InstanceKind
from pose_studio.formats.coco_fields import (
    MAX_COORD,
    CocoFormatError,
    IdKey,
    Problems,
    id_key,
    json_text,
    number,
)
from pose_studio.formats.dataset import Annotation, Dataset, Frame, ImageEntry, JsonExtra, Source
from pose_studio.formats.json_stream import JsonFile, JsonInputError
from pose_studio.formats.registry import Format, ReadOptions

__all__ = ["FORMAT", "read_results", "sniff"]

SOURCE_KEY = "coco-results"
_KNOWN = frozenset({"image_id", "category_id", "keypoints", "score", "bbox"})


def sniff(path: Path) -> bool:
    """A JSON array of objects with ``image_id`` and ``keypoints`` or ``bbox``."""
    if not path.is_file():
        return False
    from pose_studio.formats.coco import _head

    head = _head(path).lstrip()
    return head.startswith("[") and '"image_id"' in head and (
        '"keypoints"' in head or '"bbox"' in head)


def read_results(path: str | Path, options: ReadOptions) -> Dataset:
    """Read a results list for a project with ``options.skeleton`` (its keypoints by position).

    Raises:
        CocoFormatError: not a results list, or entries that do not fit (the first named).
    """
    src = Path(path)
    skeleton = options.skeleton
    if skeleton is None:
        raise CocoFormatError(src, ["a results list names no keypoints: it cannot define a "
                                    "skeleton (use the dataset's annotation file)"])
    k = skeleton.num_keypoints
    cats = dict(options.category_ids or {})
    probs = Problems()
    dropped: dict[str, int] = {}
    image_pos: dict[IdKey, int] = {}
    image_raw: list[Any] = []
    frames: dict[int, list[Annotation]] = {}
    unknown_cats: dict[Any, int] = {}
    run = f"coco-results:{src.name}"

    def entry(pos: int, r: Any) -> None:
        where = f"result #{pos}"
        if not isinstance(r, dict):
            probs.add(f"{where}: not an object")
            return
        iid = id_key(r.get("image_id"))
        if iid is None:
            probs.add(f"{where}: 'image_id' must be an integer or a string, got "
                      f"{r.get('image_id')!r:.60}")
            return
        score = number(r.get("score"))
        if score is None:
            probs.add(f"{where}: 'score' must be a number, got {r.get('score')!r:.60}")
            return
        points = np.zeros((k, 3))
        kp_scores = np.zeros(k, dtype=np.float32)
        kps = r.get("keypoints")
        if kps is not None and kps != []:
            vals = [number(v, MAX_COORD) for v in kps] if isinstance(kps, list) else [None]
            if len(vals) != 3 * k or any(v is None for v in vals):
                probs.add(f"{where}: 'keypoints' must be {3 * k} finite numbers ({k} keypoints "
                          f"of the project skeleton {skeleton.name!r} x 3), got "
                          f"{len(kps) if isinstance(kps, list) else type(kps).__name__}")
                return
            arr = np.asarray(vals, dtype=np.float64).reshape(k, 3)
            points[:, :2] = arr[:, :2]
            kp_scores = arr[:, 2].astype(np.float32)
            points[:, 2] = 2.0
        elif r.get("bbox") is None:
            probs.add(f"{where}: neither 'keypoints' nor 'bbox'")
            return
        bbox = None
        if r.get("bbox") is not None:
            b = r["bbox"]
            box = [number(v, MAX_COORD) for v in b] if isinstance(b, list) and len(b) == 4 \
                else [None]
            vals_b = [v for v in box if v is not None]
            if len(vals_b) != 4 or vals_b[2] < 0 or vals_b[3] < 0:
                probs.add(f"{where}: 'bbox' must be [x, y, w, h] with w, h >= 0")
                return
            bbox = (vals_b[0], vals_b[1], vals_b[2], vals_b[3])
        cid = id_key(r.get("category_id"))
        category = cats.get(cid) if cid is not None else None
        if category is None and cid is not None and cats:
            unknown_cats[cid] = unknown_cats.get(cid, 0) + 1
        if iid not in image_pos:
            image_pos[iid] = len(image_raw)
            image_raw.append(r.get("image_id"))
        rest = {key: v for key, v in r.items() if key not in _KNOWN}
        if cid is not None and category is None:
            rest["category_id"] = r.get("category_id")
        text_extra = json_text(rest, dropped)
        frames.setdefault(image_pos[iid], []).append(Annotation(
            points, kind=InstanceKind.PREDICTED, kp_scores=kp_scores, score=score, bbox=bbox,
            category=category, run=run, extra=JsonExtra(text_extra) if text_extra else {}))

    try:
        with JsonFile(src) as f:
            if f.top_level_kind() != "array":
                raise CocoFormatError(src, ["not a results list (a JSON array of "
                                            "{image_id, category_id, keypoints, score})"])
            n = f.scan_array(entry)
            digest = f.digest
    except OSError as exc:
        raise CocoFormatError(src, [f"cannot read the file ({exc.strerror or exc})"]) from None
    except JsonInputError as exc:
        raise CocoFormatError(src, [str(exc)]) from None
    probs.raise_if_any(src)
    images = tuple(ImageEntry("", extra={"id": raw}) for raw in image_raw)
    ds = Dataset(
        skeleton=skeleton,
        sources=[Source(SOURCE_KEY, "images", images=images, extra={"match": "image_id"})],
        frames=[Frame(SOURCE_KEY, i, tuple(a)) for i, a in sorted(frames.items())],
        categories=sorted({a.category for f in frames.values() for a in f
                           if a.category is not None}),
        runs={run: {"model_path": run, "model_hash": digest,
                    "params": {"imported_from": str(src), "results": n}}},
        info={"format": "coco-results", "path": str(src), "keypoint_mapping": "by position",
              "notes": [f"{n} result(s) on {len(images)} image(s) imported as predictions of "
                        f"one model run ({run})"]},
    )
    for cid, count in unknown_cats.items():
        ds.not_kept.append(f"the category of {count} result(s): category id {cid!r} is not one "
                           "of the project's (kept as a field)")
    for field_name, count in dropped.items():
        ds.not_kept.append(f"field '{field_name}' of {count} result(s): a value JSON cannot hold")
    return ds


FORMAT = Format(
    name="coco-results",
    label="COCO results list",
    suffixes=(".json",),
    sniff=sniff,
    read=read_results,
    write=None,
    priority=11,
)
