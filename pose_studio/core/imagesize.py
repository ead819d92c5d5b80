"""An image's size read from its header, without decoding it: the one header reader of Pose
Studio (image sets, dataset readers and the memory checks all use it).

Two reasons to read headers: indexing a folder of 100k photos must not decode 100k images, and a
2 KB PNG can claim 100,000 x 100,000 pixels, whose decoding would try to allocate 30 GB.
:func:`check_image_file` refuses such a file before any decoder sees it
(``core.limits.check_image_size``).

PNG, JPEG, GIF, BMP, WebP, TIFF, PNM and JPEG 2000 headers are read. The size is the size of the
frame OpenCV's ``imdecode(..., IMREAD_COLOR)`` returns: an EXIF orientation of 5 to 8 (JPEG's
APP1, PNG's ``eXIf`` chunk before the image data or at the file's end, WebP's ``EXIF`` chunk,
TIFF's orientation tag) swaps width and height, as OpenCV turns the picture upright. For
anything else the size is unknown (None) and the caller decides (``video.image_header`` decodes
the file once).

Only regular files are opened: a FIFO named ``x.png`` would block the first read.
"""

from __future__ import annotations

import os
import stat
import struct
import zlib
from pathlib import Path
from typing import BinaryIO, NamedTuple

from pose_studio.core.limits import ResourceLimitError, check_allocation, check_image_size

__all__ = ["IMAGE_SUFFIXES", "ImageHeader", "check_image_file", "image_size", "read_header"]

#: File name endings taken as images (image sets, dataset folders).
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pgm", ".ppm"}
)

_HEAD = 64 * 1024
#: Never walk more than this many bytes of JPEG markers looking for the frame header.
_MAX_JPEG_HEADER = 1 << 20
#: Bytes at the end of a PNG searched for an ``eXIf`` chunk written after the image data.
_PNG_TAIL = 4096
#: Fewest pixels one byte of each format can hold (far beyond what real files reach: deflate
#: tops out near 1:1032 of 1-bit rows, a JPEG needs bits per 8x8 block): a file smaller than
#: its claim allows is damaged or crafted, and is refused before a decoder allocates the claim.
_MAX_PIXELS_PER_BYTE = {"png": 10_000, "gif": 10_000, "jpeg": 8_192, "bmp": 2_048, "pnm": 16}
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                       0xCF})
_ORIENTATION_TAG = 0x0112


