"""Validating the fields of COCO images and annotations, one element at a time (pure).

The reader streams the file's arrays (:mod:`pose_studio.formats.json_stream`); each element goes
through :func:`read_image` / :func:`read_annotation` here and leaves a compact record (numbers
in numpy arrays, the fields Pose Studio has no column for as JSON text) or a problem naming the
element and the field. What a fuzzer found is refused here with a line, never a traceback:
integers too large for a float, ids like ``"²"`` (``isdigit()`` is true, ``int()`` fails),
coordinates like ``1e308``, unhashable ids.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pose_studio.core.errors import PoseStudioError
from pose_studio.formats.dataset import MAX_PROBLEMS
from pose_studio.formats.dataset import Problems as DatasetProblems

__all__ = [
    "MAX_COORD",
    "MAX_PROBLEMS",
    "CocoFormatError",
    "IdKey",
    "Problems",
    "RawAnnotation",
    "RawImage",
    "id_key",
    "read_annotation",
    "read_image",
]

#: Largest coordinate or box value taken as a pixel position (a 10-gigapixel-wide image).
MAX_COORD = 1e7
IdKey = int | str  # COCO ids as dict keys (see id_key)

#: COCO-WholeBody's extra point arrays, after ``keypoints``.
PART_KEYS = ("foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")
#: Annotation fields read into the dataset's own values; the rest are kept as they are.
_READ_FIELDS = frozenset({
    "id", "image_id", "category_id", "keypoints", "num_keypoints", "bbox", "score",
    "keypoint_scores", "keypoint_provenance", "source", "track_id", *PART_KEYS,
})
#: Image fields read into the dataset's own values (``frame_index``/``video``/``video_id`` are
#: what Pose Studio's own export adds: hints for finding the frame, not kept).
_IMAGE_FIELDS = frozenset({"id", "file_name", "width", "height", "frame_index", "video",
                           "video_id"})


class CocoFormatError(PoseStudioError):
    """A COCO file that cannot be imported; ``problems`` lists the first problems found."""

    def __init__(self, path: str | Any, problems: Any, total: int | None = None):
        self.path = str(path)
        self.problems: list[str] = list(problems)[:MAX_PROBLEMS]
        self.total = max(total or 0, len(self.problems))
        more = self.total - len(self.problems)
        text = "; ".join(self.problems) + (f"; and {more} more problem(s)" if more > 0 else "")
        super().__init__(f"{self.path}: cannot import COCO keypoints: {text}")


class Problems(DatasetProblems):
    """The first :data:`MAX_PROBLEMS` problems, and how many there were."""

    def raise_if_any(self, path: Any) -> None:
        if self.count:
            raise CocoFormatError(path, self.items, self.count)


# --- scalars -----------------------------------------------------------------------------------------
def is_int(v: Any) -> bool:
    return type(v) is int


def number(v: Any, limit: float = 1e300) -> float | None:
    """A finite number within ``limit`` as a float (ints of any size are compared exactly
    before converting, so ``10**400`` is refused instead of overflowing); else None."""
    if type(v) is float:
        return v if math.isfinite(v) and abs(v) <= limit else None
    if type(v) is int:
        return float(v) if -limit <= v <= limit else None
    return None


def id_key(v: Any) -> IdKey | None:
    """A COCO id as a dict key: ints (also ``3.0`` and ``"3"``), other non-empty strings.

    Only ASCII digit strings become ints (``"²".isdigit()`` is true but ``int("²")`` fails).
    """
    if type(v) is int:
        return v
    if type(v) is float:
        return int(v) if math.isfinite(v) and v.is_integer() else None
    if isinstance(v, str):
        t = v.strip()
        if not t:
            return None
        if t.isascii() and t.isdigit() and len(t) < 4000:
            return int(t)
        return t
    return None


def dim(v: Any) -> int | None:
    """A positive image size (int, integral float or digit string) up to MAX_COORD, else None."""
    iv = id_key(v)
    return iv if isinstance(iv, int) and 0 < iv <= MAX_COORD else None


def json_text(fields: dict[str, Any], dropped: dict[str, int]) -> str | None:
    """Compact JSON of ``fields``; fields JSON cannot hold (NaN, infinities, absurd nesting) are
    left out and counted in ``dropped`` by name."""
    if not fields:
        return None
    try:
        return json.dumps(fields, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        pass
    good = {}
    for k, v in fields.items():
        try:
            json.dumps(v, allow_nan=False)
            good[k] = v
        except (ValueError, TypeError, RecursionError):
            dropped[k] = dropped.get(k, 0) + 1
    return json.dumps(good, separators=(",", ":"), allow_nan=False) if good else None


# --- images ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RawImage:
    pos: int
    id: IdKey
    raw_id: Any
    file_name: str
    width: int | None
    height: int | None
    frame_index: int | None  # Pose Studio's own export
    video: str | None  # Pose Studio's own export
    extra: str | None  # JSON of the other fields, with "id"


def read_image(pos: int, im: Any, probs: Problems, dropped: dict[str, int]) -> RawImage | None:
    if not isinstance(im, dict):
        probs.add(f"image #{pos}: not an object")
        return None
    raw = im.get("id")
    iid = id_key(raw)
    if iid is None:
        probs.add(f"image #{pos}: 'id' must be an integer or a string, got {_short(raw)}")
        return None
    where = f"image {_short(raw)}"
    name = im.get("file_name", "")
    if name is None:
        name = ""
    if not isinstance(name, str):
        probs.add(f"{where}: 'file_name' must be a string, got {_short(name)}")
        name = ""
    fi_raw = im.get("frame_index")
    frame_index: int | None = None
    if fi_raw is not None:
        fi = id_key(fi_raw) if not isinstance(fi_raw, str) else None
        if isinstance(fi, int) and 0 <= fi <= 10**12:
            frame_index = fi
        else:
            probs.add(f"{where}: 'frame_index' must be a non-negative integer, got "
                      f"{_short(fi_raw)}")
    dims: list[int | None] = []
    for key in ("width", "height"):
        v = im.get(key)
        d = None if v is None else dim(v)
        if v is not None and d is None:
            probs.add(f"{where}: '{key}' must be a positive integer, got {_short(v)}")
        dims.append(d)
    video = im.get("video")
    rest = {k: v for k, v in im.items() if k not in _IMAGE_FIELDS}
    rest["id"] = raw
    return RawImage(pos, iid, raw, name.strip().replace("\\", "/"), dims[0], dims[1],
                    frame_index, video if isinstance(video, str) else None,
                    json_text(rest, dropped))


# --- annotations ----------------------------------------------------------------------------------
@dataclass(slots=True)
class RawAnnotation:
    """One annotation, validated, before its category's layout is known."""

    pos: int
    where: str
    image_id: IdKey
    category_id: IdKey
    keypoints: np.ndarray | None  # flat as written (NaN for null); None: absent or empty
    keypoints_absent: bool  # no 'keypoints' field at all
    parts: dict[str, np.ndarray] | None  # COCO-WholeBody arrays
    score: float | None
    predicted: bool
    kp_scores: np.ndarray | None
    provenance: np.ndarray | None
    bbox: tuple[float, float, float, float] | None
    track: IdKey | None
    crowd: bool
    extra: str | None  # JSON of the fields kept as they are, with "id"


