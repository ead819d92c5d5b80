"""Conversion between core :class:`Instance` values and packed instance rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.store.errors import ProjectError
from pose_studio.store.schema import KIND_PREDICTED, KIND_USER

__all__ = ["INSERT_COLUMNS", "READ_COLUMNS", "instance_from_row", "instance_row"]

#: Column order of :func:`instance_row` tuples (the bulk insert and single inserts share it).
INSERT_COLUMNS: tuple[str, ...] = (
    "id", "video_id", "frame_idx", "kind", "score", "bbox_x", "bbox_y", "bbox_w", "bbox_h",
    "track_id", "source_id", "model_run_id", "created_at", "updated_at", "num_keypoints",
    "xy", "visibility", "provenance", "kp_scores", "summary_score",
)  # fmt: skip

#: Columns :func:`instance_from_row` expects, in order.
READ_COLUMNS: tuple[str, ...] = (
    "id", "kind", "score", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "track_id", "source_id",
    "model_run_id", "num_keypoints", "xy", "visibility", "provenance", "kp_scores",
)  # fmt: skip

_F8 = np.dtype("<f8")
_F4 = np.dtype("<f4")
_U1 = np.dtype("u1")


def _kind_code(kind: InstanceKind) -> int:
    return KIND_PREDICTED if kind is InstanceKind.PREDICTED else KIND_USER


def check_instance(inst: Instance, num_keypoints: int, where: str) -> None:
    """Reject values the file must never hold (wrong K, bad codes, NaN where a point is labeled)."""
    if inst.num_keypoints != num_keypoints:
        raise ProjectError(
            f"{where}: instance has {inst.num_keypoints} keypoints, the project skeleton has "
            f"{num_keypoints}"
        )
    vis = inst.visibility
    if vis.size and int(vis.max()) > 2:
        raise ProjectError(f"{where}: keypoint visibility must be 0, 1 or 2")
    prov = inst.provenance
    if prov is not None and prov.size and int(prov.max()) > 3:
        raise ProjectError(f"{where}: unknown keypoint provenance code {int(prov.max())}")
    labeled_xy = inst.xy[vis > 0]
    if labeled_xy.size and not np.isfinite(labeled_xy).all():
        raise ProjectError(f"{where}: a labeled keypoint has a non-finite coordinate")


def check_rows(rows: Sequence[tuple[Any, ...]], num_keypoints: int, where: str) -> None:
    """:func:`check_instance` for many rows of :func:`instance_row` at once (vectorised)."""
    if not rows:
        return
    ks = {r[14] for r in rows}
    if ks != {num_keypoints}:
        bad = next(iter(ks - {num_keypoints}))
        raise ProjectError(
            f"{where}: an instance has {bad} keypoints, the project skeleton has {num_keypoints}"
        )
    vis = np.frombuffer(b"".join(r[16] for r in rows), dtype=_U1)
    if vis.size and int(vis.max()) > 2:
        raise ProjectError(f"{where}: keypoint visibility must be 0, 1 or 2")
    prov = np.frombuffer(b"".join(r[17] for r in rows), dtype=_U1)
    if prov.size and int(prov.max()) > 3:
        raise ProjectError(f"{where}: unknown keypoint provenance code {int(prov.max())}")
    xy = np.frombuffer(b"".join(r[15] for r in rows), dtype=_F8).reshape(-1, 2)
    if not np.isfinite(xy[vis > 0]).all():
        raise ProjectError(f"{where}: a labeled keypoint has a non-finite coordinate")


def instance_row(
    inst: Instance,
    video_id: int,
    frame_idx: int,
    now: float,
    *,
    instance_id: int | None = None,
    model_run_id: int | None = None,
    kind: InstanceKind | None = None,
    new_id: bool = False,
) -> tuple[Any, ...]:
    """One row in :data:`INSERT_COLUMNS` order (``new_id``: id NULL, the table assigns one)."""
    bbox = inst.bbox
    kps = inst.kp_scores
    prov = inst.provenance
    assert prov is not None  # Instance fills it in
    mrun = inst.model_run_id if model_run_id is None else model_run_id
    return (
        None if new_id else (inst.id if instance_id is None else instance_id),
        video_id,
        frame_idx,
        _kind_code(inst.kind if kind is None else kind),
        inst.score,
        *(bbox if bbox is not None else (None, None, None, None)),
        inst.track_id,
        inst.source_id,
        mrun,
        now,
        now,
        inst.num_keypoints,
        inst.xy.tobytes(),  # Instance keeps xy as float64
        inst.visibility.tobytes(),
        prov.tobytes(),
        None if kps is None else kps.astype(_F4, copy=False).tobytes(),
        inst.mean_score(),
    )


def instance_from_row(row: Sequence[Any]) -> Instance:
    """An :class:`Instance` from a row of :data:`READ_COLUMNS`."""
    (iid, kind, score, bx, by, bw, bh, track_id, source_id, model_run_id, k, xy, vis, prov,
     kps) = row  # fmt: skip
    return Instance(
        xy=np.frombuffer(xy, dtype=_F8).reshape(k, 2),
        visibility=np.frombuffer(vis, dtype=_U1),
        kind=InstanceKind.PREDICTED if kind == KIND_PREDICTED else InstanceKind.USER,
        kp_scores=None if kps is None else np.frombuffer(kps, dtype=_F4),
        provenance=np.frombuffer(prov, dtype=_U1),
        score=score,
        bbox=None if bx is None else (bx, by, bw, bh),
        track_id=track_id,
        id=iid,
        source_id=source_id,
        model_run_id=model_run_id,
    )
