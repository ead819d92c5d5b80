"""Many instance rows at once, the fastest way each backend offers: SQLite's ``executemany``
of one prepared ``INSERT`` (a C loop), PostgreSQL's ``COPY ... FROM STDIN`` (one stream, no
per-row round trip or parse; ``bench/store.py`` measures both)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, exc

from pose_studio.store.codec import INSERT_COLUMNS

__all__ = ["insert_instance", "insert_instances"]

_INSERT = (f"INSERT INTO instances ({', '.join(INSERT_COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(INSERT_COLUMNS))})")


def insert_instances(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert rows of :data:`~pose_studio.store.codec.INSERT_COLUMNS` (``id`` None: the table
    gives one) inside the caller's transaction."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.exec_driver_sql(_INSERT, rows)
        return
    new = [r[1:] for r in rows if r[0] is None]
    kept = [r for r in rows if r[0] is not None]
    import psycopg

    raw = conn.connection.driver_connection
    with raw.cursor() as cur:  # type: ignore[union-attr]
        for cols, batch in ((INSERT_COLUMNS[1:], new), (INSERT_COLUMNS, kept)):
            if not batch:
                continue
            sql = f"COPY instances ({', '.join(cols)}) FROM STDIN"
            try:
                with cur.copy(sql) as copy:
                    for r in batch:
                        copy.write_row(r)
            except psycopg.IntegrityError as e:  # as SQLAlchemy raises it for an INSERT
                raise exc.IntegrityError(sql, None, e) from e
            except psycopg.Error as e:
                raise exc.DBAPIError(sql, None, e) from e
    if kept:
        from pose_studio.store import ids

        ids.catch_up(conn, "instances")


_INSERT_NEW_ONE = (f"INSERT INTO instances ({', '.join(INSERT_COLUMNS[1:])}) "
                   f"VALUES ({', '.join('?' * (len(INSERT_COLUMNS) - 1))}) RETURNING id")
_INSERT_ONE = _INSERT + " RETURNING id"


def insert_instance(conn: Connection, row: tuple[Any, ...]) -> int:
    """Insert one row of :data:`~pose_studio.store.codec.INSERT_COLUMNS` and return its id (a
    new one when ``row[0]`` is None: SQLite gives one for a NULL key, PostgreSQL only when
    the column is left out)."""
    if row[0] is None:
        return int(conn.exec_driver_sql(_INSERT_NEW_ONE, row[1:]).scalar_one())
    return int(conn.exec_driver_sql(_INSERT_ONE, row).scalar_one())
