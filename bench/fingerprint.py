"""Fingerprint separation: same frame after re-encoding vs the neighbouring frame.

A re-encode that shifts frames by 1-2 (a tool dropped/duplicated a frame at the start, a VFR
re-encode) must be caught per frame; a plain re-encode (other codec, quality, pixel format,
a 0.75x rescale) must not raise a false alarm. For each clip the original is encoded once
(H.264 CRF 20, the "labeled" video); every variant is a transcode of that file. Printed per
fingerprint: the largest distance between frame ``i`` of the original and frame ``i`` of any
re-encode (``same max``), and the smallest distance to frame ``i +- 1`` / ``i +- 2``
(``shift1 min`` / ``shift2 min``), each as a ratio to the kind's threshold (<= 1 = same).
The baseline is the old 64-bit difference hash, measured in the same run.

Run: ``python bench/fingerprint.py`` (a few seconds; 2 small clips, 1 thread).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pose_studio.formats.frame_check import NEIGHBOUR_RATIO, NEIGHBOURS
from pose_studio.video.fingerprint import (
    DEFAULT_MAX_DISTANCE,
    SIGNATURE_MAX_DISTANCE,
    fingerprint,
    fingerprint_distance,
    frame_signature,
    signature_distance,
)

cv2.setNumThreads(1)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.moving_blobs import blob_frames  # noqa: E402


def blob_clip(n: int, size: tuple[int, int] = (320, 240), seed: int = 0) -> list[np.ndarray]:
    """Static textured background, three small 'people' walking slowly (0.7-2 px per frame)."""
    return blob_frames(n, size, seed, speeds=(0.7, -1.2, 2.0))


def synth_clip(n: int, size: tuple[int, int] = (320, 240)) -> list[np.ndarray] | None:
    try:
        from pose_studio.synth.clip import render_clip

        frames, _ = render_clip(3, n_frames=n, size=size, n_people=2)
        return [np.ascontiguousarray(f) for f in frames]
    except Exception as e:  # the synth package is being finished elsewhere
        print(f"(synthetic people clip unavailable: {e})")
        return None


def encode(frames: Sequence[np.ndarray], codec: str, opts: dict[str, str], pix: str,
           fmt: str = "matroska", scale: float = 1.0, bit_rate: int | None = None
           ) -> list[np.ndarray]:
    """Encode with PyAV in memory and decode again (BGR frames)."""
    h, w = frames[0].shape[:2]
    if scale != 1.0:
        w, h = round(w * scale / 2) * 2, round(h * scale / 2) * 2
    buf = io.BytesIO()
    out: Any
    with av.open(buf, "w", format=fmt) as out:
        st: Any = out.add_stream(codec, rate=25, options=opts)
        st.width, st.height, st.pix_fmt = w, h, pix
        st.thread_count = 1
        if bit_rate is not None:
            st.bit_rate = bit_rate
        for f in frames:
            img = f if scale == 1.0 else cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
            for p in st.encode(vf):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    buf.seek(0)
    inp: Any
    with av.open(buf) as inp:
        inp.streams.video[0].thread_count = 1
        return [fr.to_ndarray(format="bgr24") for fr in inp.decode(video=0)]


def _bpp(frames: list[np.ndarray], bits_per_pixel: float) -> int:
    h, w = frames[0].shape[:2]
    return int(w * h * 25 * bits_per_pixel)


VARIANTS: dict[str, Callable[[list[np.ndarray]], list[np.ndarray]]] = {
    "h264 crf18": lambda f: encode(f, "libx264", {"crf": "18"}, "yuv420p"),
    "h264 crf35": lambda f: encode(f, "libx264", {"crf": "35"}, "yuv420p"),
    "h264 crf23 yuv444": lambda f: encode(f, "libx264", {"crf": "23"}, "yuv444p"),
    "mpeg4 ~0.5 bpp": lambda f: encode(f, "mpeg4", {}, "yuv420p", bit_rate=_bpp(f, 0.5)),
    "mjpeg ~1 bpp": lambda f: encode(f, "mjpeg", {}, "yuvj420p", fmt="avi",
                                     bit_rate=_bpp(f, 1.0)),
    "h264 crf23 0.75x": lambda f: encode(f, "libx264", {"crf": "23"}, "yuv420p", scale=0.75),
}

Kind = tuple[Callable[[np.ndarray], object], Callable[[object, object], float], float]
KINDS: dict[str, Kind] = {
    "64-bit dhash (old)": (fingerprint, lambda a, b: fingerprint_distance(a, b),  # type: ignore[arg-type]
                           float(DEFAULT_MAX_DISTANCE)),
    "32x32 signature": (frame_signature, lambda a, b: signature_distance(a, b),  # type: ignore[arg-type]
                        SIGNATURE_MAX_DISTANCE),
}


def _rule(D: np.ndarray, i: int, k: int, neighbours: bool) -> bool:
    """Is the label of frame ``i`` flagged when the video's frame ``i`` shows original ``k``?
    ``D[i, j]``: distance (ratio to threshold) of stored ``i`` to the video's frame ``j``
    (here the re-encode's frame ``j - (i - k)``)."""
    n = D.shape[0]
    here = D[i, k]
    if here > 1.0:
        return True
    if not neighbours:
        return False
    near = [D[i, k + d] for d in range(-NEIGHBOURS, NEIGHBOURS + 1) if d and 0 <= k + d < n]
    return bool(near) and min(near) < NEIGHBOUR_RATIO * here


def measure(name: str, frames: list[np.ndarray]) -> dict[str, tuple[float, float, float, float]]:
    orig = encode(frames, "libx264", {"crf": "20"}, "yuv420p")
    variants = {k: fn(orig) for k, fn in VARIANTS.items()}
    n = len(orig)
    res: dict[str, tuple[float, float, float, float]] = {}
    for kind, (fp, dist, thr) in KINDS.items():
        ref = [fp(f) for f in orig]
        same: list[float] = []
        near: dict[int, list[float]] = {1: [], 2: []}
        flags: dict[int, list[bool]] = {0: [], 1: [], 2: [], -1: [], -2: []}
        worst_same = ""
        for vname, vf in variants.items():
            cur = [fp(f) for f in vf]
            D = np.array([[dist(ref[i], cur[j]) / thr for j in range(n)] for i in range(n)])
            for i in range(n):
                if not same or D[i, i] > max(same):
                    worst_same = vname
                same.append(float(D[i, i]))
                for s in (1, 2):
                    near[s] += [float(D[i, j]) for j in (i - s, i + s) if 0 <= j < n]
            # the video now shows original k = i - s on frame i (s frames added at the start)
            for s in flags:
                for i in range(NEIGHBOURS + 2, n - NEIGHBOURS - 2):
                    flags[s].append(_rule(D, i, i - s, kind.startswith("32")))
        hi, m1, m2 = max(same), min(near[1]), min(near[2])
        fa = float(np.mean(flags[0]))
        det = {s: float(np.mean(v)) for s, v in flags.items() if s}
        res[kind] = (hi, m1, m2, min(det.values()))
        print(f"  {name:<14} {kind:<20} same max {hi:5.2f} ({worst_same:<17}) "
              f"shift1 min {m1:5.2f}  shift2 min {m2:5.2f} | rule: false alarms {fa:5.1%}, "
              f"caught shift +1 {det[1]:5.1%} +2 {det[2]:5.1%} -1 {det[-1]:5.1%} "
              f"-2 {det[-2]:5.1%}")
    return res


def main() -> None:
    print(f"thresholds: old hash {DEFAULT_MAX_DISTANCE} bits, signature {SIGNATURE_MAX_DISTANCE}"
          " (distances below are ratios to the threshold: <= 1 counts as the same picture)")
    clips = {"blobs 320x240": blob_clip(40), "blobs 160x120": blob_clip(40, (160, 120), 1)}
    synth = synth_clip(40)
    if synth is not None:
        clips["synth people"] = synth
    results = {name: measure(name, frames) for name, frames in clips.items()}
    old = [r["64-bit dhash (old)"] for r in results.values()]
    new = [r["32x32 signature"] for r in results.values()]
    print(f"worst case over clips: old hash same max {max(o[0] for o in old):.2f} / shift1 min "
          f"{min(o[1] for o in old):.2f};  signature same max {max(x[0] for x in new):.2f} / "
          f"shift1 min {min(x[1] for x in new):.2f}")
    worst_old, worst_new = min(o[3] for o in old), min(x[3] for x in new)
    print(f"shifted labels caught per frame (worst clip and shift): old hash {worst_old:.1%} "
          f"(baseline), signature + neighbour rule {worst_new:.1%} "
          f"(ratio {worst_new / max(worst_old, 1e-3):.1f}x)")


if __name__ == "__main__":
    main()
