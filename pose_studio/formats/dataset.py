"""A labeled dataset in memory, independent of any file format and of the project store.

Every reader in :mod:`pose_studio.formats` returns a :class:`Dataset`; every writer takes one;
one importer (``formats.ingest``) writes a dataset into a project in one transaction, and one
exporter reads a project into a dataset. Adding a format is then one module that converts
between its files and these values (the idiom of sleap-io's ``Labels`` and glue's data
factories); nothing format-specific reaches the store.

Conventions:

* Keypoints are ``(K, 3)`` float64 rows of ``x, y, v`` in the order of :attr:`Dataset.skeleton`
  (pixel centres at integers, COCO's convention); ``v`` is COCO's 0 (not labeled), 1 (labeled,
  hidden), 2 (visible). Coordinates a tool wrote for a ``v == 0`` point are kept as written
  (CVAT writes them); ``NaN`` where the file had none.
* Frames address their source by :attr:`Source.key` and a 0-based index: the frame number of a
  video, or the position of the image in :attr:`Source.images` of an image set.
* ``extra`` mappings keep what a format carries that the neutral model has no field for (COCO
  annotation and image ids, ``area``, ``segmentation``, ``iscrowd``, ``attributes``, PoseTrack's
  ``vid_id``/``frame_id``...). They must be JSON-serialisable; writers of the same format put
  them back, others ignore them. Keys that start with ``_`` are Pose Studio's own notes about
  the values (e.g. ``_v0_xy``: the file wrote coordinates for unlabeled points); writers do not
  write them as fields. A reader of a big file may give a :class:`JsonExtra` (JSON text decoded
  on first use) instead of a dict, to keep memory near the file's size.
* :attr:`Dataset.not_kept` lists, in words for the user, what a reader could not keep; the
  importer prints it. Nothing is dropped without a line there.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from pose_studio.core.annotation import BBox, InstanceKind
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.skeleton import Skeleton

__all__ = [
    "MAX_PROBLEMS",
    "Annotation",
    "Dataset",
    "DatasetError",
    "Frame",
    "ImageEntry",
    "JsonExtra",
    "Problems",
    "Region",
    "Source",
    "extra_json",
    "gc_paused",
]

SourceKind = Literal["video", "images"]


#: How many problems an importer names in its one-line refusal (it counts them all).
MAX_PROBLEMS = 10


class DatasetError(PoseStudioError):
    """A dataset whose parts do not fit together (a frame naming no source, wrong K...)."""


class Problems:
    """The first :data:`MAX_PROBLEMS` problems a reader or the importer found, and how many
    there were (a refusal names the first ones and counts the rest)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.count = 0

    def add(self, msg: str) -> None:
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(msg)

    def __bool__(self) -> bool:
        return self.count > 0


class JsonExtra(Mapping[str, Any]):
    """An ``extra`` mapping kept as compact JSON text (a JSON object), decoded on first use.

    Importers store :attr:`json_text` as it is, so a big file's fields are neither decoded nor
    encoded again on their way into the project.
    """

    __slots__ = ("_text", "_value")

    def __init__(self, text: str) -> None:
        self._text = text
        self._value: dict[str, Any] | None = None

    @property
    def json_text(self) -> str:
        return self._text

    def _dict(self) -> dict[str, Any]:
        if self._value is None:
            v = json.loads(self._text)
            self._value = v if isinstance(v, dict) else {}
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        return f"JsonExtra({self._text[:60]!r}{'...' if len(self._text) > 60 else ''})"


def extra_json(extra: Mapping[str, Any] | None) -> str | None:
    """Compact JSON text of an ``extra`` mapping (None when empty); JsonExtra's text as it is.

    Raises:
        ValueError: a value JSON cannot hold (NaN, an infinity, an object that is not JSON).
    """
    if isinstance(extra, JsonExtra):  # before any truthiness test, which would decode it
        return extra.json_text
    if not extra:
        return None
    try:
        return json.dumps(dict(extra), separators=(",", ":"), allow_nan=False)
    except (TypeError, RecursionError) as exc:
        raise ValueError(str(exc)) from None


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a reader, writer or importer makes or drops hundreds
    of thousands of small values (none of which form cycles): it would walk them all again and
    again (a fifth of a 100k-annotation export). Reference counting still frees everything."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _frozen_points(points: Any, k: int | None = None) -> np.ndarray:
    p = np.array(points, dtype=np.float64, copy=True)
    if p.ndim != 2 or p.shape[1] != 3 or (k is not None and p.shape[0] != k):
        raise DatasetError(f"keypoints must be (K, 3) rows of x, y, v, not {p.shape}")
    p.setflags(write=False)
    return p


@dataclass(frozen=True)
class ImageEntry:
    """One image of an image-set source.

    Attributes:
        path: Relative to the source's root folder, ``/``-separated (sub-folders kept), or the
            name as the file gave it when no root is known.
        width, height: Pixel size when known (from the file or the image), else None.
    """

    path: str
    width: int | None = None
    height: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    """Where frames come from: a video file or a set of images.

    Attributes:
        key: Unique within the dataset; frames refer to it.
        kind: ``"video"`` or ``"images"``.
        path: The video file, or the image set's root folder, as found or as the file wrote it
            (None when unknown: the importer then asks for it or resolves it). A relative path
            is relative to the dataset file's folder.
        images: For an image set, its images in frame order.
        width, height: A video's frame size when known.
        extra: ``{"match": "image_id"}``: the images are named only by their ``extra["id"]``
            (a results list); the importer finds them among the project's kept image ids.
    """

    key: str
    kind: SourceKind
    path: str | None = None
    images: tuple[ImageEntry, ...] = ()
    width: int | None = None
    height: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("video", "images"):
            raise DatasetError(f"source {self.key!r}: unknown kind {self.kind!r}")
        object.__setattr__(self, "images", tuple(self.images))

    @property
    def frame_count(self) -> int | None:
        """Number of frames when the dataset knows it (image sets), else None."""
        return len(self.images) if self.kind == "images" else None


