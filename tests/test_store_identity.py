"""Store robustness on realistic usage: video file identity and fingerprint checks, damaged
summaries, disk full, damaged tables, unicode paths, a crash left in WAL state."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import event

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.skeleton import COCO17
from pose_studio.formats.frame_check import check_video_frames, fill_missing_fingerprints
from pose_studio.store import SCHEMA_VERSION, Project, ProjectError
from pose_studio.store.summary import SUMMARY_CHUNK, SUMMARY_DTYPE
from pose_studio.video import open_video
from tests.support.videos import make_indexed_video

K = COCO17.num_keypoints
N = 30


def _inst(seed: int = 0) -> Instance:
    rng = np.random.default_rng(seed)
    return Instance(xy=rng.uniform(2, 60, (K, 2)), visibility=np.full(K, 2))


def _add_video(p: Project, video: Path) -> int:
    with open_video(video) as r:
        m = r.meta
        return p.add_video(video, width=m.width, height=m.height, frame_count=m.frame_count,
                           fps=m.fps, index=r.index_bytes())


def _labeled_project(tmp_path: Path, frames: list[int]) -> tuple[Path, Path]:
    video = make_indexed_video(tmp_path / "clip.mp4", N, size=(96, 64), codec="h264")
    proj = tmp_path / "p.posestudio"
    with Project.create(proj, COCO17) as p:
        vid = _add_video(p, video)
        with p.import_transaction() as w:
            w.add_instances([(vid, f, _inst(f)) for f in frames])
        assert p.frames_missing_fingerprints(vid) == frames
        assert fill_missing_fingerprints(p, vid) == len(frames)
        assert p.frames_missing_fingerprints(vid) == []
    return proj, video


def test_video_identity_same_touched_changed_missing(tmp_path: Path) -> None:
    proj, video = _labeled_project(tmp_path, [1, 2])
    with Project.open(proj) as p:
        assert p.video_file_status(1).state == "same"
        os.utime(video, ns=(1, 10**18))  # touched, same bytes
        assert p.video_file_status(1).state == "same"
        data = bytearray(video.read_bytes())
        data[-10] ^= 0xFF  # same size, other bytes in the last MiB
        video.write_bytes(bytes(data))
        st = p.video_file_status(1)
        assert st.state == "changed" and st.changed and "bytes differ" in st.detail
        video.write_bytes(bytes(data) + b"\0")
        assert "bytes" in p.video_file_status(1).detail
        assert p.accept_video_file(1).state == "same" and p.video_file_status(1).state == "same"
        copy = tmp_path / "copy.mp4"
        shutil.copy(video, copy)  # an identical copy elsewhere is still the same file
        video.unlink()
        assert p.video_file_status(1).state == "missing"
        p.relink_video(1, copy)
        assert p.video_file_status(1).state == "same"


def test_shifted_reencode_is_reported_and_same_frames_reencode_is_not(tmp_path: Path) -> None:
    frames = list(range(0, N))
    proj, video = _labeled_project(tmp_path, frames)
    # Same pictures, other codec and container bytes: nothing moved.
    make_indexed_video(tmp_path / "re.mp4", N, size=(96, 64), codec="mpeg4")
    os.replace(tmp_path / "re.mp4", video)
    with Project.open(proj, read_only=True) as p:
        assert p.video_file_status(1).state == "changed"
        r = check_video_frames(p, 1)
        assert r.error is None and r.checked == N and r.moved == () and r.ok
    # Two frames dropped at the start (re-cut and re-encoded): labels are off their frames.
    make_indexed_video(tmp_path / "cut.mp4", N - 2, size=(96, 64), codec="h264", first_index=2)
    os.replace(tmp_path / "cut.mp4", video)
    with Project.open(proj, read_only=True) as p:
        r = check_video_frames(p, 1)
        assert not r.ok and r.frame_count == N - 2 and "28 frames now" in r.notes[0]
        assert {N - 2, N - 1} <= set(r.moved)  # past the end now
        # Found as a whole: every label is off by two frames (the per-frame 64-bit hash alone
        # cannot tell some neighbouring frames apart).
        assert r.shift == -2 and r.moved == tuple(frames), r
        assert "2 frame(s) earlier" in r.notes[1]


def test_check_without_video_says_why(tmp_path: Path) -> None:
    proj, video = _labeled_project(tmp_path, [3])
    video.unlink()
    with Project.open(proj, read_only=True) as p:
        r = check_video_frames(p, 1)
        assert r.error and "does not exist" in r.error and r.moved == ()


def _corrupt_summary(proj: Path) -> None:
    con = sqlite3.connect(proj)
    # What an earlier build with 1024-frame chunks left behind.
    con.execute("UPDATE frame_summary SET data = zeroblob(?) WHERE chunk = 0",
                (1024 * SUMMARY_DTYPE.itemsize,))
    con.commit()
    con.close()


def test_inconsistent_summary_is_rebuilt_from_instances(tmp_path: Path) -> None:
    video = make_indexed_video(tmp_path / "v.mp4", 5, size=(32, 32), codec="mjpeg")
    proj = tmp_path / "p.posestudio"
    with Project.create(proj, COCO17) as p:
        vid = p.add_video(video, width=32, height=32, frame_count=600, fps=30)
        p.add_instance(vid, 3, _inst())
        p.add_instance(vid, 300, _inst())
        p.add_predictions(vid, [(4, _inst().replace(kind=InstanceKind.PREDICTED, score=0.25))],
                          None)
    _corrupt_summary(proj)
    before = proj.read_bytes()
    with Project.open(proj, read_only=True) as p:  # computed, file untouched
        fa = p.frame_arrays(vid)
        assert np.flatnonzero(fa.labeled).tolist() == [3, 300]
        assert np.flatnonzero(fa.predicted).tolist() == [4] and fa.min_score[4] == 0.25
    assert proj.read_bytes() == before
    with Project.open(proj) as p:
        assert p.labeled_frames(vid) == [3, 300]
        p.add_instance(vid, 5, _inst())
        assert p.labeled_frames(vid) == [3, 5, 300]
    con = sqlite3.connect(proj)
    sizes = {len(b) for (b,) in con.execute("SELECT data FROM frame_summary")}
    con.close()
    assert sizes == {SUMMARY_CHUNK * SUMMARY_DTYPE.itemsize}
    # Writes that meet a damaged chunk first (edit, predictions) repair it too.
    _corrupt_summary(proj)
    with Project.open(proj) as p:
        p.add_instance(vid, 6, _inst())
        p.add_predictions(vid, [(7, _inst().replace(kind=InstanceKind.PREDICTED, score=0.5))],
                          None, replace=False)
        assert p.labeled_frames(vid) == [3, 5, 6, 300]
        assert np.flatnonzero(p.frame_arrays(vid).predicted).tolist() == [4, 7]


def test_disk_full_is_a_project_error_and_keeps_the_project(tmp_path: Path) -> None:
    video = make_indexed_video(tmp_path / "v.mp4", 5, size=(32, 32), codec="mjpeg")
    with Project.create(tmp_path / "p.posestudio", COCO17) as p:
        vid = p.add_video(video, width=32, height=32, frame_count=5000, fps=30)
        p.add_instance(vid, 0, _inst())
        engine = p._engine
        engine.dispose()

        def full(dbapi_conn: sqlite3.Connection, _rec: object) -> None:
            n = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
            dbapi_conn.execute(f"PRAGMA max_page_count = {n}")

        event.listen(engine, "connect", full)
        many = [(f, _inst(f).replace(kind=InstanceKind.PREDICTED, score=0.5))
                for f in range(2000)]
        with pytest.raises(ProjectError, match="full") as err:
            p.add_predictions(vid, many, None)
        assert "nothing was changed" in str(err.value)
        assert not isinstance(err.value, sqlite3.Error)
        event.remove(engine, "connect", full)
        engine.dispose()
        assert p.counts() == {"user_instances": 1, "predicted_instances": 0,
                              "labeled_frames": 1, "predicted_frames": 0}
        assert p.add_predictions(vid, many[:10], None) == 10


def test_damaged_tables_give_project_errors_on_every_read(tmp_path: Path) -> None:
    proj = tmp_path / "p.posestudio"
    with Project.create(proj, COCO17) as p:
        p.add_video(tmp_path / "v.mp4", width=32, height=32, frame_count=5, fps=30)
    con = sqlite3.connect(proj)
    con.executescript("DROP TABLE tracks; DROP TABLE model_runs; ALTER TABLE videos "
                      "RENAME TO videos_old; DROP TABLE frames;")
    con.close()
    # The schema check refuses such a file on open (before any read could fail half-way),
    # naming what is wrong; `pose-studio repair` rebuilds the missing tables.
    for ro in (True, False):
        with pytest.raises(ProjectError, match=r"p\.posestudio.*videos_old.*repair"):
            Project.open(proj, read_only=ro)
    proj2 = tmp_path / "q.posestudio"
    Project.create(proj2, COCO17).close()
    con = sqlite3.connect(proj2)
    con.executescript("DROP TABLE frames")
    con.close()
    with pytest.raises(ProjectError, match=r"damaged: table 'frames' is missing.*repair"):
        Project.open(proj2, read_only=True)


def test_unicode_path_with_spaces_and_moved_folder(tmp_path: Path) -> None:
    folder = tmp_path / "my projects ü 日本"
    folder.mkdir()
    video = make_indexed_video(folder / "clip ä.mp4", 6, size=(32, 32), codec="mjpeg")
    with Project.create(folder / "studie ü.posestudio", COCO17) as p:
        vid = _add_video(p, video)
        p.add_instance(vid, 2, _inst())
    moved = tmp_path / "moved ✓ folder"
    folder.rename(moved)
    with Project.open(moved / "studie ü.posestudio") as p:
        v = p.videos()[0]
        assert not v.missing and v.path == moved / "clip ä.mp4"
        assert v.stored_path == "clip ä.mp4"
        assert p.video_file_status(vid).state == "same"
        assert p.labeled_frames(vid) == [2]


def test_crash_left_in_wal_state_opens_read_only(tmp_path: Path) -> None:
    proj = tmp_path / "p.posestudio"
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    with Project.create(proj, COCO17) as p:
        vid = p.add_video(tmp_path / "v.mp4", width=32, height=32, frame_count=5, fps=30)
        p.add_instance(vid, 1, _inst())
        # While it is open, the last edit lives in the -wal file: copy what a crash leaves.
        assert Path(str(proj) + "-wal").stat().st_size > 0
        for suffix in ("", "-wal"):
            shutil.copy(str(proj) + suffix, str(crashed / proj.name) + suffix)
    with Project.open(crashed / proj.name, read_only=True) as p:
        assert p.labeled_frames(vid) == [1]
    with Project.open(crashed / proj.name) as p:  # a writer recovers and checkpoints it
        assert p.labeled_frames(vid) == [1]
    assert not Path(str(crashed / proj.name) + "-wal").exists()


def test_create_and_open_errors_are_project_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pose_studio.store import project as project_mod

    def disk_full(*_a: object, **_k: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(project_mod.Project, "_write_new_file", staticmethod(disk_full))
    with pytest.raises(ProjectError, match="disk is full"):
        Project.create(tmp_path / "p", COCO17)
    assert not (tmp_path / "p.posestudio").exists() and not list(tmp_path.iterdir())
    monkeypatch.undo()
    with Project.create(tmp_path / "p", COCO17):
        pass
    con = sqlite3.connect(tmp_path / "p.posestudio")
    con.execute("DELETE FROM schema_version")  # damaged: no version row
    con.commit()
    con.close()
    for ro in (False, True):
        with pytest.raises(ProjectError, match="no schema version"):
            Project.open(tmp_path / "p.posestudio", read_only=ro)
    con = sqlite3.connect(tmp_path / "p.posestudio")
    con.execute("INSERT INTO schema_version VALUES (1, ?)", (SCHEMA_VERSION,))
    con.execute("DROP TABLE skeletons")
    con.commit()
    con.close()
    for ro in (False, True):
        with pytest.raises(ProjectError, match="table 'skeletons' is missing"):
            Project.open(tmp_path / "p.posestudio", read_only=ro)


def test_crash_journal_in_unwritable_folder_is_applied_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pose_studio.store import engine as engine_mod

    proj = tmp_path / "p.posestudio"
    crashed = tmp_path / "share"
    crashed.mkdir()
    with Project.create(proj, COCO17) as p:
        vid = p.add_video(tmp_path / "v.mp4", width=32, height=32, frame_count=5, fps=30)
        p.add_instance(vid, 4, _inst())
        for suffix in ("", "-wal"):
            shutil.copy(str(proj) + suffix, str(crashed / proj.name) + suffix)
    target = crashed / proj.name
    real = engine_mod.connect_raw

    def no_shm(path: Path, *, mode: str = "rw", immutable: bool = False) -> sqlite3.Connection:
        # A read-only folder: SQLite cannot create the -shm file a WAL reader needs.
        if Path(path) == target and not immutable:
            raise sqlite3.OperationalError("unable to open database file")
        return real(path, mode=mode, immutable=immutable)

    monkeypatch.setattr(engine_mod, "connect_raw", no_shm)
    files = {f.name: f.read_bytes() for f in crashed.iterdir()}
    with Project.open(target, read_only=True) as p:
        assert p.labeled_frames(vid) == [4]  # the journal's commit is not lost
        assert "crash journal" in (p.read_only_reason or "")
    assert {f.name: f.read_bytes() for f in crashed.iterdir()} == files


def test_static_video_reencoded_is_not_reported_as_shifted(tmp_path: Path) -> None:
    from tests.support.videos import draw_index_frame, write_video

    still = draw_index_frame(5, (96, 64))
    video = write_video(tmp_path / "still.mp4", [still] * 20, size=(96, 64), codec="h264")
    with Project.create(tmp_path / "p.posestudio", COCO17) as p:
        vid = _add_video(p, video)
        with p.import_transaction() as w:
            w.add_instances([(vid, f, _inst(f)) for f in range(0, 20, 2)])
        fill_missing_fingerprints(p, vid)
    write_video(tmp_path / "re.mp4", [still] * 18, size=(96, 64), codec="mpeg4")
    os.replace(tmp_path / "re.mp4", video)
    with Project.open(tmp_path / "p.posestudio", read_only=True) as p:
        r = check_video_frames(p, vid)
        assert r.shift is None and r.moved == (18,), r  # only the frame past the new end
