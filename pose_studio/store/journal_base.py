"""The parts of the edit journal that imports share (see ``journal.py``): the store adapter
edits are applied through, the journal rows, who is editing."""

from __future__ import annotations

import contextlib
import getpass
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
from sqlalchemy import Connection

from pose_studio.core.annotation import Instance
from pose_studio.core.edits import Edit, StaleEditError
from pose_studio.core.skeleton import Skeleton
from pose_studio.store import bulk, ids, server, summary
from pose_studio.store.codec import (
    READ_COLUMNS,
    UPDATE_SQL,
    check_instance,
    instance_from_row,
    instance_row,
    update_params,
)
from pose_studio.store.errors import ProjectError
from pose_studio.store.schema import KIND_USER
from pose_studio.store.server_pipe import PipeConn

__all__ = [
    "USER_ENV",
    "Applied",
    "ConnStore",
    "JournalEntry",
    "JournalHost",
    "default_user",
    "insert_entry",
    "new_entry",
    "queue_entry",
    "read_entry",
]

#: Environment variable naming the person who edits (overrides the OS login).
USER_ENV = "POSE_STUDIO_USER"

# An edit's update and delete name the version they checked: on PostgreSQL a concurrent
# writer that changed the row in between makes them match nothing (refused, not overwritten).
_UPDATE_SQL = UPDATE_SQL + " AND version = ? RETURNING version"
_DELETE_SQL = "DELETE FROM instances WHERE id = ? AND version = ? RETURNING video_id, frame_idx"
_CURRENT_SQL = (f"SELECT video_id, frame_idx, summary_score, {', '.join(READ_COLUMNS)} "
                "FROM instances WHERE id = ?")
_KIND = READ_COLUMNS.index("kind")
_RUN = READ_COLUMNS.index("model_run_id")
_ENTRY_COLUMNS = ("seq, kind, label, made_by, made_at, undone, undone_by, undone_at, video_id, "
                  "first_frame, last_frame, n_frames, n_instances, merge_key")


def default_user() -> str:
    """``$POSE_STUDIO_USER``, else the OS login name, else ``unknown``."""
    name = os.environ.get(USER_ENV, "").strip()
    if name:
        return name
    with contextlib.suppress(Exception):  # no passwd entry (containers), no login name
        return getpass.getuser() or "unknown"
    return "unknown"


class JournalHost(Protocol):
    """What the journal needs from :class:`~pose_studio.store.project.Project`."""

    @property
    def path(self) -> Path: ...
    @property
    def skeleton(self) -> Skeleton: ...

    def _write_conn(self, *, exclusive: bool = False, user: str | None = None,
                    videos: Iterable[int] = ()) -> contextlib.AbstractContextManager[Connection]:
        ...
    def _edit_conn(self, *, user: str | None = None, videos: Iterable[int] = ()
                   ) -> contextlib.AbstractContextManager[Connection]:
        ...
    def _read(self) -> contextlib.AbstractContextManager[Connection]: ...
    def _check_frames(self, conn: Connection, video_id: int, frames: np.ndarray) -> None: ...


@dataclass(frozen=True)
class JournalEntry:
    """One step of the history (without its payload)."""

    seq: int
    kind: str
    label: str
    made_by: str
    made_at: float
    undone: bool
    undone_by: str | None
    undone_at: float | None
    video_id: int | None
    first_frame: int | None
    last_frame: int | None
    n_frames: int
    n_instances: int
    merge_key: str | None = None

    def where(self) -> str:
        """``video 1 frame 30``, ``video 1 frames 10-99 (40 frames)``..."""
        if self.video_id is None:
            return f"{self.n_frames} frames" if self.n_frames else "the project"
        if self.first_frame is None or self.first_frame == self.last_frame:
            return f"video {self.video_id} frame {self.first_frame}"
        return (f"video {self.video_id} frames {self.first_frame}-{self.last_frame} "
                f"({self.n_frames} frames)")


@dataclass(frozen=True)
class Applied:
    """What one step changed: its journal entry and the frames it touched."""

    entry: JournalEntry
    frames: tuple[tuple[int, int], ...]
    edit: Edit | None = None


def _entry(row: Any) -> JournalEntry:
    return JournalEntry(int(row[0]), str(row[1]), str(row[2]), str(row[3]), float(row[4]),
                        bool(row[5]), row[6], None if row[7] is None else float(row[7]),
                        row[8], row[9], row[10], int(row[11]), int(row[12]), row[13])


