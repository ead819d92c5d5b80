"""Training samples: top-down person crops, heatmap targets and augmentation (numpy + OpenCV).

Samples are stored as *crops with margin*: each person is warped around its box (padding
1.25, aspect fixed to the model input) with an extra ``MARGIN`` so that scale/rotation
augmentation has real pixels to draw from. Keypoints are stored in crop pixels.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pose_studio.core.skeleton import COCO17

MEAN_RGB = np.array([123.675, 116.28, 103.53], np.float32)
STD_RGB = np.array([58.395, 57.12, 57.375], np.float32)
BOX_PADDING = 1.25
MARGIN = 1.25  # stored crop = model crop * MARGIN
STRIDE = 4
SIGMA = 2.0


def box_center_scale(box: Iterable[float], aspect: float, padding: float = BOX_PADDING
                     ) -> tuple[np.ndarray, float]:
    """Box ``(x, y, w, h)`` -> centre and crop width (pixels) with padding and the input aspect
    ``w_in / h_in`` (mmpose ``GetBBoxCenterScale`` + ``_fix_aspect_ratio``)."""
    x, y, w, h = (float(v) for v in box)
    c = np.array([x + w / 2, y + h / 2])
    sw, sh = w * padding, h * padding
    if sw < sh * aspect:
        sw = sh * aspect
    return c, max(sw, 1.0)


def crop_matrix(center: np.ndarray, crop_w: float, out_size: tuple[int, int],
                rot_deg: float = 0.0, flip: bool = False) -> np.ndarray:
    """2x3 affine taking image pixels to a crop of ``out_size`` (w, h) pixels: ``center`` goes
    to the crop centre, ``crop_w`` image pixels span the crop width; optional rotation about
    the centre and horizontal flip (pixel ``j`` -> ``w - 1 - j``)."""
    w, h = out_size
    k = w / crop_w
    a = math.radians(rot_deg)
    ca, sa = math.cos(a) * k, math.sin(a) * k
    m = np.array([[ca, sa, 0.0], [-sa, ca, 0.0]])
    m[:, 2] = np.array([w / 2, h / 2]) - m[:, :2] @ center
    if flip:
        m = np.array([[-1.0, 0.0, w - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0, 0, 1]])
    return m


def apply_affine(m: np.ndarray, xy: np.ndarray) -> np.ndarray:
    return xy @ m[:, :2].T + m[:, 2]


@dataclass
class Samples:
    """Crops with margin and their keypoints (crop pixels)."""

    images: np.ndarray  # (N, Hc, Wc, 3) uint8 BGR
    keypoints: np.ndarray  # (N, K, 2) float32
    visibility: np.ndarray  # (N, K) uint8
    group: np.ndarray  # (N,) int64: scene / frame-block id (for splitting)

    def __len__(self) -> int:
        return len(self.images)

    def save(self, path: str | Path) -> None:
        np.savez(path, images=self.images, keypoints=self.keypoints,
                 visibility=self.visibility, group=self.group)

    @classmethod
    def load(cls, path: str | Path) -> Samples:
        with np.load(path) as z:
            return cls(z["images"], z["keypoints"], z["visibility"], z["group"])

    @classmethod
    def concat(cls, parts: list[Samples]) -> Samples:
        parts = [p for p in parts if len(p)]
        if not parts:
            raise ValueError("no samples")
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                     ("images", "keypoints", "visibility", "group")))

    def subset(self, idx: np.ndarray) -> Samples:
        return Samples(self.images[idx], self.keypoints[idx], self.visibility[idx], self.group[idx])


def stored_size(input_size: tuple[int, int]) -> tuple[int, int]:
    return round(input_size[0] * MARGIN), round(input_size[1] * MARGIN)


def extract_crop(img: np.ndarray, box: Iterable[float], xy: np.ndarray, vis: np.ndarray,
                 input_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One stored crop (with margin) around ``box`` and its keypoints in crop pixels."""
    ws, hs = stored_size(input_size)
    c, cw = box_center_scale(box, input_size[0] / input_size[1])
    m = crop_matrix(c, cw * MARGIN, (ws, hs))
    factor = cw * MARGIN / ws
    if factor > 2:  # warpAffine has no area filter: shrink first, then warp
        crop = _downscale_warp(img, m, (ws, hs), factor)
    else:
        crop = cv2.warpAffine(img, m, (ws, hs), flags=cv2.INTER_LINEAR)
    return crop, apply_affine(m, np.asarray(xy, np.float64)).astype(np.float32)


