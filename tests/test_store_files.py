"""Project files: paths, migration, versions, locks, read-only, not-a-project, save as."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.skeleton import COCO17
from pose_studio.store import (
    Project,
    ProjectError,
    ProjectLockedError,
    ProjectNotFoundError,
    ProjectReadOnlyError,
    ProjectVersionError,
)
from pose_studio.store import project as project_mod
from pose_studio.store.migrations import create_v1
from pose_studio.store.schema import SCHEMA_VERSION

K = COCO17.num_keypoints
REPO = Path(__file__).resolve().parents[1]


def _inst(seed: int, kind: InstanceKind = InstanceKind.USER, **kw: object) -> Instance:
    rng = np.random.default_rng(seed)
    return Instance(xy=rng.random((K, 2)) * 100, visibility=np.full(K, 2, np.uint8), kind=kind,
                    kp_scores=rng.random(K) if kind is InstanceKind.PREDICTED else None, **kw)


def _make(tmp: Path, name: str = "p", video: Path | None = None) -> Path:
    with Project.create(tmp / name, COCO17) as p:
        if video is not None:
            p.add_video(video, width=8, height=8, frame_count=100, fps=10.0, vfr=False,
                        codec="mjpeg", duration_s=10.0, index=None)
            p.add_instance(1, 3, _inst(1))
        return p.path


def _files(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir()) if f.is_file()}


# --- video paths ---------------------------------------------------------------------------------
def test_moving_the_folder_keeps_videos_found(tmp_path: Path) -> None:
    a = tmp_path / "a"
    (a / "clips").mkdir(parents=True)
    (a / "clips" / "v.mp4").write_bytes(b"video")
    path = _make(a, video=a / "clips" / "v.mp4")
    shutil.move(str(a), str(tmp_path / "b"))  # project and video moved together
    with Project.open(tmp_path / "b" / path.name) as p:
        v = p.videos()[0]
        assert v.path == tmp_path / "b" / "clips" / "v.mp4" and not v.missing
        assert v.stored_path == "clips/v.mp4"
        assert len(p.instances(v.id, 3)) == 1


def test_project_moved_alone_uses_absolute_path_then_relink(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "proj").mkdir()
    video = tmp_path / "data" / "v.mp4"
    video.write_bytes(b"video")
    path = _make(tmp_path / "proj", video=video)
    (tmp_path / "elsewhere").mkdir()
    moved = tmp_path / "elsewhere" / path.name
    shutil.move(str(path), str(moved))  # relative path now wrong, absolute path still right
    with Project.open(moved) as p:
        v = p.video(1)
        assert v.path == video and not v.missing
    video.rename(tmp_path / "v2.mp4")  # now the video is gone from both places
    with Project.open(moved) as p:
        assert p.video(1).missing
        rec = p.relink_video(1, tmp_path / "v2.mp4")
        assert not rec.missing and rec.path == tmp_path / "v2.mp4" and rec.stored_path == "../v2.mp4"
        assert len(p.instances(1, 3)) == 1  # labels kept
    with Project.open(moved) as p:
        assert p.video(1).path == tmp_path / "v2.mp4"


# --- migration and versions ----------------------------------------------------------------------
def _make_v1(path: Path) -> tuple[Instance, Instance]:
    """A version-1 file written with the frozen v1 DDL, holding a user label and a prediction."""
    user, pred = _inst(1), _inst(2, InstanceKind.PREDICTED, score=None)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        create_v1(conn)
        conn.exec_driver_sql("INSERT INTO skeletons VALUES (1, 'coco17', 17, ?)",
                             (COCO17.to_json(),))
        conn.exec_driver_sql(
            "INSERT INTO videos (rel_path, abs_path, width, height, frame_count, fps, vfr, "
            "codec, duration_s, rotation, kind, added_at) "
            "VALUES ('v.mp4', '/x/v.mp4', 8, 8, 100, 10.0, 0, 'h264', 10.0, 0, 'file', 0)")
        for inst, frame in ((user, 4), (pred, 9)):
            conn.exec_driver_sql(
                "INSERT INTO instances (video_id, frame_idx, kind, num_keypoints, xy, visibility, "
                "provenance, kp_scores, created_at, updated_at) VALUES (1, ?, ?, 17, ?, ?, ?, ?, 0, 0)",
                (frame, int(inst.is_prediction), inst.xy.tobytes(), inst.visibility.tobytes(),
                 inst.provenance.tobytes(),
                 None if inst.kp_scores is None else inst.kp_scores.tobytes()))
    engine.dispose()
    return user, pred


def test_v1_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.posestudio"
    user, pred = _make_v1(path)
    with Project.open(path) as p:
        assert p.instances(1, 4)[0].same_values(user.replace(id=1))
        assert np.array_equal(p.instances(1, 9)[0].kp_scores, pred.kp_scores)
        fa = p.frame_arrays(1)
        assert fa.labeled[4] and fa.predicted[9] and fa.labeled.sum() == 1
        assert fa.min_score[9] == pytest.approx(float(pred.kp_scores.mean()), rel=1e-6)
        p.add_instance(1, 5, _inst(3))  # the upgraded file takes new edits
    con = sqlite3.connect(path)
    assert con.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


def test_v1_file_read_only_is_upgraded_in_memory_only(tmp_path: Path) -> None:
    path = tmp_path / "old.posestudio"
    user, _ = _make_v1(path)
    before = _files(tmp_path)
    with Project.open(path, read_only=True) as p:
        assert p.read_only and "in memory" in (p.read_only_reason or "")
        assert p.instances(1, 4)[0].same_values(user.replace(id=1))
        assert p.frame_arrays(1).predicted[9]
        with pytest.raises(ProjectReadOnlyError):
            p.add_instance(1, 5, _inst(3))
    assert _files(tmp_path) == before


def test_newer_file_is_refused_and_not_modified(tmp_path: Path) -> None:
    path = _make(tmp_path, video=tmp_path / "v.mp4")
    con = sqlite3.connect(path)
    con.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    con.commit()
    con.close()
    before = _files(tmp_path)
    for ro in (False, True):
        with pytest.raises(ProjectVersionError, match="newer Pose Studio") as err:
            Project.open(path, read_only=ro)
        assert str(path) in str(err.value)
    assert _files(tmp_path) == before  # same bytes, and no -wal/-shm/.lock left behind


@pytest.mark.parametrize(
    "content",
    [b"", os.urandom(4096), b"SQLite format 3\x00" + os.urandom(2000), "other-sqlite"],
    ids=["empty", "random", "sqlite-header-garbage", "other-sqlite"],
)
def test_not_a_project_is_refused_untouched(tmp_path: Path, content: bytes | str) -> None:
    path = tmp_path / "x.posestudio"
    if content == "other-sqlite":
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE notes (t TEXT)")
        con.execute("INSERT INTO notes VALUES ('hello')")
        con.commit()
        con.close()
    else:
        path.write_bytes(content)  # type: ignore[arg-type]
    before = _files(tmp_path)
    for ro in (False, True):
        with pytest.raises(ProjectError) as err:
            Project.open(path, read_only=ro)
        assert str(path) in str(err.value)
        assert not isinstance(err.value, ProjectVersionError)
    assert _files(tmp_path) == before


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError, match="does not exist"):
        Project.open(tmp_path / "nope.posestudio")
    with pytest.raises(ProjectError, match="folder"):
        Project.open(tmp_path)
    with pytest.raises(ProjectError, match="does not exist"):
        Project.create(tmp_path / "no" / "p", COCO17)


# --- locking -------------------------------------------------------------------------------------
HOLDER = textwrap.dedent("""
    import sys, time
    from pose_studio.store import Project
    p = Project.open(sys.argv[1])
    print("ready", flush=True)
    time.sleep(60)
