"""Box and affine geometry for top-down pose crops (pure numpy, no OpenCV).

Conventions follow mmpose 1.x / rtmlib: a crop is described by a ``center`` and a ``scale``
(the crop's width and height in image pixels, padding included); the 2x3 matrices map
image pixels to crop pixels exactly as ``get_warp_matrix`` in those projects, so a matrix
from here can be passed to ``cv2.warpAffine`` unchanged.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

Size = tuple[int, int]  # (width, height)


def _vec(v: ArrayLike, n: int) -> np.ndarray:
    return np.asarray(v, dtype=np.float64).reshape(-1)[:n]


def xywh_to_xyxy(box: ArrayLike) -> np.ndarray:
    x, y, w, h = (float(v) for v in _vec(box, 4))
    return np.array([x, y, x + w, y + h], dtype=np.float64)


def xyxy_to_xywh(box: ArrayLike) -> np.ndarray:
    x1, y1, x2, y2 = (float(v) for v in _vec(box, 4))
    return np.array([x1, y1, x2 - x1, y2 - y1], dtype=np.float64)


def fix_aspect_ratio(scale: ArrayLike, aspect: float) -> np.ndarray:
    """Grow the shorter side of ``scale`` (w, h) so that ``w / h == aspect``."""
    w, h = (float(v) for v in _vec(scale, 2))
    if w > h * aspect:
        return np.array([w, w / aspect], dtype=np.float64)
    return np.array([h * aspect, h], dtype=np.float64)


def box_to_center_scale(
    box_xyxy: ArrayLike,
    input_size: Size | None = None,
    padding: float = 1.25,
) -> tuple[np.ndarray, np.ndarray]:
    """Centre and padded scale of a box (mmpose ``bbox_xyxy2cs`` + ``_fix_aspect_ratio``).

    Args:
        box_xyxy: ``x1, y1, x2, y2`` in image pixels.
        input_size: Model input ``(w, h)``; when given, the scale gets the model's aspect ratio.
        padding: Box enlargement factor (1.25 as in the mmpose/rtmlib top-down configs).
    """
    x1, y1, x2, y2 = (float(v) for v in _vec(box_xyxy, 4))
    center = np.array([(x1 + x2) * 0.5, (y1 + y2) * 0.5], dtype=np.float64)
    scale = np.array([(x2 - x1) * padding, (y2 - y1) * padding], dtype=np.float64)
    if input_size is not None:
        scale = fix_aspect_ratio(scale, input_size[0] / input_size[1])
    return center, scale


def _rotate(pt: np.ndarray, rad: float) -> np.ndarray:
    s, c = np.sin(rad), np.cos(rad)
    return np.array([pt[0] * c - pt[1] * s, pt[0] * s + pt[1] * c], dtype=np.float64)


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``b`` plus ``a - b`` rotated by 90 degrees (mmpose ``_get_3rd_point``)."""
    d = a - b
    return b + np.array([-d[1], d[0]])


