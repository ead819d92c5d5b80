"""Annotation values: instances and their keypoints.

An :class:`Instance` is immutable and its arrays are read-only, so it can cross thread
boundaries and sit in undo commands without copies. Edits make new instances
(:meth:`Instance.replace`, :meth:`Instance.with_keypoint`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any

import numpy as np


class Visibility(IntEnum):
    """COCO visibility: 0 unlabeled (x=y=0 in COCO files), 1 labeled but hidden, 2 visible."""

    UNLABELED = 0
    OCCLUDED = 1
    VISIBLE = 2

    def next_in_cycle(self) -> Visibility:
        """The window's visibility cycle 2 -> 1 -> 0 -> 2."""
        return Visibility((int(self) - 1) % 3)


class Provenance(IntEnum):
    """Where one keypoint's position came from."""

    USER = 0
    PREDICTED = 1
    INTERPOLATED = 2
    PROPAGATED = 3


class InstanceKind(str, Enum):
    USER = "user"
    PREDICTED = "predicted"


BBox = tuple[float, float, float, float]  # x, y, w, h (COCO convention)


def _ro(a: Any, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.array(a, dtype=dtype, copy=True).reshape(shape)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Instance:
    """One animal/person on one frame.

    Attributes:
        xy: ``(K, 2)`` float64 image coordinates (pixel centres at integers, COCO convention).
        visibility: ``(K,)`` uint8 :class:`Visibility` codes.
        kind: User label or model prediction. Predictions are never edited in place.
        kp_scores: ``(K,)`` float32 per-keypoint confidences (predictions), else None.
        provenance: ``(K,)`` uint8 :class:`Provenance` codes.
        score: Instance confidence (predictions).
        bbox: ``(x, y, w, h)``; None means "derive from the keypoints".
        track_id: Store id of the track, if tracked.
        id: Store id; None until the instance is stored.
        source_id: For a user instance made by accepting a prediction, that prediction's id.
        model_run_id: For a prediction, the model run that made it.
        version: The stored row's version when read (None: never stored); an edit made from
            this value is refused when the store holds a newer one.
        edited_by: Who wrote the stored row last (None: a model, or not known).

    ``version`` and ``edited_by`` describe the stored copy, not the pose: :meth:`same_values`
    ignores them.
    """

    xy: np.ndarray
    visibility: np.ndarray
    kind: InstanceKind = InstanceKind.USER
    kp_scores: np.ndarray | None = None
    provenance: np.ndarray | None = None
    score: float | None = None
    bbox: BBox | None = None
    track_id: int | None = None
    id: int | None = None
    source_id: int | None = None
    model_run_id: int | None = None
    version: int | None = None
    edited_by: str | None = None

    def __post_init__(self) -> None:
        xy = np.asarray(self.xy, dtype=np.float64)
        k = xy.size // 2
        set_ = object.__setattr__
        set_(self, "xy", _ro(xy, np.float64, (k, 2)))
        set_(self, "visibility", _ro(self.visibility, np.uint8, (k,)))
        set_(self, "kind", InstanceKind(self.kind))
        if self.kp_scores is not None:
            set_(self, "kp_scores", _ro(self.kp_scores, np.float32, (k,)))
        if self.provenance is None:
            code = Provenance.USER if self.kind is InstanceKind.USER else Provenance.PREDICTED
            set_(self, "provenance", _ro(np.full(k, int(code)), np.uint8, (k,)))
        else:
            set_(self, "provenance", _ro(self.provenance, np.uint8, (k,)))
        if self.bbox is not None:
            set_(self, "bbox", tuple(float(v) for v in self.bbox))
        if self.score is not None:
            set_(self, "score", float(self.score))

    # --- construction ----------------------------------------------------------------------------
    @classmethod
    def from_points(
        cls,
        points: Any,
        *,
        kind: InstanceKind = InstanceKind.USER,
        **kwargs: Any,
    ) -> Instance:
        """From ``(K, 3)`` rows of ``x, y, v`` (COCO style) or ``(K, 2)`` (all visible)."""
        p = np.asarray(points, dtype=np.float64)
        if p.ndim == 1:
            p = p.reshape(-1, 3)
        vis = p[:, 2] if p.shape[1] >= 3 else np.full(len(p), 2.0)
        return cls(xy=p[:, :2], visibility=vis.astype(np.uint8), kind=kind, **kwargs)

    # --- queries ---------------------------------------------------------------------------------
    @property
    def num_keypoints(self) -> int:
        return int(self.xy.shape[0])

    @property
    def is_prediction(self) -> bool:
        return self.kind is InstanceKind.PREDICTED

    @property
    def labeled(self) -> np.ndarray:
        """Boolean mask of keypoints with visibility > 0."""
        return self.visibility > 0

    def keypoint_bbox(self) -> BBox | None:
        """Tight ``(x, y, w, h)`` box around the labeled keypoints, or None if there are none."""
        pts = self.xy[self.labeled]
        if len(pts) == 0:
            return None
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return (float(x0), float(y0), float(x1 - x0), float(y1 - y0))

    def box(self) -> BBox | None:
        """The stored box, else the keypoint box."""
        return self.bbox if self.bbox is not None else self.keypoint_bbox()

    def mean_score(self) -> float | None:
        if self.score is not None:
            return self.score
        if self.kp_scores is None:
            return None
        m = self.labeled
        return float(self.kp_scores[m].mean()) if m.any() else None

    def same_values(self, other: Instance, *, atol: float = 0.0) -> bool:
        """Equal keypoints and attributes (ids included); for tests and undo checks."""
        # Cheap checks first, and exact array equality before the tolerant one: an undo checks
        # every instance of a batch (thousands for a tracking run) this way.
        if self.num_keypoints != other.num_keypoints:
            return False
        if (self.kind, self.score, self.bbox, self.track_id, self.id, self.source_id,
                self.model_run_id) != (other.kind, other.score, other.bbox, other.track_id,
                                       other.id, other.source_id, other.model_run_id):
            return False
        if not (np.array_equal(self.xy, other.xy) if atol == 0.0 else
                np.allclose(self.xy, other.xy, atol=atol, rtol=0.0)):
            return False
        if not np.array_equal(self.visibility, other.visibility):
            return False
        if not np.array_equal(self.provenance, other.provenance):  # type: ignore[arg-type]
            return False
        a, b = self.kp_scores, other.kp_scores
        if (a is None) != (b is None):
            return False
        return a is None or np.array_equal(a, b) or bool(np.allclose(a, b, atol=1e-6))  # type: ignore[arg-type]

    # --- edits (new values) ----------------------------------------------------------------------
    def replace(self, **changes: Any) -> Instance:
        return dataclasses.replace(self, **changes)

    def with_keypoint(
        self,
        k: int,
        *,
        xy: tuple[float, float] | None = None,
        visibility: int | None = None,
        provenance: Provenance = Provenance.USER,
    ) -> Instance:
        """A copy with keypoint ``k`` moved and/or its visibility set (marked as a user edit)."""
        new_xy = self.xy.copy()
        new_vis = self.visibility.copy()
        prov = np.array(self.provenance, copy=True)
        if xy is not None:
            new_xy[k] = xy
        if visibility is not None:
            new_vis[k] = int(Visibility(visibility))
        prov[k] = int(provenance)
        return self.replace(xy=new_xy, visibility=new_vis, provenance=prov)

    def translated(self, dx: float, dy: float) -> Instance:
        """Moved as a whole (labeled keypoints and box)."""
        new_xy = self.xy.copy()
        new_xy[self.labeled] += (dx, dy)
        bbox = self.bbox
        if bbox is not None:
            bbox = (bbox[0] + dx, bbox[1] + dy, bbox[2], bbox[3])
        return self.replace(xy=new_xy, bbox=bbox)

    def as_user_copy(self) -> Instance:
        """A user instance made from this prediction (the "accept" action), linked to it."""
        return Instance(
            xy=self.xy,
            visibility=self.visibility,
            kind=InstanceKind.USER,
            kp_scores=None,
            provenance=self.provenance,
            score=None,
            bbox=self.bbox,
            track_id=self.track_id,
            id=None,
            source_id=self.id,
            model_run_id=None,
        )


@dataclass(frozen=True)
class FrameRef:
    """A frame of a video in a project."""

    video_id: int
    frame_idx: int
