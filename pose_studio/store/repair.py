"""``repair``: a clean copy of a project that the schema check refuses or that has damaged rows.

The copy is a project created by this version (the same schema ``Project.create`` makes, or for
an older file the schema of its version, upgraded after the copy) into which the rows of the
tables this version knows are copied column by column. Nothing else of the original comes
along: no trigger, view, extra index or table, no altered column definition, no constraint.
Reading the original runs nothing stored in it: it is opened read-only and hardened, and only
plain stored columns of real tables are selected (a generated column of a tampered table is
never read). Rows that cannot be right are left out and listed; foreign-key orphans too.
Per-frame summaries are rebuilt. The copy is written beside the target under a temporary
name and renamed into place when complete, so a failure (a full disk) leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy.exc import DBAPIError

from pose_studio.core.files import PathError, check_output_path, os_reason
from pose_studio.store import guard, migrations, summary, validate
from pose_studio.store.codec import _BLOB_LIMITS, READ_COLUMNS, validate_rows
from pose_studio.store.engine import _open_regular, connect_raw, explain_db_error
from pose_studio.store.errors import ProjectError, ProjectVersionError
from pose_studio.store.inspection import inspect_file
from pose_studio.store.schema import APPLICATION_ID, SCHEMA_VERSION

__all__ = ["RepairReport", "repair_project"]

_BATCH = 1000
_DERIVED = ("frame_summary",)  # rebuilt from the instances, never copied


@dataclass
class RepairReport:
    source: Path
    out: Path
    source_version: int
    removed: list[str] = field(default_factory=list)  # foreign or altered objects left behind
    copied: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    dropped: list[str] = field(default_factory=list)  # rows left out, with why
    unreadable: list[str] = field(default_factory=list)  # tables that could not be read fully

    @property
    def clean(self) -> bool:
        return not (self.removed or self.dropped or self.unreadable)


def _columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, int]]:
    """(name, hidden) of a table's columns (hidden != 0: generated; never selected)."""
    try:
        rows = conn.execute("SELECT name, hidden FROM pragma_table_xinfo(?)", (table,)).fetchall()
    except sqlite3.OperationalError:  # SQLite < 3.26
        rows = [(r[0], 0) for r in conn.execute("SELECT name FROM pragma_table_info(?)",
                                                (table,)).fetchall()]
    return [(str(n), int(h)) for n, h in rows]


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _source_version(src: sqlite3.Connection, path: Path) -> int:
    kinds = dict(src.execute("SELECT name, type FROM sqlite_master").fetchall())
    app_id = src.execute("PRAGMA application_id").fetchone()[0]
    if app_id != APPLICATION_ID or kinds.get("schema_version") != "table":
        raise ProjectError(f"{path} is not a Pose Studio project; there is nothing to repair")
    cols = dict(_columns(src, "schema_version"))
    if cols.get("version") != 0:  # missing, or a generated column: do not evaluate it
        raise ProjectError(f"project {path} is damaged beyond repair: its schema version "
                           "cannot be read")
    row = src.execute("SELECT version FROM schema_version LIMIT 1").fetchone()
    if row is None or not isinstance(row[0], int) or row[0] < 1:
        raise ProjectError(f"project {path} is damaged beyond repair: it has no valid schema "
                           "version")
    if row[0] > SCHEMA_VERSION:
        raise ProjectVersionError(
            f"project {path} was written by a newer Pose Studio (file format {row[0]}; this "
            f"version reads up to {SCHEMA_VERSION}); repair it with that version")
    return int(row[0])


def _sa_engine(raw: sqlite3.Connection) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    return create_engine("sqlite://", creator=lambda: raw, poolclass=StaticPool)


