"""Instance (and other) ids are never handed out twice, on both backends: undo puts a deleted
instance back under its old id, and an import's history step names id ranges.

SQLite: ``AUTOINCREMENT`` keeps the highest id ever given in ``sqlite_sequence`` and moves it
past explicit ids. PostgreSQL: a ``BIGSERIAL``'s sequence, which explicit ids do not move, so a
writer that chose ids itself calls :func:`catch_up` before it commits.
"""

from __future__ import annotations

from sqlalchemy import Connection

__all__ = ["catch_up", "handed_out"]

#: tables whose ids autoincrement (name -> key column)
KEYS = {"instances": "id", "videos": "id", "tracks": "id", "model_runs": "id",
        "categories": "id", "regions": "id", "edit_journal": "seq", "assignments": "id"}


def handed_out(conn: Connection, table: str) -> int:
    """The highest id ``table`` ever gave (0: none)."""
    if conn.dialect.name == "postgresql":
        v = conn.exec_driver_sql(
            "SELECT pg_sequence_last_value(pg_get_serial_sequence(?, ?)::regclass)",
            (table, KEYS[table])).scalar()
    else:
        v = conn.exec_driver_sql(
            "SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).scalar()
    return int(v or 0)


def catch_up(conn: Connection, table: str, at_least: int = 0) -> None:
    """Move ``table``'s id sequence past its largest id (and ``at_least``), after rows were
    written with ids of their own (a no-op on SQLite, which does it itself)."""
    if conn.dialect.name != "postgresql":
        if at_least:
            top = handed_out(conn, table)
            if at_least > top:
                conn.exec_driver_sql(
                    "UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (at_least, table))
                if not conn.exec_driver_sql("SELECT 1 FROM sqlite_sequence WHERE name = ?",
                                            (table,)).first():
                    conn.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)",
                                         (table, at_least))
        return
    key = KEYS[table]
    largest = conn.exec_driver_sql(f"SELECT max({key}) FROM {table}").scalar()
    want = max(int(largest or 0), int(at_least), handed_out(conn, table))
    if want > 0:
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence(?, ?), ?)",
                             (table, key, want))
