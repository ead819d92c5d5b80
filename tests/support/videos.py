"""Test videos whose every frame carries its own index, drawn as big blocks.

Every frame shows a 5x4 grid of grey cells: 16 bits of the frame index plus 4 check bits. Cells are
large (a fifth of the width) so the pattern survives lossy codecs, chroma subsampling and scaling;
:func:`read_index_from_frame` decodes it by thresholding each cell's mean and returns -1 when the
check bits do not match (a black, grey or garbled frame never reads as a valid index).

Writers: PyAV (H.264/HEVC/MPEG-4/MJPEG/VP9/FFV1 in mp4, mov, mkv, avi, ts, webm; B-frames, GOP
length, open GOP, variable frame rate, rotation metadata, an optional audio track) and OpenCV's
``VideoWriter`` (MJPEG/MPEG-4) for files written the way OpenCV users write them.

Example::

    path = make_indexed_video(tmp_path / "a.mp4", 60, codec="h264", gop=12, bframes=2)
    with open_video(path) as reader:
        assert read_index_from_frame(reader.get(17)) == 17
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import cv2
import numpy as np

GRID_COLS = 5
GRID_ROWS = 4
INDEX_BITS = 16
CHECK_BITS = 4
MAX_FRAMES = 1 << INDEX_BITS
_CHECK_SALT = 0b1010  # so that index 0 is not an all-dark frame
_LOW, _HIGH = 45, 210  # cell grey levels for bit 0 / bit 1 (threshold at the mid-point)

# codec argument -> (PyAV encoder name, default pixel format)
_CODECS: dict[str, tuple[str, str]] = {
    "h264": ("libx264", "yuv420p"),
    "hevc": ("libx265", "yuv420p"),
    "h265": ("libx265", "yuv420p"),
    "mpeg4": ("mpeg4", "yuv420p"),
    "mjpeg": ("mjpeg", "yuvj420p"),
    "vp9": ("libvpx-vp9", "yuv420p"),
    "vp8": ("libvpx", "yuv420p"),
    "ffv1": ("ffv1", "yuv420p"),
}
_CV2_FOURCC = {"mjpeg": "MJPG", "mpeg4": "mp4v"}


def _check_bits(index: int) -> int:
    x = 0
    for shift in range(0, INDEX_BITS, 4):
        x ^= (index >> shift) & 0xF
    return x ^ _CHECK_SALT


def _cell_bounds(n: int, cells: int) -> np.ndarray:
    return np.linspace(0, n, cells + 1).round().astype(int)


@functools.lru_cache(maxsize=4)
def _noise_field(w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(1234)
    noise = rng.normal(0, 14, (h, w + 3 * 64)).astype(np.float32)
    blurred: np.ndarray = cv2.GaussianBlur(noise, (0, 0), 1.2)
    blurred.flags.writeable = False
    return blurred


def draw_index_frame(index: int, size: tuple[int, int], *, texture: bool = False) -> np.ndarray:
    """The displayed (upright) BGR frame for ``index`` at ``size`` (w, h)."""
    if not 0 <= index < MAX_FRAMES:
        raise ValueError(f"index {index} does not fit in {INDEX_BITS} bits")
    w, h = size
    word = index | (_check_bits(index) << INDEX_BITS)
    img: np.ndarray = np.empty((h, w), np.float32)
    xs, ys = _cell_bounds(w, GRID_COLS), _cell_bounds(h, GRID_ROWS)
    for cell in range(GRID_COLS * GRID_ROWS):
        r, c = divmod(cell, GRID_COLS)
        img[ys[r] : ys[r + 1], xs[c] : xs[c + 1]] = _HIGH if (word >> cell) & 1 else _LOW
    # A gentle ramp so a difference hash has a defined answer inside flat cells.
    ramp = np.add.outer(np.linspace(-12, 12, h), np.linspace(-12, 12, w)).astype(np.float32)
    img += ramp
    if texture:
        # A moving noise texture gives the encoder real work (benchmarks): shifts 3 px a frame.
        noise = _noise_field(w, h)
        off = (3 * index) % 192
        img += noise[:, off : off + w]
    grey = np.clip(img, 0, 255).astype(np.uint8)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def read_index_from_frame(frame_bgr: np.ndarray) -> int:
    """The index drawn by :func:`draw_index_frame` (any size, BGR or grey); -1 if unreadable."""
    a = np.asarray(frame_bgr)
    grey = a.astype(np.float32).mean(axis=2) if a.ndim == 3 else a.astype(np.float32)
    h, w = grey.shape
    xs, ys = _cell_bounds(w, GRID_COLS), _cell_bounds(h, GRID_ROWS)
    word = 0
    for cell in range(GRID_COLS * GRID_ROWS):
        r, c = divmod(cell, GRID_COLS)
        y0, y1, x0, x1 = ys[r], ys[r + 1], xs[c], xs[c + 1]
        # inner half of the cell: away from block edges where codecs smear
        qy, qx = (y1 - y0) // 4, (x1 - x0) // 4
        m = float(grey[y0 + qy : y1 - qy, x0 + qx : x1 - qx].mean())
        if m > (_LOW + _HIGH) / 2:
            word |= 1 << cell
    index = word & (MAX_FRAMES - 1)
    if (word >> INDEX_BITS) != _check_bits(index):
        return -1
    return index


def frame_times(n_frames: int, fps: float = 30, vfr: bool = False) -> list[float]:
    """Presentation times in seconds that :func:`make_indexed_video` gives the frames."""
    return [float(t) for t in _frame_times(n_frames, Fraction(fps).limit_denominator(1001), vfr)]


def _frame_times(n: int, fps: Fraction, vfr: bool) -> list[Fraction]:
    times: list[Fraction] = []
    t = Fraction(0)
    for i in range(n):
        times.append(t)
        # VFR: irregular steps of 1, 1.25, 1.5, 1.75, 2 frame periods
        step = (1 + Fraction((i * 7) % 5, 4)) if vfr else Fraction(1)
        t += step / fps
    return times


def _codec_options(
    codec: str, gop: int | None, bframes: int | None, open_gop: bool
) -> dict[str, str]:
    opts: dict[str, str] = {}
    if codec == "h264":
        opts["preset"] = "veryfast"
        params = []
        if gop is not None:
            params += [f"keyint={gop}", f"min-keyint={gop}", "scenecut=0"]
        if bframes is not None:
            params.append(f"bframes={bframes}")
        if open_gop:
            params.append("open-gop=1")
        if params:
            opts["x264-params"] = ":".join(params)
    elif codec in ("hevc", "h265"):
        opts["preset"] = "ultrafast"
        params = ["log-level=error"]
        if gop is not None:
            params += [f"keyint={gop}", f"min-keyint={gop}", "scenecut=0"]
        if bframes is not None:
            params.append(f"bframes={bframes}")
        params.append(f"open-gop={1 if open_gop else 0}")
        opts["x265-params"] = ":".join(params)
    elif codec in ("vp9", "vp8"):
        opts.update({"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"})
        if gop is not None:
            opts["g"] = str(gop)
    elif codec == "mjpeg":
        opts["q"] = "3"
    return opts


def make_indexed_video(
    path: str | Path,
    n_frames: int,
    size: tuple[int, int] = (160, 120),
    codec: str = "h264",
    fps: float = 30,
    vfr: bool = False,
    gop: int | None = 12,
    bframes: int | None = 2,
    *,
    open_gop: bool = False,
    rotation: int = 0,
    mirror: bool = False,
    texture: bool = False,
    audio: bool = False,
    faststart: bool = False,
    backend: str = "pyav",
    pix_fmt: str | None = None,
    first_index: int = 0,
) -> Path:
    """Write a video whose frame ``i`` shows ``i`` (read it back with :func:`read_index_from_frame`).

    Args:
        path: output file; the container follows the suffix (.mp4 .mov .mkv .avi .ts .webm).
        n_frames: number of frames (0 writes a file with a video stream and no frames).
        size: displayed (upright) width and height; even numbers for 4:2:0 codecs.
        codec: "h264", "hevc", "mpeg4", "mjpeg", "vp9", "vp8" or "ffv1".
        fps: nominal frame rate.
        vfr: irregular frame durations (1 to 2 periods); see :func:`frame_times`.
        gop: keyframe interval (None: encoder default).
        bframes: consecutive B-frames (H.264/HEVC/MPEG-4; None: encoder default).
        open_gop: open GOPs (H.264/HEVC): leading B-frames reference the previous GOP.
        rotation: clockwise display rotation (0/90/180/270) stored as a display matrix, like a
            phone held upright; pixels are stored rotated back so a correct reader shows the
            pattern upright at ``size``.
        mirror: the display matrix also flips left-right after the rotation (pixels stored
            mirrored back, so a correct reader still shows the pattern as drawn).
        texture: add a moving noise texture (realistic decode cost for benchmarks).
        audio: add a silent audio track (the reader must pick the video stream).
        faststart: MP4/MOV: put the sample index (moov) before the data.
        backend: "pyav" or "opencv" (cv2.VideoWriter; mjpeg/mpeg4 only, no options).
        pix_fmt: override the encoder pixel format.
        first_index: frame ``i`` shows ``first_index + i`` (a trimmed copy of another video).
    """
    path = Path(path)
    if backend == "opencv":
        return _write_opencv(path, n_frames, size, codec, fps, first_index)
    images = (draw_index_frame(first_index + i, size, texture=texture) for i in range(n_frames))
    return write_video(
        path,
        images,
        size=size,
        codec=codec,
        fps=fps,
        vfr=vfr,
        gop=gop,
        bframes=bframes,
        open_gop=open_gop,
        rotation=rotation,
        mirror=mirror,
        audio=audio,
        faststart=faststart,
        pix_fmt=pix_fmt,
        n_frames=n_frames,
    )


def display_matrix(rotation_cw: int, *, mirror: bool = False) -> list[int]:
    """FFmpeg's 3x3 display matrix (16.16 fixed point; 2.30 for the last column) for a
    clockwise turn, then an optional left-right flip, of the coded picture.

    A point (p, q) of the coded picture is shown at (p*m0 + q*m3, p*m1 + q*m4), y pointing down;
    a phone held upright writes rotation 90 as (0, 1, 0, -1, 0, 0, 0, 0, 1).
    """
    one = 1 << 16
    cos, sin = {0: (1, 0), 90: (0, 1), 180: (-1, 0), 270: (0, -1)}[rotation_cw % 360]
    m = [cos * one, sin * one, 0, -sin * one, cos * one, 0, 0, 0, 1 << 30]
    if mirror:
        m[0], m[3] = -m[0], -m[3]
    return m


def write_video(
    path: str | Path,
    images: Iterable[np.ndarray],
    size: tuple[int, int],
    codec: str = "h264",
    fps: float = 30,
    vfr: bool = False,
    gop: int | None = 12,
    bframes: int | None = 2,
    *,
    open_gop: bool = False,
    rotation: int = 0,
    mirror: bool = False,
    audio: bool = False,
    faststart: bool = False,
    pix_fmt: str | None = None,
    n_frames: int | None = None,
) -> Path:
    """Encode upright BGR ``images`` of ``size`` (w, h) with PyAV; options as in
    :func:`make_indexed_video` (``n_frames`` only sizes the VFR timestamp list)."""
    path = Path(path)
    if codec not in _CODECS:
        raise ValueError(f"unknown codec {codec!r}; choose from {sorted(_CODECS)}")
    encoder, default_pix = _CODECS[codec]
    rotation %= 360
    if rotation not in (0, 90, 180, 270):
        raise ValueError("rotation must be a multiple of 90")
    w, h = size
    coded_w, coded_h = (h, w) if rotation in (90, 270) else (w, h)
    rate = Fraction(fps).limit_denominator(1001)
    container_opts = {"movflags": "faststart"} if faststart else {}
    out = av.open(str(path), "w", options=container_opts)
    n_written = 0
    try:
        stream = cast(
            "av.video.stream.VideoStream",
            out.add_stream(
                encoder, rate=rate, options=_codec_options(codec, gop, bframes, open_gop)
            ),
        )
        stream.width, stream.height = coded_w, coded_h
        stream.pix_fmt = pix_fmt or default_pix
        if codec == "mpeg4":
            if gop is not None:
                stream.codec_context.gop_size = gop
            if bframes is not None:
                stream.codec_context.max_b_frames = bframes
        elif codec in ("vp9", "vp8", "mjpeg", "ffv1") and gop is not None:
            stream.codec_context.gop_size = gop
        time_base = Fraction(1, 90000) if vfr else 1 / rate
        stream.codec_context.time_base = time_base
        if mirror:
            stream.set_display_matrix(display_matrix(rotation, mirror=True))
        elif rotation:
            # display matrix angle is counter-clockwise; phones store "rotate 90" as -90
            stream.set_display_rotation(float(-rotation if rotation != 180 else 180))
        astream = None
        if audio:
            astream = cast("av.audio.stream.AudioStream", out.add_stream("aac", rate=48000))
            astream.layout = "mono"
        out.start_encoding()  # writes the header even when there are no frames
        t = Fraction(0)
        for i, img in enumerate(images):
            if img.shape[:2] != (h, w):
                raise ValueError(f"image {i} is {img.shape[1]}x{img.shape[0]}, expected {w}x{h}")
            if mirror:
                img = cv2.flip(img, 1)  # stored = unmirror, then turn back
            if rotation == 90:
                img = cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)
            elif rotation == 180:
                img = cv2.rotate(img, cv2.ROTATE_180)
            elif rotation == 270:
                img = cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
            frame.pts = int(t / time_base)
            frame.time_base = time_base
            step = (1 + Fraction((i * 7) % 5, 4)) if vfr else Fraction(1)
            t += step / rate
            n_written += 1
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if astream is not None:
            _write_silence(out, astream, n_written / float(rate))
    finally:
        out.close()
    return path


def _write_silence(
    out: av.container.OutputContainer, astream: av.audio.stream.AudioStream, seconds: float
) -> None:
    samples = int(seconds * 48000)
    pts = 0
    while pts < samples:
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 48000
        frame.pts = pts
        pts += 1024
        for packet in astream.encode(frame):
            out.mux(packet)
    for packet in astream.encode():
        out.mux(packet)


def _write_opencv(
    path: Path, n_frames: int, size: tuple[int, int], codec: str, fps: float, first_index: int = 0
) -> Path:
    if codec not in _CV2_FOURCC:
        raise ValueError(f"opencv backend writes {sorted(_CV2_FOURCC)}, not {codec!r}")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*_CV2_FOURCC[codec]), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"cv2.VideoWriter cannot write {path} with {codec}")
    try:
        for i in range(n_frames):
            writer.write(draw_index_frame(first_index + i, size))
    finally:
        writer.release()
    return path


def make_image_folder(
    directory: str | Path, n_frames: int, size: tuple[int, int] = (160, 120), ext: str = "png"
) -> Path:
    """Write ``img0.png, img1.png, ... img10.png`` (unpadded: natural sort needed) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(n_frames):
        ok = cv2.imwrite(str(directory / f"img{i}.{ext}"), draw_index_frame(i, size))
        if not ok:
            raise RuntimeError(f"cannot write image {i} to {directory}")
    return directory


def truncate_file(path: str | Path, keep_fraction: float) -> Path:
    """Cut the end off a file in place, keeping ``keep_fraction`` of its bytes."""
    path = Path(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path
