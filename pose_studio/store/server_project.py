"""Creating and opening a project in a PostgreSQL database (the lifecycle of a server project;
``server.py`` says what differs from a file and why)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, exc
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from pose_studio.core.skeleton import Skeleton
from pose_studio.store import migrations, server
from pose_studio.store.errors import ProjectError, ProjectVersionError
from pose_studio.store.schema import (
    SCHEMA_VERSION,
    Base,
    MetaRow,
    SchemaVersionRow,
    SkeletonRow,
)

# ``cls`` below is the Project class (passed in: this module is imported by project.py).
Project = Any

__all__ = ["create", "open"]


def _tables(conn: Connection) -> set[str]:
    return {str(r[0]) for r in conn.exec_driver_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}


def _engine(url: URL) -> Any:
    engine = server.make_pg_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except exc.DBAPIError as e:
        engine.dispose()
        raise server.connect_error(url, e) from None
    return engine


def create(cls: type[Project], target: str, skeleton: Skeleton) -> Project:
    """A new project in the (empty) database ``target``: the tables of this version, in one
    transaction (PostgreSQL's DDL is transactional: a failure leaves nothing)."""
    url = server.parse_url(target)
    where = server.display_url(url)
    engine = _engine(url)
    try:
        with engine.connect() as conn, conn.begin():
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({server.LOCK_SPACE}, 0)")
            have = _tables(conn) & set(Base.metadata.tables)
            if have:
                raise ProjectError(
                    f"cannot create a project in {where}: the database already holds "
                    f"{'a Pose Studio project' if 'schema_version' in have else 'tables of its own'}"
                    f" ({', '.join(sorted(have)[:4])}); use an empty database")
            Base.metadata.create_all(conn)
            now = time.time()
            with Session(bind=conn) as s:
                s.add(SchemaVersionRow(id=1, version=SCHEMA_VERSION))
                s.add(SkeletonRow(id=1, name=skeleton.name, num_keypoints=skeleton.num_keypoints,
                                  json=skeleton.to_json()))
                s.add(MetaRow(key="created_at", value=repr(now)))
                s.add(MetaRow(key="created_by", value="pose-studio"))
                s.flush()
    except exc.DBAPIError as e:
        engine.dispose()
        raise ProjectError(f"cannot create a project in {where}: {e.orig}") from e
    except BaseException:
        engine.dispose()
        raise
    return _make(cls, url, engine, None)


def _make(cls: type[Project], url: URL, engine: Any, reason: str | None) -> Project:
    try:
        return cls(server.server_path(url), engine, read_only_reason=reason, lock=None, url=url)
    except BaseException:
        engine.dispose()
        raise


def _check(conn: Connection, where: str, *, writable: bool) -> None:
    """Is this database a project this version can use? Upgrades an older one (one
    transaction, under the exclusive project lock)."""
    tables = _tables(conn)
    if "schema_version" not in tables:
        raise ProjectError(f"{where} is a database but not a Pose Studio project (it has no "
                           "schema_version table); create one with `pose-studio new URL`")
    rows = conn.exec_driver_sql("SELECT version FROM schema_version").fetchall()
    if len(rows) != 1 or not isinstance(rows[0][0], int):
        raise ProjectError(f"project {where} is damaged: it has no valid schema version")
    version = int(rows[0][0])
    if version > SCHEMA_VERSION:
        raise ProjectVersionError(
            f"project {where} was written by a newer Pose Studio (format {version}; this "
            f"version reads up to {SCHEMA_VERSION}); update Pose Studio to open it. The "
            "database was not changed")
    if version < SCHEMA_VERSION:
        if not writable:
            raise ProjectVersionError(
                f"project {where} is at format {version} and needs an upgrade to "
                f"{SCHEMA_VERSION}; open it once with write access")
        migrations.migrate(conn, version)
        tables = _tables(conn)
    missing = sorted(set(Base.metadata.tables) - tables)
    if missing:
        raise ProjectError(f"project {where} is damaged: table {', '.join(missing[:4])} "
                           f"{'is' if len(missing) == 1 else 'are'} missing")


def open(cls: type[Project], target: str, *, read_only: bool = False) -> Project:
    """Open the project in database ``target`` (read-only when asked, or when the database
    user may not write its instances)."""
    url = server.parse_url(target)
    where = server.display_url(url)
    engine = _engine(url)
    reason = "opened read-only" if read_only else None
    try:
        with engine.connect() as conn, conn.begin():
            if reason is None and "instances" in _tables(conn) and not conn.exec_driver_sql(
                    "SELECT has_table_privilege('instances', 'INSERT')").scalar():
                reason = f"the database user {url.username or '(default)'} may not write it"
            if reason is None:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({server.LOCK_SPACE}, 0)")
            _check(conn, where, writable=reason is None)
    except exc.DBAPIError as e:
        engine.dispose()
        raise ProjectError(f"cannot open project {where}: {e.orig}") from e
    except BaseException:
        engine.dispose()
        raise
    return _make(cls, url, engine, reason)
