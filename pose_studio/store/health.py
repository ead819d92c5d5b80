"""A whole-file check for ``pose-studio info --check``: SQLite's own ``integrity_check`` (which
notices a corrupted page, a broken index or a wrong page count), the foreign keys, and every
row read through the same validation as normal reads (``validate.py``), in bounded memory."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from pose_studio.store import validate
from pose_studio.store.codec import READ_SQL

__all__ = ["HealthReport", "check_health"]

_MAX_LISTED = 100


@dataclass
class HealthReport:
    integrity: list[str] = field(default_factory=list)  # ["ok"] when SQLite finds nothing
    foreign_keys: list[str] = field(default_factory=list)
    rows_checked: int = 0
    damaged: list[validate.Damage] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # tables that could not be read

    @property
    def ok(self) -> bool:
        return self.integrity == ["ok"] and not (self.foreign_keys or self.damaged or self.errors)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "integrity": self.integrity, "foreign_keys": self.foreign_keys,
                "rows_checked": self.rows_checked,
                "damaged": [{"table": d.table, "id": d.row_id, "problem": d.problem}
                            for d in self.damaged],
                "errors": self.errors}


def _scan(conn: sqlite3.Connection, sql: str, report: HealthReport, table: str,
          check: Any, batch: int = 2000) -> None:
    try:
        result = conn.execute(sql)
        while True:
            rows = result.fetchmany(batch)
            if not rows:
                return
            report.rows_checked += len(rows)
            check(rows)
    except sqlite3.DatabaseError as e:
        report.errors.append(f"table {table} could not be read to the end: {e}")


def check_health(project: Any) -> HealthReport:
    """Check ``project`` (an open :class:`Project`) from end to end (see the module docstring).
    Damaged rows are also noted on the project, like rows met by normal reads."""
    report = HealthReport()
    note = project._note_damage
    k = project.skeleton.num_keypoints

    def damage(table: str, rid: Any, why: str) -> None:
        d = note(table, rid, why)
        if len(report.damaged) < _MAX_LISTED:
            report.damaged.append(d)

    project._check_open()
    # A plain driver connection from the pool, no transaction: on a damaged file each step
    # fails on its own and the report says which.
    pooled = project._engine.raw_connection()
    try:
        _check(pooled.driver_connection, report, k, damage)
    except sqlite3.DatabaseError as e:
        report.errors.append(f"the file could not be checked to the end: {e}")
    finally:
        with contextlib.suppress(Exception):
            pooled.invalidate()  # never hand a connection that met damage back to the pool
    return report


def _check(conn: sqlite3.Connection, report: HealthReport, k: int, damage: Any) -> None:
    try:
        report.integrity = [str(r[0]) for r in conn.execute(
            f"PRAGMA integrity_check({_MAX_LISTED})").fetchall()]
    except sqlite3.DatabaseError as e:
        report.integrity = [f"the check itself failed: {e}"]
    try:
        report.foreign_keys = [
            f"{t} row {rowid} refers to a missing row of {parent}"
            for t, rowid, parent, _ in conn.execute(
                "PRAGMA foreign_key_check").fetchmany(_MAX_LISTED)]
    except sqlite3.DatabaseError as e:
        report.foreign_keys = [f"the check itself failed: {e}"]
    def instances(rows: list[Any]) -> None:
        validate.decode_instances(rows, k, damage, offset=2)

    _scan(conn, f"SELECT video_id, frame_idx, {READ_SQL} FROM instances", report,
          "instances", instances)

    def rows_of(table: str, problem: Any, columns: list[str]) -> Any:
        def check(rows: list[Any]) -> None:
            for r in rows:
                why = problem(SimpleNamespace(**dict(zip(columns, r))))
                if why is not None:
                    damage(table, r[0], why)
        return check

    video_cols = ["id", "abs_path", "rel_path", "width", "height", "frame_count", "fps",
                  "duration_s", "rotation", "codec", "kind", "fps_num", "fps_den"]
    _scan(conn, f"SELECT {', '.join(video_cols)} FROM videos", report, "videos",
          rows_of("videos", validate.video_problem, video_cols))
    run_cols = ["id", "providers_json", "params_json", "created_at"]
    _scan(conn, f"SELECT {', '.join(run_cols)} FROM model_runs", report, "model_runs",
          rows_of("model_runs", validate.model_run_problem, run_cols))
    _scan(conn, "SELECT id, name FROM tracks", report, "tracks",
          rows_of("tracks", validate.track_problem, ["id", "name"]))

    from pose_studio.store.validate import MAX_SIGNATURE_BYTES

    def frames(rows: list[Any]) -> None:
        for vid, f, fp, sig in rows:
            why = validate.fingerprint_problem(f, fp, sig, MAX_SIGNATURE_BYTES)
            if why is not None:
                damage("frames", f"video {vid} frame {f}", why)

    _scan(conn, "SELECT video_id, frame_idx, fingerprint, CASE WHEN signature IS NULL OR "
          f"length(signature) <= {MAX_SIGNATURE_BYTES} THEN signature ELSE x'' END FROM frames",
          report, "frames", frames)
