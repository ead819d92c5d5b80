"""Track queries the Tracks panel and the track verbs need (reads only; tracks change through
the edit journal: ``core.edits.TrackChange``).

A track is project-wide (one person across videos, if the user says so); its span is per
video. Predictions count only from the video's shown model run, as everywhere else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection

from pose_studio.core.annotation import Instance
from pose_studio.store.codec import READ_COLUMNS, instance_from_row
from pose_studio.store.ids import handed_out
from pose_studio.store.schema import KIND_USER

__all__ = ["TrackSpan", "next_track_id", "track_counts", "track_instances", "track_spans"]


class _Readable(Protocol):
    def _read(self) -> contextlib.AbstractContextManager[Connection]: ...


@dataclass(frozen=True)
class TrackSpan:
    """A track and where it is on one video: ``first``/``last`` frame (None: not on this
    video), how many labels and predictions."""

    track_id: int
    name: str
    first: int | None = None
    last: int | None = None
    n_user: int = 0
    n_predicted: int = 0

    @property
    def on_video(self) -> bool:
        return self.first is not None

    def span_text(self) -> str:
        if self.first is None:
            return "not on this video"
        return f"{self.first}–{self.last}" if self.last != self.first else f"{self.first}"


def track_spans(project: _Readable, video_id: int | None) -> list[TrackSpan]:
    """Every track of the project, in id order, with its span on ``video_id``."""
    with project._read() as conn:
        names = conn.exec_driver_sql("SELECT id, name FROM tracks ORDER BY id").fetchall()
        rows = [] if video_id is None else conn.exec_driver_sql(
            "SELECT track_id, min(frame_idx), max(frame_idx), "
            f"sum(CASE WHEN kind = {KIND_USER} THEN 1 ELSE 0 END), "
            f"sum(CASE WHEN kind != {KIND_USER} THEN 1 ELSE 0 END) FROM instances "
            "WHERE video_id = ? AND track_id IS NOT NULL "
            f"AND (kind = {KIND_USER} OR model_run_id IS (SELECT run_id FROM shown_runs "
            "WHERE shown_runs.video_id = instances.video_id)) GROUP BY track_id",
            (video_id,)).fetchall()
    spans = {int(r[0]): (int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows}
    out = []
    for tid, name in names:
        s = spans.get(int(tid))
        out.append(TrackSpan(int(tid), str(name)) if s is None else
                   TrackSpan(int(tid), str(name), s[0], s[1], s[2], s[3]))
    return out


def next_track_id(project: _Readable, count: int = 1) -> list[int]:
    """``count`` track ids no track ever had (the table never hands an id out twice, so a
    track created by an edit keeps its id through undo and redo)."""
    with project._read() as conn:
        if conn.dialect.name == "postgresql":
            # Several annotators: take them from the sequence (nextval is never rolled back),
            # so two people's new tracks never get the same id.
            return [int(r[0]) for r in conn.exec_driver_sql(
                "SELECT nextval(pg_get_serial_sequence('tracks', 'id')) "
                "FROM generate_series(1, ?)", (int(count),)).fetchall()]
        seq = handed_out(conn, "tracks")
        top = conn.exec_driver_sql("SELECT max(id) FROM tracks").scalar()
    start = max(seq, int(top or 0)) + 1
    return list(range(start, start + count))


def track_instances(project: _Readable, track_ids: Iterable[int], video_id: int | None = None,
                    from_frame: int | None = None) -> list[tuple[int, int, Instance]]:
    """``(video_id, frame, instance)`` of every instance of these tracks (labels and the
    predictions of every model run: an identity belongs to all of them), in video, frame, id
    order; only ``video_id``'s and frames from ``from_frame`` on, when given."""
    ids = sorted({int(t) for t in track_ids})
    if not ids:
        return []
    sql = (f"SELECT video_id, frame_idx, {', '.join(READ_COLUMNS)} FROM instances "
           f"WHERE track_id IN ({', '.join('?' * len(ids))})")
    params: list[int] = list(ids)
    if video_id is not None:
        sql += " AND video_id = ?"
        params.append(int(video_id))
        if from_frame is not None:
            sql += " AND frame_idx >= ?"
            params.append(int(from_frame))
    with project._read() as conn:
        rows = conn.exec_driver_sql(sql + " ORDER BY video_id, frame_idx, id",
                                    tuple(params)).fetchall()
    return [(int(r[0]), int(r[1]), instance_from_row(r[2:])) for r in rows]


def track_counts(project: _Readable, track_ids: Iterable[int]) -> dict[int, int]:
    """How many instances (every video, every run) point at each of these tracks."""
    ids = sorted({int(t) for t in track_ids})
    if not ids:
        return {}
    with project._read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT track_id, count(*) FROM instances WHERE track_id IN "
            f"({', '.join('?' * len(ids))}) GROUP BY track_id", tuple(ids)).fetchall()
    out = dict.fromkeys(ids, 0)
    out.update({int(t): int(n) for t, n in rows})
    return out
