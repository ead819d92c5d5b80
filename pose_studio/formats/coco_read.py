"""Reading and validating COCO keypoint files (pure: no project, no video).

Accepts what the common tools write:

* official / mmpose ``person_keypoints_*.json``: ``x, y, v`` triples, ``num_keypoints``,
  boxes-only annotations (``num_keypoints == 0``) which are skipped;
* CVAT "COCO Keypoints 1.0": extra categories (box labels without keypoints), ``attributes``
  (``track_id``, ``occluded``), file names such as ``frame_000123.PNG``, numeric keypoint names;
* X-AnyLabeling: integer coordinates, image/annotation ids from 0, an ``ignore`` field, an
  empty ``skeleton``, ``x, y`` pairs without visibility when ``has_visible`` is off,
  one category per class;
* Pose Studio's own export (``frame_index``, ``video``, ``source``, ``score``, ...).

Everything is validated before anything is used; problems are collected (the first
:data:`MAX_PROBLEMS` are kept, each naming the image/annotation id and the field) and raised
together as :class:`CocoFormatError`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, TypeGuard

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind, Provenance
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.oks import keypoint_extent_bbox
from pose_studio.core.skeleton import Skeleton

MAX_PROBLEMS = 10
IdKey = int | str  # COCO ids as dict keys (see _id_key)


class CocoFormatError(PoseStudioError):
    """A COCO file that cannot be imported; ``problems`` lists the first problems found."""

    def __init__(self, path: str | Path, problems: Sequence[str], total: int | None = None):
        self.path = str(path)
        self.problems: list[str] = list(problems)[:MAX_PROBLEMS]
        self.total = max(total or 0, len(problems))
        more = self.total - len(self.problems)
        text = "; ".join(self.problems) + (f"; and {more} more problem(s)" if more > 0 else "")
        super().__init__(f"{self.path}: cannot import COCO keypoints: {text}")


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.count = 0

    def add(self, msg: str) -> None:
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(msg)

    def __bool__(self) -> bool:
        return self.count > 0

    def raise_if_any(self, path: str | Path) -> None:
        if self.count:
            raise CocoFormatError(path, self.items, self.count)


# --- values ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CocoImage:
    id: IdKey
    file_name: str
    width: int | None
    height: int | None
    frame_index: int | None  # an explicit frame_index / frame_id field
    video: str | None  # Pose Studio exports: the video path as stored
    video_id: int | None


@dataclass(frozen=True)
class KeypointMapping:
    """How a category's keypoints land on the project skeleton."""

    category_id: IdKey
    names: tuple[str, ...]  # as in the file (may be empty: positional)
    target: np.ndarray  # project keypoint index for each file keypoint
    how: str  # "identical" | "by name" | "by position"


@dataclass(frozen=True)
class CocoInstance:
    ann_id: IdKey  # the annotation's id (its position in the list when it has none)
    image_id: IdKey
    instance: Instance
    track: int | str | None  # track id or name as written in the file


@dataclass
class ParsedCoco:
    images: dict[IdKey, CocoImage]
    instances: list[CocoInstance]
    mappings: dict[IdKey, KeypointMapping]
    skipped_no_keypoints: int = 0  # box-only / empty / crowd annotations
    skipped_other_category: int = 0  # annotations of categories without keypoints
    own_format: bool = False
    notes: list[str] = field(default_factory=list)


