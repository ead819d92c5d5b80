"""An image's pixel size from its file header, without decoding it.

Indexing a folder of 100k photos must not decode 100k images: PNG, JPEG, BMP and WebP headers
give the size in a few hundred bytes. JPEG's EXIF orientation is honoured the way OpenCV's
``imdecode(..., IMREAD_COLOR)`` honours it (orientations 5-8 swap width and height), so the size
here is the size of the frame the reader returns. Other formats (TIFF, JPEG 2000, PGM/PPM) and
headers that cannot be parsed fall back to decoding the file once.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

__all__ = ["decode_image", "image_size"]

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_MAX_HEADER = 1 << 20  # never read more than 1 MiB of markers looking for a JPEG's frame header


def decode_image(path: Path) -> np.ndarray | None:
    """The image as BGR uint8 (EXIF orientation applied, grey expanded), or None if unreadable."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)  # works for non-ASCII paths everywhere
    except (OSError, ValueError):
        return None
    if data.size == 0:
        return None
    try:
        img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error:
        return None
    return img if img is not None and img.size else None


def image_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` of the frame :func:`decode_image` would return; None if unreadable."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
            size = _from_header(f, head)
    except OSError:
        return None
    if size is not None and size[0] > 0 and size[1] > 0:
        return size
    img = decode_image(path)
    return None if img is None else (int(img.shape[1]), int(img.shape[0]))


def _from_header(f: object, head: bytes) -> tuple[int, int] | None:
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            w, h = struct.unpack(">II", head[16:24])
            return int(w), int(h)
        if head.startswith(b"\xff\xd8"):
            return _jpeg_size(f)
        if head.startswith(b"BM") and len(head) >= 26:
            w, h = struct.unpack("<ii", head[18:26])
            return abs(int(w)), abs(int(h))
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            return _webp_size(head)
    except (struct.error, ValueError, IndexError):
        return None
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:
        w = 1 + int.from_bytes(head[24:27], "little")
        h = 1 + int.from_bytes(head[27:30], "little")
        return w, h
    if chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", head[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return None


def _jpeg_size(f: object) -> tuple[int, int] | None:
    """Walk the JPEG markers to the frame header; apply the EXIF orientation if one came first."""
    seek = f.seek  # type: ignore[attr-defined]
    read = f.read  # type: ignore[attr-defined]
    seek(2)
    orientation = 1
    pos = 2
    while pos < _MAX_HEADER:
        b = read(1)
        while b == b"\xff":  # fill bytes
            b = read(1)
        if not b:
            return None
        marker = b[0]
        pos = f.tell()  # type: ignore[attr-defined]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue  # markers without a length
        raw = read(2)
        if len(raw) < 2:
            return None
        length = struct.unpack(">H", raw)[0]
        if length < 2:
            return None
        if marker in _JPEG_SOF:
            seg = read(5)
            if len(seg) < 5:
                return None
            h, w = struct.unpack(">HH", seg[1:5])
            return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
        if marker == 0xE1 and orientation == 1:
            seg = read(length - 2)
            orientation = _exif_orientation(seg)
            seek(pos + length)
        elif marker == 0xDA:  # start of scan before any frame header: not a JPEG we can size
            return None
        else:
            seek(pos + length)
        pos = pos + length
    return None


def _exif_orientation(seg: bytes) -> int:
    """The orientation tag (1..8) of an APP1 EXIF segment, 1 when absent or unreadable."""
    if not seg.startswith(b"Exif\x00\x00") or len(seg) < 14:
        return 1
    tiff = seg[6:]
    order = tiff[:2]
    if order == b"II":
        fmt = "<"
    elif order == b"MM":
        fmt = ">"
    else:
        return 1
    try:
        (ifd,) = struct.unpack(fmt + "I", tiff[4:8])
        (n,) = struct.unpack(fmt + "H", tiff[ifd:ifd + 2])
        for i in range(n):
            off = ifd + 2 + 12 * i
            tag, typ, _count = struct.unpack(fmt + "HHI", tiff[off:off + 8])
            if tag == 0x0112:
                if typ == 3:  # SHORT
                    (value,) = struct.unpack(fmt + "H", tiff[off + 8:off + 10])
                else:
                    (value,) = struct.unpack(fmt + "I", tiff[off + 8:off + 12])
                return int(value) if 1 <= value <= 8 else 1
    except struct.error:
        return 1
    return 1
