"""Predictions and model runs: the bulk write of a batch, deletion, which run each video shows
(a mixin of :class:`~pose_studio.store.project.Project`; the SQL of runs is in ``runs.py``)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.store import bulk, runs, server, summary, validate
from pose_studio.store.codec import check_rows, instance_row
from pose_studio.store.errors import ProjectError
from pose_studio.store.instances import RunFilter
from pose_studio.store.project_base import ProjectBase
from pose_studio.store.records import FrameArrays, ModelRunRecord
from pose_studio.store.schema import KIND_PREDICTED, KIND_USER, ModelRunRow

__all__ = ["PredictionOps", "new_model_run"]


class PredictionOps(ProjectBase):
    """Predictions, model runs and the runs each video shows."""

    # --- predictions -----------------------------------------------------------------------------
    def create_model_run(
        self,
        *,
        model_path: str | os.PathLike[str],
        model_hash: str,
        providers: Iterable[str],
        params: Mapping[str, Any],
    ) -> int:
        """Record a model run (which model, on what, with which settings); returns its id."""
        with self._write() as s:
            return new_model_run(s, model_path, model_hash, providers, params)

    def model_runs(self) -> list[ModelRunRecord]:
        """The model runs; damaged rows are left out (and noted in :attr:`damage`)."""
        with self._read_session() as s:
            rows = list(s.scalars(select(ModelRunRow).order_by(ModelRunRow.id)))
        return [ModelRunRecord(id=r.id, model_path=str(r.model_path), model_hash=str(r.model_hash),
                               providers=tuple(str(p) for p in json.loads(r.providers_json)),
                               params=json.loads(r.params_json), created_at=r.created_at)
                for r in validate.valid(rows, "model_runs", validate.model_run_problem,
                                        self._note_damage)]

    def add_predictions(
        self,
        video_id: int,
        items: Iterable[tuple[int, Instance]],
        model_run_id: int | None,
        *,
        replace: bool = True,
    ) -> int:
        """Store a batch of predictions in one transaction; safe from a worker thread.

        Predictions of other model runs stay (runs are kept side by side); the first
        predictions of a new run make it the video's shown run unless the user chose one.

        Args:
            items: ``(frame_idx, instance)`` pairs; instances are stored as predictions with
                new ids (any ``id`` they carry is ignored).
            model_run_id: The run they belong to (None: predictions without a run).
            replace: first drop this run's predictions already on those frames (user labels
                and other runs stay).

        Returns:
            The number of instances written.
        """
        n = self._store_predictions(video_id, items, model_run_id, replace=replace)
        assert n is not None
        return n

    def add_prediction_chunk(self, video_id: int, first: int, stop: int,
                             items: Iterable[tuple[int, Instance]], model_run_id: int) -> int | None:
        """Store the predictions of frames ``[first, stop)`` of a batch run, exactly once: the
        chunk is claimed in ``run_chunks`` in the same transaction, so a chunk a cluster
        retried after it was written is not written again (returns None then; else the number
        of instances written). Safe from several processes at once on a server."""
        return self._store_predictions(video_id, items, model_run_id, replace=True,
                                       chunk=(int(first), int(stop)))

    def _store_predictions(self, video_id: int, items: Iterable[tuple[int, Instance]],
                           model_run_id: int | None, *, replace: bool,
                           chunk: tuple[int, int] | None = None) -> int | None:
        self._check_writable()
        now = time.time()
        rows = []
        for frame_idx, inst in items:
            if inst.kind is not InstanceKind.PREDICTED:
                inst = inst.replace(kind=InstanceKind.PREDICTED, provenance=None)
            rows.append(instance_row(inst, video_id, frame_idx, now, model_run_id=model_run_id,
                                     new_id=True))
        check_rows(rows, self._skeleton.num_keypoints, f"project {self._path}, video {video_id}")
        frames = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
        with self._write(bulk=True) as s:
            conn = s.connection()
            server.lock_videos(conn, (video_id,))
            if chunk is not None and conn.exec_driver_sql(
                    "INSERT INTO run_chunks (run_id, video_id, first_frame, stop_frame, "
                    "instances, written_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING "
                    "RETURNING run_id",
                    (model_run_id, video_id, chunk[0], chunk[1], len(rows), now)).first() is None:
                return None  # written before (a retried chunk): nothing more to do
            self._check_frames(conn, video_id, frames)
            if not rows:
                return 0
            is_shown = runs.prepare_write(conn, video_id, model_run_id)
            chunks = summary.load_chunks(conn, video_id, frames, model_run_id) if is_shown \
                else None
            if replace:
                uniq = np.unique(frames)
                if chunks is not None:
                    # the summary says which frames hold this run's predictions: only those
                    # need a DELETE
                    uniq = uniq[summary.predicted_counts(chunks, uniq) > 0]
                if uniq.size:
                    conn.exec_driver_sql(
                        f"DELETE FROM instances WHERE video_id = ? AND frame_idx = ? AND "
                        f"kind = {KIND_PREDICTED} AND model_run_id IS ?",
                        [(video_id, int(f), model_run_id) for f in uniq],
                    )
            bulk.insert_instances(conn, rows)
            if chunks is not None:
                scores = np.fromiter((np.nan if r[19] is None else r[19] for r in rows),  # summary_score
                                     dtype=np.float64, count=len(rows))
                summary.add_predicted(conn, video_id, frames, scores, replace=replace,
                                      chunks=chunks)
        return len(rows)

    def delete_predictions(self, video_id: int, frames: Iterable[int] | None = None, *,
                           run: RunFilter = "all") -> int:
        """Drop predictions of a video (all frames, or ``frames``) of every run (``"all"``),
        of one run (its id; None: predictions without a run); returns how many."""
        if run == "shown":
            raise ProjectError("delete_predictions: name the run (an id, None or 'all')")
        cond, extra = ("", ()) if run == "all" else (" AND model_run_id IS ?", (run,))
        with self._write(bulk=True) as s:
            conn = s.connection()
            server.lock_videos(conn, (video_id,))
            if frames is None:
                touched = [f for (f,) in conn.exec_driver_sql(
                    f"SELECT DISTINCT frame_idx FROM instances WHERE video_id = ? AND kind = 1"
                    f"{cond}", (video_id, *extra)).fetchall()]
                n = conn.exec_driver_sql(
                    f"DELETE FROM instances WHERE video_id = ? AND kind = 1{cond}",
                    (video_id, *extra)).rowcount
                runs.follow_newest(conn, video_id)  # the shown run may be gone
            else:
                touched = sorted({int(f) for f in frames})
                n = 0
                for f in touched:
                    n += conn.exec_driver_sql(
                        f"DELETE FROM instances WHERE video_id = ? AND frame_idx = ? AND "
                        f"kind = 1{cond}", (video_id, f, *extra)).rowcount
            summary.refresh_frames(conn, video_id, touched)
        return int(n)

    # --- model runs side by side ------------------------------------------------------------------
    def shown_runs(self, video_id: int) -> runs.ShownRuns:
        """The run a video shows (its newest unless the user chose), and the A/B second run."""
        with self._read() as conn:
            return runs.shown(conn, video_id)

    def set_shown_runs(self, video_id: int, run: int | str | None,
                       compare: int | str | None = "keep") -> runs.ShownRuns:
        """Show ``run`` on a video (``"newest"``: follow the newest run again; None: the
        predictions without a run) and ``compare`` beside it (None: none; ``"keep"``).
        The frame summaries count the shown run from then on. One transaction."""
        with self._write(bulk=True) as s:
            server.lock_videos(s.connection(), (video_id,))
            server.note_change(s.connection(), "runs", video_id)
            return runs.set_shown(s.connection(), video_id, run, compare)

    def run_infos(self, video_id: int | None = None) -> list[runs.RunInfo]:
        """Each model run with predictions, per video: counts, frame span, model."""
        with self._read() as conn:
            return runs.run_infos(conn, video_id)

    def run_frame_arrays(self, video_id: int, run: int | None) -> FrameArrays:
        """:meth:`frame_arrays` as if ``run`` were shown (e.g. the A/B second run's timeline);
        computed from its instances, not the summaries (a few ms per 10k predictions)."""
        with self._read() as conn:
            n = self._frame_count(conn, video_id)
            return summary.arrays_from_instances(conn, video_id, n, run, lookup=False)

    def run_keypoints(self, video_id: int, run: RunFilter, *,
                      kind: InstanceKind | str = InstanceKind.PREDICTED) -> runs.RunKeypoints:
        """A run's predictions (or, ``kind="user"``, the labels) on a video as arrays."""
        code = KIND_USER if InstanceKind(kind) is InstanceKind.USER else KIND_PREDICTED
        with self._read() as conn:
            if run == "shown":
                run = runs.shown(conn, video_id).run_id
            return runs.read_keypoints(conn, video_id, kind=code,
                                       run="any" if code == KIND_USER or run == "all" else run,
                                       num_keypoints=self._skeleton.num_keypoints)



def new_model_run(
    s: Session,
    model_path: str | os.PathLike[str],
    model_hash: str,
    providers: Iterable[str],
    params: Mapping[str, Any],
) -> int:
    row = ModelRunRow(
        model_path=str(model_path), model_hash=str(model_hash),
        providers_json=json.dumps(list(providers)),
        params_json=json.dumps(dict(params), default=str), created_at=time.time(),
    )
    s.add(row)
    s.flush()
    return int(row.id)
