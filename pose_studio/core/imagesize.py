"""An image's size read from its header, without decoding it: a 2 KB PNG can claim 100,000 x
100,000 pixels, and decoding it would try to allocate 30 GB. :func:`check_image_file` refuses
such a file before any decoder sees it (``core.limits.check_image_size``).

PNG, JPEG, GIF, BMP, WebP, TIFF, PNM and JPEG 2000 headers are read; for anything else the size
is unknown (None) and OpenCV's own pixel limit applies.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

from pose_studio.core.limits import ResourceLimitError, check_allocation, check_image_size

__all__ = ["check_image_file", "image_size"]

_HEAD = 64 * 1024
#: Fewest pixels one byte of each format can hold (far beyond what real files reach: deflate
#: tops out near 1:1032 of 1-bit rows, a JPEG needs bits per 8x8 block): a file smaller than
#: its claim allows is damaged or crafted, and is refused before a decoder allocates the claim.
_MAX_PIXELS_PER_BYTE = {"png": 10_000, "gif": 10_000, "jpeg": 8_192, "bmp": 2_048, "pnm": 16}


def _png(h: bytes) -> tuple[int, int] | None:
    if h[:8] == b"\x89PNG\r\n\x1a\n" and h[12:16] == b"IHDR" and len(h) >= 24:
        w, ht = struct.unpack(">II", h[16:24])
        return w, ht
    return None


def _gif(h: bytes) -> tuple[int, int] | None:
    if h[:6] in (b"GIF87a", b"GIF89a") and len(h) >= 10:
        w, ht = struct.unpack("<HH", h[6:10])
        return w, ht
    return None


def _bmp(h: bytes) -> tuple[int, int] | None:
    if h[:2] == b"BM" and len(h) >= 26:
        size = struct.unpack("<I", h[14:18])[0]
        if size == 12:  # OS/2 BITMAPCOREHEADER
            w, ht = struct.unpack("<HH", h[18:22])
            return w, ht
        w, ht = struct.unpack("<ii", h[18:26])
        return abs(w), abs(ht)
    return None


def _webp(h: bytes) -> tuple[int, int] | None:
    if h[:4] != b"RIFF" or h[8:12] != b"WEBP" or len(h) < 30:
        return None
    kind = h[12:16]
    if kind == b"VP8 " and h[23:26] == b"\x9d\x01\x2a":
        w, ht = struct.unpack("<HH", h[26:30])
        return w & 0x3FFF, ht & 0x3FFF
    if kind == b"VP8L" and h[20:21] == b"\x2f":
        b = int.from_bytes(h[21:25], "little")
        return (b & 0x3FFF) + 1, ((b >> 14) & 0x3FFF) + 1
    if kind == b"VP8X":
        w = int.from_bytes(h[24:27], "little") + 1
        ht = int.from_bytes(h[27:30], "little") + 1
        return w, ht
    return None


def _pnm(h: bytes) -> tuple[int, int] | None:
    if len(h) < 3 or h[:1] != b"P" or h[1:2] not in b"123456" or not h[2:3].isspace():
        return None
    fields: list[int] = []
    for line in h[2:512].split(b"\n"):
        line = line.split(b"#", 1)[0]
        for tok in line.split():
            if not tok.isdigit():
                return None
            fields.append(int(tok))
            if len(fields) == 2:
                return fields[0], fields[1]
    return None


def _jp2(h: bytes) -> tuple[int, int] | None:
    i = h.find(b"ihdr")
    if h[4:8] == b"jP  " and i >= 0 and len(h) >= i + 12:
        ht, w = struct.unpack(">II", h[i + 4:i + 12])
        return w, ht
    if h[:4] == b"\xff\x4f\xff\x51" and len(h) >= 16:  # a raw codestream: SIZ marker
        w, ht = struct.unpack(">II", h[8:16])
        return w, ht
    return None


def _tiff(f: BinaryIO, h: bytes) -> tuple[int, int] | None:
    if h[:4] not in (b"II*\x00", b"MM\x00*") or len(h) < 8:
        return None
    e = "<" if h[:2] == b"II" else ">"
    (ifd,) = struct.unpack(e + "I", h[4:8])
    f.seek(ifd)
    raw = f.read(2)
    if len(raw) < 2:
        return None
    (n,) = struct.unpack(e + "H", raw)
    entries = f.read(12 * min(n, 512))
    w = ht = None
    for k in range(len(entries) // 12):
        tag, typ, _count = struct.unpack(e + "HHI", entries[12 * k:12 * k + 8])
        val = entries[12 * k + 8:12 * k + 12]
        v = struct.unpack(e + "H", val[:2])[0] if typ == 3 else struct.unpack(e + "I", val)[0]
        if tag == 256:
            w = v
        elif tag == 257:
            ht = v
    return (w, ht) if w is not None and ht is not None else None


def _jpeg(f: BinaryIO) -> tuple[int, int] | None:
    f.seek(0)
    if f.read(2) != b"\xff\xd8":
        return None
    for _ in range(4096):  # segments before the frame header
        b = f.read(1)
        while b and b != b"\xff":
            b = f.read(1)
        while b == b"\xff":
            b = f.read(1)
        if not b:
            return None
        marker = b[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        raw = f.read(2)
        if len(raw) < 2:
            return None
        (length,) = struct.unpack(">H", raw)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            sof = f.read(5)
            if len(sof) < 5:
                return None
            ht, w = struct.unpack(">HH", sof[1:5])
            return w, ht
        if length < 2:
            return None
        f.seek(length - 2, os.SEEK_CUR)
    return None


def _sniff(path: str | os.PathLike[str]) -> tuple[str, tuple[int, int]] | None:
    with open(path, "rb") as f:
        h = f.read(_HEAD)
        for name, parse in (("png", _png), ("gif", _gif), ("bmp", _bmp), ("webp", _webp),
                            ("pnm", _pnm), ("jp2", _jp2)):
            got = parse(h)
            if got is not None:
                return name, got
        try:
            tiff = _tiff(f, h)
            if tiff is not None:
                return "tiff", tiff
            jpeg = _jpeg(f)
            return ("jpeg", jpeg) if jpeg is not None else None
        except struct.error:
            return None


def image_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """``(width, height)`` from the file's header, or None when the format is not one of the
    above or the header is cut short (never raises for a readable file's content)."""
    got = _sniff(path)
    return got[1] if got is not None else None


def check_image_file(path: str | os.PathLike[str], what: str = "image") -> None:
    """Refuse an image whose header claims more pixels than this machine can decode, more than
    its file size can hold, or a file larger than the memory it would be read into.

    Raises:
        ResourceLimitError: with the claimed size and the limit.
        OSError: the file cannot be read.
    """
    p = Path(path)
    size_bytes = p.stat().st_size
    check_allocation(size_bytes, f"{what} {p.name}")
    got = _sniff(p)
    if got is None:
        return
    fmt, (w, h) = got
    check_image_size(w, h, f"{what} {p.name}", channels=3)
    ratio = _MAX_PIXELS_PER_BYTE.get(fmt)
    if ratio is not None and w * h > max(size_bytes, 1) * ratio:
        raise ResourceLimitError(
            f"{what} {p.name}: its header claims {w}x{h} pixels but the file has only "
            f"{size_bytes} bytes: damaged or crafted, so it was not decoded")
