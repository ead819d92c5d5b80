"""SQLite connections for a project file: pragmas, transaction modes, file inspection.

Durability (decided here, documented in the store README section of ``project.py``):

* The file is in WAL mode while open for writing and goes back to a single self-contained file
  (``journal_mode=DELETE``) when closed cleanly.
* WAL + ``synchronous=NORMAL`` is enough for "an edit reported committed survives SIGKILL": the
  commit has been written to the WAL (OS page cache) before the call returns, and a killed
  process loses nothing the kernel holds. It is not enough for a power cut or OS crash.
* So user edits commit with ``synchronous=FULL`` by default: the WAL is fsynced at each commit,
  so an edit the GUI reported saved also survives a power cut. At a human edit rate the fsync
  (0.1-5 ms on an SSD) is invisible; ``Project.open(..., edit_sync="normal")`` drops it.
* Bulk prediction batches and imports commit with ``synchronous=NORMAL``: the commit is in the OS
  page cache (survives SIGKILL of the app, which is what crashes are); a power cut can lose the
  last batches (never corrupt the file), and predictions can be recomputed.
* Writes start with ``BEGIN IMMEDIATE`` (take the write lock up front, wait up to
  ``BUSY_TIMEOUT_MS`` for another writer) so a read-then-write transaction never fails with
  ``SQLITE_BUSY`` halfway.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import QueuePool

from pose_studio.core.files import os_reason, path_kind
from pose_studio.store.errors import ProjectError, ProjectNotFoundError

__all__ = [
    "BUSY_TIMEOUT_MS",
    "FileInfo",
    "connect_memory",
    "connect_raw",
    "harden",
    "make_engine",
    "memory_copy",
    "pending_wal",
    "recovered_memory_copy",
]

BUSY_TIMEOUT_MS = 15000
SQLITE_MAGIC = b"SQLite format 3\x00"


def _uri(path: Path, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return path.resolve().as_uri() + (f"?{query}" if query else "")


def harden(conn: sqlite3.Connection) -> sqlite3.Connection:
    """SQLite's defences against a hostile file, on one connection (see ``guard.py``, which
    does not rely on them): functions with side effects may not run from the schema (triggers,
    views, defaults, generated columns), cells are checked for size as pages are read, and
    where the driver exposes it (Python 3.12+) defensive mode forbids SQL that can corrupt the
    file on purpose (``writable_schema``...)."""
    conn.execute("PRAGMA trusted_schema = OFF")
    conn.execute("PRAGMA cell_size_check = ON")
    setconfig = getattr(conn, "setconfig", None)
    if setconfig is not None:  # Python 3.12+
        for name, value in (("SQLITE_DBCONFIG_DEFENSIVE", True),
                            ("SQLITE_DBCONFIG_TRUSTED_SCHEMA", False)):
            op = getattr(sqlite3, name, None)
            if op is not None:
                with contextlib.suppress(sqlite3.Error):  # an SQLite build without it
                    setconfig(op, value)
    return conn


def connect_raw(path: Path, *, mode: str = "rw", immutable: bool = False) -> sqlite3.Connection:
    """A plain, hardened sqlite3 connection (``mode`` ro / rw / rwc) in driver autocommit mode."""
    params = {"mode": mode}
    if immutable:
        params["immutable"] = "1"
    conn = sqlite3.connect(
        _uri(path, **params), uri=True, check_same_thread=False, isolation_level=None,
        timeout=BUSY_TIMEOUT_MS / 1000,
    )
    try:
        return harden(conn)
    except BaseException:
        conn.close()
        raise


def connect_memory(uri: str) -> sqlite3.Connection:
    """A hardened connection to a named shared in-memory database."""
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
    try:
        return harden(conn)
    except BaseException:
        conn.close()
        raise


@dataclass(frozen=True)
class FileInfo:
    version: int
    needs_immutable: bool  # read-only access only works with immutable=1 (read-only folder + WAL)


def explain_db_error(exc: BaseException, path: Path) -> str:
    """SQLite's message for a failed write, with the likely cause when its own words hide it:
    on a full disk SQLite often says only "disk I/O error" (a failed write of the journal)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).split("\n")[0]
    if isinstance(orig, OSError):
        text = os_reason(orig)
    try:
        st = os.statvfs(path.parent)
        free = st.f_bavail * st.f_frsize
    except (OSError, AttributeError):  # no statvfs (Windows) or no folder
        return text
    if free < (1 << 20) and ("I/O" in text or "full" in text or "space" in text):
        return f"the disk is full ({free // 1024} KiB free; SQLite said: {text})"
    return text


