"""Conversion between core :class:`Instance` values and packed instance rows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.store.errors import ProjectError
from pose_studio.store.schema import KIND_PREDICTED, KIND_USER

__all__ = [
    "INSERT_COLUMNS",
    "MAX_KEYPOINTS",
    "READ_COLUMNS",
    "READ_SQL",
    "UPDATE_COLUMNS",
    "UPDATE_SQL",
    "instance_from_row",
    "instance_row",
    "instance_row_problem",
    "update_params",
    "validate_rows",
]

#: Column order of :func:`instance_row` tuples (the bulk insert and single inserts share it).
INSERT_COLUMNS: tuple[str, ...] = (
    "id", "video_id", "frame_idx", "kind", "score", "bbox_x", "bbox_y", "bbox_w", "bbox_h",
    "track_id", "source_id", "model_run_id", "created_at", "updated_at", "num_keypoints",
    "xy", "visibility", "provenance", "kp_scores", "summary_score", "version", "edited_by",
)  # fmt: skip
#: What an update writes (everything but id, video_id, frame_idx, created_at and the version,
#: which the update counts up itself).
UPDATE_COLUMNS: tuple[str, ...] = INSERT_COLUMNS[3:12] + INSERT_COLUMNS[13:20]
#: ``UPDATE`` of one instance: :func:`update_params` of its row, then who, then the id.
UPDATE_SQL = ("UPDATE instances SET " + ", ".join(f"{c} = ?" for c in UPDATE_COLUMNS)
              + ", version = version + 1, edited_by = ? WHERE id = ?")

#: Columns :func:`instance_from_row` expects, in order.
READ_COLUMNS: tuple[str, ...] = (
    "id", "kind", "score", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "track_id", "source_id",
    "model_run_id", "num_keypoints", "xy", "visibility", "provenance", "kp_scores",
    "version", "edited_by",
)  # fmt: skip

#: Most keypoints an instance may have (the read guard: no blob longer than this is fetched).
MAX_KEYPOINTS = 10000
_BLOB_LIMITS = {"xy": 16 * MAX_KEYPOINTS, "visibility": MAX_KEYPOINTS,
                "provenance": MAX_KEYPOINTS, "kp_scores": 4 * MAX_KEYPOINTS}
#: The SELECT list for :data:`READ_COLUMNS`. A blob longer than any valid row could hold is
#: read as an empty blob (reported as damage) instead of fetched, so a hostile row cannot make a
#: read allocate more than ~160 KiB (``length()`` of a blob does not read it).
READ_SQL = ", ".join(
    f"CASE WHEN {c} IS NULL OR length({c}) <= {_BLOB_LIMITS[c]} THEN {c} ELSE substr({c}, 1, 0) END"
    if c in _BLOB_LIMITS else c
    for c in READ_COLUMNS
)

_F8 = np.dtype("<f8")
_F4 = np.dtype("<f4")
_U1 = np.dtype("u1")


def _kind_code(kind: InstanceKind) -> int:
    return KIND_PREDICTED if kind is InstanceKind.PREDICTED else KIND_USER




def _bbox_ok(bbox: Any) -> bool:
    return bbox is None or all(isinstance(v, int | float) and math.isfinite(v) for v in bbox)


def check_instance(inst: Instance, num_keypoints: int, where: str) -> None:
    """Reject values the file must never hold (wrong K, bad codes, NaN where a point is labeled,
    a box that is not finite). The read side
    (:func:`instance_row_problem`) flags exactly what this refuses."""
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
    if not _bbox_ok(inst.bbox):
        raise ProjectError(f"{where}: the box has a non-finite value")


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
    labeled = xy[vis > 0]
    if not np.isfinite(labeled).all():
        raise ProjectError(f"{where}: a labeled keypoint has a non-finite coordinate")
    if not all(_bbox_ok(r[5:9]) for r in rows if r[5] is not None):
        raise ProjectError(f"{where}: a box has a non-finite value")


# --- reading: every row is validated before it becomes an Instance ------------------------------
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _structure_problem(row: Sequence[Any], num_keypoints: int) -> str | None:
    """Problems that need no array maths (codes, counts, blob lengths, types)."""
    (iid, kind, score, bx, by, bw, bh, track_id, source_id, model_run_id, k, xy, vis, prov,
     kps) = row[:15]  # fmt: skip
    if not _is_int(iid):
        return f"id {iid!r} is not an integer"
    if kind not in (KIND_USER, KIND_PREDICTED) or not _is_int(kind):
        return f"kind code {kind!r} (must be 0, user, or 1, predicted)"
    if not _is_int(k) or k != num_keypoints:
        return f"{k!r} keypoints, the project skeleton has {num_keypoints}"
    for label, blob, size in (("coordinates", xy, 16 * k), ("visibility", vis, k),
                              ("provenance", prov, k)):
        if not isinstance(blob, bytes):
            return f"{label} blob is missing or not a blob ({type(blob).__name__})"
        if len(blob) != size:
            return f"{label} blob of {len(blob)} bytes (must be {size} for {k} keypoints)"
    if kps is not None and (not isinstance(kps, bytes) or len(kps) != 4 * k):
        got = f"{len(kps)} bytes" if isinstance(kps, bytes) else type(kps).__name__
        return f"keypoint scores blob of {got} (must be {4 * k} bytes or NULL)"
    if score is not None and not isinstance(score, int | float):
        return f"score {score!r} is not a number"
    box = (bx, by, bw, bh)
    if any(v is not None for v in box) and not (
            all(isinstance(v, int | float) for v in box) and _bbox_ok(box)):
        return f"box {box!r} is not four finite numbers"
    for label, v in (("track", track_id), ("source", source_id), ("model run", model_run_id)):
        if v is not None and not _is_int(v):
            return f"{label} id {v!r} is not an integer"
    return None


def _content_problems(rows: Sequence[Sequence[Any]], k: int) -> dict[int, str]:
    """Codes and coordinates of structurally valid rows of ``k`` keypoints (vectorised)."""
    out: dict[int, str] = {}
    if not rows or k == 0:
        return out
    n = len(rows)
    vis = np.frombuffer(b"".join(r[12] for r in rows), dtype=_U1).reshape(n, k)
    prov = np.frombuffer(b"".join(r[13] for r in rows), dtype=_U1).reshape(n, k)
    xy = np.frombuffer(b"".join(r[11] for r in rows), dtype=_F8).reshape(n, k, 2)
    bad_vis = vis.max(axis=1) > 2
    bad_prov = prov.max(axis=1) > 3
    labeled = (vis > 0)[:, :, None]
    nonfinite = (~np.isfinite(xy) & labeled).any(axis=(1, 2))
    for idx in np.flatnonzero(bad_vis | bad_prov | nonfinite):
        i = int(idx)
        if bad_vis[i]:
            j = int(np.argmax(vis[i] > 2))
            out[i] = f"visibility code {int(vis[i, j])} on keypoint {j} (must be 0, 1 or 2)"
        elif bad_prov[i]:
            j = int(np.argmax(prov[i] > 3))
            out[i] = f"provenance code {int(prov[i, j])} on keypoint {j} (must be 0..3)"
        else:
            j = int(np.argmax((~np.isfinite(xy[i])).any(axis=1) & (vis[i] > 0)))
            out[i] = (f"labeled keypoint {j} has a non-finite coordinate "
                      f"({float(xy[i, j, 0])}, {float(xy[i, j, 1])})")
    return out


def instance_row_problem(row: Sequence[Any], num_keypoints: int) -> str | None:
    """What is wrong with one row of :data:`READ_COLUMNS` (None: nothing)."""
    return validate_rows([row], num_keypoints).get(0)


def validate_rows(rows: Sequence[Sequence[Any]], num_keypoints: int) -> dict[int, str]:
    """``{index: problem}`` for the rows of :data:`READ_COLUMNS` that cannot be right (wrong
    blob lengths or types, codes out of range, non-finite labeled coordinates or boxes).
    Vectorised: about a microsecond per valid row."""
    out: dict[int, str] = {}
    good: list[int] = []
    for i, r in enumerate(rows):
        why = _structure_problem(r, num_keypoints)
        if why is None:
            good.append(i)
        else:
            out[i] = why
    if good:
        content = _content_problems([rows[i] for i in good], num_keypoints)
        for j, why in content.items():
            out[good[j]] = why
    return out


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
    user: str | None = None,
    version: int = 1,
) -> tuple[Any, ...]:
    """One row in :data:`INSERT_COLUMNS` order (``new_id``: id NULL, the table assigns one;
    ``user``: who writes it; ``version``: the row's version)."""
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
        version,
        user,
    )


def update_params(row: Sequence[Any]) -> tuple[Any, ...]:
    """The values of :data:`UPDATE_COLUMNS` from an :func:`instance_row` row."""
    return (*row[3:12], *row[13:20])


def instance_from_row(row: Sequence[Any]) -> Instance:
    """An :class:`Instance` from a row of :data:`READ_COLUMNS`."""
    (iid, kind, score, bx, by, bw, bh, track_id, source_id, model_run_id, k, xy, vis, prov,
     kps) = row[:15]  # fmt: skip
    version, edited_by = (row[15], row[16]) if len(row) > 16 else (None, None)
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
        version=version if isinstance(version, int) else None,
        edited_by=edited_by if isinstance(edited_by, str) else None,
    )