class ConnStore:
    """:class:`~pose_studio.core.edits.InstanceStore` over one open write transaction.

    Writes record ``user`` as the row's last editor and count its version up; an update or
    delete only touches the version :meth:`current` read (see ``_UPDATE_SQL``)."""

    def __init__(self, host: JournalHost, conn: Connection, user: str | None = None) -> None:
        self.host = host
        self.conn = conn
        self.user = user
        self.touched: dict[int, set[int]] = {}  # frames whose summaries need a refresh
        # Frames changed only by updates that leave their summary as it was (moving points of
        # a user instance, the common edit): announced to others, not recomputed.
        self.quiet: dict[int, set[int]] = {}
        self._k = host.skeleton.num_keypoints
        self._seen: dict[int, int] = {}  # instance id -> version read by current()
        self._counts: dict[int, tuple[Any, ...]] = {}  # instance id -> what summaries count
        self._known: dict[int, tuple[int, int, Instance] | None] = {}  # prefetched, unwritten
        # instance id -> (version it expects, row, queued update), see speculate()
        self._spec: dict[int, tuple[int, tuple[Any, ...], Any]] = {}

    def prefetch(self, instance_ids: Iterable[int]) -> None:
        """Read these instances in a few queries instead of one each (a big batch, e.g. a
        tracking run, checks thousands of ``before`` states)."""
        self._take_reads(self._queue_reads(instance_ids))

    def _queue_reads(self, instance_ids: Iterable[int]) -> list[tuple[list[int], Any]]:
        todo = sorted({int(i) for i in instance_ids} - self._known.keys())
        cols = ", ".join(READ_COLUMNS)
        return [(chunk, self.conn.exec_driver_sql(
            f"SELECT id, video_id, frame_idx, summary_score, {cols} FROM instances WHERE id "
            f"IN ({', '.join('?' * len(chunk))})", tuple(chunk)))
            for chunk in (todo[a:a + 500] for a in range(0, len(todo), 500))]

    def _take_reads(self, queued: list[tuple[list[int], Any]]) -> None:
        for chunk, result in queued:
            rows = result.fetchall()
            self._known.update(dict.fromkeys(chunk))
            for r in rows:
                self._known[int(r[0])] = self._read_row(int(r[0]), r[1:])

    def speculate(self, edit: Edit) -> None:
        """Pipelined (a server), a small edit: queue the reads of its ``before`` states and,
        behind them, the updates it makes if each row still has the version its ``before``
        names, so that both go in the transaction's first round trip. :meth:`update` adopts
        the queued update when the version it read is that one (else it matched nothing and
        a fresh one is sent); one left unadopted that wrote refuses the commit."""
        befores = [c.before.id for c in edit.changes if c.before is not None]
        # Not with track changes: an update may name a track the edit creates first.
        if (not isinstance(self.conn, PipeConn) or not befores or None in befores
                or edit.tracks or len(edit.changes) > 16 or len(set(befores)) != len(befores)):
            return
        queued = self._queue_reads(cast(list[int], befores))
        now = time.time()
        for c in edit.changes:
            if (c.before is None or c.after is None or c.before.version is None
                    or c.after.id not in (None, c.before.id)):
                continue
            iid = cast(int, c.before.id)
            after = c.after if c.after.id is not None else c.after.replace(id=iid)
            try:  # a bad value is refused by update() in its turn, with its own message
                check_instance(after, self._k, self._where(c.video_id, c.frame_idx))
            except ProjectError:
                break
            row = instance_row(after, c.video_id, c.frame_idx, now)
            self._spec[iid] = (c.before.version, row, self.conn.exec_driver_sql(
                _UPDATE_SQL, (*update_params(row), self.user, iid, c.before.version)))
        self._take_reads(queued)
        if self._spec:
            self.conn.check_before_commit(self._unadopted)

    def _unadopted(self) -> None:
        for iid, (_v, _row, result) in self._spec.items():
            if result.scalar() is not None:
                raise self._raced(iid)

    def current(self, instance_id: int) -> tuple[int, int, Instance] | None:
        if instance_id in self._known:
            return self._known[instance_id]
        row = self.conn.exec_driver_sql(_CURRENT_SQL, (instance_id,)).first()
        return None if row is None else self._read_row(instance_id, row)

    def _read_row(self, instance_id: int, row: Any) -> tuple[int, int, Instance]:
        """A row of ``video_id, frame_idx, summary_score, READ_COLUMNS``: remember its version
        and what the summaries count of it."""
        inst = instance_from_row(row[3:])
        if inst.version is not None:
            self._seen[instance_id] = inst.version
        self._counts[instance_id] = _counted(row[3 + _KIND], row[3 + _RUN], row[2])
        return int(row[0]), int(row[1]), inst

    def _raced(self, instance_id: int) -> StaleEditError:
        return StaleEditError(
            f"instance {instance_id} was changed by someone else at the same moment; nothing "
            "was changed")

    def _where(self, video_id: int, frame_idx: int) -> str:
        return f"project {self.host.path}, video {video_id} frame {frame_idx}"

    def insert(self, video_id: int, frame_idx: int, inst: Instance) -> Instance:
        check_instance(inst, self._k, self._where(video_id, frame_idx))
        self.host._check_frames(self.conn, video_id, np.array([frame_idx]))
        # a row put back (undo of a delete) continues its old versions
        version = (inst.version or 0) + 1 if inst.id is not None else 1
        new_id = bulk.insert_instance(self.conn, instance_row(
            inst, video_id, frame_idx, time.time(), user=self.user, version=version))
        self._known.pop(new_id, None)
        self.touched.setdefault(video_id, set()).add(frame_idx)
        return inst.replace(id=new_id, version=version, edited_by=self.user)

    def update(self, video_id: int, frame_idx: int, inst: Instance) -> Instance:
        check_instance(inst, self._k, self._where(video_id, frame_idx))
        assert inst.id is not None
        expected = self._seen.get(inst.id, inst.version or 1)
        spec = self._spec.pop(inst.id, None)
        if spec is not None and spec[0] == expected:  # queued by speculate()
            _v, row, result = spec
        else:
            row = instance_row(inst, video_id, frame_idx, time.time())
            result = self.conn.exec_driver_sql(
                _UPDATE_SQL, (*update_params(row), self.user, inst.id, expected))
        if isinstance(self.conn, PipeConn):
            # Pipelined (a server): the version it gets is known (one up), so the answer is
            # read with the commit's round trip, which it refuses when the row moved on.
            got = expected + 1
            iid = inst.id
            self.conn.check_before_commit(
                lambda: None if result.scalar() == got else _raise(self._raced(iid)))
        else:
            got = result.scalar()
            if got is None:
                raise self._raced(inst.id)
        self._seen[inst.id] = int(got)
        self._known.pop(int(inst.id), None)
        counted = _counted(row[3], row[11], row[19])
        if self._counts.get(inst.id) == counted:  # the frame's summary stays as it is
            self.quiet.setdefault(video_id, set()).add(frame_idx)
        else:
            self.touched.setdefault(video_id, set()).add(frame_idx)
        self._counts[inst.id] = counted
        return inst.replace(version=int(got), edited_by=self.user)

    def remove(self, instance_id: int) -> None:
        self._known.pop(int(instance_id), None)
        expected = self._seen.get(instance_id)
        if expected is None:
            cur = self.current(instance_id)
            if cur is None:
                return
            expected = self._seen.get(instance_id, 1)
        row = self.conn.exec_driver_sql(_DELETE_SQL, (instance_id, expected)).first()
        if row is None:
            raise self._raced(instance_id)
        self.touched.setdefault(int(row[0]), set()).add(int(row[1]))

    # --- tracks (core.edits.TrackStore) ---------------------------------------------------------
    def track_name(self, track_id: int) -> str | None:
        name = self.conn.exec_driver_sql(
            "SELECT name FROM tracks WHERE id = ?", (track_id,)).scalar()
        return None if name is None else str(name)

    def put_track(self, track_id: int, name: str) -> None:
        if self.track_name(track_id) is None:  # an explicit id: undo/redo keep the same one
            self.conn.exec_driver_sql(
                "INSERT INTO tracks (id, name, created_at) VALUES (?, ?, ?)",
                (track_id, name, time.time()))
            ids.catch_up(self.conn, "tracks", track_id)  # a server's sequence moves past it
        else:
            self.conn.exec_driver_sql("UPDATE tracks SET name = ? WHERE id = ?", (name, track_id))

    def drop_track(self, track_id: int) -> None:
        # Deleting a row instances still point at would untrack them behind the edit's back
        # (ON DELETE SET NULL): refuse, the edit must move them first.
        n = self.conn.exec_driver_sql(
            "SELECT count(*) FROM instances WHERE track_id = ?", (track_id,)).scalar_one()
        if n:
            raise StaleEditError(f"track {track_id} still has {n} instances (added since); "
                                 "nothing was changed")
        self.conn.exec_driver_sql("DELETE FROM tracks WHERE id = ?", (track_id,))

    def finish(self) -> None:
        """Bring the per-frame summaries of every touched frame up to date."""
        server.lock_videos(self.conn, {*self.touched, *self.quiet})
        for video_id, frames in sorted(self.quiet.items()):
            server.note_change(self.conn, "instances", video_id, frames)
        for video_id, frames in sorted(self.touched.items()):
            summary.refresh_frames(self.conn, video_id, frames)

    def frames(self) -> tuple[tuple[int, int], ...]:
        every: dict[int, set[int]] = {v: set(fs) for v, fs in self.touched.items()}
        for v, fs in self.quiet.items():
            every.setdefault(v, set()).update(fs)
        return tuple((v, f) for v, fs in sorted(every.items()) for f in sorted(fs))