def load_json(path: str | Path) -> Any:
    """Read a JSON file; unreadable or malformed files raise :class:`CocoFormatError`."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise CocoFormatError(p, [f"cannot read the file ({exc.strerror or exc})"]) from exc
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise CocoFormatError(p, [f"not a text/JSON file ({exc.reason})"]) from exc
    except json.JSONDecodeError as exc:
        raise CocoFormatError(
            p, [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from exc


# --- small validators ------------------------------------------------------------------------------
def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


_NUM_TYPES = {int, float}


def _as_int_like(v: Any) -> int | None:
    """An int, or a float with an integral value (some tools write 3.0), else None."""
    if _is_int(v):
        return int(v)
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return int(v)
    return None


def _id_key(v: Any) -> IdKey | None:
    """A COCO id as a dict key: ints (also ``3.0`` and ``"3"``) or other non-empty strings.

    Ids are opaque labels: most tools write ints (from 0 or 1), some write strings.
    """
    iv = _as_int_like(v)
    if iv is not None:
        return iv
    if isinstance(v, str) and v.strip():
        t = v.strip()
        return int(t) if t.isdigit() else t
    return None


def _dim(v: Any) -> int | None:
    """A positive image size (int, integral float or digit string), else None."""
    iv = _id_key(v)
    return iv if isinstance(iv, int) and iv > 0 else None


def _norm_name(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def map_category(
    category_id: IdKey, names: Sequence[str] | None, n_file: int | None, skeleton: Skeleton
) -> KeypointMapping | str:
    """Map a category's keypoint names onto ``skeleton``; a problem string if it cannot.

    Identical names (after case/space/hyphen normalisation) map in place; the same names in
    another order, or a subset of the project's names, map by name (missing ones unlabeled);
    numeric names ``1..K``/``0..K-1`` or no names at all map by position when the count is K.
    """
    k = skeleton.num_keypoints
    proj = [_norm_name(n) for n in skeleton.keypoints]
    if names:
        file_names = tuple(str(n) for n in names)
        norm = [_norm_name(n) for n in file_names]
        if norm == proj:
            return KeypointMapping(category_id, file_names, np.arange(k), "identical")
        if len(set(norm)) != len(norm):
            return f"category {category_id}: duplicate keypoint names"
        numeric = [str(i) for i in range(1, k + 1)], [str(i) for i in range(k)]
        if len(norm) == k and (norm in numeric):
            return KeypointMapping(category_id, file_names, np.arange(k), "by position")
        index = {n: i for i, n in enumerate(proj)}
        unknown = [file_names[i] for i, n in enumerate(norm) if n not in index]
        if not unknown:
            target = np.array([index[n] for n in norm], dtype=np.intp)
            return KeypointMapping(category_id, file_names, target, "by name")
        shown = ", ".join(repr(u) for u in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        return (
            f"category {category_id}: unknown keypoint layout: {len(unknown)} of its "
            f"{len(file_names)} keypoints ({shown}) are not in the project skeleton "
            f"{skeleton.name!r} ({k} keypoints: {', '.join(skeleton.keypoints[:4])}, ...)"
        )
    if n_file == k:
        return KeypointMapping(category_id, (), np.arange(k), "by position")
    return (
        f"category {category_id}: unknown keypoint layout: the category names no keypoints and "
        f"its annotations have {n_file} keypoints, the project skeleton {skeleton.name!r} has {k}"
    )


_DIGITS = re.compile(r"(\d+)")


def frame_number_from_name(file_name: str) -> int | None:
    """The last run of digits in the file name's stem (``frame_000123.PNG`` -> 123)."""
    base = PureWindowsPath(file_name).name if "\\" in file_name else PurePosixPath(file_name).name
    stem = base.rsplit(".", 1)[0] if "." in base else base
    runs = _DIGITS.findall(stem)
    return int(runs[-1]) if runs else None


