"""``pose-studio export`` / ``pose-studio import`` (COCO keypoints) end to end, in process."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pose_studio.cli.main import main
from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.skeleton import COCO17
from pose_studio.store.project import Project
from pose_studio.video import open_video
from tests.support.videos import make_indexed_video

K = COCO17.num_keypoints


def _project(path: Path, video: Path) -> Path:
    with Project.create(path, COCO17) as p, open_video(video) as r:
        m = r.meta
        vid = p.add_video(video, width=m.width, height=m.height, frame_count=m.frame_count,
                          fps=m.fps, index=r.index_bytes())
        rng = np.random.default_rng(0)
        for f in (1, 4):
            p.add_instance(vid, f, Instance(xy=rng.uniform(5, 100, (K, 2)),
                                            visibility=np.full(K, 2)))
        run = p.create_model_run(model_path="m", model_hash="h", providers=[], params={})
        p.add_predictions(vid, [(6, Instance(xy=rng.uniform(5, 100, (K, 2)),
                                             visibility=np.full(K, 2),
                                             kind=InstanceKind.PREDICTED, score=0.5))], run)
    return path


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[Path, Path]:
    video = make_indexed_video(tmp_path / "walk.mp4", 10, size=(128, 96))
    return _project(tmp_path / "a.posestudio", video), video


def test_export_then_import(tmp_path: Path, setup: tuple[Path, Path],
                            capsys: pytest.CaptureFixture[str]) -> None:
    proj, video = setup
    out = tmp_path / "out.json"
    rc = main(["export", str(proj), "--out", str(out), "--source", "all", "--images",
               str(tmp_path / "imgs"), "--image-format", "jpg", "--jpeg-quality", "80",
               "--video", "walk.mp4", "--quiet"])
    assert rc == 0
    assert "3 annotations (2 user, 1 predicted) on 3 frames" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert [im["file_name"] for im in data["images"]] == [
        "walk/000001.jpg", "walk/000004.jpg", "walk/000006.jpg"]
    assert cv2.imread(str(tmp_path / "imgs" / "walk" / "000004.jpg")).shape == (96, 128, 3)

    dst = tmp_path / "b.posestudio"
    with Project.create(dst, COCO17) as p, open_video(video) as r:
        p.add_video(video, width=128, height=96, frame_count=len(r), fps=r.meta.fps)
    rc = main(["import", str(dst), str(out), "--video", "1"])
    assert rc == 0
    assert "imported 2 user and 1 predicted instances on 3 frames" in capsys.readouterr().out
    with Project.open(dst, read_only=True) as p:
        assert p.counts()["user_instances"] == 2
        assert p.counts()["predicted_instances"] == 1


def test_import_image_folder(tmp_path: Path, setup: tuple[Path, Path],
                             capsys: pytest.CaptureFixture[str]) -> None:
    proj, _ = setup
    out = tmp_path / "out.json"
    assert main(["export", str(proj), "--out", str(out), "--images", str(tmp_path / "i"),
                 "--quiet"]) == 0
    dst = tmp_path / "b.posestudio"
    Project.create(dst, COCO17).close()
    assert main(["import", str(dst), str(out), "--images", str(tmp_path / "i" / "walk")]) == 0
    with Project.open(dst, read_only=True) as p:
        (v,) = p.videos()
        assert v.kind == "images" and v.frame_count == 2
        assert [f for _, f, _ in p.iter_instances("user")] == [0, 1]


def test_cli_errors_are_one_line(tmp_path: Path, setup: tuple[Path, Path],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    proj, _ = setup
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"images": [], "annotations": [{"id": 1, "image_id": 3,
                                                              "category_id": 1}],
                               "categories": [{"id": 1, "keypoints": ["x"]}]}))
    assert main(["import", str(proj), str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert "annotation 1" in err and "missing image" in err
    assert main(["import", str(proj), str(tmp_path / "missing.json")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["export", str(proj), "--out", str(tmp_path / "x.json"), "--video", "9"]) == 1
    assert "no video '9'" in capsys.readouterr().err
    assert main(["export", str(proj), "--out", str(tmp_path / "x.json"),
                 "--jpeg-quality", "101"]) == 1
    assert "1..100" in capsys.readouterr().err
    with Project.open(proj, read_only=True) as p:
        assert p.counts()["user_instances"] == 2
