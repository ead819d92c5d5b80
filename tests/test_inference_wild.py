"""Families from the wild, on planted models: MoveNet, BlazePose, raw RTMDet and NanoDet heads,
side files that describe one model, flexible input sizes, NaN outputs, keypoints off the frame."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from pose_studio.core.skeleton import COCO17
from pose_studio.core.skeleton_presets import BLAZEPOSE33_TO_COCO17, get_skeleton
from pose_studio.inference import DetectorModel, ModelError, PoseModel, load_model, predict_frame
from pose_studio.inference.keypoint_map import keypoint_mapping, remap_result
from tests.support import onnx_models as om
from tests.support import onnx_wild as ow
from tests.support.onnx_graph import Graph


def pose(path: Path) -> PoseModel:
    m = load_model(path, provider="cpu")
    assert isinstance(m, PoseModel)
    return m


def detector(path: Path) -> DetectorModel:
    m = load_model(path, provider="cpu")
    assert isinstance(m, DetectorModel)
    return m


def reference_pad(frame_bgr: np.ndarray, size: int) -> tuple[np.ndarray, float, int, int]:
    """``tf.image.resize_with_pad`` written from its definition (TensorFlow
    ``resize_image_with_pad_v2``): ratio = max(w/W, h/H), sizes floor(w/ratio), padding
    floor((target - w/ratio) / 2); RGB."""
    h, w = frame_bgr.shape[:2]
    ratio = max(w / size, h / size)
    rw, rh = int(np.floor(w / ratio)), int(np.floor(h / ratio))
    pw, ph = int(np.floor((size - w / ratio) / 2)), int(np.floor((size - h / ratio) / 2))
    out = np.zeros((size, size, 3), np.uint8)
    out[ph:ph + rh, pw:pw + rw] = cv2.resize(frame_bgr, (rw, rh), interpolation=cv2.INTER_LINEAR)
    return out[..., ::-1], 1.0 / ratio, pw, ph


# --- MoveNet ------------------------------------------------------------------------------------
KPTS = np.stack([np.linspace(0.3, 0.7, 17), np.linspace(0.4, 0.6, 17), np.full(17, 0.7)], 1)


@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
def test_movenet_single_pose_uses_the_reference_padding(tmp_path: Path, layout: str) -> None:
    m = pose(ow.make_movenet_single(tmp_path / "movenet.onnx", KPTS, layout=layout))
    assert m.family == "movenet" and not m.top_down and m.skeleton is COCO17
    assert m.session.layout == layout and m.session.input_dtype == np.uint8
    frame = np.random.default_rng(1).integers(0, 255, (240, 400, 3), dtype=np.uint8)
    ref, r, left, top = reference_pad(frame, 192)
    x, _ = m.prepare_image(frame)
    mine = x[0] if layout == "nhwc" else x[0].transpose(1, 2, 0)
    assert mine.shape == ref.shape and np.abs(mine.astype(int) - ref.astype(int)).max() <= 1
    (inst,) = predict_frame(frame, m).instances
    expect = np.stack([(KPTS[:, 1] * 192 - left) / r, (KPTS[:, 0] * 192 - top) / r], 1)
    assert np.abs(inst.xy - expect).max() < 1e-4  # float32 outputs
    assert (inst.visibility == 2).all() and inst.score == pytest.approx(0.7)


def test_movenet_drops_a_frame_without_a_person(tmp_path: Path) -> None:
    low = KPTS.copy()
    low[:, 2] = 0.05
    m = pose(ow.make_movenet_single(tmp_path / "movenet.onnx", low))
    assert predict_frame(np.zeros((100, 100, 3), np.uint8), m).instances == ()


def test_movenet_multi_pose_with_a_flexible_input_size(tmp_path: Path) -> None:
    kp = KPTS.copy()
    people = [{"kpts": kp, "box": (0.3, 0.4, 0.7, 0.6), "score": 0.8},
              {"kpts": kp, "box": (0.31, 0.4, 0.7, 0.6), "score": 0.6},  # same person: NMS
              {"kpts": kp, "box": (0.1, 0.1, 0.2, 0.2), "score": 0.05}]  # below the threshold
    p = ow.make_movenet_multi(tmp_path / "multipose.onnx", people, input_hw=("h", "w"))
    m = pose(p)
    assert m.family == "movenet" and m.spec.end2end and m.input_size == (256, 256)
    assert any("assumed 256x256" in w and "multipose.json" in w for w in m.warnings)
    r = predict_frame(np.zeros((256, 512, 3), np.uint8), m)  # r = 0.5, pad top 64
    (inst,) = r.instances
    assert inst.score == pytest.approx(0.8)
    assert inst.bbox == pytest.approx((0.4 * 512, (0.3 * 256 - 64) * 2, 0.2 * 512,
                                       0.4 * 256 * 2))
    (tmp_path / "multipose.json").write_text(json.dumps({"input_size": [192, 192]}))
    m2 = pose(p)
    assert m2.input_size == (192, 192) and not any("assumed" in w for w in m2.warnings)


# --- BlazePose ----------------------------------------------------------------------------------
def test_blazepose_is_top_down_with_a_coco17_mapping(tmp_path: Path) -> None:
    lm = np.stack([np.linspace(60, 200, 33), np.linspace(40, 220, 33)], 1)
    m = pose(ow.make_blazepose(tmp_path / "blazepose.onnx", lm))
    assert m.family == "blazepose" and m.top_down and m.skeleton.name == "blazepose33"
    assert m.session.layout == "nhwc" and m.input_size == (256, 256)
    frame = np.zeros((480, 640, 3), np.uint8)
    box = [200.0, 100.0, 300.0, 400.0]
    (inst,) = predict_frame(frame, m, boxes=[box]).instances
    crop = m.prepare_crops(frame, [box])
    assert crop.tensor.shape == (1, 256, 256, 3)
    inv = cv2.invertAffineTransform(crop.affines[0])
    expect = lm @ inv[:, :2].T + inv[:, 2]
    assert np.abs(inst.xy - expect).max() < 1e-6
    assert inst.score == pytest.approx(0.99) and (inst.visibility == 2).all()
    idx = keypoint_mapping(m.skeleton, COCO17)
    assert idx is not None and tuple(idx) == BLAZEPOSE33_TO_COCO17
    coco = remap_result(predict_frame(frame, m, boxes=[box]), idx).instances[0]
    assert coco.num_keypoints == 17 and np.allclose(coco.xy, inst.xy[idx])
    # no person in the crop: the pose flag is under the threshold, nothing is stored
    empty = pose(ow.make_blazepose(tmp_path / "none.onnx", lm, flag=0.1))
    assert predict_frame(frame, empty, boxes=[box]).instances == ()


# --- detectors without post-processing ----------------------------------------------------------
def test_rtmdet_heads_are_a_detector_not_a_four_keypoint_heatmap(tmp_path: Path) -> None:
    p = ow.make_rtmdet_heads(tmp_path / "rtmdet.onnx", dets=[
        {"stride": 16, "cell": (6, 8), "ltrb": (40, 60, 30, 70), "logit": 4.0},
        {"stride": 8, "cell": (12, 17), "ltrb": (30, 55, 42, 66), "logit": 2.0},  # same one
        {"stride": 32, "cell": (2, 2), "ltrb": (20, 20, 20, 20), "logit": -3.0}])  # low
    d = detector(p)
    assert d.family == "detector_rtmdet" and d.spec.strides == (8, 16, 32)
    assert d.mean == (103.53, 116.28, 123.675) and not d.rgb
    boxes, scores = d.detect(np.zeros((320, 320, 3), np.uint8))
    assert np.allclose(boxes, [[96 - 40, 128 - 60, 96 + 30, 128 + 70]])
    assert scores[0] == pytest.approx(1 / (1 + np.exp(-4.0)))
    with pytest.raises(ModelError, match="person detector"):
        load_model(p, provider="cpu", expect="pose")


def test_nanodet_heads_decode_distance_bins(tmp_path: Path) -> None:
    p = ow.make_nanodet_heads(tmp_path / "nanodet.onnx", dets=[
        {"stride": 16, "anchor": 8 * 20 + 5, "bins": (2, 3, 4, 5), "score": 0.9},
        {"stride": 16, "anchor": 3 * 20 + 3, "bins": (1, 1, 1, 1), "score": 0.95, "cls": 2}])
    d = detector(p)
    assert d.family == "detector_nanodet" and d.spec.get("reg_max") == 7 and d.spec.nc == 80
    boxes, scores = d.detect(np.zeros((320, 320, 3), np.uint8))
    cx, cy = 5 * 16 + 7.5, 8 * 16 + 7.5
    assert np.allclose(boxes, [[cx - 32, cy - 48, cx + 64, cy + 80]], atol=1e-3)
    assert scores.tolist() == pytest.approx([0.9])  # the car (class 2) is not a person


def test_a_refused_file_names_what_it_found_not_simcc(tmp_path: Path) -> None:
    """Two rank-3 outputs that are neither NanoDet levels nor SimCC vectors."""
    g = Graph()
    a = ow._planted(g, np.zeros((1, 100, 7)))
    b = ow._planted(g, np.zeros((1, 30, 9)))
    p = ow._save(g, tmp_path / "odd.onnx", "input", [1, 3, 64, 64], "float32",
                 [("a", a, [1, 100, 7]), ("b", b, [1, 30, 9])], "odd")
    with pytest.raises(ModelError, match="not a recognised") as ei:
        load_model(p, provider="cpu")
    assert "a [1, 100, 7]" in str(ei.value) and "odd.onnx" in str(ei.value)
    assert "SimCC vectors" not in str(ei.value)  # nothing suggests keypoint vectors


# --- side files, input sizes --------------------------------------------------------------------
def test_pipeline_json_applies_only_to_the_model_it_describes(tmp_path: Path) -> None:
    sdk = tmp_path / "rtmdet_sdk"
    sdk.mkdir()
    om.make_detector_end2end(sdk / "end2end.onnx", input_hw=(320, 320))
    yolo = om.make_yolo_pose_model(sdk / "yolo11n-pose.onnx", input_hw=(640, 640))
    (sdk / "pipeline.json").write_text(json.dumps({"pipeline": {"tasks": [
        {"type": "Task", "transforms": [
            {"type": "Resize", "size": [320, 320]},
            {"type": "Normalize", "mean": [103.53, 116.28, 123.675], "std": [57.375, 57.12,
                                                                             58.395],
             "to_rgb": False}]}]}}))
    y = pose(yolo)
    assert y.input_size == (640, 640) and y.rgb and y.mean is None and y.scale == 1 / 255
    assert any("describes end2end.onnx" in w for w in y.warnings)
    det = detector(sdk / "end2end.onnx")
    assert det.mean == (103.53, 116.28, 123.675) and not det.warnings
    # deploy.json names the model the pipeline belongs to
    (sdk / "deploy.json").write_text(json.dumps({"models": [{"net": "yolo11n-pose.onnx"}]}))
    assert detector(sdk / "end2end.onnx").mean is None
    # a lone model in a folder gets the folder's pipeline.json
    lone = tmp_path / "lone"
    lone.mkdir()
    om.make_simcc_model(lone / "rtmpose.onnx", input_hw=(64, 48))
    (lone / "pipeline.json").write_text(json.dumps({"pipeline": {"tasks": [
        {"type": "Task", "transforms": [{"type": "Normalize", "mean": [103.53, 116.28, 123.675],
                                         "std": [1, 1, 1], "to_rgb": False}]}]}}))
    assert pose(lone / "rtmpose.onnx").mean == (103.53, 116.28, 123.675)


def test_a_detector_with_a_flexible_input_size_says_what_it_assumed(tmp_path: Path) -> None:
    p = om.make_detector_end2end(tmp_path / "det.onnx", input_hw=(640, 640))
    m = onnx.load(str(p))
    dims = m.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    onnx.save(m, str(p))
    d = detector(p)
    assert d.input_size == (640, 640)
    assert any("assumed 640x640" in w and "det.json" in w for w in d.warnings)


# --- outputs that must never be stored ----------------------------------------------------------
def test_nan_outputs_are_refused_with_the_model_named(tmp_path: Path) -> None:
    kp = KPTS.copy()
    kp[3, 0] = np.nan
    m = pose(ow.make_movenet_single(tmp_path / "broken.onnx", kp))
    with pytest.raises(ModelError, match=r"broken\.onnx: the model gave NaN or infinite"):
        predict_frame(np.zeros((100, 100, 3), np.uint8), m)


def test_keypoints_outside_the_frame_are_not_visible(tmp_path: Path) -> None:
    kp = np.zeros((17, 3))
    kp[:, 2] = 0.9
    kp[:, 0] = np.linspace(0.1, 1.04, 17)  # the last ones below the bottom edge
    kp[:, 1] = 0.5
    m = pose(ow.make_movenet_single(tmp_path / "m.onnx", kp))
    frame = np.zeros((192, 192, 3), np.uint8)
    (inst,) = predict_frame(frame, m).instances
    out = inst.xy[:, 1] > 192
    below = kp[:, 0] * 192 > 192
    assert below.any() and not out.any()  # COCO: x = y = 0 for a keypoint not in the image
    assert (inst.visibility[below] == 0).all() and (inst.xy[below] == 0).all()
    assert (inst.visibility[~below] == 2).all()
    assert inst.kp_scores is not None and np.allclose(inst.kp_scores, 0.9)  # scores kept


def test_blazepose_skeleton_is_builtin() -> None:
    sk = get_skeleton("blazepose33")
    assert sk.num_keypoints == 33 and (9, 10) in sk.flip_pairs


def test_model_info_says_top_down_so_callers_never_compare_family_names(tmp_path: Path) -> None:
    from pose_studio.inference import model_info

    blaze = pose(ow.make_blazepose(tmp_path / "b.onnx", np.zeros((33, 2)) + 50))
    movenet = pose(ow.make_movenet_single(tmp_path / "m.onnx", KPTS))
    det = detector(ow.make_rtmdet_heads(tmp_path / "d.onnx"))
    a, b = model_info(blaze), model_info(blaze, det)
    assert a.top_down and a.needs_boxes and not b.needs_boxes
    assert b.detector_family == "detector_rtmdet" and len(a.model_hash) == 64
    assert not model_info(movenet).top_down and a.skeleton.name == "blazepose33"
