"""CLI: ``new``, ``add-video``, ``info`` (run in-process through ``pose_studio.cli.main``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pose_studio.cli.main import main
from pose_studio.store import Project
from tests.support.videos import make_indexed_video


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _files(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir()) if f.is_file()}


def test_new_add_video_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = make_indexed_video(tmp_path / "clip.mp4", 12, size=(64, 48), codec="mjpeg", fps=10)
    rc, out, _ = _run(capsys, "new", str(tmp_path / "p"))
    assert rc == 0 and "p.posestudio" in out and "coco17" in out
    proj = tmp_path / "p.posestudio"
    rc, out, err = _run(capsys, "add-video", str(proj), str(video))
    assert rc == 0, err
    assert "12 frames" in out and "10.000 fps" in out and "mjpeg" in out
    with Project.open(proj) as p:
        v = p.videos()[0]
        assert (v.frame_count, v.width, v.height, v.stored_path) == (12, 64, 48, "clip.mp4")
        assert p.video_index(v.id)  # the index is stored for instant reopening
    rc, out, _ = _run(capsys, "info", str(proj))
    assert rc == 0
    assert "clip.mp4" in out and "12 frames" in out and "coco17 (17 keypoints" in out
    assert "labeled: 0 frames / 0 instances" in out and "MISSING" not in out
    video.unlink()
    rc, out, _ = _run(capsys, "info", "--json", str(proj))
    info = json.loads(out)
    assert rc == 0 and info["videos"][0]["missing"] is True and info["videos"][0]["frames"] == 12


def test_bad_video_leaves_project_unchanged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = make_indexed_video(tmp_path / "good.avi", 5, size=(32, 32), codec="mjpeg")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    _run(capsys, "new", str(tmp_path / "p.posestudio"))
    proj = tmp_path / "p.posestudio"
    before = _files(tmp_path)
    rc, _out, err = _run(capsys, "add-video", str(proj), str(good), str(bad))
    assert rc == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "bad.mp4" in lines[0] and "Traceback" not in err
    assert _files(tmp_path) == before
    rc, _out, err = _run(capsys, "add-video", str(proj), str(good))
    assert rc == 0
    rc, _out, err = _run(capsys, "add-video", str(proj), str(good))
    assert rc == 1 and "already in project" in err


def test_new_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _run(capsys, "new", str(tmp_path / "p"), "--skeleton", "nosuch")
    assert rc == 1 and "unknown skeleton" in err and not (tmp_path / "p.posestudio").exists()
    _run(capsys, "new", str(tmp_path / "p"))
    rc, _, err = _run(capsys, "new", str(tmp_path / "p"))
    assert rc == 1 and "already exists" in err
    rc, _, err = _run(capsys, "info", str(tmp_path / "missing.posestudio"))
    assert rc == 1 and "does not exist" in err


def test_info_check_reports_labels_off_their_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from pose_studio.core.skeleton import COCO17

    video = make_indexed_video(tmp_path / "clip.mp4", 20, size=(96, 64), codec="h264")
    _run(capsys, "new", str(tmp_path / "p"))
    proj = tmp_path / "p.posestudio"
    assert _run(capsys, "add-video", str(proj), str(video))[0] == 0
    kp = [v for i in range(COCO17.num_keypoints) for v in (5.0 + i, 6.0 + i, 2)]
    coco = {"images": [{"id": f, "file_name": f"0{f + 1:03d}.png", "width": 96, "height": 64}
                       for f in range(20)],
            "annotations": [{"id": f, "image_id": f, "category_id": 1, "keypoints": kp}
                            for f in range(20)],
            "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17.keypoints)}]}
    (tmp_path / "l.json").write_text(json.dumps(coco))
    rc, _, err = _run(capsys, "import", str(proj), str(tmp_path / "l.json"))
    assert rc == 1 and "numbered from 1" in err
    rc, out, err = _run(capsys, "import", str(proj), str(tmp_path / "l.json"),
                        "--frame-offset", "-1")
    assert rc == 0, err
    rc, out, _ = _run(capsys, "info", "--check", str(proj))
    assert rc == 0 and "all 20 checked labeled frames match" in out and "CHANGED" not in out
    # The video is replaced by a re-cut copy that lost its first two frames.
    make_indexed_video(tmp_path / "cut.mp4", 18, size=(96, 64), codec="h264", first_index=2)
    os.replace(tmp_path / "cut.mp4", video)
    rc, out, _ = _run(capsys, "info", str(proj))
    assert rc == 0 and "FILE CHANGED since it was added" in out and "--check" in out
    rc, out, _ = _run(capsys, "info", "--check", str(proj))
    assert rc == 1 and "no longer show the picture they were labeled on: frames" in out
    assert "20 of 20 checked labeled frames" in out and "has 18 frames now, 20 when it" in out
    assert "2 frame(s) earlier" in out
    rc, out, _ = _run(capsys, "info", "--check", "--json", str(proj))
    check = json.loads(out)["check"][0]
    assert rc == 1 and check["file"] == "changed" and check["moved"] == list(range(20))
    assert check["shift"] == -2
