"""A Pose Studio project: one SQLite file (``*.posestudio``) holding everything.

How it behaves (the decisions, in one place):

* **No save.** Every call that changes something is its own transaction and is on disk when it
  returns. WAL with ``synchronous=NORMAL`` already survives SIGKILL of the app (the commit is in
  the OS page cache before the call returns; tested by killing a writer at random moments), but
  not a power cut. So user edits commit with ``synchronous=FULL`` by default (one fsync of the
  WAL per edit: survives a power cut too; ``edit_sync="normal"`` turns that off for slow disks),
  while prediction batches and imports use ``NORMAL`` (a power cut can drop the newest batches,
  which can be recomputed; it never corrupts the file). See ``engine.py``.
* **Save As** (:meth:`Project.save_as`) copies a consistent snapshot with SQLite's backup API,
  rewrites the relative video paths for the new folder, and then the Project continues on the
  new file (the old file stays as it was at that moment), like "Save As" in any application.
* **One writer.** Opening for writing takes an OS lock on ``<file>.lock``; a second writer gets
  :class:`ProjectLockedError`. Readers (``read_only=True``) take no lock. A process that dies
  drops its lock with it.
* **Read-only** when asked, or when the file or its folder is not writable (``read_only_reason``
  says which); every write then raises :class:`ProjectReadOnlyError` and the file is not touched.
* **Versions.** The schema version is read through a read-only connection before anything else;
  a newer file is refused untouched (:class:`ProjectVersionError`), an older one is upgraded in
  one transaction (``migrations.py``).
* **Threads.** Each call checks a connection out of a pool, so a worker thread may call
  :meth:`add_predictions` while the GUI thread reads and edits (WAL: readers never wait for the
  writer; two writers queue on SQLite's lock for up to ``BUSY_TIMEOUT_MS``). Do not call
  :meth:`close` or :meth:`save_as` while another thread is still writing.
* Videos are stored with a path relative to the project file (found again when the folder with
  the project and its videos is moved) plus the absolute path as a fallback, and the file's
  identity (size, mtime, digest of the first/last MiB): :meth:`Project.video_file_status` tells
  cheaply on open whether the file was replaced, and only then do the labeled frames'
  fingerprints need checking (``pose_studio.formats.frame_check``).
* Every database error a public method meets is raised as :class:`ProjectError` naming the file
  (disk full, damaged tables...); the per-frame summaries repair themselves when a chunk is
  inconsistent (e.g. written by a development build with another chunk size).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
from sqlalchemy import Connection, Engine, delete, exc, select
from sqlalchemy.orm import Session

from pose_studio.core.annotation import FrameRef, Instance, InstanceKind
from pose_studio.core.edits import Edit
from pose_studio.core.files import PathError, check_output_path, os_reason
from pose_studio.core.limits import check_allocation
from pose_studio.core.skeleton import Skeleton
from pose_studio.store import (
    guard,
    journal,
    journal_import,
    migrations,
    newfile,
    runs,
    summary,
    validate,
)
from pose_studio.store.codec import (
    INSERT_COLUMNS,
    READ_SQL,
    check_instance,
    check_rows,
    instance_row,
)
from pose_studio.store.dataset_rows import DatasetReads, DatasetWrites
from pose_studio.store.engine import (
    connect_raw,
    explain_db_error,
    make_engine,
    memory_copy,
    pending_wal,
    recovered_memory_copy,
)
from pose_studio.store.errors import (
    ProjectError,
    ProjectReadOnlyError,
    ProjectVersionError,
)
from pose_studio.store.identity import FileIdentity, VideoFileStatus, compare, file_identity
from pose_studio.store.inspection import inspect_file, read_checked_version
from pose_studio.store.lock import ProjectLock
from pose_studio.store.records import FrameArrays, ModelRunRecord, TrackRecord, VideoRecord
from pose_studio.store.schema import (
    KIND_PREDICTED,
    KIND_USER,
    SCHEMA_VERSION,
    ModelRunRow,
    TrackRow,
    VideoRow,
)
from pose_studio.store.validate import MAX_SIGNATURE_BYTES

__all__ = ["SUFFIX", "ImportWriter", "Project"]

SUFFIX = ".posestudio"
Source = Literal["user", "predicted", "all"]
#: which predictions: "shown" (the video's shown run), "all" (every run), a run id, or None
#: (predictions without a run)
RunFilter = int | str | None
EditSync = Literal["full", "normal"]

_INSERT_SQL = (
    f"INSERT INTO instances ({', '.join(INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(INSERT_COLUMNS))})"
)
# Everything but id, video_id, frame_idx and created_at (INSERT_COLUMNS[3:12] + [13:]).
_UPDATE_SQL = (
    "UPDATE instances SET "
    + ", ".join(f"{c} = ?" for c in INSERT_COLUMNS[3:12] + INSERT_COLUMNS[13:])
    + " WHERE id = ?"
)
_SELECT_SQL = f"SELECT {READ_SQL} FROM instances"
_U64 = 1 << 64
_I64_MAX = (1 << 63) - 1


def _kind_filter(kind: InstanceKind | str | None) -> int | None:
    if kind is None or kind == "all":
        return None
    return KIND_PREDICTED if InstanceKind(kind) is InstanceKind.PREDICTED else KIND_USER


def _to_i64(v: int) -> int:
    v = int(v) % _U64
    return v - _U64 if v > _I64_MAX else v


_UPSERT_FINGERPRINT = (
    "INSERT INTO frames (video_id, frame_idx, fingerprint, signature) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (video_id, frame_idx) DO UPDATE SET fingerprint = excluded.fingerprint, "
    "signature = excluded.signature"
)


def _fingerprint_rows(
    video_id: int, fingerprints: Mapping[int, int | bytes]
) -> list[tuple[int, int, int | None, bytes | None]]:
    rows: list[tuple[int, int, int | None, bytes | None]] = []
    for f, v in fingerprints.items():
        if isinstance(v, bytes | bytearray | memoryview):
            b = bytes(v)
            if not 0 < len(b) <= MAX_SIGNATURE_BYTES:
                raise ValueError(f"fingerprint of frame {f} has {len(b)} bytes "
                                 f"(1..{MAX_SIGNATURE_BYTES})")
            rows.append((video_id, int(f), None, b))
        else:
            rows.append((video_id, int(f), _to_i64(int(v)), None))
    return rows



def _project_file(path: str | os.PathLike[str]) -> Path:
    """Absolute path with the project suffix added when missing (new files only)."""
    p = Path(path).expanduser()
    if p.suffix.lower() != SUFFIX:
        p = p.with_name(p.name + SUFFIX)
    return p.absolute()

class Project(DatasetReads):
    """An open project file. Create with :meth:`create`, open with :meth:`open`.

    Image-set files, categories, kept dataset fields and regions are read with the methods of
    :class:`~pose_studio.store.dataset_rows.DatasetReads`.
    """

    SUFFIX = SUFFIX

    def __init__(
        self,
        path: Path,
        engine: Engine,
        *,
        read_only_reason: str | None,
        lock: ProjectLock | None,
        edit_sync: EditSync = "full",
        keeper: sqlite3.Connection | None = None,
    ) -> None:
        if edit_sync not in ("full", "normal"):
            raise ProjectError(f"edit_sync must be 'full' or 'normal', not {edit_sync!r}")
        self._edit_sync = edit_sync
        self._path = path
        self._engine = engine
        self._read_only_reason = read_only_reason
        self._lock = lock
        self._frame_counts: dict[int, int] = {}
        self._closed = False
        self._keeper = keeper  # keeps an in-memory copy alive (old file opened read-only)
        self._damage: dict[tuple[str, str], validate.Damage] = {}
        self._setup_engines()
        self._skeleton = self._load_skeleton()
        self._arm()

    # --- lifecycle -------------------------------------------------------------------------------
    @classmethod
    def create(
        cls, path: str | os.PathLike[str], skeleton: Skeleton, *, edit_sync: EditSync = "full"
    ) -> Project:
        """Create a new project file (``.posestudio`` is appended when the name has no suffix).

        ``edit_sync`` is as for :meth:`open`.

        Raises:
            ProjectError: the file exists, or the folder is missing or not writable.
        """
        p = _project_file(path)
        try:
            check_output_path(p, "cannot create project")
        except PathError as e:
            raise ProjectError(str(e)) from None
        if p.exists():
            raise ProjectError(f"cannot create project {p}: the file already exists")
        lock = ProjectLock(p)
        lock.acquire()
        tmp = p.with_name(f".{p.name}.{os.getpid()}.creating")
        try:
            cls._write_new_file(tmp, skeleton)
            if p.exists():
                raise ProjectError(f"cannot create project {p}: the file already exists")
            os.replace(tmp, p)
            engine = make_engine(p, read_only=False)
            return cls(p, engine, read_only_reason=None, lock=lock, edit_sync=edit_sync)
        except OSError as e:
            lock.release()
            raise ProjectError(f"cannot create project {p}: {os_reason(e)}") from e
        except (sqlite3.Error, exc.SQLAlchemyError) as e:  # e.g. disk full while writing
            lock.release()
            raise ProjectError(f"cannot create project {p}: {explain_db_error(e, p)}") from e
        except BaseException:
            lock.release()
            raise
        finally:
            for side in ("", "-wal", "-shm", "-journal"):  # a failed build leaves no trace
                with contextlib.suppress(OSError):
                    Path(str(tmp) + side).unlink()

    @staticmethod
    def _write_new_file(tmp: Path, skeleton: Skeleton) -> None:
        newfile.write_new_file(tmp, skeleton)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        edit_sync: EditSync = "full",
    ) -> Project:
        """Open an existing project; read-only when asked or when it cannot be written.

        Args:
            edit_sync: ``"full"`` (default): each user edit's commit is fsynced, so it survives
                a power cut as well as a crash. ``"normal"``: no fsync per edit (survives a crash
                of the app, not a power cut); for slow disks where fsync takes tens of ms.

        Raises:
            ProjectNotFoundError, ProjectError (not a project / damaged), ProjectVersionError
            (written by a newer version), ProjectLockedError (open for writing elsewhere).
        """
        p = Path(path).expanduser().absolute()
        info = inspect_file(p)  # read-only connection: nothing is written before this passes
        if info.version > SCHEMA_VERSION:
            raise ProjectVersionError(
                f"project {p} was written by a newer Pose Studio (file format {info.version}; "
                f"this version reads up to {SCHEMA_VERSION}); update Pose Studio to open it. "
                "The file was not changed"
            )
        reason: str | None = None
        if read_only:
            reason = "opened read-only"
        elif not os.access(p, os.W_OK):
            reason = "the file is not writable"
        elif not os.access(p.parent, os.W_OK):
            reason = f"its folder {p.parent} is not writable"
        if reason is not None:
            keeper = None
            if info.needs_immutable and pending_wal(p):
                # Left by a crash in a folder we cannot write: an immutable reader would miss
                # the journal's commits, so apply it to a private copy served from memory.
                try:
                    uri, keeper = recovered_memory_copy(p)
                except (OSError, sqlite3.Error) as e:
                    raise ProjectError(f"cannot read project {p} and its journal: {e}") from e
                engine = make_engine(p, read_only=True, memory_uri=uri)
                reason += "; changes in its crash journal (-wal) applied in memory only"
            elif info.version < SCHEMA_VERSION:
                # An old file we may not upgrade: upgrade a copy in memory, leave the file alone.
                try:
                    uri, keeper = memory_copy(p, immutable=info.needs_immutable)
                except sqlite3.Error as e:
                    raise ProjectError(f"cannot read project {p}: {e}") from e
                engine = make_engine(p, read_only=True, memory_uri=uri)
                reason += f"; file format {info.version} upgraded in memory only"
            else:
                engine = make_engine(p, read_only=True, immutable=info.needs_immutable)
            try:
                if keeper is not None:
                    cls._upgrade(p, engine)
                else:
                    cls._verify(p, engine)
                return cls(p, engine, read_only_reason=reason, lock=None, keeper=keeper)
            except (sqlite3.Error, exc.SQLAlchemyError) as e:
                engine.dispose()
                if keeper is not None:
                    keeper.close()
                why = getattr(e, "orig", None) or e
                raise ProjectError(f"cannot open project {p}: {why}") from e
            except BaseException:
                engine.dispose()
                if keeper is not None:
                    keeper.close()
                raise
        lock = ProjectLock(p)
        lock.acquire()
        engine = make_engine(p, read_only=False)
        try:
            cls._upgrade(p, engine)
            return cls(p, engine, read_only_reason=None, lock=lock, edit_sync=edit_sync)
        except sqlite3.DatabaseError as e:
            engine.dispose()
            lock.release()
            raise ProjectError(f"project {p} is damaged: {e}") from e
        except exc.SQLAlchemyError as e:
            engine.dispose()
            lock.release()
            raise ProjectError(f"cannot open project {p}: {explain_db_error(e, p)}") from e
        except BaseException:
            engine.dispose()
            lock.release()
            raise

    @staticmethod
    def _upgrade(path: Path, engine: Engine) -> None:
        # The schema is checked again on the connection that will be used (the file may have
        # changed since inspect_file, or a crash journal was applied) before anything can fire,
        # and the upgraded schema before the upgrade commits (guard.py).
        conn = engine.connect().execution_options(ps_begin="EXCLUSIVE")
        try:
            with conn.begin():
                raw = conn.connection.driver_connection
                version = read_checked_version(raw, path)  # type: ignore[arg-type]
                if version > SCHEMA_VERSION:  # changed between inspection and lock: refuse
                    raise ProjectVersionError(
                        f"project {path} was written by a newer Pose Studio (file format "
                        f"{version})"
                    )
                if version < SCHEMA_VERSION:
                    migrations.migrate(conn, version)
                    guard.check_schema(raw, path, SCHEMA_VERSION)  # type: ignore[arg-type]
        except BaseException:
            # close the file now (a refused or full-disk open must not keep it open until the
            # garbage collector finds the connection in the traceback's frames)
            conn.invalidate()
            raise
        finally:
            conn.close()

    @staticmethod
    def _verify(path: Path, engine: Engine) -> None:
        """The schema check on a read-only engine (see :meth:`_upgrade`)."""
        conn = engine.connect()
        try:
            with conn.begin():
                read_checked_version(conn.connection.driver_connection,  # type: ignore[arg-type]
                                     path)
        except BaseException:
            conn.invalidate()  # closed now, not when the garbage collector finds it
            raise
        finally:
            conn.close()

    def _setup_engines(self) -> None:
        self._edit_engine = self._engine.execution_options(
            ps_begin="IMMEDIATE", ps_sync=self._edit_sync.upper()
        )
        self._bulk_engine = self._engine.execution_options(
            ps_begin="IMMEDIATE", ps_sync="NORMAL"
        )

    def _load_skeleton(self) -> Skeleton:
        with self._read() as conn:
            text = conn.exec_driver_sql("SELECT json FROM skeletons ORDER BY id LIMIT 1").scalar()
        return validate.load_skeleton(text, self._path)

    def _arm(self) -> None:
        # Closes the file even if the Project is dropped without close() (or at exit), so a
        # forgotten project never keeps its lock for the rest of the session.
        self._finalizer = weakref.finalize(
            self, _shutdown, self._engine, self._path, self._read_only_reason is None,
            self._lock, self._keeper,
        )

    def close(self) -> None:
        """Close the file: checkpoint the WAL into it, make it one file again, drop the lock."""
        if self._closed:
            return
        self._closed = True
        self._finalizer()
        self._lock = None
        self._keeper = None

    def __enter__(self) -> Project:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"<Project {self._path} ({mode})>"

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

    @contextlib.contextmanager
    def _write(self, *, bulk: bool = False) -> Iterator[Session]:
        """One ORM write transaction (BEGIN IMMEDIATE); database errors become ProjectError."""
        self._check_writable()
        engine = self._bulk_engine if bulk else self._edit_engine
        try:
            with Session(engine, expire_on_commit=False, autoflush=False) as s, s.begin():
                yield s
        except BaseException as e:
            # A rolled-back video id can be handed out again: forget what was cached.
            self._frame_counts.clear()
            self._convert(e)
            raise

    @contextlib.contextmanager
    def _write_conn(self) -> Iterator[Connection]:
        """A Core write transaction for the per-edit hot path (no ORM unit of work)."""
        self._check_writable()
        try:
            with self._edit_engine.begin() as conn:
                yield conn
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
            with self._engine.connect() as conn, conn.begin():
                yield conn
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

    # --- videos ----------------------------------------------------------------------------------
    def _rel(self, abs_path: Path, base: Path | None = None) -> str | None:
        try:
            return Path(os.path.relpath(abs_path, base or self._path.parent)).as_posix()
        except ValueError:  # another drive (Windows)
            return None

    def _record(self, row: VideoRow) -> VideoRecord:
        why = validate.video_problem(row)
        if why is not None:
            raise validate.damaged_error(self._note_damage("videos", row.id, why))
        abs_p = Path(row.abs_path)
        path = abs_p
        if row.rel_path is not None:
            rel_p = Path(os.path.normpath(self._path.parent / row.rel_path))
            path = rel_p if (rel_p.exists() or not abs_p.exists()) else abs_p
        fr = (row.fps_num, row.fps_den) if row.fps_num and row.fps_den else None
        return VideoRecord(
            id=row.id, path=path, stored_path=row.rel_path or row.abs_path, width=row.width,
            height=row.height, frame_count=row.frame_count, fps=row.fps, vfr=bool(row.vfr),
            codec=row.codec, duration_s=row.duration_s, fps_rational=fr, rotation=row.rotation,
            kind=row.kind, missing=not path.exists(),
        )

    def add_video(
        self,
        path: str | os.PathLike[str],
        *,
        width: int,
        height: int,
        frame_count: int,
        fps: float,
        vfr: bool = False,
        codec: str = "",
        duration_s: float = 0.0,
        index: bytes | None = None,
        fps_rational: tuple[int, int] | None = None,
        rotation: int = 0,
        kind: str = "file",
    ) -> int:
        """Add a video (its metadata as the video layer read it) and return its id.

        Raises:
            ProjectError: the same file is already in the project, or bad metadata.
        """
        with self._write() as s:
            return self._add_video(s, path, width=width, height=height,
                                   frame_count=frame_count, fps=fps, vfr=vfr, codec=codec,
                                   duration_s=duration_s, index=index, fps_rational=fps_rational,
                                   rotation=rotation, kind=kind)

    def _add_video(self, s: Session, path: str | os.PathLike[str], **m: Any) -> int:
        abs_p = Path(path).expanduser().absolute()
        if int(m["frame_count"]) < 0 or int(m["width"]) < 0 or int(m["height"]) < 0:
            raise ProjectError(f"cannot add video {abs_p}: negative size or frame count")
        existing = s.execute(select(VideoRow.id).where(VideoRow.abs_path == str(abs_p))).scalar()
        if existing is not None:
            raise ProjectError(
                f"video {abs_p} is already in project {self._path} (video id {existing})"
            )
        fr = m.pop("fps_rational")
        row = VideoRow(
            rel_path=self._rel(abs_p), abs_path=str(abs_p), width=int(m["width"]),
            height=int(m["height"]), frame_count=int(m["frame_count"]), fps=float(m["fps"]),
            fps_num=int(fr[0]) if fr else None, fps_den=int(fr[1]) if fr else None,
            vfr=bool(m["vfr"]), codec=str(m["codec"]), duration_s=float(m["duration_s"]),
            rotation=int(m["rotation"]), kind=str(m["kind"]), index_blob=m["index"],
            added_at=time.time(),
        )
        ident = file_identity(abs_p)
        if ident is not None:
            row.file_size, row.file_mtime_ns, row.file_digest = (
                ident.size, ident.mtime_ns, ident.digest)
        s.add(row)
        s.flush()
        return int(row.id)

    @contextlib.contextmanager
    def _read_session(self) -> Iterator[Session]:
        """An ORM read session; database errors become ProjectError."""
        self._check_open()
        try:
            with Session(self._engine) as s:
                yield s
        except exc.DBAPIError as e:
            raise self._read_error(e) from e
        except exc.SQLAlchemyError as e:
            raise ProjectError(f"cannot read project {self._path}: {e}") from e

    def videos(self) -> list[VideoRecord]:
        """The project's videos; damaged rows are left out (and noted in :attr:`damage`)."""
        with self._read_session() as s:
            rows = s.scalars(select(VideoRow).order_by(VideoRow.id))
            return [self._record(r) for r in validate.valid(
                rows, "videos", validate.video_problem, self._note_damage)]

    def video(self, video_id: int) -> VideoRecord:
        with self._read_session() as s:
            row = s.get(VideoRow, video_id)
            if row is None:
                raise ProjectError(f"project {self._path} has no video with id {video_id}")
            return self._record(row)

    # --- video file identity ---------------------------------------------------------------------
    def _stored_identity(self, video_id: int) -> tuple[Path, FileIdentity | None]:
        with self._read_session() as s:
            row = s.get(VideoRow, video_id)
            if row is None:
                raise ProjectError(f"project {self._path} has no video with id {video_id}")
            path = self._record(row).path
            if row.file_size is None or row.file_mtime_ns is None or row.file_digest is None:
                return path, None
            return path, FileIdentity(row.file_size, row.file_mtime_ns, row.file_digest)

    def video_file_status(self, video_id: int) -> VideoFileStatus:
        """Whether the video file is still the one that was added (cheap: a ``stat``, plus a
        2 MiB digest only when its time changed). Call on open; when ``.changed`` (or
        ``"unrecorded"``), check the labeled frames' fingerprints
        (``pose_studio.formats.frame_check.check_video_frames``) and tell the user which labels
        no longer sit on their frames. A touched file with the same bytes is ``"same"`` (and its
        new time is remembered when the project is writable, so the next check is a ``stat``).
        """
        path, stored = self._stored_identity(video_id)
        status, current = compare(video_id, path, stored)
        if status.state == "same" and current is not None and not self.read_only:
            with contextlib.suppress(ProjectError):
                self._store_identity(video_id, current)
        return status

    def accept_video_file(self, video_id: int) -> VideoFileStatus:
        """Record the video file as it is now as the project's reference (after its frames were
        checked, or the user accepted the change). Returns the new status (``"same"``).

        Raises:
            ProjectError: no such video, or the file cannot be read.
        """
        path, _ = self._stored_identity(video_id)
        ident = file_identity(path)
        if ident is None:
            raise ProjectError(f"cannot read video {path} of project {self._path}")
        self._store_identity(video_id, ident)
        return VideoFileStatus(video_id, path, "same")

    def _store_identity(self, video_id: int, ident: FileIdentity) -> None:
        with self._write(bulk=True) as s:
            s.connection().exec_driver_sql(
                "UPDATE videos SET file_size = ?, file_mtime_ns = ?, file_digest = ? WHERE id = ?",
                (ident.size, ident.mtime_ns, ident.digest, video_id),
            )

    def frames_missing_fingerprints(self, video_id: int) -> list[int]:
        """Labeled frames (with a user instance) that have no stored fingerprint, ascending.

        The GUI fills them when a video is opened and its file is unchanged
        (``pose_studio.formats.frame_check.fill_missing_fingerprints``).
        """
        labeled = np.flatnonzero(self.frame_arrays(video_id).labeled)
        have = np.fromiter(self.fingerprints(video_id), dtype=np.int64)
        return [int(f) for f in np.setdiff1d(labeled, have, assume_unique=True)]

    def find_video(self, path: str | os.PathLike[str]) -> int | None:
        """The id of the video stored for ``path`` (absolute or as resolved now), if any."""
        target = Path(path).expanduser().absolute()
        for v in self.videos():
            if v.path == target or Path(v.stored_path) == target:
                return v.id
        return None

    def relink_video(self, video_id: int, new_path: str | os.PathLike[str]) -> VideoRecord:
        """Point a (moved) video at its new location; its labels and index are kept."""
        abs_p = Path(new_path).expanduser().absolute()
        with self._write() as s:
            row = s.get(VideoRow, video_id)
            if row is None:
                raise ProjectError(f"project {self._path} has no video with id {video_id}")
            row.abs_path = str(abs_p)
            row.rel_path = self._rel(abs_p)
            s.flush()
            return self._record(row)

    def remove_video(self, video_id: int) -> None:
        """Remove a video with all its instances and frame data."""
        with self._write() as s:
            n = s.execute(delete(VideoRow).where(VideoRow.id == video_id)).rowcount  # type: ignore[attr-defined]
            if not n:
                raise ProjectError(f"project {self._path} has no video with id {video_id}")
        self._frame_counts.pop(video_id, None)

    def video_index(self, video_id: int) -> bytes | None:
        with self._read() as conn:
            return conn.exec_driver_sql(  # type: ignore[no-any-return]
                "SELECT index_blob FROM videos WHERE id = ?", (video_id,)
            ).scalar()

    def set_video_index(self, video_id: int, blob: bytes | None) -> None:
        with self._write() as s:
            n = s.connection().exec_driver_sql(
                "UPDATE videos SET index_blob = ? WHERE id = ?", (blob, video_id)
            ).rowcount
            if not n:
                raise ProjectError(f"project {self._path} has no video with id {video_id}")

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
        with self._read() as conn:
            rows = conn.exec_driver_sql(sql + " ORDER BY id", params).fetchall()
        return [inst for _, inst in validate.decode_instances(
            rows, self._skeleton.num_keypoints, self._note_damage)]

    def instance(self, instance_id: int) -> Instance:
        with self._read() as conn:
            row = conn.exec_driver_sql(f"{_SELECT_SQL} WHERE id = ?", (instance_id,)).first()
        if row is None:
            raise ProjectError(f"project {self._path} has no instance {instance_id}")
        return self._one_instance(row)

    def _insert_instance(
        self, conn: Connection, video_id: int, frame_idx: int, inst: Instance, *,
        refresh: bool = True,
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
        cur = conn.exec_driver_sql(_INSERT_SQL, instance_row(inst, video_id, frame_idx, time.time()))
        new_id = int(cur.lastrowid)
        if refresh:
            summary.refresh_frames(conn, video_id, (frame_idx,))
        return inst if inst.id == new_id else inst.replace(id=new_id)

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
            conn.exec_driver_sql(_UPDATE_SQL, (*row[3:12], *row[13:], inst.id))
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
            return _new_model_run(s, model_path, model_hash, providers, params)

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
            conn.exec_driver_sql(_INSERT_SQL, rows)
            if chunks is not None:
                scores = np.fromiter((np.nan if r[19] is None else r[19] for r in rows),
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
                " WHERE kind = 0)), "
                "(SELECT count(*) FROM (SELECT DISTINCT video_id, frame_idx FROM instances "
                " WHERE kind = 1))"
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

    # --- fingerprints ----------------------------------------------------------------------------
    def set_fingerprints(self, video_id: int, fingerprints: Mapping[int, int | bytes]) -> None:
        """Store frame fingerprints (to check later that the video still shows the labeled
        pictures): ``{frame_idx: fingerprint}``.

        A fingerprint is ``bytes`` (a signature, ``pose_studio.video.frame_signature``: what new
        code stores) or ``int`` (the old 64-bit hash, ``pose_studio.video.fingerprint``; kept for
        projects and callers from before format 4). Storing one replaces whatever the frame had.
        The store does not look inside the bytes (at most :data:`MAX_SIGNATURE_BYTES`).
        """
        frames = np.fromiter(fingerprints.keys(), dtype=np.int64, count=len(fingerprints))
        rows = _fingerprint_rows(video_id, fingerprints)
        with self._write(bulk=True) as s:
            conn = s.connection()
            self._check_frames(conn, video_id, frames)
            conn.exec_driver_sql(_UPSERT_FINGERPRINT, rows)

    def fingerprints(self, video_id: int) -> dict[int, int | bytes]:
        """``{frame_idx: fingerprint}`` of the video's frames that have one, ascending:
        ``bytes`` signatures, or ``int`` (unsigned 64-bit) hashes stored by older versions."""
        with self._read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT frame_idx, fingerprint, signature FROM frames WHERE video_id = ? "
                "AND (fingerprint IS NOT NULL OR signature IS NOT NULL) ORDER BY frame_idx",
                (video_id,),
            ).fetchall()
        out: dict[int, int | bytes] = {}
        for f, v, sig in rows:
            why = validate.fingerprint_problem(f, v, sig, MAX_SIGNATURE_BYTES)
            if why is not None:
                self._note_damage("frames", f"video {video_id} frame {f}", why)
                continue
            out[int(f)] = bytes(sig) if sig is not None else int(v) % _U64
        return out

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

    # --- edit journal (the undo history; store/journal.py) ----------------------------------------
    def apply_edit(self, edit: Edit, *, user: str | None = None,
                   merge_into: int | None = None) -> journal.Applied:
        """Apply a user edit and record it in the history, in one transaction (see
        :func:`pose_studio.store.journal.apply_edit`)."""
        return journal.apply_edit(self, edit, user=user, merge_into=merge_into)

    def undo(self, *, user: str | None = None) -> journal.Applied | None:
        """Undo the newest step of the history (None: nothing to undo)."""
        return journal.undo(self, user=user)

    def redo(self, *, user: str | None = None) -> journal.Applied | None:
        """Redo the oldest undone step (None: nothing to redo)."""
        return journal.redo(self, user=user)

    def history(self, limit: int | None = None) -> list[journal.JournalEntry]:
        """The history, oldest first (see :func:`pose_studio.store.journal.entries`)."""
        return journal.entries(self, limit)

    # --- bulk import -----------------------------------------------------------------------------
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
        with self._write(bulk=True) as s:
            writer = ImportWriter(self, s)
            since = journal_import.mark(s.connection())
            yield writer
            writer._finish()
            journal_import.record(self, s.connection(), since, writer._explicit_ids,
                                  writer._videos_added, label, user or journal.default_user())

    # --- save as ---------------------------------------------------------------------------------
    def save_as(self, path: str | os.PathLike[str]) -> Path:
        """Copy the project to ``path`` (SQLite backup API) and continue on the copy.

        Relative video paths are rewritten for the new folder. The target must not exist or be
        open elsewhere. Returns the new path.
        """
        self._check_open()
        new = _project_file(path)
        if new == self._path:
            raise ProjectError(f"save as: {new} is the open project itself")
        if new.exists():
            raise ProjectError(f"save as: {new} already exists; choose another name")
        if not new.parent.is_dir():
            raise ProjectError(f"save as: folder {new.parent} does not exist")
        lock = ProjectLock(new)
        lock.acquire()
        tmp = new.with_name(f".{new.name}.{os.getpid()}.saving")
        try:
            dst = connect_raw(tmp, mode="rwc")
            try:
                src_conn = self._engine.raw_connection()
                try:
                    src_conn.driver_connection.backup(dst)  # type: ignore[union-attr]
                finally:
                    src_conn.close()
                self._rewrite_video_paths(dst, new.parent)
                dst.execute("PRAGMA journal_mode = DELETE")
            finally:
                dst.close()
            os.replace(tmp, new)
        except (OSError, sqlite3.Error, exc.SQLAlchemyError) as e:
            lock.release()
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise ProjectError(f"save as {new} failed: {e}; the open project is unchanged") from e
        except BaseException:
            lock.release()
            raise
        # Continue on the new file.
        self.close()
        self._path = new
        self._lock = lock
        self._read_only_reason = None
        self._engine = make_engine(new, read_only=False)
        self._setup_engines()
        self._frame_counts.clear()
        self._closed = False
        self._arm()
        return new

    def _rewrite_video_paths(self, dst: sqlite3.Connection, new_dir: Path) -> None:
        rows = dst.execute("SELECT id, rel_path, abs_path FROM videos").fetchall()
        dst.execute("BEGIN")
        for vid, rel, abs_s in rows:
            where = Path(abs_s)
            if rel is not None:
                rel_p = Path(os.path.normpath(self._path.parent / rel))
                if rel_p.exists() or not where.exists():
                    where = rel_p
            dst.execute("UPDATE videos SET rel_path = ?, abs_path = ? WHERE id = ?",
                        (self._rel(where, new_dir), str(where), vid))
        dst.execute("COMMIT")


def _new_model_run(
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


def _shutdown(
    engine: Engine,
    path: Path,
    writable: bool,
    lock: ProjectLock | None,
    keeper: sqlite3.Connection | None,
) -> None:
    engine.dispose()
    if writable:
        with contextlib.suppress(sqlite3.Error):
            raw = connect_raw(path)
            try:
                raw.execute("PRAGMA optimize")
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                raw.execute("PRAGMA journal_mode = DELETE")
            finally:
                raw.close()
    if lock is not None:
        lock.release()
    if keeper is not None:
        keeper.close()


class ImportWriter(DatasetWrites):
    """Adds many things inside one transaction (see :meth:`Project.import_transaction`); the
    dataset tables through :class:`~pose_studio.store.dataset_rows.DatasetWrites`."""

    def __init__(self, project: Project, session: Session) -> None:
        self._p = project
        self._s = session
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
                                       refresh=False)
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
        rows = [instance_row(inst, v, f, now) for v, f, inst in items]
        check_rows(rows, self._p.skeleton.num_keypoints, f"project {self._p.path}")
        conn = self._s.connection()
        by_video: dict[int, list[int]] = {}
        for r in rows:
            by_video.setdefault(r[1], []).append(r[2])
        for vid, frames in by_video.items():
            self._p._check_frames(conn, vid, np.asarray(frames, dtype=np.int64))
        if rows:
            conn.exec_driver_sql(_INSERT_SQL, rows)
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
        return _new_model_run(self._s, model_path, model_hash, providers, params)

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
        conn.exec_driver_sql(_UPDATE_SQL, (*row[3:12], *row[13:], inst.id))
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
                "UPDATE instances SET track_id = ? WHERE id = ?", rows)

    def create_track(self, name: str) -> int:
        row = TrackRow(name=str(name), created_at=time.time())
        self._s.add(row)
        self._s.flush()
        return int(row.id)

    def set_fingerprints(self, video_id: int, fingerprints: Mapping[int, int | bytes]) -> None:
        """As :meth:`Project.set_fingerprints`, inside the import transaction."""
        rows = _fingerprint_rows(video_id, fingerprints)
        if rows:
            self._s.connection().exec_driver_sql(_UPSERT_FINGERPRINT, rows)

    def _finish(self) -> None:
        conn = self._s.connection()
        for video_id in self._predicted:
            runs.follow_newest(conn, video_id)
        for video_id, frames in self._touched.items():
            summary.refresh_frames(conn, video_id, frames)
