"""The schema check (store/guard.py): built at run time, so tables other branches add are
accepted; foreign objects are refused before anything runs; repair leaves them behind."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pose_studio.core.annotation import Instance
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project, ProjectError, guard
from pose_studio.store.engine import connect_raw, make_engine
from pose_studio.store.errors import ProjectSchemaError
from pose_studio.store.migrations import create_v1
from pose_studio.store.repair import repair_project
from pose_studio.store.schema import SCHEMA_VERSION, Base

K = COCO17.num_keypoints


def _project(tmp: Path, name: str = "p.posestudio") -> Path:
    with Project.create(tmp / name, COCO17) as p:
        vid = p.add_video(tmp / "v.mp4", width=64, height=48, frame_count=20, fps=10.0)
        p.add_instance(vid, 2, Instance(xy=np.full((K, 2), 5.0), visibility=np.full(K, 2)))
        return p.path


def test_a_table_added_to_the_orm_is_accepted_without_editing_the_check(tmp_path: Path) -> None:
    """What another branch's merge does: a new ORM table (and its columns and index) is part of
    the expected schema at once, and files made before it still open."""
    old = _project(tmp_path, "old.posestudio")

    class Journal(Base):  # a stand-in for a table another branch adds
        __tablename__ = "zz_test_journal"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        what: Mapped[str] = mapped_column(String, nullable=False, index=True)

    guard.reset_cache()
    try:
        new = _project(tmp_path, "new.posestudio")
        with Project.open(new) as p:
            assert p.counts()["user_instances"] == 1
        con = sqlite3.connect(new)
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'zz_test_journal'"
                           ).fetchone()[0] == 1
        con.close()
        with Project.open(old) as p:  # made without the new table: still fine
            assert p.counts()["user_instances"] == 1
    finally:
        Base.metadata.remove(Journal.__table__)
        guard.reset_cache()
    with pytest.raises(ProjectSchemaError, match="zz_test_journal"):
        Project.open(new, read_only=True)  # without the ORM table it is foreign again


def test_expected_schema_covers_every_version_and_sqlite_internals() -> None:
    allowed, required = guard.expected_schema(SCHEMA_VERSION)
    assert ("table", "instances") in required and ("index", "ix_instances_frame") in required
    assert ("table", "sqlite_sequence") in allowed and ("table", "sqlite_stat1") in allowed
    for v in range(1, SCHEMA_VERSION + 1):
        got, req = guard.expected_schema(v)
        assert ("table", "schema_version") in req and got


def test_every_connection_is_hardened(tmp_path: Path) -> None:
    path = _project(tmp_path)
    raw = connect_raw(path, mode="ro")
    try:
        assert raw.execute("PRAGMA trusted_schema").fetchone()[0] == 0
        assert raw.execute("PRAGMA cell_size_check").fetchone()[0] == 1
    finally:
        raw.close()
    engine = make_engine(path, read_only=True)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA trusted_schema").scalar() == 0
    finally:
        engine.dispose()


def test_a_trigger_never_fires_and_the_file_is_untouched(tmp_path: Path) -> None:
    path = _project(tmp_path)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE fired (n INTEGER)")
    con.execute("CREATE TRIGGER t AFTER UPDATE ON videos BEGIN INSERT INTO fired VALUES (1); "
                "DELETE FROM instances; END")
    con.commit()
    con.close()
    before = path.read_bytes()
    for ro in (False, True):
        with pytest.raises(ProjectSchemaError) as err:
            Project.open(path, read_only=ro)
        assert "trigger 't'" in str(err.value) and "table 'fired'" in str(err.value)
        assert "repair" in str(err.value)
    assert path.read_bytes() == before
    assert not Path(str(path) + ".lock").exists() and not Path(str(path) + "-wal").exists()


def test_an_old_file_with_a_foreign_trigger_is_refused_before_its_upgrade(tmp_path: Path) -> None:
    """A migration writes (v1 -> v2 updates every instance): the check comes first."""
    path = tmp_path / "old.posestudio"
    from sqlalchemy import create_engine

    eng = create_engine(f"sqlite:///{path}")
    with eng.begin() as conn:
        create_v1(conn)
        conn.exec_driver_sql("CREATE TRIGGER up AFTER UPDATE ON instances BEGIN "
                             "DELETE FROM videos; END")
    eng.dispose()
    with pytest.raises(ProjectSchemaError, match="trigger 'up'"):
        Project.open(path)
    con = sqlite3.connect(path)
    assert con.execute("SELECT version FROM schema_version").fetchone()[0] == 1  # not upgraded
    con.close()


def test_repair_keeps_the_data_and_leaves_every_foreign_object_behind(tmp_path: Path) -> None:
    path = _project(tmp_path)
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TRIGGER wipe AFTER INSERT ON instances BEGIN DELETE FROM instances; END;"
        "CREATE VIEW v AS SELECT 1;"
        "CREATE INDEX ix_odd ON instances (abs(frame_idx));"
        "CREATE TABLE notes (t TEXT);"
        "ALTER TABLE tracks ADD COLUMN colour TEXT;")
    con.close()
    report = repair_project(path, tmp_path / "clean")
    assert report.out == tmp_path / "clean.posestudio"
    assert len(report.removed) == 5 and not report.dropped and report.copied["instances"] == 1
    with Project.open(report.out) as p:
        assert p.counts()["user_instances"] == 1
        p.add_instance(1, 3, Instance(xy=np.full((K, 2), 6.0), visibility=np.full(K, 2)))
        assert p.counts()["user_instances"] == 2  # no trigger wiped it
    clean = sqlite3.connect(report.out)
    names = {r[0] for r in clean.execute("SELECT name FROM sqlite_master")}
    clean.close()
    assert not {"wipe", "v", "ix_odd", "notes"} & names


def test_repair_of_an_old_file_upgrades_the_copy(tmp_path: Path) -> None:
    path = tmp_path / "old.posestudio"
    from sqlalchemy import create_engine

    eng = create_engine(f"sqlite:///{path}")
    with eng.begin() as conn:
        create_v1(conn)
        conn.exec_driver_sql(
            "INSERT INTO skeletons (id, name, num_keypoints, json) VALUES (1, 'coco17', 17, ?)",
            (COCO17.to_json(),))
        conn.exec_driver_sql("CREATE VIEW extra AS SELECT 1")
    eng.dispose()
    report = repair_project(path, tmp_path / "new.posestudio")
    assert report.source_version == 1 and report.removed
    with Project.open(report.out, read_only=True) as p:
        assert p.skeleton.num_keypoints == K
    con = connect_raw(report.out, mode="ro")
    assert con.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    con.close()


def test_repair_refuses_to_overwrite_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    path = _project(tmp_path)
    (tmp_path / "taken.posestudio").write_bytes(b"mine")
    with pytest.raises(ProjectError, match="already exists"):
        repair_project(path, tmp_path / "taken.posestudio")
    assert (tmp_path / "taken.posestudio").read_bytes() == b"mine"
    (tmp_path / "x.posestudio").write_bytes(b"not sqlite")
    with pytest.raises(ProjectError, match="not a Pose Studio project"):
        repair_project(tmp_path / "x.posestudio", tmp_path / "y")
    assert sorted(f.name for f in tmp_path.iterdir()) == ["p.posestudio", "taken.posestudio",
                                                          "x.posestudio"]


@pytest.fixture()
def _no_cache() -> Iterator[None]:
    guard.reset_cache()
    yield
    guard.reset_cache()


def test_expected_schema_without_a_writable_temp_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _no_cache: None) -> None:
    """Built from the ORM metadata in memory when no temporary file can be written."""
    import tempfile

    def no_tmp(*_a: object, **_k: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "TemporaryDirectory", no_tmp)
    allowed, _ = guard.expected_schema(SCHEMA_VERSION)
    assert ("table", "instances") in allowed
    monkeypatch.undo()
    with Project.open(_project(tmp_path), read_only=True) as p:
        assert p.counts()["user_instances"] == 1