@dataclass(frozen=True, eq=False)
class Annotation:
    """One animal or person on one frame (a label or a prediction).

    Attributes:
        points: ``(K, 3)`` rows of ``x, y, v`` (read-only).
        kind: User label or model prediction.
        kp_scores: ``(K,)`` per-keypoint scores (predictions), else None.
        score: Instance score (predictions).
        bbox: ``(x, y, w, h)`` as the file gave it; None to derive it from the keypoints.
        track: Identity across frames (a track name, unique in the dataset), or None.
        category: The class (species, "person"...), or None when the format has none.
        run: For a prediction, the name of the model run that made it (see
            :attr:`Dataset.runs`), or None.
        provenance: ``(K,)`` per-keypoint :class:`~pose_studio.core.annotation.Provenance`
            codes when the source knows them (interpolated, propagated...), else None.
    """

    points: np.ndarray
    kind: InstanceKind = InstanceKind.USER
    kp_scores: np.ndarray | None = None
    score: float | None = None
    bbox: BBox | None = None
    track: str | None = None
    category: str | None = None
    run: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    provenance: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", _frozen_points(self.points))
        object.__setattr__(self, "kind", InstanceKind(self.kind))
        if self.kp_scores is not None:
            s = np.array(self.kp_scores, dtype=np.float32, copy=True).reshape(-1)
            if s.shape[0] != self.points.shape[0]:
                raise DatasetError("kp_scores must have one score per keypoint")
            s.setflags(write=False)
            object.__setattr__(self, "kp_scores", s)
        if self.bbox is not None:
            object.__setattr__(self, "bbox", tuple(float(v) for v in self.bbox))
        if self.provenance is not None:
            pr = np.array(self.provenance, dtype=np.uint8, copy=True).reshape(-1)
            if pr.shape[0] != self.points.shape[0]:
                raise DatasetError("provenance must have one code per keypoint")
            pr.setflags(write=False)
            object.__setattr__(self, "provenance", pr)

    @property
    def num_keypoints(self) -> int:
        return int(self.points.shape[0])


@dataclass(frozen=True)
class Region:
    """An area without keypoints that a format keeps (COCO ``iscrowd`` regions, ignore areas)."""

    bbox: BBox | None
    category: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # segmentation, area, ids...


@dataclass(frozen=True)
class Frame:
    """The annotations of one frame of one source."""

    source: str
    index: int
    annotations: tuple[Annotation, ...] = ()
    regions: tuple[Region, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)  # image id, PoseTrack ids...

    def __post_init__(self) -> None:
        object.__setattr__(self, "annotations", tuple(self.annotations))
        object.__setattr__(self, "regions", tuple(self.regions))


@dataclass
class Dataset:
    """Everything one file (or project) holds, in neutral form.

    Attributes:
        skeleton: The keypoint layout every annotation uses.
        sources: Videos and image sets, keyed by :attr:`Source.key`.
        frames: Labeled frames (a source/index pair appears at most once).
        tracks: Track names in the order the file gave them.
        categories: Category names in the order the file gave them.
        runs: Model runs that predictions name: run name -> facts (model path, params...).
        not_kept: What the reader could not keep, one line each, for the user.
        info: Format-level facts (``format``, ``path``, a COCO ``info`` block...).
    """

    skeleton: Skeleton
    sources: list[Source] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    tracks: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    not_kept: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def source(self, key: str) -> Source:
        for s in self.sources:
            if s.key == key:
                return s
        raise DatasetError(f"no source {key!r} in the dataset")

    @property
    def num_annotations(self) -> int:
        return sum(len(f.annotations) for f in self.frames)

    def validate(self) -> None:
        """Check that the parts fit together; raises :class:`DatasetError` naming the first misfit."""
        keys = [s.key for s in self.sources]
        if len(set(keys)) != len(keys):
            raise DatasetError("two sources share a key")
        by_key = {s.key: s for s in self.sources}
        k = self.skeleton.num_keypoints
        seen: set[tuple[str, int]] = set()
        tracks = set(self.tracks)
        for f in self.frames:
            src = by_key.get(f.source)
            if src is None:
                raise DatasetError(f"a frame names source {f.source!r}, which the dataset lacks")
            n = src.frame_count
            if f.index < 0 or (n is not None and f.index >= n):
                raise DatasetError(f"frame {f.index} is outside source {f.source!r}")
            if (f.source, f.index) in seen:
                raise DatasetError(f"frame {f.index} of source {f.source!r} appears twice")
            seen.add((f.source, f.index))
            for a in f.annotations:
                if a.num_keypoints != k:
                    raise DatasetError(
                        f"an annotation on frame {f.index} of {f.source!r} has "
                        f"{a.num_keypoints} keypoints; the skeleton has {k}"
                    )
                if a.track is not None and a.track not in tracks:
                    raise DatasetError(f"track {a.track!r} is not in the dataset's tracks")
                if a.run is not None and a.run not in self.runs:
                    raise DatasetError(f"model run {a.run!r} is not in the dataset's runs")