class ImageHeader(NamedTuple):
    """What a file's header says: its format, its stored size and its EXIF orientation (1..8)."""

    format: str
    width: int
    height: int
    orientation: int = 1

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the frame as decoded (turned upright by its orientation)."""
        turned = self.orientation in (5, 6, 7, 8)
        return (self.height, self.width) if turned else (self.width, self.height)


# --- EXIF ----------------------------------------------------------------------------------------
def _tiff_orientation(t: bytes) -> int:
    """The orientation tag (1..8) of a TIFF structure held in ``t`` (EXIF), 1 when absent."""
    order = {b"II": "<", b"MM": ">"}.get(t[:2])
    if order is None or len(t) < 8:
        return 1
    try:
        (ifd,) = struct.unpack(order + "I", t[4:8])
        (n,) = struct.unpack(order + "H", t[ifd:ifd + 2])
        for i in range(min(n, 512)):
            off = ifd + 2 + 12 * i
            tag, typ, _count = struct.unpack(order + "HHI", t[off:off + 8])
            if tag == _ORIENTATION_TAG:
                fmt = "H" if typ == 3 else "I"
                (value,) = struct.unpack(order + fmt, t[off + 8:off + 8 + struct.calcsize(fmt)])
                return int(value) if 1 <= value <= 8 else 1
    except struct.error:
        return 1
    return 1


def _exif_app1_orientation(seg: bytes) -> int:
    return _tiff_orientation(seg[6:]) if seg.startswith(b"Exif\x00\x00") else 1


# --- formats -------------------------------------------------------------------------------------
def _png(f: BinaryIO, h: bytes) -> ImageHeader | None:
    if h[:8] != b"\x89PNG\r\n\x1a\n" or h[12:16] != b"IHDR" or len(h) < 24:
        return None
    w, ht = struct.unpack(">II", h[16:24])
    return ImageHeader("png", w, ht, _png_orientation(f, h))


def _png_exif(tag: bytes, data: bytes, crc: bytes) -> int | None:
    if tag != b"eXIf" or len(crc) != 4:
        return None
    if struct.unpack(">I", crc)[0] != zlib.crc32(tag + data):
        return None
    return _tiff_orientation(data)


def _png_orientation(f: BinaryIO, h: bytes) -> int:
    """The ``eXIf`` chunk's orientation: looked for among the chunks before the image data (in
    the header already read), then in the file's last few KiB (where writers that add it after
    the image data put it); a candidate there counts only when its CRC matches."""
    pos = 8
    while pos + 8 <= len(h):
        (length,) = struct.unpack(">I", h[pos:pos + 4])
        tag = h[pos + 4:pos + 8]
        if tag in (b"IDAT", b"IEND"):
            break
        end = pos + 8 + length
        if end + 4 > len(h):
            break
        got = _png_exif(tag, h[pos + 8:end], h[end:end + 4])
        if got is not None:
            return got
        pos = end + 4
    size = f.seek(0, os.SEEK_END)
    start = max(0, size - _PNG_TAIL)
    f.seek(start)
    tail = f.read(_PNG_TAIL)
    i = tail.rfind(b"eXIf")
    while i >= 4:
        (length,) = struct.unpack(">I", tail[i - 4:i])
        end = i + 4 + length
        got = _png_exif(b"eXIf", tail[i + 4:end], tail[end:end + 4])
        if got is not None:
            return got
        i = tail.rfind(b"eXIf", 0, i)
    return 1


def _gif(h: bytes) -> ImageHeader | None:
    if h[:6] in (b"GIF87a", b"GIF89a") and len(h) >= 10:
        w, ht = struct.unpack("<HH", h[6:10])
        return ImageHeader("gif", w, ht)
    return None


def _bmp(h: bytes) -> ImageHeader | None:
    if h[:2] == b"BM" and len(h) >= 26:
        size = struct.unpack("<I", h[14:18])[0]
        if size == 12:  # OS/2 BITMAPCOREHEADER
            w, ht = struct.unpack("<HH", h[18:22])
            return ImageHeader("bmp", w, ht)
        w, ht = struct.unpack("<ii", h[18:26])
        return ImageHeader("bmp", abs(w), abs(ht))
    return None


def _webp(f: BinaryIO, h: bytes) -> ImageHeader | None:
    if h[:4] != b"RIFF" or h[8:12] != b"WEBP" or len(h) < 30:
        return None
    kind = h[12:16]
    if kind == b"VP8 " and h[23:26] == b"\x9d\x01\x2a":
        w, ht = struct.unpack("<HH", h[26:30])
        return ImageHeader("webp", w & 0x3FFF, ht & 0x3FFF)
    if kind == b"VP8L" and h[20:21] == b"\x2f":
        b = int.from_bytes(h[21:25], "little")
        return ImageHeader("webp", (b & 0x3FFF) + 1, ((b >> 14) & 0x3FFF) + 1)
    if kind == b"VP8X":
        w = int.from_bytes(h[24:27], "little") + 1
        ht = int.from_bytes(h[27:30], "little") + 1
        has_exif = bool(h[20] & 0x08)
        return ImageHeader("webp", w, ht, _webp_orientation(f) if has_exif else 1)
    return None


def _webp_orientation(f: BinaryIO) -> int:
    """The orientation in an extended WebP's ``EXIF`` chunk (after the image data)."""
    pos = 12
    for _ in range(64):  # a WebP has a handful of chunks
        f.seek(pos)
        head = f.read(8)
        if len(head) < 8:
            return 1
        tag, length = head[:4], struct.unpack("<I", head[4:8])[0]
        if tag == b"EXIF":
            data = f.read(min(length, 1 << 20))
            # some writers keep APP1's "Exif\0\0" prefix
            return _tiff_orientation(data[6:] if data.startswith(b"Exif\x00\x00") else data)
        pos += 8 + length + (length & 1)
    return 1


def _pnm(h: bytes) -> ImageHeader | None:
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
                return ImageHeader("pnm", fields[0], fields[1])
    return None


def _jp2(h: bytes) -> ImageHeader | None:
    i = h.find(b"ihdr")
    if h[4:8] == b"jP  " and i >= 0 and len(h) >= i + 12:
        ht, w = struct.unpack(">II", h[i + 4:i + 12])
        return ImageHeader("jp2", w, ht)
    if h[:4] == b"\xff\x4f\xff\x51" and len(h) >= 16:  # a raw codestream: SIZ marker
        w, ht = struct.unpack(">II", h[8:16])
        return ImageHeader("jp2", w, ht)
    return None


