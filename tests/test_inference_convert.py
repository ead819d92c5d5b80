"""Static INT8 quantisation with calibration frames (``models convert --int8-static``)."""

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
    s = convert_model(src, tmp_path / "q.onnx", "int8-static", Calibration(frames))
    assert s.calibration_inputs == 12  # every other frame calibrates
    assert s.keypoint_shift_mean is not None and s.keypoint_shift_mean < 1.0
    graph = onnx.load(str(s.out_path)).graph
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in graph.node}
    # the layer that writes the heatmaps stays float (its weight is a float initializer)
    assert len(s.float_nodes) == 1
    head = next(n for n in graph.node if n.name == s.float_nodes[0])
    inits = {i.name: i for i in graph.initializer}
    assert head.op_type == "Conv" and inits[head.input[1]].data_type == onnx.TensorProto.FLOAT
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
                     "--calib-frames", "6", "--out", str(out)]) == 0
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
