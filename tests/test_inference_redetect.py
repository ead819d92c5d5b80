"""Heatmap peaks as keypoint candidates, and re-running a top-down model on chosen crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose_studio.inference import InferenceError, PoseModel, load_model
from pose_studio.inference.redetect import CropRedetector
from pose_studio.inference.results import CropMaps
from tests.support import onnx_models as om

PEAKS = [(6.3 + 0.7 * k, 7.6 + 0.9 * k) for k in range(17)]


def frame(w: int = 320, h: int = 240) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)


def pose(path: Path) -> PoseModel:
    m = load_model(path, provider="cpu")
    assert isinstance(m, PoseModel)
    return m


def blob(h: int, w: int, x: float, y: float, v: float, s: float = 2.0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return v * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * s * s))


def test_crop_maps_candidates_are_the_peaks_in_image_pixels() -> None:
    maps = np.zeros((2, 40, 32), np.float32)
    maps[0] = blob(40, 32, 10.3, 12.6, 1.0) + blob(40, 32, 24.0, 30.0, 0.5)
    maps[1] = blob(40, 32, 16.0, 20.0, 0.8)
    a = np.array([[4.0, 0.0, 5.0], [0.0, 4.0, 7.0]])  # map pixel -> image pixel
    c = CropMaps("heatmap", a, maps=maps).candidates(max_peaks=3)
    assert c.xy.shape == (2, 3, 2)
    np.testing.assert_allclose(c.xy[0, 0], [5 + 4 * 10.3, 7 + 4 * 12.6], atol=0.4)
    np.testing.assert_allclose(c.xy[0, 1], [5 + 4 * 24.0, 7 + 4 * 30.0], atol=0.4)
    assert c.value[0, 0] > c.value[0, 1] > 0 and c.value[0, 2] == 0
    assert np.isnan(c.xy[0, 2]).all() and np.isnan(c.xy[1, 1:]).all()
    empty = CropMaps("heatmap", a, maps=np.zeros((2, 8, 8), np.float32)).candidates()
    assert (empty.value == 0).all()


def test_candidates_of_a_model_start_with_its_own_prediction(tmp_path: Path) -> None:
    m = pose(om.make_heatmap_model(tmp_path / "hm.onnx", input_hw=(128, 96), planted=PEAKS))
    (pred,) = m.predict_crops(frame(), [[40.0, 30.0, 140.0, 210.0]])
    assert pred.maps is not None and pred.maps.dark_kernel == m.dark_kernel
    c = pred.maps.candidates()
    np.testing.assert_allclose(c.xy[:, 0], pred.xy, atol=1e-6)  # the same DARK step
    bins = [(10 + k, 20 + k) for k in range(17)]
    s = pose(om.make_simcc_model(tmp_path / "s.onnx", input_hw=(64, 48), planted=bins))
    (sp,) = s.predict_crops(frame(), [[30.0, 40.0, 130.0, 200.0]])
    assert sp.maps is not None
    np.testing.assert_allclose(sp.maps.candidates().xy[:, 0], sp.xy, atol=1.5)


def test_redetector_runs_the_model_in_the_boxes_it_is_given(tmp_path: Path) -> None:
    m = pose(om.make_heatmap_model(tmp_path / "hm.onnx", input_hw=(128, 96), planted=PEAKS))
    reads: list[int] = []

    def get_frame(i: int) -> np.ndarray:
        reads.append(i)
        return frame()

    rd = CropRedetector(m, get_frame, max_peaks=2)
    boxes = np.array([[40.0, 30.0, 140.0, 210.0], [150.0, 20.0, 250.0, 200.0]])
    got = rd(3, boxes)
    assert len(got) == 2 and rd.crops == 2
    expect = m.predict_crops(frame(), boxes)
    for g, e in zip(got, expect):
        assert g is not None
        inst, cand = g
        np.testing.assert_allclose(inst.xy, e.xy)
        assert inst.kp_scores is not None and cand is not None and cand.xy.shape == (17, 2, 2)
    assert rd(3, boxes[:1]) and rd(3, np.zeros((0, 4))) == []
    assert reads == [3]  # the frame is read once
    m.score_threshold = 1.01  # no one found: None for that box
    assert rd(4, boxes[:1]) == [None]


def test_redetector_needs_a_top_down_model(tmp_path: Path) -> None:
    kp = np.zeros((17, 3), np.float32)
    kp[:, 2] = 0.9
    p = om.make_yolo_pose_model(tmp_path / "y.onnx", planted=[
        {"anchor": 100, "box": (300, 300, 100, 200), "score": 0.9, "kpts": kp}])
    with pytest.raises(InferenceError, match="top-down"):
        CropRedetector(pose(p), lambda i: frame())
