"""Files the app writes: --force, never a project file, normal permissions, all or nothing,
and a full disk reported as one clear line with nothing left behind."""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pose_studio.cli.main import main
from pose_studio.core.annotation import Instance
from pose_studio.core.output import (
    OutputError,
    atomic_dir,
    check_folder_targets,
    check_target,
    write_bytes_atomic,
)
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project
from pose_studio.video import open_video
from tests.support.tmpfs import mounted_tmpfs
from tests.support.videos import make_indexed_video


@pytest.fixture
def umask022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _project(tmp_path: Path, size: tuple[int, int] = (96, 64), n: int = 8,
             texture: bool = False) -> tuple[Path, Path]:
    video = make_indexed_video(tmp_path / "clip.mp4", n, size=size, texture=texture)
    with open_video(video) as r:
        m, index = r.meta, r.index_bytes()
    path = tmp_path / "p.posestudio"
    xy = np.stack([np.linspace(5, size[0] - 5, 17), np.linspace(5, size[1] - 5, 17)], axis=1)
    with Project.create(path, COCO17) as p:
        vid = p.add_video(video, width=m.width, height=m.height, frame_count=m.frame_count,
                          fps=m.fps, vfr=m.vfr, codec=m.codec, duration_s=m.duration_s,
                          index=index)
        for f in range(n):
            p.add_instance(vid, f, Instance(xy=xy.astype(np.float32),
                                            visibility=np.full(17, 2, np.int8)))
    return path, video


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    rc = main(list(argv))
    _out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, err


def _hidden_leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".*") if ".partial" in p.name]


