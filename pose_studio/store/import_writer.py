"""Bulk writes in one transaction: :meth:`Project.import_transaction` and its
:class:`ImportWriter` (importers, the labeling commands); the instances a writer adds are one
step of the edit history."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.store import bulk, ids, journal, journal_import, runs, server, summary
from pose_studio.store.codec import (
    UPDATE_SQL,
    check_instance,
    check_rows,
    instance_row,
    update_params,
)
from pose_studio.store.dataset_rows import DatasetWrites
from pose_studio.store.errors import ProjectError
from pose_studio.store.instances import InstanceOps
from pose_studio.store.predictions import new_model_run
from pose_studio.store.schema import KIND_PREDICTED, TrackRow, VideoRow
from pose_studio.store.videos import UPSERT_FINGERPRINT, VideoOps, fingerprint_rows

__all__ = ["ImportOps", "ImportWriter"]


class ImportOps(VideoOps, InstanceOps):
    """:meth:`import_transaction` (the writer needs the video and instance operations)."""

    @contextlib.contextmanager
    def import_transaction(self, label: str = "import", *,
                           user: str | None = None) -> Iterator[ImportWriter]:
        """A writer whose additions commit together when the block ends, or not at all.

        The instances it adds are one step of the edit history (``label``, e.g. "import
        poses.json"), recorded in the same transaction.

        Example::

            with project.import_transaction("import poses.json") as w:
                vid = w.add_video(...)
                w.add_instance(vid, 0, inst)
        """
        who = user or journal.default_user()
        with self._write(bulk=True, exclusive=True, user=who) as s:
            writer = ImportWriter(self, s, who)
            since = journal_import.mark(s.connection())
            yield writer
            writer._finish()
            journal_import.record(self, s.connection(), since, writer._explicit_ids,
                                  writer._videos_added, label, who)



class ImportWriter(DatasetWrites):
    """Adds many things inside one transaction (see :meth:`Project.import_transaction`); the
    dataset tables through :class:`~pose_studio.store.dataset_rows.DatasetWrites`."""

    def __init__(self, project: ImportOps, session: Session, user: str | None = None) -> None:
        self._p = project
        self._s = session
        self._user = user  # recorded as the last editor of what it writes
        self._touched: dict[int, set[int]] = {}
        self._predicted: set[int] = set()  # videos that got predictions (their shown run)
        self.instances_added = 0
        self._explicit_ids: set[int] = set()  # ids the caller chose (for the history)
        self._videos_added: list[int] = []

    def add_video(self, path: str | os.PathLike[str], *, width: int, height: int,
                  frame_count: int, fps: float, vfr: bool = False, codec: str = "",
                  duration_s: float = 0.0, index: bytes | None = None,
                  fps_rational: tuple[int, int] | None = None, rotation: int = 0,
                  kind: str = "file") -> int:
        vid = self._p._add_video(self._s, path, width=width, height=height,
                                 frame_count=frame_count, fps=fps, vfr=vfr, codec=codec,
                                 duration_s=duration_s, index=index, fps_rational=fps_rational,
                                 rotation=rotation, kind=kind)
        self._videos_added.append(vid)
        return vid

    def find_video(self, path: str | os.PathLike[str]) -> int | None:
        target = str(Path(path).expanduser().absolute())
        return self._s.execute(select(VideoRow.id).where(VideoRow.abs_path == target)).scalar()

    def add_instance(self, video_id: int, frame_idx: int, inst: Instance) -> Instance:
        out = self._p._insert_instance(self._s.connection(), video_id, frame_idx, inst,
                                       refresh=False, user=self._user)
        if inst.id is not None:
            self._explicit_ids.add(int(inst.id))
        self._touched.setdefault(video_id, set()).add(frame_idx)
        if inst.kind is InstanceKind.PREDICTED:
            self._predicted.add(video_id)
        self.instances_added += 1
        return out

    def add_instances(self, items: Iterable[tuple[int, int, Instance]]) -> int:
        """Add many ``(video_id, frame_idx, instance)`` at once (one executemany); user
        instances and predictions alike, explicit ids kept. Returns how many."""
        now = time.time()
        rows = [instance_row(inst, v, f, now, user=self._user) for v, f, inst in items]
        check_rows(rows, self._p.skeleton.num_keypoints, f"project {self._p.path}")
        conn = self._s.connection()
        by_video: dict[int, list[int]] = {}
        for r in rows:
            by_video.setdefault(r[1], []).append(r[2])
        for vid, frames in by_video.items():
            self._p._check_frames(conn, vid, np.asarray(frames, dtype=np.int64))
        bulk.insert_instances(conn, rows)
        self._explicit_ids.update(int(r[0]) for r in rows if r[0] is not None)
        for vid, frames in by_video.items():
            self._touched.setdefault(vid, set()).update(frames)
        self._predicted.update(r[1] for r in rows if r[3] == KIND_PREDICTED)
        self.instances_added += len(rows)
        return len(rows)

    def create_model_run(
        self,
        *,
        model_path: str | os.PathLike[str],
        model_hash: str,
        providers: Iterable[str],
        params: Mapping[str, Any],
    ) -> int:
        return new_model_run(self._s, model_path, model_hash, providers, params)

    def update_instance(self, inst: Instance) -> Instance:
        """As :meth:`Project.update_instance`, inside this transaction."""
        conn = self._s.connection()
        where = conn.exec_driver_sql(
            "SELECT video_id, frame_idx FROM instances WHERE id = ?", (inst.id,)).first()
        if inst.id is None or where is None:
            raise ProjectError(f"project {self._p.path} has no instance {inst.id}")
        check_instance(inst, self._p.skeleton.num_keypoints,
                       f"project {self._p.path}, instance {inst.id}")
        row = instance_row(inst, where[0], where[1], time.time())
        conn.exec_driver_sql(UPDATE_SQL, (*update_params(row), self._user, inst.id))
        self._touched.setdefault(int(where[0]), set()).add(int(where[1]))
        return inst

    def delete_instance(self, instance_id: int) -> None:
        conn = self._s.connection()
        where = conn.exec_driver_sql(
            "SELECT video_id, frame_idx FROM instances WHERE id = ?", (instance_id,)).first()
        if where is None:
            raise ProjectError(f"project {self._p.path} has no instance {instance_id}")
        conn.exec_driver_sql("DELETE FROM instances WHERE id = ?", (instance_id,))
        self._touched.setdefault(int(where[0]), set()).add(int(where[1]))

    def set_track_ids(self, track_of: Mapping[int, int | None]) -> None:
        """Set only the ``track_id`` of instances ``{instance id: track id or None}``; every
        other value (keypoints, scores, model run) stays as it is."""
        rows = [(t, int(i)) for i, t in track_of.items()]
        if rows:
            self._s.connection().exec_driver_sql(
                "UPDATE instances SET track_id = ?, version = version + 1, edited_by = ? "
                "WHERE id = ?", [(t, self._user, i) for t, i in rows])

    def create_track(self, name: str) -> int:
        row = TrackRow(name=str(name), created_at=time.time())
        self._s.add(row)
        self._s.flush()
        return int(row.id)

    def set_fingerprints(self, video_id: int, fingerprints: Mapping[int, int | bytes]) -> None:
        """As :meth:`Project.set_fingerprints`, inside the import transaction."""
        rows = fingerprint_rows(video_id, fingerprints)
        if rows:
            self._s.connection().exec_driver_sql(UPSERT_FINGERPRINT, rows)

    def _finish(self) -> None:
        conn = self._s.connection()
        if self._explicit_ids:  # on a server, ids chosen here do not move the id sequence
            ids.catch_up(conn, "instances")
        if self._videos_added:
            server.note_change(conn, "videos")
        for video_id in self._predicted:
            runs.follow_newest(conn, video_id)
        for video_id, frames in self._touched.items():
            summary.refresh_frames(conn, video_id, frames)
