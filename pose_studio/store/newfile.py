"""Writing a new, empty project file (used by ``Project.create`` and by the schema check, which
compares every opened file against exactly what this function makes)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from sqlalchemy.orm import Session

from pose_studio.core.skeleton import Skeleton
from pose_studio.store.engine import connect_raw, make_engine
from pose_studio.store.schema import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    Base,
    MetaRow,
    SchemaVersionRow,
    SkeletonRow,
)

__all__ = ["write_new_file"]


def write_new_file(tmp: Path, skeleton: Skeleton) -> None:
    # Built beside the target and renamed into place: a crash never leaves half a project.
    raw = connect_raw(tmp, mode="rwc")
    raw.close()
    engine = make_engine(tmp, read_only=False)
    try:
        with engine.connect() as conn, conn.begin():
            conn.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")
            Base.metadata.create_all(conn)
        now = time.time()
        with Session(engine) as s, s.begin():
            s.add(SchemaVersionRow(id=1, version=SCHEMA_VERSION))
            s.add(SkeletonRow(id=1, name=skeleton.name, num_keypoints=skeleton.num_keypoints,
                              json=skeleton.to_json()))
            s.add(MetaRow(key="created_at", value=repr(now)))
            s.add(MetaRow(key="created_by", value="pose-studio"))
    finally:
        engine.dispose()
    raw = connect_raw(tmp)
    try:
        raw.execute("PRAGMA journal_mode = DELETE")
    finally:
        raw.close()
    for side in ("-wal", "-shm"):
        with contextlib.suppress(OSError):
            Path(str(tmp) + side).unlink()