def _raise(e: Exception) -> None:
    raise e


def _counted(kind: Any, model_run_id: Any, summary_score: Any) -> tuple[Any, ...]:
    """What the frame summaries count of an instance row (``summary.py``): a user instance
    only as one, a prediction by its run (which view counts it) and its score. Two rows with
    the same value leave their frame's summary the same."""
    if kind == KIND_USER:
        return (KIND_USER,)
    return (kind, model_run_id, summary_score)


def _span(frames: list[tuple[int, int]]) -> tuple[int | None, int | None, int | None, int]:
    """``(video_id or None when several, first, last, n_frames)``."""
    videos = {v for v, _ in frames}
    fs = sorted({f for _, f in frames})
    vid = next(iter(videos)) if len(videos) == 1 else None
    first = fs[0] if fs and vid is not None else None
    last = fs[-1] if fs and vid is not None else None
    return vid, first, last, len(frames)


#: A user's newest done step (0: none). Each user has their own undo stack (several annotators
#: on one project: my Ctrl+Z never undoes your edit); a user's done steps all come before their
#: undone ones, so every query about "the newest done" or "the redo list" walks that user's
#: steps from the end (the ``(made_by, seq)`` index), never the whole history.
LAST_DONE_SQL = ("SELECT coalesce((SELECT seq FROM edit_journal WHERE made_by = ? AND "
                 "undone = 0 ORDER BY seq DESC LIMIT 1), 0)")


