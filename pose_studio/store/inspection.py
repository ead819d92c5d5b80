"""Is this file a project this version may open? Answered before anything in it can run.

:func:`inspect_file` refuses anything but a regular SQLite file that is a Pose Studio project,
then reads its schema version only after its schema passed the check (``guard.py``), through a
read-only connection: nothing of the file is written or executed before it passes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pose_studio.store import engine, guard
from pose_studio.store.engine import SQLITE_MAGIC, FileInfo, _open_regular
from pose_studio.store.errors import ProjectError
from pose_studio.store.schema import APPLICATION_ID, SCHEMA_VERSION

__all__ = ["inspect_file", "read_checked_version"]


def read_checked_version(conn: sqlite3.Connection, path: Path) -> int:
    """The file's schema version, read only after its schema passed the check (``guard.py``):
    first the ``schema_version`` table alone (so reading it runs nothing), then, for a version
    this code knows, everything. A newer version is returned unchecked (the caller refuses it).

    Raises:
        ProjectError / ProjectSchemaError: not a project, damaged, foreign objects.
    """
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    schema, _ = guard.read_schema(conn)
    if app_id != APPLICATION_ID or ("table", "schema_version") not in schema:
        raise ProjectError(f"{path} is an SQLite database but not a Pose Studio project")
    allowed, _ = guard.expected_schema(None)
    if schema[("table", "schema_version")] not in allowed[("table", "schema_version")]:
        guard.check_schema(conn, path, None)  # names what differs
        raise ProjectError(f"project {path} is damaged: its schema_version table is not valid")
    rows = conn.execute("SELECT version FROM schema_version LIMIT 2").fetchall()
    if len(rows) != 1:
        raise ProjectError(f"project {path} is damaged: it has no schema version")
    if not isinstance(rows[0][0], int) or rows[0][0] < 1:
        raise ProjectError(f"project {path} is damaged: its schema version {rows[0][0]!r} is "
                           "not valid")
    version = int(rows[0][0])
    if version <= SCHEMA_VERSION:
        guard.check_schema(conn, path, version)
    return version


def inspect_file(path: Path) -> FileInfo:
    """Check that ``path`` is a project this version can open safely and read its schema
    version, without writing anything (see ``guard.py`` for the schema check).

    Raises:
        ProjectNotFoundError: no such file.
        ProjectError: a folder, FIFO, device, an empty file, not SQLite, another SQLite
            database, damaged; :class:`ProjectSchemaError` for objects it did not create.
    """
    head = _open_regular(path)
    if not head:
        raise ProjectError(f"{path} is an empty file, not a Pose Studio project")
    if not head.startswith(SQLITE_MAGIC):
        raise ProjectError(f"{path} is not a Pose Studio project (not an SQLite database)")
    last_exc: Exception | None = None
    sides = _side_files(path)
    for immutable in (False, True):
        try:
            conn = engine.connect_raw(path, mode="ro", immutable=immutable)
        except sqlite3.Error as exc:
            last_exc = exc
            continue
        try:
            version = read_checked_version(conn, path)
            return FileInfo(version=version, needs_immutable=immutable)
        except sqlite3.OperationalError as exc:
            # "unable to open database file": WAL needs a -shm file the folder cannot take.
            last_exc = exc
            continue
        except sqlite3.DatabaseError as exc:
            conn.close()  # first: SQLite holds the side files while it is open
            _remove_new_sides(path, sides)
            raise ProjectError(f"project {path} is damaged or not a project: {exc}") from exc
        finally:
            conn.close()
    raise ProjectError(f"cannot read project {path}: {last_exc}")


_SIDES = ("-wal", "-shm")


def _side_files(path: Path) -> set[str]:
    return {s for s in _SIDES if Path(f"{path}{s}").exists()}


def _remove_new_sides(path: Path, before: set[str]) -> None:
    """A garbage header that says "WAL" (its read version byte is 2) makes SQLite create an
    empty -wal and a -shm beside the file, even read-only, before it finds the file is not a
    database. Those two, and only if this open created them and they hold nothing, are
    removed: a refused file is left as it was found."""
    for s in _SIDES:
        side = Path(f"{path}{s}")
        if s in before:
            continue
        try:
            if s == "-wal" and side.stat().st_size != 0:
                continue
            side.unlink()
        except OSError:
            pass
