"""Reading COCO keypoint files into a :class:`~pose_studio.formats.dataset.Dataset`.

Accepts what the common tools write: official / mmpose files (segmentation, crowd RLE, boxes
without keypoints), CVAT (box-only categories, ``attributes``, coordinates for ``v = 0``),
X-AnyLabeling (ids from 0, ``x, y`` pairs without visibility), Datumaro (unnamed keypoints,
0-based ``skeleton``), COCO-WholeBody (four extra point arrays), Halpe (136 unnamed points),
PoseTrack (``vid_id``, ``frame_id``, per-sequence ``track_id``), sleap-io
(``attributes.object_id``), and Pose Studio's own export.

Nothing is dropped without a line in :attr:`Dataset.not_kept`: annotations without labeled
keypoints, crowd regions and box-only labels become :class:`Region` values (written back on
export); fields Pose Studio has no column for travel in ``extra``; points the project skeleton
has no place for, categories of another layout and fields JSON cannot hold are named.

The whole file is validated before anything is returned: problems are collected (the first
:data:`MAX_PROBLEMS`, each naming the image/annotation id and the field) and raised together as
:class:`CocoFormatError`. The file is streamed (see ``json_stream``): memory stays near its size.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.skeleton import Skeleton
from pose_studio.formats.coco_fields import (
    MAX_PROBLEMS,
    CocoFormatError,
    IdKey,
    Problems,
    RawAnnotation,
    RawImage,
    read_annotation,
    read_image,
)
from pose_studio.formats.coco_plan import Plan, read_categories
from pose_studio.formats.coco_values import (
    annotation_points,
    image_extra,
    is_derived_box,
    layout_points,
    listed_track_names,
    provenance,
    region,
    track_name,
    v0_coords,
    with_raw,
)
from pose_studio.formats.dataset import (
    Annotation,
    Dataset,
    Frame,
    ImageEntry,
    JsonExtra,
    Region,
    Source,
    gc_paused,
)
from pose_studio.formats.json_stream import JsonFile, JsonInputError

__all__ = ["MAX_PROBLEMS", "SOURCE_KEY", "CocoFormatError", "parse_coco", "read_coco"]

#: The key of the one image source a COCO file's dataset has.
SOURCE_KEY = "coco"
OWN_FORMAT = "pose-studio-coco"
_TOP_LEVEL = ("info", "licenses", "images", "annotations", "categories")
Progress = Callable[[int, int], None]


def read_coco(
    path: str | Path,
    skeleton: Skeleton | None,
    *,
    category: str | None = None,
    bbox_padding: float = 0.1,
) -> Dataset:
    """Read a COCO keypoints file.

    Args:
        skeleton: Map the file's keypoints onto this skeleton (by name, else by position); None
            keeps the file's own layout (``new --skeleton-from``).
        category: Read only this category (name or id) when the file has several layouts.
        bbox_padding: The padding of Pose Studio's exports, to recognise derived boxes in them.

    Raises:
        CocoFormatError: the file cannot be read or does not fit (with its first problems).
    """
    src = Path(path)
    with gc_paused():
        return _read(src, skeleton, category, bbox_padding)


def _read(src: Path, skeleton: Skeleton | None, category: str | None,
          bbox_padding: float) -> Dataset:
    try:
        with JsonFile(src) as f:
            kind = f.top_level_kind()
            if kind != "object":
                why = _not_an_object(kind) if kind == "array" else f.describe_other()
                raise CocoFormatError(src, [why])
            b = _Builder(src, skeleton, category, bbox_padding, None)
            members, streamed = f.scan_object({"images": b.image, "annotations": b.annotation})
            b.digest = f.digest
    except OSError as exc:
        raise CocoFormatError(src, [f"cannot read the file ({exc.strerror or exc})"]) from None
    except JsonInputError as exc:
        raise CocoFormatError(src, [str(exc)]) from None
    return b.finish(members, streamed)


def parse_coco(
    data: Any,
    skeleton: Skeleton | None,
    path: str | Path = "<data>",
    *,
    category: str | None = None,
    bbox_padding: float = 0.1,
) -> Dataset:
    """:func:`read_coco` for a COCO dict already in memory."""
    if not isinstance(data, dict):
        kind = "array" if isinstance(data, list) else type(data).__name__
        raise CocoFormatError(path, [_not_an_object(kind)])
    b = _Builder(Path(str(path)), skeleton, category, bbox_padding, None)
    streamed = set()
    for key, sink in (("images", b.image), ("annotations", b.annotation)):
        if isinstance(data.get(key), list):
            for i, v in enumerate(data[key]):
                sink(i, v)
            streamed.add(key)
    return b.finish({k: v for k, v in data.items() if k not in streamed}, streamed)


def _not_an_object(kind: str) -> str:
    if kind == "array":
        return ("this is a results list (no 'images'/'categories'): import it with "
                "--format coco-results onto images already in the project")
    return f"top level is a JSON {kind}, not an object"


class _Builder:
    """Collects validated images and annotations as they stream, then builds the dataset."""

    def __init__(self, path: Path, skeleton: Skeleton | None, category: str | None,
                 padding: float, digest: str | None) -> None:
        self.path = path
        self.skeleton = skeleton
        self.category = category
        self.padding = padding
        self.digest = digest
        self.probs = Problems()
        self.dropped: dict[str, int] = {}
        self.images: list[RawImage] = []
        self.image_ids: dict[IdKey, int] = {}
        self.anns: list[RawAnnotation | None] = []
        self.ann_ids: set[IdKey] = set()

    # --- sinks (called while the file streams) -----------------------------------------------
    def image(self, pos: int, value: Any) -> None:
        im = read_image(pos, value, self.probs, self.dropped)
        if im is None:
            return
        if im.id in self.image_ids:
            self.probs.add(f"image {im.raw_id!r}: duplicate image id")
            return
        self.image_ids[im.id] = len(self.images)
        self.images.append(im)

    def annotation(self, pos: int, value: Any) -> None:
        a = read_annotation(pos, value, self.ann_ids, self.probs, self.dropped)
        if a is not None:
            self.anns.append(a)

    # --- building ----------------------------------------------------------------------------
    def finish(self, members: dict[str, Any], streamed: set[str]) -> Dataset:
        probs = self.probs
        for key in ("images", "annotations", "categories"):
            if key in streamed:
                continue
            if key not in members:
                probs.add(f"missing top-level field '{key}'")
            elif not isinstance(members[key], list):
                probs.add(f"top-level '{key}' must be a list, not {type(members[key]).__name__}")
        probs.raise_if_any(self.path)
        categories = read_categories(members["categories"], probs)
        for a in self.anns:
            if a is not None and a.image_id not in self.image_ids:
                probs.add(f"{a.where}: 'image_id' {a.image_id!r} refers to a missing image")
            if a is not None and a.category_id not in categories:
                probs.add(f"{a.where}: unknown category {a.category_id!r}")
        probs.raise_if_any(self.path)
        info = members.get("info")
        own = isinstance(info, dict) and str(info.get("format", "")).startswith(OWN_FORMAT)
        plan = Plan(categories, self.anns, self.skeleton, self.category, probs)
        probs.raise_if_any(self.path)
        return self._dataset(members, plan, own)

    def _dataset(self, members: dict[str, Any], plan: Plan, own: bool) -> Dataset:
        probs = self.probs
        skeleton = plan.skeleton
        k = skeleton.num_keypoints
        run = f"coco:{self.path.name}"
        frames: dict[int, tuple[list[Annotation], list[Region]]] = {}
        tracks: dict[str, None] = {}
        used_categories: dict[IdKey, None] = {}
        counts = {"nan": 0, "neg": 0, "dropped_points": 0, "regions": 0, "unlabeled": 0,
                  "crowd": 0, "box_only": 0, "fraction_v": 0}
        left_out: dict[IdKey, int] = {}
        any_pred = False
        vis_seen = [False, False]  # some v == 2, some v == 1 (user labels)
        track_names = listed_track_names(members.get("info"))
        for i, a in enumerate(self.anns):
            self.anns[i] = None  # free each raw record as it becomes a dataset value
            if a is None:
                continue
            cat = plan.categories[a.category_id]
            im = self.images[self.image_ids[a.image_id]]
            slot = frames.setdefault(im.pos, ([], []))
            if a.category_id not in plan.maps:
                if a.category_id in plan.box_only or (a.keypoints is None and not a.parts
                                                      and not a.keypoints_absent):
                    slot[1].append(region(a, cat.name))
                    used_categories[a.category_id] = None
                    counts["box_only" if a.category_id in plan.box_only else "unlabeled"] += 1
                else:
                    left_out[a.category_id] = left_out.get(a.category_id, 0) + 1
                continue
            kmap, layout = plan.maps[a.category_id], plan.layouts[a.category_id]
            used_categories[a.category_id] = None
            if a.keypoints_absent and not a.parts:
                probs.add(f"{a.where}: 'keypoints' is missing")
                continue
            flat = layout_points(a, layout, probs)
            if flat is None:
                continue
            if a.crowd:
                slot[1].append(region(a, cat.name))
                counts["crowd"] += 1
                continue
            res = annotation_points(a, flat, kmap, k, probs)
            if res is None:
                continue
            points, kp_scores, n_nan, n_neg, lost, raw_v = res
            counts["nan"] += n_nan
            counts["neg"] += n_neg
            counts["dropped_points"] += lost
            if not (points[:, 2] > 0).any():
                slot[1].append(region(a, cat.name))
                counts["unlabeled"] += 1
                continue
            bbox = a.bbox
            if own and bbox is not None and is_derived_box(points, bbox, im, self.padding):
                bbox = None
            track = None
            if a.track is not None:
                track = track_name(a.track, im, track_names)
                tracks[track] = None
            if a.predicted:
                any_pred = True
            else:
                v = points[:, 2]
                vis_seen[0] |= bool((v == 2).any())
                vis_seen[1] |= bool((v == 1).any())
            extra = a.extra
            if v0_coords(flat, layout):
                extra = with_raw(extra, '"_v0_xy":true')
            if raw_v:
                counts["fraction_v"] += len(raw_v)
                extra = with_raw(extra, '"_v":{' + ",".join(
                    f'"{i}":{x!r}' for i, x in raw_v.items()) + "}")
            slot[0].append(Annotation(
                points, kind=InstanceKind.PREDICTED if a.predicted else InstanceKind.USER,
                kp_scores=kp_scores, score=a.score if a.predicted else None, bbox=bbox,
                track=track, category=cat.name, run=run if a.predicted else None,
                extra=JsonExtra(extra) if extra else {}, provenance=provenance(a, kmap, k),
            ))
        probs.raise_if_any(self.path)
        images = tuple(ImageEntry(im.file_name, im.width, im.height, image_extra(im))
                       for im in self.images)
        out_frames = [Frame(SOURCE_KEY, pos, tuple(anns), tuple(regs))
                      for pos, (anns, regs) in sorted(frames.items())]
        names = {cid: plan.categories[cid].name for cid in plan.categories}
        ds = Dataset(
            skeleton=skeleton,
            sources=[Source(SOURCE_KEY, "images", path=None, images=images)],
            frames=out_frames,
            tracks=list(tracks),
            categories=[names[c] for c in plan.categories if c in used_categories],
            runs={run: {"model_path": f"coco-import:{self.path.name}",
                        "model_hash": self.digest or "", "params": {
                            "imported_from": str(self.path)}}} if any_pred else {},
            info={"format": "coco", "path": str(self.path), "own_format": own,
                  "keypoint_mapping": plan.how(),
                  "categories": {c.name: c.extra for c in plan.categories.values()
                                 if c.id in used_categories},
                  "coco": {k: members[k] for k in ("info", "licenses") if k in members},
                  "notes": self._notes(counts, vis_seen, plan),
                  "skipped": sum(left_out.values())},
        )
        ds.not_kept.extend(self._not_kept(members, counts, left_out, plan))
        return ds

    def _notes(self, counts: dict[str, int], vis_seen: list[bool], plan: Plan) -> list[str]:
        notes = list(dict.fromkeys(plan.notes))
        if counts["nan"]:
            notes.append(f"{counts['nan']} keypoint(s) with NaN coordinates imported as unlabeled")
        if counts["fraction_v"]:
            notes.append(f"{counts['fraction_v']} labeled keypoint(s) have a fraction as "
                         "visibility (COCO-WholeBody's annotation confidence): imported as "
                         "visible, the value is kept for export")
        if counts["neg"]:
            notes.append(f"{counts['neg']} keypoint(s) with visibility -1 imported as unlabeled")
        if vis_seen[1] and not vis_seen[0]:
            notes.append(
                "every labeled keypoint has v=1 (labeled but not visible); if the tool that "
                "wrote the file uses 1 for visible (binary visibility), they are imported as "
                "occluded")
        regions = []
        for key, what in (("unlabeled", "without labeled keypoints"),
                          ("crowd", "crowd (iscrowd)"), ("box_only", "of box-only categories")):
            if counts[key]:
                regions.append(f"{counts[key]} {what}")
        if regions:
            notes.append(f"annotations kept as regions (boxes and masks, no keypoints to edit; "
                         f"exported back): {', '.join(regions)}")
        return notes

    def _not_kept(self, members: dict[str, Any], counts: dict[str, int],
                  left_out: dict[IdKey, int], plan: Plan) -> list[str]:
        out = []
        if left_out:
            parts = ", ".join(f"{n} of {plan.categories[c].name!r}" for c, n in left_out.items())
            present = ", ".join(
                f"{c.name!r} ({len(c.keypoints) or 'unnamed'} keypoints)"
                for c in plan.categories.values() if c.keypoints or c.id in plan.layouts)
            why = (f" (--category {self.category!r} chose one)" if self.category else
                   " (their keypoints do not fit the project skeleton)")
            out.append(f"annotations of other categories{why}: {parts}; categories in the "
                       f"file: {present}")
        for name, dropped in plan.dropped_names.items():
            shown = ", ".join(dropped[:6]) + (" ..." if len(dropped) > 6 else "")
            out.append(f"{len(dropped)} keypoint(s) of category {name!r} have no place in the "
                       f"project skeleton {plan.skeleton.name!r} ({shown}): "
                       f"{counts['dropped_points']} labeled point(s) not kept")
        for field, n in sorted(self.dropped.items()):
            out.append(f"field '{field}' of {n} element(s): a value JSON cannot hold (NaN, "
                       "infinity or nested too deeply)")
        for key in members:
            if key not in _TOP_LEVEL:
                out.append(f"top-level field '{key}'")
        return out
