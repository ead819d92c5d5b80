"""Hostile and broken videos and images: through ``add-video`` (the project must not change)
and ``extract`` (nothing written but what was asked)."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from tests.hostile.harness import Case, Ctx, with_input

Build = Callable[[Ctx], Path]


def _png(w: int, h: int, body: bytes = b"\0" * 64) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(body))
            + chunk(b"IEND", b""))


def _jpeg(w: int, h: int) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, h, w, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + sof + \
        b"\xff\xd9"


def _bmp(w: int, h: int) -> bytes:
    header = b"BM" + struct.pack("<IHHI", 54, 0, 0, 54)
    dib = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return header + dib + b"\0" * 16


def _file(name: str, data: bytes | Callable[[Ctx], bytes]) -> Build:
    return lambda ctx: ctx.write(name, data(ctx) if callable(data) else data)


def _folder(*files: tuple[str, bytes | Callable[[Ctx], bytes]]) -> Build:
    def build(ctx: Ctx) -> Path:
        d = ctx.dir / "frames"
        d.mkdir()
        for name, data in files:
            (d / name).write_bytes(data(ctx) if callable(data) else data)
        return d
    return build


def _real(ctx: Ctx) -> bytes:
    return ctx.assets.video.read_bytes()


def _png_ok(ctx: Ctx) -> bytes:
    return ctx.assets.png.read_bytes()


def _fifo(ctx: Ctx) -> Path:
    p = ctx.dir / "clip.mp4"
    os.mkfifo(p)
    return p


def _loop(ctx: Ctx) -> Path:
    a, b = ctx.dir / "a.mp4", ctx.dir / "b.mp4"
    a.symlink_to(b)
    b.symlink_to(a)
    return a


def _dangling(ctx: Ctx) -> Path:
    a = ctx.dir / "gone.mp4"
    a.symlink_to(ctx.dir / "nowhere.mp4")
    return a


def _long_name(ctx: Ctx) -> Path:
    return ctx.dir / ("v" * 300 + ".mp4")


VIDEOS: dict[str, tuple[Build, str, str]] = {
    # name: (builder, message regex, runner)
    "empty": (_file("clip.mp4", b""), "clip.mp4", "inproc"),
    "random": (_file("clip.mp4", os.urandom(20000)), "clip.mp4", "inproc"),
    "text": (_file("clip.mp4", b"not a video\n" * 100), "clip.mp4", "inproc"),
    "truncated": (_file("clip.mp4", lambda ctx: _real(ctx)[:1500]), "clip.mp4", "inproc"),
    "truncated-tail": (_file("clip.mp4", lambda ctx: _real(ctx)[:-3000]), "clip.mp4",
                       "inproc"),
    "header-then-garbage": (_file("clip.mp4", lambda ctx: _real(ctx)[:600] + os.urandom(9000)),
                            "clip.mp4", "inproc"),
    "json-named-avi": (_file("clip.avi", b'{"a": 1}'), "clip.avi", "inproc"),
    "fifo": (_fifo, "named pipe", "subprocess"),
    "char-device": (lambda ctx: Path("/dev/zero"), "character device", "inproc"),
    "dev-null": (lambda ctx: Path("/dev/null"), "character device", "inproc"),
    "symlink-loop": (_loop, "symbolic links", "inproc"),
    "dangling-symlink": (_dangling, "gone.mp4", "inproc"),
    "name-too-long": (_long_name, "too long", "inproc"),
    "empty-folder": (_folder(), "no images", "inproc"),
    "folder-of-text": (_folder(("a.txt", b"x"), ("b.json", b"{}")), "no images", "inproc"),
    "png-bomb": (_folder(("0001.png", _png(100000, 100000))), "100000x100000", "inproc"),
    "png-claims-30000": (_folder(("0001.png", _png(30000, 30000))), "30000x30000", "inproc"),
    "jpeg-claims-65500": (_folder(("0001.jpg", _jpeg(65500, 65500))), "65500x65500", "inproc"),
    "bmp-claims-40000": (_folder(("0001.bmp", _bmp(40000, 40000))), "40000x40000", "inproc"),
    "png-zero-size": (_folder(("0001.png", _png(0, 0))), "0001.png", "inproc"),
    "png-corrupt": (_folder(("0001.png", b"\x89PNG\r\n\x1a\n" + os.urandom(200))), "0001.png",
                    "inproc"),
    "image-empty": (_folder(("0001.png", b"")), "0001.png", "inproc"),
    "image-fifo": (lambda ctx: _fifo_folder(ctx), "no images", "subprocess"),
}


def _fifo_folder(ctx: Ctx) -> Path:
    d = ctx.dir / "frames"
    d.mkdir()
    os.mkfifo(d / "0001.png")
    return d


def _extract_checks(ctx: Ctx) -> None:
    out = ctx.dir / "out"
    assert not out.exists() or not any(out.iterdir()), "extract wrote frames of a bad input"


def all_cases() -> list[Case]:
    out = []
    for name, (build, says, mode) in VIDEOS.items():
        out.append(Case(
            f"video-{name}-add",
            with_input(build, lambda ctx, p: ["add-video", str(ctx.project()), str(p)]),
            match=says, mode=mode))
        out.append(Case(
            f"video-{name}-extract",
            with_input(build, lambda ctx, p: ["extract", str(p), "--out", str(ctx.dir / "out"),
                                    "--quiet"]),
            match=says, mode=mode, watch=(), check=_extract_checks))
    # frame specs: refused before anything is expanded or written
    for name, spec, says in (
        ("huge-range", "0:3000000000", "out of range"),
        ("huge-range-step", "5,0:3000000000:7", "out of range"),
        ("negative", "-5", "out of range"),
        ("garbage", "a:b", "bad frame spec"),
        ("zero-step", "0:10:0", "step must be positive"),
        ("too-many-parts", "1:2:3:4", "bad frame spec"),
        ("huge-int", "9" * 400, "out of range|bad frame spec"),
    ):
        out.append(Case(
            f"extract-frames-{name}",
            (lambda s: lambda ctx: ["extract", str(ctx.assets.video), "--frames", s, "--out",
                                    str(ctx.dir / "out"), "--quiet"])(spec),
            match=says, watch=(), check=_extract_checks))
    return out