def _tiff(f: BinaryIO, h: bytes) -> ImageHeader | None:
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
    orientation = 1
    for k in range(len(entries) // 12):
        tag, typ, _count = struct.unpack(e + "HHI", entries[12 * k:12 * k + 8])
        val = entries[12 * k + 8:12 * k + 12]
        v = struct.unpack(e + "H", val[:2])[0] if typ == 3 else struct.unpack(e + "I", val)[0]
        if tag == 256:
            w = v
        elif tag == 257:
            ht = v
        elif tag == _ORIENTATION_TAG and 1 <= v <= 8:
            orientation = v
    return ImageHeader("tiff", w, ht, orientation) if w is not None and ht is not None else None


def _jpeg(f: BinaryIO) -> ImageHeader | None:
    """Walk the markers to the frame header; the EXIF orientation counts if it came first."""
    f.seek(0)
    if f.read(2) != b"\xff\xd8":
        return None
    orientation = 1
    while f.tell() < _MAX_JPEG_HEADER:
        b = f.read(1)
        while b and b != b"\xff":  # bytes between segments (damaged files): skipped
            if f.tell() >= _MAX_JPEG_HEADER:
                return None
            b = f.read(1)
        while b == b"\xff":  # fill bytes
            b = f.read(1)
        if not b:
            return None
        marker = b[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue  # markers without a length
        raw = f.read(2)
        if len(raw) < 2:
            return None
        (length,) = struct.unpack(">H", raw)
        if length < 2:
            return None
        if marker in _JPEG_SOF:
            sof = f.read(5)
            if len(sof) < 5:
                return None
            ht, w = struct.unpack(">HH", sof[1:5])
            return ImageHeader("jpeg", w, ht, orientation)
        if marker == 0xDA:  # start of scan before any frame header: not a JPEG we can size
            return None
        if marker == 0xE1 and orientation == 1:
            orientation = _exif_app1_orientation(f.read(length - 2))
        else:
            f.seek(length - 2, os.SEEK_CUR)
    return None


def _sniff(f: BinaryIO) -> ImageHeader | None:
    h = f.read(_HEAD)
    for parse in (_gif, _bmp, _pnm, _jp2):
        got = parse(h)
        if got is not None:
            return got
    for parse_f in (_png, _webp, _tiff):
        got = parse_f(f, h)
        if got is not None:
            return got
    return _jpeg(f)


def read_header(path: str | os.PathLike[str]) -> ImageHeader | None:
    """What the file's header says, or None: not a regular file, not one of the formats above,
    or a header cut short (never raises for a file's content).

    Raises:
        OSError: the file cannot be read (missing, no permission).
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        return None
    with open(path, "rb") as f:
        try:
            return _sniff(f)
        except (struct.error, ValueError, OverflowError):
            return None


def image_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """``(width, height)`` of the decoded frame from the file's header (orientation applied), or
    None when the header is unknown, cut short, claims no pixels or the file cannot be read."""
    try:
        got = read_header(path)
    except OSError:
        return None
    if got is None or got.width <= 0 or got.height <= 0:
        return None
    return got.size


def check_image_file(path: str | os.PathLike[str], what: str = "image") -> ImageHeader | None:
    """Refuse an image whose header claims no pixels, more pixels than this machine can decode,
    more than its file size can hold, or a file larger than the memory it would be read into.

    Returns:
        The header (None: a format this module does not read; OpenCV's own limit applies).

    Raises:
        ResourceLimitError: with the claimed size and the limit.
        OSError: the file cannot be read.
    """
    p = Path(path)
    size_bytes = p.stat().st_size
    check_allocation(size_bytes, f"{what} {p.name}")
    got = read_header(p)
    if got is None:
        return None
    w, h = got.width, got.height
    check_image_size(w, h, f"{what} {p.name}", channels=3)
    ratio = _MAX_PIXELS_PER_BYTE.get(got.format)
    if ratio is not None and w * h > max(size_bytes, 1) * ratio:
        raise ResourceLimitError(
            f"{what} {p.name}: its header claims {w}x{h} pixels but the file has only "
            f"{size_bytes} bytes: damaged or crafted, so it was not decoded")
    return got