def affine_from_points(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 affine mapping three ``src`` points to three ``dst`` points (as cv2.getAffineTransform)."""
    src = np.asarray(src, dtype=np.float64).reshape(3, 2)
    dst = np.asarray(dst, dtype=np.float64).reshape(3, 2)
    a = np.hstack([src, np.ones((3, 1))])
    return np.linalg.solve(a, dst).T.copy()


def get_warp_matrix(
    center: ArrayLike,
    scale: ArrayLike,
    output_size: Size,
    rot: float = 0.0,
    shift: tuple[float, float] = (0.0, 0.0),
    inv: bool = False,
) -> np.ndarray:
    """mmpose/rtmlib ``get_warp_matrix``: image -> crop of ``output_size`` (or crop -> image).

    Only ``scale[0]`` (the width) sets the zoom, so call :func:`fix_aspect_ratio` first.
    """
    c = _vec(center, 2)
    sc = _vec(scale, 2)
    src_w = float(sc[0])
    dst_w, dst_h = float(output_size[0]), float(output_size[1])
    rad = np.deg2rad(rot)
    src_dir = _rotate(np.array([0.0, src_w * -0.5]), rad)
    dst_dir = np.array([0.0, dst_w * -0.5])
    sh = np.asarray(shift, dtype=np.float64) * sc
    src = np.zeros((3, 2))
    src[0] = c + sh
    src[1] = c + src_dir + sh
    src[2] = _third_point(src[0], src[1])
    dst = np.zeros((3, 2))
    dst[0] = (dst_w * 0.5, dst_h * 0.5)
    dst[1] = dst[0] + dst_dir
    dst[2] = _third_point(dst[0], dst[1])
    return affine_from_points(dst, src) if inv else affine_from_points(src, dst)


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine (as cv2.invertAffineTransform)."""
    m = np.asarray(m, dtype=np.float64).reshape(2, 3)
    a_inv = np.linalg.inv(m[:, :2])
    return np.hstack([a_inv, -(a_inv @ m[:, 2:3])])


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 affine ``outer ∘ inner`` (apply ``inner`` first)."""
    o = np.vstack([np.asarray(outer, dtype=np.float64).reshape(2, 3), [0.0, 0.0, 1.0]])
    i = np.vstack([np.asarray(inner, dtype=np.float64).reshape(2, 3), [0.0, 0.0, 1.0]])
    return (o @ i)[:2].copy()


def scale_affine(sx: float, sy: float) -> np.ndarray:
    return np.array([[sx, 0.0, 0.0], [0.0, sy, 0.0]], dtype=np.float64)


def apply_affine(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Transform ``(..., 2)`` points by a 2x3 affine."""
    p = np.asarray(points, dtype=np.float64)
    m = np.asarray(m, dtype=np.float64).reshape(2, 3)
    return p @ m[:, :2].T + m[:, 2]


def crop_to_image(points: np.ndarray, center: ArrayLike, scale: ArrayLike,
                  input_size: Size) -> np.ndarray:
    """mmpose ``add_pred_to_datasample``: crop-input pixels -> image pixels (no rotation)."""
    p = np.asarray(points, dtype=np.float64)
    s = _vec(scale, 2)
    c = _vec(center, 2)
    return p / np.asarray(input_size, dtype=np.float64) * s + c - s * 0.5


def letterbox_params(
    src_size: Size, dst_size: Size, *, centered: bool = True
) -> tuple[float, tuple[int, int], tuple[int, int]]:
    """Resize ratio, resized ``(w, h)`` and top-left padding ``(left, top)`` of a letterbox.

    ``centered=True`` is ultralytics' ``LetterBox`` (round half padding on each side);
    ``False`` is the mmdet/rtmlib YOLOX variant (image at the top-left, padding bottom/right).
    """
    sw, sh = src_size
    dw, dh = dst_size
    r = min(dw / sw, dh / sh)
    if centered:
        new_w, new_h = round(sw * r), round(sh * r)
        pad_w, pad_h = (dw - new_w) / 2, (dh - new_h) / 2
        left, top = round(pad_w - 0.1), round(pad_h - 0.1)
    else:
        new_w, new_h = int(sw * r), int(sh * r)
        left, top = 0, 0
    return r, (int(new_w), int(new_h)), (int(left), int(top))


def letterbox_to_image(points: np.ndarray, ratio: float, pad: tuple[int, int]) -> np.ndarray:
    """Model-input pixels of a letterboxed image -> original image pixels."""
    p = np.asarray(points, dtype=np.float64).copy()
    p[..., 0] = (p[..., 0] - pad[0]) / ratio
    p[..., 1] = (p[..., 1] - pad[1]) / ratio
    return p


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``xyxy`` box with ``(N, 4)`` boxes."""
    b = np.asarray(box, dtype=np.float64)
    bs = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(b[0], bs[:, 0])
    y1 = np.maximum(b[1], bs[:, 1])
    x2 = np.minimum(b[2], bs[:, 2])
    y2 = np.minimum(b[3], bs[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_b = max(0.0, (b[2] - b[0])) * max(0.0, (b[3] - b[1]))
    areas = np.clip(bs[:, 2] - bs[:, 0], 0, None) * np.clip(bs[:, 3] - bs[:, 1], 0, None)
    union = area_b + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; indices of kept boxes, best first."""
    bs = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        ious = box_iou(bs[i], bs[order[1:]])
        order = order[1:][ious <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def keypoints_box(xy: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray | None:
    """Tight ``xyxy`` box around the (masked) points, or None if no point is selected."""
    p = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if mask is not None:
        p = p[np.asarray(mask, dtype=bool)]
    p = p[np.isfinite(p).all(axis=1)]
    if len(p) == 0:
        return None
    return np.array([*p.min(axis=0), *p.max(axis=0)], dtype=np.float64)
