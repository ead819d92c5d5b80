"""Instances: the per-edit hot path in raw SQL, the frame summaries' whole-video arrays, the
export iteration and tracks (a mixin of :class:`~pose_studio.store.project.Project`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
from sqlalchemy import Connection, select

from pose_studio.core.annotation import FrameRef, Instance, InstanceKind
from pose_studio.core.limits import check_allocation
from pose_studio.store import bulk, ids, runs, summary, validate
from pose_studio.store.codec import (
    INSERT_COLUMNS,
    READ_SQL,
    UPDATE_SQL,
    check_instance,
    instance_row,
    update_params,
)
from pose_studio.store.errors import ProjectError
from pose_studio.store.project_base import ProjectBase
from pose_studio.store.records import FrameArrays, TrackRecord
from pose_studio.store.schema import KIND_PREDICTED, KIND_USER, TrackRow

__all__ = ["INSERT_SQL", "UPDATE_SQL", "InstanceOps", "RunFilter", "Source"]

Source = Literal["user", "predicted", "all"]
#: which predictions: "shown" (the video's shown run), "all" (every run), a run id, or None
#: (predictions without a run)
RunFilter = int | str | None

INSERT_SQL = (
    f"INSERT INTO instances ({', '.join(INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(INSERT_COLUMNS))})"
)
_SELECT_SQL = f"SELECT {READ_SQL} FROM instances"


def _kind_filter(kind: InstanceKind | str | None) -> int | None:
    if kind is None or kind == "all":
        return None
    return KIND_PREDICTED if InstanceKind(kind) is InstanceKind.PREDICTED else KIND_USER


class InstanceOps(ProjectBase):
    """Instances, whole-video arrays, export iteration, tracks."""

    # --- instances -------------------------------------------------------------------------------
    def instances(
        self, video_id: int, frame_idx: int, kind: InstanceKind | str | None = None,
        run: RunFilter = "shown",
    ) -> list[Instance]:
        """The instances on one frame, oldest first; ``kind`` filters user/predicted, ``run``
        which predictions (default: the video's shown run, as the frame summaries count)."""
        sql = f"{_SELECT_SQL} WHERE video_id = ? AND frame_idx = ?"
        params: tuple[Any, ...] = (video_id, frame_idx)
        code = _kind_filter(kind)
        if code is not None:
            sql += " AND kind = ?"
            params += (code,)
        sql, params = runs.filter_sql(sql, params, run)
        rows = self._read_rows(sql + " ORDER BY id", params)
        return [inst for _, inst in validate.decode_instances(
            rows, self._skeleton.num_keypoints, self._note_damage)]

    def instance(self, instance_id: int) -> Instance:
        rows = self._read_rows(f"{_SELECT_SQL} WHERE id = ?", (instance_id,))
        if not rows:
            raise ProjectError(f"project {self._path} has no instance {instance_id}")
        return self._one_instance(rows[0])

    def _insert_instance(
        self, conn: Connection, video_id: int, frame_idx: int, inst: Instance, *,
        refresh: bool = True, user: str | None = None,
    ) -> Instance:
        where = f"project {self._path}, video {video_id} frame {frame_idx}"
        check_instance(inst, self._skeleton.num_keypoints, where)
        self._check_frames(conn, video_id, np.array([frame_idx]))
        if inst.id is not None and conn.exec_driver_sql(
            "SELECT 1 FROM instances WHERE id = ?", (inst.id,)
        ).first():
            raise ProjectError(f"{where}: instance id {inst.id} is already in use")
        if inst.kind is InstanceKind.PREDICTED and refresh:
            runs.prepare_write(conn, video_id, inst.model_run_id)
        version = (inst.version or 0) + 1 if inst.id is not None else 1
        new_id = bulk.insert_instance(conn, instance_row(
            inst, video_id, frame_idx, time.time(), user=user, version=version))
        if inst.id is not None:
            ids.catch_up(conn, "instances", new_id)
        if refresh:
            summary.refresh_frames(conn, video_id, (frame_idx,))
        return inst.replace(id=new_id, version=version, edited_by=user)

    def add_instance(self, video_id: int, frame_idx: int, inst: Instance) -> Instance:
        """Store a new instance; keeps ``inst.id`` when set (redo of an undone add).

        Returns:
            The instance with its store id.
        """
        with self._write_conn() as conn:
            return self._insert_instance(conn, video_id, frame_idx, inst)

    def restore_instance(self, video_id: int, frame_idx: int, inst: Instance) -> Instance:
        """Put a deleted instance back with the same id and values (undo of a delete)."""
        if inst.id is None:
            raise ProjectError(f"project {self._path}: restore needs an instance with an id")
        return self.add_instance(video_id, frame_idx, inst)

    def update_instance(self, inst: Instance) -> Instance:
        """Replace the stored values of ``inst.id`` with ``inst`` (the frame stays the same)."""
        if inst.id is None:
            raise ProjectError(f"project {self._path}: cannot update an instance without an id")
        with self._write_conn() as conn:
            where = conn.exec_driver_sql(
                "SELECT video_id, frame_idx FROM instances WHERE id = ?", (inst.id,)
            ).first()
            if where is None:
                raise ProjectError(f"project {self._path} has no instance {inst.id}")
            check_instance(inst, self._skeleton.num_keypoints,
                           f"project {self._path}, instance {inst.id}")
            row = instance_row(inst, where[0], where[1], time.time())
            conn.exec_driver_sql(UPDATE_SQL, (*update_params(row), None, inst.id))
            summary.refresh_frames(conn, where[0], (where[1],))
        return inst

    def delete_instance(self, instance_id: int) -> Instance:
        """Delete an instance and return it in full (for undo via :meth:`restore_instance`)."""
        with self._write_conn() as conn:
            row = conn.exec_driver_sql(
                f"SELECT video_id, frame_idx, {READ_SQL} FROM instances "
                "WHERE id = ?", (instance_id,)
            ).first()
            if row is None:
                raise ProjectError(f"project {self._path} has no instance {instance_id}")
            inst = self._one_instance(row[2:])  # a damaged row is refused, nothing deleted
            conn.exec_driver_sql("DELETE FROM instances WHERE id = ?", (instance_id,))
            summary.refresh_frames(conn, row[0], (row[1],))
        return inst

    def frame_of_instance(self, instance_id: int) -> FrameRef:
        with self._read() as conn:
            row = conn.exec_driver_sql(
                "SELECT video_id, frame_idx FROM instances WHERE id = ?", (instance_id,)
            ).first()
        if row is None:
            raise ProjectError(f"project {self._path} has no instance {instance_id}")
        return FrameRef(int(row[0]), int(row[1]))

    def instance_times(self, instance_id: int) -> tuple[float, float]:
        """``(created_at, updated_at)`` of an instance, Unix seconds."""
        with self._read() as conn:
            row = conn.exec_driver_sql(
                "SELECT created_at, updated_at FROM instances WHERE id = ?", (instance_id,)
            ).first()
        if row is None:
            raise ProjectError(f"project {self._path} has no instance {instance_id}")
        return float(row[0]), float(row[1])


    # --- GUI queries -----------------------------------------------------------------------------
    def frame_arrays(self, video_id: int) -> FrameArrays:
        """Per-frame labeled/predicted flags and min/mean prediction scores for a whole video."""
        with self._read() as conn:
            n = conn.exec_driver_sql(
                "SELECT frame_count FROM videos WHERE id = ?", (video_id,)
            ).scalar()
            if n is None:
                raise ProjectError(f"project {self._path} has no video with id {video_id}")
            if not isinstance(n, int) or not 0 <= n <= validate.MAX_FRAME_COUNT:
                raise validate.damaged_error(self._note_damage(
                    "videos", video_id, f"frame count {n!r} is not possible"))
            check_allocation(int(n) * summary.SUMMARY_DTYPE.itemsize * 3,
                             f"the per-frame summary of video {video_id} ({n} frames)")
            try:
                return summary.read_arrays(conn, video_id, int(n))
            except summary.SummaryDamaged:
                if self.read_only:  # cannot repair the file: compute from the instances
                    return summary.arrays_from_instances(conn, video_id, int(n))
        # A summary written by another build (other chunk size) or damaged: rebuild it.
        with self._write(bulk=True) as s:
            summary.rebuild_video(s.connection(), video_id)
        with self._read() as conn:
            return summary.read_arrays(conn, video_id, int(n))

    def labeled_frames(self, video_id: int) -> list[int]:
        """Frames of the video with at least one user instance, ascending."""
        return [int(f) for f in np.flatnonzero(self.frame_arrays(video_id).labeled)]

    def counts(self) -> dict[str, int]:
        """Totals for ``info``: labeled/predicted frames and instances over all videos."""
        with self._read() as conn:
            row = conn.exec_driver_sql(
                "SELECT "
                "(SELECT count(*) FROM instances WHERE kind = 0), "
                "(SELECT count(*) FROM instances WHERE kind = 1), "
                "(SELECT count(*) FROM (SELECT DISTINCT video_id, frame_idx FROM instances "
                " WHERE kind = 0) AS u), "
                "(SELECT count(*) FROM (SELECT DISTINCT video_id, frame_idx FROM instances "
                " WHERE kind = 1) AS p)"
            ).one()
        return {"user_instances": int(row[0]), "predicted_instances": int(row[1]),
                "labeled_frames": int(row[2]), "predicted_frames": int(row[3])}

    # --- export ----------------------------------------------------------------------------------
    def iter_instances(
        self, source: Source = "all", video_id: int | None = None, run: RunFilter = "shown"
    ) -> Iterator[tuple[int, int, Instance]]:
        """``(video_id, frame_idx, instance)`` in video, frame, id order, from one snapshot;
        predictions of each video's shown run (``run``: another run, or ``"all"``)."""
        if source not in ("user", "predicted", "all"):
            raise ProjectError(f"unknown instance source {source!r}: use user, predicted or all")
        where = []
        params: list[Any] = []
        code = _kind_filter(source)
        if code is not None:
            where.append("kind = ?")
            params.append(code)
        if video_id is not None:
            where.append("video_id = ?")
            params.append(video_id)
        if run == "shown":
            where.append(f"(kind <> {KIND_PREDICTED} OR model_run_id IS (SELECT s.run_id FROM "
                         f"shown_runs s WHERE s.video_id = instances.video_id))")
        elif run != "all":
            where.append(f"(kind <> {KIND_PREDICTED} OR model_run_id IS ?)")
            params.append(run)
        sql = (f"SELECT video_id, frame_idx, {READ_SQL} FROM instances"
               + (f" WHERE {' AND '.join(where)}" if where else "")
               + " ORDER BY video_id, frame_idx, id")
        with self._read() as conn:
            result = conn.exec_driver_sql(sql, tuple(params))
            while True:
                chunk = result.fetchmany(2000)
                if not chunk:
                    break
                for i, inst in validate.decode_instances(
                        chunk, self._skeleton.num_keypoints, self._note_damage, offset=2):
                    yield int(chunk[i][0]), int(chunk[i][1]), inst


    # --- tracks ----------------------------------------------------------------------------------
    def create_track(self, name: str) -> int:
        with self._write() as s:
            row = TrackRow(name=str(name), created_at=time.time())
            s.add(row)
            s.flush()
            return int(row.id)

    def tracks(self) -> list[TrackRecord]:
        """The tracks; damaged rows are left out (and noted in :attr:`damage`)."""
        with self._read_session() as s:
            rows = list(s.scalars(select(TrackRow).order_by(TrackRow.id)))
        return [TrackRecord(id=r.id, name=r.name) for r in validate.valid(
            rows, "tracks", validate.track_problem, self._note_damage)]
