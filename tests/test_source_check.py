"""A source video that changed is caught before export, render or infer write anything from it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from pose_studio.cli.main import main
from pose_studio.core.annotation import Instance
from pose_studio.core.skeleton import COCO17
from pose_studio.formats.frame_check import (
    SourceChangedError,
    fill_missing_fingerprints,
    source_changes,
    verify_sources,
)
from pose_studio.store import Project
from pose_studio.video import open_video
from tests.support.videos import make_indexed_video

LABELED = (3, 7, 12)


def _project(tmp_path: Path) -> tuple[Path, Path]:
    video = make_indexed_video(tmp_path / "clip.mp4", 20, size=(320, 240), codec="h264")
    with open_video(video) as r:
        m, index = r.meta, r.index_bytes()
    path = tmp_path / "p.posestudio"
    xy = np.stack([np.linspace(40, 280, 17), np.linspace(30, 200, 17)], axis=1)
    inst = Instance(xy=xy.astype(np.float32), visibility=np.full(17, 2, np.int8))
    with Project.create(path, COCO17) as p:
        vid = p.add_video(video, width=m.width, height=m.height, frame_count=m.frame_count,
                          fps=m.fps, vfr=m.vfr, codec=m.codec, duration_s=m.duration_s,
                          index=index)
        for f in LABELED:
            p.add_instance(vid, f, inst)
        assert fill_missing_fingerprints(p, vid) == len(LABELED)
    return path, video


def _replace(video: Path, tmp_path: Path, **kw: object) -> None:
    new = make_indexed_video(tmp_path / ("new" + video.suffix), **kw)  # type: ignore[arg-type]
    os.replace(new, video)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_smaller_copy_is_caught_before_export_and_render(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proj, video = _project(tmp_path)
    # The same 20 pictures at 160x120: the thumbnails (fingerprints) still match.
    _replace(video, tmp_path, n_frames=20, size=(160, 120), codec="h264")
    rc, out, _ = _run(capsys, "info", "--check", str(proj))
    assert rc == 1 and "160x120 now, 320x240 when it was added" in out
    images, js = tmp_path / "images", tmp_path / "out.json"
    rc, out, err = _run(capsys, "export", str(proj), "--out", str(js), "--images", str(images))
    assert rc == 1
    assert "export stopped before writing anything" in err
    assert "frames are 160x120 now, 320x240 when it was added" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not js.exists() and not images.exists()
    yolo = tmp_path / "yolo"  # every format checks first, not only COCO
    rc, _, err = _run(capsys, "export", str(proj), "--out", str(yolo), "--format", "yolo")
    assert rc == 1 and "export stopped" in err and "160x120" in err and not yolo.exists()
    mp4 = tmp_path / "render.mp4"
    rc, _, err = _run(capsys, "render", str(proj), "--out", str(mp4), "--quiet")
    assert rc == 1 and "render stopped" in err and "160x120" in err and not mp4.exists()
    with Project.open(proj, read_only=True) as p, pytest.raises(SourceChangedError) as exc:
        verify_sources(p, action="infer")
    assert exc.value.changed[0].video_id == 1 and "infer stopped" in str(exc.value)


def test_frame_count_and_pictures(tmp_path: Path) -> None:
    proj, video = _project(tmp_path)
    # Re-cut: two frames lost at the start, so every label now sits on another picture.
    _replace(video, tmp_path, n_frames=18, size=(320, 240), codec="h264", first_index=2)
    with Project.open(proj, read_only=True) as p:
        (change,) = source_changes(p)
    text = "; ".join(change.changes)
    assert "18 frames now, 20 when it was added" in text
    assert "labeled frames 3, 7, 12 show other pictures now" in text


def test_same_pictures_in_another_file_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proj, video = _project(tmp_path)
    # Re-encoded (another codec, other bytes), same size, frames and pictures: nothing to stop.
    _replace(video, tmp_path, n_frames=20, size=(320, 240), codec="mpeg4", bframes=0)
    with Project.open(proj, read_only=True) as p:
        assert p.video_file_status(1).state == "changed"
        assert source_changes(p) == []
    js = tmp_path / "out.json"
    rc, _, err = _run(capsys, "export", str(proj), "--out", str(js))
    assert rc == 0, err
    assert json.loads(js.read_text())["images"][0]["width"] == 320
