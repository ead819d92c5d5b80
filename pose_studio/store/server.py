"""A project on a PostgreSQL server: the same tables, queries and per-frame summaries as a
project file, shared by several annotators at once.

A project is a file path or a database URL (``postgresql+psycopg://user@host:port/dbname``,
also ``postgresql://`` and ``postgres://``, which mean psycopg 3). What differs from a file,
and why:

* **Concurrency.** SQLite has one writer (``BEGIN IMMEDIATE`` plus the file lock); PostgreSQL
  has many. Every write transaction takes a transaction-level advisory lock on the project
  (shared; an import or removing a video takes it exclusively, as they touch everything), and
  one per video it changes, in id order, before it reads what it changes (:func:`lock_videos`).
  The per-video lock is what keeps the frame summaries right (a summary is a read-modify-write
  blob of 256 frames, which row locks alone do not protect) and serialises edits of one video
  the way SQLite serialises all of them; edits of different videos run side by side. Instance
  rows also carry a ``version``: an update or delete names the version it expects, so an edit
  made against a stale copy is refused (``StaleEditError``) even without the lock.
* **Snapshots.** Reads run at ``REPEATABLE READ`` (one snapshot per read, as SQLite's read
  transactions give); writes at ``READ COMMITTED`` after taking their locks.
* **Durability.** User edits commit with the server's ``synchronous_commit`` (on); prediction
  batches and imports with ``synchronous_commit = off`` (the server may lose the newest of them
  in a crash of its own, never corrupt anything), as the file does with ``synchronous``.
* **Live changes.** Each write transaction sends one ``NOTIFY pose_studio`` with what it
  changed (who, which videos and frames, what kind of thing); notifications are delivered at
  commit, in commit order (``live.py`` listens).
* **Ids.** ``BIGSERIAL`` keys; an id is never handed out twice (undo restores by id), as
  ``AUTOINCREMENT`` guarantees in the file.
* **No file lock, no relative video paths.** Videos are stored by absolute path (a path every
  annotator's machine can read, e.g. a shared mount).
* **The schema check of files** (``guard.py``) is for files from strangers, which can carry
  triggers that run in the opener's process. A server database is administered: triggers run
  on the server, not here, and a DBA may add roles, indexes or auditing. So a server project
  is checked for what Pose Studio needs (its tables and schema version), not for extras.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url

from pose_studio.store import sqlport
from pose_studio.store.errors import ProjectError, ProjectNotFoundError

__all__ = [
    "CHANNEL",
    "MAX_PAYLOAD",
    "begin_sql",
    "display_url",
    "is_url",
    "lock_videos",
    "make_pg_engine",
    "note_change",
    "parse_url",
    "send_changes",
    "server_path",
]

#: The NOTIFY channel (channels are per database, so per project).
CHANNEL = "pose_studio"
#: PostgreSQL's limit is 8000 bytes; above this, frames are left out ("the whole video").
MAX_PAYLOAD = 7000
#: First key of every advisory lock Pose Studio takes ("PS"); the second is 0 for the
#: project, a video id for a video.
LOCK_SPACE = 0x5053

_SCHEMES = re.compile(r"^(postgresql|postgres)(\+psycopg)?://", re.IGNORECASE)


def is_url(target: object) -> bool:
    """True when ``target`` names a database server rather than a file."""
    return isinstance(target, str) and _SCHEMES.match(target.strip()) is not None


def parse_url(target: str) -> URL:
    """The SQLAlchemy URL for ``target`` (always the psycopg 3 driver).

    Raises:
        ProjectError: not a PostgreSQL URL, or no database named.
    """
    text = target.strip()
    if not is_url(text):
        raise ProjectError(f"{target!r} is not a database URL (postgresql+psycopg://user@host/db)")
    try:
        url = make_url(_SCHEMES.sub("postgresql+psycopg://", text, count=1))
    except exc.ArgumentError as e:
        raise ProjectError(f"{display_text(text)} is not a valid database URL: {e}") from None
    if not url.database:
        raise ProjectError(f"{display_url(url)} names no database "
                           "(postgresql+psycopg://user@host:port/DBNAME)")
    return url


def display_text(text: str) -> str:
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", text)


def display_url(url: URL) -> str:
    """The URL without its password (for messages and titles)."""
    return url.render_as_string(hide_password=True)


def server_path(url: URL) -> Path:
    """What :attr:`Project.path` is for a server project: ``host:port/dbname`` (a name for
    messages and titles; nothing is read or written there)."""
    return Path(f"{url.host or 'localhost'}:{url.port or 5432}") / str(url.database)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ProjectError(
            "projects on a PostgreSQL server need psycopg 3: pip install \"pose-studio[server]\" "
            "(or pip install \"psycopg[binary]\")") from None
    return psycopg


# --- locks and change notes ------------------------------------------------------------------
def begin_sql(opts: dict[str, Any]) -> tuple[list[str], list[int]]:
    """The statements a write transaction of these execution options starts with (its
    durability, its locks) and the videos they lock."""
    mode = opts.get("ps_begin")
    if mode is None:
        return [], []
    out = []
    if opts.get("ps_sync") == "NORMAL":
        out.append("SET LOCAL synchronous_commit = off")
    fn = "pg_advisory_xact_lock" if mode == "EXCLUSIVE" else "pg_advisory_xact_lock_shared"
    # The videos a write names up front (``ps_videos``) are locked in the same round trip,
    # after the project's lock and in id order (the select list is evaluated left to right).
    videos = sorted({int(v) for v in opts.get("ps_videos", ())})
    out.append(f"SELECT {fn}({LOCK_SPACE}, 0)" + "".join(
        f", pg_advisory_xact_lock({LOCK_SPACE}, {v})" for v in videos))
    return out, videos


def _on_begin(conn: Connection) -> None:
    conn.info["ps_locked"] = set()
    conn.info["ps_changes"] = {}
    sqls, videos = begin_sql(conn.get_execution_options())
    for sql in sqls:
        conn.exec_driver_sql(sql)
    conn.info["ps_locked"].update(videos)


def lock_videos(conn: Connection, video_ids: Iterable[int | None]) -> None:
    """Take the write locks of these videos for the rest of the transaction, in id order (a
    no-op on SQLite, whose writers are serialised by ``BEGIN IMMEDIATE``). Call before reading
    what the transaction will change."""
    if conn.dialect.name != "postgresql":
        return
    held: set[int] = conn.info.setdefault("ps_locked", set())
    for v in sorted({int(v) for v in video_ids if v is not None} - held):
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOCK_SPACE}, {v})")
        held.add(v)


def note_change(conn: Connection, topic: str, video_id: int | None = None,
                frames: Iterable[int] | None = None) -> None:
    """Remember what this transaction changed, for :func:`send_changes` (PostgreSQL only).
    ``frames`` None: the whole video (or the topic is not about frames)."""
    if conn.dialect.name != "postgresql":
        return
    notes: dict[str, Any] = conn.info.setdefault("ps_changes", {})
    topics: set[str] = notes.setdefault("t", set())
    topics.add(topic)
    if video_id is None:
        return
    videos: dict[int, set[int] | None] = notes.setdefault("v", {})
    have = videos.get(int(video_id), set())
    if frames is None or have is None:
        videos[int(video_id)] = None
    else:
        have.update(int(f) for f in frames)
        videos[int(video_id)] = have


def send_changes(conn: Connection, session: str, user: str | None) -> None:
    """One ``NOTIFY`` with what the transaction changed (delivered when it commits)."""
    if conn.dialect.name != "postgresql":
        return
    notes = conn.info.get("ps_changes") or {}
    if not notes:
        return
    videos = notes.get("v", {})
    body: dict[str, Any] = {"s": session, "u": user, "t": sorted(notes.get("t", ())),
                            "v": {str(v): None if fs is None else sorted(fs)
                                  for v, fs in videos.items()}}
    payload = json.dumps(body, separators=(",", ":"))
    if len(payload) > MAX_PAYLOAD:  # too many frames to list: each video as a whole
        body["v"] = {str(v): None for v in videos}
        payload = json.dumps(body, separators=(",", ":"))
    conn.exec_driver_sql("SELECT pg_notify(?, ?)", (CHANNEL, payload[:MAX_PAYLOAD]))
    conn.info["ps_changes"] = {}


# --- the engine ------------------------------------------------------------------------------
def make_pg_engine(url: URL, *, pool_size: int = 4) -> Engine:
    """An engine on the server (psycopg 3), with the SQL translation and the write locks."""
    _psycopg()
    engine = create_engine(
        url, pool_size=pool_size, max_overflow=8,
        connect_args={"application_name": "pose-studio", "connect_timeout": 10},
    )
    sqlport.install(engine)
    event.listen(engine, "begin", _on_begin)
    event.listen(engine, "checkin", _on_checkin)
    event.listen(engine, "checkout", functools.partial(_on_checkout, engine.dialect))
    return engine


#: A pooled connection unused for longer than this is pinged before it is handed out.
IDLE_PING_S = 2.0


def _on_checkin(dbapi_conn: Any, record: Any) -> None:
    record.info["ps_used"] = time.monotonic()


def _on_checkout(dialect: Any, dbapi_conn: Any, record: Any, proxy: Any) -> None:
    """``pool_pre_ping``, only for a connection that sat idle: a server restart or a dropped
    network is met with a fresh connection rather than an error, but an annotator editing
    back to back does not pay a round trip per transaction (two per edit: its read and its
    write) for it."""
    used = record.info.get("ps_used")
    if used is None or time.monotonic() - used < IDLE_PING_S:
        return
    try:
        dialect.do_ping(dbapi_conn)
    except Exception as e:  # the pool drops this connection and connects again
        raise exc.DisconnectionError(str(e)) from e


def connect_error(url: URL, e: BaseException) -> ProjectError:
    """One line for a server that cannot be reached or refuses us."""
    orig = getattr(e, "orig", None) or e
    text = str(orig).strip().splitlines()[-1] if str(orig).strip() else type(orig).__name__
    where = display_url(url)
    if "does not exist" in text and "database" in text:
        return ProjectNotFoundError(f"database server {where}: {text}")
    return ProjectError(f"cannot connect to {where}: {text}")