# --- parsing -------------------------------------------------------------------------------------
def parse_coco(data: Any, skeleton: Skeleton, path: str | Path = "<data>") -> ParsedCoco:
    """Validate a loaded COCO dict and map its keypoints onto ``skeleton``.

    Lenient where tools differ but the meaning is clear (string or 0-based ids, missing or
    duplicate annotation ids, float visibility, NaN for unlabeled points, categories of other
    objects, which are skipped); strict where data would be guessed.

    Raises:
        CocoFormatError: with every problem found (the first :data:`MAX_PROBLEMS` listed).
    """
    probs = _Problems()
    if isinstance(data, list):
        raise CocoFormatError(path, [
            "this is a results list (no 'images'/'categories'); import needs a full COCO "
            "keypoints file with 'images', 'annotations' and 'categories'"
        ])
    if not isinstance(data, dict):
        raise CocoFormatError(path, [f"top level is a JSON {type(data).__name__}, not an object"])
    for key in ("images", "annotations", "categories"):
        if key not in data:
            probs.add(f"missing top-level field '{key}'")
        elif not isinstance(data[key], list):
            probs.add(f"top-level '{key}' must be a list, not {type(data[key]).__name__}")
    probs.raise_if_any(path)

    info = data.get("info")
    own = isinstance(info, dict) and str(info.get("format", "")).startswith("pose-studio-coco")
    images = _parse_images(data["images"], probs)
    categories = _parse_categories(data["categories"], probs)
    anns = data["annotations"]

    # Keypoint count per category as seen in annotations (for categories without names).
    n_seen: dict[IdKey, int] = {}
    for a in anns:
        if not isinstance(a, dict) or not isinstance(a.get("keypoints"), list):
            continue
        cid = _id_key(a.get("category_id"))
        if cid is None or categories.get(cid, (None,))[1:2] != ((),):
            continue
        n = len(a["keypoints"])
        if n:
            n_seen.setdefault(cid, n // 3 if n % 3 == 0 else n // 2)

    mappings: dict[IdKey, KeypointMapping] = {}
    unmapped: dict[IdKey, str] = {}  # category -> why its keypoints do not fit the project

    def mapping_for(cid: IdKey) -> KeypointMapping | None:
        if cid in mappings:
            return mappings[cid]
        if cid in unmapped:
            return None
        m = map_category(cid, categories[cid][1], n_seen.get(cid), skeleton)  # type: ignore[arg-type]
        if isinstance(m, str):
            unmapped[cid] = m
            return None
        mappings[cid] = m
        return m

    parsed = ParsedCoco(images=images, instances=[], mappings=mappings, own_format=own)
    skipped_unmapped: dict[IdKey, int] = {}
    n_nan = n_negative_v = 0
    for pos, a in enumerate(anns):
        if not isinstance(a, dict):
            probs.add(f"annotation #{pos}: not an object")
            continue
        raw_id = a.get("id")
        aid = _id_key(raw_id)
        where = f"annotation {raw_id!r}" if aid is not None else f"annotation #{pos}"
        if raw_id is not None and aid is None:
            probs.add(f"{where}: 'id' must be an integer or a string, got {raw_id!r}")
        raw_img = a.get("image_id")
        img = _id_key(raw_img)
        if img is None:
            probs.add(f"{where}: 'image_id' must be an integer or a string, got {raw_img!r}")
        elif img not in images:
            probs.add(f"{where}: 'image_id' {raw_img!r} refers to a missing image")
        raw_cid = a.get("category_id")
        cid = _id_key(raw_cid)
        if cid is None:
            probs.add(f"{where}: 'category_id' must be an integer or a string, got {raw_cid!r}")
            continue
        if cid not in categories:
            probs.add(f"{where}: unknown category {raw_cid!r}")
            continue
        kps = a.get("keypoints")
        if not categories[cid][1] and (kps is None or kps == []):
            parsed.skipped_other_category += 1  # box / mask labels (CVAT, Label Studio, ...)
            continue
        mapping = mapping_for(cid)
        if mapping is None:
            skipped_unmapped[cid] = skipped_unmapped.get(cid, 0) + 1
            continue
        res = _parse_instance(a, where, mapping, skeleton, probs)
        if res is None:
            continue
        inst, nan_pts, neg_v = res
        n_nan += nan_pts
        n_negative_v += neg_v
        if not inst.labeled.any() or a.get("iscrowd") in (1, True):
            parsed.skipped_no_keypoints += 1
            continue
        track = _track_of(a, where, probs)
        if img is not None and img in images:
            parsed.instances.append(CocoInstance(aid if aid is not None else pos, img, inst, track))
    if unmapped and not mappings:
        for why in unmapped.values():
            probs.add(why)
    probs.raise_if_any(path)
    for cid, n in skipped_unmapped.items():
        name = categories[cid][0]
        parsed.skipped_other_category += n
        parsed.notes.append(
            f"skipped {n} annotation(s) of category {name!r}: {unmapped[cid].split(': ', 1)[-1]}"
        )
    if n_nan:
        parsed.notes.append(f"{n_nan} keypoint(s) with NaN coordinates imported as unlabeled")
    vis = [ci.instance.visibility for ci in parsed.instances
           if ci.instance.kind is InstanceKind.USER]
    if vis and not any((v == 2).any() for v in vis) and any((v == 1).any() for v in vis):
        parsed.notes.append(
            "every labeled keypoint has v=1 (labeled but not visible); if the tool that wrote "
            "the file uses 1 for visible (binary visibility), they are imported as occluded")
    if n_negative_v:
        parsed.notes.append(f"{n_negative_v} keypoint(s) with visibility -1 imported as unlabeled")
    return parsed


def _parse_images(items: list[Any], probs: _Problems) -> dict[IdKey, CocoImage]:
    out: dict[IdKey, CocoImage] = {}
    for pos, im in enumerate(items):
        if not isinstance(im, dict):
            probs.add(f"image #{pos}: not an object")
            continue
        raw = im.get("id")
        iid = _id_key(raw)
        if iid is None:
            probs.add(f"image #{pos}: 'id' must be an integer or a string, got {raw!r}")
            continue
        where = f"image {raw!r}"
        if iid in out:
            probs.add(f"{where}: duplicate image id")
            continue
        name = im.get("file_name", "")
        if name is None:
            name = ""
        if not isinstance(name, str):
            probs.add(f"{where}: 'file_name' must be a string, got {name!r}")
            name = ""
        fi_raw = im.get("frame_index", im.get("frame_id"))
        frame_index = None
        if fi_raw is not None:
            frame_index = _as_int_like(fi_raw)
            if frame_index is None or frame_index < 0:
                probs.add(f"{where}: 'frame_index' must be a non-negative integer, got {fi_raw!r}")
                frame_index = None
        dims: list[int | None] = []
        for key in ("width", "height"):
            v = im.get(key)
            iv = None if v is None else _dim(v)
            if v is not None and iv is None:
                probs.add(f"{where}: '{key}' must be a positive integer, got {v!r}")
            dims.append(iv)
        video = im.get("video")
        vid = im.get("video_id")
        out[iid] = CocoImage(
            id=iid,
            file_name=name.strip(),
            width=dims[0],
            height=dims[1],
            frame_index=frame_index,
            video=video if isinstance(video, str) else None,
            video_id=vid if _is_int(vid) else None,
        )
    return out


def _parse_categories(items: list[Any], probs: _Problems) -> dict[IdKey, tuple[str, tuple[str, ...]]]:
    """Category id -> (name, keypoint names)."""
    out: dict[IdKey, tuple[str, tuple[str, ...]]] = {}
    for pos, c in enumerate(items):
        if not isinstance(c, dict):
            probs.add(f"category #{pos}: not an object")
            continue
        raw = c.get("id")
        cid = _id_key(raw)
        if cid is None:
            probs.add(f"category #{pos}: 'id' must be an integer or a string, got {raw!r}")
            continue
        if cid in out:
            probs.add(f"category {raw!r}: duplicate category id")
            continue
        names = c.get("keypoints", [])
        if names is None:
            names = []
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            probs.add(f"category {raw!r}: 'keypoints' must be a list of names")
            names = []
        out[cid] = (str(c.get("name", cid)), tuple(str(n) for n in names))
    return out


def _track_of(a: Mapping[str, Any], where: str, probs: _Problems) -> int | str | None:
    """The track as written: ``track_id`` or CVAT's ``attributes.track_id`` (int or name)."""
    tid = a.get("track_id")
    attrs = a.get("attributes")
    if tid is None and isinstance(attrs, dict):
        tid = attrs.get("track_id")
    if tid is None or tid == "":
        return None
    key = _id_key(tid)
    if key is None:
        probs.add(f"{where}: 'track_id' must be an integer, a name or null, got {tid!r}")
    return key


def _parse_instance(
    a: Mapping[str, Any],
    where: str,
    mapping: KeypointMapping,
    skeleton: Skeleton,
    probs: _Problems,
) -> tuple[Instance, int, int] | None:
    """The instance, how many NaN points and how many v=-1 points were read as unlabeled."""
    kps = a.get("keypoints")
    n_file = len(mapping.target)
    if kps is None:
        probs.add(f"{where}: 'keypoints' is missing")
        return None
    if not isinstance(kps, list):
        probs.add(f"{where}: 'keypoints' must be a list, got {type(kps).__name__}")
        return None
    if len(kps) == 3 * n_file:
        stride = 3
    elif len(kps) == 2 * n_file:
        stride = 2  # X-AnyLabeling without visibility
    else:
        probs.add(
            f"{where}: 'keypoints' has {len(kps)} values, expected {3 * n_file} "
            f"({n_file} keypoints x 3)"
        )
        return None
    # Fast path: only int/float values (bool is a subclass of int, so compare exact types).
    types = {type(v) for v in kps}
    if type(None) in types and types - {type(None)} <= _NUM_TYPES:
        # JavaScript writers put null where a point has no coordinates: unlabeled, like NaN.
        kps = [math.nan if v is None else v for v in kps]
        types = {type(v) for v in kps}
    arr_flat = np.asarray(kps, dtype=np.float64) if types <= _NUM_TYPES else None
    if arr_flat is None:
        bad = next(v for v in kps if not _is_num(v) and not (isinstance(v, float) and v != v))
        probs.add(f"{where}: 'keypoints' must hold finite numbers, found {bad!r}")
        return None
    arr = arr_flat.reshape(n_file, stride)
    n_nan = n_neg = 0
    nan_pt = None
    if not np.isfinite(arr_flat).all():  # rare: keep the common path to one check
        if np.isinf(arr_flat).any():
            probs.add(f"{where}: 'keypoints' must hold finite numbers, found an infinity")
            return None
        if stride == 3 and np.isnan(arr[:, 2]).any():
            probs.add(f"{where}: a keypoint visibility is NaN")
            return None
        # NaN coordinates (pandas / DeepLabCut writers, JS null) mean "not labeled".
        arr = arr.copy()
        nan_pt = np.isnan(arr[:, :2]).any(axis=1)
        n_nan = int(nan_pt.sum())
        arr[nan_pt, :2] = 0.0
        if stride == 3:
            arr[nan_pt, 2] = 0.0
    if stride == 3 and arr[:, 2].min() < 0:
        arr = arr.copy()
        neg = arr[:, 2] == -1  # DeepLabCut's converter: -1 for points it could not place
        n_neg = int(neg.sum())
        arr[neg, 2] = 0.0
    score = a.get("score")
    if score is not None and not _is_num(score):
        probs.add(f"{where}: 'score' must be a number, got {score!r}")
        return None
    source = a.get("source")
    if source is not None and source not in ("user", "predicted"):
        probs.add(f"{where}: 'source' must be 'user' or 'predicted', got {source!r}")
        return None
    predicted = source == "predicted" or (source is None and score is not None)

    kp_scores_file: np.ndarray | None = None
    if stride == 3:
        v = arr[:, 2]
        valid_v = (v == 0) | (v == 1) | (v == 2)
        if not valid_v.all():
            # Results-style predictions keep the confidence in the v slot.
            if predicted and ((v >= 0) & (v <= 1)).all():
                kp_scores_file = v.copy()
                v = np.full(n_file, 2.0)
            else:
                bad = v[~valid_v][0]
                probs.add(f"{where}: keypoint visibility must be 0, 1 or 2, found {bad:g}")
                return None
    else:
        unl = (arr[:, 0] == 0) & (arr[:, 1] == 0)
        v = np.where(unl if nan_pt is None else unl | nan_pt, 0.0, 2.0)

    ks = a.get("keypoint_scores")
    if ks is not None:
        if not isinstance(ks, list) or len(ks) != n_file or not all(_is_num(x) for x in ks):
            probs.add(f"{where}: 'keypoint_scores' must be {n_file} numbers")
            return None
        kp_scores_file = np.asarray(ks, dtype=np.float64)

    prov_file = a.get("keypoint_provenance")
    if prov_file is not None:
        valid = {int(p) for p in Provenance}
        if (not isinstance(prov_file, list) or len(prov_file) != n_file
                or not all(_is_int(p) and p in valid for p in prov_file)):
            probs.add(f"{where}: 'keypoint_provenance' must be {n_file} codes in {sorted(valid)}")
            return None

    bbox_raw = a.get("bbox")
    bbox: tuple[float, float, float, float] | None = None
    if bbox_raw is not None and bbox_raw != []:
        if (not isinstance(bbox_raw, list) or len(bbox_raw) != 4
                or not all(_is_num(x) for x in bbox_raw) or bbox_raw[2] < 0 or bbox_raw[3] < 0):
            probs.add(f"{where}: 'bbox' must be [x, y, w, h] with w, h >= 0, got {bbox_raw!r}")
            return None
        bbox = (float(bbox_raw[0]), float(bbox_raw[1]), float(bbox_raw[2]), float(bbox_raw[3]))

    # Scatter onto the project skeleton.
    k = skeleton.num_keypoints
    xy = np.zeros((k, 2))
    vis = np.zeros(k, dtype=np.uint8)
    xy[mapping.target] = arr[:, :2]
    vis[mapping.target] = v.astype(np.uint8)
    xy[vis == 0] = 0.0
    kind = InstanceKind.PREDICTED if predicted else InstanceKind.USER
    kp_scores = None
    if predicted:
        kp_scores = np.zeros(k)
        if kp_scores_file is not None:
            kp_scores[mapping.target] = kp_scores_file
        else:
            kp_scores[vis > 0] = 1.0 if score is None else float(score)
    provenance = None
    if prov_file is not None:
        default = int(Provenance.USER if kind is InstanceKind.USER else Provenance.PREDICTED)
        provenance = np.full(k, default, dtype=np.uint8)
        provenance[mapping.target] = np.asarray(prov_file, dtype=np.uint8)
    inst = Instance(
        xy=xy,
        visibility=vis,
        kind=kind,
        kp_scores=kp_scores,
        provenance=provenance,
        score=float(score) if predicted and score is not None else None,
        bbox=bbox,
    )
    return inst, n_nan, n_neg


def is_derived_bbox(inst: Instance, image_size: tuple[int, int] | None, padding: float) -> bool:
    """True when the instance's ``bbox`` is just the export rule applied to its keypoints.

    Pose Studio exports the padded keypoint extent for instances without a box; keeping it on
    import would turn "no box" into a fixed box that no longer follows edited keypoints.
    """
    if inst.bbox is None:
        return False
    derived = keypoint_extent_bbox(inst.xy, inst.visibility, padding=padding,
                                   image_size=image_size)
    return derived is not None and max(abs(a - b) for a, b in zip(derived, inst.bbox)) <= 1e-6


def drop_derived_bbox(
    inst: Instance, image_size: tuple[int, int] | None, padding: float
) -> Instance:
    """``inst`` without its ``bbox`` when that box is derived (see :func:`is_derived_bbox`)."""
    return inst.replace(bbox=None) if is_derived_bbox(inst, image_size, padding) else inst
