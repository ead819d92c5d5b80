"""Backgrounds, clothing textures, occluding objects and camera effects (numpy + OpenCV)."""

from __future__ import annotations

import itertools

import cv2
import numpy as np

TILE = 64


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [0, 1] of shape (h, w)."""
    g = rng.random((max(2, cells * h // max(h, w) + 1), max(2, cells * w // max(h, w) + 1)))
    out = cv2.resize(g.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(out, 0.0, 1.0)


def random_color(rng: np.random.Generator, *, saturated: bool = False) -> np.ndarray:
    """A BGR colour (float32 0..255)."""
    hue = rng.uniform(0, 180)
    sat = rng.uniform(150, 255) if saturated else rng.uniform(0, 220)
    val = rng.uniform(140, 255) if saturated else rng.uniform(25, 240)
    hsv = np.array([[[hue, sat, val]]], np.uint8)
    return np.asarray(cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR))[0, 0].astype(np.float32)


def skin_color(rng: np.random.Generator) -> np.ndarray:
    tones = np.array(
        [[197, 224, 255], [160, 196, 234], [120, 160, 205], [84, 122, 170], [50, 80, 120],
         [35, 55, 85]], dtype=np.float32,
    )  # fmt: skip
    t = tones[rng.integers(len(tones))]
    return np.clip(t * rng.uniform(0.85, 1.1) + rng.normal(0, 6, 3), 0, 255).astype(np.float32)


def texture_tile(
    rng: np.random.Generator, base: np.ndarray, *, saturated: bool = False, flat: bool = False
) -> np.ndarray:
    """A (TILE, TILE, 3) float32 clothing texture around ``base`` colour."""
    tile = np.empty((TILE, TILE, 3), np.float32)
    tile[:] = base
    kind = "solid" if flat else rng.choice(["solid", "solid", "stripes", "checks", "noise", "dots"])
    yy, xx = np.mgrid[0:TILE, 0:TILE].astype(np.float32)
    other = random_color(rng, saturated=saturated)
    if kind == "stripes":
        period = float(rng.choice([4, 8, 16, 32]))
        ang = rng.choice([0.0, np.pi / 2, np.pi / 4])
        m = (np.sin((xx * np.cos(ang) + yy * np.sin(ang)) * 2 * np.pi / period) > 0)[..., None]
        tile = np.where(m, tile, other)
    elif kind == "checks":
        period = int(rng.choice([8, 16, 32]))
        m = (((xx // period) + (yy // period)) % 2 == 0)[..., None]
        tile = np.where(m, tile, 0.5 * (tile + other))
    elif kind == "noise":
        n = _smooth_noise(rng, TILE, TILE, int(rng.integers(4, 16)))[..., None]
        tile = (tile * (0.7 + 0.6 * n)).astype(np.float32)
    elif kind == "dots":
        for _ in range(int(rng.integers(4, 16))):
            c = (int(rng.integers(0, TILE)), int(rng.integers(0, TILE)))
            cv2.circle(tile, c, int(rng.integers(2, 5)), other.tolist(), -1)
    if not flat:
        tile += rng.normal(0, rng.uniform(0, 8), tile.shape).astype(np.float32)
    return np.clip(tile, 0, 255)


def background(rng: np.random.Generator, h: int, w: int, style: str = "default") -> np.ndarray:
    """A (h, w, 3) float32 BGR background: noise, gradients, shapes or image-like clutter."""
    kind = rng.choice(["noise", "gradient", "shapes", "clutter", "clutter", "room"])
    c1, c2 = random_color(rng), random_color(rng)
    if kind == "gradient":
        t = np.linspace(0, 1, w if rng.random() < 0.5 else h, dtype=np.float32)
        t = t[None, :, None] if t.size == w else t[:, None, None]
        img = c1 * (1 - t) + c2 * t
        img = np.broadcast_to(img, (h, w, 3)).copy()
    elif kind == "noise":
        n = _smooth_noise(rng, h, w, int(rng.integers(3, 40)))[..., None]
        img = c1 * (1 - n) + c2 * n
    else:
        n = _smooth_noise(rng, h, w, int(rng.integers(2, 8)))[..., None]
        img = (c1 * (1 - n) + c2 * n).astype(np.float32)
        if kind == "room":  # floor + wall with a horizon line
            y0 = int(rng.uniform(0.3, 0.75) * h)
            floor = random_color(rng)
            img[y0:] = floor * (0.75 + 0.5 * _smooth_noise(rng, h - y0, w, 20)[..., None])
            for x in range(int(rng.integers(0, w)), w, int(rng.integers(20, 120))):
                cv2.line(img, (x, 0), (x, y0), (random_color(rng) * 0.8).tolist(), 2)
        n_shapes = {"shapes": rng.integers(3, 15), "clutter": rng.integers(15, 60)}.get(
            str(kind), rng.integers(2, 8)
        )
        for _ in range(int(n_shapes)):
            _random_shape(rng, img, h, w, clutter=kind == "clutter")
        if kind == "clutter" and rng.random() < 0.7:
            img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 2.5)))
    img = img + rng.normal(0, rng.uniform(0, 10), img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.float32)


def _random_shape(
    rng: np.random.Generator, img: np.ndarray, h: int, w: int, *, clutter: bool
) -> None:
    col = random_color(rng).tolist()
    s = max(h, w)
    kind = rng.integers(0, 5 if clutter else 4)
    cx, cy = int(rng.integers(-s // 8, w + s // 8)), int(rng.integers(-s // 8, h + s // 8))
    size = int(rng.uniform(0.03, 0.35) * s)
    if kind == 0:
        cv2.rectangle(img, (cx, cy), (cx + size, cy + int(size * rng.uniform(0.3, 3))), col, -1)
    elif kind == 1:
        cv2.circle(img, (cx, cy), max(2, size // 2), col, -1)
    elif kind == 2:
        poly = np.stack([rng.integers(cx - size, cx + size, 5),
                         rng.integers(cy - size, cy + size, 5)], 1)
        cv2.fillPoly(img, [poly.astype(np.int32)], col)
    elif kind == 3:
        p2 = (cx + int(rng.normal(0, size)), cy + int(rng.normal(0, size)))
        cv2.line(img, (cx, cy), p2, col, int(rng.integers(1, max(2, size // 6))))
    else:  # limb-like distractor: a chain of thick segments (teaches "not every stick is a person")
        pts: list[tuple[int, int]] = [(cx, cy)]
        for _ in range(int(rng.integers(2, 4))):
            ang = rng.uniform(0, 2 * np.pi)
            pts.append((int(pts[-1][0] + size * np.cos(ang) / 2),
                        int(pts[-1][1] + size * np.sin(ang) / 2)))
        th = int(rng.integers(3, max(4, size // 5)))
        for a, b in itertools.pairwise(pts):
            cv2.line(img, a, b, col, th)


def occluder(rng: np.random.Generator, h: int, w: int, near: tuple[float, float], size: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """An object polygon near ``near`` (x, y) and its texture colour; returns (mask, colour)."""
    mask = np.zeros((h, w), np.uint8)
    cx = near[0] + rng.normal(0, size * 0.4)
    cy = near[1] + rng.normal(0, size * 0.4)
    kind = rng.integers(0, 3)
    if kind == 0:  # box / table / sign
        bw, bh = size * rng.uniform(0.3, 1.2), size * rng.uniform(0.2, 0.9)
        box = cv2.boxPoints(((cx, cy), (bw, bh), float(rng.uniform(-20, 20))))
        cv2.fillConvexPoly(mask, box.astype(np.int32), 1)
    elif kind == 1:  # ball / bush
        cv2.ellipse(mask, (int(cx), int(cy)), (int(size * rng.uniform(0.15, 0.5)),
                    int(size * rng.uniform(0.15, 0.5))), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    else:  # pole / bar
        ang = rng.uniform(0, np.pi)
        d = np.array([np.cos(ang), np.sin(ang)]) * size
        p1, p2 = np.array([cx, cy]) - d, np.array([cx, cy]) + d
        cv2.line(mask, tuple(int(v) for v in p1), tuple(int(v) for v in p2), 1,
                 max(2, int(size * rng.uniform(0.05, 0.2))))
    return mask.astype(bool), random_color(rng)


def post_effects(rng: np.random.Generator, img: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Lighting, colour cast, blur, noise and JPEG-like artefacts; float in, uint8 out."""
    h, w = img.shape[:2]
    if rng.random() < 0.6 * strength:  # uneven light
        light = 0.6 + 0.8 * _smooth_noise(rng, h, w, 2)[..., None]
        img = img * light
    gain = rng.uniform(0.6, 1.3) if rng.random() < strength else 1.0
    cast = rng.uniform(0.85, 1.15, 3).astype(np.float32) if rng.random() < 0.5 * strength else 1.0
    img = img * gain * cast + rng.uniform(-25, 25) * (rng.random() < 0.5 * strength)
    r = rng.random()
    if r < 0.25 * strength:
        img = np.asarray(cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 2.0))), np.float32)
    elif r < 0.4 * strength:  # motion blur
        k = int(rng.integers(3, 9))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
        kernel = np.asarray(cv2.warpAffine(kernel, rot, (k, k)), np.float32)
        kernel /= max(float(kernel.sum()), 1e-6)
        img = np.asarray(cv2.filter2D(img, -1, kernel), np.float32)
    if rng.random() < 0.5 * strength:
        img = img + rng.normal(0, rng.uniform(1, 8), img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.3 * strength:
        ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        dec = cv2.imdecode(enc, cv2.IMREAD_COLOR) if ok else None
        if dec is not None:
            out = np.asarray(dec, np.uint8)
    return out
