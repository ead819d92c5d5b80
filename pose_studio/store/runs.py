"""Model runs side by side: the predictions of every run are kept; each video shows one run
(its newest by default, or the one the user chose) and may show a second beside it (A/B).

The frame summaries count the shown run's predictions (``summary.py``), so whole-video arrays,
``Project.instances`` and ``Project.iter_instances`` agree with what the window shows. A run
that has not predicted on a video yet becomes its shown run with its first predictions there
(unless the user chose one), so a new model run is what one sees by default.

These functions take the caller's connection: they run inside its transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection

from pose_studio.store import sqlport, summary
from pose_studio.store.errors import ProjectError
from pose_studio.store.schema import KIND_PREDICTED

__all__ = ["RunInfo", "RunKeypoints", "ShownRuns", "filter_sql", "follow_newest",
           "model_label", "prepare_write", "read_keypoints", "run_infos", "set_shown", "shown"]


@dataclass(frozen=True)
class ShownRuns:
    """What a video shows: ``run_id`` (None: predictions without a run), a second run for
    A/B (``compare_run_id``), and whether the user chose it (``pinned``; else the newest)."""

    video_id: int
    run_id: int | None
    compare_run_id: int | None = None
    pinned: bool = False


@dataclass(frozen=True)
class RunInfo:
    """A model run's predictions on one video (``run_id`` None: predictions without a run)."""

    run_id: int | None
    video_id: int
    instances: int
    frames: int
    first_frame: int
    last_frame: int
    model_path: str = ""
    model_name: str = ""
    created_at: float = 0.0
    params: dict[str, Any] | None = None


@dataclass(frozen=True, eq=False)
class RunKeypoints:
    """All instances of one kind/run on a video as flat arrays, in frame order.

    ``frames (N,)``, ``ids (N,)``, ``xy (N, K, 2)``, ``vis (N, K)``, ``kp_scores (N, K)`` (NaN
    when absent), ``score (N,)`` (the instance score, else the mean keypoint score, else NaN),
    ``boxes (N, 4)`` x, y, w, h (NaN when absent).
    """

    frames: np.ndarray
    ids: np.ndarray
    xy: np.ndarray
    vis: np.ndarray
    kp_scores: np.ndarray
    score: np.ndarray
    boxes: np.ndarray

    def __len__(self) -> int:
        return int(self.frames.shape[0])


def filter_sql(sql: str, params: tuple[Any, ...], run: Any) -> tuple[str, tuple[Any, ...]]:
    """Add the predictions filter of ``run`` (``"shown"``, ``"all"``, a run id, None) to a
    query on the ``instances`` table."""
    if run == "all":
        return sql, params
    if run == "shown":
        return (sql + f" AND (kind <> {KIND_PREDICTED} OR model_run_id IS (SELECT run_id FROM "
                "shown_runs WHERE shown_runs.video_id = instances.video_id))", params)
    return sql + f" AND (kind <> {KIND_PREDICTED} OR model_run_id IS ?)", (*params, run)


def shown(conn: Connection, video_id: int) -> ShownRuns:
    row = conn.exec_driver_sql(
        "SELECT run_id, compare_run_id, pinned FROM shown_runs WHERE video_id = ?", (video_id,)
    ).first()
    if row is None:
        return ShownRuns(video_id, None)
    return ShownRuns(video_id, row[0], row[1], bool(row[2]))


def _store(conn: Connection, s: ShownRuns) -> None:
    conn.exec_driver_sql(
        "INSERT INTO shown_runs (video_id, run_id, compare_run_id, pinned) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (video_id) DO UPDATE SET run_id = excluded.run_id, "
        "compare_run_id = excluded.compare_run_id, pinned = excluded.pinned", (s.video_id, s.run_id, s.compare_run_id, int(s.pinned)))


def _has_predictions(conn: Connection, video_id: int, run_id: int | None) -> bool:
    return conn.exec_driver_sql(
        "SELECT 1 FROM instances WHERE video_id = ? AND kind = 1 AND model_run_id IS ? LIMIT 1",
        (video_id, run_id)).first() is not None


def _show(conn: Connection, s: ShownRuns) -> None:
    """Store ``s`` and recount the summaries for its run (fast when it has no predictions)."""
    _store(conn, s)
    if _has_predictions(conn, s.video_id, s.run_id):
        summary.rebuild_video(conn, s.video_id)
    else:
        summary.clear_predicted(conn, s.video_id)