def _open_regular(path: Path) -> bytes:
    """The first 100 bytes of ``path``, refusing at once anything but a regular file (a FIFO
    would block the open forever, a device never ends)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ProjectNotFoundError(f"project {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ProjectError(f"cannot open project {path}: {os_reason(exc, path)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ProjectError(f"{path} is a folder, not a Pose Studio project file")
    if not stat.S_ISREG(st.st_mode):
        raise ProjectError(f"{path} is {path_kind(st.st_mode)}, not a Pose Studio project file")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ProjectError(f"cannot read project {path}: {os_reason(exc, path)}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since the stat
            raise ProjectError(f"{path} is not a regular file, not a Pose Studio project file")
        return os.read(fd, 100)
    except OSError as exc:
        raise ProjectError(f"cannot read project {path}: {os_reason(exc, path)}") from None
    finally:
        os.close(fd)


def _on_connect(read_only: bool) -> Any:
    def on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Driver autocommit: SQLAlchemy's "begin" event below emits BEGIN itself.
        dbapi_conn.isolation_level = None
        try:
            with contextlib.closing(dbapi_conn.cursor()) as cur:
                cur.execute("PRAGMA foreign_keys = ON")
                cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                if not read_only:
                    cur.execute("PRAGMA journal_mode = WAL")  # needs room for -wal/-shm
                    cur.execute("PRAGMA synchronous = FULL")
        except BaseException:
            # Close the file now (cursor first: SQLite keeps a connection with a live
            # statement open as a "zombie" until that statement is gone), not when the
            # garbage collector frees the traceback that holds the half-made connection.
            dbapi_conn.close()
            raise

    return on_connect


def _on_begin(conn: Any) -> None:
    opts = conn.get_execution_options()
    sync = opts.get("ps_sync")
    if sync:
        conn.exec_driver_sql(f"PRAGMA synchronous = {sync}")
    conn.exec_driver_sql(f"BEGIN {opts.get('ps_begin', 'DEFERRED')}")


def memory_copy(path: Path, *, immutable: bool) -> tuple[str, sqlite3.Connection]:
    """Copy a file into a named shared in-memory database (backup API), for a read-only view
    of an old file upgraded in memory. Returns its URI and a connection that keeps it alive."""
    global _memory_counter
    _memory_counter += 1
    uri = f"file:posestudio-ro-{os.getpid()}-{_memory_counter}?mode=memory&cache=shared"
    keeper = connect_memory(uri)
    src = connect_raw(path, mode="ro", immutable=immutable)
    try:
        src.backup(keeper)
    finally:
        src.close()
    return uri, keeper


_memory_counter = 0


def pending_wal(path: Path) -> bool:
    """True when a non-empty ``-wal`` file lies beside ``path`` (commits not yet checkpointed,
    e.g. after a crash). ``immutable=1`` readers would not see them."""
    try:
        return Path(str(path) + "-wal").stat().st_size > 0
    except OSError:
        return False


def recovered_memory_copy(path: Path) -> tuple[str, sqlite3.Connection]:
    """Like :func:`memory_copy` for a file whose folder cannot be written but which has a
    ``-wal`` journal: the file and its journal are copied to a private temporary folder, opened
    there (SQLite applies the journal), and served from memory. The original is not touched."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="posestudio-recover-") as tmp:
        dst = Path(tmp) / "p.posestudio"
        shutil.copyfile(path, dst)
        shutil.copyfile(str(path) + "-wal", str(dst) + "-wal")
        return memory_copy(dst, immutable=False)


def make_engine(
    path: Path, *, read_only: bool, immutable: bool = False, memory_uri: str | None = None
) -> Engine:
    """An engine with one pooled connection per thread at a time (QueuePool).

    ``memory_uri``: serve a shared in-memory copy (see :func:`memory_copy`) instead of ``path``.
    """
    mode = "ro" if read_only else "rw"

    def creator() -> sqlite3.Connection:
        if memory_uri is not None:
            return connect_memory(memory_uri)
        return connect_raw(path, mode=mode, immutable=immutable)

    engine = create_engine(
        "sqlite+pysqlite://", creator=creator, poolclass=QueuePool, pool_size=4,
        max_overflow=8,
    )
    event.listen(engine, "connect", _on_connect(read_only or memory_uri is not None))
    event.listen(engine, "begin", _on_begin)
    return engine
