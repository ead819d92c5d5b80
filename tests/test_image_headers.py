"""The one image-header reader (core.imagesize) and the image-set checks built on it: sizes equal
what OpenCV decodes (EXIF orientation in JPEG, PNG, WebP and TIFF), and an image that cannot be
used is named with its reason before any decoder sees it."""

from __future__ import annotations

import os
import re
import struct
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from pose_studio.core.imagesize import read_header
from pose_studio.video.errors import VideoError
from pose_studio.video.image_header import decode_image, image_size, probe_image
from pose_studio.video.image_reader import ImageSetReader, list_images

W, H = 64, 40


def _exif(orientation: int, order: bytes = b"II") -> bytes:
    e = "<" if order == b"II" else ">"
    return (order + (b"*\x00" if order == b"II" else b"\x00*") + struct.pack(e + "IH", 8, 1)
            + struct.pack(e + "HHIHH", 0x0112, 3, 1, orientation, 0) + b"\x00" * 4)


def _picture() -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    img[:10, :20] = 255  # not symmetric: a turn shows
    return img


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _png(orientation: int, where: str) -> bytes:
    data = bytes(cv2.imencode(".png", _picture())[1])
    chunk = _png_chunk(b"eXIf", _exif(orientation, b"MM"))
    at = data.index(b"IDAT") - 4 if where == "before" else data.index(b"IEND") - 4
    return data[:at] + chunk + data[at:]


def _jpeg(orientation: int) -> bytes:
    data = bytes(cv2.imencode(".jpg", _picture())[1])
    app1 = b"Exif\x00\x00" + _exif(orientation)
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:]


def _webp(orientation: int) -> bytes:
    data = bytes(cv2.imencode(".webp", _picture(), [cv2.IMWRITE_WEBP_QUALITY, 101])[1])
    assert data[12:16] == b"VP8L"
    exif = _exif(orientation)
    vp8x = (b"VP8X" + struct.pack("<I", 10) + bytes([0x08, 0, 0, 0])
            + (W - 1).to_bytes(3, "little") + (H - 1).to_bytes(3, "little"))
    body = b"WEBP" + vp8x + data[12:] + b"EXIF" + struct.pack("<I", len(exif)) + exif
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _tiff(orientation: int) -> bytes:
    tags = [(256, W), (257, H), (258, 8), (259, 1), (262, 1), (273, 0), (274, orientation),
            (277, 1), (278, H), (279, W * H)]
    start = 8 + 2 + 12 * len(tags) + 4
    ifd = struct.pack("<H", len(tags)) + b"".join(
        struct.pack("<HHIHH", t, 3, 1, start if t == 273 else v, 0) for t, v in tags)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 4 + _picture()[:, :, 0].tobytes()


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
@pytest.mark.parametrize(("name", "make"), [
    ("a.jpg", _jpeg), ("a.webp", _webp), ("a.tif", _tiff),
    ("before.png", lambda o: _png(o, "before")), ("after.png", lambda o: _png(o, "after")),
])
def test_header_size_is_what_opencv_decodes(tmp_path: Path, name: str, make: object,
                                            orientation: int) -> None:
    p = tmp_path / name
    p.write_bytes(make(orientation))  # type: ignore[operator]
    img = decode_image(p)
    assert img is not None
    assert image_size(p) == (img.shape[1], img.shape[0])
    head = read_header(p)
    assert head is not None and (head.width, head.height) == (W, H)
    assert head.orientation == orientation


def test_a_crc_mismatch_is_not_taken_for_an_orientation(tmp_path: Path) -> None:
    data = bytearray(_png(6, "after"))
    at = data.index(b"eXIf")
    data[at + 4 + 20] ^= 0xFF  # damage the chunk's body: its CRC no longer matches
    p = tmp_path / "a.png"
    p.write_bytes(bytes(data))
    head = read_header(p)
    assert head is not None and head.orientation == 1


def _bomb_png(w: int, h: int) -> bytes:
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))


@pytest.mark.parametrize(("data", "says"), [
    (b"", "an empty file"),
    (_bomb_png(0, 0), "invalid image size 0x0"),
    (_bomb_png(100_000, 100_000), "100000x100000"),
    (_bomb_png(20_000, 20_000), "only .* bytes: damaged or crafted"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "a damaged PNG header"),
    (b"not an image at all", "damaged, or not an image format"),
])
def test_an_unusable_image_is_named_with_its_reason(tmp_path: Path, data: bytes,
                                                    says: str) -> None:
    p = tmp_path / "x.png"
    p.write_bytes(data)
    size, why = probe_image(p)
    assert size is None and why is not None
    assert re.search(says, why), why


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs are POSIX")
def test_an_image_set_names_what_it_cannot_read_and_keeps_the_rest(tmp_path: Path) -> None:
    d = tmp_path / "set"
    d.mkdir()
    assert cv2.imwrite(str(d / "1.png"), _picture())
    (d / "2.png").write_bytes(_bomb_png(100_000, 100_000))
    os.mkfifo(d / "3.png")  # not a file: never opened (it would block), not listed
    assert list_images(d) == ["1.png", "2.png"]
    r = ImageSetReader(d)
    assert r.sizes == [(W, H), None]
    assert any("2.png" in w and "100000x100000" in w for w in r.meta.warnings)
    assert r.get(0).shape == (H, W, 3)
    with pytest.raises(VideoError, match=r"frame 1.*2\.png.*100000x100000"):
        r.get(1)
    (d / "1.png").write_bytes(b"")
    with pytest.raises(VideoError, match=r"none of its 2 images can be read \(first: 1.png: "
                                         "an empty file"):
        ImageSetReader(d)