def _downscale_warp(img: np.ndarray, m: np.ndarray, size: tuple[int, int], factor: float
                    ) -> np.ndarray:
    f = int(factor // 1.5)
    if f < 2:
        return cv2.warpAffine(img, m, size, flags=cv2.INTER_LINEAR)
    small = cv2.resize(img, (max(1, img.shape[1] // f), max(1, img.shape[0] // f)),
                       interpolation=cv2.INTER_AREA)
    sx = img.shape[1] / small.shape[1]
    sy = img.shape[0] / small.shape[0]
    m2 = m.copy()
    m2[:, 0] *= sx
    m2[:, 1] *= sy
    # small pixel centre i maps to original (i + 0.5) * s - 0.5
    m2[:, 2] = m[:, 2] + m[:, 0] * (0.5 * sx - 0.5) + m[:, 1] * (0.5 * sy - 0.5)
    return cv2.warpAffine(small, m2, size, flags=cv2.INTER_LINEAR)


def synthetic_samples(seed: int, n_scenes: int, input_size: tuple[int, int], *,
                      style: str = "default", group_offset: int = 0,
                      progress: object | None = None) -> Samples:
    """Renders ``n_scenes`` random scenes and keeps every sufficiently visible person."""
    from pose_studio.synth import render_scene

    rng = np.random.default_rng(seed)
    ws, hs = stored_size(input_size)
    imgs, kps, viss, groups = [], [], [], []
    for s in range(n_scenes):
        w = int(rng.integers(192, 480))
        h = int(rng.integers(192, 480))
        img, gt = render_scene(rng, (w, h), style=style)
        for p in range(len(gt.keypoints)):
            if gt.areas[p] < 150 or (gt.visibility[p] > 0).sum() < 4:
                continue
            crop, xy = extract_crop(img, gt.boxes[p], gt.keypoints[p], gt.visibility[p], input_size)
            imgs.append(crop)
            kps.append(xy)
            viss.append(gt.visibility[p])
            groups.append(group_offset + s)
        if progress is not None:
            progress(s + 1, n_scenes)  # type: ignore[operator]
    k = COCO17.num_keypoints
    return Samples(
        np.asarray(imgs, np.uint8).reshape(-1, hs, ws, 3),
        np.asarray(kps, np.float32).reshape(-1, k, 2),
        np.asarray(viss, np.uint8).reshape(-1, k),
        np.asarray(groups, np.int64),
    )


# --- targets and augmentation --------------------------------------------------------------------
def heatmap_targets(xy: np.ndarray, vis: np.ndarray, input_size: tuple[int, int],
                    sigma: float = SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian heatmaps (peak 1) at ``xy / STRIDE`` and per-keypoint weights."""
    wh, hh = input_size[0] // STRIDE, input_size[1] // STRIDE
    c = xy / STRIDE
    gx = np.arange(wh, dtype=np.float32)
    gy = np.arange(hh, dtype=np.float32)
    ex = np.exp(-((gx[None, :] - c[:, :1]) ** 2) / (2 * sigma**2))
    ey = np.exp(-((gy[None, :] - c[:, 1:]) ** 2) / (2 * sigma**2))
    hm = ey[:, :, None] * ex[:, None, :]
    inside = (c[:, 0] >= -0.5) & (c[:, 0] <= wh - 0.5) & (c[:, 1] >= -0.5) & (c[:, 1] <= hh - 0.5)
    weight = ((vis > 0) & inside).astype(np.float32)
    return hm.astype(np.float32), weight


def to_tensor_layout(bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 (H, W, 3) -> normalised RGB float32 (3, H, W)."""
    rgb = bgr[..., ::-1].astype(np.float32)
    return ((rgb - MEAN_RGB) / STD_RGB).transpose(2, 0, 1)


@dataclass(frozen=True)
class Augment:
    scale: tuple[float, float] = (0.7, 1.35)
    rotation: float = 40.0
    rotation_p: float = 0.6
    shift: float = 0.12
    flip_p: float = 0.5
    color: bool = True


def augment_sample(rng: np.random.Generator, crop: np.ndarray, xy: np.ndarray, vis: np.ndarray,
                   input_size: tuple[int, int], aug: Augment | None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A model-input crop (BGR uint8) from a stored crop, with keypoints and visibility."""
    hs, ws = crop.shape[:2]
    base_w = ws / MARGIN
    c = np.array([ws / 2, hs / 2])
    rot, flip, s = 0.0, False, 1.0
    if aug is not None:
        s = float(np.exp(rng.uniform(np.log(aug.scale[0]), np.log(aug.scale[1]))))
        if rng.random() < aug.rotation_p:
            rot = float(np.clip(rng.normal(0, aug.rotation / 2), -aug.rotation, aug.rotation))
        c = c + rng.uniform(-aug.shift, aug.shift, 2) * np.array([base_w, base_w * hs / ws])
        flip = bool(rng.random() < aug.flip_p)
    m = crop_matrix(c, base_w * s, input_size, rot, flip)
    border = cv2.BORDER_CONSTANT if aug is None or rng.random() < 0.5 else cv2.BORDER_REFLECT
    out = cv2.warpAffine(crop, m, input_size, flags=cv2.INTER_LINEAR, borderMode=border)
    pts = apply_affine(m, xy.astype(np.float64))
    v = vis.copy()
    if flip:
        perm = COCO17.flip_permutation()
        pts, v = pts[perm], v[perm]
    if aug is not None and aug.color:
        out = _color_jitter(rng, out)
    return out, pts.astype(np.float32), v


def _color_jitter(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    f: np.ndarray = img.astype(np.float32)
    if rng.random() < 0.8:
        f = f * rng.uniform(0.6, 1.4) + rng.uniform(-30, 30)
    if rng.random() < 0.5:  # saturation
        g = f.mean(2, keepdims=True)
        f = g + (f - g) * rng.uniform(0.3, 1.6)
    if rng.random() < 0.3:  # channel shuffle / colour cast
        f = f[..., rng.permutation(3)] if rng.random() < 0.5 else f * rng.uniform(0.8, 1.2, 3)
    if rng.random() < 0.05:
        f = np.repeat(f.mean(2, keepdims=True), 3, 2)
    if rng.random() < 0.2:
        f = np.asarray(cv2.GaussianBlur(f, (0, 0), float(rng.uniform(0.4, 1.2))))
    if rng.random() < 0.3:
        f = f + rng.normal(0, rng.uniform(2, 10), f.shape).astype(np.float32)
    return np.clip(f, 0, 255).astype(np.uint8)


def batches(samples: Samples, idx: np.ndarray, batch: int, input_size: tuple[int, int],
            rng: np.random.Generator, aug: Augment | None
            ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(inputs (B,3,H,W), heatmaps (B,K,h,w), weights (B,K)) batches over ``idx``."""
    for start in range(0, len(idx), batch):
        chunk = idx[start : start + batch]
        xs, hms, ws = [], [], []
        for i in chunk:
            img, pts, v = augment_sample(rng, samples.images[i], samples.keypoints[i],
                                         samples.visibility[i], input_size, aug)
            hm, w = heatmap_targets(pts, v, input_size)
            xs.append(to_tensor_layout(img))
            hms.append(hm)
            ws.append(w)
        yield np.stack(xs), np.stack(hms), np.stack(ws)


def split_by_groups(groups: np.ndarray, val_fraction: float, seed: int = 0, gap: int = 0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Train/val sample indices; whole groups go to one side.

    With ``gap > 0`` groups are frame indices of one video: consecutive frames form blocks of
    ``gap`` frames, blocks are assigned as a whole and training frames closer than ``gap`` to
    any validation frame are dropped, so near-duplicate neighbours never straddle the split.
    """
    rng = np.random.default_rng(seed)
    if gap > 0:
        blocks = groups // gap
    else:
        blocks = groups
    uniq = np.unique(blocks)
    n_val = max(1, round(len(uniq) * val_fraction)) if len(uniq) > 1 else 0
    val_blocks = set(rng.choice(uniq, n_val, replace=False).tolist()) if n_val else set()
    is_val = np.array([b in val_blocks for b in blocks], bool)
    train = np.nonzero(~is_val)[0]
    val = np.nonzero(is_val)[0]
    if gap > 0 and len(val):
        vg = np.sort(groups[val])
        pos = np.searchsorted(vg, groups[train])
        near = np.full(len(train), np.inf)
        for off in (-1, 0):
            j = np.clip(pos + off, 0, len(vg) - 1)
            near = np.minimum(near, np.abs(vg[j] - groups[train]))
        train = train[near >= gap]
    return train, val