def _points(v: Any, where: str, key: str, probs: Problems) -> np.ndarray | None:
    """A flat float64 array of numbers (null -> NaN); None (with a problem) when unusable."""
    if not isinstance(v, list):
        probs.add(f"{where}: '{key}' must be a list, got {type(v).__name__}")
        return None
    types = {type(x) for x in v}
    if not types <= {int, float, type(None)}:
        bad = next(x for x in v if type(x) not in (int, float, type(None)))
        probs.add(f"{where}: '{key}' must hold finite numbers, found {_short(bad)}")
        return None
    try:
        arr = np.asarray(v if type(None) not in types else
                         [math.nan if x is None else x for x in v], dtype=np.float64)
    except OverflowError:
        probs.add(f"{where}: '{key}' holds an integer too large for a coordinate")
        return None
    if np.isinf(arr).any():
        probs.add(f"{where}: '{key}' must hold finite numbers, found an infinity")
        return None
    finite = arr[np.isfinite(arr)]
    if finite.size and float(np.abs(finite).max()) > MAX_COORD:
        bad_v = float(finite[np.abs(finite) > MAX_COORD][0])
        probs.add(f"{where}: '{key}' value {bad_v:g} is not a pixel position "
                  f"(|value| > {MAX_COORD:.0e})")
        return None
    return arr


def _track(a: Mapping[str, Any], where: str, probs: Problems) -> IdKey | None:
    """The track as written: ``track_id``, else CVAT's ``attributes.track_id``, else
    sleap-io's ``attributes.object_id`` (an int or a name)."""
    tid = a.get("track_id")
    attrs = a.get("attributes")
    if tid is None and isinstance(attrs, dict):
        tid = attrs.get("track_id", attrs.get("object_id"))
    if tid is None or tid == "":
        return None
    key = id_key(tid)
    if key is None:
        probs.add(f"{where}: 'track_id' must be an integer, a name or null, got {_short(tid)}")
    return key


