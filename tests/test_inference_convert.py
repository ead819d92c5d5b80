"""Model compression that never lies (``models convert``): static INT8 calibrated on frames, and
the check every copy passes before it is written (people found, keypoint shift, OKS against the
float model, speed on this machine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from pose_studio.cli import main as cli
from pose_studio.core.annotation import Instance
from pose_studio.core.skeleton import COCO17
from pose_studio.inference import ModelError, PoseModel, load_model
from pose_studio.inference.convert import Calibration, convert_model
from tests.support import onnx_models as om

SIZE = (160, 120)


def _blob_frames(n: int, seed: int) -> tuple[list[np.ndarray], list[dict[int, tuple[float, float]]]]:
    rng = np.random.default_rng(seed)
    frames, truths = [], []
    for _ in range(n):
        blobs = {c: (float(rng.uniform(30, 130)), float(rng.uniform(25, 95))) for c in (0, 2)}
        frames.append(om.blob_frame(SIZE, blobs))
        truths.append(blobs)
    return frames, truths


def test_static_int8_keeps_keypoints_on_the_image(tmp_path: Path) -> None:
    """A model whose keypoints follow coloured blobs: after calibrated INT8 they still land on
    the blobs of frames it was not calibrated on."""
    src = om.make_color_probe_heatmap_model(tmp_path / "probe.onnx")
    frames, _ = _blob_frames(24, 1)
    s = convert_model(src, tmp_path / "q.onnx", "int8-static", Calibration(frames),
                      min_speedup=0)  # speed is not what this test is about
    assert s.written and not s.problems
    assert (s.calibration_frames, s.held_back) == (18, 6)  # every 4th frame checks
    assert s.calibration_inputs == 18 and s.check.frames == 6
    assert s.check.people_float == s.check.people_converted == 6
    assert s.keypoint_shift_mean is not None and s.keypoint_shift_mean < 1.0
    graph = onnx.load(str(s.out_path)).graph
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in graph.node}
    # the layer that writes the heatmaps, and what follows it, stays float
    inits = {i.name: i for i in graph.initializer}
    heads = [n for n in graph.node if n.name in s.float_nodes and n.op_type == "Conv"]
    assert len(heads) == 1 and inits[heads[0].input[1]].data_type == onnx.TensorProto.FLOAT
    assert s.oks_vs_float is not None and s.oks_vs_float > 0.9
    q = load_model(s.out_path, provider="cpu")
    assert isinstance(q, PoseModel) and q.session.input_dtype == np.float32
    test_frames, truths = _blob_frames(6, 99)
    box = np.array([[0.0, 0.0, SIZE[0], SIZE[1]]])
    for frame, blobs in zip(test_frames, truths):
        xy = q.predict(frame, box, keep_maps=False)[0].xy
        for kp, colour in ((0, 0), (2, 2)):
            assert np.linalg.norm(xy[kp] - np.array(blobs[colour])) < 2.0


def test_static_int8_needs_calibration_and_float32(tmp_path: Path) -> None:
    src = om.make_heatmap_model(tmp_path / "m.onnx", input_hw=(64, 48))
    with pytest.raises(ModelError, match="calibration frames"):
        convert_model(src, tmp_path / "q.onnx", "int8-static")
    half = om.make_heatmap_model(tmp_path / "h.onnx", input_hw=(64, 48), fp16=True)
    frames, _ = _blob_frames(2, 0)
    with pytest.raises(ModelError, match="float32"):
        convert_model(half, tmp_path / "q.onnx", "int8-static", Calibration(frames))
    assert not (tmp_path / "q.onnx").exists()


def test_cli_int8_static_from_video_and_from_project(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from pose_studio.cli.cmd_models import load_calibration
    from pose_studio.store import Project
    from pose_studio.video import open_video
    from tests.support.videos import make_indexed_video

    src = om.make_heatmap_model(tmp_path / "m.onnx", input_hw=(64, 48))
    video = make_indexed_video(tmp_path / "v.mp4", 10, size=(96, 64))
    out = tmp_path / "q.onnx"
    assert cli.main(["models", "convert", str(src), "--int8-static", "--out", str(out)]) == 2
    assert "--calibrate" in capsys.readouterr().err
    assert cli.main(["models", "convert", str(src), "--int8-static", "--calibrate", str(video),
                     "--calib-frames", "6", "--out", str(out), "--min-speedup", "0"]) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}" in text and "calibrated on" in text
    assert load_model(out, provider="cpu").family == "heatmap"

    # a project: the frames with people, and their boxes
    proj_path = tmp_path / "p.posestudio"
    with Project.create(proj_path, COCO17) as proj, open_video(video) as r:
        m = r.meta
        vid = proj.add_video(video, width=m.width, height=m.height, frame_count=m.frame_count,
                             fps=m.fps, index=r.index_bytes())
        kp = np.full((17, 2), np.nan)
        kp[:4] = [[10, 10], [30, 12], [20, 40], [25, 50]]
        vis = np.zeros(17, np.uint8)
        vis[:4] = 2
        proj.add_instance(vid, 3, Instance(kp, vis))
    calib = load_calibration(str(proj_path), 8)
    assert len(calib.frames) == 1 and calib.boxes is not None
    np.testing.assert_allclose(calib.boxes[0], [[10, 10, 30, 50]])
    with open_video(video) as r:
        np.testing.assert_array_equal(calib.frames[0], r.get(3))


# --- the check that every copy passes -----------------------------------------------------------
def _collapsing(tmp_path: Path) -> Path:
    from tests.support.onnx_wild import make_yolo_pose_collapsing

    kp = np.zeros((17, 3))
    kp[:, 0], kp[:, 1], kp[:, 2] = np.linspace(250, 350, 17), np.linspace(200, 600, 17), 0.9
    return make_yolo_pose_collapsing(tmp_path / "yolo.onnx", dets=[
        {"anchor": 100, "box": (300, 400, 100, 400), "score": 0.6, "kpts": kp}])


def test_a_copy_that_loses_people_is_never_written(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """YOLO-pose-shaped: boxes (pixels) and scores (0..1) concatenated before the last layer.
    Static INT8 rounds the scores to one value: the copy finds nobody and is refused."""
    src = _collapsing(tmp_path)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) for _ in range(8)]
    s = convert_model(src, tmp_path / "q.onnx", "int8-static", Calibration(frames),
                      min_speedup=0)
    assert not s.written and not (tmp_path / "q.onnx").exists()
    assert s.check.people_float == 2 and s.check.people_converted == 0
    assert any("finds fewer people" in p for p in s.problems)
    # --force writes it, and says what is wrong with it
    assert cli.main(["models", "convert", str(src), "--int8-static", "--calibrate",
                     str(_video(tmp_path)), "--calib-frames", "4", "--out",
                     str(tmp_path / "f.onnx"), "--min-speedup", "0", "--force"]) == 0
    out = capsys.readouterr()
    assert "people found 1 (float) -> 0 (converted)" in out.out
    assert "written despite the check" in out.err and (tmp_path / "f.onnx").is_file()
    assert (tmp_path / "f.json").is_file()  # the copy carries its model card


def _video(tmp_path: Path) -> Path:
    from tests.support.videos import make_indexed_video

    return make_indexed_video(tmp_path / "v.mp4", 8, size=(128, 96))


def test_old_opset_models_are_refused_in_one_line(tmp_path: Path) -> None:
    from tests.support.onnx_wild import make_old_ir3_model

    src = om.make_heatmap_model(tmp_path / "m.onnx", input_hw=(64, 48), dynamic_batch=False)
    old = make_old_ir3_model(src, tmp_path / "old.onnx", opset=8)
    frames, _ = _blob_frames(4, 0)
    for mode in ("int8", "int8-static"):
        with pytest.raises(ModelError) as ei:
            convert_model(old, tmp_path / "q.onnx", mode, Calibration(frames))
        msg = str(ei.value)
        assert "opset 8" in msg and "opset 10 or newer" in msg and "\n" not in msg
    # FP16 converts its weights although they are listed as graph inputs (IR 3)
    s = convert_model(old, tmp_path / "h.onnx", "fp16", min_speedup=0, min_oks=0)
    assert s.written and s.check.source == "synthetic people"
    inits = onnx.load(str(tmp_path / "h.onnx")).graph.initializer
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in inits)
    # a model without weights (a pooling "heatmap" model): nothing to convert
    g = onnx.helper
    graph = g.make_graph([g.make_node("AveragePool", ["input"], ["output"], kernel_shape=[4, 4],
                                      strides=[4, 4])], "pool",
                         [g.make_tensor_value_info("input", onnx.TensorProto.FLOAT,
                                                   [1, 3, 64, 48])],
                         [g.make_tensor_value_info("output", onnx.TensorProto.FLOAT,
                                                   [1, 3, 16, 12])])
    pool = g.make_model(graph, opset_imports=[g.make_opsetid("", 17)])
    pool.ir_version = 8
    half = tmp_path / "pool.onnx"
    onnx.save(pool, str(half))
    with pytest.raises(ModelError, match="nothing to convert to FP16 \\(no float32 weights\\)"):
        convert_model(half, tmp_path / "h2.onnx", "fp16")


def test_a_slower_copy_is_refused_with_the_figures(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Dynamic INT8 of a CNN can run several times slower on a CPU (ConvInteger): refused.
    The timing itself is replaced here: tests check behaviour, not this machine's speed."""
    import pose_studio.inference.convert_check as cc

    monkeypatch.setattr(cc, "_time", lambda *a, **k: (2.0, 10.0))
    src = om.make_color_probe_heatmap_model(tmp_path / "probe.onnx")
    s = convert_model(src, tmp_path / "q.onnx", "int8")
    assert not s.written and s.check.speed_ratio == pytest.approx(0.2)
    assert s.problems == ("it runs slower on this machine (0.20x the float model's speed, "
                          "under 0.90x)",)
    assert s.check.source == "synthetic people" and s.check.people_float > 0
    assert "0.20x" in " ".join(s.check.lines())
