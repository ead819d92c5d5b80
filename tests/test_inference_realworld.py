"""Real-world export quirks: colour order, aux outputs, ultralytics variants, fake dynamic batch.

Found by running torch-exported models (legacy and dynamo exporters, fp16, static/dynamic
batch) through the engine; each case is rebuilt here with the onnx helper API.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from pose_studio.inference import ModelError, PoseModel, load_model, predict_frame
from pose_studio.inference.session import OnnxSession
from tests.support import onnx_models as om

BLOBS = {0: (150.0, 90.0), 1: (170.0, 140.0), 2: (190.0, 200.0)}  # red, green, blue (x, y)
BOX = [110.0, 60.0, 230.0, 240.0]


def pose(path: Path) -> PoseModel:
    m = load_model(path, provider="cpu")
    assert isinstance(m, PoseModel)
    return m


@pytest.mark.parametrize("order", ["rgb", "bgr"])
def test_keypoints_follow_the_image_colour_affine_and_stride(tmp_path: Path, order: str) -> None:
    """Keypoint i sits on the blob of colour i % 3 only if the crop, the colour order, mean/std,
    the stride and DARK are all right (a BGR/RGB mix-up swaps the red and blue keypoints)."""
    p = om.make_color_probe_heatmap_model(tmp_path / "probe.onnx", k=6, order=order)
    if order == "bgr":
        (tmp_path / "probe.json").write_text(json.dumps({
            "color": "bgr", "mean": list(om.COLOR_MEAN[::-1]), "std": list(om.COLOR_STD[::-1])}))
    m = pose(p)
    assert m.rgb is (order == "rgb")
    frame = om.blob_frame((320, 260), BLOBS)
    r = predict_frame(frame, m, boxes=[BOX])
    (inst,) = r.instances
    expect = np.array([BLOBS[i % 3] for i in range(6)])
    assert np.abs(inst.xy - expect).max() < 0.5
    assert (inst.visibility == 2).all()


def test_heatmap_ignores_a_coarser_auxiliary_output(tmp_path: Path) -> None:
    peaks = [(10.0 + k * 0.5, 12.0 + k * 0.5) for k in range(17)]
    p = om.make_heatmap_model(tmp_path / "aux.onnx", input_hw=(128, 96), planted=peaks,
                              aux_output=True)
    m = pose(p)
    assert m.spec.outputs == (0,) and m.spec.stride == (4.0, 4.0) and m.spec.k == 17


def test_ultralytics_segment_export_is_refused(tmp_path: Path) -> None:
    # a seg head [1, 4+1+32+..., A] can fit 4+nc+3K by chance: the task metadata decides
    seg = om.make_yolo_pose_model(tmp_path / "seg.onnx", input_hw=(160, 160), k=37,
                                  extra_metadata={"task": "segment"})
    m = onnx.load(str(seg))
    del m.metadata_props[:]
    onnx.helper.set_model_props(m, {"task": "segment", "names": "{0: 'person'}",
                                    "stride": "32", "imgsz": "[160, 160]"})
    onnx.save(m, str(seg))
    with pytest.raises(ModelError, match="ultralytics 'segment' model"):
        load_model(seg, provider="cpu")


def test_yolo_pose_with_two_value_keypoints(tmp_path: Path) -> None:
    kp = np.stack([np.linspace(60, 100, 12), np.linspace(50, 120, 12)], axis=1)
    p = om.make_yolo_pose_model(tmp_path / "tiger.onnx", input_hw=(160, 160), k=12, kpt_dim=2,
                                planted=[{"anchor": 3, "box": (80, 80, 60, 100), "score": 0.8,
                                          "kpts": kp}])
    m = pose(p)
    assert m.family == "yolo_pose" and m.spec.k == 12 and m.spec.kpt_dim == 2
    (pred,) = m.predict(np.zeros((160, 160, 3), np.uint8))
    assert np.allclose(pred.xy, kp, atol=1e-4)
    assert np.allclose(pred.scores, 0.8)  # no visibility column: the detection score


def test_fake_dynamic_batch_runs_one_image_at_a_time(tmp_path: Path) -> None:
    peaks = [(5.0, 6.0)] * 17
    bad = pose(om.make_heatmap_model(tmp_path / "b1.onnx", input_hw=(64, 48), planted=peaks,
                                     batch_one_inside=True))
    good = pose(om.make_heatmap_model(tmp_path / "ok.onnx", input_hw=(64, 48), planted=peaks))
    assert bad.batch_size is None and bad.session.batch_limit == 1
    assert any("one image at a time" in w for w in bad.warnings)
    assert good.session.batch_limit is None and not good.warnings
    frame = np.zeros((120, 160, 3), np.uint8)
    boxes = [[0, 0, 50, 90], [20, 10, 120, 110], [60, 20, 150, 115]]
    a = bad.predict_crops(frame, boxes)
    b = good.predict_crops(frame, boxes)
    assert len(a) == 3 and all(np.allclose(x.xy, y.xy) for x, y in zip(a, b))


def test_session_learns_a_fake_dynamic_batch_at_run_time(tmp_path: Path) -> None:
    p = om.make_heatmap_model(tmp_path / "b1.onnx", input_hw=(64, 48), batch_one_inside=True)
    s = OnnxSession(p, "cpu")
    x = np.zeros((3, 3, 64, 48), np.float32)
    outs = s.run(x, max_batch=8)
    assert outs[0].shape == (3, 17, 16, 12) and s.batch_limit == 1
    assert any("one image at a time" in w for w in s.warnings)
    broken = OnnxSession(om.make_heatmap_model(tmp_path / "ok.onnx", input_hw=(64, 48)), "cpu")
    with pytest.raises(ModelError, match="inference failed"):
        broken.run(np.zeros((2, 3, 32, 48), np.float32))  # wrong size: not a batch problem
    assert broken.batch_limit is None


@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_channels_last_inputs_follow_the_image(tmp_path: Path, dtype: str) -> None:
    """A TensorFlow-style copy (input [1, H, W, 3]; uint8 pixels normalised inside the graph)
    puts the keypoints where the NCHW original does."""
    from tests.support.onnx_wild import to_channels_last

    src = om.make_color_probe_heatmap_model(tmp_path / "probe.onnx", k=3)
    norm = (om.COLOR_MEAN, om.COLOR_STD) if dtype == "uint8" else None
    tf = to_channels_last(src, tmp_path / "tf.onnx", dtype, norm)
    m, ref = pose(tf), pose(src)
    assert m.session.layout == "nhwc" and m.input_size == ref.input_size
    frame = om.blob_frame((320, 260), BLOBS)
    x = m.prepare_crops(frame, [BOX]).tensor
    assert x.shape == (1, 128, 96, 3) and x.dtype == np.dtype(dtype)
    a = m.predict_crops(frame, [BOX])[0].xy
    b = ref.predict_crops(frame, [BOX])[0].xy
    assert np.abs(a - b).max() < (0.05 if dtype == "float32" else 0.5)
    assert np.abs(a - np.array([BLOBS[i] for i in range(3)])).max() < 0.5


def test_ultralytics_detector_as_person_detector(tmp_path: Path) -> None:
    from pose_studio.inference import DetectorModel

    p = om.make_yolo_detect_model(tmp_path / "yolov8n.onnx", input_hw=(320, 320), planted=[
        {"anchor": 10, "box": (100, 150, 60, 120), "score": 0.9},
        {"anchor": 11, "box": (102, 152, 60, 120), "score": 0.8},  # same person: NMS
        {"anchor": 40, "box": (220, 160, 50, 100), "score": 0.7},
        {"anchor": 50, "box": (250, 100, 40, 40), "score": 0.95, "cls": 2},  # a car
        {"anchor": 60, "box": (40, 40, 20, 40), "score": 0.1}])  # below the threshold
    d = load_model(p, provider="cpu")
    assert isinstance(d, DetectorModel) and d.family == "detector_yolo" and d.spec.nc == 80
    assert d.rgb and d.centered
    boxes, scores = d.detect(np.zeros((360, 640, 3), np.uint8))  # r = 0.5, pad top 70
    expect = np.array([[70, 90, 130, 210], [195, 110, 245, 210]], float)
    expect[:, [1, 3]] -= 70
    assert np.allclose(boxes, expect / 0.5, atol=1e-3)
    assert np.allclose(scores, [0.9, 0.7])
    with pytest.raises(ModelError, match="person detector"):
        load_model(p, provider="cpu", expect="pose")


def test_grey_bgra_and_fp16_inputs_are_prepared_in_the_producer(tmp_path: Path) -> None:
    p = om.make_color_probe_heatmap_model(tmp_path / "probe.onnx", k=3)
    m = pose(p)
    frame = om.blob_frame((320, 260), BLOBS)
    ref = m.predict_crops(frame, [BOX])[0].xy
    bgra = np.concatenate([frame, np.full((*frame.shape[:2], 1), 255, np.uint8)], axis=2)
    assert np.allclose(m.predict_crops(bgra, [BOX])[0].xy, ref)
    grey = frame.max(axis=2)  # all three blobs, one channel
    assert m.predict_crops(grey, [BOX])[0].xy.shape == (3, 2)
    from pose_studio.inference import InferenceError

    with pytest.raises(InferenceError, match="cannot use this frame"):
        m.predict_crops(np.zeros((4, 5, 6, 7), np.uint8), [BOX])
    h16 = pose(om.make_heatmap_model(tmp_path / "h16.onnx", input_hw=(64, 48), fp16=True))
    assert h16.prepare_crops(frame, [BOX]).tensor.dtype == np.float16


def test_external_data_models_load_and_hash_their_weights(tmp_path: Path) -> None:
    """torch's dynamo exporter writes the weights to ``<name>.onnx.data`` beside the graph."""
    src = om.make_heatmap_model(tmp_path / "src.onnx", input_hw=(64, 48))
    model = onnx.load(str(src))
    out = tmp_path / "ext.onnx"
    onnx.save(model, str(out), save_as_external_data=True, all_tensors_to_one_file=True,
              location="ext.onnx.data", size_threshold=0)
    m = pose(out)
    h1 = m.model_hash
    data = tmp_path / "ext.onnx.data"
    raw = bytearray(data.read_bytes())
    raw[-1] ^= 0xFF  # other weights, same graph file
    data.write_bytes(bytes(raw))
    assert pose(out).model_hash != h1