# ------------------------------------------------------------------------------ core rules
def test_check_target_rules(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    check_target(f)  # new file: fine
    f.write_text("x")
    with pytest.raises(OutputError, match="already exists; use --force"):
        check_target(f)
    check_target(f, force=True)
    with pytest.raises(OutputError, match="not even with --force"):
        check_target(tmp_path / "." / "a.json", force=True, protected=[f])
    link = tmp_path / "b.json"
    os.link(f, link)  # the same file under another name is still the project's file
    with pytest.raises(OutputError, match="not even with --force"):
        check_target(link, force=True, protected=[f])
    with pytest.raises(OutputError, match="is a folder"):
        check_target(tmp_path, force=True)
    with pytest.raises(OutputError, match="does not exist"):
        check_target(tmp_path / "no" / "x.json")
    with pytest.raises(OutputError, match="already exist"):
        check_folder_targets(tmp_path, ["a.json", "c.json"])
    check_folder_targets(tmp_path, ["c.json"])


def test_atomic_dir_rules(tmp_path: Path, umask022: None) -> None:
    out = tmp_path / "export"
    with atomic_dir(out, markers=("data.yaml",)) as tmp:
        (tmp / "data.yaml").write_text("first")
    assert _mode(out) == 0o755 and (out / "data.yaml").read_text() == "first"
    with pytest.raises(OutputError, match="already exists; use --force"):
        atomic_dir(out).__enter__()
    with pytest.raises(RuntimeError), atomic_dir(out, force=True, markers=("data.yaml",)) as tmp:
        (tmp / "data.yaml").write_text("second")
        raise RuntimeError("the writer failed half way")
    assert (out / "data.yaml").read_text() == "first"  # the earlier output stays
    with atomic_dir(out, force=True, markers=("data.yaml",)) as tmp:
        (tmp / "data.yaml").write_text("second")
    assert (out / "data.yaml").read_text() == "second"
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("precious")
    with pytest.raises(OutputError, match="not replacing"):
        atomic_dir(home, force=True, markers=("data.yaml",)).__enter__()
    video = home / "clip.mp4"
    with pytest.raises(OutputError, match="not even with --force"):
        atomic_dir(home, force=True, protected=[video]).__enter__()
    assert _hidden_leftovers(tmp_path) == []


def test_files_get_the_users_permissions(tmp_path: Path, umask022: None) -> None:
    p = tmp_path / "x.bin"
    write_bytes_atomic(p, b"123")
    assert _mode(p) == 0o644 and p.read_bytes() == b"123"
    os.umask(0o002)
    write_bytes_atomic(p, b"45")
    assert p.read_bytes() == b"45"
    q = tmp_path / "y.bin"
    write_bytes_atomic(q, b"6")
    assert _mode(q) == 0o664
    with pytest.raises(OutputError, match="already exists"):
        write_bytes_atomic(q, b"7", overwrite=False)
    assert q.read_bytes() == b"6" and not _hidden_leftovers(tmp_path)


# ------------------------------------------------------------------------------ commands
def test_render_never_replaces_a_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj, video = _project(tmp_path)
    before = video.read_bytes()
    for extra in ([], ["--force"]):
        rc, err = _run(capsys, "render", str(proj), "--out", str(video), "--quiet", *extra)
        assert rc == 1 and "never overwritten, not even with --force" in err
    rc, err = _run(capsys, "render", str(proj), "--out", str(proj.with_suffix(".mp4")),
                   "--quiet")
    assert rc == 0, err
    # the project file itself under a video suffix, and its lock file
    rc, err = _run(capsys, "render", str(proj), "--out", str(proj), "--quiet", "--force")
    assert rc == 1 and video.read_bytes() == before
    assert not _hidden_leftovers(tmp_path)


def test_render_and_extract_need_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], umask022: None
) -> None:
    proj, video = _project(tmp_path)
    mp4 = tmp_path / "out.mp4"
    assert _run(capsys, "render", str(proj), "--out", str(mp4), "--quiet")[0] == 0
    assert _mode(mp4) == 0o644
    first = mp4.read_bytes()
    rc, err = _run(capsys, "render", str(proj), "--out", str(mp4), "--quiet", "--frames", "0:2")
    assert rc == 1 and "already exists; use --force" in err and mp4.read_bytes() == first
    assert _run(capsys, "render", str(proj), "--out", str(mp4), "--quiet", "--frames", "0:2",
                "--force")[0] == 0
    with open_video(mp4) as r:
        assert len(r) == 2
    pngs = tmp_path / "pngs"
    assert _run(capsys, "render", str(proj), "--out", str(pngs), "--quiet", "--frames", "0:3")[0] == 0
    rc, err = _run(capsys, "render", str(proj), "--out", str(pngs), "--quiet", "--frames", "2:5")
    assert rc == 1 and "frame_000002.png" in err and "--force" in err
    assert sorted(p.name for p in pngs.iterdir()) == [f"frame_{i:06d}.png" for i in range(3)]
    frames = tmp_path / "frames"
    assert _run(capsys, "extract", str(video), "--frames", "0:2", "--out", str(frames))[0] == 0
    assert _mode(frames / "000000.png") == 0o644
    rc, err = _run(capsys, "extract", str(video), "--frames", "1:3", "--out", str(frames))
    assert rc == 1 and "000001.png" in err and not (frames / "000002.png").exists()
    assert _run(capsys, "extract", str(video), "--frames", "1:3", "--out", str(frames),
                "--force")[0] == 0


def test_extract_never_writes_into_the_folder_it_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.videos import make_image_folder

    folder = make_image_folder(tmp_path / "imgs", 3, size=(32, 32))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    rc, err = _run(capsys, "extract", str(folder), "--out", str(folder), "--force")
    assert rc == 1 and "source" in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_export_force_permissions_and_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], umask022: None
) -> None:
    proj, _video = _project(tmp_path)
    js = tmp_path / "out.json"
    assert _run(capsys, "export", str(proj), "--out", str(js))[0] == 0
    assert _mode(js) == 0o644  # was 0600 (a temporary file's mode)
    rc, err = _run(capsys, "export", str(proj), "--out", str(js))
    assert rc == 1 and "already exists; use --force" in err
    assert _run(capsys, "export", str(proj), "--out", str(js), "--force")[0] == 0
    rc, err = _run(capsys, "export", str(proj), "--out", str(proj), "--force")
    assert rc == 1 and "not even with --force" in err
    with Project.open(proj, read_only=True) as p:  # the project is intact
        assert len(p.videos()) == 1
    images = tmp_path / "images"
    images.mkdir()
    (images / "mine.txt").write_text("keep")
    rc, err = _run(capsys, "export", str(proj), "--out", str(tmp_path / "b.json"), "--images",
                   str(images))
    assert rc == 1 and "is not empty" in err and not (tmp_path / "b.json").exists()
    assert _run(capsys, "export", str(proj), "--out", str(tmp_path / "b.json"), "--images",
                str(images), "--force")[0] == 0
    assert (images / "mine.txt").read_text() == "keep"