def _build_target(tmp: Path, version: int) -> None:
    """An empty project file of ``version`` (this version's own schema when current)."""
    if version == SCHEMA_VERSION:
        from pose_studio.core.skeleton import COCO17
        from pose_studio.store.project import Project

        Project._write_new_file(tmp, COCO17)
        raw = connect_raw(tmp)
        try:
            raw.execute("DELETE FROM skeletons")
            raw.execute("DELETE FROM project_meta")
        finally:
            raw.close()
        return
    raw = connect_raw(tmp, mode="rwc")
    engine = _sa_engine(raw)
    try:
        with engine.connect() as conn:
            migrations.create_v1(conn)
            for v in range(1, version):
                migrations.MIGRATIONS[v - 1](conn)
            conn.exec_driver_sql("UPDATE schema_version SET version = ?", (version,))
            conn.commit()
    finally:
        engine.dispose()
        raw.close()


def _rows(src: sqlite3.Connection, table: str, cols: list[str], report: RepairReport,
          select: list[str] | None = None) -> Iterator[list[tuple[Any, ...]]]:
    """Batches of the table's rows; a damaged page ends the table (noted)."""
    sql = f"SELECT {', '.join(select or [_qi(c) for c in cols])} FROM {_qi(table)}"
    n = 0
    try:
        cur = src.execute(sql)
        while True:
            batch = cur.fetchmany(_BATCH)
            if not batch:
                return
            n += len(batch)
            yield batch
    except sqlite3.DatabaseError as exc:
        report.unreadable.append(f"table {table}: could not be read past row {n} ({exc}); "
                                 "the rest of it is lost")


def _check_row(table: str, names: list[str], row: tuple[Any, ...], k: int | None) -> str | None:
    """Why a copied row must be left out (None: keep it)."""
    if table == "videos":
        return validate.video_problem(SimpleNamespace(**dict(zip(names, row))))
    if table == "model_runs":
        return validate.model_run_problem(SimpleNamespace(**dict(zip(names, row))))
    if table == "tracks":
        return validate.track_problem(SimpleNamespace(**dict(zip(names, row))))
    if table == "frames":
        d = dict(zip(names, row))
        from pose_studio.store.validate import MAX_SIGNATURE_BYTES

        return validate.fingerprint_problem(d.get("frame_idx"), d.get("fingerprint"),
                                            d.get("signature"), MAX_SIGNATURE_BYTES)
    if table == "instances" and k is not None:
        d = dict(zip(names, row))
        if not isinstance(d.get("frame_idx"), int) or d["frame_idx"] < 0:
            return f"frame index {d.get('frame_idx')!r} is not a frame"
        return validate_rows([tuple(d.get(c) for c in READ_COLUMNS)], k).get(0)
    return None


def _copy_table(src: sqlite3.Connection, dst: sqlite3.Connection, table: str,
                report: RepairReport, k: int | None) -> None:
    dst_cols = [c for c, _ in _columns(dst, table)]
    src_cols = {c.lower(): (c, hidden) for c, hidden in _columns(src, table)}
    names = [c for c in dst_cols if c.lower() in src_cols and src_cols[c.lower()][1] == 0]
    if not names:
        return
    select = []
    for c in names:
        q = _qi(src_cols[c.lower()][0])
        limit = _BLOB_LIMITS.get(c) if table == "instances" else None
        # an oversized keypoint blob is read as an empty one (and the row left out)
        select.append(f"CASE WHEN {q} IS NULL OR length({q}) <= {limit} THEN {q} ELSE x'' END"
                      if limit else q)
    insert = (f"INSERT INTO {_qi(table)} ({', '.join(_qi(c) for c in names)}) "
              f"VALUES ({', '.join('?' * len(names))})")
    key = "id" if "id" in names else None
    copied = 0
    for batch in _rows(src, table, names, report, select):
        keep = []
        for row in batch:
            why = _check_row(table, names, row, k)
            if why is None:
                keep.append(row)
            else:
                rid = row[names.index(key)] if key else row[:2]
                report.dropped.append(f"{table} row {rid}: {why}")
        try:
            dst.executemany(insert, keep)
            copied += len(keep)
        except sqlite3.DatabaseError:
            for row in keep:  # find the rows the table's constraints refuse
                try:
                    dst.execute(insert, row)
                    copied += 1
                except sqlite3.IntegrityError as exc:
                    rid = row[names.index(key)] if key else row[:2]
                    report.dropped.append(f"{table} row {rid}: {exc}")
    report.copied[table] = copied