def test_an_extracted_onnx_sdk_folder_loads_with_its_pipeline_json(tmp_path: Path) -> None:
    sdk = tmp_path / "rtmpose-m_simcc-body7"
    sdk.mkdir()
    om.make_simcc_model(sdk / "end2end.onnx", input_hw=(64, 48))
    (sdk / "pipeline.json").write_text(json.dumps({"pipeline": {"tasks": [
        {"type": "Task", "transforms": [{"type": "TopDownGetBboxCenterScale", "padding": 1.25},
                                        {"type": "Normalize", "mean": [1, 2, 3],
                                         "std": [4, 5, 6], "to_rgb": True}]}]}}))
    m = pose(sdk)
    assert m.path.name == "end2end.onnx" and m.family == "simcc" and m.mean == (1, 2, 3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"without an \.onnx"):
        load_model(tmp_path / "empty", provider="cpu")
    (tmp_path / "x.zip").write_bytes(b"PK\x03\x04")
    with pytest.raises(ModelError, match="zip archive"):
        load_model(tmp_path / "x.zip", provider="cpu")


def test_pipeline_json_of_a_udp_model_selects_udp_decoding(tmp_path: Path) -> None:
    om.make_heatmap_model(tmp_path / "vitpose.onnx", input_hw=(64, 48))
    (tmp_path / "pipeline.json").write_text(json.dumps({"pipeline": {"tasks": [
        {"type": "Task", "transforms": [
            {"type": "TopdownAffine", "image_size": [48, 64], "use_udp": True}]}]}}))
    m = pose(tmp_path / "vitpose.onnx")
    assert m.refine == "dark_udp" and m.input_size == (48, 64)


