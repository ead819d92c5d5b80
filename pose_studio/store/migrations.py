"""Schema versions and the stepwise migrations between them.

``MIGRATIONS[v - 1]`` takes a file from version ``v`` to ``v + 1``. :func:`migrate` runs every step
a file needs in ONE transaction (SQLite DDL is transactional), so a crash mid-upgrade leaves the
old version intact. A file newer than :data:`SCHEMA_VERSION` is refused before anything is
written (see ``inspection.inspect_file``).

History:
    1: first release (instances with packed keypoints, no per-frame summaries).
    2: ``instances.summary_score`` and the ``frame_summary`` table (whole-video arrays in
       milliseconds); filled from the existing instances during the upgrade.
    3: ``videos.file_size``, ``file_mtime_ns``, ``file_digest``: the video file's identity, so
       opening a project can tell cheaply that a video was replaced (NULL for older videos).
    4: ``frames.signature`` (BLOB): the frame's thumbnail signature, which tells neighbouring
       frames of a static-camera video apart. Old ``frames.fingerprint`` hashes stay as they are
       and are still checked with the old hash.
    5: ``shown_runs``: predictions of every model run are kept side by side; per video, the
       run shown (and counted by the frame summaries), a second one for A/B, and whether the
       user chose it. Each video with predictions starts on its newest run; summaries are
       rebuilt (they counted the predictions of every run on a frame).
    6: what datasets bring beyond keypoints: ``source_images`` (each image of an image set: its
       relative path and own size), ``categories``, ``instance_meta`` (category and kept fields
       per instance), ``frame_meta`` (image ids and fields per frame) and ``regions`` (crowd and
       box-only areas). Old image folders get no ``source_images`` rows: readers list them.
    7: ``edit_journal``: the undo history, kept in the file (``store/journal.py``); empty for
       upgraded files (their history starts at the upgrade).
    8: ``suggestions``: frames worth looking at and their done marks (``store/suggestions.py``);
       empty for upgraded files.
    9: ``edit_journal.kind`` may be ``skeleton``: a change of the project's skeleton (every
       instance following) is one step of the history (``store/skeleton_change.py``).
    10: several annotators and batch runs on a cluster: ``instances.version`` (1 for existing
       rows) and ``instances.edited_by``, an index on ``edit_journal (made_by, seq)`` (each
       user undoes their own steps), ``assignments`` (work given to annotators) and
       ``run_chunks`` (the chunks of a batch run already written, so a retry writes none
       twice).

One mechanism for both backends: a PostgreSQL database is created at the current version from
the ORM metadata (``Base.metadata.create_all``) and, like a file, upgraded by these steps from
then on; steps from 10 on build their DDL from the ORM tables, compiled for the connection's
database (``_create``, ``_add_column``), so one step serves both. Steps 1-9 exist only for
files (no database is older than 10) and stay as they were written.

Why not Alembic: its version record is a revision id in its own table, but the version of a
file must stay the integer in ``schema_version``, because every released Pose Studio reads it
to refuse a newer file untouched, and the schema check of files (``guard.py``) reads it before
anything in the file may run. Its script directory (``env.py``, revision files) would be a
second copy of this chain to keep in step; what is left that it does better (``ALTER`` through
table copies on SQLite) no step needs: SQLite adds columns, tables and indexes in place, and
SQLAlchemy compiles those for either database.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sqlalchemy import Connection
from sqlalchemy.schema import CreateColumn, CreateIndex, CreateTable

from pose_studio.store import summary
from pose_studio.store.schema import APPLICATION_ID, SCHEMA_VERSION, Base

__all__ = ["MIGRATIONS", "V1_DDL", "create_v1", "migrate"]

#: The version-1 schema exactly as version 1 wrote it (kept to test upgrades; never edit).
V1_DDL = (
    "CREATE TABLE schema_version (id INTEGER NOT NULL PRIMARY KEY, version INTEGER NOT NULL, "
    "CONSTRAINT single_row CHECK (id = 1))",
    "CREATE TABLE project_meta (key VARCHAR NOT NULL PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE skeletons (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR NOT NULL, "
    "num_keypoints INTEGER NOT NULL, json TEXT NOT NULL)",
    "CREATE TABLE videos (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, rel_path TEXT, "
    "abs_path TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, "
    "frame_count INTEGER NOT NULL, fps FLOAT NOT NULL, fps_num INTEGER, fps_den INTEGER, "
    "vfr INTEGER NOT NULL, codec VARCHAR NOT NULL, duration_s FLOAT NOT NULL, "
    "rotation INTEGER NOT NULL, kind VARCHAR NOT NULL, index_blob BLOB, added_at FLOAT NOT NULL)",
    "CREATE TABLE frames (video_id INTEGER NOT NULL, frame_idx INTEGER NOT NULL, "
    "fingerprint INTEGER, PRIMARY KEY (video_id, frame_idx), "
    "FOREIGN KEY(video_id) REFERENCES videos (id) ON DELETE CASCADE) WITHOUT ROWID",
    "CREATE TABLE tracks (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, name VARCHAR NOT NULL, "
    "created_at FLOAT NOT NULL)",
    "CREATE TABLE model_runs (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "
    "model_path TEXT NOT NULL, model_hash VARCHAR NOT NULL, providers_json TEXT NOT NULL, "
    "params_json TEXT NOT NULL, created_at FLOAT NOT NULL)",
    "CREATE TABLE instances (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "
    "video_id INTEGER NOT NULL, frame_idx INTEGER NOT NULL, kind INTEGER NOT NULL, score FLOAT, "
    "bbox_x FLOAT, bbox_y FLOAT, bbox_w FLOAT, bbox_h FLOAT, track_id INTEGER, "
    "source_id INTEGER, model_run_id INTEGER, created_at FLOAT NOT NULL, "
    "updated_at FLOAT NOT NULL, num_keypoints INTEGER NOT NULL, xy BLOB NOT NULL, "
    "visibility BLOB NOT NULL, provenance BLOB NOT NULL, kp_scores BLOB, "
    "CONSTRAINT kind_valid CHECK (kind IN (0, 1)), "
    "CONSTRAINT xy_size CHECK (length(xy) = 16 * num_keypoints), "
    "CONSTRAINT vis_size CHECK (length(visibility) = num_keypoints), "
    "FOREIGN KEY(video_id) REFERENCES videos (id) ON DELETE CASCADE, "
    "FOREIGN KEY(track_id) REFERENCES tracks (id) ON DELETE SET NULL, "
    "FOREIGN KEY(model_run_id) REFERENCES model_runs (id) ON DELETE SET NULL)",
    "CREATE INDEX ix_instances_frame ON instances (video_id, frame_idx)",
)


def create_v1(conn: Connection) -> None:
    """Write an empty version-1 schema (for upgrade tests; inside the caller's transaction)."""
    for ddl in V1_DDL:
        conn.exec_driver_sql(ddl)
    conn.exec_driver_sql("INSERT INTO schema_version (id, version) VALUES (1, 1)")
    conn.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")


def _summary_score(score: float | None, vis: bytes, kps: bytes | None) -> float | None:
    # Same rule as Instance.mean_score(): the instance score, else mean labeled keypoint score.
    if score is not None:
        return float(score)
    if kps is None:
        return None
    v = np.frombuffer(vis, dtype=np.uint8) > 0
    if not v.any():
        return None
    return float(np.frombuffer(kps, dtype="<f4")[v].mean())


def _v1_to_v2(conn: Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE instances ADD COLUMN summary_score FLOAT")
    rows = conn.exec_driver_sql("SELECT id, score, visibility, kp_scores FROM instances").fetchall()
    if rows:  # an empty parameter list would run the statement once without parameters
        conn.exec_driver_sql(
            "UPDATE instances SET summary_score = ? WHERE id = ?",
            [(_summary_score(s, v, k), i) for i, s, v, k in rows],
        )
    conn.exec_driver_sql(
        "CREATE TABLE frame_summary (video_id INTEGER NOT NULL, chunk INTEGER NOT NULL, "
        "data BLOB NOT NULL, PRIMARY KEY (video_id, chunk), "
        "FOREIGN KEY(video_id) REFERENCES videos (id) ON DELETE CASCADE) WITHOUT ROWID"
    )
    summary.rebuild_all(conn)


def _v2_to_v3(conn: Connection) -> None:
    for ddl in ("file_size INTEGER", "file_mtime_ns INTEGER", "file_digest VARCHAR"):
        conn.exec_driver_sql(f"ALTER TABLE videos ADD COLUMN {ddl}")


def _v3_to_v4(conn: Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE frames ADD COLUMN signature BLOB")


def _keep_model_runs_side_by_side(conn: Connection) -> None:
    conn.exec_driver_sql(
        "CREATE TABLE shown_runs (video_id INTEGER NOT NULL PRIMARY KEY, run_id INTEGER, "
        "compare_run_id INTEGER, pinned INTEGER NOT NULL, "
        "FOREIGN KEY(video_id) REFERENCES videos (id) ON DELETE CASCADE)"
    )
    conn.exec_driver_sql(
        "INSERT INTO shown_runs (video_id, run_id, compare_run_id, pinned) "
        "SELECT video_id, max(model_run_id), NULL, 0 FROM instances WHERE kind = 1 "
        "GROUP BY video_id"
    )
    summary.rebuild_all(conn)


def _add_dataset_tables(conn: Connection) -> None:
    for ddl in (
        "CREATE TABLE source_images (video_id INTEGER NOT NULL, frame_idx INTEGER NOT NULL, "
        "path TEXT NOT NULL, width INTEGER, height INTEGER, PRIMARY KEY (video_id, frame_idx), "
        "FOREIGN KEY(video_id) REFERENCES videos (id) ON DELETE CASCADE) WITHOUT ROWID",
        "CREATE TABLE categories (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "
        "name VARCHAR NOT NULL UNIQUE, extra_json TEXT)",
        "CREATE TABLE instance_meta (instance_id INTEGER NOT NULL PRIMARY KEY, "
        "category_id INTEGER, extra_json TEXT, "
        "FOREIGN KEY(category_id) REFERENCES categories (id) ON DELETE SET NULL)",
        "CREATE TABLE frame_meta (video_id INTEGER NOT NULL, frame_idx INTEGER NOT NULL, "
        "image_id TEXT, extra_json TEXT, PRIMARY KEY (video_id, frame_idx), "
        "FOREIGN KEY(video_id) REFERENCES videos (id) ON DELETE CASCADE) WITHOUT ROWID",
        "CREATE INDEX ix_frame_meta_image_id ON frame_meta (image_id)",
        "CREATE TABLE regions (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "
        "video_id INTEGER NOT NULL, frame_idx INTEGER NOT NULL, category_id INTEGER, "
        "bbox_x FLOAT, bbox_y FLOAT, bbox_w FLOAT, bbox_h FLOAT, extra_json TEXT, "
        "FOREIGN KEY(video_id) REFERENCES videos (id) ON DELETE CASCADE, "
        "FOREIGN KEY(category_id) REFERENCES categories (id) ON DELETE SET NULL)",
        "CREATE INDEX ix_regions_frame ON regions (video_id, frame_idx)",
    ):
        conn.exec_driver_sql(ddl)


def _add_edit_journal(conn: Connection) -> None:
    conn.exec_driver_sql(
        "CREATE TABLE edit_journal (seq INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "
        "kind VARCHAR NOT NULL, label TEXT NOT NULL, made_by TEXT NOT NULL, "
        "made_at FLOAT NOT NULL, undone INTEGER NOT NULL, undone_by TEXT, undone_at FLOAT, "
        "video_id INTEGER, first_frame INTEGER, last_frame INTEGER, n_frames INTEGER NOT NULL, "
        "n_instances INTEGER NOT NULL, merge_key TEXT, payload BLOB NOT NULL, stash BLOB, "
        "CONSTRAINT journal_kind CHECK (kind IN ('edit', 'import')), "
        "CONSTRAINT journal_undone CHECK (undone IN (0, 1)))"
    )


def _add_suggestions(conn: Connection) -> None:
    conn.exec_driver_sql(
        "CREATE TABLE suggestions (video_id INTEGER NOT NULL, frame_idx INTEGER NOT NULL, "
        "kinds TEXT NOT NULL, reason TEXT NOT NULL, score FLOAT NOT NULL, "
        "created_at FLOAT NOT NULL, done_at FLOAT, done_by TEXT, "
        "PRIMARY KEY (video_id, frame_idx), "
        "FOREIGN KEY(video_id) REFERENCES videos (id) ON DELETE CASCADE) WITHOUT ROWID"
    )


def _allow_skeleton_steps(conn: Connection) -> None:
    """The journal's ``kind`` may be ``skeleton`` too. SQLite cannot change a CHECK constraint,
    so the table is rebuilt (same columns, rows and seq counter)."""
    counter = conn.exec_driver_sql(
        "SELECT seq FROM sqlite_sequence WHERE name = 'edit_journal'").scalar()
    conn.exec_driver_sql(
        "CREATE TABLE edit_journal_v8 (seq INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "
        "kind VARCHAR NOT NULL, label TEXT NOT NULL, made_by TEXT NOT NULL, "
        "made_at FLOAT NOT NULL, undone INTEGER NOT NULL, undone_by TEXT, undone_at FLOAT, "
        "video_id INTEGER, first_frame INTEGER, last_frame INTEGER, n_frames INTEGER NOT NULL, "
        "n_instances INTEGER NOT NULL, merge_key TEXT, payload BLOB NOT NULL, stash BLOB, "
        "CONSTRAINT journal_kind CHECK (kind IN ('edit', 'import', 'skeleton')), "
        "CONSTRAINT journal_undone CHECK (undone IN (0, 1)))"
    )
    conn.exec_driver_sql("INSERT INTO edit_journal_v8 SELECT * FROM edit_journal")
    conn.exec_driver_sql("DROP TABLE edit_journal")
    conn.exec_driver_sql("ALTER TABLE edit_journal_v8 RENAME TO edit_journal")
    if counter is not None:  # a step number is never handed out twice
        conn.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = 'edit_journal'")
        conn.exec_driver_sql(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('edit_journal', ?)", (counter,))


def _create(conn: Connection, table: str) -> None:
    """``CREATE TABLE`` (and its indexes) as the ORM declares it, for this database."""
    t = Base.metadata.tables[table]
    conn.execute(CreateTable(t))
    for ix in sorted(t.indexes, key=lambda i: str(i.name)):
        conn.execute(CreateIndex(ix))


def _add_column(conn: Connection, table: str, column: str) -> None:
    """``ALTER TABLE ... ADD COLUMN`` as the ORM declares the column, for this database."""
    col = Base.metadata.tables[table].c[column]
    ddl = CreateColumn(col).compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {ddl}")


def _add_team_tables(conn: Connection) -> None:
    _add_column(conn, "instances", "version")
    _add_column(conn, "instances", "edited_by")
    ix = next(i for i in Base.metadata.tables["edit_journal"].indexes
              if i.name == "ix_journal_user")
    conn.execute(CreateIndex(ix))
    _create(conn, "assignments")
    _create(conn, "run_chunks")


MIGRATIONS: list[Callable[[Connection], None]] = [
    _v1_to_v2, _v2_to_v3, _v3_to_v4, _keep_model_runs_side_by_side, _add_dataset_tables,
    _add_edit_journal, _add_suggestions, _allow_skeleton_steps, _add_team_tables,
]
assert len(MIGRATIONS) == SCHEMA_VERSION - 1


def migrate(conn: Connection, from_version: int) -> int:
    """Run the steps from ``from_version`` to :data:`SCHEMA_VERSION` in the caller's transaction."""
    version = from_version
    while version < SCHEMA_VERSION:
        MIGRATIONS[version - 1](conn)
        version += 1
        conn.exec_driver_sql("UPDATE schema_version SET version = ?", (version,))
    return version
