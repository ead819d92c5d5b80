"""Image pre-processing: affine crops, letterbox, normalisation to NCHW tensors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from numpy.typing import ArrayLike

from pose_studio.core import geometry as geo


def as_bgr(frame: np.ndarray) -> np.ndarray:
    """A 3-channel uint8 view/copy of a frame: grey (H, W) / (H, W, 1) and BGRA are converted.

    Raises:
        ValueError: not an image array.
    """
    if frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8:
        return frame
    if frame.dtype != np.uint8:
        if frame.dtype == np.uint16:
            frame = (frame >> 8).astype(np.uint8)
        elif np.issubdtype(frame.dtype, np.floating):  # 0..1 floats
            frame = np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)
        else:
            raise ValueError(f"unsupported frame dtype {frame.dtype}")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        return np.ascontiguousarray(np.repeat(frame.reshape(frame.shape[0], frame.shape[1], 1),
                                              3, axis=2))
    if frame.ndim == 3 and frame.shape[2] == 4:
        return np.ascontiguousarray(frame[:, :, :3])
    if frame.ndim == 3 and frame.shape[2] == 3:
        return frame
    raise ValueError(f"a frame must be (H, W, 3) BGR, got shape {frame.shape}")


def warp_crops(
    frame: np.ndarray,
    boxes_xyxy: ArrayLike,
    input_size: tuple[int, int],
    padding: float = 1.25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Crop each box with the top-down affine (centre/scale, padding, aspect fix).

    Returns:
        ``crops (n, h, w, 3) uint8``, ``affines (n, 2, 3)`` image -> crop, ``centers (n, 2)``,
        ``scales (n, 2)``.
    """
    w, h = input_size
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    n = len(boxes)
    crops = np.empty((n, h, w, frame.shape[2] if frame.ndim == 3 else 1), dtype=np.uint8)
    affines = np.empty((n, 2, 3), dtype=np.float64)
    centers = np.empty((n, 2), dtype=np.float64)
    scales = np.empty((n, 2), dtype=np.float64)
    for i, box in enumerate(boxes):
        c, s = geo.box_to_center_scale(box, input_size, padding)
        m = geo.get_warp_matrix(c, s, input_size)
        out = cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR)
        crops[i] = out.reshape(h, w, -1)
        affines[i], centers[i], scales[i] = m, c, s
    return crops, affines, centers, scales


def letterbox(
    frame: np.ndarray, size: tuple[int, int], *, centered: bool = True, pad_value: int = 114
) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize keeping the aspect ratio and pad to ``size`` (w, h).

    Returns the canvas, the resize ratio and the ``(left, top)`` padding.
    """
    fh, fw = frame.shape[:2]
    r, (nw, nh), (left, top) = geo.letterbox_params((fw, fh), size, centered=centered)
    canvas = np.full((size[1], size[0], frame.shape[2]), pad_value, dtype=np.uint8)
    if (nw, nh) != (fw, fh):
        resized = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    else:
        resized = frame
    canvas[top:top + nh, left:left + nw] = resized[: size[1] - top, : size[0] - left]
    return canvas, r, (left, top)


def pad_resize(
    frame: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, float, tuple[int, int]]:
    """TensorFlow's ``resize_with_pad`` (MoveNet's reference pre-processing): scale to fit
    ``size`` (w, h) keeping the aspect ratio, sizes rounded down, centred on a zero canvas.

    Returns the canvas, the resize ratio and the ``(left, top)`` padding.
    """
    fh, fw = frame.shape[:2]
    tw, th = size
    r = min(tw / fw, th / fh)
    nw, nh = max(1, int(np.floor(fw * r + 1e-9))), max(1, int(np.floor(fh * r + 1e-9)))
    left, top = max(0, int(np.floor((tw - fw * r) / 2))), max(0, int(np.floor((th - fh * r) / 2)))
    canvas = np.zeros((th, tw, frame.shape[2]), dtype=np.uint8)
    resized = frame if (nw, nh) == (fw, fh) else \
        cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    canvas[top:top + nh, left:left + nw] = resized[: th - top, : tw - left]
    return canvas, r, (left, top)


def to_tensor(
    images: np.ndarray,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    rgb: bool,
    scale: float = 1.0,
    dtype: Any = np.float32,
    layout: str = "nchw",
) -> np.ndarray:
    """``(n, h, w, 3)`` BGR uint8 -> ``(n, 3, h, w)`` (or ``(n, h, w, 3)`` for ``nhwc``)
    ``dtype``, ``(x*scale - mean) / std``.

    ``mean``/``std`` are in the model's channel order (after the BGR->RGB swap when ``rgb``).
    A float16 ``dtype`` (fp16 models) is computed in float32 and cast here, in the producer
    thread, rather than in the thread that runs the model. Integer inputs (TensorFlow uint8 /
    int32 models) get the raw pixel values.
    """
    x = images[..., ::-1] if rgb else images
    if np.dtype(dtype).kind in "iu":
        x = x if layout == "nhwc" else x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x, dtype=dtype)
    if layout == "nhwc":
        f = x.astype(np.float32)
        if scale != 1.0:
            f *= np.float32(scale)
        if mean is not None:
            f -= np.asarray(mean, np.float32)
        if std is not None:
            f *= np.float32(1.0) / np.asarray(std, np.float32)
        return f if f.dtype == dtype else f.astype(dtype)
    out = np.empty((x.shape[0], 3, x.shape[1], x.shape[2]), dtype=np.float32)
    for c in range(3):
        ch = out[:, c]
        np.multiply(x[..., c], np.float32(scale), out=ch, casting="unsafe")
        if mean is not None:
            ch -= np.float32(mean[c])
        if std is not None:
            ch *= np.float32(1.0 / std[c])
    return out if out.dtype == dtype else out.astype(dtype)
