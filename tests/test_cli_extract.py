"""``pose-studio extract``: exact frames, named by index; clear errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from pose_studio.cli import main as cli
from tests.support.videos import make_indexed_video, read_index_from_frame


@pytest.fixture()
def video(tmp_path: Path) -> Path:
    # B-frames and variable frame rate: where approximate (time-based) seeking fails.
    return make_indexed_video(tmp_path / "clip.mkv", 60, size=(128, 96), vfr=True, gop=10)


def test_extracts_exact_frames_named_by_index(video: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "frames"
    rc = cli.main(["extract", str(video), "--frames", "10,20,5:9,50:60:4,20", "--out", str(out)])
    assert rc == 0
    expected = [5, 6, 7, 8, 10, 20, 50, 54, 58]
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"{i:06d}.png" for i in expected]
    for f, i in zip(files, expected):
        img = cv2.imread(str(f))
        assert img.shape == (96, 128, 3)
        assert read_index_from_frame(img) == i
    assert "wrote 9 frame(s)" in capsys.readouterr().out


def test_jpeg_and_all_frames_by_default(video: Path, tmp_path: Path) -> None:
    out = tmp_path / "all"
    assert cli.main(["extract", str(video), "--out", str(out), "--format", "jpg", "--quiet"]) == 0
    files = sorted(out.glob("*.jpg"))
    assert len(files) == 60
    assert read_index_from_frame(cv2.imread(str(files[33]))) == 33


@pytest.mark.parametrize(
    ("spec", "message"),
    [("10,60", "frame 60 is out of range"), ("5:x", "bad frame spec"), ("-3", "out of range")],
)
def test_bad_frame_spec_is_one_clear_error(
    video: Path, tmp_path: Path, capsys, spec: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    rc = cli.main(["extract", str(video), "--frames", spec, "--out", str(tmp_path / "o")])
    assert rc == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # nothing written on a bad spec


def test_not_a_video_is_one_clear_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bogus = tmp_path / "x.mp4"
    bogus.write_text("hello")
    assert cli.main(["extract", str(bogus), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "x.mp4" in err and "not a video" in err