def _skeleton_k(dst: sqlite3.Connection, path: Path) -> int:
    text = dst.execute("SELECT json FROM skeletons ORDER BY id LIMIT 1").fetchone()
    return validate.load_skeleton(text[0] if text else None, path).num_keypoints


def _drop_orphans(dst: sqlite3.Connection, report: RepairReport) -> None:
    """Rows whose parent was left out: a link that may be empty (a model run, a track) is
    emptied, as deleting the parent would; a row that needs its parent (a video's instances)
    goes too. Per foreign key, so tables without rowid are handled alike."""
    tables = [str(r[0]) for r in dst.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    for table in tables:
        fks = dst.execute('SELECT "table", "from", "to", on_delete FROM '
                          "pragma_foreign_key_list(?)", (table,)).fetchall()
        for parent, frm, to, on_delete in fks:
            col, pcol = _qi(frm), _qi(to or "rowid")
            orphan = (f"{col} IS NOT NULL AND {col} NOT IN "
                      f"(SELECT {pcol} FROM {_qi(parent)})")
            n = dst.execute(f"SELECT count(*) FROM {_qi(table)} WHERE {orphan}").fetchone()[0]
            if not n:
                continue
            if str(on_delete).upper() == "SET NULL":
                dst.execute(f"UPDATE {_qi(table)} SET {col} = NULL WHERE {orphan}")
                continue
            dst.execute(f"DELETE FROM {_qi(table)} WHERE {orphan}")
            report.dropped.append(f"{table}: {n} row{'s' if n > 1 else ''} referring to "
                                  f"{parent} that were left out or never existed")


def _copy_sequences(src: sqlite3.Connection, dst: sqlite3.Connection) -> None:
    """Keep AUTOINCREMENT counters at least where they were (deleted ids stay unused)."""
    try:
        kinds = dict(src.execute("SELECT name, type FROM sqlite_master").fetchall())
        if kinds.get("sqlite_sequence") != "table":
            return
        rows = src.execute("SELECT name, seq FROM sqlite_sequence").fetchall()
    except sqlite3.DatabaseError:
        return
    known = {r[0] for r in dst.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for name, seq in rows:
        if name in known and isinstance(seq, int) and 0 <= seq < (1 << 62):
            cur = dst.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (name,))
            got = cur.fetchone()
            if got is None:
                dst.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (name, seq))
            elif seq > got[0]:
                dst.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (seq, name))


def _publish(tmp: Path, out: Path) -> None:
    """Move the finished copy into place without replacing anything that appeared meanwhile."""
    try:
        os.link(tmp, out)
    except FileExistsError:
        raise ProjectError(f"cannot write {out}: it appeared while repairing; nothing was "
                           "written") from None
    except OSError:  # no hard links here (FAT, some network shares)
        if out.exists():
            raise ProjectError(f"cannot write {out}: it already exists") from None
        os.replace(tmp, out)
        return
    tmp.unlink()


