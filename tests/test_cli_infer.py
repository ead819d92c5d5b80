"""``pose-studio infer`` and ``pose-studio models check|convert``."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from pose_studio.cli import common
from pose_studio.cli import main as cli
from pose_studio.core.annotation import InstanceKind
from pose_studio.core.skeleton import COCO17
from tests.support import onnx_models as om

W, H = 160, 120


@pytest.fixture()
def project(tmp_path: Path) -> tuple[Path, int]:
    from pose_studio.store import Project
    from pose_studio.video import open_video
    from tests.support.videos import make_indexed_video

    video = make_indexed_video(tmp_path / "v.mp4", 12, size=(W, H))
    path = tmp_path / "p.posestudio"
    with Project.create(path, COCO17) as proj, open_video(video) as r:
        m = r.meta
        vid = proj.add_video(video, width=m.width, height=m.height, frame_count=m.frame_count,
                             fps=m.fps, vfr=m.vfr, codec=m.codec, duration_s=m.duration_s,
                             index=r.index_bytes())
    return path, vid


def test_infer_with_detector_stores_predictions(tmp_path: Path, project: tuple[Path, int],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from pose_studio.store import Project

    path, vid = project
    pose = om.make_heatmap_model(tmp_path / "pose.onnx", input_hw=(64, 48),
                                 planted=[(5.0, 6.0)] * 17)
    det = om.make_detector_end2end(tmp_path / "det.onnx", input_hw=(160, 160),
                                   boxes=((10, 10, 60, 100), (80, 20, 150, 110)),
                                   scores=(0.9, 0.8), classes=(0, 0))
    rc = cli.main(["infer", str(path), "--model", str(pose), "--detector", str(det),
                   "--frames", "2:9", "--provider", "cpu", "--batch", "3"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert f"video {vid}: 7 frames, 14 instances" in out.out
    with Project.open(path) as proj:
        assert proj.instances(vid, 1) == []
        got = proj.instances(vid, 8)
        assert len(got) == 2 and all(i.kind is InstanceKind.PREDICTED for i in got)
        run = proj.model_runs()[-1]
        assert run.providers == ("CPUExecutionProvider",)
        assert run.params["pose"]["family"] == "heatmap" and "detector" in run.params


def test_infer_ctrl_c_keeps_what_was_done(tmp_path: Path, project: tuple[Path, int],
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from pose_studio.store import Project

    path, vid = project
    pose = om.make_simcc_model(tmp_path / "pose.onnx", input_hw=(64, 48))

    class InterruptingBar(common.ProgressBar):
        def update(self, n: int = 1) -> None:
            super().update(n)
            if self.n == 4:
                os.kill(os.getpid(), signal.SIGINT)  # like Ctrl-C in the terminal

    monkeypatch.setattr(common, "ProgressBar", InterruptingBar)
    rc = cli.main(["infer", str(path), "--model", str(pose), "--provider", "cpu",
                   "--batch", "2"])
    err = capsys.readouterr().err
    assert rc == 130
    assert "cancelled: kept the predictions of" in err
    kept = int(err.split("kept the predictions of ")[1].split()[0])
    assert 4 <= kept < 12
    with Project.open(path) as proj:
        frames_with = [f for f in range(12) if proj.instances(vid, f)]
        assert frames_with == list(range(kept))


def test_infer_refuses_mismatched_skeleton_and_detector_as_pose(
        tmp_path: Path, project: tuple[Path, int], capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = project
    pose5 = om.make_heatmap_model(tmp_path / "p5.onnx", input_hw=(64, 48), k=5)
    assert cli.main(["infer", str(path), "--model", str(pose5), "--provider", "cpu"]) == 1
    assert "predicts 5 keypoints" in capsys.readouterr().err
    det = om.make_detector_end2end(tmp_path / "det.onnx")
    assert cli.main(["infer", str(path), "--model", str(det), "--provider", "cpu"]) == 1
    assert "not a pose model" in capsys.readouterr().err


def test_models_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = om.make_simcc_model(tmp_path / "s.onnx", input_hw=(64, 48))
    assert cli.main(["models", "check", str(p), "--provider", "cpu", "--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert "family:     simcc" in out and "simcc_x [batch, 17, 96] float32" in out
    assert "17 (coco17: nose" in out and "used      CPUExecutionProvider" in out
    assert "ms per run" in out
    bad = om.make_classifier(tmp_path / "c.onnx")
    assert cli.main(["models", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "logits [1, 1000]" in err


@pytest.mark.parametrize("mode", ["fp16", "int8"])
def test_models_convert(tmp_path: Path, mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    from pose_studio.inference import PoseModel, load_model

    src = om.make_heatmap_model(tmp_path / "m.onnx", input_hw=(64, 48))
    (tmp_path / "m.json").write_text('{"name": "tiny"}')
    out = tmp_path / f"m_{mode}.onnx"
    # random weights: OKS against the float model and speed mean little, so not checked here
    assert cli.main(["models", "convert", str(src), f"--{mode}", "--out", str(out),
                     "--min-oks", "0", "--min-speedup", "0"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    m = load_model(out, provider="cpu")
    assert isinstance(m, PoseModel) and m.family == "heatmap" and m.name == "tiny"
    assert m.session.input_dtype == np.float32  # float32 I/O kept


def test_infer_uses_every_core_unless_told(tmp_path: Path, project: tuple[Path, int],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """No window to keep responsive on the command line: the model gets all usable cores."""
    import pose_studio.inference as inf
    from pose_studio.inference import providers

    path, _ = project
    pose = om.make_heatmap_model(tmp_path / "pose.onnx", input_hw=(64, 48))
    seen: list[int | None] = []
    real = inf.load_model

    def spy(*a: object, **k: object) -> object:
        seen.append(k.get("threads"))  # type: ignore[arg-type]
        return real(*a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(inf, "load_model", spy)
    monkeypatch.setattr(providers, "usable_cores", lambda: 3)
    assert cli.main(["infer", str(path), "--model", str(pose), "--frames", "0:2",
                     "--provider", "cpu", "--quiet"]) == 0
    assert cli.main(["infer", str(path), "--model", str(pose), "--frames", "0:2",
                     "--provider", "cpu", "--quiet", "--threads", "1"]) == 0
    assert seen == [3, 1]
    assert cli.main(["infer", str(path), "--model", str(pose), "--threads", "0"]) == 1
