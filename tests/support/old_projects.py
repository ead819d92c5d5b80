"""Project files of an old format, built the way that version built them (for upgrade tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, create_engine

from pose_studio.core.skeleton import COCO17
from pose_studio.store.migrations import MIGRATIONS, create_v1


@contextmanager
def old_project(path: Path, version: int, size: tuple[int, int] = (8, 8)) -> Iterator[Connection]:
    """A file at format ``version`` (v1's DDL and the steps up to it) with the COCO-17 skeleton
    and one 100-frame video of ``size``; yields the open transaction for more rows."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            create_v1(conn)
            for step in MIGRATIONS[:version - 1]:
                step(conn)
            conn.exec_driver_sql(f"UPDATE schema_version SET version = {int(version)}")
            conn.exec_driver_sql("INSERT INTO skeletons VALUES (1, 'coco17', 17, ?)",
                                 (COCO17.to_json(),))
            conn.exec_driver_sql(
                "INSERT INTO videos (rel_path, abs_path, width, height, frame_count, fps, vfr, "
                "codec, duration_s, rotation, kind, added_at) "
                "VALUES ('v.mp4', '/x/v.mp4', ?, ?, 100, 10.0, 0, 'h264', 10.0, 0, 'file', 0)",
                size)
            yield conn
    finally:
        engine.dispose()