def repair_project(source: str | os.PathLike[str], out: str | os.PathLike[str]) -> RepairReport:
    """Write a clean copy of ``source`` to ``out`` (see the module docstring).

    Raises:
        ProjectError: the source is not a project, is newer, or cannot be read at all; the
            target exists or cannot be written (nothing is left behind).
    """
    src_path = Path(source).expanduser().absolute()
    out_path = Path(out).expanduser().absolute()
    if out_path.suffix.lower() != ".posestudio":
        out_path = out_path.with_name(out_path.name + ".posestudio")
    head = _open_regular(src_path)
    if not head.startswith(b"SQLite format 3\x00"):
        raise ProjectError(f"{src_path} is not a Pose Studio project (not an SQLite database); "
                           "there is nothing to repair")
    try:
        check_output_path(out_path, "repair output")
    except PathError as e:
        raise ProjectError(str(e)) from None
    if out_path.exists():
        raise ProjectError(f"repair output {out_path} already exists; choose another name")
    if out_path == src_path:
        raise ProjectError("repair writes a new file: give another name with --out")
    try:
        src = connect_raw(src_path, mode="ro")
    except sqlite3.Error as exc:
        raise ProjectError(f"cannot read project {src_path}: {exc}") from exc
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.repairing")
    try:  # the OS's reason when the folder cannot take a file, before any work
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except OSError as exc:
        src.close()
        raise ProjectError(f"cannot write {out_path}: {os_reason(exc, tmp)}") from None
    try:
        try:
            src.execute("PRAGMA query_only = ON")
            version = _source_version(src, src_path)
            report = RepairReport(src_path, out_path, version)
            schema, names = guard.read_schema(src)
            report.removed = [f.describe() for f in guard.foreign_objects(schema, names, version)]
            _build_target(tmp, version)
            dst = connect_raw(tmp)
            try:
                _fill(src, dst, report, src_path)
            finally:
                dst.close()
        except sqlite3.DatabaseError as exc:
            raise ProjectError(f"cannot repair {src_path}: {exc}; nothing was written") from exc
        finally:
            src.close()
        if version < SCHEMA_VERSION:
            _upgrade(tmp)
        _finish(tmp)
        inspect_file(tmp)  # the copy passes the schema check it was made for
        _publish(tmp, out_path)
    except OSError as exc:
        raise ProjectError(f"cannot write {out_path}: {os_reason(exc)}; nothing was written") \
            from exc
    except (sqlite3.Error, DBAPIError) as exc:
        raise ProjectError(f"cannot write {out_path}: {explain_db_error(exc, out_path)}; "
                           "nothing was written") from exc
    finally:
        for side in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                Path(str(tmp) + side).unlink()
    return report


def _fill(src: sqlite3.Connection, dst: sqlite3.Connection, report: RepairReport,
          src_path: Path) -> None:
    src_tables = {str(n).lower(): t for n, t in src.execute(
        "SELECT name, type FROM sqlite_master").fetchall()}
    dst_tables = [str(r[0]) for r in dst.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY rowid")]
    dst.execute("PRAGMA foreign_keys = OFF")
    dst.execute("BEGIN IMMEDIATE")
    # the skeleton first: instance rows are checked against its keypoint count
    order = sorted(dst_tables, key=lambda t: (t != "skeletons", t == "instances"))
    k: int | None = None
    for table in order:
        if table in ("schema_version", *_DERIVED):
            continue
        kind = src_tables.get(table.lower())
        if kind != "table":
            if kind is not None:
                report.unreadable.append(f"table {table}: it is a {kind} in the original; "
                                         "left empty")
            continue
        sql = src.execute("SELECT sql FROM sqlite_master WHERE name = ? COLLATE NOCASE",
                          (table,)).fetchone()
        if sql and str(sql[0]).lstrip().upper().startswith("CREATE VIRTUAL"):
            # a module's code would run to read it
            report.unreadable.append(f"table {table}: a virtual table in the original; "
                                     "left empty")
            continue
        _copy_table(src, dst, table, report, k)
        if table == "skeletons":
            k = _skeleton_k(dst, src_path)
    _drop_orphans(dst, report)
    _copy_sequences(src, dst)
    dst.execute("COMMIT")
    dst.execute("PRAGMA foreign_keys = ON")


def _upgrade(tmp: Path) -> None:
    raw = connect_raw(tmp)
    engine = _sa_engine(raw)
    try:
        with engine.connect() as conn:
            raw.execute("BEGIN IMMEDIATE")
            version = int(conn.exec_driver_sql("SELECT version FROM schema_version").scalar_one())
            migrations.migrate(conn, version)
            raw.execute("COMMIT")
    finally:
        engine.dispose()
        raw.close()


def _finish(tmp: Path) -> None:
    """Rebuild the summaries, check the result, make it one self-contained file."""
    raw = connect_raw(tmp)
    engine = _sa_engine(raw)
    try:
        with engine.connect() as conn:
            raw.execute("BEGIN IMMEDIATE")
            summary.rebuild_all(conn)
            raw.execute("COMMIT")
        problems = [r[0] for r in raw.execute("PRAGMA integrity_check(5)").fetchall()]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError(f"the copy does not pass its integrity check: {problems}")
        raw.execute("PRAGMA journal_mode = DELETE")
    finally:
        engine.dispose()
        raw.close()
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