""")


def test_second_writer_process_is_refused_and_dead_lock_is_not(tmp_path: Path) -> None:
    path = _make(tmp_path, video=tmp_path / "v.mp4")
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        with pytest.raises(ProjectLockedError) as err:
            Project.open(path)
        assert str(path) in str(err.value) and f"pid {proc.pid}" in str(err.value)
        with Project.open(path, read_only=True) as ro:  # readers are welcome meanwhile
            assert len(ro.instances(1, 3)) == 1
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    with Project.open(path) as p:  # the killed holder's lock died with it
        p.add_instance(1, 4, _inst(2))


def test_second_writer_in_same_process_is_refused(tmp_path: Path) -> None:
    path = _make(tmp_path)
    with Project.open(path), pytest.raises(ProjectLockedError):
        Project.open(path)
    with Project.open(path) as p:
        assert not p.read_only
    assert not (tmp_path / (path.name + ".lock")).exists()


def test_dropped_project_releases_its_lock(tmp_path: Path) -> None:
    import gc

    path = _make(tmp_path)
    p = Project.open(path)
    del p  # never closed
    gc.collect()
    with Project.open(path) as again:
        assert not again.read_only
    assert sorted(f.name for f in tmp_path.iterdir()) == [path.name]  # one file at rest


# --- read-only -----------------------------------------------------------------------------------
def test_explicit_read_only(tmp_path: Path) -> None:
    path = _make(tmp_path, video=tmp_path / "v.mp4")
    before = _files(tmp_path)
    with Project.open(path, read_only=True) as p:
        assert p.read_only and p.read_only_reason == "opened read-only"
        assert len(p.instances(1, 3)) == 1 and p.frame_arrays(1).labeled[3]
        inst = p.instances(1, 3)[0]
        for write in (
            lambda: p.add_instance(1, 5, _inst(5)),
            lambda: p.update_instance(inst.translated(1, 1)),
            lambda: p.delete_instance(inst.id),
            lambda: p.add_predictions(1, [(1, _inst(6, InstanceKind.PREDICTED))], None),
            lambda: p.create_track("t"),
            lambda: p.relink_video(1, tmp_path / "w.mp4"),
        ):
            with pytest.raises(ProjectReadOnlyError, match="read-only"):
                write()
    assert _files(tmp_path) == before


@pytest.mark.parametrize("unwritable", ["file", "folder"])
def test_unwritable_file_or_folder_opens_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unwritable: str
) -> None:
    # Tests run as root, where chmod does not stop writes: fake what os.access would say.
    path = _make(tmp_path, video=tmp_path / "v.mp4")
    target = path if unwritable == "file" else path.parent
    real_access = os.access

    def access(p: object, mode: int, *a: object, **kw: object) -> bool:
        if Path(p) == target and mode & os.W_OK:  # type: ignore[arg-type]
            return False
        return real_access(p, mode, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(project_mod.os, "access", access)
    with Project.open(path) as p:
        assert p.read_only and unwritable in (p.read_only_reason or "")
        with pytest.raises(ProjectReadOnlyError, match=str(path)):
            p.add_instance(1, 5, _inst(5))
        assert len(p.instances(1, 3)) == 1


@pytest.mark.skipif(os.name != "posix", reason="POSIX folder permissions")
def test_real_read_only_folder(tmp_path: Path) -> None:
    """A project in a folder nobody may write to opens read-only and reads. As root (CI) it
    runs in a child that has dropped the capabilities that ignore permissions."""
    from tests.support.privileges import run_as_ordinary_user

    folder = tmp_path / "ro"
    folder.mkdir()
    path = _make(folder, video=folder / "v.mp4")
    folder.chmod(0o555)

    def check() -> None:
        with Project.open(path) as p:
            assert p.read_only and len(p.instances(1, 3)) == 1
            with pytest.raises(ProjectReadOnlyError):
                p.add_instance(1, 5, _inst(5))

    try:
        run_as_ordinary_user(check, tmp_path)
    finally:
        folder.chmod(0o755)


# --- save as -------------------------------------------------------------------------------------
def test_save_as_continues_on_the_copy(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    video = tmp_path / "a" / "v.mp4"
    video.write_bytes(b"v")
    path = _make(tmp_path / "a", video=video)
    with Project.open(path) as p:
        p.add_predictions(1, [(7, _inst(7, InstanceKind.PREDICTED, score=0.4))], None)
        new = p.save_as(tmp_path / "b" / "copy")
        assert new == tmp_path / "b" / "copy.posestudio" == p.path
        p.add_instance(1, 50, _inst(8))  # goes to the copy only
        v = p.video(1)
        assert v.path == video and not v.missing and v.stored_path == "../a/v.mp4"
        with pytest.raises(ProjectError, match="already exists"):
            p.save_as(path)
        # the original is closed and free again
        with Project.open(path) as orig:
            assert orig.instances(1, 50) == [] and len(orig.instances(1, 7)) == 1
    with Project.open(new) as c:
        assert len(c.instances(1, 50)) == 1 and len(c.instances(1, 3)) == 1
        assert c.frame_arrays(1).min_score[7] == pytest.approx(0.4)
    con = sqlite3.connect(new)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    con.close()


def test_save_as_from_read_only_gives_a_writable_copy(tmp_path: Path) -> None:
    path = _make(tmp_path, video=tmp_path / "v.mp4")
    with Project.open(path, read_only=True) as p:
        p.save_as(tmp_path / "mine.posestudio")
        assert not p.read_only
        p.add_instance(1, 9, _inst(9))
    with Project.open(path) as orig:
        assert orig.instances(1, 9) == []
