"""What every part of :class:`~pose_studio.store.project.Project` shares: its state, the
transaction helpers (one write transaction per public call; database errors become
:class:`ProjectError` naming the project) and the damage notes.

The project's methods live in mixins over this base, one module per subject (``videos.py``,
``instances.py``, ``predictions.py``, ``import_writer.py``); ``project.py`` is the facade with
the file lifecycle.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from sqlalchemy import Connection, Engine, exc
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from pose_studio.core.annotation import Instance
from pose_studio.core.skeleton import Skeleton
from pose_studio.store import server_pipe, validate
from pose_studio.store.engine import explain_db_error
from pose_studio.store.errors import ProjectError, ProjectReadOnlyError
from pose_studio.store.lock import ProjectLock
from pose_studio.store.records import FrameArrays
from pose_studio.store.server import display_url, send_changes

__all__ = ["ProjectBase"]


class ProjectBase:
    """The state and transaction helpers of an open project (see the module docstring)."""

    _path: Path
    _engine: Engine
    _edit_engine: Engine
    _bulk_engine: Engine
    _import_engine: Engine  # imports: exclusive on a server (they touch everything)
    _read_engine: Engine
    _url: URL | None  # the database of a server project (None: a file)
    _token: str
    _read_only_reason: str | None
    _lock: ProjectLock | None
    _skeleton: Skeleton
    _frame_counts: dict[int, int]
    _closed: bool
    _damage: dict[tuple[str, str], validate.Damage]

    if TYPE_CHECKING:  # defined by the mixins (instances.py), used across them
        def frame_arrays(self, video_id: int) -> FrameArrays: ...

    # --- properties ------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self._path

    @property
    def read_only(self) -> bool:
        return self._read_only_reason is not None

    @property
    def read_only_reason(self) -> str | None:
        """Why the project is read-only (None when writable)."""
        return self._read_only_reason

    @property
    def skeleton(self) -> Skeleton:
        return self._skeleton

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def damage(self) -> list[validate.Damage]:
        """Damaged rows met so far (left out of what was read; see ``validate.py``)."""
        return list(self._damage.values())

    def _note_damage(self, table: str, row_id: Any, problem: str) -> validate.Damage:
        d = validate.Damage(self._path, table, row_id, problem)
        self._damage.setdefault((table, repr(row_id)), d)
        validate.record(d)
        return d

    def _one_instance(self, row: Any) -> Instance:
        """The instance of one READ_SQL row, or ProjectDamagedError naming what is wrong."""
        got = validate.decode_instances([row], self._skeleton.num_keypoints, self._note_damage)
        if not got:
            raise validate.damaged_error(self._damage[("instances", repr(row[0]))])
        return got[0][1]

    # --- transactions ----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ProjectError(f"project {self._path} is closed")

    def _check_writable(self) -> None:
        self._check_open()
        if self._read_only_reason is not None:
            raise ProjectReadOnlyError(
                f"project {self._path} is open read-only ({self._read_only_reason}); nothing "
                "was changed. Use Save As to edit a copy"
            )

    @property
    def is_server(self) -> bool:
        """True for a project in a PostgreSQL database (several annotators at once)."""
        return self._url is not None

    @property
    def location(self) -> str:
        """The file path, or the database URL without its password."""
        return str(self._path) if self._url is None else display_url(self._url)

    @property
    def target(self) -> str:
        """What ``Project.open`` takes to reach this project again (a worker's or a second
        annotator's own connection): the file path, or the URL *with* its password, so never
        show or log it (:attr:`location` is for that)."""
        return str(self._path) if self._url is None else \
            self._url.render_as_string(hide_password=False)

    @contextlib.contextmanager
    def _write(self, *, bulk: bool = False, exclusive: bool = False,
               user: str | None = None) -> Iterator[Session]:
        """One ORM write transaction (BEGIN IMMEDIATE; on a server, its locks); database
        errors become ProjectError. ``user``: who, for the change note others receive."""
        self._check_writable()
        engine = self._import_engine if exclusive else \
            self._bulk_engine if bulk else self._edit_engine
        try:
            with Session(engine, expire_on_commit=False, autoflush=False) as s, s.begin():
                yield s
                if self._url is not None:
                    send_changes(s.connection(), self._token, user)
        except BaseException as e:
            # A rolled-back video id can be handed out again: forget what was cached.
            self._frame_counts.clear()
            self._convert(e)
            raise

    @contextlib.contextmanager
    def _write_conn(self, *, exclusive: bool = False, user: str | None = None,
                    videos: Iterable[int] = ()) -> Iterator[Connection]:
        """A Core write transaction for the per-edit hot path (no ORM unit of work).
        ``videos``: on a server, locked as the transaction begins (one round trip less than
        ``server.lock_videos`` afterwards)."""
        self._check_writable()
        engine = self._import_engine if exclusive else self._edit_engine
        try:
            with engine.connect() as conn:
                if self._url is not None:
                    conn.execution_options(ps_videos=tuple(videos))
                with conn.begin():
                    yield conn
                    if self._url is not None:
                        send_changes(conn, self._token, user)
        except BaseException as e:
            self._frame_counts.clear()
            self._convert(e)
            raise

    @contextlib.contextmanager
    def _edit_conn(self, *, user: str | None = None,
                   videos: Iterable[int] = ()) -> Iterator[Connection]:
        """The write transaction of one edit (:meth:`_write_conn`); on a server, pipelined
        (``server_pipe.py``: the store's SQL, a few round trips in all)."""
        if self._url is None:
            with self._write_conn(user=user, videos=videos) as conn:
                yield conn
            return
        self._check_writable()
        try:
            with server_pipe.pipelined(self._edit_engine, videos=videos) as pipe:
                # PipeConn does what the hot path asks of a Connection (exec_driver_sql,
                # dialect, info), lazily.
                conn = cast(Connection, pipe)
                yield conn
                send_changes(conn, self._token, user)
        except BaseException as e:
            self._frame_counts.clear()
            self._convert(e)
            raise

    def _convert(self, e: BaseException) -> None:
        """Raise database errors as ProjectError (others propagate unchanged)."""
        if isinstance(e, exc.IntegrityError):
            raise ProjectError(
                f"project {self._path}: the change refers to something that does not exist or "
                f"breaks a rule ({e.orig}); nothing was changed"
            ) from e
        if isinstance(e, exc.DBAPIError):
            raise ProjectError(
                f"cannot write project {self._path}: {explain_db_error(e, self._path)}; "
                "nothing was changed"
            ) from e

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        """One read transaction (a consistent snapshot)."""
        self._check_open()
        try:
            with self._read_engine.connect() as conn, conn.begin():
                yield conn
        except exc.DBAPIError as e:
            raise self._read_error(e) from e

    def _read_rows(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """The rows of one SELECT, from one snapshot (on a server: one round trip,
        ``server_pipe.read_rows``)."""
        if self._url is None:
            with self._read() as conn:
                return list(conn.exec_driver_sql(sql, params).fetchall())
        self._check_open()
        try:
            return server_pipe.read_rows(self._engine, sql, params)
        except exc.DBAPIError as e:
            raise self._read_error(e) from e

    def _read_error(self, e: exc.DBAPIError) -> ProjectError:
        if isinstance(e.orig, sqlite3.DatabaseError) and \
                not isinstance(e.orig, sqlite3.OperationalError):
            return ProjectError(
                f"project {self._path} is damaged ({e.orig}); `pose-studio info --check` says "
                f"where, `pose-studio repair {self._path} --out CLEAN.posestudio` saves what "
                "can be read")
        return ProjectError(f"cannot read project {self._path}: {e.orig}")

    def check_health(self) -> Any:
        """Check the whole file: SQLite's integrity check, foreign keys and every row
        (``health.py``); returns a :class:`~pose_studio.store.health.HealthReport`."""
        from pose_studio.store.health import check_health

        return check_health(self)


    @contextlib.contextmanager
    def _read_session(self) -> Iterator[Session]:
        """An ORM read session; database errors become ProjectError."""
        self._check_open()
        try:
            with Session(self._read_engine) as s:
                yield s
        except exc.DBAPIError as e:
            raise self._read_error(e) from e
        except exc.SQLAlchemyError as e:
            raise ProjectError(f"cannot read project {self._path}: {e}") from e


    def _frame_count(self, conn: Connection, video_id: int) -> int:
        n = self._frame_counts.get(video_id)
        if n is None:
            n = conn.exec_driver_sql(
                "SELECT frame_count FROM videos WHERE id = ?", (video_id,)
            ).scalar()
            if n is None:
                raise ProjectError(f"project {self._path} has no video with id {video_id}")
            self._frame_counts[video_id] = int(n)
        return int(n)

    def _check_frames(self, conn: Connection, video_id: int, frames: np.ndarray) -> None:
        n = self._frame_count(conn, video_id)
        if frames.size and (frames.min() < 0 or (n > 0 and frames.max() >= n)):
            bad = int(frames[(frames < 0) | (frames >= n)][0])
            raise ProjectError(
                f"frame {bad} is outside video {video_id} (it has {n} frames, 0..{n - 1}); "
                "nothing was changed"
            )
