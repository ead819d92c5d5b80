"""Per-frame summaries (counts, min/mean prediction score) kept in chunked blobs.

Every write that adds, changes or removes instances refreshes the touched frames inside the same
transaction, so :func:`read_arrays` is always exact and costs one blob per ``SUMMARY_CHUNK``
frames (about 4000 blob reads for a million-frame video, ~50 ms).

The summaries count the user instances and the predictions of the model run the video shows
(``shown_runs``, see ``runs.py``): the predictions of other runs are kept but not counted.
A ``view`` is that run's id (None: predictions without a run), or :data:`ALL_PREDICTIONS`
(schemas before the table existed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from sqlalchemy import Connection

from pose_studio.store import server
from pose_studio.store.records import FrameArrays
from pose_studio.store.schema import KIND_USER

__all__ = [
    "ALL_PREDICTIONS",
    "SUMMARY_CHUNK",
    "SUMMARY_DTYPE",
    "SummaryDamaged",
    "add_predicted",
    "arrays_from_instances",
    "clear_predicted",
    "load_chunks",
    "predicted_counts",
    "read_arrays",
    "rebuild_all",
    "rebuild_video",
    "refresh_frames",
    "shown_view",
]

SUMMARY_CHUNK = 256  # frames per blob (6 KiB): one edit rewrites ~2 pages
SUMMARY_DTYPE = np.dtype(
    [("n_user", "<i4"), ("n_pred", "<i4"), ("n_scored", "<i4"), ("min", "<f4"), ("sum", "<f8")]
)
# Above this many touched frames in one chunk, recompute the whole chunk with one range query.
_WHOLE_CHUNK = 64


_CHUNK_BYTES = SUMMARY_CHUNK * SUMMARY_DTYPE.itemsize


class _All:
    def __repr__(self) -> str:
        return "ALL_PREDICTIONS"


#: a view that counts every prediction (files whose schema has no ``shown_runs`` yet)
ALL_PREDICTIONS: Any = _All()
View = Any  # int | None | ALL_PREDICTIONS

_ROWS = "SELECT frame_idx, kind, summary_score FROM instances WHERE video_id = ?"
_UPSERT = ("INSERT INTO frame_summary (video_id, chunk, data) VALUES (?, ?, ?) "
           "ON CONFLICT (video_id, chunk) DO UPDATE SET data = excluded.data")


def shown_view(conn: Connection, video_id: int) -> View:
    """The run whose predictions the video's summaries count (None: predictions without a
    run, also when the video has no predictions)."""
    return conn.exec_driver_sql("SELECT run_id FROM shown_runs WHERE video_id = ?",
                                (video_id,)).scalar()


def _filter(view: View) -> tuple[str, tuple[Any, ...]]:
    if view is ALL_PREDICTIONS:
        return "", ()
    return " AND (kind = 0 OR model_run_id IS ?)", (view,)


def _has_shown_runs(conn: Connection) -> bool:
    if conn.dialect.name != "sqlite":  # a database is never older than format 8
        return True
    return conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'shown_runs'").first() \
        is not None


class SummaryDamaged(Exception):
    """A summary blob of the wrong size (another build's chunk layout, or damage)."""


def _decode(blob: bytes | None) -> np.ndarray | None:
    """A chunk's writable records, or None when the blob does not have the expected size."""
    if blob is None or len(blob) != _CHUNK_BYTES:
        return None
    return np.frombuffer(blob, dtype=SUMMARY_DTYPE).copy()


def _chunk_from_instances(conn: Connection, video_id: int, chunk: int, view: View
                          ) -> np.ndarray:
    base = chunk * SUMMARY_CHUNK
    where, extra = _filter(view)
    rows = conn.exec_driver_sql(
        _ROWS + " AND frame_idx >= ? AND frame_idx < ?" + where,
        (video_id, base, base + SUMMARY_CHUNK, *extra),
    ).fetchall()
    rec = _empty(SUMMARY_CHUNK)
    f, k, sc = _rows_to_arrays(rows)  # type: ignore[arg-type]
    _accumulate(rec, f - base, k, sc)
    return rec


def _empty(n: int) -> np.ndarray:
    rec = np.zeros(n, dtype=SUMMARY_DTYPE)
    rec["min"] = np.nan
    return rec


def _accumulate(rec: np.ndarray, offsets: np.ndarray, kinds: np.ndarray, scores: np.ndarray) -> None:
    user = kinds == KIND_USER
    np.add.at(rec["n_user"], offsets[user], 1)
    pred = ~user
    np.add.at(rec["n_pred"], offsets[pred], 1)
    scored = pred & ~np.isnan(scores)
    s = scores[scored]
    np.add.at(rec["n_scored"], offsets[scored], 1)
    with np.errstate(over="ignore"):  # absurd scores saturate to inf
        np.add.at(rec["sum"], offsets[scored], s)
        np.fmin.at(rec["min"], offsets[scored], s.astype(np.float32))


def _num(v: object) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else np.nan


def _rows_to_arrays(rows: list[tuple[int, int, float | None]]) -> tuple[np.ndarray, ...]:
    # Rows that cannot be counted (damage: a frame or kind that is not a number) are left out;
    # they are reported when the instances themselves are read.
    rows = [r for r in rows if isinstance(r[0], int) and r[0] >= 0 and r[1] in (0, 1)]
    if not rows:
        z = np.zeros(0, dtype=np.int64)
        return z, z, np.zeros(0, dtype=np.float64)
    frames = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    kinds = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    scores = np.fromiter((_num(r[2]) for r in rows), dtype=np.float64, count=len(rows))
    return frames, kinds, scores


def _load_chunk(conn: Connection, video_id: int, chunk: int, view: View) -> np.ndarray:
    blob = conn.exec_driver_sql(
        "SELECT data FROM frame_summary WHERE video_id = ? AND chunk = ?", (video_id, chunk)
    ).scalar()
    if blob is None:
        return _empty(SUMMARY_CHUNK)
    rec = _decode(blob)
    return rec if rec is not None else _chunk_from_instances(conn, video_id, chunk, view)


def _store_chunk(conn: Connection, video_id: int, chunk: int, rec: np.ndarray) -> None:
    if not (rec["n_user"].any() or rec["n_pred"].any()):
        conn.exec_driver_sql(
            "DELETE FROM frame_summary WHERE video_id = ? AND chunk = ?", (video_id, chunk)
        )
        return
    conn.exec_driver_sql(_UPSERT, (video_id, chunk, rec.tobytes()))


def refresh_frames(conn: Connection, video_id: int, frames: Iterable[int],
                   view: View | None = None, *, lookup: bool = True) -> None:
    """Recompute the summary of ``frames`` of ``video_id`` from the instances table (counting
    the shown run's predictions: ``view``, looked up when not given)."""
    fr = np.unique(np.fromiter(frames, dtype=np.int64))
    if fr.size == 0:
        return
    server.lock_videos(conn, (video_id,))
    server.note_change(conn, "instances", video_id, fr.tolist())
    if view is None and lookup:
        view = shown_view(conn, video_id)
    where, extra = _filter(view)
    chunks = fr // SUMMARY_CHUNK
    bounds = np.flatnonzero(np.diff(chunks)) + 1
    for group in np.split(fr, bounds):
        chunk = int(group[0] // SUMMARY_CHUNK)
        base = chunk * SUMMARY_CHUNK
        if len(group) > _WHOLE_CHUNK:
            rows = conn.exec_driver_sql(
                _ROWS + " AND frame_idx >= ? AND frame_idx < ?" + where,
                (video_id, base, base + SUMMARY_CHUNK, *extra),
            ).fetchall()
            rec = _empty(SUMMARY_CHUNK)
        else:
            marks = ",".join("?" * len(group))
            rows = conn.exec_driver_sql(
                _ROWS + f" AND frame_idx IN ({marks})" + where,
                (video_id, *(int(f) for f in group), *extra),
            ).fetchall()
            rec = _load_chunk(conn, video_id, chunk, view)
            rec[group - base] = _empty(len(group))
        f, k, s = _rows_to_arrays(rows)  # type: ignore[arg-type]
        _accumulate(rec, f - base, k, s)
        _store_chunk(conn, video_id, chunk, rec)


def load_chunks(conn: Connection, video_id: int, frames: np.ndarray,
                view: View = ALL_PREDICTIONS) -> dict[int, np.ndarray]:
    """The summary records of every chunk ``frames`` fall in (one range query; writable);
    ``view`` rebuilds a damaged chunk."""
    if frames.size == 0:
        return {}
    chunks = np.unique(frames // SUMMARY_CHUNK)
    rows = conn.exec_driver_sql(
        "SELECT chunk, data FROM frame_summary WHERE video_id = ? AND chunk BETWEEN ? AND ?",
        (video_id, int(chunks[0]), int(chunks[-1])),
    ).fetchall()
    have = {c: d for c, d in rows}
    out = {}
    for c in chunks.tolist():
        blob = have.get(c)
        if blob is None:
            out[c] = _empty(SUMMARY_CHUNK)
        else:
            rec = _decode(blob)
            out[c] = rec if rec is not None else _chunk_from_instances(conn, video_id, c, view)
    return out


def predicted_counts(chunks: dict[int, np.ndarray], frames: np.ndarray) -> np.ndarray:
    """Predictions currently on each of ``frames``, from :func:`load_chunks` records."""
    out = np.zeros(len(frames), dtype=np.int64)
    which = frames // SUMMARY_CHUNK
    for chunk, rec in chunks.items():
        sel = which == chunk
        out[sel] = rec["n_pred"][frames[sel] - chunk * SUMMARY_CHUNK]
    return out


def add_predicted(
    conn: Connection,
    video_id: int,
    frames: np.ndarray,
    scores: np.ndarray,
    *,
    replace: bool,
    chunks: dict[int, np.ndarray] | None = None,
) -> None:
    """Update summaries for new predictions without re-reading them (bulk path).

    Args:
        frames: frame of each new prediction.
        scores: its summary score (NaN for none).
        replace: the frames' older predictions were deleted in this transaction.
        chunks: the records from :func:`load_chunks` for these frames, if already loaded.
    """
    if frames.size == 0:
        return
    server.lock_videos(conn, (video_id,))
    server.note_change(conn, "runs", video_id, frames.tolist())
    if chunks is None:
        chunks = load_chunks(conn, video_id, frames, shown_view(conn, video_id))
    order = np.argsort(frames, kind="stable")
    frames = frames[order]
    scores = scores[order]
    bounds = np.flatnonzero(np.diff(frames // SUMMARY_CHUNK)) + 1
    out = []
    for fr, sc in zip(np.split(frames, bounds), np.split(scores, bounds)):
        chunk = int(fr[0] // SUMMARY_CHUNK)
        rec = chunks[chunk]
        off = fr - chunk * SUMMARY_CHUNK
        if replace:
            u = np.unique(off)
            rec["n_pred"][u] = 0
            rec["n_scored"][u] = 0
            rec["sum"][u] = 0.0
            rec["min"][u] = np.nan
        _accumulate(rec, off, np.ones(len(fr), dtype=np.int64), sc)
        out.append((video_id, chunk, rec.tobytes()))
    # Predictions were added, so no touched chunk is empty: plain upserts.
    conn.exec_driver_sql(_UPSERT, out)


def rebuild_all(conn: Connection) -> None:
    """Recompute every summary from scratch (migrations, repair)."""
    conn.exec_driver_sql("DELETE FROM frame_summary")
    runs_table = _has_shown_runs(conn)
    for (video_id,) in conn.exec_driver_sql("SELECT DISTINCT video_id FROM instances").fetchall():
        view = shown_view(conn, video_id) if runs_table else ALL_PREDICTIONS
        frames = conn.exec_driver_sql(
            "SELECT DISTINCT frame_idx FROM instances WHERE video_id = ?", (video_id,)
        ).fetchall()
        refresh_frames(conn, video_id, (f for (f,) in frames), view, lookup=False)


def rebuild_video(conn: Connection, video_id: int) -> None:
    """Recompute one video's summary from its instances (repair of a damaged summary, another
    run shown)."""
    server.lock_videos(conn, (video_id,))
    server.note_change(conn, "runs", video_id)
    conn.exec_driver_sql("DELETE FROM frame_summary WHERE video_id = ?", (video_id,))
    frames = conn.exec_driver_sql(
        "SELECT DISTINCT frame_idx FROM instances WHERE video_id = ?", (video_id,)
    ).fetchall()
    refresh_frames(conn, video_id, (f for (f,) in frames), shown_view(conn, video_id),
                   lookup=False)


def clear_predicted(conn: Connection, video_id: int) -> None:
    """Zero the prediction part of a video's summaries (a run with no predictions yet becomes
    the shown one), keeping the user counts; reads the chunks only, never the instances."""
    server.lock_videos(conn, (video_id,))
    server.note_change(conn, "runs", video_id)
    rows = conn.exec_driver_sql(
        "SELECT chunk, data FROM frame_summary WHERE video_id = ?", (video_id,)).fetchall()
    for chunk, data in rows:
        rec = _decode(data)
        if rec is None:
            rebuild_video(conn, video_id)
            return
        rec["n_pred"] = 0
        rec["n_scored"] = 0
        rec["sum"] = 0.0
        rec["min"] = np.nan
        _store_chunk(conn, video_id, int(chunk), rec)


def arrays_from_instances(conn: Connection, video_id: int, frame_count: int,
                          view: View | None = None, *, lookup: bool = True) -> FrameArrays:
    """:func:`read_arrays` computed from the instances table (read-only repair path; other
    runs than the shown one: ``view``)."""
    if view is None and lookup:
        view = shown_view(conn, video_id)
    where, extra = _filter(view)
    rows = conn.exec_driver_sql(
        _ROWS + " AND frame_idx >= 0 AND frame_idx < ?" + where, (video_id, frame_count, *extra)
    ).fetchall()
    f, k, sc = _rows_to_arrays(rows)  # type: ignore[arg-type]
    rec = _empty(frame_count)
    _accumulate(rec, f, k, sc)
    return _to_arrays(rec[:frame_count])


def read_arrays(conn: Connection, video_id: int, frame_count: int) -> FrameArrays:
    """The per-frame arrays of one video (length ``frame_count``).

    Raises:
        SummaryDamaged: a stored chunk is inconsistent (rebuild with :func:`rebuild_video`).
    """
    rows = conn.exec_driver_sql(
        "SELECT chunk, data FROM frame_summary WHERE video_id = ?", (video_id,)
    ).fetchall()
    # Only the chunks that cover the video are read: a stray chunk number (damage, or frames
    # stored beyond a video of unknown length) must not size the arrays.
    n_chunks = frame_count // SUMMARY_CHUNK + 1
    rec = _empty(n_chunks * SUMMARY_CHUNK)
    for chunk, data in rows:
        if not isinstance(chunk, int) or chunk < 0 or not isinstance(data, bytes) or \
                len(data) != _CHUNK_BYTES:
            raise SummaryDamaged(f"video {video_id} chunk {chunk}")
        if chunk >= n_chunks:
            continue
        rec[chunk * SUMMARY_CHUNK : (chunk + 1) * SUMMARY_CHUNK] = np.frombuffer(
            data, dtype=SUMMARY_DTYPE
        )
    return _to_arrays(rec[:frame_count])


def _to_arrays(rec: np.ndarray) -> FrameArrays:
    n_user = np.ascontiguousarray(rec["n_user"])
    n_pred = np.ascontiguousarray(rec["n_pred"])
    n_scored = rec["n_scored"]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        mean = (rec["sum"] / n_scored).astype(np.float32)
    mean[n_scored == 0] = np.nan
    mn = np.ascontiguousarray(rec["min"])
    mn[n_scored == 0] = np.nan
    return FrameArrays(
        labeled=n_user > 0,
        predicted=n_pred > 0,
        min_score=mn,
        mean_score=mean,
        n_user=n_user,
        n_predicted=n_pred,
    )
