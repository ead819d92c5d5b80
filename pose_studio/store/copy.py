"""``pose-studio copy SRC DST``: a project copied between a file and a server, either way,
losslessly: every row of every table with its id (instances keep their ids, so the edit
journal, accepted-from links and import steps stay valid), the id counters (an id is never
handed out twice, on either side), the frame summaries and the history as they are.

What changes on purpose: video paths. A file stores them relative to itself (plus the absolute
path); a server project, which has no folder, stores the absolute path where the video is now.
The copy runs in ONE transaction on the target (a failure leaves no half project), and the
target must be new: a file that does not exist yet, or an empty database.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from pose_studio.store import ids, server
from pose_studio.store.project import Project
from pose_studio.store.schema import Base

__all__ = ["CopyReport", "copy_project"]

#: Tables in an order that satisfies their foreign keys.
TABLES = ("project_meta", "skeletons", "videos", "frames", "tracks", "model_runs", "instances",
          "shown_runs", "frame_summary", "source_images", "categories", "instance_meta",
          "frame_meta", "regions", "edit_journal", "suggestions", "assignments", "run_chunks")
_BATCH = 5000


@dataclass(frozen=True)
class CopyReport:
    source: str
    target: str
    rows: dict[str, int]

    def describe(self) -> str:
        n = self.rows
        return (f"copied {self.source} to {self.target}: {n.get('videos', 0)} videos, "
                f"{n.get('instances', 0)} instances, {n.get('edit_journal', 0)} history steps "
                f"({sum(n.values())} rows)")


def _columns(table: str) -> list[str]:
    return [c.name for c in Base.metadata.tables[table].columns]


def _key(table: str) -> str:
    return ", ".join(c.name for c in Base.metadata.tables[table].primary_key.columns)


def _insert(conn: Connection, table: str, cols: list[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(  # type: ignore[union-attr]
                f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)
        return
    conn.exec_driver_sql(
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)


def copy_project(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> CopyReport:
    """Copy the project at ``source`` (file or database URL) to a new ``target``.

    Raises:
        ProjectError: the source cannot be opened, the target exists / is not empty, or the
            copy failed (nothing is left at the target).
    """
    src = Project.open(source, read_only=True)
    try:
        dst = Project.create(target, src.skeleton)
    except BaseException:
        src.close()
        raise
    created_file = None if dst.is_server else Path(dst.path)
    try:
        rows = _copy(src, dst)
    except BaseException:
        dst.close()
        src.close()
        _discard(created_file, target)
        raise
    report = CopyReport(src.location, dst.location, rows)
    dst.close()
    src.close()
    return report


def _discard(file: Path | None, target: str | os.PathLike[str]) -> None:
    """Leave nothing of a failed copy: the new file, or the tables in the new database."""
    if file is not None:
        for side in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                Path(str(file) + side).unlink()
        return
    try:
        engine = server.make_pg_engine(server.parse_url(str(target)))
        with engine.begin() as conn:
            Base.metadata.drop_all(conn)
        engine.dispose()
    except Exception:  # the copy's own error is the one to report
        pass


def _video_rows(src: Project, dst: Project, cols: list[str],
                rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Video rows with paths for the target: absolute where the video is now, relative to the
    target file when it is a file."""
    where = {v.id: Path(v.path) for v in src.videos()}
    i_id, i_rel, i_abs = cols.index("id"), cols.index("rel_path"), cols.index("abs_path")
    out = []
    for row in rows:
        r = list(row)
        p = where.get(int(r[i_id]), Path(str(r[i_abs])))
        r[i_abs] = str(p)
        r[i_rel] = dst._rel(p)  # None on a server
        out.append(tuple(r))
    return out


def _copy(src: Project, dst: Project) -> dict[str, int]:
    counts: dict[str, int] = {}
    with src._read() as rconn, dst._write(bulk=True, exclusive=True) as s:
        wconn = s.connection()
        # the new project's own first rows make way for the source's
        for table in ("project_meta", "skeletons"):
            wconn.exec_driver_sql(f"DELETE FROM {table}")
        for table in TABLES:
            cols = _columns(table)
            result = rconn.exec_driver_sql(
                f"SELECT {', '.join(cols)} FROM {table} ORDER BY {_key(table)}")
            n = 0
            while True:
                batch = [tuple(r) for r in result.fetchmany(_BATCH)]
                if not batch:
                    break
                if table == "videos":
                    batch = _video_rows(src, dst, cols, batch)
                _insert(wconn, table, cols, batch)
                n += len(batch)
            counts[table] = n
        for table in ids.KEYS:  # no id is ever handed out twice, here either
            ids.catch_up(wconn, table, ids.handed_out(rconn, table))
        server.note_change(wconn, "project")
    return counts