def read_annotation(
    pos: int, a: Any, seen_ids: set[IdKey], probs: Problems, dropped: dict[str, int]
) -> RawAnnotation | None:
    if not isinstance(a, dict):
        probs.add(f"annotation #{pos}: not an object")
        return None
    raw_id = a.get("id")
    aid = id_key(raw_id) if raw_id is not None else None
    where = f"annotation {_short(raw_id)}" if aid is not None else f"annotation #{pos}"
    n_before = probs.count
    if raw_id is not None and aid is None:
        probs.add(f"{where}: 'id' must be an integer or a string, got {_short(raw_id)}")
    elif aid is not None:
        if aid in seen_ids:
            probs.add(f"{where}: duplicate annotation id (ids must be unique)")
        seen_ids.add(aid)
    img = id_key(a.get("image_id"))
    if img is None:
        probs.add(f"{where}: 'image_id' must be an integer or a string, got "
                  f"{_short(a.get('image_id'))}")
    cid = id_key(a.get("category_id"))
    if cid is None:
        probs.add(f"{where}: 'category_id' must be an integer or a string, got "
                  f"{_short(a.get('category_id'))}")
    kps_raw = a.get("keypoints")
    kps = None if kps_raw is None or kps_raw == [] else _points(kps_raw, where, "keypoints", probs)
    parts: dict[str, np.ndarray] | None = None
    for key in PART_KEYS:
        if key in a and a[key] is not None:
            arr = _points(a[key], where, key, probs)
            if arr is not None:
                parts = parts or {}
                parts[key] = arr
    score = a.get("score")
    score_f = None
    if score is not None:
        score_f = number(score)
        if score_f is None:
            probs.add(f"{where}: 'score' must be a number, got {_short(score)}")
    source = a.get("source")
    if source is not None and source not in ("user", "predicted"):
        probs.add(f"{where}: 'source' must be 'user' or 'predicted', got {_short(source)}")
    ks = a.get("keypoint_scores")
    kp_scores = None
    if ks is not None:
        vals = [number(x) for x in ks] if isinstance(ks, list) else [None]
        if any(x is None for x in vals):
            probs.add(f"{where}: 'keypoint_scores' must be a list of numbers")
        else:
            kp_scores = np.asarray(vals, dtype=np.float64)
    prov = a.get("keypoint_provenance")
    provenance = None
    if prov is not None:
        if not isinstance(prov, list) or not all(is_int(p) and 0 <= p <= 3 for p in prov):
            probs.add(f"{where}: 'keypoint_provenance' must be codes in [0, 1, 2, 3]")
        else:
            provenance = np.asarray(prov, dtype=np.uint8)
    bbox_raw = a.get("bbox")
    bbox: tuple[float, float, float, float] | None = None
    if bbox_raw is not None and bbox_raw != []:
        vals = ([number(x, MAX_COORD) for x in bbox_raw] if isinstance(bbox_raw, list)
                and len(bbox_raw) == 4 else [None])
        box = [x for x in vals if x is not None]
        if len(box) != 4 or box[2] < 0 or box[3] < 0:
            probs.add(f"{where}: 'bbox' must be [x, y, w, h] with w, h >= 0, got "
                      f"{_short(bbox_raw)}")
        else:
            bbox = (box[0], box[1], box[2], box[3])
    track = _track(a, where, probs)
    if probs.count > n_before or img is None or cid is None:
        return None
    rest = {k: v for k, v in a.items() if k not in _READ_FIELDS}
    n_kp = a.get("num_keypoints")
    # A count of its own (Halpe counts the body only, CrowdPose its own way) is kept. NaN
    # compares False, like an unlabeled point.
    if type(n_kp) is int and (kps is None or kps.size % 3 == 0) and \
            n_kp != (0 if kps is None else int((kps[2::3] > 0).sum())):
        rest["num_keypoints"] = n_kp
    area = number(rest.get("area"))
    if bbox is not None and area is not None and math.isclose(
            area, bbox[2] * bbox[3], rel_tol=1e-9, abs_tol=1e-9):
        del rest["area"]  # the box's area: exports compute it again from the box
    crowd = a.get("iscrowd") in (1, True)
    if type(rest.get("iscrowd")) is int and rest["iscrowd"] == 0:
        del rest["iscrowd"]  # the default
    if raw_id is not None:
        rest["id"] = raw_id
    return RawAnnotation(
        pos, where, img, cid, kps, "keypoints" not in a, parts, score_f,
        source == "predicted" or (source is None and score_f is not None),
        kp_scores, provenance, bbox, track, crowd, json_text(rest, dropped),
    )


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
