"""``pose-studio infer`` with models from the wild: a BlazePose model into a COCO-17 project
(keypoints matched by name), a model whose keypoints cannot be matched, and two runs kept side
by side."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose_studio.cli import main as cli
from pose_studio.core.skeleton import COCO17
from pose_studio.core.skeleton_presets import BLAZEPOSE33_TO_COCO17
from pose_studio.store import Project
from tests.support import onnx_models as om
from tests.support import onnx_wild as ow

W, H = 160, 120


@pytest.fixture()
def project(tmp_path: Path) -> tuple[Path, int]:
    from pose_studio.video import open_video
    from tests.support.videos import make_indexed_video

    video = make_indexed_video(tmp_path / "v.mp4", 6, size=(W, H))
    path = tmp_path / "p.posestudio"
    with Project.create(path, COCO17) as proj, open_video(video) as r:
        m = r.meta
        vid = proj.add_video(video, width=m.width, height=m.height, frame_count=m.frame_count,
                             fps=m.fps, index=r.index_bytes())
    return path, vid


def test_blazepose_into_a_coco17_project(tmp_path: Path, project: tuple[Path, int],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path, vid = project
    lm = np.stack([np.linspace(60, 200, 33), np.linspace(40, 220, 33)], 1)
    model = ow.make_blazepose(tmp_path / "blazepose.onnx", lm)
    assert cli.main(["infer", str(path), "--model", str(model), "--provider", "cpu",
                     "--quiet"]) == 0
    out = capsys.readouterr()
    assert "storing the 17 keypoints of blazepose33 that coco17 has" in out.err
    with Project.open(path, read_only=True) as p:
        (inst,) = p.instances(vid, 2, "predicted")
        crop_box = [0.0, 0.0, float(W), float(H)]  # no detector: the whole frame
        from pose_studio.inference import PoseModel, load_model

        m = load_model(model, provider="cpu")
        assert isinstance(m, PoseModel)
        full = m.predict_crops(np.zeros((H, W, 3), np.uint8), [crop_box])[0].xy
        expect = full[list(BLAZEPOSE33_TO_COCO17)]
        inside = (expect[:, 0] >= 0) & (expect[:, 0] <= W) & (expect[:, 1] >= 0) & \
            (expect[:, 1] <= H)
        assert np.allclose(inst.xy[inside], expect[inside])


def test_keypoints_without_namesakes_are_refused(tmp_path: Path, project: tuple[Path, int],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = project
    model = om.make_heatmap_model(tmp_path / "five.onnx", input_hw=(64, 48), k=5)
    assert cli.main(["infer", str(path), "--model", str(model), "--provider", "cpu",
                     "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "predicts 5 keypoints (generic5)" in err and "17 of them have no namesake" in err
    assert "nose" in err


def test_a_second_run_is_kept_beside_the_first(tmp_path: Path, project: tuple[Path, int],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path, vid = project
    a = om.make_heatmap_model(tmp_path / "a.onnx", input_hw=(64, 48), planted=[(5.0, 6.0)] * 17)
    b = om.make_heatmap_model(tmp_path / "b.onnx", input_hw=(64, 48), planted=[(9.0, 7.0)] * 17)
    for m in (a, b):
        assert cli.main(["infer", str(path), "--model", str(m), "--provider", "cpu",
                         "--quiet"]) == 0
    assert "(model run 2, shown)" in capsys.readouterr().out
    with Project.open(path) as p:
        assert [i.run_id for i in p.run_infos(vid)] == [1, 2]
        assert [i.model_run_id for i in p.instances(vid, 0, "predicted")] == [2]
        p.set_shown_runs(vid, 1)
    assert cli.main(["infer", str(path), "--model", str(b), "--provider", "cpu",
                     "--quiet"]) == 0
    assert "kept beside run 1, which stays shown" in capsys.readouterr().out


def test_an_edited_project_skeleton_takes_predictions_by_name(
        tmp_path: Path, project: tuple[Path, int], capsys: pytest.CaptureFixture[str]) -> None:
    """neck added and left_ear removed: still 17 keypoints, but nothing lands by position."""
    from pose_studio.app.skeleton_draft import SkeletonDraft
    from pose_studio.store import skeleton_change

    path, vid = project
    with Project.open(path) as p:
        d = SkeletonDraft(p.skeleton)
        d.add("neck", after=d.key_of("nose"))
        d.remove(d.key_of("left_ear"))
        skeleton_change.apply_change(p, d.change())
    peaks = [(1.0 + i % 10, 1.0 + i // 2) for i in range(17)]  # a peak of its own each
    model = om.make_heatmap_model(tmp_path / "m.onnx", input_hw=(64, 48), planted=peaks)
    assert cli.main(["infer", str(path), "--model", str(model), "--provider", "cpu",
                     "--quiet"]) == 0
    assert "left_ear" not in capsys.readouterr().err.split("storing")[-1].split(";")[0]
    from pose_studio.inference import PoseModel, load_model

    m = load_model(model, provider="cpu")
    assert isinstance(m, PoseModel)
    full = m.predict_crops(np.zeros((H, W, 3), np.uint8), [[0.0, 0.0, float(W), float(H)]])[0]
    with Project.open(path, read_only=True) as p:
        sk = p.skeleton
        (inst,) = p.instances(vid, 1, "predicted")
        assert inst.visibility[sk.index("neck")] == 0
        seen = [n for n in sk.keypoints if inst.visibility[sk.index(n)] > 0]
        assert len(seen) >= 6 and "neck" not in seen
        for name in seen:  # each keypoint under its own name, none by position
            assert np.allclose(inst.xy[sk.index(name)], full.xy[COCO17.index(name)])