def test_dark_kernel_follows_the_heatmap_size(tmp_path: Path) -> None:
    small = pose(om.make_heatmap_model(tmp_path / "s.onnx", input_hw=(256, 192)))
    big = pose(om.make_heatmap_model(tmp_path / "b.onnx", input_hw=(384, 288)))
    assert small.dark_kernel == 11 and big.dark_kernel == 17  # sigma 2 / sigma 3 in mmpose


def test_models_check_on_a_model_that_does_not_batch(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from pose_studio.cli import main as cli

    p = om.make_heatmap_model(tmp_path / "b1.onnx", input_hw=(64, 48), batch_one_inside=True)
    assert cli.main(["models", "check", str(p), "--runs", "1", "--provider", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "declared dynamic, does not batch" in out and "one image at a time" in out


def test_out_of_memory_on_large_batches_halves_the_batch(tmp_path: Path) -> None:
    s = OnnxSession(om.make_heatmap_model(tmp_path / "m.onnx", input_hw=(64, 48)), "cpu")
    real = s.session
    sizes: list[int] = []

    class SmallGpu:
        def run(self, names: object, feed: dict[str, np.ndarray], opts: object) -> object:
            n = next(iter(feed.values())).shape[0]
            sizes.append(n)
            if n > 4:
                raise RuntimeError("CUDA failure 2: Failed to allocate memory for requested "
                                   "buffer of size 123456")
            return real.run(names, feed, opts)

    s.session = SmallGpu()  # type: ignore[assignment]
    outs = s.run(np.zeros((16, 3, 64, 48), np.float32), max_batch=16)
    assert outs[0].shape == (16, 17, 16, 12)
    assert s.batch_limit == 4 and max(sizes[-4:]) == 4
    assert any("out of memory on a batch of 8" in w for w in s.warnings)