def test_screenshot_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "shot.png"
    out.write_bytes(b"old")
    rc, err = _run(capsys, "screenshot", "--out", str(out))
    assert rc == 1 and "already exists; use --force" in err and out.read_bytes() == b"old"
    video = make_indexed_video(tmp_path / "v.mp4", 3, size=(32, 32))
    rc, err = _run(capsys, "screenshot", str(video), "--out", str(video), "--force")
    assert rc == 1 and "not even with --force" in err


# ------------------------------------------------------------------------------ full disk
def test_a_write_error_in_the_muxer_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fake muxer that fails like a full disk: a RenderError, no partial file."""
    import av.container

    proj, _ = _project(tmp_path)
    calls = {"n": 0}
    real_mux = av.container.OutputContainer.mux

    def failing_mux(self: object, packets: object) -> None:
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_mux(self, packets)  # type: ignore[arg-type]

    monkeypatch.setattr(av.container.OutputContainer, "mux", failing_mux)
    out = tmp_path / "r.mp4"
    rc, err = _run(capsys, "render", str(proj), "--out", str(out), "--quiet")
    assert rc == 1 and "no space left on the device" in err and len(err.splitlines()) == 1
    assert not out.exists() and not _hidden_leftovers(tmp_path)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (needs root and the right to mount; skipped otherwise)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    with mounted_tmpfs(mnt, "2m") as disk:
        yield disk


def _fill(disk: Path, leave: int) -> None:
    """Leave about ``leave`` bytes free on ``disk``."""
    filler = disk.parent / "filler.keep"
    (disk / filler.name).unlink(missing_ok=True)
    free = shutil.disk_usage(disk).free
    with open(disk / filler.name, "wb") as f:
        f.write(b"\0" * max(0, free - leave))


def _left(disk: Path) -> list[str]:
    return sorted(p.name for p in disk.iterdir() if p.name != "filler.keep")


def test_full_disk_on_render_and_export(
    tmp_path: Path, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proj, _video = _project(tmp_path, size=(320, 240), n=40, texture=True)
    before = proj.read_bytes()
    # Each fits the free-space estimate but not the disk: the writers' own errors.
    for out, leave in ((small_disk / "r.mp4", 24 << 10), (small_disk / "pngs", 1 << 20)):
        _fill(small_disk, leave)
        rc, err = _run(capsys, "render", str(proj), "--out", str(out), "--quiet")
        assert rc == 1 and "no space left on the device" in err, err
        assert len(err.strip().splitlines()) == 1
        assert _left(small_disk) == []
    rc, err = _run(capsys, "export", str(proj), "--out", str(small_disk / "a.json"),
                   "--images", str(small_disk / "imgs"))
    assert rc == 1 and "no space left on the device" in err, err
    assert _left(small_disk) == []
    # Clearly too big: refused before writing anything.
    _fill(small_disk, 64 << 10)
    rc, err = _run(capsys, "render", str(proj), "--out", str(small_disk / "pngs"), "--quiet")
    assert rc == 1 and "not enough space" in err and _left(small_disk) == []
    assert proj.read_bytes() == before
    with Project.open(proj) as p:
        assert len(p.videos()) == 1 and len(p.labeled_frames(1)) == 40
