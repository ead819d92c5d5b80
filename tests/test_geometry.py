"""Box/affine geometry (pure numpy) against OpenCV and the mmpose formulas."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pose_studio.core import geometry as geo


def test_center_scale_padding_and_aspect() -> None:
    c, s = geo.box_to_center_scale([10, 20, 110, 320], (192, 256), padding=1.25)
    assert c.tolist() == [60.0, 170.0]
    # tall box: height wins, width grows to the 3:4 aspect
    assert s.tolist() == pytest.approx([375.0 * 0.75, 375.0])
    c, s = geo.box_to_center_scale([0, 0, 400, 100], (192, 256))
    assert s.tolist() == pytest.approx([500.0, 500.0 / 0.75])


def test_warp_matrix_is_the_closed_form_and_matches_cv2() -> None:
    c, s = geo.box_to_center_scale([10, 20, 110, 320], (192, 256))
    m = geo.get_warp_matrix(c, s, (192, 256))
    k = 192 / s[0]
    assert np.allclose(m, [[k, 0, 96 - k * c[0]], [0, k, 128 - k * c[1]]], atol=1e-9)
    half = s[0] / 2
    src = np.float32([c, c + np.array([0, -half]), c + np.array([-half, -half])])
    dst = np.float32([[96, 128], [96, 128 - 96], [0, 128 - 96]])
    assert np.allclose(m, cv2.getAffineTransform(src, dst), atol=1e-4)


@pytest.mark.parametrize("rot", [0.0, 17.0, -90.0])
def test_affine_round_trip_is_exact(rot: float) -> None:
    c, s = geo.box_to_center_scale([33.3, 12.1, 201.7, 388.9], (192, 256))
    m = geo.get_warp_matrix(c, s, (192, 256), rot=rot)
    inv = geo.get_warp_matrix(c, s, (192, 256), rot=rot, inv=True)
    assert np.allclose(geo.invert_affine(m), inv, atol=1e-9)
    assert np.allclose(geo.invert_affine(m), cv2.invertAffineTransform(m), atol=1e-9)
    pts = np.random.default_rng(0).uniform(0, 500, (50, 2))
    back = geo.apply_affine(geo.invert_affine(m), geo.apply_affine(m, pts))
    assert np.abs(back - pts).max() < 1e-9


def test_crop_to_image_equals_inverse_affine() -> None:
    c, s = geo.box_to_center_scale([50, 60, 150, 300], (192, 256))
    m = geo.get_warp_matrix(c, s, (192, 256))
    pts = np.array([[0.0, 0.0], [96.0, 128.0], [191.5, 255.25]])
    assert np.allclose(geo.crop_to_image(pts, c, s, (192, 256)),
                       geo.apply_affine(geo.invert_affine(m), pts), atol=1e-9)


def test_compose_and_scale() -> None:
    a = np.array([[2.0, 0, 1], [0, 3.0, -2]])
    b = geo.scale_affine(4.0, 4.0)
    p = np.array([[1.0, 2.0]])
    assert np.allclose(geo.apply_affine(geo.compose_affine(a, b), p),
                       geo.apply_affine(a, geo.apply_affine(b, p)))


def test_letterbox_params_ultralytics_and_topleft() -> None:
    r, new, pad = geo.letterbox_params((1280, 720), (640, 640), centered=True)
    assert (r, new, pad) == (0.5, (640, 360), (0, 140))
    r, new, pad = geo.letterbox_params((1280, 720), (640, 640), centered=False)
    assert (r, new, pad) == (0.5, (640, 360), (0, 0))
    pts = geo.letterbox_to_image(np.array([[100.0, 240.0]]), 0.5, (0, 140))
    assert pts.tolist() == [[200.0, 200.0]]


def test_nms_and_iou() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], float)
    keep = geo.nms(boxes, np.array([0.9, 0.8, 0.7]), 0.5)
    assert keep.tolist() == [0, 2]
    assert geo.box_iou(boxes[0], boxes[:1]).tolist() == [1.0]
    assert geo.keypoints_box(np.array([[1, 2], [5, 9], [np.nan, 3]])).tolist() == [1, 2, 5, 9]
    assert geo.keypoints_box(np.zeros((2, 2)), np.array([False, False])) is None