def prepare_write(conn: Connection, video_id: int, run_id: int | None) -> bool:
    """Before predictions of ``run_id`` are written to a video: make it the shown run when the
    video follows its newest run and this one is newer. Returns whether ``run_id`` is shown
    (then the caller updates the summaries for what it writes)."""
    cur = conn.exec_driver_sql(
        "SELECT run_id, compare_run_id, pinned FROM shown_runs WHERE video_id = ?", (video_id,)
    ).first()
    if cur is None:  # no run shown yet: the summaries count predictions without a run
        if run_id is None:
            _store(conn, ShownRuns(video_id, None))
        else:
            _show(conn, ShownRuns(video_id, run_id))
        return True
    shown_id, compare, pinned = cur[0], cur[1], bool(cur[2])
    if shown_id == run_id:
        return True
    if not pinned and run_id is not None and (shown_id is None or run_id > shown_id):
        _show(conn, ShownRuns(video_id, run_id, compare, False))
        return True
    return False


def follow_newest(conn: Connection, video_id: int) -> None:
    """A video that follows its newest run shows the newest run with predictions on it (after
    an import or a deletion); nothing changes for a run the user chose."""
    cur = shown(conn, video_id)
    if cur.pinned:
        return
    row = conn.exec_driver_sql(
        "SELECT max(model_run_id), count(*) FROM instances WHERE video_id = ? AND kind = 1",
        (video_id,)).first()
    newest, n = (row[0], int(row[1])) if row is not None else (None, 0)
    if n == 0:
        conn.exec_driver_sql("DELETE FROM shown_runs WHERE video_id = ?", (video_id,))
        return
    if newest != cur.run_id or conn.exec_driver_sql(
            "SELECT 1 FROM shown_runs WHERE video_id = ?", (video_id,)).first() is None:
        # never one run as A and B: the newest was B, so the old A becomes B
        comp = cur.compare_run_id if cur.compare_run_id != newest else cur.run_id
        _show(conn, ShownRuns(video_id, newest, comp, False))


def set_shown(conn: Connection, video_id: int, run: int | str | None,
              compare: int | str | None = "keep") -> ShownRuns:
    """Show ``run`` (``"newest"``: follow the newest run again) and, unless ``compare`` is
    ``"keep"``, ``compare`` beside it (None: no second run).

    Raises:
        ProjectError: a run without predictions on this video (the message lists those with).
    """
    cur = shown(conn, video_id)

    def check(r: int | None, what: str) -> None:
        # one indexed probe; the runs are only aggregated for the refusal's message (that
        # aggregation was half of an A/B switch on 10k frames, on the GUI thread)
        if not _has_predictions(conn, video_id, r):
            have = {i.run_id for i in run_infos(conn, video_id)}
            listed = ", ".join("none" if x is None else str(x) for x in sorted(
                have, key=lambda x: -1 if x is None else x)) or "none"
            name = "predictions without a run" if r is None else f"model run {r}"
            raise ProjectError(f"video {video_id} has no {name} to show as {what} (runs with "
                               f"predictions there: {listed}); nothing was changed")

    comp = cur.compare_run_id if compare == "keep" else compare
    if comp is not None:
        assert not isinstance(comp, str)
        check(comp, "the second run")
    if run == "newest":
        _store(conn, ShownRuns(video_id, cur.run_id, comp if isinstance(comp, int) else None,
                               False))
        follow_newest(conn, video_id)
        return shown(conn, video_id)
    assert not isinstance(run, str)
    check(run, "the shown run")
    new = ShownRuns(video_id, run, comp if isinstance(comp, int) else None, True)
    if run != cur.run_id:
        _show(conn, new)
    else:
        _store(conn, new)
    return new


