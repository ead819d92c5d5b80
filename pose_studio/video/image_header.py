"""Images of an image set: whether one can be decoded, its size, and its pixels.

Sizes come from the file header (:mod:`pose_studio.core.imagesize`, the one header reader), so
indexing a folder of 100k photos reads a few hundred bytes of each. A file whose header that
reader does not know is decoded once instead. The size is the size of the frame
:func:`decode_image` returns: OpenCV turns a JPEG by its EXIF orientation, and newer versions
also PNG, WebP and TIFF; which formats this OpenCV turns is found once, by decoding a tiny
tagged image of each (:func:`orientation_applied`). :func:`image_problem` says, before any decoder
sees the file, why it cannot be used (not a regular file, empty, a header that claims no pixels
or more than this machine can hold): OpenCV is never handed a file that would block, blow up
memory or make its codec libraries print to the terminal.
"""

from __future__ import annotations

import functools
import os
import stat
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np

from pose_studio.core.files import os_reason, path_kind
from pose_studio.core.imagesize import ImageHeader, check_image_file
from pose_studio.core.limits import ResourceLimitError

__all__ = ["decode_image", "image_problem", "image_size", "orientation_applied", "probe_image"]


def decode_image(path: Path) -> np.ndarray | None:
    """The image as BGR uint8 (EXIF orientation applied, grey expanded), or None if unreadable.

    Call :func:`image_problem` first for a file from outside: this decodes whatever it is given.
    """
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


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _starts_with(path: Path, magic: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(magic)) == magic
    except OSError:
        return False


def _inspect(path: Path) -> tuple[ImageHeader | None, str | None]:
    """The file's header (None: a format the header reader does not know) and why the file
    must not be decoded (None: go ahead), from its ``stat`` and header alone."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None, "missing"
    except (OSError, ValueError) as exc:
        return None, os_reason(exc, path)
    if not stat.S_ISREG(st.st_mode):
        return None, f"{path_kind(st.st_mode)}, not an image file"
    if st.st_size == 0:
        return None, "an empty file"
    try:
        return check_image_file(path, path.name), None
    except ResourceLimitError as exc:
        return None, str(exc).removeprefix(f"{path.name} ").removeprefix(f"{path.name}: ")
    except OSError as exc:
        return None, os_reason(exc, path)


def image_problem(path: Path) -> str | None:
    """Why ``path`` must not be decoded, from its ``stat`` and header; None: go ahead."""
    return _inspect(path)[1]


def probe_image(path: Path) -> tuple[tuple[int, int] | None, str | None]:
    """``((width, height), None)`` of the frame :func:`decode_image` would return, or
    ``(None, why)`` for a file that cannot be used."""
    head, why = _inspect(path)
    if why is not None:
        return None, why
    if head is not None:
        turned = head.orientation != 1 and orientation_applied(head.format)
        return (head.size if turned else (head.width, head.height)), None
    if _starts_with(path, _PNG_MAGIC):  # libpng itself would only print warnings about it
        return None, "a damaged PNG header"
    img = decode_image(path)  # a format the header reader does not know
    if img is None:
        return None, "damaged, or not an image format Pose Studio reads"
    return (int(img.shape[1]), int(img.shape[0])), None


def image_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` of the frame :func:`decode_image` would return; None if unusable."""
    return probe_image(path)[0]


# --- which formats this OpenCV turns by their EXIF orientation -----------------------------------
def _exif_orientation_6() -> bytes:
    """A little-endian TIFF structure holding only the orientation tag, set to 6."""
    return (b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHIHH", 0x0112, 3, 1, 6, 0)
            + b"\x00\x00\x00\x00")


def _tagged_png() -> bytes:
    _, buf = cv2.imencode(".png", np.zeros((1, 2, 3), np.uint8))
    data = bytes(buf)
    exif = _exif_orientation_6()
    chunk = (struct.pack(">I", len(exif)) + b"eXIf" + exif
             + struct.pack(">I", zlib.crc32(b"eXIf" + exif)))
    at = data.index(b"IDAT") - 4
    return data[:at] + chunk + data[at:]


def _tagged_webp() -> bytes:
    _, buf = cv2.imencode(".webp", np.zeros((1, 2, 3), np.uint8),
                          [cv2.IMWRITE_WEBP_QUALITY, 101])  # lossless: a VP8L chunk
    data = bytes(buf)
    if data[12:16] != b"VP8L":
        return b""
    exif = _exif_orientation_6()
    vp8x = (b"VP8X" + struct.pack("<I", 10) + bytes([0x08, 0, 0, 0])
            + (1).to_bytes(3, "little") + (0).to_bytes(3, "little"))
    body = b"WEBP" + vp8x + data[12:] + b"EXIF" + struct.pack("<I", len(exif)) + exif
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _tagged_tiff() -> bytes:
    """An uncompressed 2x1 grey TIFF with orientation 6."""
    tags = [(256, 2), (257, 1), (258, 8), (259, 1), (262, 1), (273, 0), (274, 6), (277, 1),
            (278, 1), (279, 2)]
    start = 8 + 2 + 12 * len(tags) + 4
    ifd = struct.pack("<H", len(tags)) + b"".join(
        struct.pack("<HHIHH", t, 3, 1, start if t == 273 else v, 0) for t, v in tags)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 4 + b"\x00\x00"


_TAGGED = {"png": _tagged_png, "webp": _tagged_webp, "tiff": _tagged_tiff}


@functools.cache
def orientation_applied(fmt: str) -> bool:
    """Whether this OpenCV's ``imdecode(..., IMREAD_COLOR)`` turns images of ``fmt`` (a
    :class:`~pose_studio.core.imagesize.ImageHeader` format) by their EXIF orientation."""
    if fmt == "jpeg":
        return True
    make = _TAGGED.get(fmt)
    if make is None:
        return False
    try:
        img = cv2.imdecode(np.frombuffer(make(), np.uint8), cv2.IMREAD_COLOR)
    except (cv2.error, ValueError):
        return False
    return img is not None and img.shape[:2] == (2, 1)