def last_done(conn: Connection, user: str) -> int:
    return int(conn.exec_driver_sql(LAST_DONE_SQL, (user,)).scalar_one())


def insert_entry(conn: Connection, kind: str, label: str, user: str,
                 frames: list[tuple[int, int]], n_instances: int, payload: bytes,
                 merge_key: str | None = None,
                 span: tuple[int | None, int | None, int | None, int] | None = None) -> int:
    """Drop ``user``'s redo list and append a done step; returns its ``seq``.

    ``span``: ``(video_id, first, last, n_frames)`` when known (else from ``frames``).
    """
    return new_entry(conn, kind, label, user, frames, n_instances, payload, merge_key,
                     span).seq


def new_entry(conn: Connection, kind: str, label: str, user: str,
              frames: list[tuple[int, int]], n_instances: int, payload: bytes,
              merge_key: str | None = None,
              span: tuple[int | None, int | None, int | None, int] | None = None
              ) -> JournalEntry:
    """:func:`insert_entry` returning the whole entry (the insert reads it back: one round
    trip less than :func:`read_entry` afterwards on a server)."""
    return queue_entry(conn, kind, label, user, frames, n_instances, payload, merge_key,
                       span)()


def queue_entry(conn: Connection, kind: str, label: str, user: str,
                frames: list[tuple[int, int]], n_instances: int, payload: bytes,
                merge_key: str | None = None,
                span: tuple[int | None, int | None, int | None, int] | None = None
                ) -> Callable[[], JournalEntry]:
    """:func:`new_entry`, the entry read when the returned function is called: pipelined (a
    server), after the commit, whose round trip brings it; otherwise at once."""
    conn.exec_driver_sql(f"DELETE FROM edit_journal WHERE made_by = ? AND seq > ({LAST_DONE_SQL})",
                         (user, user))
    server.note_change(conn, "history")
    vid, first, last, n = span if span is not None else _span(frames)
    result = conn.exec_driver_sql(
        "INSERT INTO edit_journal (kind, label, made_by, made_at, undone, video_id, first_frame, "
        "last_frame, n_frames, n_instances, merge_key, payload) "
        f"VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?) RETURNING {_ENTRY_COLUMNS}",
        (kind, label, user, time.time(), vid, first, last, n, n_instances, merge_key,
         payload))
    if isinstance(conn, PipeConn):
        return lambda: _entry(result.one())
    entry = _entry(result.one())
    return lambda: entry


def read_entry(conn: Connection, seq: int) -> JournalEntry:
    row = conn.exec_driver_sql(
        f"SELECT {_ENTRY_COLUMNS} FROM edit_journal WHERE seq = ?", (seq,)).first()
    if row is None:
        raise ProjectError(f"the history has no step {seq}")
    return _entry(row)
