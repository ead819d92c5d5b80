"""The store's raw SQL on both backends: written once, with ``?`` placeholders, run as is on
SQLite and translated for PostgreSQL (psycopg's ``%s`` style) as it goes to the driver.

The hot paths (one edit, a batch of predictions, the frame summaries) use
``Connection.exec_driver_sql`` with hand-written SQL: it skips SQLAlchemy's statement
compilation, which costs more than the statement itself for a one-row write. That SQL keeps to
what both databases accept (``ON CONFLICT ... DO UPDATE`` upserts, ``RETURNING``, aliased
subqueries, ``coalesce(sum(x), 0.0)``) with two exceptions translated here, once per distinct
statement (cached):

* placeholders: ``?`` becomes ``%s`` (and a literal ``%`` becomes ``%%``);
* null-safe equality: SQLite's ``a IS b`` / ``a IS NOT b`` (with ``b`` not NULL) become
  ``IS NOT DISTINCT FROM`` / ``IS DISTINCT FROM``.

Quoted strings are left alone. The translation is installed on PostgreSQL engines as a
``before_cursor_execute`` hook and applies only to driver SQL (statements SQLAlchemy compiled
itself already have the driver's style).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from sqlalchemy import Connection, Engine, event

__all__ = ["install", "is_postgres", "raw_rows", "translate"]

_STRING = re.compile(r"('(?:[^']|'')*')")
_IS_NOT = re.compile(r"\bIS\s+NOT\s+(?!NULL\b|DISTINCT\b)", re.IGNORECASE)
_IS = re.compile(r"\bIS\s+(?!NOT\b|NULL\b|DISTINCT\b|TRUE\b|FALSE\b)", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """``sql`` (SQLite style, see the module docstring) in psycopg's style."""
    parts = _STRING.split(sql)
    for i in range(0, len(parts), 2):  # even parts are outside quotes
        p = _IS_NOT.sub("IS DISTINCT FROM ", parts[i])
        p = _IS.sub("IS NOT DISTINCT FROM ", p)
        parts[i] = p.replace("%", "%%").replace("?", "%s")
    return "".join(parts)


def _before_cursor_execute(conn: Any, cursor: Any, statement: str, parameters: Any,
                           context: Any, executemany: bool) -> tuple[str, Any]:
    if context is not None and getattr(context, "compiled", None) is None:
        statement = translate(statement)
    return statement, parameters


def install(engine: Engine) -> None:
    """Translate driver SQL on ``engine`` (a PostgreSQL engine)."""
    event.listen(engine, "before_cursor_execute", _before_cursor_execute, retval=True)


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def raw_rows(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """All rows of ``sql`` as plain tuples through the driver's own cursor (same connection and
    transaction; no SQLAlchemy Row objects: the whole-video reads fetch 100k+ rows)."""
    raw = conn.connection.driver_connection
    if is_postgres(conn):
        with raw.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(translate(sql), params)
            return list(cur.fetchall())
    return raw.execute(sql, params).fetchall()  # type: ignore[union-attr, no-any-return]
