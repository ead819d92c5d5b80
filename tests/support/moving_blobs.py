"""Static-camera test clips with small moving 'people' (for frame fingerprint tests).

A fixed textured background with three small figures (an ellipse body, a head and a swinging
arm, about a tenth of the frame high) walking 1-2.5 px per frame: neighbouring frames differ
only in a few small places, the hard case for telling frame ``i`` from ``i + 1``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np


def blob_frames(n: int, size: tuple[int, int] = (160, 120), seed: int = 0,
                speeds: tuple[float, float, float] = (1.0, -1.5, 2.5)) -> list[np.ndarray]:
    """``n`` BGR frames of ``size`` (w, h); ``speeds`` are the figures' px per frame."""
    w, h = size
    rng = np.random.default_rng(seed)
    bg = cv2.resize(rng.integers(40, 220, (max(2, h // 8), max(2, w // 8), 3)).astype(np.uint8),
                    size, interpolation=cv2.INTER_CUBIC)
    bg = np.clip(bg.astype(np.int16) + rng.integers(0, 12, bg.shape), 0, 255).astype(np.uint8)
    people = [(0.2 * w, 0.55 * h, speeds[0], (30, 30, 160)),
              (0.6 * w, 0.6 * h, speeds[1], (200, 190, 60)),
              (0.4 * w, 0.35 * h, speeds[2], (60, 140, 60))]
    out = []
    for t in range(n):
        img = bg.copy()
        for x0, y0, v, col in people:
            x, y = round(x0 + v * t), int(y0)
            pw, ph = max(3, w // 40), max(8, h // 10)
            cv2.ellipse(img, (x, y), (pw, ph), 0, 0, 360, col, -1, cv2.LINE_AA)
            cv2.circle(img, (x, y - ph - pw), pw, (150, 170, 220), -1, cv2.LINE_AA)
            a = np.radians(30 * np.sin(t / 3.0))
            cv2.line(img, (x, y - ph // 2), (int(x + ph * np.sin(a)), int(y + ph * np.cos(a) // 2)),
                     col, max(1, pw // 2), cv2.LINE_AA)
        out.append(img)
    return out


def encode(
    path: str | Path | None,
    frames: Sequence[np.ndarray],
    codec: str = "libx264",
    options: dict[str, str] | None = None,
    pix_fmt: str = "yuv420p",
    *,
    scale: float = 1.0,
    bit_rate: int | None = None,
    fmt: str | None = None,
) -> Path | list[np.ndarray]:
    """Encode BGR ``frames`` with PyAV (25 fps, one thread): to ``path``, or (``path=None``) in
    memory, returning the decoded frames."""
    h, w = frames[0].shape[:2]
    if scale != 1.0:
        w, h = round(w * scale / 2) * 2, round(h * scale / 2) * 2
    target: Any = io.BytesIO() if path is None else str(path)
    out: Any
    with av.open(target, "w", format=fmt or ("matroska" if path is None else None)) as out:
        st: Any = out.add_stream(codec, rate=25, options=options or {})
        st.width, st.height, st.pix_fmt = w, h, pix_fmt
        st.thread_count = 1
        if bit_rate is not None:
            st.bit_rate = bit_rate
        for f in frames:
            img = f if scale == 1.0 else cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)
            for p in st.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img),
                                                          format="bgr24")):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    if path is not None:
        return Path(path)
    target.seek(0)
    inp: Any
    with av.open(target) as inp:
        inp.streams.video[0].thread_count = 1
        return [fr.to_ndarray(format="bgr24") for fr in inp.decode(video=0)]


def decoded(frames: Sequence[np.ndarray], codec: str = "libx264",
            options: dict[str, str] | None = None, **kw: Any) -> list[np.ndarray]:
    """``frames`` after an in-memory encode/decode round trip."""
    out = encode(None, frames, codec, options, **kw)
    assert isinstance(out, list)
    return out


def write_drifting_slab(folder: Path, n: int, velocity: tuple[float, float]) -> Path:
    """``n`` lossless PNG frames (``frame000.png``...) of a textured slab drifting by
    ``velocity`` px a frame (sub-pixel steps), for propagation tests."""
    import cv2

    rng = np.random.default_rng(3)
    tex = cv2.GaussianBlur((rng.random((150, 90, 3)) * 255).astype(np.float32), (0, 0), 1.2)
    for f in range(n):
        img = np.full((200, 240, 3), 120, np.float32)
        m = np.float32([[1, 0, 30 + velocity[0] * f], [0, 1, 15 + velocity[1] * f]])
        cv2.warpAffine(tex, m, (240, 200), dst=img, flags=cv2.INTER_CUBIC,
                       borderMode=cv2.BORDER_TRANSPARENT)
        cv2.imwrite(str(folder / f"frame{f:03d}.png"), np.clip(img, 0, 255).astype(np.uint8))
    return folder
