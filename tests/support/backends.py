"""The two store backends for tests: a project file, and a database on a PostgreSQL server.

``$POSE_STUDIO_TEST_PG_URL`` names a server and a database to connect to for administration
(e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``; ``.ci/run`` starts one and sets
it). Each test gets a database of its own, dropped afterwards. Without the variable, or when
the server cannot be reached, the PostgreSQL cases skip with the reason and the file cases run.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

ENV = "POSE_STUDIO_TEST_PG_URL"


def _plain(url: str) -> str:
    """A libpq URL (psycopg.connect does not take SQLAlchemy's ``+psycopg``)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@functools.lru_cache(maxsize=1)
def unavailable() -> str | None:
    """Why the PostgreSQL cases cannot run here (None: they can)."""
    url = os.environ.get(ENV, "").strip()
    if not url:
        return f"no PostgreSQL server for the tests (set {ENV}; .ci/run starts one)"
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[dev]')"
    try:
        with psycopg.connect(_plain(url), connect_timeout=5, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except Exception as e:  # any failure to connect: skip with its words
        return f"cannot connect to the test server {ENV}: {str(e).strip().splitlines()[0]}"
    return None


def _with_db(url: str, name: str) -> str:
    head, _, _ = url.rpartition("/")
    return f"{head}/{name}"


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty database on the test server (dropped on exit); yields its URL."""
    import psycopg

    admin = os.environ[ENV].strip()
    name = f"ps_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_plain(admin), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield _with_db(admin, name).replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        with psycopg.connect(_plain(admin), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def raw_execute(project: object, sql: str, params: tuple[object, ...] = ()) -> None:
    """Change a project behind the store's back (to damage it on purpose): ``?`` placeholders,
    on the file or the server database of ``project`` (a :class:`Project`)."""
    location = str(project.target)
    if getattr(project, "is_server", False):
        import psycopg

        with psycopg.connect(_plain(location), autocommit=True) as conn:
            conn.execute(sql.replace("?", "%s"), params)
        return
    import sqlite3

    con = sqlite3.connect(location)
    try:
        con.execute(sql, params)
        con.commit()
    finally:
        con.close()