def run_infos(conn: Connection, video_id: int | None = None) -> list[RunInfo]:
    """Per (run, video): how many predictions on how many frames, and which model made them."""
    where = " AND video_id = ?" if video_id is not None else ""
    rows = conn.exec_driver_sql(
        "SELECT i.model_run_id, i.video_id, count(*), count(DISTINCT i.frame_idx), "
        "min(i.frame_idx), max(i.frame_idx), r.model_path, r.params_json, r.created_at "
        "FROM instances i LEFT JOIN model_runs r ON r.id = i.model_run_id "
        f"WHERE i.kind = 1{where} GROUP BY i.model_run_id, i.video_id, r.id "
        "ORDER BY i.video_id, i.model_run_id",
        (video_id,) if video_id is not None else ()).fetchall()
    out = []
    for run_id, vid, n, nf, f0, f1, path, params_json, created in rows:
        try:
            params = json.loads(params_json) if params_json else None
        except ValueError:
            params = None
        out.append(RunInfo(run_id, int(vid), int(n), int(nf), int(f0), int(f1), path or "",
                           model_label(path or "", params), float(created or 0.0),
                           params if isinstance(params, dict) else None))
    return out


#: File names that say nothing of the model (mmdeploy SDK folders): the folder names it.
_GENERIC_STEMS = frozenset({"end2end", "model", "best", "last"})


def model_label(model_path: str, params: Any) -> str:
    """A run's model in a few words: the file's stem (its folder's name for ``end2end.onnx``
    and the like), with the card's name when that says something else (a converted copy keeps
    its original's card: ``hrnet-int8 (posestudio-hrnet-coco17)``)."""
    parts = str(model_path).replace("\\", "/").rstrip("/").split("/")
    stem = parts[-1].rsplit(".", 1)[0] if parts[-1] else ""
    if stem.lower() in _GENERIC_STEMS and len(parts) > 1 and parts[-2]:
        stem = parts[-2]
    pose = params.get("pose") if isinstance(params, dict) else None
    card = str(pose.get("name") or "") if isinstance(pose, dict) else ""
    if card.lower() in _GENERIC_STEMS:
        card = ""
    if not card or card == stem:
        return stem or card
    return f"{stem} ({card})" if stem else card


def read_keypoints(conn: Connection, video_id: int, *, kind: int, run: int | str | None = "any",
                   num_keypoints: int) -> RunKeypoints:
    """Every instance of ``kind`` (0 user, 1 predicted) on a video, as arrays; ``run`` filters
    predictions by model run (``"any"``: all runs)."""
    sql = ("SELECT frame_idx, id, score, bbox_x, bbox_y, bbox_w, bbox_h, xy, visibility, "
           "kp_scores FROM instances WHERE video_id = ? AND kind = ?")
    params: tuple[Any, ...] = (video_id, kind)
    if run != "any":
        sql += " AND model_run_id IS ?"
        params += (run,)
    # the raw DB-API cursor (same connection and transaction): plain tuples, no Row objects
    rows = sqlport.raw_rows(conn, sql + " ORDER BY frame_idx, id", params)
    n, k = len(rows), num_keypoints
    if n == 0:
        return RunKeypoints(np.zeros(0, np.int64), np.zeros(0, np.int64),
                            np.zeros((0, k, 2)), np.zeros((0, k), np.uint8),
                            np.zeros((0, k), np.float32), np.zeros(0), np.zeros((0, 4)))
    frames = np.fromiter((r[0] for r in rows), np.int64, n)
    ids = np.fromiter((r[1] for r in rows), np.int64, n)
    xy = np.frombuffer(b"".join(r[7] for r in rows), "<f8").reshape(n, k, 2)
    vis = np.frombuffer(b"".join(r[8] for r in rows), np.uint8).reshape(n, k)
    nan_k = b"\x00\x00\xc0\x7f" * k  # float32 NaN, little-endian
    kps = np.frombuffer(b"".join(r[9] if r[9] is not None else nan_k for r in rows),
                        "<f4").reshape(n, k)
    score = np.fromiter((np.nan if r[2] is None else r[2] for r in rows), np.float64, n)
    boxes = np.array([r[3:7] for r in rows], np.float64)  # None -> NaN
    missing = np.isnan(score)
    if missing.any():  # as Instance.mean_score(): mean score of the labeled keypoints
        with np.errstate(invalid="ignore"):
            lab = vis[missing] > 0
            sums = np.where(lab, np.nan_to_num(kps[missing]), 0.0).sum(1)
            cnt = lab.sum(1)
            score[missing] = np.where(cnt > 0, sums / np.maximum(cnt, 1), np.nan)
    return RunKeypoints(frames, ids, xy, vis, kps, score, boxes)
