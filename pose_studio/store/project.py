"""A Pose Studio project: one SQLite file (``*.posestudio``) holding everything, or the same
tables in a PostgreSQL database shared by several annotators (``server.py``,
``server_project.py``: what differs there, and why).

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
import os
import sqlite3
import uuid
import weakref
from pathlib import Path
from types import TracebackType
from typing import Literal

from sqlalchemy import Engine, exc
from sqlalchemy.engine import URL

from pose_studio.core.edits import Edit
from pose_studio.core.files import PathError, check_output_path, os_reason
from pose_studio.core.skeleton import Skeleton
from pose_studio.store import (
    guard,
    journal,
    migrations,
    newfile,
    server,
    server_project,
    validate,
)
from pose_studio.store.dataset_rows import DatasetReads
from pose_studio.store.engine import (
    connect_raw,
    explain_db_error,
    make_engine,
    memory_copy,
    pending_wal,
    recovered_memory_copy,
)
from pose_studio.store.errors import ProjectError, ProjectVersionError
from pose_studio.store.import_writer import ImportOps, ImportWriter
from pose_studio.store.inspection import inspect_file, read_checked_version
from pose_studio.store.instances import RunFilter, Source
from pose_studio.store.lock import ProjectLock
from pose_studio.store.predictions import PredictionOps
from pose_studio.store.schema import SCHEMA_VERSION
from pose_studio.store.team import TeamOps

__all__ = ["SUFFIX", "EditSync", "ImportWriter", "Project", "RunFilter", "Source"]

SUFFIX = ".posestudio"
EditSync = Literal["full", "normal"]


def _project_file(path: str | os.PathLike[str]) -> Path:
    """Absolute path with the project suffix added when missing (new files only)."""
    p = Path(path).expanduser()
    if p.suffix.lower() != SUFFIX:
        p = p.with_name(p.name + SUFFIX)
    return p.absolute()


class Project(ImportOps, PredictionOps, TeamOps, DatasetReads):
    """An open project file. Create with :meth:`create`, open with :meth:`open`.

    The methods live by subject in mixins: videos and fingerprints (``videos.py``), instances,
    whole-video arrays and tracks (``instances.py``), predictions and model runs
    (``predictions.py``), bulk writes (``import_writer.py``), assignments and annotators
    (``team.py``), the shared transaction helpers
    (``project_base.py``). Image-set files, categories, kept dataset fields and regions are read
    with the methods of :class:`~pose_studio.store.dataset_rows.DatasetReads`.
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
        url: URL | None = None,
    ) -> None:
        if edit_sync not in ("full", "normal"):
            raise ProjectError(f"edit_sync must be 'full' or 'normal', not {edit_sync!r}")
        self._edit_sync = edit_sync
        self._path = path
        self._url = url
        self._token = uuid.uuid4().hex[:12]  # tells this project's own change notes apart
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

        ``path`` may be a database URL (``postgresql+psycopg://user@host:port/dbname``): the
        project is then created in that (empty) database.

        Raises:
            ProjectError: the file exists, or the folder is missing or not writable.
        """
        if server.is_url(path):
            return server_project.create(cls, str(path), skeleton)
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

        ``path`` may be a database URL (see :meth:`create`); several annotators then work on
        it at once (no write lock; see ``server.py``).
        """
        if server.is_url(path):
            return server_project.open(cls, str(path), read_only=read_only)
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
        self._import_engine = self._bulk_engine
        self._read_engine = self._engine
        if self._url is not None:  # see server.py: exclusive imports, one snapshot per read
            self._import_engine = self._engine.execution_options(
                ps_begin="EXCLUSIVE", ps_sync="NORMAL")
            self._read_engine = self._engine.execution_options(isolation_level="REPEATABLE READ")

    def reload_skeleton(self) -> Skeleton:
        """Re-read the stored skeleton (another annotator may have changed it) and use it."""
        self._skeleton = self._load_skeleton()
        return self._skeleton

    def _load_skeleton(self) -> Skeleton:
        with self._read() as conn:
            text = conn.exec_driver_sql("SELECT json FROM skeletons ORDER BY id LIMIT 1").scalar()
        return validate.load_skeleton(text, self._path)

    def _arm(self) -> None:
        # Closes the file even if the Project is dropped without close() (or at exit), so a
        # forgotten project never keeps its lock for the rest of the session.
        self._finalizer = weakref.finalize(
            self, _shutdown, self._engine, self._path,
            self._read_only_reason is None and self._url is None, self._lock, self._keeper,
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


    # --- edit journal (the undo history; store/journal.py) ----------------------------------------
    def apply_edit(self, edit: Edit, *, user: str | None = None,
                   merge_into: int | None = None) -> journal.Applied:
        """Apply a user edit and record it in the history, in one transaction (see
        :func:`pose_studio.store.journal.apply_edit`)."""
        return journal.apply_edit(self, edit, user=user, merge_into=merge_into)

    def undo(self, *, user: str | None = None) -> journal.Applied | None:
        """Undo ``user``'s newest step (None: nothing to undo). Each user has their own
        undo stack: nobody's undo takes back another annotator's edit."""
        return journal.undo(self, user=user)

    def redo(self, *, user: str | None = None) -> journal.Applied | None:
        """Redo ``user``'s oldest undone step (None: nothing to redo)."""
        return journal.redo(self, user=user)

    def history(self, limit: int | None = None, *,
                user: str | None = None) -> list[journal.JournalEntry]:
        """The history, oldest first (see :func:`pose_studio.store.journal.entries`)."""
        return journal.entries(self, limit, user=user)


    # --- save as ---------------------------------------------------------------------------------
    def save_as(self, path: str | os.PathLike[str]) -> Path:
        """Copy the project to ``path`` (SQLite backup API) and continue on the copy.

        Relative video paths are rewritten for the new folder. The target must not exist or be
        open elsewhere. Returns the new path.
        """
        self._check_open()
        if self._url is not None:
            raise ProjectError(
                f"project {self.location} is on a server: every edit is saved there as it is "
                f"made; `pose-studio copy {self.location} FILE.posestudio` makes a file of it")
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
