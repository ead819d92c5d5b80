"""Reading the instances of a span of frames in one query (the window's pose trails)."""

from __future__ import annotations

from typing import Any

from pose_studio.core.annotation import Instance
from pose_studio.store import runs
from pose_studio.store.codec import READ_COLUMNS, instance_from_row
from pose_studio.store.journal_base import JournalHost

__all__ = ["instances_between"]


def instances_between(host: JournalHost, video_id: int, start: int, stop: int
                      ) -> list[tuple[int, Instance]]:
    """``(frame_idx, instance)`` of frames ``[start, stop)`` of a video, by frame then id: the
    labels and the predictions of the run the video shows (as ``Project.instances``)."""
    sql = (f"SELECT frame_idx, {', '.join(READ_COLUMNS)} FROM instances "
           "WHERE video_id = ? AND frame_idx >= ? AND frame_idx < ?")
    params: tuple[Any, ...] = (video_id, int(start), int(stop))
    sql, params = runs.filter_sql(sql, params, "shown")
    with host._read() as conn:
        rows = conn.exec_driver_sql(sql + " ORDER BY frame_idx, id", params).fetchall()
    return [(int(r[0]), instance_from_row(r[1:])) for r in rows]
